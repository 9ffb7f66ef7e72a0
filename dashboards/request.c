/* A request's parameters and the response being built: what the router (http.c) and the API
 * (api.c) both use, so that neither includes the other's helpers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>

#include "dash.h"

#define REQUEST_ARGS_MAX 16

void dash_resp_text(dash_resp_t *r, int status, const char *content_type, const char *text)
{
    free(r->body);
    r->status = status;
    r->content_type = content_type;
    r->static_body = NULL;
    r->body = strdup(text);
    r->len = r->body ? strlen(r->body) : 0;
}

void dash_resp_json_error(dash_resp_t *r, int status, const char *code, const char *message)
{
    char buf[1024], esc[700];
    size_t j = 0;
    for (const char *s = message; *s && j + 7 < sizeof esc; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\') {
            esc[j++] = '\\';
            esc[j++] = (char)ch;
        } else if (ch < 0x20) {
            j += (size_t)snprintf(esc + j, sizeof esc - j, "\\u%04x", ch);
        } else {
            esc[j++] = (char)ch;
        }
    }
    esc[j] = '\0';
    snprintf(buf, sizeof buf, "{\"error\":\"%s\",\"message\":\"%s\"}", code, esc);
    dash_resp_text(r, status, "application/json; charset=utf-8", buf);
}

const char *dash_req_arg(dash_req_t *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

typedef struct {
    const char *const *allowed;
    char *why;
    size_t whylen;
    int count, bad;
} request_argcheck_t;

static enum MHD_Result request_check_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                      const char *value)
{
    (void)kind;
    request_argcheck_t *c = cls;
    if (++c->count > REQUEST_ARGS_MAX) {
        snprintf(c->why, c->whylen, "too many parameters");
        c->bad = 1;
        return MHD_NO;
    }
    int known = 0;
    for (const char *const *a = c->allowed; *a; a++)
        if (strcmp(*a, key) == 0)
            known = 1;
    if (!known) {
        snprintf(c->why, c->whylen, "unknown parameter");
        c->bad = 1;
        return MHD_NO;
    }
    if (value && strlen(value) > DASH_PARAM_MAX) {
        snprintf(c->why, c->whylen, "parameter %.32s is too long", key);
        c->bad = 1;
        return MHD_NO;
    }
    return MHD_YES;
}

int dash_req_check_args(dash_req_t *req, const char *const *allowed, char *why, size_t whylen)
{
    request_argcheck_t c = {allowed, why, whylen, 0, 0};
    MHD_get_connection_values(req->conn, MHD_GET_ARGUMENT_KIND, request_check_arg, &c);
    return c.bad ? -1 : 0;
}
