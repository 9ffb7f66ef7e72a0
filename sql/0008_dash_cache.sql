-- koers dashboard cache: what the dashboards' functions compute is kept per filter setting
-- and version of the data, so that a page is read instead of recomputed from every
-- participant's contributions (minutes at ten million events; see BENCHMARKS.md).
--
-- The data changes only through the consumer's batches (which advance koers.consumer_offset
-- in the same transaction), the settings and the unit costs; koers.data_version() digests
-- exactly those. Anything else that rewrites the prepared tables calls
-- koers.dash_cache_clear(). A cached answer is served while the data version is unchanged,
-- or, while batches keep arriving (settings and unit costs unchanged), for at most
-- koers.setting dash_cache_max_stale seconds (default 300; 0 = never stale); koers-dash
-- recomputes the stale answers in the background (dash.cache_refresh), so a reader seldom
-- waits for a computation.
-- koers.setting dash_cache = off turns the cache off (every request computes).

CREATE FUNCTION koers.data_version() RETURNS text
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
               (SELECT string_agg(m::text, ',' ORDER BY m.event_type, m.kind) FROM koers.unit_cost_map m)))
    $$;
COMMENT ON FUNCTION koers.data_version() IS
    'Digests of what the measures depend on: every consumer offset (which moves with each '
    'batch of events), then, after a colon, the settings (but the cache''s own), the unit '
    'costs and their mapping.';

