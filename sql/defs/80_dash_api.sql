-- koers definitions, schema dash: the only functions koers-dash and Grafana call, one per
-- page or export (SECURITY DEFINER; rights in 90_grants.sql).

CREATE OR REPLACE FUNCTION dash.overview(cohort text, organisation text, period_from date, period_to date)
    RETURNS SETOF koers.dash_cell
    LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    c koers.dash_caller_row := koers.dash_require(ARRAY['evaluator', 'funder', 'partner', 'admin']);
BEGIN
    RETURN QUERY SELECT * FROM koers.dash_page(ARRAY['overview'], 'overview', c, cohort, organisation,
        period_from, period_to, ARRAY['overview.goals=overview.goals_set_by'], NULL);
END
$$;
COMMENT ON FUNCTION dash.overview(text, text, date, date) IS
    'Overview page: overview.enrolment (new per month, all = participants), overview.active '
    '(participants enrolled in the month), overview.kpi (enrolled_now; self_set_achieved_share '
    'of the enrolled participants; mean_t_score, mean_baseline_t_score, mean_t_score_change; '
    'gas_abandoned_included 1 or 0), overview.goals (status x domain, corner, all; set = every '
    'goal), overview.goals_set_by.';

CREATE OR REPLACE FUNCTION dash.crisis(cohort text, organisation text, period_from date, period_to date)
    RETURNS SETOF koers.dash_cell
    LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    c koers.dash_caller_row := koers.dash_require(ARRAY['evaluator', 'funder', 'partner', 'admin']);
BEGIN
    RETURN QUERY SELECT * FROM koers.dash_page(ARRAY['crisis'], 'outcomes', c, cohort, organisation,
        period_from, period_to, koers.dash_outcomes_links(), koers.dash_outcomes_extra());
END
$$;

COMMENT ON FUNCTION dash.crisis(text, text, date, date) IS
    'Crisis and police page, before (12 months before the first enrolled day) versus during '
    '(enrolled days): crisis.bd_count, crisis.bd_rate (per person-month; series as '
    'koers.window_measure_names(): acute_events, acute_days, alternative_events, '
    'alternative_days, police_use_calls, confused_person_calls, police_victim_calls), '
    'crisis.person_months, crisis.kind (parts of acute_events or alternative_events), '
    'crisis.police_kind (parts of police_use_calls or police_victim_calls), '
    'crisis.police_caller and crisis.police_outcome (of police_use_calls), and crisis.trend '
    '(acute_events and police_use_calls per month relative to the first enrolled day). Stays '
    'count on the days they cover, open ones up to the as-of date.';

CREATE OR REPLACE FUNCTION dash.support(cohort text, organisation text, period_from date, period_to date)
    RETURNS SETOF koers.dash_cell
    LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    c koers.dash_caller_row := koers.dash_require(ARRAY['evaluator', 'funder', 'partner', 'admin']);
BEGIN
    RETURN QUERY SELECT * FROM koers.dash_page(ARRAY['support'], 'outcomes', c, cohort, organisation,
        period_from, period_to, koers.dash_outcomes_links(), koers.dash_outcomes_extra());
END
$$;
COMMENT ON FUNCTION dash.support(text, text, date, date) IS
    'Support intensity page (enrolled time): support.kpi, support.role, support.mode, '
    'support.initiated, support.month (contacts per participant-week), and for partners '
    'support.own_mode (their own organisation''s contacts per month and mode).';

CREATE OR REPLACE FUNCTION dash.cost(cohort text, organisation text, period_from date, period_to date)
    RETURNS SETOF koers.dash_cell
    LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    c koers.dash_caller_row := koers.dash_require(ARRAY['evaluator', 'funder', 'partner', 'admin']);
BEGIN
    -- The results are computed from the cells shown, so they disclose nothing more.
    RETURN QUERY
    WITH x AS (
        SELECT * FROM koers.dash_page(ARRAY['cost', 'crisis.person_months'], 'outcomes', c,
            cohort, organisation, period_from, period_to, koers.dash_outcomes_links(),
            koers.dash_outcomes_extra())
    ), v AS (
        SELECT (SELECT value FROM x WHERE chart = 'cost.per_pm' AND series = 'crisis_police' AND category = 'before') AS b,
               (SELECT value FROM x WHERE chart = 'cost.per_pm' AND series = 'crisis_police' AND category = 'during') AS d,
               (SELECT value FROM x WHERE chart = 'crisis.person_months' AND category = 'during') AS pmd,
               (SELECT value FROM x WHERE chart = 'cost.total' AND series = 'support' AND category = 'during') AS s
    ), r AS (
        SELECT round(b - d, 2) AS dpm, round((b - d) * pmd, 2) AS dtot,
               round((b - d) * pmd - s, 2) AS net
        FROM v
    )
    SELECT x.chart, x.series, x.category, x.value, x.suppressed FROM x
    UNION ALL
    SELECT 'cost.result', y.s, 'all', y.val, y.val IS NULL
    FROM r CROSS JOIN LATERAL (VALUES ('difference_per_pm', r.dpm), ('difference_total', r.dtot),
                                      ('net_benefit_total', r.net)) y(s, val);
