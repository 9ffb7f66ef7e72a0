#!/usr/bin/env python3
"""The funder report (koers-report --audience funder; reports/funder.c, schema report in
sql/defs/85_mkba_dash.sql) on the dashboard tests' demo cohorts (tests/browser/dashfixture.py:
noord 40, zuid 24, klein 3 participants, through the real pipeline).

- HTML: every figure of the document is a cell a funder reads from the dashboards' functions
  (dash.overview, dash.crisis, dash.evidence, dash.mkba, called here as a funder login): the
  same value as shown, and "<5" exactly where the database hides it; no count of 1..k-1
  appears; no pseudonym or any 64-hex string is in it; run by a funder login it is the same
  document. The MKBA table, the tornado chart (SVG) and its table, the assumptions with their
  sources and the index are in it; the English option is English.
- PDF: printed with headless chromium; pdftoppm turns its pages into PNGs kept as test
  artifacts (tests/artifacts/report/); pdftotext finds the page numbers, the as-of date and
  the MKBA heading.
- Refusals: the per-participant formats are refused with --audience funder, html and pdf
  without it.
"""
import re
import secrets
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "browser"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import dashfixture  # noqa: E402
import koers_e2e as e2e  # noqa: E402

INT_CHARTS = ("overview.enrolment", "overview.goals", "crisis.bd_count")
INT_CATEGORIES = {("overview.kpi", "enrolled_now"), ("evidence.stats", "n"), ("evidence.stats", "full_coverage")}


class Figures(HTMLParser):
    """The elements carrying data-chart/-series/-category, with their text."""

    def __init__(self):
        super().__init__()
        self.figs, self.stack, self.lang = [], [], None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "html":
            self.lang = a.get("lang")
        if "data-chart" in a:
            self.stack.append([(a["data-chart"], a["data-series"], a["data-category"]), ""])
        elif self.stack:
            self.stack.append(None)

    def handle_endtag(self, tag):
        if self.stack:
            top = self.stack.pop()
            if top is not None:
                self.figs.append((top[0], top[1].strip()))
                if self.stack and self.stack[-1] is not None:
                    self.stack[-1][1] += top[1]

    def handle_data(self, data):
        for item in reversed(self.stack):
            if item is not None:
                item[1] += data
                break


def parse_shown(text):
    """A figure as printed (nl): '1.234', '0,93', '83%', '€ 1.564', '−€ 12'; (value, decimals, percent)."""
    t = text.replace("\u00a0", "").replace("€", "").replace(" ", "").replace("\u2212", "-")
    percent = t.endswith("%")
    t = t.rstrip("%").replace(".", "").replace(",", ".")
    return float(t), (len(t.split(".")[1]) if "." in t else 0), percent


def funder_cells(db, role):
    sql = ("SELECT chart, series, category, value, suppressed FROM dash.overview(NULL, NULL, NULL, NULL)"
           " UNION ALL SELECT chart, series, category, value, suppressed FROM dash.crisis(NULL, NULL, NULL, NULL)"
           " UNION ALL SELECT chart, series, category, value, suppressed FROM dash.evidence(NULL, NULL, NULL, NULL, 'intention_to_treat')"
           " UNION ALL SELECT chart, series, category, value, suppressed FROM dash.mkba(NULL, NULL, NULL, NULL, 'intention_to_treat')")
    r = e2e.run(["psql", "-X", "-At", "-F", "|", "-P", "null=NULL", "-U", role, "-d", db, "-c", sql])
    if r.rc != 0:
        raise RuntimeError(r.err)
    out = {}
    for line in r.out.splitlines():
        ch, s, g, v, sup = line.split("|")
        out[(ch, s, g)] = (None if v == "NULL" else float(v), sup == "t")
    return out


def report(args, conninfo):
    return e2e.run([e2e.program("koers-report"), "-d", conninfo, "--audience", "funder"] + args, timeout=300)


def main():
    c = e2e.Checks("test_report_funder")
    fx = c.run(dashfixture.Fixture, c, "report")
    if fx:
        c.run(checks, c, fx)
    c.finish()


