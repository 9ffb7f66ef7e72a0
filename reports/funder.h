/* The funder report of koers-report: an HTML document (printed to PDF with chromium). */
#ifndef KOERS_REPORT_FUNDER_H
#define KOERS_REPORT_FUNDER_H

#include <stdio.h>

#include <libpq-fe.h>

/* Writes the funder report in lang ("nl" or "en") as HTML to out, from the functions of
 * schema report and dash.mkba_assumptions/dash.price_index only (what a funder may read,
 * suppressed). Returns 0, or -1 with errstr filled; *db_failed tells a database failure from
 * a failed write. */
int report_funder_html(PGconn *conn, const char *lang, FILE *out, int *db_failed, char *errstr,
                       size_t errlen);

/* Prints the HTML file html_path to pdf_path with a headless chromium (the program named by
 * $KOERS_CHROMIUM, default chromium). Returns 0, or -1 with errstr filled. */
int report_print_pdf(const char *html_path, const char *pdf_path, char *errstr, size_t errlen);

#endif