END
$$;
COMMENT ON FUNCTION dash.cost(text, text, date, date) IS
    'Social cost-benefit page (EUR, current unit costs): cost.total and cost.per_pm (acute and '
    'alternative, parts of crisis; crisis and police, parts of crisis_police; support; before '
    'and during), crisis.person_months, and cost.result (difference_per_pm = before - during '
    'per person-month, difference_total = that x person-months during, net_benefit_total = '
    'difference_total - support cost during). Victim calls are never priced.';

CREATE OR REPLACE FUNCTION dash.unit_costs()
    RETURNS TABLE (item text, amount_eur numeric, per text, price_year integer, source text,
                   prices text)
    LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    PERFORM koers.dash_require(ARRAY['evaluator', 'funder', 'partner', 'admin']);
    RETURN QUERY
        SELECT u.item, u.amount_eur, u.per, u.price_year, u.source,
               string_agg(m.event_type || ':' || m.kind, ', ' ORDER BY m.event_type, m.kind)
        FROM koers.unit_cost u LEFT JOIN koers.unit_cost_map m ON m.item = u.item
        GROUP BY u.item, u.amount_eur, u.per, u.price_year, u.source
        ORDER BY u.item;
END
$$;
COMMENT ON FUNCTION dash.unit_costs() IS
    'The unit costs in use with year and source, and the event kinds each prices (event_type:kind).';

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
COMMENT ON FUNCTION dash.quality(text, text, date, date) IS
    'Data quality page: quality.events (stored events per source and month), quality.types '
    '(per source and event type), quality.lateness (p50, p90, max hours per source) and '
    'quality.rejected (messages per reason and month).';

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
COMMENT ON FUNCTION dash.timeline(text, text, date, date, integer, integer, text) IS
    'Evaluators: one lane per participant (lane_offset, lane_limit in first-enrolled order) with '
    'items enrolled (spans), goal_<change>, contact (per week: events, minutes), crisis (start_day '
    '= discharge - days) and police_call. Audited: purpose page or export.';

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
COMMENT ON FUNCTION dash.timeline_lanes(text, text, date) IS 'Evaluators: the number of lanes of dash.timeline.';

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
COMMENT ON FUNCTION dash.participants(text, text, date, text) IS
    'Evaluators: the measures per participant (for R or SPSS). Audited: purpose page or export.';

-- Recomputes the stale entry (data version out of date) asked for most recently in the last
-- day, and returns its key; NULL when none is stale. koers-dash calls it in the background,
-- once per entry, each in a transaction of its own: an entry is locked only while it is
-- recomputed, and one that another session recomputes is skipped.
CREATE OR REPLACE FUNCTION dash.cache_refresh(OUT cache_key text, OUT error text)
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

CREATE OR REPLACE FUNCTION dash.filters()
    RETURNS TABLE (name text, value text)
    LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    c     koers.dash_caller_row := koers.dash_require(ARRAY['evaluator', 'funder', 'partner', 'admin']);
    as_of date := koers.dash_as_of(c, NULL);
BEGIN
    RETURN QUERY
        SELECT 'cohort', x FROM (SELECT DISTINCT p.cohort AS x FROM koers.participant p
                                 WHERE p.cohort IS NOT NULL ORDER BY 1) a
        WHERE koers.dash_filter_offered(c, x, NULL, as_of)
        UNION ALL
        SELECT 'organisation', x FROM (SELECT DISTINCT m.source AS x FROM koers.event_count_month m
                                       ORDER BY 1) b
        WHERE koers.dash_filter_offered(c, NULL, x, as_of)
        UNION ALL
        SELECT 'first_month', to_char(min(p.first_enrolled), 'YYYY-MM') FROM koers.participant p
        UNION ALL
        SELECT 'last_month', to_char(as_of, 'YYYY-MM');
END
$$;
COMMENT ON FUNCTION dash.filters() IS
    'Choices for the filters: cohorts, organisations (sources), first and last month; for '
    'callers with small cells hidden, only the cohorts and organisations their filter check accepts.';

