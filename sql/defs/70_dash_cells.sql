-- koers definitions, dashboard cells: each page's figures as cells with the participants they
-- draw on, small-cell suppression for funders and partners, and the cache of answers keyed by
-- the data version.

-- The as-of date of a request: for funders and partners the end of the last complete month;
-- for the others the end of the period (its month), never past today.
CREATE OR REPLACE FUNCTION koers.dash_as_of(c koers.dash_caller_row, period_to date) RETURNS date
    LANGUAGE sql STABLE
    AS $$
    SELECT CASE WHEN c.suppress
                THEN (date_trunc('month', koers.today()) - interval '1 day')::date
                ELSE least(koers.today(), (date_trunc('month', coalesce(period_to, koers.today()))
                                           + interval '1 month' - interval '1 day')::date)
           END
    $$;

-- Secondary suppression: in every relation (r_id: the relation of each row; r_mem: the
-- cell it names; r_tot: whether that cell is the relation's total) where exactly one cell is
-- hidden, it could be recomputed from the others: hide one more, the smallest part (a total
-- only when no part is left), and repeat until no relation has a single hidden cell.
CREATE OR REPLACE FUNCTION koers.dash_suppress_secondary(sup boolean[], val numeric[], r_id text[],
                                                      r_mem integer[], r_tot boolean[])
    RETURNS boolean[]
    LANGUAGE plpgsql IMMUTABLE
    AS $$
DECLARE
    nrel    integer;
    i       integer;
    j       integer;
    m       integer;
    cnt     integer;
    best    integer;
    changed boolean;
BEGIN
    nrel := coalesce(cardinality(r_id), 0);
    LOOP
        changed := false;
        i := 1;
        WHILE i <= nrel LOOP
            j := i;
            cnt := 0;
            WHILE j <= nrel AND r_id[j] = r_id[i] LOOP
                IF sup[r_mem[j]] THEN
                    cnt := cnt + 1;
                END IF;
                j := j + 1;
            END LOOP;
            IF cnt = 1 THEN
                best := NULL;
                FOR m IN i .. j - 1 LOOP
                    IF NOT sup[r_mem[m]] AND (best IS NULL
                        OR (r_tot[m]::integer, abs(coalesce(val[r_mem[m]], 0)), r_mem[m])
                           < (r_tot[best]::integer, abs(coalesce(val[r_mem[best]], 0)), r_mem[best])) THEN
                        best := m;
                    END IF;
                END LOOP;
                IF best IS NOT NULL THEN
                    sup[r_mem[best]] := true;
                    changed := true;
                END IF;
            END IF;
            i := j;
        END LOOP;
        EXIT WHEN NOT changed;
    END LOOP;
    RETURN sup;
END
$$;

-- The cells of one group of pages (overview, outcomes, quality), suppressed for c when
-- c.suppress. links: 'chartA=chartB' pairs whose cells with the same series and category
-- are the same quantity; extra: a JSON array of relations, each an array of
-- [chart, series, category] members any one of which follows from the others.
CREATE OR REPLACE FUNCTION koers.dash_cells(grp text, c koers.dash_caller_row, p_cohort text, p_org text,
                                 as_of date, links text[], extra jsonb)
    RETURNS SETOF koers.dash_cell
    LANGUAGE plpgsql STABLE
    AS $$
DECLARE
    k      integer := koers.min_cell();
    ch     text[];
    se     text[];
    ca     text[];
    val    numeric[];
    sup    boolean[];
    sp     text[];
    cp     text[];
    r_id   text[];
    r_mem  integer[];
    r_tot  boolean[];
BEGIN
    IF grp NOT IN ('overview', 'outcomes', 'quality', 'instruments') THEN
        RAISE EXCEPTION 'unknown group %', grp USING ERRCODE = 'invalid_parameter_value';
    END IF;
    EXECUTE format($q$
        WITH pop AS (SELECT participant, cohort FROM koers.exposure($1)),
        raw AS MATERIALIZED (SELECT x.* FROM koers.%I($1, $4) x),
        flagged AS (
            SELECT raw.*, (raw.participant IS NULL OR $2::text IS NULL OR p.cohort = $2) AS in_c,
                   (raw.source IS NULL OR $3::text IS NULL OR raw.source = $3) AS in_o
            FROM raw LEFT JOIN pop p ON p.participant = raw.participant
        ), per AS (
            -- Per cell and participant: the sums under the filter, and in which of the
            -- settings (the filter; wider ones less the filter) the participant contributes.
            SELECT f.chart, s.series, cat.category, f.participant,
                   sum(f.num) FILTER (WHERE in_c AND in_o) AS num,
                   sum(f.den) FILTER (WHERE in_c AND in_o) AS den, count(f.den) AS dens,
                   bool_or(f.den > 0 AND in_c AND in_o) AS d_f,
                   bool_or(f.contrib AND in_c AND in_o) AS c_f,
                   bool_or(f.contrib AND in_c AND NOT in_o) AS c_c,
                   bool_or(f.contrib AND in_o AND NOT in_c) AS c_o,
                   bool_or(f.contrib AND NOT (in_c AND in_o)) AS c_a
            FROM flagged f
            CROSS JOIN LATERAL unnest(f.series_path) s(series)
            CROSS JOIN LATERAL unnest(f.category_path) cat(category)
            GROUP BY 1, 2, 3, 4
        ), cells AS (
            SELECT chart, series, category,
                CASE WHEN sum(dens) > 0 THEN sum(num) / nullif(sum(den), 0)
                     ELSE coalesce(sum(num), 0) END AS value,
                count(*) FILTER (WHERE c_f AND participant IS NOT NULL) AS n,
                count(*) FILTER (WHERE d_f AND participant IS NOT NULL) AS np, sum(dens) AS dens,
                count(*) FILTER (WHERE c_c AND participant IS NOT NULL) AS nc,
                count(*) FILTER (WHERE c_o AND participant IS NOT NULL) AS nr,
                count(*) FILTER (WHERE c_a AND participant IS NOT NULL) AS na
            FROM per GROUP BY 1, 2, 3
        ), sp AS (
            SELECT DISTINCT chart || '|' || series_path[i] || '|' || series_path[i + 1] AS pair
            FROM raw, generate_subscripts(series_path, 1) i WHERE i < cardinality(series_path)
        ), cp AS (
            SELECT DISTINCT chart || '|' || category_path[i] || '|' || category_path[i + 1] AS pair
            FROM raw, generate_subscripts(category_path, 1) i WHERE i < cardinality(category_path)
        )
        SELECT array_agg(chart ORDER BY chart, series, category),
               array_agg(series ORDER BY chart, series, category),
               array_agg(category ORDER BY chart, series, category),
               array_agg(value ORDER BY chart, series, category),
               array_agg($5 AND (n BETWEEN 1 AND $6 - 1 OR (dens > 0 AND np < $6)
                                 OR nc BETWEEN 1 AND $6 - 1 OR nr BETWEEN 1 AND $6 - 1
                                 OR na BETWEEN 1 AND $6 - 1) ORDER BY chart, series, category),
               (SELECT array_agg(pair) FROM sp), (SELECT array_agg(pair) FROM cp)
        FROM cells
        $q$, 'dash_contrib_' || grp)
    INTO ch, se, ca, val, sup, sp, cp
    USING as_of, p_cohort, p_org, c.organisation, c.suppress, k;

    IF ch IS NULL THEN
        RETURN;
    END IF;

    IF c.suppress THEN
        -- The relations, as (relation id, member index, is the total) rows sorted by id.
        WITH cells AS (
            SELECT * FROM unnest(ch, se, ca) WITH ORDINALITY AS t(chart, series, category, idx)
        ), spairs AS (
            SELECT split_part(x, '|', 1) AS chart, split_part(x, '|', 2) AS child,
                   split_part(x, '|', 3) AS parent FROM unnest(sp) x
        ), cpairs AS (
            SELECT split_part(x, '|', 1) AS chart, split_part(x, '|', 2) AS child,
                   split_part(x, '|', 3) AS parent FROM unnest(cp) x
        ), lk AS (
            SELECT split_part(x, '=', 1) AS a, split_part(x, '=', 2) AS b FROM unnest(links) x
        ), rel AS (
            SELECT 'S|' || p.chart || '|' || p.parent || '|' || c1.category AS rid, c1.idx,
                   c1.series = p.parent AS is_total
            FROM spairs p JOIN cells c1 ON c1.chart = p.chart AND c1.series IN (p.child, p.parent)
            UNION
            SELECT 'C|' || p.chart || '|' || p.parent || '|' || c1.series, c1.idx,
                   c1.category = p.parent
            FROM cpairs p JOIN cells c1 ON c1.chart = p.chart AND c1.category IN (p.child, p.parent)
            UNION
            SELECT 'L|' || lk.a || '|' || lk.b || '|' || a.series || '|' || a.category, x.idx, false
            FROM lk JOIN cells a ON a.chart = lk.a
            JOIN cells b ON b.chart = lk.b AND b.series = a.series AND b.category = a.category
            CROSS JOIN LATERAL (VALUES (a.idx), (b.idx)) x(idx)
            UNION
            SELECT 'X|' || e.ord, c1.idx, false
            FROM jsonb_array_elements(coalesce(extra, '[]')) WITH ORDINALITY e(rel, ord)
            CROSS JOIN LATERAL jsonb_array_elements(e.rel) mem
            JOIN cells c1 ON c1.chart = mem->>0 AND c1.series = mem->>1 AND c1.category = mem->>2
        )
        SELECT array_agg(rid ORDER BY rid, idx), array_agg(idx::integer ORDER BY rid, idx),
               array_agg(is_total ORDER BY rid, idx)
        INTO r_id, r_mem, r_tot FROM rel;

        sup := koers.dash_suppress_secondary(sup, val, r_id, r_mem, r_tot);
    END IF;

    RETURN QUERY
        SELECT t.chart, t.series, t.category,
               CASE WHEN t.sup THEN NULL ELSE round(t.value, 4) END, t.sup
        FROM unnest(ch, se, ca, val, sup) AS t(chart, series, category, value, sup);
END
$$;
-- The planner's estimates of these set-returning queries are far too high: JIT would cost
-- seconds to save milliseconds.
ALTER FUNCTION koers.dash_cells(text, koers.dash_caller_row, text, text, date, text[], jsonb) SET jit = off;
COMMENT ON FUNCTION koers.dash_cells(text, koers.dash_caller_row, text, text, date, text[], jsonb) IS
    'Internal: the cells of a group of dashboard pages from koers.dash_contrib_<group>(as_of, '
    'organisation of the caller), filtered, with small-cell and complementary suppression for '
    'suppressed callers.';

-- Data quality: stored events (not voided) per source and month of occurred_at, and per
-- source and event type. Every participant with events counts, enrolled or not.
CREATE OR REPLACE FUNCTION koers.dash_contrib_quality(as_of date, own_org text)
    RETURNS SETOF koers.dash_contrib
    LANGUAGE sql STABLE
    AS $$
    WITH ev AS (
        SELECT r.participant, r.source, r.event_type, r.month, r.events
        FROM koers.registration_month r
        WHERE r.events > 0 AND r.month <= as_of
    ), months AS (
        SELECT to_char(g, 'YYYY-MM') AS m
        FROM generate_series((SELECT min(month) FROM ev), date_trunc('month', as_of::timestamp),
                             interval '1 month') g
    ), sources AS (SELECT DISTINCT source FROM ev)
    SELECT 'quality.events', ARRAY[source], ARRAY[to_char(month, 'YYYY-MM')], participant, source,
           events::numeric, NULL::numeric, events <> 0
    FROM ev
    UNION ALL
    SELECT 'quality.events', ARRAY[s.source], ARRAY[m.m], NULL, s.source, 0, NULL, false
    FROM sources s CROSS JOIN months m
    UNION ALL
    SELECT 'quality.types', ARRAY[source], ARRAY[event_type], participant, source, events, NULL,
           events <> 0
    FROM ev
    UNION ALL
    SELECT 'quality.types', ARRAY[s.source], ARRAY[t], NULL, s.source, 0, NULL, false
    FROM sources s CROSS JOIN unnest(ARRAY['enrolment', 'contact', 'crisis', 'goal_change',
                                           'police_call', 'correction']) t
    $$;

-- Keeps a cell unless its category is a month (YYYY-MM) outside the period.
CREATE OR REPLACE FUNCTION koers.dash_in_period(category text, period_from date, period_to date) RETURNS boolean
    LANGUAGE sql IMMUTABLE
    AS $$
    SELECT category !~ '^\d{4}-\d{2}$'
        OR ((period_from IS NULL OR to_date(category, 'YYYY-MM') >= date_trunc('month', period_from))
            AND (period_to IS NULL OR to_date(category, 'YYYY-MM') <= period_to))
    $$;

-- The relations between the charts of the outcomes group (crisis, cost, support pages):
-- the same quantity in two charts, and costs computed from counts.
CREATE OR REPLACE FUNCTION koers.dash_outcomes_links() RETURNS text[]
    LANGUAGE sql IMMUTABLE
    AS $$ SELECT ARRAY['crisis.bd_count=crisis.bd_rate', 'crisis.bd_rate=crisis.trend',
                       'crisis.bd_count=crisis.kind', 'crisis.bd_count=crisis.police_kind',
                       'crisis.bd_count=crisis.police_caller', 'crisis.bd_count=crisis.police_outcome',
                       'cost.total=cost.per_pm', 'support.role=support.mode',
                       'support.role=support.initiated', 'support.mode=support.initiated'] $$;

-- The participants of a filter setting, in lane order (first enrolled day, pseudonym).
CREATE OR REPLACE FUNCTION koers.dash_lanes(p_cohort text, p_org text, as_of date)
    RETURNS TABLE (lane integer, participant text, cohort text, first_enrolled date)
    LANGUAGE sql STABLE
    AS $$
    SELECT (row_number() OVER (ORDER BY e.first_enrolled, e.participant))::integer,
           e.participant, e.cohort, e.first_enrolled
    FROM koers.exposure(as_of) e
    WHERE (p_cohort IS NULL OR e.cohort = p_cohort)
      AND (p_org IS NULL OR EXISTS (SELECT 1 FROM koers.registration_month r
                                    WHERE r.participant = e.participant AND r.source = p_org
                                      AND r.events > 0 AND r.event_type <> 'correction'))
    $$;

CREATE OR REPLACE FUNCTION koers.data_version() RETURNS text
    LANGUAGE sql STABLE
    AS $$
    SELECT md5(coalesce((SELECT string_agg(concat_ws(':', o.group_id, o.topic, o.partition, o.next_offset), ','
                                           ORDER BY o.group_id, o.topic, o.partition)
                         FROM koers.consumer_offset o), ''))
           || ':' ||
           md5(concat_ws('|',
               (SELECT string_agg(s.name || '=' || s.value, ',' ORDER BY s.name) FROM koers.setting s
                WHERE s.name NOT LIKE 'dash\_cache%'),
               (SELECT string_agg(u::text, ',' ORDER BY u.item) FROM koers.unit_cost u),
               (SELECT string_agg(m::text, ',' ORDER BY m.event_type, m.kind) FROM koers.unit_cost_map m),
               -- The MKBA's (sql/0015_mkba.sql): an edited payer share or index figure too.
               (SELECT string_agg(p::text, ',' ORDER BY p.item, p.payer) FROM koers.unit_cost_payer p),
               (SELECT string_agg(i::text, ',' ORDER BY i.year) FROM koers.price_index i),
               (SELECT string_agg(y::text, ',' ORDER BY y.payer) FROM koers.payer y)))
    $$;
COMMENT ON FUNCTION koers.data_version() IS
    'Digests of what the measures depend on: every consumer offset (which moves with each '
    'batch of events), then, after a colon, the settings (but the cache''s own), the unit '
    'costs and their mapping, payers and price index.';

CREATE OR REPLACE FUNCTION koers.dash_cache_on() RETURNS boolean
    LANGUAGE sql STABLE
    AS $$ SELECT coalesce((SELECT value FROM koers.setting WHERE name = 'dash_cache'), 'on') <> 'off' $$;

-- The entry of a key if it may be served: the same data version, or only newer events and
-- not older than the allowed staleness (a changed setting, such as k of the suppression,
-- or a changed unit cost is never served stale). Marks the hit (at most once a minute, to
-- keep reads cheap).
CREATE OR REPLACE FUNCTION koers.dash_cache_get(key text, ver text) RETURNS koers.dash_cache
    LANGUAGE plpgsql VOLATILE
    AS $$
DECLARE
    e koers.dash_cache;
    max_stale numeric := coalesce((SELECT value::numeric FROM koers.setting WHERE name = 'dash_cache_max_stale'), 300);
BEGIN
    IF NOT koers.dash_cache_on() THEN
        RETURN NULL;
    END IF;
    SELECT * INTO e FROM koers.dash_cache WHERE cache_key = key;
    IF NOT FOUND OR (e.data_version <> ver
                     AND (split_part(e.data_version, ':', 2) <> split_part(ver, ':', 2)
                          OR e.computed_at < now() - make_interval(secs => max_stale))) THEN
        RETURN NULL;
    END IF;
    IF e.last_hit_at < now() - interval '1 minute' THEN
        BEGIN
            UPDATE koers.dash_cache SET last_hit_at = now() WHERE cache_key = key;
        EXCEPTION WHEN read_only_sql_transaction THEN
            NULL;
        END;
    END IF;
    RETURN e;
END
$$;

-- Stores a computation (unless a newer one is stored); a read-only transaction (e.g. a
-- Grafana data source) simply does not cache.
CREATE OR REPLACE FUNCTION koers.dash_cache_put(key text, ver text, started timestamptz, n_lanes integer,
                                     c koers.dash_cell[], refresh_sql text) RETURNS boolean
    LANGUAGE plpgsql VOLATILE
    AS $$
DECLARE
    stored integer;
BEGIN
    IF NOT koers.dash_cache_on() THEN
        RETURN false;
    END IF;
    BEGIN
        INSERT INTO koers.dash_cache AS d VALUES (key, ver, started,
            round(extract(epoch FROM clock_timestamp() - started) * 1000, 1), now(), n_lanes, c,
            refresh_sql)
        ON CONFLICT (cache_key) DO UPDATE
            SET data_version = excluded.data_version, computed_at = excluded.computed_at,
                compute_ms = excluded.compute_ms, lanes = excluded.lanes, cells = excluded.cells,
                refresh = excluded.refresh
            WHERE d.computed_at <= excluded.computed_at;
        GET DIAGNOSTICS stored = ROW_COUNT;
        IF stored = 0 THEN
            RETURN false; -- a newer computation is stored already
        END IF;
        DELETE FROM koers.dash_cache_lane WHERE cache_key = key;
        -- Entries no one asked for in a week go; one in use elsewhere is left for later
        -- rather than waited for.
        DELETE FROM koers.dash_cache WHERE cache_key IN (
            SELECT d.cache_key FROM koers.dash_cache d
            WHERE d.last_hit_at < now() - interval '7 days' FOR UPDATE SKIP LOCKED);
        RETURN true;
    EXCEPTION WHEN read_only_sql_transaction THEN
        RETURN false;
    END;
END
$$;

CREATE OR REPLACE FUNCTION koers.dash_cache_clear() RETURNS void
    LANGUAGE sql VOLATILE
    AS $$ DELETE FROM koers.dash_cache $$;
COMMENT ON FUNCTION koers.dash_cache_clear() IS
    'Forgets every cached dashboard answer: for whatever changes the prepared tables other than '
    'the consumer, the settings and the unit costs.';

CREATE OR REPLACE FUNCTION koers.dash_page(pages text[], grp text, c koers.dash_caller_row, p_cohort text,
                                           p_org text, period_from date, period_to date, links text[],
                                           extra jsonb)
    RETURNS SETOF koers.dash_cell
    LANGUAGE plpgsql VOLATILE
    AS $$
BEGIN
    RETURN QUERY
        SELECT x.* FROM unnest(koers.dash_group(grp, c, p_cohort, p_org,
                                                koers.dash_as_of(c, period_to), links, extra)) x
        WHERE (split_part(x.chart, '.', 1) = ANY (pages) OR x.chart = ANY (pages))
          AND koers.dash_in_period(x.category, period_from, period_to)
        ORDER BY x.chart, x.series, x.category;
END
$$;

-- Lateness per source (recorded_at - occurred_at, hours): nearest-rank percentiles over the
-- events not voided of the period, each the lower edge of its bucket in
-- koers.lateness_histogram; suppressed under k participants (no relations).
CREATE OR REPLACE FUNCTION koers.dash_lateness(c koers.dash_caller_row, p_cohort text, p_org text,
                                    period_from date, period_to date, as_of date)
    RETURNS koers.dash_cell[]
    LANGUAGE plpgsql VOLATILE
    AS $$
DECLARE
    key   text := concat_ws('|', 'lateness', c.suppress, coalesce(p_cohort, '-'), coalesce(p_org, '-'),
                            coalesce(period_from::text, '-'), coalesce(period_to::text, '-'), as_of);
    ver   text := koers.data_version();
    t0    timestamptz := clock_timestamp();
    e     koers.dash_cache := koers.dash_cache_get(key, ver);
    k     integer := koers.min_cell();
    cells koers.dash_cell[];
BEGIN
    IF e.cache_key IS NOT NULL THEN
        RETURN e.cells;
    END IF;
    c := ROW(NULL, NULL, c.organisation, c.suppress); -- what decides the answer, no user
    -- The histogram's cohort is the participant's (empty for none, which no filter names).
    WITH l AS (
        SELECT l.source, u.bucket_min, u.events
        FROM koers.lateness_histogram l, unnest(l.bucket_min, l.events) AS u(bucket_min, events)
        WHERE NOT l.voided AND l.month <= as_of
          AND (p_cohort IS NULL OR l.cohort = p_cohort)
          AND (p_org IS NULL OR l.source = p_org)
          AND (period_from IS NULL OR l.month >= date_trunc('month', period_from))
          AND (period_to IS NULL OR l.month <= period_to)
    ), cum AS (
        SELECT source, bucket_min,
               sum(events) OVER (PARTITION BY source ORDER BY bucket_min) AS upto,
               sum(events) OVER (PARTITION BY source) AS total
        FROM l
    ), s AS (
        SELECT source, min(bucket_min) FILTER (WHERE upto >= 0.5 * total) AS p50,
               min(bucket_min) FILTER (WHERE upto >= 0.9 * total) AS p90,
               max(bucket_min) AS pmax
        FROM cum GROUP BY source
    ), n AS (
        -- The participants behind each source's figures, for the suppression.
        SELECT r.source, count(DISTINCT r.participant) AS n
        FROM koers.registration_month r LEFT JOIN koers.participant p ON p.participant = r.participant
        WHERE r.events > 0 AND r.month <= as_of
          AND (p_cohort IS NULL OR p.cohort = p_cohort)
          AND (p_org IS NULL OR r.source = p_org)
          AND (period_from IS NULL OR r.month >= date_trunc('month', period_from))
          AND (period_to IS NULL OR r.month <= period_to)
        GROUP BY r.source)
    SELECT coalesce(array_agg(ROW('quality.lateness', s.source, y.q,
                                  CASE WHEN c.suppress AND n.n < k THEN NULL ELSE round(y.v / 60.0, 2) END,
                                  c.suppress AND n.n < k)::koers.dash_cell ORDER BY s.source, y.q), '{}')
    INTO cells
    FROM s JOIN n USING (source)
    CROSS JOIN LATERAL (VALUES ('p50_hours', s.p50), ('p90_hours', s.p90), ('max_hours', s.pmax)) y(q, v);
    PERFORM koers.dash_cache_put(key, ver, t0, NULL, cells, format(
        'SELECT koers.dash_lateness(%L::koers.dash_caller_row, %L, %L, %L::date, %L::date, %L::date)',
        c, p_cohort, p_org, period_from, period_to, as_of));
    RETURN cells;
END
$$;

-- The lanes of a filter setting (evaluators only), from the cache or computed; the
-- participants export also keeps each lane's measures. Returns the cache key.
CREATE OR REPLACE FUNCTION koers.dash_lanes_cached(p_cohort text, p_org text, as_of date, with_measures boolean)
    RETURNS text
    LANGUAGE plpgsql VOLATILE
    AS $$
DECLARE
    key text := concat_ws('|', CASE WHEN with_measures THEN 'participants' ELSE 'lanes' END,
                          coalesce(p_cohort, '-'), coalesce(p_org, '-'), as_of);
    ver text := koers.data_version();
    t0  timestamptz := clock_timestamp();
    e   koers.dash_cache := koers.dash_cache_get(key, ver);
    n   integer;
BEGIN
    IF e.cache_key IS NOT NULL THEN
        RETURN key;
    END IF;
    CREATE TEMP TABLE IF NOT EXISTS dash_lanes_new (LIKE koers.dash_cache_lane) ON COMMIT DROP;
    TRUNCATE dash_lanes_new;
    IF with_measures THEN
        INSERT INTO dash_lanes_new
        WITH g AS (
            SELECT gs.participant, count(*)::integer AS n,
                   count(*) FILTER (WHERE gs.status = 'achieved')::integer AS a,
                   count(*) FILTER (WHERE gs.status = 'revised')::integer AS r,
                   count(*) FILTER (WHERE gs.status = 'abandoned')::integer AS ab
            FROM koers.goal_status_at(as_of) gs GROUP BY gs.participant
        )
        SELECT key, l.lane, l.participant, l.cohort, l.first_enrolled, ROW(
                   b.person_months_before, b.person_months_during, b.crisis_before,
                   b.crisis_during, b.crisis_days_before, b.crisis_days_during, b.police_before,
                   b.police_during, b.confused_before, b.confused_during, coalesce(g.n, 0),
                   coalesce(g.a, 0), coalesce(g.r, 0), coalesce(g.ab, 0), t.t_score,
                   si.contacts_per_week, cb.cost_before_per_pm, cb.cost_during_per_pm,
                   cb.support_cost_during)::koers.dash_lane_measures
        FROM koers.dash_lanes(p_cohort, p_org, as_of) l
        JOIN koers.before_during(as_of) b ON b.participant = l.participant
        LEFT JOIN g ON g.participant = l.participant
        LEFT JOIN koers.gas_tscore(as_of) t ON t.participant = l.participant
        LEFT JOIN koers.support_intensity(as_of) si ON si.participant = l.participant
        LEFT JOIN koers.cost_benefit(as_of) cb ON cb.participant = l.participant;
    ELSE
        INSERT INTO dash_lanes_new
        SELECT key, l.lane, l.participant, l.cohort, l.first_enrolled, NULL
        FROM koers.dash_lanes(p_cohort, p_org, as_of) l;
    END IF;
    GET DIAGNOSTICS n = ROW_COUNT;
    IF koers.dash_cache_put(key, ver, t0, n, NULL, format(
            'SELECT koers.dash_lanes_cached(%L, %L, %L::date, %L)', p_cohort, p_org, as_of, with_measures)) THEN
        INSERT INTO koers.dash_cache_lane SELECT * FROM dash_lanes_new;
        RETURN key;
    END IF;
    RETURN NULL; -- not stored (cache off, or a read-only transaction): read dash_lanes_new
END
$$;

-- The lanes of a setting: from the cache when stored there, else from the temporary table
-- the computation left in this transaction.
CREATE OR REPLACE FUNCTION koers.dash_lanes_read(key text, lane_offset integer, lane_limit integer)
    RETURNS SETOF koers.dash_cache_lane
    LANGUAGE plpgsql VOLATILE
    AS $$
BEGIN
    IF key IS NOT NULL THEN
        RETURN QUERY SELECT * FROM koers.dash_cache_lane l WHERE l.cache_key = key
                     AND l.lane > lane_offset ORDER BY l.lane LIMIT lane_limit;
    ELSE
        RETURN QUERY EXECUTE 'SELECT * FROM dash_lanes_new WHERE lane > $1 ORDER BY lane LIMIT $2'
                     USING lane_offset, lane_limit;
    END IF;
END
$$;

-- Whether a cohort or organisation may be offered to c: always without suppression, else
-- when the filter check accepts it alone (one rule: the check itself decides).
CREATE OR REPLACE FUNCTION koers.dash_filter_offered(c koers.dash_caller_row, p_cohort text, p_org text,
                                          as_of date) RETURNS boolean
    LANGUAGE plpgsql STABLE
    AS $$
BEGIN
    IF c.suppress THEN
        PERFORM koers.dash_check_filter(c, p_cohort, p_org, as_of);
    END IF;
    RETURN true;
EXCEPTION WHEN SQLSTATE 'KS001' THEN
    RETURN false;
END
$$;

------------------------------------------------------------------------------------------
-- The participants of a filter setting: one home for the rule that dash_check_filter and
-- the evidence both apply.
------------------------------------------------------------------------------------------

-- Every participant enrolled by as_of, with whether they are in the cohort (in_c) and have
-- a registration of the organisation (in_o); NULL filters leave everyone in.
CREATE OR REPLACE FUNCTION koers.dash_filter_flags(p_cohort text, p_org text, as_of date)
    RETURNS TABLE (participant text, in_c boolean, in_o boolean)
    LANGUAGE sql STABLE
    AS $$
    SELECT e.participant, (p_cohort IS NULL OR e.cohort = p_cohort),
           (p_org IS NULL OR EXISTS (
                SELECT 1 FROM koers.registration_month r
                WHERE r.participant = e.participant AND r.source = p_org AND r.events > 0
                  AND r.event_type <> 'correction'))
    FROM koers.exposure(as_of) e
    $$;
COMMENT ON FUNCTION koers.dash_filter_flags(text, text, date) IS
    'Internal: participants enrolled by as_of, in the cohort (in_c) and with a registration of '
    'the organisation (in_o); the filter setting is in_c AND in_o, the wider settings the rest.';

CREATE OR REPLACE FUNCTION koers.dash_check_filter(c koers.dash_caller_row, p_cohort text, p_org text,
                                                   as_of date) RETURNS integer
    LANGUAGE plpgsql STABLE
    AS $$
DECLARE
    k  integer := koers.min_cell();
    f  integer;
    dc integer;
    dorg integer;
    da integer;
BEGIN
    IF p_cohort IS NOT NULL AND p_cohort !~ '^[a-z0-9_-]{1,32}$' THEN
        RAISE EXCEPTION 'cohort is not a cohort name' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_org IS NOT NULL AND p_org !~ '^[a-z0-9_-]{1,32}$' THEN
        RAISE EXCEPTION 'organisation is not a source name' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT count(*) FILTER (WHERE in_c AND in_o), count(*) FILTER (WHERE in_c AND NOT in_o),
           count(*) FILTER (WHERE in_o AND NOT in_c), count(*) FILTER (WHERE NOT (in_c AND in_o))
    INTO f, dc, dorg, da FROM koers.dash_filter_flags(p_cohort, p_org, as_of);
    IF c.suppress AND (p_cohort IS NOT NULL OR p_org IS NOT NULL) THEN
        IF f < k THEN
            RAISE EXCEPTION 'this filter leaves fewer than % participants', k
                USING ERRCODE = 'KS001', HINT = 'choose a wider cohort or organisation';
        END IF;
        IF dc BETWEEN 1 AND k - 1 OR dorg BETWEEN 1 AND k - 1 OR da BETWEEN 1 AND k - 1 THEN
            RAISE EXCEPTION 'this filter differs from a wider one by fewer than % participants', k
                USING ERRCODE = 'KS001', HINT = 'choose a wider cohort or organisation';
        END IF;
    END IF;
    RETURN f;
END
$$;

------------------------------------------------------------------------------------------
-- Overview: GAS baseline, latest and change; the share over the enrolled participants.
------------------------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION koers.dash_contrib_overview(as_of date, own_org text)
    RETURNS SETOF koers.dash_contrib
    LANGUAGE sql STABLE
    AS $$
    WITH pop AS (SELECT * FROM koers.exposure(as_of)),
    months AS (
        SELECT to_char(g, 'YYYY-MM') AS m, g::date AS m_start, (g + interval '1 month')::date AS m_end
        FROM generate_series((SELECT date_trunc('month', min(first_enrolled)) FROM pop),
                             date_trunc('month', as_of::timestamp), interval '1 month') g
    ), spans AS (
        SELECT s.* FROM koers.enrolment_span s JOIN pop p ON p.participant = s.participant
        WHERE s.start_day <= as_of
    ), goals AS (
        SELECT g.participant, g.domain::text AS domain, g.stability_corner, g.set_by::text AS set_by,
               g.status
        FROM koers.goal_status_at(as_of) g JOIN pop p ON p.participant = g.participant
    ), statuses AS (
        SELECT unnest(ARRAY['open', 'achieved', 'revised', 'abandoned']) AS status
    ), domains AS (
        SELECT d::text AS domain, koers.stability_corner(d) AS corner
        FROM unnest(enum_range(NULL::koers.goal_change_domain)) d
    )
    -- New enrolments per month; their total is the number of participants.
    SELECT 'overview.enrolment', ARRAY['new'], ARRAY[to_char(first_enrolled, 'YYYY-MM'), 'all'],
           participant, NULL::text, 1::numeric, NULL::numeric, true
    FROM pop
    UNION ALL
    SELECT 'overview.enrolment', ARRAY['new'], ARRAY[m, 'all'], NULL, NULL, 0, NULL, false FROM months
    -- Participants enrolled on at least one day of the month.
    UNION ALL
    SELECT DISTINCT 'overview.active', ARRAY['active'], ARRAY[m.m], s.participant, NULL::text,
           1::numeric, NULL::numeric, true
    FROM spans s JOIN months m ON s.start_day < m.m_end
                               AND least(coalesce(s.end_day, as_of + 1), as_of + 1) > m.m_start
    UNION ALL
    SELECT 'overview.active', ARRAY['active'], ARRAY[m], NULL, NULL, 0, NULL, false FROM months
    -- Enrolled on the as-of date.
    UNION ALL
    SELECT 'overview.kpi', ARRAY['enrolled_now'], ARRAY['all'], p.participant, NULL, 1, NULL, true
    FROM pop p WHERE EXISTS (SELECT 1 FROM spans s WHERE s.participant = p.participant
                                                   AND (s.end_day IS NULL OR s.end_day > as_of))
    UNION ALL
    SELECT 'overview.kpi', ARRAY['enrolled_now'], ARRAY['all'], NULL, NULL, 0, NULL, false
    -- Goals by status (parts of "set": every goal set) and domain (parts of its corner, parts
    -- of "all").
    UNION ALL
    SELECT 'overview.goals', ARRAY[status, 'set'], ARRAY[domain, stability_corner, 'all'],
           participant, NULL, 1, NULL, true
    FROM goals
    UNION ALL
    SELECT 'overview.goals', ARRAY[st.status, 'set'], ARRAY[d.domain, d.corner, 'all'],
           NULL, NULL, 0, NULL, false
    FROM statuses st CROSS JOIN domains d
    UNION ALL
    SELECT 'overview.goals_set_by', ARRAY[set_by, 'set'], ARRAY['all'], participant, NULL, 1, NULL, true
    FROM goals
    UNION ALL
    SELECT 'overview.goals_set_by', ARRAY[b::text, 'set'], ARRAY['all'], NULL, NULL, 0, NULL, false
    FROM unnest(enum_range(NULL::koers.goal_change_set_by)) b
    -- Share of the enrolled participants (koers.goal_summary's denominator) who achieved at
    -- least one self-set goal.
    UNION ALL
    SELECT 'overview.kpi', ARRAY['self_set_achieved_share'], ARRAY['all'], p.participant, NULL,
           a.n, 1, a.n = 1
    FROM pop p CROSS JOIN LATERAL (
        SELECT coalesce(max(CASE WHEN g.status = 'achieved' AND g.set_by <> 'professional'
                                 THEN 1 ELSE 0 END), 0)::numeric AS n
        FROM goals g WHERE g.participant = p.participant) a
    -- Mean GAS T-scores over the participants who have one: the latest, the baseline (each
    -- goal's first score) and the change, over the same goals.
    UNION ALL
    SELECT 'overview.kpi', ARRAY[x.s], ARRAY['all'], g.participant, NULL, x.v, 1, true
    FROM koers.gas_tscore(as_of) g JOIN pop p ON p.participant = g.participant
    CROSS JOIN LATERAL (VALUES ('mean_t_score', g.t_score), ('mean_baseline_t_score', g.baseline_t_score),
                               ('mean_t_score_change', g.t_score_change)) x(s, v)
    WHERE g.t_score IS NOT NULL
    -- Whether abandoned goals keep their last score (a setting, drawn from nobody: 1 or 0).
    UNION ALL
    SELECT 'overview.kpi', ARRAY['gas_abandoned_included'], ARRAY['all'], NULL, NULL,
           koers.gas_include_abandoned()::integer, NULL, false
    $$;



------------------------------------------------------------------------------------------
-- Crisis, police, cost and support: the v2 measures.
------------------------------------------------------------------------------------------

-- The support page's contributions: contacts in enrolled time by role, mode and initiator,
-- the key figures per participant-week, per month, and a partner's own contacts by mode.
-- Contacts are never stays, so their prepared rows need no cut at the as-of date.
CREATE OR REPLACE FUNCTION koers.dash_contrib_support(as_of date, own_org text)
    RETURNS SETOF koers.dash_contrib
    LANGUAGE sql STABLE
    AS $$
    WITH pop AS (SELECT * FROM koers.exposure(as_of)),
    contacts AS (
        -- Contacts in enrolled time per participant, source, month, role, mode and initiator.
        SELECT d.participant, d.source, to_char(d.day, 'YYYY-MM') AS month, d.kind, d.mode,
               d.initiated_by, sum(d.events) AS events, sum(d.minutes) AS minutes
        FROM koers.daily_use d JOIN pop p ON p.participant = d.participant
        WHERE d.event_type = 'contact' AND d.period = 'during' AND d.day <= as_of
        GROUP BY 1, 2, 3, 4, 5, 6
    ), months AS (
        SELECT to_char(g, 'YYYY-MM') AS m, g::date AS m_start, (g + interval '1 month')::date AS m_end
        FROM generate_series((SELECT date_trunc('month', min(first_enrolled)) FROM pop),
                             date_trunc('month', as_of::timestamp), interval '1 month') g
    )
    -- Contacts by role, mode and initiator (parts of all).
    SELECT 'support.' || dim, ARRAY[val, 'all'], ARRAY['during'], participant, source, sum(events),
           NULL::numeric, true
    FROM contacts CROSS JOIN LATERAL (VALUES ('role', kind), ('mode', mode), ('initiated', initiated_by)) x(dim, val)
    GROUP BY dim, val, participant, source
    UNION ALL
    SELECT 'support.role', ARRAY[k::text, 'all'], ARRAY['during'], NULL, NULL, 0, NULL, false
    FROM unnest(enum_range(NULL::koers.contact_with_role)) k
    UNION ALL
    SELECT 'support.mode', ARRAY[k::text, 'all'], ARRAY['during'], NULL, NULL, 0, NULL, false
    FROM unnest(enum_range(NULL::koers.contact_mode)) k
    UNION ALL
    SELECT 'support.initiated', ARRAY[k::text, 'all'], ARRAY['during'], NULL, NULL, 0, NULL, false
    FROM unnest(enum_range(NULL::koers.contact_initiated_by)) k
    -- Key figures: contacts and minutes per participant-week, and shares of the contacts.
    UNION ALL
    SELECT 'support.kpi', ARRAY[x.s], ARRAY['all'], participant, source, x.num, x.den, x.num <> 0
    FROM (
        SELECT participant, source, sum(events) AS events, sum(minutes) AS minutes,
               sum(events) FILTER (WHERE mode IN ('outreach', 'home_visit')) AS oh,
               sum(events) FILTER (WHERE initiated_by = 'participant') AS pi,
               sum(events) FILTER (WHERE kind IN ('significant_other', 'experience_expert')) AS ne
        FROM contacts GROUP BY 1, 2
    ) a
    CROSS JOIN LATERAL (VALUES
        ('contacts_per_week', events::numeric, NULL::numeric),
        ('minutes_per_week', minutes::numeric, NULL::numeric),
        ('outreach_home_visit_share', coalesce(oh, 0), events),
        ('participant_initiated_share', coalesce(pi, 0), events),
        ('network_expert_share', coalesce(ne, 0), events)
    ) x(s, num, den)
    UNION ALL
    SELECT 'support.kpi', ARRAY[s], ARRAY['all'], participant, NULL, 0, days_during / 7.0, false
    FROM pop CROSS JOIN unnest(ARRAY['contacts_per_week', 'minutes_per_week']) s
    -- Contacts per enrolled participant-week per month.
    UNION ALL
    SELECT 'support.month', ARRAY['contacts_per_week'], ARRAY[month], participant, source,
           sum(events), NULL, true
    FROM contacts GROUP BY month, participant, source
    UNION ALL
    SELECT 'support.month', ARRAY['contacts_per_week'], ARRAY[m.m], s.participant, NULL, 0,
           (least(coalesce(s.end_day, as_of + 1), as_of + 1, m.m_end) - greatest(s.start_day, m.m_start)) / 7.0,
           false
    FROM koers.enrolment_span s JOIN pop p ON p.participant = s.participant
    JOIN months m ON s.start_day < m.m_end AND least(coalesce(s.end_day, as_of + 1), as_of + 1) > m.m_start
    WHERE s.start_day <= as_of
    -- A partner's own organisation: its contacts per month and mode (whatever the period).
    UNION ALL
    SELECT 'support.own_mode', ARRAY[d.mode, 'all'], ARRAY[to_char(d.day, 'YYYY-MM')], d.participant,
           NULL, sum(d.events), NULL, true
    FROM koers.daily_use d JOIN pop p ON p.participant = d.participant
    WHERE own_org IS NOT NULL AND d.source = own_org AND d.event_type = 'contact' AND d.day <= as_of
      AND d.day >= (SELECT min(m_start) FROM months)
    GROUP BY d.mode, 3, d.participant
    UNION ALL
    SELECT 'support.own_mode', ARRAY[k::text, 'all'], ARRAY[m.m], NULL, NULL, 0, NULL, false
    FROM unnest(enum_range(NULL::koers.contact_mode)) k CROSS JOIN months m
    WHERE own_org IS NOT NULL
    $$;
ALTER FUNCTION koers.dash_contrib_support(date, text) SET jit = off;
COMMENT ON FUNCTION koers.dash_contrib_support(date, text) IS
    'Internal: the support page''s part of koers.dash_contrib_outcomes.';

-- The trend's person-months: the days of each participant in each month relative to the
-- first enrolled day (the counts come with the other crisis figures), the known ones of each
-- measure's type.
CREATE OR REPLACE FUNCTION koers.dash_contrib_trend_exposure(as_of date)
    RETURNS SETOF koers.dash_contrib
    LANGUAGE sql STABLE
    AS $$
    WITH pop AS (SELECT * FROM koers.exposure(as_of)),
    cov AS (
        SELECT m, koers.known_days(koers.window_measure_type(m)) AS days
        FROM unnest(ARRAY['acute_events', 'police_use_calls']) m
    ), rel AS (
        -- Month r holds day offsets ceil(r * 30.4375) .. ceil((r + 1) * 30.4375) - 1 from the
        -- first enrolled day; the before period is months -12 .. -1 (a leap year's extra day
        -- joins -12). lo .. hi - 1: the offsets of the month in the period.
        SELECT x.participant, x.period, r, x.first_enrolled,
               greatest(CASE WHEN r = -12 THEN x.a ELSE ceil(r * koers.person_month_days())::integer END,
                        x.a) AS lo,
               least(ceil((r + 1) * koers.person_month_days())::integer, x.b) AS hi
        FROM (
            SELECT p.participant, 'before' AS period, p.first_enrolled,
                   p.before_start - p.first_enrolled AS a, 0 AS b
            FROM pop p
            UNION ALL
            SELECT s.participant, 'during', p.first_enrolled, s.start_day - p.first_enrolled,
                   least(coalesce(s.end_day, as_of + 1), as_of + 1) - p.first_enrolled
            FROM koers.enrolment_span s JOIN pop p ON p.participant = s.participant
            WHERE s.start_day <= as_of
        ) x
        CROSS JOIN LATERAL generate_series(
            CASE WHEN x.period = 'before' THEN -12 ELSE floor(x.a / koers.person_month_days())::integer END,
            CASE WHEN x.period = 'before' THEN -1 ELSE floor((x.b - 1) / koers.person_month_days())::integer END) r
        WHERE x.b > x.a
    ), known AS (
        SELECT rel.participant, rel.period, rel.r, c.m,
               koers.days_in(datemultirange(daterange(rel.first_enrolled + rel.lo, rel.first_enrolled + rel.hi))
                             * c.days) AS days
        FROM rel CROSS JOIN cov c
        WHERE rel.hi > rel.lo
    )
    SELECT 'crisis.trend', ARRAY[m], ARRAY[r::text, period], participant, NULL, 0,
           days / koers.person_month_days(), false
    FROM known
    WHERE days > 0
    $$;
COMMENT ON FUNCTION koers.dash_contrib_trend_exposure(date) IS
    'Internal: the person-months of the crisis page''s trend per participant, period and month '
    'relative to the first enrolled day (part of koers.dash_contrib_outcomes).';

-- Daily use at the as-of day for the crisis and cost pages: stay pieces cut at it and open
-- stays counted up to it (koers.use_at), of the participants enrolled by then, with their
-- first enrolled day; grp: acute or alternative (crisis), use or victim (police calls). A
-- crisis or police event on a day outside its type's coverage counts no event, a stay only
-- its known days (as in koers.window_measures); rows left with nothing are left out.
CREATE OR REPLACE FUNCTION koers.dash_use_known(as_of date)
    RETURNS TABLE (participant text, day date, source text, event_type text, kind text, caller text,
                   outcome text, minutes integer, period text, first_enrolled date, events integer,
                   days integer, billable_days integer, grp text)
    LANGUAGE sql STABLE
    AS $$
    WITH cov AS (
        SELECT t, koers.known_days(t) AS days FROM unnest(ARRAY['crisis', 'police_call']) t
    )
    SELECT participant, day, source, event_type, kind, caller, outcome, minutes, period,
           first_enrolled, events, days, billable_days, grp
    FROM (
        SELECT d.participant, d.day, d.source, d.event_type, d.kind, d.caller, d.outcome,
               d.minutes, d.period, p.first_enrolled,
               CASE WHEN c.days IS NULL OR d.day <@ c.days THEN d.events ELSE 0 END AS events,
               CASE WHEN c.days IS NULL THEN d.days
                    ELSE koers.use_known_days(d.day, d.days, d.span, as_of, c.days) END AS days,
               CASE WHEN c.days IS NULL THEN d.billable_days
                    WHEN d.span > 0 THEN koers.use_known_days(d.day, d.billable_days, d.span, as_of, c.days)
                    WHEN d.day <@ c.days THEN d.billable_days ELSE 0 END AS billable_days,
               CASE d.event_type
                   WHEN 'crisis' THEN koers.crisis_group(d.kind::koers.crisis_kind)
                   WHEN 'police_call' THEN koers.police_group(d.kind::koers.police_call_kind)
               END AS grp,
               c.days IS NULL AS uncut
        FROM koers.use_at(as_of) d JOIN koers.exposure(as_of) p ON p.participant = d.participant
        LEFT JOIN cov c ON c.t = d.event_type
        WHERE d.period IS NOT NULL
    ) u
    WHERE uncut OR events > 0 OR days > 0
    $$;

CREATE OR REPLACE FUNCTION koers.dash_contrib_outcomes(as_of date, own_org text)
    RETURNS SETOF koers.dash_contrib
    LANGUAGE sql STABLE
    AS $$
    WITH cov AS (
        -- The known days of each type (every day where no source stated its coverage).
        SELECT t, koers.known_days(t) AS days
        FROM unnest(ARRAY['crisis', 'police_call']) t
    ), use AS (
        SELECT * FROM koers.dash_use_known(as_of)
    ), periods AS (
        -- Person-months before and during (per-protocol): all, and the known ones per type.
        SELECT r.participant, CASE r.window_name WHEN 'before' THEN 'before' ELSE 'during' END AS period,
               koers.days_in(r.days) / koers.person_month_days() AS pm,
               koers.days_in(r.days * cr.days) / koers.person_month_days() AS pm_crisis,
               koers.days_in(r.days * po.days) / koers.person_month_days() AS pm_police,
               koers.days_in(r.days * cr.days * po.days) / koers.person_month_days() AS pm_both
        FROM koers.window_ranges(as_of) r
        JOIN cov cr ON cr.t = 'crisis' JOIN cov po ON po.t = 'police_call'
        WHERE r.window_name IN ('before', 'per_protocol')
    ), measures AS (
        SELECT participant, source, period,
               greatest(floor((day - first_enrolled) / koers.person_month_days())::integer, -12) AS r,
               x.measure, sum(x.num) AS num
        FROM (SELECT *, event_type <> 'contact' AS u_is_event FROM use) u CROSS JOIN LATERAL (VALUES
            -- The measures of koers.window_measure_names(), by the same groups of kinds.
            ('acute_events', CASE WHEN grp = 'acute' THEN events END),
            ('acute_days', CASE WHEN grp = 'acute' THEN days END),
            ('alternative_events', CASE WHEN grp = 'alternative' THEN events END),
            ('alternative_days', CASE WHEN grp = 'alternative' THEN days END),
            ('police_use_calls', CASE WHEN event_type = 'police_call' AND grp = 'use' THEN events END),
            ('confused_person_calls', CASE WHEN event_type = 'police_call' AND kind = 'confused_person'
                                           THEN events END),
            ('police_victim_calls', CASE WHEN event_type = 'police_call' AND grp = 'victim'
                                         THEN events END)) x(measure, num)
        WHERE x.num IS NOT NULL AND u_is_event
        GROUP BY 1, 2, 3, 4, 5
    ), grid AS (
        SELECT m, per FROM unnest(koers.window_measure_names()) m, unnest(ARRAY['before', 'during']) per
    ), costed AS (
        SELECT u.participant, u.source, u.period, u.event_type, u.grp,
               sum(CASE k.per WHEN 'event' THEN u.events::numeric WHEN 'day' THEN u.billable_days::numeric
                              WHEN 'hour' THEN u.minutes / 60.0 END * k.amount_eur) AS cost
        FROM use u
        JOIN koers.unit_cost_map m ON m.event_type = u.event_type AND m.kind = u.kind
        JOIN koers.unit_cost k ON k.item = m.item
        WHERE u.event_type <> 'contact' OR u.period = 'during'
        GROUP BY 1, 2, 3, 4, 5
    ), cost_series AS (
        -- Acute crisis and stay alternatives are parts of crisis, crisis and police of
        -- crisis_police; victim calls have no unit cost (0011), so police is police use.
        SELECT * FROM (VALUES ('crisis', 'acute', ARRAY['acute', 'crisis', 'crisis_police']),
                              ('crisis', 'alternative', ARRAY['alternative', 'crisis', 'crisis_police']),
                              ('police_call', NULL, ARRAY['police', 'crisis_police']),
                              ('contact', NULL, ARRAY['support'])) v(event_type, grp, path)
    ), empty_cells AS (
        -- Every kind, caller and outcome has a cell, with a count or without.
        SELECT 'crisis.kind' AS chart, ARRAY[k::text, koers.crisis_group(k) || '_events'] AS series
        FROM unnest(enum_range(NULL::koers.crisis_kind)) k
        UNION ALL SELECT 'crisis.police_kind', ARRAY[k::text, 'police_' || koers.police_group(k) || '_calls']
        FROM unnest(enum_range(NULL::koers.police_call_kind)) k
        UNION ALL SELECT 'crisis.police_caller', ARRAY[k::text, 'police_use_calls']
        FROM unnest(enum_range(NULL::koers.police_call_caller)) k
        UNION ALL SELECT 'crisis.police_outcome', ARRAY[k::text, 'police_use_calls']
        FROM unnest(enum_range(NULL::koers.police_call_outcome)) k
    )
    -- Before versus during: counts, rates per person-month, and the person-months.
    SELECT 'crisis.bd_count', ARRAY[measure], ARRAY[period], participant, source, num::numeric,
           NULL::numeric, num <> 0
    FROM measures
    UNION ALL
    SELECT 'crisis.bd_count', ARRAY[m], ARRAY[per], NULL, NULL, 0, NULL, false FROM grid
    UNION ALL
    SELECT 'crisis.bd_rate', ARRAY[measure], ARRAY[period], participant, source, num, NULL, num <> 0
    FROM measures
    UNION ALL
    SELECT 'crisis.bd_rate', ARRAY[g.m], ARRAY[p.period], p.participant, NULL, 0,
           CASE koers.window_measure_type(g.m) WHEN 'crisis' THEN p.pm_crisis ELSE p.pm_police END, false
    FROM periods p CROSS JOIN (SELECT DISTINCT m FROM grid) g
    UNION ALL
    SELECT 'crisis.person_months', ARRAY['person_months'], ARRAY[period], participant, NULL, pm,
           NULL, pm > 0
    FROM periods
    -- By kind, caller and outcome (parts of the totals above).
    UNION ALL
    -- Crisis kinds are parts of acute_events or alternative_events, police kinds of
    -- police_use_calls or police_victim_calls; callers and outcomes are those of the calls
    -- about the participant (police_use_calls).
    SELECT 'crisis.kind', ARRAY[kind, grp || '_events'], ARRAY[period], participant, source,
           sum(events), NULL, sum(events) <> 0  -- a stay's later pieces count no event
    FROM use WHERE event_type = 'crisis' GROUP BY kind, grp, period, participant, source
    UNION ALL
    SELECT 'crisis.police_kind', ARRAY[kind, 'police_' || grp || '_calls'],
           ARRAY[period], participant, source, sum(events), NULL, true
    FROM use WHERE event_type = 'police_call' GROUP BY kind, grp, period, participant, source
    UNION ALL
    SELECT 'crisis.police_caller', ARRAY[caller, 'police_use_calls'], ARRAY[period], participant,
           source, sum(events), NULL, true
    FROM use WHERE event_type = 'police_call' AND grp = 'use' GROUP BY caller, period, participant, source
    UNION ALL
    SELECT 'crisis.police_outcome', ARRAY[outcome, 'police_use_calls'], ARRAY[period], participant,
           source, sum(events), NULL, true
    FROM use WHERE event_type = 'police_call' AND grp = 'use' GROUP BY outcome, period, participant, source
    UNION ALL
    SELECT e.chart, e.series, ARRAY[per], NULL, NULL, 0, NULL, false
    FROM empty_cells e CROSS JOIN unnest(ARRAY['before', 'during']) per
    -- Trend per month relative to the first enrolled day: rates per person-month; the months
    -- are parts of before and during.
    UNION ALL
    SELECT 'crisis.trend', ARRAY[measure], ARRAY[r::text, period], participant, source, num, NULL,
           num <> 0
    FROM measures
    WHERE measure IN ('acute_events', 'police_use_calls')
    UNION ALL
    SELECT * FROM koers.dash_contrib_trend_exposure(as_of)
    -- Cost: totals (see cost_series), per person-month.
    UNION ALL
    SELECT 'cost.total', s.path, ARRAY[k.period], k.participant, k.source, k.cost, NULL, k.cost <> 0
    FROM costed k JOIN cost_series s ON s.event_type = k.event_type
                                    AND (s.grp IS NULL OR s.grp = k.grp)
    UNION ALL
    SELECT 'cost.total', s.path, ARRAY[per], NULL, NULL, 0, NULL, false
    FROM cost_series s CROSS JOIN unnest(ARRAY['before', 'during']) per
    WHERE s.event_type <> 'contact' OR per = 'during'
    UNION ALL
    SELECT 'cost.per_pm', ARRAY[x], ARRAY[k.period], k.participant, k.source, k.cost, NULL, k.cost <> 0
    FROM costed k JOIN cost_series s ON s.event_type = k.event_type
                                    AND (s.grp IS NULL OR s.grp = k.grp)
    CROSS JOIN LATERAL unnest(s.path) x
    UNION ALL
    SELECT 'cost.per_pm', ARRAY[s], ARRAY[p.period], p.participant, NULL, 0,
           CASE s WHEN 'police' THEN p.pm_police WHEN 'crisis_police' THEN p.pm_both
                  WHEN 'support' THEN p.pm ELSE p.pm_crisis END, false
    FROM periods p
    CROSS JOIN unnest(ARRAY['acute', 'alternative', 'crisis', 'police', 'crisis_police', 'support']) s
    WHERE s <> 'support' OR p.period = 'during'
    UNION ALL
    SELECT * FROM koers.dash_contrib_support(as_of, own_org)
    $$;


-- As 0003, with the v2 series: a cost is priced from the kinds of its group (stay days
-- too, but the kinds are the parts shown), and confused-person calls are one police kind.
CREATE OR REPLACE FUNCTION koers.dash_outcomes_extra() RETURNS jsonb
    LANGUAGE sql IMMUTABLE
    AS $$
    SELECT jsonb_agg(r) FROM (
        SELECT jsonb_build_array(jsonb_build_array('cost.total', 'police', per),
                                 jsonb_build_array('crisis.bd_count', 'police_use_calls', per)) AS r
        FROM unnest(ARRAY['before', 'during']) per
        UNION ALL
        SELECT jsonb_build_array(jsonb_build_array('crisis.bd_count', 'confused_person_calls', per),
                                 jsonb_build_array('crisis.police_kind', 'confused_person', per))
        FROM unnest(ARRAY['before', 'during']) per
        UNION ALL
        SELECT jsonb_build_array(jsonb_build_array('cost.total', g, per))
               || (SELECT jsonb_agg(jsonb_build_array('crisis.kind', k::text, per))
                   FROM unnest(enum_range(NULL::koers.crisis_kind)) k WHERE koers.crisis_group(k) = g)
        FROM unnest(ARRAY['before', 'during']) per, unnest(ARRAY['acute', 'alternative']) g
        UNION ALL
        SELECT jsonb_build_array(jsonb_build_array('cost.total', 'police', per))
               || (SELECT jsonb_agg(jsonb_build_array('crisis.police_kind', k::text, per))
                   FROM unnest(enum_range(NULL::koers.police_call_kind)) k WHERE koers.police_group(k) = 'use')
        FROM unnest(ARRAY['before', 'during']) per
        UNION ALL
        SELECT jsonb_build_array(jsonb_build_array('cost.total', 'support', 'during'))
               || (SELECT jsonb_agg(jsonb_build_array('support.role', k::text, 'during'))
                   FROM unnest(enum_range(NULL::koers.contact_with_role)) k)
        UNION ALL
        SELECT '[["support.kpi", "contacts_per_week", "all"], ["support.role", "all", "during"]]'::jsonb
        UNION ALL
        SELECT '[["support.kpi", "outreach_home_visit_share", "all"], ["support.mode", "outreach", "during"],
                 ["support.mode", "home_visit", "during"], ["support.mode", "all", "during"]]'::jsonb
        UNION ALL
        SELECT '[["support.kpi", "participant_initiated_share", "all"],
                 ["support.initiated", "participant", "during"], ["support.initiated", "all", "during"]]'::jsonb
        UNION ALL
        SELECT '[["support.kpi", "network_expert_share", "all"], ["support.role", "significant_other", "during"],
                 ["support.role", "experience_expert", "during"], ["support.role", "all", "during"]]'::jsonb
    ) x
    $$;

