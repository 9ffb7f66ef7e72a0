/* Command lines from one table per program: each option once, with what it sets and its help
 * text; getopt_long's tables and the usage text are made from it. */
#ifndef KOERS_CLI_H
#define KOERS_CLI_H

#include <stddef.h>
#include <stdio.h>

#include "koers/config.h"

/* What the parser does with an option itself; a program's own options have ids >= 1 and are
 * handed back to it. */
enum {
    KOERS_OPT_SETTING = 0, /* sets the row's setting (koers_config_set_flag) */
    KOERS_OPT_CONFIG = -1, /* the configuration file */
    KOERS_OPT_DUMP = -2,   /* --dump-config */
    KOERS_OPT_X = -3,      /* -X KEY=VALUE, a librdkafka property */
    KOERS_OPT_HELP = -4,
    KOERS_OPT_VERSION = -5
};

typedef struct {
    const char *name;    /* long name without "--", or NULL (short only) */
    char short_opt;      /* or 0 */
    const char *arg;     /* the argument's name in the usage ("FILE"); NULL: takes none */
    int id;              /* KOERS_OPT_* or the program's own (>= 1) */
    const char *setting; /* KOERS_OPT_SETTING: the setting's name */
    const char *value;   /* KOERS_OPT_SETTING without arg: the value a switch sets */
    const char *help;    /* the usage text (a setting's variable and default are added) */
    const char *section; /* a heading printed before the option, or NULL */
} koers_option_t;

/* What the standard options asked for. */
typedef struct {
    const char *config_path; /* NULL: $KOERS_CONFIG or none */
    int dump, help, version;
} koers_cli_t;

/* The program's handler of its own options: 0, or -1 with errstr (a usage error). */
typedef int (*koers_cli_own_fn)(void *ctx, int id, const char *arg, char *errstr, size_t errlen);

/* Parses argv by opts. Settings go into cfg, -X too; the standard options into *cli; the
 * program's own to own(ctx, ...). With stop_at_operand, parsing ends at the first operand (a
 * subcommand's). Returns the index of the first operand, or -1 with errstr (empty when
 * getopt has already said what was wrong). */
int koers_cli_parse(int argc, char **argv, const koers_option_t *opts, size_t n,
                    int stop_at_operand, koers_config_t *cfg, koers_cli_t *cli,
                    koers_cli_own_fn own, void *ctx, char *errstr, size_t errlen);

/* Prints the options, one per line, help wrapped under each other; a setting's help ends with
 * "(default: $VARIABLE or DEFAULT)" from settings. */
void koers_cli_usage(FILE *out, const koers_option_t *opts, size_t n,
                     const koers_setting_t *settings, size_t nsettings);

#define KOERS_CLI_N(a) (sizeof(a) / sizeof((a)[0]))

#endif