CREATE OR REPLACE FUNCTION dash.instruments(cohort text, organisation text, period_from date,
                                            period_to date)
    RETURNS SETOF koers.dash_cell
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    c koers.dash_caller_row := koers.dash_require(ARRAY['evaluator', 'funder', 'partner', 'admin']);
BEGIN
    RETURN QUERY SELECT * FROM koers.dash_page(ARRAY['instruments'], 'instruments', c, cohort,
        organisation, period_from, period_to, NULL, NULL);
END
$$;
COMMENT ON FUNCTION dash.instruments(text, text, date, date) IS
    'Self-sufficiency, stressors and statuses (koers.dash_contrib_instruments): ZRM per domain '
    'at baseline and latest, its direction and the corners; stressors at enrolment and now, '
    'their resolution and trend; person-months per housing state, work and evictions per '
    'window; the share in paid or volunteer work per month. Suppressed for funders and partners.';

CREATE OR REPLACE FUNCTION dash.evidence(cohort text, organisation text, period_from date, period_to date,
                              window_name text)
    RETURNS SETOF koers.dash_cell
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    c koers.dash_caller_row := koers.dash_require(ARRAY['evaluator', 'funder', 'partner', 'admin']);
BEGIN
    RETURN QUERY SELECT * FROM koers.dash_page(ARRAY['evidence'],
        'evidence.' || koers.dash_window_check(window_name), c, cohort, organisation, period_from,
        period_to, NULL, NULL);
END
$$;
COMMENT ON FUNCTION dash.evidence(text, text, date, date, text) IS
    'Change per participant on the crisis page, for a window (per_protocol, intention_to_treat, '
    'follow_up) against the 12 months before: evidence.stats, per measure of '
    'koers.window_measure_names(): n (participants with days in both), pooled_before_rate, '
    'median/q1/q3_before_rate, the same during, median/q1/q3_difference (during - before), '
    'boot_lo/boot_hi (bootstrap 95% interval of the median difference), n_nonzero, w_plus, '
    'p_value (Wilcoxon signed-rank, two-sided), p_exact (1: exact, 0: normal approximation). '
    'The organisation filter chooses the participants (those with a registration of it); '
    'their events of every organisation count. Suppressed for funders and partners.';

-- Per participant, their rates before and in the window: the slope chart, for evaluators
-- only; every call is audited like the other micro-data.
CREATE OR REPLACE FUNCTION dash.paired(cohort text, organisation text, period_to date, window_name text,
                            purpose text)
    RETURNS TABLE (participant text, cohort_name text, measure text, before_rate numeric,
                   during_rate numeric, difference numeric)
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$
#variable_conflict use_variable
DECLARE
    c      koers.dash_caller_row := koers.dash_require(ARRAY['evaluator']);
    as_of  date := koers.dash_as_of(c, period_to);
    action text := koers.dash_audit_action(purpose);
    win    text := koers.dash_window_check(window_name);
    shown  integer;
BEGIN
    PERFORM koers.dash_check_filter(c, cohort, organisation, as_of);
    CREATE TEMP TABLE IF NOT EXISTS dash_paired_rows (participant text, cohort_name text,
        measure text, before_rate numeric, during_rate numeric, difference numeric, ord integer)
        ON COMMIT DROP;
    TRUNCATE dash_paired_rows;
    INSERT INTO dash_paired_rows
        SELECT p.participant, p.cohort, p.measure, p.before_rate, p.during_rate, p.difference,
               array_position(koers.window_measure_names(), p.measure)
        FROM koers.window_paired(as_of) p
        JOIN koers.dash_filter_flags(cohort, organisation, as_of) f ON f.participant = p.participant
        WHERE p.window_name = win AND f.in_c AND f.in_o;
    SELECT count(DISTINCT d.participant) INTO shown FROM dash_paired_rows d;
    PERFORM koers.dash_audit_write(c, action, 'paired', jsonb_build_object(
        'cohort', cohort, 'organisation', organisation, 'period_to', period_to,
        'window', win, 'participants', shown));
    RETURN QUERY SELECT d.participant, d.cohort_name, d.measure, d.before_rate, d.during_rate,
                        d.difference
                 FROM dash_paired_rows d ORDER BY d.ord, d.participant;
END
$$;
COMMENT ON FUNCTION dash.paired(text, text, date, text, text) IS
    'Evaluators: per participant of a filter setting and measure, the rate per person-month '
    'before and in the window (koers.window_paired) and the difference; purpose page or '
    'export, audited.';