------------------------------------------------------------------------------------------
-- Spread and evidence per window: the statistics of koers.window_evidence over the
-- participants of a filter setting (any cohort, or none), as dashboard cells.
------------------------------------------------------------------------------------------

-- The windows a page may choose (the during side of the pairs; before is the other side).
CREATE OR REPLACE FUNCTION koers.dash_window_names() RETURNS text[]
    LANGUAGE sql IMMUTABLE
    AS $$ SELECT ARRAY['per_protocol', 'intention_to_treat', 'follow_up'] $$;

CREATE OR REPLACE FUNCTION koers.dash_window_check(window_name text) RETURNS text
    LANGUAGE plpgsql IMMUTABLE
    AS $$
BEGIN
    IF window_name IS NULL OR NOT window_name = ANY (koers.dash_window_names()) THEN
        RAISE EXCEPTION 'window is one of per_protocol, intention_to_treat, follow_up'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN window_name;
END
$$;

-- The cells of the evidence of one window for a filter setting: chart evidence.stats, series
-- a measure, category a figure. For suppressed callers: a measure's row is hidden when its
-- n is 1..k-1 or differs from a wider setting's by 1..k-1; the figures of one side (before,
-- during) when 1..k-1 participants have a count there; those of the differences when 1..k-1
-- differences are not zero; and the per-protocol pooled rates, which are the crisis.bd_rate
-- cells, where those are hidden (complementary suppression included).
CREATE OR REPLACE FUNCTION koers.dash_evidence_cells(window_name text, c koers.dash_caller_row, p_cohort text,
                                          p_org text, as_of date)
    RETURNS koers.dash_cell[]
    LANGUAGE plpgsql VOLATILE
    AS $$
