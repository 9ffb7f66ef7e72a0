/* The pages, scripts and styles: a fixed list of files read into memory at start-up, so no
 * request path ever reaches the file system. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dash.h"
#include "koers/log.h"

typedef struct {
    const char *path;
    const char *file; /* relative to the static directory; "chart" is the chart library */
    const char *content_type;
    int public_;
    unsigned roles;
} assets_entry_t;

#define HTML "text/html; charset=utf-8"
#define JS "text/javascript; charset=utf-8"

static const assets_entry_t assets_list[] = {
    {"/", "app.html", HTML, 0, DASH_ROLE_ANY},
    {"/crisis", "app.html", HTML, 0, DASH_ROLE_ANY},
    {"/support", "app.html", HTML, 0, DASH_ROLE_ANY},
    {"/cost", "app.html", HTML, 0, DASH_ROLE_ANY},
    {"/quality", "app.html", HTML, 0, DASH_ROLE_ANY},
    {"/instruments", "app.html", HTML, 0, DASH_ROLE_ANY},
    {"/timeline", "app.html", HTML, 0, DASH_ROLE_EVALUATOR},
    {"/admin", "app.html", HTML, 0, DASH_ROLE_ADMIN},
    {"/login", "login.html", HTML, 1, DASH_ROLE_ANY},
    {"/denied", "denied.html", HTML, 1, DASH_ROLE_ANY},
    {"/static/style.css", "style.css", "text/css; charset=utf-8", 1, DASH_ROLE_ANY},
    {"/static/i18n.js", "i18n.js", JS, 1, DASH_ROLE_ANY},
    {"/static/login.js", "login.js", JS, 1, DASH_ROLE_ANY},
    {"/static/logo.svg", "logo.svg", "image/svg+xml", 1, DASH_ROLE_ANY},
    {"/static/app.js", "app.js", JS, 0, DASH_ROLE_ANY},
    {"/static/pages.js", "pages.js", JS, 0, DASH_ROLE_ANY},
    {"/static/chart.umd.min.js", "chart", JS, 0, DASH_ROLE_ANY},
};
#define ASSETS_N (sizeof assets_list / sizeof assets_list[0])

/* Where the chart library is: installed beside the pages, or in the source tree where
 * scripts/install-web put it. */
static const char *const assets_chart_paths[] = {
    "vendor/chart.umd.min.js",
    "../node_modules/chart.js/dist/chart.umd.min.js",
};

static dash_asset_t assets[ASSETS_N];
static unsigned char *assets_files[ASSETS_N]; /* owned buffers (one per distinct file) */

static unsigned char *assets_read(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    unsigned char *buf = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if (n == cap) {
            cap = cap ? cap * 2 : 65536;
            unsigned char *p = realloc(buf, cap);
            if (!p) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = p;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        return NULL;
    }
    *len = n;
    return buf;
}

int dash_assets_load(const char *static_dir, char *errstr, size_t errlen)
{
    char path[4096];
    for (size_t i = 0; i < ASSETS_N; i++) {
        const assets_entry_t *e = &assets_list[i];
        assets[i].path = e->path;
        assets[i].content_type = e->content_type;
        assets[i].public_ = e->public_;
        assets[i].roles = e->roles;
        for (size_t j = 0; j < i; j++) {
            if (strcmp(assets_list[j].file, e->file) == 0) {
                assets[i].data = assets[j].data;
                assets[i].len = assets[j].len;
                break;
            }
        }
        if (assets[i].data)
            continue;
        unsigned char *data = NULL;
        size_t len = 0;
        if (strcmp(e->file, "chart") == 0) {
            for (size_t k = 0; !data && k < sizeof assets_chart_paths / sizeof *assets_chart_paths; k++) {
                snprintf(path, sizeof path, "%s/%s", static_dir, assets_chart_paths[k]);
                data = assets_read(path, &len);
            }
            if (!data) {
                /* The pages still work (tables without charts): say so loudly, go on. */
                koers_log_warn("the chart library is missing (%s/%s or %s/%s): the pages show "
                               "tables only; run scripts/install-web",
                               static_dir, assets_chart_paths[0], static_dir, assets_chart_paths[1]);
                continue;
            }
        } else {
            snprintf(path, sizeof path, "%s/%s", static_dir, e->file);
            data = assets_read(path, &len);
            if (!data) {
                snprintf(errstr, errlen, "cannot read %s", path);
                return -1;
            }
        }
        assets_files[i] = data;
        assets[i].data = data;
        assets[i].len = len;
    }
    return 0;
}

void dash_assets_free(void)
{
    for (size_t i = 0; i < ASSETS_N; i++) {
        free(assets_files[i]);
        assets_files[i] = NULL;
        assets[i].data = NULL;
    }
}

const dash_asset_t *dash_assets_find(const char *path)
{
    for (size_t i = 0; i < ASSETS_N; i++)
        if (assets[i].data && strcmp(assets[i].path, path) == 0)
            return &assets[i];
    return NULL;
}