def checks(c, fx):
    db = fx.db
    funder = f"trep_{secrets.token_hex(3)}"
    e2e.psql(f'CREATE ROLE "{funder}" LOGIN IN ROLE koers_funder', db)
    c.cleanup(e2e.psql, f'DROP ROLE IF EXISTS "{funder}"', db)
    k = int(e2e.psql("SELECT koers.min_cell()", db)[0][0])
    out = Path(e2e.tempdir(c, "report"))
    art = Path(dashfixture.artifacts_dir()).parent / "report"
    art.mkdir(parents=True, exist_ok=True)

    html = out / "funder.html"
    r = report(["--format", "html", "--out", str(html)], f"dbname={db}")
    if not c.program("koers-report --audience funder --format html (as the database owner)", r):
        return
    text = html.read_text(encoding="utf-8")
    (art / "funder.html").write_text(text, encoding="utf-8")
    p = Figures()
    p.feed(text)
    cells = funder_cells(db, funder)
    missing, wrong, hidden_bad, small = [], [], [], []
    hidden = 0
    for key, shown in p.figs:
        if key not in cells:
            missing.append(key)
            continue
        value, suppressed = cells[key]
        if suppressed or shown == f"<{k}":
            if suppressed and shown == f"<{k}":
                hidden += 1
            else:
                hidden_bad.append((key, shown, suppressed))
            continue
        if shown == "\u2013":
            if value is not None:
                wrong.append((key, shown, value))
            continue
        v, decimals, percent = parse_shown(shown)
        want = value * 100 if percent else value
        if abs(v - want) > 0.5 * 10 ** -decimals + 1e-9:
            wrong.append((key, shown, value))
        if (key[0] in INT_CHARTS or (key[0], key[2]) in INT_CATEGORIES or (key[0], key[1]) in INT_CATEGORIES) \
                and 1 <= v < k:
            small.append((key, shown))
    c.ok(f"report: {len(p.figs)} figures, each a cell of the funder's dashboard functions", not missing and len(p.figs) > 150,
         "> 150, none missing", (len(p.figs), missing[:5]))
    c.ok("report: every figure shown equals the database", not wrong, "equal", wrong[:5])
    c.ok(f"report: '<{k}' exactly where the database hides ({hidden} figures)", not hidden_bad and hidden > 0,
         "consistent, some hidden", hidden_bad[:5])
    c.ok(f"report: no count of 1..{k - 1} is printed", not small, "none", small[:5])
    pseudonyms = [row[0] for row in e2e.psql("SELECT participant FROM koers.participant", db)]
    c.ok("report: no pseudonym (not even its first 10 characters) and no 64-hex string in it",
         not any(ps[:10] in text for ps in pseudonyms) and not re.search(r"[0-9a-f]{64}", text),
         "none", None)
    for need, what in [("Indicatieve MKBA per belanghebbende", "the MKBA heading"), ("Nulalternatief", "the null alternative"),
                       ("<svg", "the tornado chart as an image"), ("Consumentenprijsindex", "the index"),
                       ("Kostenhandleiding", "the unit costs' sources"), ("Gevoeligheid van het saldo", "the sensitivity"),
                       ("Wie verdient terug", "who cashes in"), ("Datadekking", "data coverage")]:
        c.ok(f"report: {what} ({need!r})", need in text, need, None)
    payers = int(e2e.psql("SELECT count(*) FROM koers.payer", db)[0][0])
    mk = [key for key, _ in p.figs if key[0] == "mkba.table" and key[2] == "balance"]
    c.equal("report: the MKBA table has the balance of every stakeholder and the total", payers + 1, len(mk))
    as_of = e2e.psql("SELECT (date_trunc('month', koers.today()) - interval '1 day')::date", db)[0][0]
    c.ok("report: as of the end of the last complete month, as the funder pages", f">{as_of}<" in text, as_of, None)

    # The same document when a funder runs it: it reads nothing a funder may not.
    html2 = out / "funder-as-funder.html"
    r = report(["--format", "html", "--out", str(html2)], f"dbname={db} user={funder}")
    if c.program("koers-report --audience funder as a funder login", r):
        strip = lambda s: re.sub(r'<td id="made">[^<]*</td>', "", s)  # noqa: E731
        c.ok("report: the same document whoever runs it", strip(html2.read_text(encoding="utf-8")) == strip(text),
             "same", None)

    r = report(["--format", "html", "--lang", "en", "--out", str(out / "en.html")], f"dbname={db}")
    if c.program("koers-report --audience funder --lang en", r):
        en = (out / "en.html").read_text(encoding="utf-8")
        c.ok("report --lang en: lang en, English headings", 'lang="en"' in en and "Koers: report for funders" in en
             and "Indicative social cost-benefit" in en and "Pagina" not in en, "English", None)

    pdf = art / "funder.pdf"
    r = report(["--format", "pdf", "--out", str(pdf)], f"dbname={db}")
    if c.program("koers-report --audience funder --format pdf", r):
        c.ok("report pdf: a PDF", pdf.read_bytes()[:4] == b"%PDF", "%PDF", pdf.read_bytes()[:8])
        for old in art.glob("funder-page-*.png"):
            old.unlink()
        rr = subprocess.run(["pdftoppm", "-r", "70", "-png", str(pdf), str(art / "funder-page")],
                            capture_output=True, text=True, timeout=120)
        pngs = sorted(art.glob("funder-page-*.png"))
        c.ok(f"report pdf: pdftoppm makes a PNG of each page ({len(pngs)}), kept in {art}",
             rr.returncode == 0 and len(pngs) >= 4 and all(x.stat().st_size > 10000 for x in pngs), ">= 4 pages",
             (rr.returncode, rr.stderr[:200], len(pngs)))
        pt = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, timeout=120)
        c.ok("report pdf: page numbers, the as-of date and the MKBA heading in its text",
             f"Pagina 1 van {len(pngs)}" in pt.stdout and as_of in pt.stdout and "Indicatieve MKBA" in pt.stdout,
             "found", pt.stdout[:200])

    for args, what in [(["--format", "text"], "--audience funder --format text"),
                       (["--format", "csv", "--out", str(out / "csv")], "--audience funder --format csv"),
                       (["--format", "html", "--cohort", "noord"], "--audience funder --cohort")]:
        r = report(args, f"dbname={db}")
        c.ok(f"koers-report {what} is refused (exit 2)", r.rc == 2, 2, r.rc)
    r = e2e.run([e2e.program("koers-report"), "-d", f"dbname={db}", "--format", "pdf", "--out", str(out / "x.pdf")])
    c.ok("koers-report --format pdf without --audience funder is refused (exit 2)", r.rc == 2, 2, r.rc)


if __name__ == "__main__":
    main()