#variable_conflict use_variable
DECLARE
    k     integer := koers.min_cell();
    bd    koers.dash_cell[];
    cells koers.dash_cell[];
BEGIN
    PERFORM koers.dash_window_check(window_name);
    IF c.suppress AND window_name = 'per_protocol' THEN
        bd := koers.dash_group('outcomes', c, p_cohort, p_org, as_of, koers.dash_outcomes_links(),
                               koers.dash_outcomes_extra());
    END IF;
    WITH w AS MATERIALIZED (
        SELECT ROW(p.*)::koers.window_paired_row AS r, f.in_c, f.in_o
        FROM koers.window_paired(as_of) p
        JOIN koers.dash_filter_flags(p_cohort, p_org, as_of) f ON f.participant = p.participant
        WHERE p.window_name = window_name
    ), wider AS (
        SELECT (r).measure AS measure,
               count(*) FILTER (WHERE in_c AND NOT in_o) AS nc,
               count(*) FILTER (WHERE in_o AND NOT in_c) AS nr,
               count(*) FILTER (WHERE NOT (in_c AND in_o)) AS na
        FROM w GROUP BY 1
    ), e AS (
        SELECT x.*, coalesce(d.nc, 0) AS nc, coalesce(d.nr, 0) AS nr, coalesce(d.na, 0) AS na
        FROM koers.window_evidence_of(ARRAY(SELECT r FROM w WHERE in_c AND in_o)) x
        LEFT JOIN wider d ON d.measure = x.measure
    ), h AS (
        SELECT e.*,
               c.suppress AND (e.n BETWEEN 1 AND k - 1 OR e.nc BETWEEN 1 AND k - 1
                               OR e.nr BETWEEN 1 AND k - 1 OR e.na BETWEEN 1 AND k - 1) AS hide_n,
               c.suppress AND e.n_before BETWEEN 1 AND k - 1 AS hide_b,
               c.suppress AND e.n_during BETWEEN 1 AND k - 1 AS hide_d,
               c.suppress AND (e.stats).n_nonzero BETWEEN 1 AND k - 1 AS hide_x,
               -- Those with full coverage, and those without it, are groups too.
               c.suppress AND (e.full_coverage BETWEEN 1 AND k - 1
                               OR e.n - e.full_coverage BETWEEN 1 AND k - 1) AS hide_f,
               coalesce((SELECT b.suppressed FROM unnest(bd) b WHERE b.chart = 'crisis.bd_rate'
                         AND b.series = e.measure AND b.category = 'before'), false) AS bd_b,
               coalesce((SELECT b.suppressed FROM unnest(bd) b WHERE b.chart = 'crisis.bd_rate'
                         AND b.series = e.measure AND b.category = 'during'), false) AS bd_d
        FROM e
    )
    SELECT coalesce(array_agg(ROW('evidence.stats', h.measure, v.figure,
                                  CASE WHEN v.hidden THEN NULL ELSE v.value END, v.hidden)::koers.dash_cell
                              ORDER BY h.measure, v.figure), '{}')
    INTO cells
    FROM h CROSS JOIN LATERAL (VALUES
        ('n', h.n::numeric, h.hide_n),
        ('pooled_before_rate', h.pooled_before_rate, h.hide_n OR h.hide_b OR h.bd_b),
        ('median_before_rate', h.median_before_rate, h.hide_n OR h.hide_b),
        ('q1_before_rate', h.q1_before_rate, h.hide_n OR h.hide_b),
        ('q3_before_rate', h.q3_before_rate, h.hide_n OR h.hide_b),
        ('pooled_during_rate', h.pooled_during_rate, h.hide_n OR h.hide_d OR h.bd_d),
        ('median_during_rate', h.median_during_rate, h.hide_n OR h.hide_d),
        ('q1_during_rate', h.q1_during_rate, h.hide_n OR h.hide_d),
        ('q3_during_rate', h.q3_during_rate, h.hide_n OR h.hide_d),
        ('median_difference', (h.stats).median_difference, h.hide_n OR h.hide_x),
        ('q1_difference', (h.stats).q1_difference, h.hide_n OR h.hide_x),
        ('q3_difference', (h.stats).q3_difference, h.hide_n OR h.hide_x),
        ('boot_lo', (h.stats).boot_lo, h.hide_n OR h.hide_x),
        ('boot_hi', (h.stats).boot_hi, h.hide_n OR h.hide_x),
        ('n_nonzero', (h.stats).n_nonzero::numeric, h.hide_n OR h.hide_x),
        ('w_plus', (h.stats).w_plus, h.hide_n OR h.hide_x),
        ('p_value', (h.stats).p_value, h.hide_n OR h.hide_x),
        ('p_exact', ((h.stats).p_method = 'exact')::integer::numeric, h.hide_n OR h.hide_x),
        ('full_coverage', h.full_coverage::numeric, h.hide_n OR h.hide_f)
    ) v(figure, value, hidden);
    RETURN cells;