-- Each entry is one computation: its key names the function and every argument that
-- decides the answer (the caller's suppression and organisation included), never a user.
CREATE TABLE koers.dash_cache (
    cache_key    text PRIMARY KEY,
    data_version text NOT NULL,
    computed_at  timestamptz NOT NULL,
    compute_ms   numeric NOT NULL,
    last_hit_at  timestamptz NOT NULL,
    lanes        integer,
    cells        koers.dash_cell[],
    refresh      text
);
COMMENT ON TABLE koers.dash_cache IS
    'Internal: dashboard answers per key (function and arguments) and data version; see '
    'sql/0008_dash_cache.sql. Holds only what the callers of that key may see.';
COMMENT ON COLUMN koers.dash_cache.computed_at IS 'When the computation started: the data is as of then.';
COMMENT ON COLUMN koers.dash_cache.lanes IS 'The participants the filter setting leaves.';
COMMENT ON COLUMN koers.dash_cache.cells IS 'The cells (suppressed ones without value), or NULL for a lane list.';
COMMENT ON COLUMN koers.dash_cache.refresh IS 'The statement that recomputes this entry (for koers.dash_cache_refresh).';
CREATE INDEX ON koers.dash_cache (last_hit_at);

-- The lanes of the timeline and the rows of the participants export, per key of dash_cache.
CREATE TYPE koers.dash_lane_measures AS (
    person_months_before numeric, person_months_during numeric, crisis_before integer,
    crisis_during integer, crisis_days_before integer, crisis_days_during integer,
    police_before integer, police_during integer, confused_before integer,
    confused_during integer, goals integer, goals_achieved integer, goals_revised integer,
    goals_abandoned integer, t_score numeric, contacts_per_week numeric,
    cost_before_per_pm numeric, cost_during_per_pm numeric, support_cost_during numeric
);
COMMENT ON TYPE koers.dash_lane_measures IS 'Internal: a participant''s measures, as dash.participants returns them.';
CREATE TABLE koers.dash_cache_lane (
    cache_key      text NOT NULL REFERENCES koers.dash_cache ON DELETE CASCADE,
    lane           integer NOT NULL,
    participant    text NOT NULL,
    cohort         text,
    first_enrolled date NOT NULL,
    measures       koers.dash_lane_measures,
    PRIMARY KEY (cache_key, lane)
);
COMMENT ON TABLE koers.dash_cache_lane IS
    'Internal: the lanes (participants in first-enrolled order) of a cached filter setting, '
    'with their measures when the entry is a participants export.';

CREATE FUNCTION koers.dash_cache_on() RETURNS boolean
    LANGUAGE sql STABLE
    AS $$ SELECT coalesce((SELECT value FROM koers.setting WHERE name = 'dash_cache'), 'on') <> 'off' $$;

-- The entry of a key if it may be served: the same data version, or only newer events and
-- not older than the allowed staleness (a changed setting, such as k of the suppression,
-- or a changed unit cost is never served stale). Marks the hit (at most once a minute, to
-- keep reads cheap).
CREATE FUNCTION koers.dash_cache_get(key text, ver text) RETURNS koers.dash_cache
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
CREATE FUNCTION koers.dash_cache_put(key text, ver text, started timestamptz, n_lanes integer,
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

CREATE FUNCTION koers.dash_cache_clear() RETURNS void
    LANGUAGE sql VOLATILE
    AS $$ DELETE FROM koers.dash_cache $$;
COMMENT ON FUNCTION koers.dash_cache_clear() IS
    'Forgets every cached dashboard answer: for whatever changes the prepared tables other than '
    'the consumer, the settings and the unit costs.';

-- The cells of a group for a filter setting, from the cache or computed (with the filter
-- check, which refuses a setting before anything is computed or stored).
CREATE FUNCTION koers.dash_group(grp text, c koers.dash_caller_row, p_cohort text, p_org text,
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
    SELECT coalesce(array_agg(x ORDER BY x.chart, x.series, x.category), '{}') INTO cells
    FROM koers.dash_cells(grp, c, p_cohort, p_org, as_of, links, extra) x;
    PERFORM koers.dash_cache_put(key, ver, t0, n, cells, format(
        'SELECT koers.dash_group(%L, %L::koers.dash_caller_row, %L, %L, %L::date, %L::text[], %L::jsonb)',
        grp, c, p_cohort, p_org, as_of, links, extra));
    RETURN cells;
END
$$;
ALTER FUNCTION koers.dash_group(text, koers.dash_caller_row, text, text, date, text[], jsonb) SET jit = off;

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
-- events not voided of the period; suppressed under k participants (no relations).
CREATE FUNCTION koers.dash_lateness(c koers.dash_caller_row, p_cohort text, p_org text,
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
    WITH l AS (
        SELECT l.source, l.participant, l.lateness_min, l.events
        FROM koers.event_lateness l LEFT JOIN koers.participant p ON p.participant = l.participant
        WHERE NOT l.voided AND l.month <= as_of
          AND (p_cohort IS NULL OR p.cohort = p_cohort)
          AND (p_org IS NULL OR l.source = p_org)
          AND (period_from IS NULL OR l.month >= date_trunc('month', period_from))
          AND (period_to IS NULL OR l.month <= period_to)
    ), cum AS (
        SELECT source, lateness_min,
               sum(events) OVER (PARTITION BY source ORDER BY lateness_min) AS upto,
               sum(events) OVER (PARTITION BY source) AS total
        FROM l
    ), s AS (
        SELECT source, min(lateness_min) FILTER (WHERE upto >= 0.5 * total) AS p50,
               min(lateness_min) FILTER (WHERE upto >= 0.9 * total) AS p90,
               max(lateness_min) AS pmax
        FROM cum GROUP BY source
    ), n AS (SELECT source, count(DISTINCT participant) AS n FROM l GROUP BY source)
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

CREATE OR REPLACE FUNCTION dash.quality(cohort text, organisation text, period_from date, period_to date)
    RETURNS SETOF koers.dash_cell
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$
#variable_conflict use_variable
DECLARE
    c     koers.dash_caller_row := koers.dash_require(ARRAY['evaluator', 'funder', 'partner', 'admin']);
    as_of date := koers.dash_as_of(c, period_to);
BEGIN
    RETURN QUERY
        SELECT * FROM koers.dash_page(ARRAY['quality'], 'quality', c, cohort, organisation, period_from,
                                      period_to, NULL, NULL);
    RETURN QUERY
        SELECT x.* FROM unnest(koers.dash_lateness(c, cohort, organisation, period_from, period_to,
                                                   as_of)) x;
    -- Messages the consumer rejected: no participant is known, so nothing to suppress.
    RETURN QUERY
        SELECT 'quality.rejected', r.reason, to_char(r.month, 'YYYY-MM'), sum(r.messages)::numeric, false
        FROM koers.data_quality_rejected r
        WHERE koers.dash_in_period(to_char(r.month, 'YYYY-MM'), period_from, period_to)
        GROUP BY r.reason, r.month ORDER BY 2, 3;
END
$$;

-- The lanes of a filter setting (evaluators only), from the cache or computed; the
-- participants export also keeps each lane's measures. Returns the cache key.
CREATE FUNCTION koers.dash_lanes_cached(p_cohort text, p_org text, as_of date, with_measures boolean)
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
CREATE FUNCTION koers.dash_lanes_read(key text, lane_offset integer, lane_limit integer)
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

CREATE OR REPLACE FUNCTION dash.timeline(cohort text, organisation text, period_from date, period_to date,
                                         lane_offset integer, lane_limit integer, purpose text)
    RETURNS TABLE (lane integer, participant text, cohort_name text, item text, detail text,
                   start_day date, end_day date, events integer, days integer)
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$
#variable_conflict use_variable
DECLARE
    c      koers.dash_caller_row := koers.dash_require(ARRAY['evaluator']);
    as_of  date := koers.dash_as_of(c, period_to);
    action text := koers.dash_audit_action(purpose);
    lo     date := coalesce(date_trunc('month', period_from)::date, '-infinity');
    hi     date := least(as_of, coalesce(period_to + interval '1 month' - interval '1 day', as_of)::date);
    shown  integer;
    key    text;
BEGIN
    IF lane_offset IS NULL OR lane_offset < 0 OR lane_limit IS NULL OR lane_limit NOT BETWEEN 1 AND 500 THEN
        RAISE EXCEPTION 'lane_offset must be >= 0 and lane_limit 1..500' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    key := koers.dash_lanes_cached(cohort, organisation, as_of, false);
    CREATE TEMP TABLE IF NOT EXISTS dash_timeline_lanes (lane integer, participant text, cohort text,
                                                        first_enrolled date) ON COMMIT DROP;
    TRUNCATE dash_timeline_lanes;
    INSERT INTO dash_timeline_lanes
        SELECT l.lane, l.participant, l.cohort, l.first_enrolled
        FROM koers.dash_lanes_read(key, lane_offset, lane_limit) l;
    GET DIAGNOSTICS shown = ROW_COUNT;
    PERFORM koers.dash_audit_write(c, action, 'timeline', jsonb_build_object(
        'cohort', cohort, 'organisation', organisation, 'period_from', period_from,
        'period_to', period_to, 'lane_offset', lane_offset, 'participants', shown));
    RETURN QUERY
        -- Enrolled spans (end_day exclusive; an open span runs to the as-of date).
        SELECT l.lane, l.participant, l.cohort, 'enrolled'::text, s.started_by::text || '-' || coalesce(s.ended_by::text, 'open'),
               greatest(s.start_day, lo), least(coalesce(s.end_day, as_of + 1), hi + 1), NULL::integer, NULL::integer
        FROM dash_timeline_lanes l JOIN koers.enrolment_span s ON s.participant = l.participant
        WHERE s.start_day <= hi AND coalesce(s.end_day, as_of + 1) > lo
        UNION ALL
        -- Goal changes (set, achieved, revised, abandoned, reopened, progress, setback).
        SELECT l.lane, l.participant, l.cohort, 'goal_' || h.change::text, h.domain::text || ':' || h.goal_ref,
               koers.local_day(h.valid_from), NULL, 1, NULL
        FROM dash_timeline_lanes l JOIN koers.goal_history h ON h.participant = l.participant
        WHERE koers.local_day(h.valid_from) BETWEEN lo AND hi
        UNION ALL
        -- Contacts per week (Monday), crises and police calls per day.
        SELECT l.lane, l.participant, l.cohort, 'contact', NULL, date_trunc('week', d.day)::date, NULL,
               sum(d.events)::integer, sum(d.minutes)::integer
        FROM dash_timeline_lanes l JOIN koers.daily_use d ON d.participant = l.participant
        WHERE d.event_type = 'contact' AND d.day BETWEEN lo AND hi
          AND (organisation IS NULL OR d.source = organisation)
        GROUP BY 1, 2, 3, 6
        UNION ALL
        SELECT l.lane, l.participant, l.cohort, d.event_type, d.kind,
               CASE WHEN d.event_type = 'crisis' AND d.days > 0 THEN d.day - d.days ELSE d.day END, d.day,
               d.events, d.days
        FROM dash_timeline_lanes l JOIN koers.daily_use d ON d.participant = l.participant
        WHERE d.event_type IN ('crisis', 'police_call') AND d.day BETWEEN lo AND hi
          AND (organisation IS NULL OR d.source = organisation)
        ORDER BY 1, 6, 4, 5, 7; -- items of a day in a fixed order, whatever the plan
END
$$;

-- At most 500 lanes: a join per lane through the participant indexes, whatever the
-- planner guesses for a temporary table without statistics (a hash join reads all of
-- daily_use, a second at ten million events), and no JIT compilation (a tenth of a
-- second to save less).
ALTER FUNCTION dash.timeline(text, text, date, date, integer, integer, text)
    SET enable_hashjoin = off SET enable_mergejoin = off SET jit = off;

CREATE OR REPLACE FUNCTION dash.timeline_lanes(cohort text, organisation text, period_to date)
    RETURNS integer
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    c   koers.dash_caller_row := koers.dash_require(ARRAY['evaluator']);
    key text := koers.dash_lanes_cached(cohort, organisation, koers.dash_as_of(c, period_to), false);
BEGIN
    IF key IS NULL THEN
        RETURN (SELECT count(*) FROM dash_lanes_new);
    END IF;
    RETURN (SELECT d.lanes FROM koers.dash_cache d WHERE d.cache_key = key);
END
$$;

CREATE OR REPLACE FUNCTION dash.participants(cohort text, organisation text, period_to date, purpose text)
    RETURNS TABLE (participant text, cohort_name text, first_enrolled date,
                   person_months_before numeric, person_months_during numeric,
                   crisis_before integer, crisis_during integer, crisis_days_before integer,
                   crisis_days_during integer, police_before integer, police_during integer,
                   confused_before integer, confused_during integer, goals integer,
                   goals_achieved integer, goals_revised integer, goals_abandoned integer,
                   t_score numeric, contacts_per_week numeric, cost_before_per_pm numeric,
                   cost_during_per_pm numeric, support_cost_during numeric)
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$
#variable_conflict use_variable
DECLARE
    c      koers.dash_caller_row := koers.dash_require(ARRAY['evaluator']);
    as_of  date := koers.dash_as_of(c, period_to);
    action text := koers.dash_audit_action(purpose);
    key    text;
BEGIN
    PERFORM koers.dash_audit_write(c, action, 'participants', jsonb_build_object(
        'cohort', cohort, 'organisation', organisation, 'period_to', period_to));
    key := koers.dash_lanes_cached(cohort, organisation, as_of, true);
    RETURN QUERY
        SELECT l.participant, l.cohort, l.first_enrolled, (l.measures).person_months_before,
               (l.measures).person_months_during, (l.measures).crisis_before, (l.measures).crisis_during,
               (l.measures).crisis_days_before, (l.measures).crisis_days_during, (l.measures).police_before,
               (l.measures).police_during, (l.measures).confused_before, (l.measures).confused_during, (l.measures).goals,
               (l.measures).goals_achieved, (l.measures).goals_revised, (l.measures).goals_abandoned, (l.measures).t_score,
               (l.measures).contacts_per_week, (l.measures).cost_before_per_pm, (l.measures).cost_during_per_pm,
               (l.measures).support_cost_during
        FROM koers.dash_lanes_read(key, 0, 2147483647) l
        ORDER BY l.lane;
END
$$;

-- The organisations are the sources of stored events: koers.event_count_month holds each of
-- them in a few hundred rows, where event_lateness has one row per event.
CREATE OR REPLACE FUNCTION dash.filters()
    RETURNS TABLE (name text, value text)
    LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    c koers.dash_caller_row := koers.dash_require(ARRAY['evaluator', 'funder', 'partner', 'admin']);
BEGIN
    RETURN QUERY
        SELECT 'cohort', x FROM (SELECT DISTINCT p.cohort AS x FROM koers.participant p
                                 WHERE p.cohort IS NOT NULL ORDER BY 1) a
        UNION ALL
        SELECT 'organisation', x FROM (SELECT DISTINCT m.source AS x FROM koers.event_count_month m
                                       ORDER BY 1) b
        UNION ALL
        SELECT 'first_month', to_char(min(p.first_enrolled), 'YYYY-MM') FROM koers.participant p
        UNION ALL
        SELECT 'last_month', to_char(koers.dash_as_of(c, NULL), 'YYYY-MM');
END
$$;

-- Recomputes the stale entry (data version out of date) asked for most recently in the last
-- day, and returns its key; NULL when none is stale. koers-dash calls it in the background,
-- once per entry, each in a transaction of its own: an entry is locked only while it is
-- recomputed, and one that another session recomputes is skipped.
CREATE FUNCTION dash.cache_refresh(OUT cache_key text, OUT error text)
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    ver text := koers.data_version();
    r   record;
BEGIN
    SELECT d.cache_key, d.refresh INTO r FROM koers.dash_cache d
    WHERE d.data_version <> ver AND d.refresh IS NOT NULL AND d.last_hit_at > now() - interval '1 day'
    ORDER BY d.last_hit_at DESC LIMIT 1 FOR UPDATE SKIP LOCKED;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    cache_key := r.cache_key;
    -- Forget the entry first so that the statement computes instead of reading it; readers
    -- see the old answer until this transaction commits.
    DELETE FROM koers.dash_cache d WHERE d.cache_key = r.cache_key;
    BEGIN
        EXECUTE r.refresh;
    EXCEPTION WHEN OTHERS THEN
        -- E.g. a filter setting that is no longer allowed (KS001): the entry stays forgotten,
        -- and a request for it gets the error itself.
        error := SQLERRM;
    END;
END
$$;
COMMENT ON FUNCTION dash.cache_refresh() IS
    'koers-dash, in the background: recomputes the most recently asked-for cached dashboard '
    'answer whose data has changed; returns its key (NULL: none is stale) and the error that '
    'made it be forgotten instead, if any.';

-- Ownership and grants, as in 0003: the dashboards' functions run as koers_reader, which
-- keeps the cache; koers_dash may only trigger the refresh.
GRANT SELECT, INSERT, UPDATE, DELETE ON koers.dash_cache, koers.dash_cache_lane TO koers_reader;
REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA koers FROM PUBLIC;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA koers TO koers_reader, koers_auth;
REVOKE EXECUTE ON FUNCTION dash.cache_refresh() FROM PUBLIC;
ALTER FUNCTION dash.cache_refresh() OWNER TO koers_reader;
GRANT EXECUTE ON FUNCTION dash.cache_refresh() TO koers_dash;
