/* Prints name, Parsing Canonical Form and fingerprint of each .avsc as koers computes them, for comparison with Java. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "koers/schema.h"

/* Returns the file's text, NUL-terminated and malloc'd, or NULL with errno set. */
static char *schema_read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t len = 0, cap = 4096;
    char *buf = malloc(cap);
    while (buf) {
        len += fread(buf + len, 1, cap - len - 1, f);
        if (ferror(f) || feof(f))
            break;
        char *p = realloc(buf, cap * 2);
        if (!p) {
            free(buf);
            buf = NULL;
            errno = ENOMEM;
            break;
        }
        buf = p;
        cap *= 2;
    }
    if (buf && ferror(f)) {
        free(buf);
        buf = NULL;
        errno = EIO;
    }
    fclose(f);
    if (buf)
        buf[len] = '\0';
    return buf;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s FILE.avsc...\n"
                        "Prints name<TAB>canonical form<TAB>fingerprint (unsigned decimal) per file.\n"
                        "Exit status: 0 all printed, 1 a file could not be read or parsed, 2 usage.\n",
                argv[0]);
        return 2;
    }
    int failed = 0;
    for (int i = 1; i < argc; i++) {
        char err[512];
        char *json = schema_read_file(argv[i]);
        if (!json) {
            fprintf(stderr, "%s: %s\n", argv[i], strerror(errno));
            failed = 1;
            continue;
        }
        uint64_t fp = 0;
        char *canon = koers_schema_canonical(json, err, sizeof err);
        if (canon && koers_schema_fingerprint(json, &fp, err, sizeof err) < 0) {
            free(canon);
            canon = NULL;
        }
        free(json);
        if (!canon) {
            fprintf(stderr, "%s: %s\n", argv[i], err);
            failed = 1;
            continue;
        }
        const char *base = strrchr(argv[i], '/');
        base = base ? base + 1 : argv[i];
        size_t n = strlen(base);
        if (n > 5 && strcmp(base + n - 5, ".avsc") == 0)
            n -= 5;
        printf("%.*s\t%s\t%" PRIu64 "\n", (int)n, base, canon, fp);
        free(canon);
    }
    if (fflush(stdout) != 0 || ferror(stdout)) {
        perror("stdout");
        return 1;
    }
    return failed;
}