END
$$;
ALTER FUNCTION koers.dash_evidence_cells(text, koers.dash_caller_row, text, text, date) SET jit = off;
COMMENT ON FUNCTION koers.dash_evidence_cells(text, koers.dash_caller_row, text, text, date) IS
    'Internal: the spread and evidence of one window (evidence.stats: per measure n, pooled, '
    'median and quartile rates before and during, the median difference with its quartiles '
    'and bootstrap 95% interval, the signed-rank W+ and p and whether p is exact) over the '
    'participants of a filter setting, suppressed for suppressed callers.';

-- As 0008, and the groups evidence.<window> (koers.dash_evidence_cells) and mkba.<window>
-- (koers.dash_mkba_cells, sql/defs/85_mkba_dash.sql) beside those of koers.dash_cells: one
-- cache and one filter check for all.
CREATE OR REPLACE FUNCTION koers.dash_group(grp text, c koers.dash_caller_row, p_cohort text, p_org text,
                                            as_of date, links text[], extra jsonb)
    RETURNS koers.dash_cell[]
    LANGUAGE plpgsql VOLATILE
    AS $$
DECLARE
    key   text := concat_ws('|', 'cells', grp, c.suppress, coalesce(c.organisation, '-'),
                            coalesce(p_cohort, '-'), coalesce(p_org, '-'), as_of);
    ver   text := koers.data_version();
    t0    timestamptz := clock_timestamp();
    e     koers.dash_cache := koers.dash_cache_get(key, ver);
    n     integer;
    cells koers.dash_cell[];
