/* Writer schemas read from a directory of .avsc files (koers-consume --schema-dir): other
 * versions of the event schemas, older ones still in the topics or newer ones from producers
 * upgraded first, so that their messages are read instead of dead-lettered. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "koers/codec.h"

#define CODEC_DIR_FILE_MAX (1 << 20) /* far above any .avsc; a bigger file is a mistake */

/* Reads a schema file into a NUL-terminated buffer that the caller frees. */
static char *codec_dir_read(const char *path, char *errstr, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(errstr, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    char *buf = malloc(CODEC_DIR_FILE_MAX + 1);
    size_t len = buf ? fread(buf, 1, CODEC_DIR_FILE_MAX + 1, f) : 0;
    int failed = ferror(f);
    fclose(f);
    if (!buf || failed || len > CODEC_DIR_FILE_MAX) {
        snprintf(errstr, errlen, "%s: %s", path,
                 !buf ? "out of memory" : failed ? "read error" : "larger than 1 MiB");
        free(buf);
        return NULL;
    }
    buf[len] = '\0';
    return buf;
}

int koers_codec_add_writer_dir(koers_codec_t *c, const char *dir, int *loaded, char *errstr,
                               size_t errlen)
{
    struct dirent **names;
    int n = scandir(dir, &names, NULL, alphasort);
    if (n < 0) {
        snprintf(errstr, errlen, "%s: %s", dir, strerror(errno));
        return -1;
    }
    int rc = 0;
    *loaded = 0;
    for (int i = 0; i < n; i++) {
        const char *name = names[i]->d_name;
        size_t len = strlen(name);
        if (rc == 0 && len > 5 && strcmp(name + len - 5, ".avsc") == 0) {
            char path[4096], why[512];
            snprintf(path, sizeof path, "%s/%s", dir, name);
            char *json = codec_dir_read(path, errstr, errlen);
            if (!json) {
                rc = -1;
            } else if (koers_codec_add_writer(c, json, why, sizeof why) != 0) {
                snprintf(errstr, errlen, "%s: %s", path, why);
                rc = -1;
            } else {
                (*loaded)++;
            }
            free(json);
        }
        free(names[i]);
    }
    free(names);
    return rc;
}
