#!/usr/bin/env python3
"""bench/report.py RESULTS LOG.md: BENCHMARKS.md (to stdout) from bench/run's key=value results,
with the hand-kept optimisation log (bench/log.md) after the figures."""
import sys


def main():
    r = {}
    for line in open(sys.argv[1]):
        if "=" in line:
            k, v = line.rstrip("\n").split("=", 1)
            r[k] = v
    log = open(sys.argv[2]).read() if len(sys.argv) > 2 else ""
    f = lambda k: float(r[k])  # noqa: E731
    raw = dict(kv.split("=") for kv in r["raw_line"].split())
    out = []
    w = out.append

    def rate(n, s):
        return n / s if s > 0 else 0.0

    def fmt(x):
        return f"{x:,.0f}"

    def met(ok):
        return "met" if ok else "**missed**"

    synth_rate = rate(f("produced_events"), f("produce_synth_seconds"))
    csv_rate = rate(f("produced_events"), f("produce_csv_seconds"))
    import_rate = rate(f("import_events"), f("produce_import_seconds"))
    raw_rate = float(raw["per_second"])
    cons_rate = rate(f("consume_stored"), f("consume_seconds"))
    copy_rate = rate(f("bare_copy_rows"), f("bare_copy_seconds"))
    rss_mib = f("consume_rss_kb") / 1024

    w("# koers benchmarks")
    w("")
    took = f", {r['run_minutes']} minutes" if "run_minutes" in r else ""
    w(f"Written by `{r['command'].strip()}`, started {r['date']}{took} (one run; every figure "
      "below comes from it). Reproduce on this machine with the same command from the checkout; the "
      "services must be startable with `scripts/services start`. The load average (1 min) "
      "beside each figure was read when that measurement started: other work shares the "
      "machine.")
    w("")
    w("## Machine and versions")
    w("")
    w(f"- CPU: {r['machine_cpu']}, {r['machine_cores']} cores; memory {r['machine_mem']}; "
      f"Linux {r['machine_kernel']}")
    w(f"- {r['version_koers']}; {r['version_consume']}")
    w(f"- PostgreSQL {r['version_postgres']}, Apache Kafka {r['version_kafka']} (single node, "
      f"KRaft), {r['version_cc']}")
    w("- Kafka, PostgreSQL, the producer and the consumer all run on this machine.")
    w("")
    w("## Figures")
    w("")
    w("| figure | koers | baseline | ratio | target | | load |")
    w("|---|---|---|---|---|---|---|")
    w(f"| producer, `synth` → Kafka (generation, pseudonyms, Avro, idempotent producer) | "
      f"{fmt(synth_rate)} events/s | raw librdkafka {fmt(raw_rate)} msg/s | "
      f"{synth_rate / raw_rate:.2f}× | ≥ 300,000 events/s | {met(synth_rate >= 300000)} | "
      f"{r['produce_synth_load']} |")
    w(f"| producer, `import` of the same events as CSV files (parse, validate, pseudonyms, Avro) | "
      f"{fmt(import_rate)} events/s | raw librdkafka {fmt(raw_rate)} msg/s | "
      f"{import_rate / raw_rate:.2f}× | ≥ 300,000 events/s | {met(import_rate >= 300000)} | "
      f"{r['produce_import_load']} |")
    w(f"| consumer, Kafka → PostgreSQL, exactly-once offsets and every aggregate (headline) | "
      f"{fmt(cons_rate)} events/s | bare COPY {fmt(copy_rate)} rows/s | "
      f"**{cons_rate / copy_rate:.2f}×** | ≥ 100,000 events/s and ≥ 0.7× | "
      f"{met(cons_rate >= 100000 and cons_rate / copy_rate >= 0.7)} | {r['consume_load']} / "
      f"{r['bare_copy_load']} |")
    if r.get("consume_pg_cpu") and r.get("bare_copy_pg_cpu"):
        cons_us = f("consume_pg_cpu") / f("consume_stored") * 1e6
        copy_us = f("bare_copy_pg_cpu") / f("bare_copy_rows") * 1e6
        w(f"| PostgreSQL CPU per event (backend CPU time, independent of load) | "
          f"{cons_us:.1f} µs | bare COPY {copy_us:.1f} µs | {copy_us / cons_us:.2f}× | | | "
          f"{r['consume_load']} |")
    if r.get("consume_wal_bytes") and r.get("bare_copy_wal_bytes"):
        cons_wal = f("consume_wal_bytes") / f("consume_stored")
        copy_wal = f("bare_copy_wal_bytes") / f("bare_copy_rows")
        w(f"| WAL per event (pg_stat_wal, the whole instance) | {cons_wal:,.0f} bytes | "
          f"bare COPY {copy_wal:,.0f} bytes | {copy_wal / cons_wal:.2f}× | | | {r['consume_load']} |")
    if r.get("consume_prepared_rows"):
        w(f"| prepared rows written per event (inserted, updated or deleted, from "
          f"pg_stat_user_tables) | {f('consume_prepared_rows') / f('consume_stored'):.2f} | | | | | "
          f"{r['consume_load']} |")
    if r.get("consume_cpu"):
        w(f"| consumer's own CPU per event (user and system, librdkafka's threads included) | "
          f"{f('consume_cpu') / f('consume_stored') * 1e6:.1f} µs | | | | | {r['consume_load']} |")
    w(f"| consumer peak resident memory, catching up on {fmt(f('consume_stored'))} events | "
      f"{rss_mib:.1f} MiB | | | ≤ 64 MiB | {met(rss_mib <= 64)} | {r['consume_load']} |")
    if "topup_rss_kb" in r:
        top_rate = rate(f("topup_stored"), f("topup_consume_seconds"))
        top_rss = f("topup_rss_kb") / 1024
        w(f"| consumer on the top-up backlog ({fmt(f('topup_stored'))} events onto "
          f"{fmt(f('consume_stored'))} stored) | {fmt(top_rate)} events/s, {top_rss:.1f} MiB | "
          f"| | ≥ 100,000 events/s, ≤ 64 MiB | {met(top_rate >= 100000 and top_rss <= 64)} | "
          f"{r['topup_consume_load']} |")
    w(f"| rebuild every aggregate from the raw tables (`koers.refresh_all()`, "
      f"{fmt(f('dashboard_events'))} events) | {f('rebuild_seconds'):.1f} s | | | | | "
      f"{r['rebuild_load']} |")
    w("")
    w("Details:")
    w("")
    w(f"- Producer: {fmt(f('produced_events'))} synthetic events for {fmt(f('participants'))} "
      f"participants in {f('produce_synth_seconds'):.2f} s (process start to exit, including "
      f"topic checks and the final flush). Generating the same cohort alone (`synth --csv`, no "
      f"Kafka, no Avro) takes {f('produce_csv_seconds'):.2f} s ({fmt(csv_rate)} events/s); "
      f"`import` of those CSV files ({f('csv_bytes') / 1e6:.0f} MB) sends "
      f"{fmt(f('import_events'))} events in {f('produce_import_seconds'):.2f} s.")
    w(f"- Raw baseline: `bench/raw_produce` (librdkafka {r['version_consume'].split('librdkafka ')[-1].split(',')[0]}) "
      f"replays the very messages koers produced (keys and Avro payloads, average "
      f"{float(raw['avg_bytes']):.0f} bytes, read back with kcat) to topics of the same shape "
      f"(6 partitions each), with the producer settings of koers-produce (idempotence, acks=all, "
      f"linger.ms 20, lz4, 10,000 messages per batch): {raw['delivered']} messages in "
      f"{float(raw['seconds']):.2f} s, timed from the first produce call to the end of the "
      f"flush. Load {r['raw_load']}.")
    w(f"- Consumer: `koers-consume --until-caught-up` from start to exit (group join, "
      f"assignment, every batch committed) stored {fmt(f('consume_stored'))} new rows in "
      f"{f('consume_seconds'):.2f} s, using {f('consume_cpu'):.2f} s of CPU itself (the rest is "
      f"PostgreSQL and Kafka). Every batch is one transaction: COPY into staging tables, the "
      f"rows, koers.event_count_month, the prepared measure tables and the offsets. Its "
      f"PostgreSQL backend used {r.get('consume_pg_cpu', '?')} s of CPU. The consumer's own "
      f"account: {r.get('consume_breakdown', '')}.")
    w(f"- Bare COPY: the same {fmt(f('bare_copy_rows'))} rows, exported with `COPY TO` (binary), "
      f"loaded with psql `\\copy FROM` (binary) into empty copies of the six event tables "
      f"(`LIKE … INCLUDING ALL`: the same indexes and checks), in one transaction, after a "
      f"CHECKPOINT: {f('bare_copy_seconds'):.2f} s; its backend used "
      f"{r.get('bare_copy_pg_cpu', '?')} s of CPU.")
    w("")
    w(f"### Dashboard queries at {fmt(f('dashboard_events'))} events")
    w("")
    names = [k[5:-4] for k in r if k.startswith("dash_") and k.endswith("_p50")]
    if r.get("dash_mode") == "http":
        w("koers-dash serving this database on loopback; an evaluator logged in (no small-cell "
          "suppression, every page); each endpoint requested once to warm up, then round "
          "robin, timed from the request to the last byte of the answer (Python urllib). An "
          "endpoint slower than the per-endpoint time budget gets fewer timed requests (at "
          "least 3), and one whose first timed request alone exceeds the budget only that one. "
          "The first request is the warm-up, not timed with the others: "
          "the first after the data changed computes the answer and stores it in the "
          "dashboard cache (sql/defs/70_dash_cells.sql; the pages crisis, support and cost share "
          "one computation, the first of them pays for it); the timed ones read it, as a "
          "reader does while koers-dash's background refresh keeps the pages asked for current. "
          "Target: p95 ≤ 50 ms at 10,000,000 "
          f"events. Load {r['dashboard_load']}.")
        w("")
        w("| endpoint | first request ms | requests | p50 ms | p95 ms | |")
        w("|---|---|---|---|---|---|")
        for n in names:
            p95 = f(f"dash_{n}_p95")
            errs = int(r.get(f"dash_{n}_errors", "0"))
            first = r.get(f"dash_{n}_first")
            w(f"| `{r.get(f'dash_{n}_rows', n)}` | {f'{float(first):,.1f}' if first else ''} "
              f"| {r.get(f'dash_{n}_runs', '')}"
              f"{f' ({errs} failed)' if errs else ''} | "
              f"{f(f'dash_{n}_p50'):,.1f} | {p95:,.1f} | {met(p95 <= 50 and not errs)} |")
    else:
        w(f"No koers-dash: the SQL behind its pages, cohort `{r.get('dash_cohort', '?')}`, each "
          f"query timed over the runs given to bench/latency.py (after one warm-up round), round "
          f"robin, in one psql session; latency is psql's `\\timing`. Target: p95 ≤ 50 ms at "
          f"10,000,000 events. Load {r['dashboard_load']}.")
        w("")
        w("| endpoint (query) | rows | p50 ms | p95 ms | |")
        w("|---|---|---|---|---|")
        for n in names:
            p95 = f(f"dash_{n}_p95")
            w(f"| {n} | {r.get(f'dash_{n}_rows', '')} | {f(f'dash_{n}_p50'):.1f} | {p95:.1f} | "
              f"{met(p95 <= 50)} |")
    w("")
    w(f"Rebuild check: after `koers.refresh_all()` the prepared tables are "
      f"{'identical to' if r['rebuild_equal'] == 'yes' else '**different from**'} what the "
      f"consumer maintained incrementally (count and a digest of every row of each table, and "
      f"of koers.event_count_month).")
    w("")
    w(log.rstrip())
    print("\n".join(out))


if __name__ == "__main__":
    main()