BEGIN
    IF e.cache_key IS NOT NULL THEN
        RETURN e.cells;
    END IF;
    c := ROW(NULL, NULL, c.organisation, c.suppress); -- what decides the answer, no user
    n := koers.dash_check_filter(c, p_cohort, p_org, as_of);
    IF grp LIKE 'evidence.%' THEN
        cells := koers.dash_evidence_cells(substr(grp, 10), c, p_cohort, p_org, as_of);
    ELSIF grp LIKE 'mkba.%' THEN
        cells := koers.dash_mkba_cells(substr(grp, 6), c, p_cohort, p_org, as_of);
    ELSE
        SELECT coalesce(array_agg(x ORDER BY x.chart, x.series, x.category), '{}') INTO cells
        FROM koers.dash_cells(grp, c, p_cohort, p_org, as_of, links, extra) x;
    END IF;
    PERFORM koers.dash_cache_put(key, ver, t0, n, cells, format(
        'SELECT koers.dash_group(%L, %L::koers.dash_caller_row, %L, %L, %L::date, %L::text[], %L::jsonb)',
        grp, c, p_cohort, p_org, as_of, links, extra));
    RETURN cells;
END
$$;
ALTER FUNCTION koers.dash_group(text, koers.dash_caller_row, text, text, date, text[], jsonb) SET jit = off;

