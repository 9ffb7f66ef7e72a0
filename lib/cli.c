/* getopt_long's tables and the usage text, both made from a program's one option table. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "koers/cli.h"

#define CLI_HELP_COLUMN 26
#define CLI_WIDTH 90

/* getopt_long's val for row i: its short letter, or a value no letter has. */
static int cli_val(const koers_option_t *o, size_t i)
{
    return o->short_opt ? (unsigned char)o->short_opt : 256 + (int)i;
}

int koers_cli_parse(int argc, char **argv, const koers_option_t *opts, size_t n,
                    int stop_at_operand, koers_config_t *cfg, koers_cli_t *cli,
                    koers_cli_own_fn own, void *ctx, char *errstr, size_t errlen)
{
    struct option *lo = calloc(n + 1, sizeof *lo);
    char *so = malloc(3 * n + 3);
    if (!lo || !so) {
        free(lo);
        free(so);
        snprintf(errstr, errlen, "out of memory");
        return -1;
    }
    size_t nl = 0, ns = 0;
    if (stop_at_operand)
        so[ns++] = '+';
    so[ns++] = ':'; /* a missing argument is reported as ':' */
    for (size_t i = 0; i < n; i++) {
        int has_arg = opts[i].arg ? required_argument : no_argument;
        if (opts[i].name)
            lo[nl++] = (struct option){opts[i].name, has_arg, NULL, cli_val(&opts[i], i)};
        if (opts[i].short_opt) {
            so[ns++] = opts[i].short_opt;
            if (has_arg)
                so[ns++] = ':';
        }
    }
    so[ns] = '\0';
    memset(cli, 0, sizeof *cli);
    errstr[0] = '\0';
    int rc = 0, c;
    opterr = 0; /* the messages below name the option as the user wrote it */
    while (rc == 0 && (c = getopt_long(argc, argv, so, lo, NULL)) != -1) {
        if (c == '?' || c == ':') {
            const char *what = argv[optind - 1];
            snprintf(errstr, errlen, "%s: %s", what,
                     c == ':' ? "needs an argument" : "unknown option");
            rc = -1;
            break;
        }
        const koers_option_t *o = NULL;
        for (size_t i = 0; i < n && !o; i++)
            if (cli_val(&opts[i], i) == c)
                o = &opts[i];
        switch (o->id) {
        case KOERS_OPT_SETTING: {
            char where[128];
            snprintf(where, sizeof where, "--%s", o->name);
            rc = koers_config_set(cfg, o->setting, o->arg ? optarg : o->value, KOERS_FROM_FLAG,
                                  where, errstr, errlen);
            break;
        }
        case KOERS_OPT_CONFIG: cli->config_path = optarg; break;
        case KOERS_OPT_DUMP: cli->dump = 1; break;
        case KOERS_OPT_X: rc = koers_config_set_x(cfg, optarg, errstr, errlen); break;
        case KOERS_OPT_HELP: cli->help = 1; break;
        case KOERS_OPT_VERSION: cli->version = 1; break;
        default: rc = own(ctx, o->id, optarg, errstr, errlen); break;
        }
    }
    free(lo);
    free(so);
    return rc == 0 ? optind : -1;
}

static const koers_setting_t *cli_setting(const koers_setting_t *s, size_t n, const char *name)
{
    for (size_t i = 0; name && i < n; i++)
        if (strcmp(s[i].name, name) == 0)
            return &s[i];
    return NULL;
}

/* Writes text from column col, wrapped at CLI_WIDTH, continuation lines at CLI_HELP_COLUMN. */
static void cli_wrap(FILE *out, const char *text, int col)
{
    const char *p = text;
    while (*p) {
        size_t word = strcspn(p, " ");
        if (col > CLI_HELP_COLUMN && col + 1 + (int)word > CLI_WIDTH) {
            fprintf(out, "\n%*s", CLI_HELP_COLUMN, "");
            col = CLI_HELP_COLUMN;
        } else if (col > CLI_HELP_COLUMN) {
            fputc(' ', out);
            col++;
        }
        fwrite(p, 1, word, out);
        col += (int)word;
        p += word;
        while (*p == ' ')
            p++;
    }
    fputc('\n', out);
}

/* The keys a configuration file may hold: the settings, and Kafka's when -X exists. */
static void cli_keys(char *help, size_t len, const koers_option_t *opts, size_t n,
                     const koers_setting_t *settings, size_t nsettings)
{
    int kafka = 0;
    for (size_t i = 0; i < n; i++)
        kafka |= opts[i].id == KOERS_OPT_X;
    size_t used = strlen(help);
    used += (size_t)snprintf(help + used, len - used, " Keys:");
    for (size_t i = 0; i < nsettings && used < len; i++)
        used += (size_t)snprintf(help + used, len - used, " %s%s", settings[i].name,
                                 i + 1 < nsettings || kafka ? "," : "");
    if (kafka && used < len)
        snprintf(help + used, len - used, " and kafka.<librdkafka property>");
}

void koers_cli_usage(FILE *out, const koers_option_t *opts, size_t n,
                     const koers_setting_t *settings, size_t nsettings)
{
    for (size_t i = 0; i < n; i++) {
        const koers_option_t *o = &opts[i];
        if (o->section)
            fprintf(out, "%s\n", o->section);
        char left[128];
        int len;
        if (o->name)
            len = snprintf(left, sizeof left, "  %c%c%c --%s%s%s", o->short_opt ? '-' : ' ',
                           o->short_opt ? o->short_opt : ' ', o->short_opt ? ',' : ' ', o->name,
                           o->arg ? " " : "", o->arg ? o->arg : "");
        else
            len = snprintf(left, sizeof left, "  -%c%s%s", o->short_opt, o->arg ? " " : "",
                           o->arg ? o->arg : "");
        char help[1024];
        const koers_setting_t *s = cli_setting(settings, nsettings, o->setting);
        int has_def = s && s->def && *s->def;
        if (s && s->env && has_def)
            snprintf(help, sizeof help, "%s (default: $%s or %s)", o->help, s->env, s->def);
        else if (s && s->env)
            snprintf(help, sizeof help, "%s (default: $%s)", o->help, s->env);
        else if (has_def)
            snprintf(help, sizeof help, "%s (default: %s)", o->help, s->def);
        else
            snprintf(help, sizeof help, "%s", o->help);
        if (o->id == KOERS_OPT_CONFIG)
            cli_keys(help, sizeof help, opts, n, settings, nsettings);
        fputs(left, out);
        if (len + 2 > CLI_HELP_COLUMN)
            fprintf(out, "\n%*s", CLI_HELP_COLUMN, "");
        else
            fprintf(out, "%*s", CLI_HELP_COLUMN - len, "");
        cli_wrap(out, help, CLI_HELP_COLUMN);
    }
}
