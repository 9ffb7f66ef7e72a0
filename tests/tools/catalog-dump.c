/* Prints the event catalogue of lib/catalog.c as JSON, for tests that compare other copies of
 * it (the SQL tables' columns, types and CHECKs) with the one the programs use. */
#include <stdio.h>

#include <jansson.h>

#include "koers/catalog.h"

static const char *const dump_kinds[] = {[KOERS_KIND_ENUM] = "enum", [KOERS_KIND_INT] = "int",
                                         [KOERS_KIND_BOOL] = "bool", [KOERS_KIND_STRING] = "string",
                                         [KOERS_KIND_UUID] = "uuid", [KOERS_KIND_DATE] = "date"};

static json_t *dump_field(const koers_field_t *f)
{
    json_t *symbols = json_array();
    for (int i = 0; symbols && i < f->nsymbols; i++)
        json_array_append_new(symbols, json_string(f->symbols[i]));
    return json_pack("{s:s, s:s, s:b, s:o*, s:i, s:i, s:b}", "name", f->name, "kind",
                     dump_kinds[f->kind], "optional", f->optional, "symbols", symbols, "min",
                     (int)f->min, "max", (int)f->max, "upper", f->upper);
}

int main(void)
{
    json_t *types = json_array();
    if (!types)
        return 1;
    for (int t = 0; t < KOERS_EVENT_TYPES; t++) {
        json_t *fields = json_array();
        for (int i = 0; fields && i < koers_types[t].nfields; i++)
            if (json_array_append_new(fields, dump_field(&koers_types[t].fields[i])) != 0)
                return 1;
        json_t *need_any = json_array(), *ordered = json_array();
        for (int i = 0; need_any && ordered && i < koers_types[t].nfields; i++) {
            json_t *name = json_string(koers_types[t].fields[i].name);
            if (koers_types[t].need_any & 1u << i)
                json_array_append(need_any, name);
            if (koers_types[t].ordered & 1u << i)
                json_array_append(ordered, name);
            json_decref(name);
        }
        json_t *type = json_pack("{s:s, s:b, s:o*, s:o*, s:o*}", "name", koers_types[t].name,
                                 "has_participant", koers_types[t].has_participant, "fields",
                                 fields, "need_any", need_any, "ordered", ordered);
        if (!type || json_array_append_new(types, type) != 0)
            return 1;
    }
    int rc = json_dumpf(types, stdout, JSON_INDENT(1)) == 0 && puts("") >= 0 ? 0 : 1;
    json_decref(types);
    return rc;
}