CREATE OR REPLACE FUNCTION koers.dash_contrib_instruments(as_of date, own_org text)
    RETURNS SETOF koers.dash_contrib
    LANGUAGE sql STABLE
    AS $$
    WITH z AS (SELECT * FROM koers.zrm_participant(as_of)),
    domains AS (SELECT d::text AS domain FROM unnest(enum_range(NULL::koers.zrm_score_domain)) d),
    corners AS (SELECT unnest(ARRAY['participation', 'living_environment', 'continuity_of_support']) AS corner),
    st AS (SELECT * FROM koers.stressor_participant(as_of)),
    kinds AS (SELECT k::text AS kind FROM unnest(enum_range(NULL::koers.stressor_kind)) k),
    windows AS (SELECT unnest(ARRAY['before', 'per_protocol', 'intention_to_treat', 'follow_up']) AS w),
    hs AS (SELECT * FROM koers.status_window(as_of)),
    ev AS (SELECT * FROM koers.eviction_window(as_of)),
    pop AS (SELECT participant FROM koers.exposure(as_of))
    -- ZRM: the distribution of scores per domain at baseline and latest (parts of the
    -- participants scored in the domain), the direction of the change (parts of those scored
    -- twice or more), the mean per corner.
    SELECT 'instruments.zrm_' || x.at, ARRAY[x.score::text, 'scored'], ARRAY[z.domain],
           z.participant, NULL::text, 1::numeric, NULL::numeric, true
    FROM z CROSS JOIN LATERAL (VALUES ('baseline', z.baseline_score), ('latest', z.latest_score)) x(at, score)
    UNION ALL
    SELECT 'instruments.zrm_' || a, ARRAY[s::text, 'scored'], ARRAY[d.domain], NULL, NULL, 0, NULL, false
    FROM domains d, unnest(ARRAY['baseline', 'latest']) a, generate_series(1, 5) s
    UNION ALL
    SELECT 'instruments.zrm_direction', ARRAY[z.direction, 'paired'], ARRAY[z.domain],
           z.participant, NULL, 1, NULL, true
    FROM z WHERE z.direction IS NOT NULL
    UNION ALL
    SELECT 'instruments.zrm_direction', ARRAY[r, 'paired'], ARRAY[d.domain], NULL, NULL, 0, NULL, false
    FROM domains d, unnest(ARRAY['up', 'same', 'down']) r
    -- The share of the domains scored twice or more that moved up (per participant: those
    -- that did over those scored twice; the cell: sums over the participants).
    UNION ALL
    SELECT 'instruments.kpi', ARRAY['zrm_up_share'], ARRAY['all'], z.participant, NULL,
           count(*) FILTER (WHERE z.direction = 'up'), count(*), count(*) FILTER (WHERE z.direction = 'up') > 0
    FROM z WHERE z.direction IS NOT NULL GROUP BY z.participant
    UNION ALL
    -- Per participant and corner the mean over its domains scored; the cell is the mean over
    -- the participants (den 1 each).
    SELECT 'instruments.zrm_corner', ARRAY[x.m], ARRAY[c.stability_corner], c.participant, NULL,
           x.v, 1, true
    FROM (SELECT participant, stability_corner, avg(baseline_score) AS b, avg(latest_score) AS l,
                 avg(change) AS ch
          FROM z GROUP BY 1, 2) c
    CROSS JOIN LATERAL (VALUES ('baseline_mean', c.b), ('latest_mean', c.l), ('change_mean', c.ch)) x(m, v)
    WHERE x.v IS NOT NULL
    UNION ALL
    SELECT 'instruments.zrm_corner', ARRAY[m], ARRAY[corner], NULL, NULL, 0, NULL, false
    FROM corners, unnest(ARRAY['baseline_mean', 'latest_mean', 'change_mean']) m
    -- Stressors present at enrolment and now, by kind (parts of every stressor present); the
    -- mean number per participant enrolled; days to resolution.
    UNION ALL
    SELECT 'instruments.stressors', ARRAY[st.kind, 'all'], ARRAY[x.at], st.participant, NULL, 1, NULL, true
    FROM st CROSS JOIN LATERAL (VALUES ('at_enrolment', st.at_enrolment), ('now', st.now)) x(at, present)
    WHERE x.present
    UNION ALL
    SELECT 'instruments.stressors', ARRAY[k.kind, 'all'], ARRAY[a], NULL, NULL, 0, NULL, false
    FROM kinds k, unnest(ARRAY['at_enrolment', 'now']) a
    UNION ALL
    SELECT 'instruments.stressor_mean', ARRAY['mean_present'], ARRAY[x.at], p.participant, NULL,
           x.n, 1, true
    FROM pop p CROSS JOIN LATERAL (
        SELECT count(*) FILTER (WHERE s.at_enrolment)::numeric AS e,
               count(*) FILTER (WHERE s.now)::numeric AS n0
        FROM st s WHERE s.participant = p.participant) c
    CROSS JOIN LATERAL (VALUES ('at_enrolment', c.e), ('now', c.n0)) x(at, n)
    UNION ALL
    SELECT 'instruments.stressor_resolution', ARRAY[st.kind], ARRAY['mean_days'], st.participant,
           NULL, st.days_to_resolution, 1, true
    FROM st WHERE st.days_to_resolution IS NOT NULL
    UNION ALL
    SELECT 'instruments.stressor_resolution', ARRAY[st.kind], ARRAY['resolved'], st.participant,
           NULL, 1, NULL, true
    FROM st WHERE st.days_to_resolution IS NOT NULL
    UNION ALL
    SELECT 'instruments.stressor_resolution', ARRAY[k.kind], ARRAY[c], NULL, NULL, 0, NULL, false
    FROM kinds k, unnest(ARRAY['resolved']) c
    UNION ALL
    SELECT 'instruments.stressor_trend', ARRAY['mean_present'], ARRAY[to_char(m.month, 'YYYY-MM')],
           m.participant, NULL, m.present, 1, true
    FROM koers.stressor_month(as_of) m
    -- Housing: person-months in each state per window (parts of the known person-months).
    UNION ALL
    SELECT 'instruments.housing', ARRAY[hs.state, 'all'], ARRAY[hs.window_name], hs.participant,
           NULL, hs.days / koers.person_month_days(), NULL, hs.days > 0
    FROM hs WHERE hs.status = 'housing'
    UNION ALL
    SELECT 'instruments.housing', ARRAY[s, 'all'], ARRAY[w], NULL, NULL, 0, NULL, false
    FROM windows, unnest(ARRAY['homeless', 'shelter', 'supported_housing', 'with_others',
                               'independent', 'unknown']) s
    -- Days in paid or volunteer work per window, over the days with a known activity.
    UNION ALL
    SELECT 'instruments.work_days', ARRAY['paid_or_volunteer'], ARRAY[w.window_name], w.participant,
           NULL, sum(hs.days) FILTER (WHERE hs.state IN ('paid_work', 'volunteer_work')),
           sum(hs.days) FILTER (WHERE hs.state <> 'unknown'),
           coalesce(sum(hs.days) FILTER (WHERE hs.state IN ('paid_work', 'volunteer_work')), 0) > 0
    FROM (SELECT DISTINCT participant, window_name FROM hs) w
    JOIN hs ON hs.participant = w.participant AND hs.window_name = w.window_name
           AND hs.status = 'daytime_activity'
    GROUP BY w.participant, w.window_name
    HAVING sum(hs.days) FILTER (WHERE hs.state <> 'unknown') > 0
    -- Evictions and notices per window: counts, and rates per known person-month.
    UNION ALL
    SELECT 'instruments.eviction_count', ARRAY[x.e], ARRAY[ev.window_name], ev.participant, NULL,
           x.n, NULL, x.n > 0
    FROM ev CROSS JOIN LATERAL (VALUES ('evicted', ev.evictions), ('notice', ev.notices)) x(e, n)
    WHERE x.n > 0
    UNION ALL
    SELECT 'instruments.eviction_count', ARRAY[e], ARRAY[w], NULL, NULL, 0, NULL, false
    FROM windows, unnest(ARRAY['evicted', 'notice']) e
    UNION ALL
    SELECT 'instruments.eviction_rate', ARRAY[x.e], ARRAY[ev.window_name], ev.participant, NULL,
           x.n, ev.days / koers.person_month_days(), x.n > 0
    FROM ev CROSS JOIN LATERAL (VALUES ('evicted', ev.evictions), ('notice', ev.notices)) x(e, n)
    WHERE ev.days > 0
    -- The stability model: per corner and month the share stable, over the participants
    -- whose state is known.
    UNION ALL
    SELECT 'instruments.stability', ARRAY[b.corner], ARRAY[to_char(b.month, 'YYYY-MM')], b.participant,
           NULL, (b.state = 'stable')::integer, 1, b.state = 'stable'
    FROM koers.stability_month(as_of) b WHERE b.state <> 'unknown'
    -- Continuity: organisations, roles and contacts per enrolled participant per quarter;
    -- the longest gap and the share with a long one; crises and police calls followed by a
    -- contact within 3 days.
    UNION ALL
    SELECT 'instruments.continuity', ARRAY[x.m],
           ARRAY[to_char(q.quarter, 'YYYY') || '-Q' || to_char(q.quarter, 'Q')], q.participant, NULL,
           x.v, 1, true
    FROM koers.continuity_quarter(as_of) q
    CROSS JOIN LATERAL (VALUES ('organisations', q.organisations), ('roles', q.roles),
                               ('contacts', q.contacts)) x(m, v)
    UNION ALL
    SELECT 'instruments.gaps', ARRAY[x.m], ARRAY['all'], g.participant, NULL, x.v, 1, x.c
    FROM koers.contact_gaps(as_of) g
    CROSS JOIN LATERAL (VALUES ('longest_gap_days', g.longest_gap::numeric, true),
                               ('long_gap_share', (g.long_gaps > 0)::integer::numeric, g.long_gaps > 0)) x(m, v, c)
    WHERE g.enrolled_days > 0
    UNION ALL
    SELECT 'instruments.followup', ARRAY[f.event_type], ARRAY['within_3_days'], f.participant, NULL,
           sum(f.events) FILTER (WHERE f.followed), sum(f.events), bool_or(f.followed)
    FROM koers.crisis_followup(as_of) f GROUP BY f.event_type, f.participant
    -- The share in paid or volunteer work per month, over the participants enrolled at the
    -- month's end with a known daytime activity.
    UNION ALL
    SELECT 'instruments.work_share', ARRAY['paid_or_volunteer'], ARRAY[to_char(w.month, 'YYYY-MM')],
           w.participant, NULL, (w.daytime_activity IN ('paid_work', 'volunteer_work'))::integer, 1,
           w.daytime_activity IN ('paid_work', 'volunteer_work')
    FROM koers.work_month(as_of) w WHERE w.daytime_activity IS NOT NULL
    $$;
