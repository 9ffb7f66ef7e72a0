/* The API's parameter values, checked before any reaches the database: names, months, chart
 * ids, numbers. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dash.h"

/* [a-z0-9_-]{1,32}: a cohort or source name. */
int dash_param_name(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > 32)
        return 0;
    for (; *s; s++)
        if (!(islower((unsigned char)*s) || isdigit((unsigned char)*s) || *s == '_' || *s == '-'))
            return 0;
    return 1;
}

/* YYYY-MM (2000..2099) into out as YYYY-MM-01. */
int dash_param_month(const char *s, char *out, size_t outlen)
{
    if (strlen(s) != 7 || s[4] != '-')
        return 0;
    for (int i = 0; i < 7; i++)
        if (i != 4 && !isdigit((unsigned char)s[i]))
            return 0;
    int year = atoi(s), month = atoi(s + 5);
    if (year < 2000 || year > 2099 || month < 1 || month > 12)
        return 0;
    snprintf(out, outlen, "%.7s-01", s);
    return 1;
}

/* A chart name: page.chart, lower case and underscores. */
int dash_param_chart(const char *s)
{
    size_t n = strlen(s);
    const char *dot = strchr(s, '.');
    if (n < 3 || n > 48 || !dot || dot == s || !dot[1] || strchr(dot + 1, '.'))
        return 0;
    for (; *s; s++)
        if (!(islower((unsigned char)*s) || *s == '_' || *s == '.'))
            return 0;
    return 1;
}

int dash_param_int(const char *s, long lo, long hi, long *out)
{
    if (!*s || strlen(s) > 9)
        return 0;
    for (const char *p = s; *p; p++)
        if (!isdigit((unsigned char)*p))
            return 0;
    long v = strtol(s, NULL, 10);
    if (v < lo || v > hi)
        return 0;
    *out = v;
    return 1;
}
