/* Program settings: a key=value file, then the environment, then flags; Kafka properties pass through. */
#ifndef KOERS_CONFIG_H
#define KOERS_CONFIG_H

#include <stddef.h>
#include <stdio.h>

/* Precedence, lowest first: a later origin replaces an earlier one, never the reverse. */
typedef enum {
    KOERS_FROM_UNSET,
    KOERS_FROM_DEFAULT,
    KOERS_FROM_FILE,
    KOERS_FROM_ENV,
    KOERS_FROM_FLAG
} koers_origin_t;

typedef enum {
    KOERS_SETTING_TEXT,  /* any text (choices, when given, restrict it) */
    KOERS_SETTING_INT,   /* a decimal integer within [min, max] */
    KOERS_SETTING_CONNINFO /* a libpq connection string or URI, merged with libpq's PG*
                            * environment parameter by parameter (see koers_config_conninfo) */
} koers_setting_kind_t;

/* One setting a program understands; a program passes a table of them. */
typedef struct {
    const char *name;    /* key in the file: "batch.size" */
    const char *env;     /* environment variable that sets it, or NULL */
    const char *def;     /* default as text, or NULL (unset) */
    koers_setting_kind_t kind;
    long min, max;       /* KOERS_SETTING_INT */
    int secret;          /* --dump-config prints <redacted> */
    const char *const *choices; /* NULL-terminated list of allowed values, or NULL */
} koers_setting_t;

typedef struct koers_config koers_config_t;

/* The settings of a program. settings (and the strings it points to) must outlive the
 * config. Returns NULL when out of memory. Free with koers_config_free. */
koers_config_t *koers_config_new(const char *program, const koers_setting_t *settings,
                                 size_t nsettings);
void koers_config_free(koers_config_t *c);

/* The one key=value parser (used for file lines and for -X). Works in place on line:
 * whitespace around key and value is trimmed, a line whose first non-blank character is
 * '#' is a comment (a '#' later in a line is part of the value). Returns 1 with *key and
 * *value pointing into line, 0 for a blank or comment line, or -1 with the reason in
 * errstr ("expected key=value", "empty key"). */
int koers_config_parse_line(char *line, char **key, char **value, char *errstr, size_t errlen);

/* Sets a setting, or a Kafka property when name starts with "kafka." (the rest is passed
 * to librdkafka as it is). where says where the value came from ("--batch-size",
 * "/etc/koers/koers-consume.conf:3", "KOERS_GROUP") and is copied. A value whose origin
 * ranks lower than the current one's is ignored. Returns 0, or -1 with errstr for an
 * unknown name or no memory. */
int koers_config_set(koers_config_t *c, const char *name, const char *value,
                     koers_origin_t origin, const char *where, char *errstr, size_t errlen);


/* Adds a Kafka property given as "-X key=value" (through koers_config_parse_line).
 * Returns 0, or -1 with "-X TEXT: reason" in errstr. */
int koers_config_set_x(koers_config_t *c, const char *kv, char *errstr, size_t errlen);

/* Reads a configuration file: koers_config_parse_line on each line, each key a setting of
 * the program or "kafka.<librdkafka property>"; an unknown key is refused. Returns 0, or
 * -1 with "path:line: reason" (or "path: reason") in errstr; nothing is half-applied. */
int koers_config_load_file(koers_config_t *c, const char *path, char *errstr, size_t errlen);

/* Fills the settings from the environment (an empty variable counts as unset), from the
 * file path (when not NULL; else $KOERS_CONFIG when set and not empty), then from the
 * defaults, and checks every value: numbers in range, choices. Call once, after the flags.
 * Returns 0, or -1 with "name: 'value' (from where): reason" in errstr. */
int koers_config_resolve(koers_config_t *c, const char *path, char *errstr, size_t errlen);

/* The value of a setting (NULL when unset), valid until the config is freed. Asking for a
 * name not in the program's table returns NULL. */
const char *koers_config_get(const koers_config_t *c, const char *name);

/* A KOERS_SETTING_INT's value, checked by koers_config_resolve; 0 when unset. */
long koers_config_get_long(const koers_config_t *c, const char *name);

/* Where a setting's value came from. */
koers_origin_t koers_config_origin(const koers_config_t *c, const char *name);

/* The file read by koers_config_resolve, or NULL. */
const char *koers_config_path(const koers_config_t *c);

/* Kafka properties (from kafka.* keys of the file and -X), one value per key, the key
 * without "kafka.". Returns the number; i-th key, value and where through the pointers. */
size_t koers_config_kafka_count(const koers_config_t *c);
void koers_config_kafka_get(const koers_config_t *c, size_t i, const char **key,
                            const char **value, const char **where);

/* The libpq connection string of a KOERS_SETTING_CONNINFO setting, with the precedence
 * file < environment < flag applied parameter by parameter: a parameter from the file is
 * dropped when its PG* variable is set (libpq then takes the variable), a flag's string is
 * kept whole and wins over both. Returns a malloc'd string owned by the caller (possibly
 * ""), or NULL with errstr when a string does not parse. */
char *koers_config_conninfo(const koers_config_t *c, const char *name, char *errstr,
                            size_t errlen);

/* True when a setting's or Kafka property's value must not be printed: the setting is
 * marked secret, or the name mentions a password, a secret or key material. */
int koers_config_is_secret(const char *name);

/* Prints the effective settings as key=value lines, each under a comment saying where it
 * came from, secrets redacted; unset settings as commented-out keys. Returns 0, or -1 when
 * writing failed. */
int koers_config_dump(const koers_config_t *c, FILE *out);

#endif