-- As for the other groups: JIT would spend seconds (1.9 of 2.6 s for 30 participants) to
-- save milliseconds on these set-returning queries.
ALTER FUNCTION koers.dash_contrib_instruments(date, text) SET jit = off;
COMMENT ON FUNCTION koers.dash_contrib_instruments(date, text) IS
    'Internal: the contributions of the instruments page: kpi zrm_up_share (of the domains '
    'scored twice or more, the share that moved up), zrm_baseline/zrm_latest (score per '
    'domain, parts of scored), zrm_direction (up/same/down per domain, parts of paired: scored '
    'twice or more), zrm_corner (mean baseline, latest and change per stability corner), '
    'stressors (kind at_enrolment/now, parts of all), stressor_mean (stressors per enrolled '
    'participant), stressor_resolution (mean days to resolution, resolved count per kind), '
    'stressor_trend (mean stressors present per month), housing (person-months per state and '
    'window, known days only), work_days (share of known days in paid or volunteer work per '
    'window), eviction_count and eviction_rate (per known person-month, per window), '
    'work_share (per month, over those enrolled with a known daytime activity), continuity '
    '(organisations, roles, contacts per enrolled participant per quarter), gaps (mean longest '
    'gap in days, share with a gap over continuity_gap_weeks), followup (crisis, police_call: '
    'share of events followed by a contact within 3 days), stability (per corner and month the '
    'share stable of those whose state is known, koers.stability_month).';
