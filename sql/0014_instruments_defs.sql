-- Outcome instruments (issue 14): the measures of the self-sufficiency matrix (zrm_score),
-- stressors (stressor) and statuses (status_change), on Measures v2's windows and source
-- coverage, and the dashboards' instruments group. Definitions only (CREATE OR REPLACE), to
-- move into sql/defs/ once that exists; the tables are in sql/0014_instruments.sql.
--
-- These measures are computed when read, from the valid rows: an assessment or a status is a
-- few rows per participant a year, so there is no prepared state that a batch could leave
-- out of step with a rebuild (the incremental path and the rebuild are the same query).

------------------------------------------------------------------------------------------
-- Valid rows, and corrections of them.
------------------------------------------------------------------------------------------

CREATE OR REPLACE VIEW koers.zrm_score_valid AS
    SELECT e.* FROM koers.zrm_score e
    WHERE NOT EXISTS (SELECT 1 FROM koers.correction c WHERE c.target_event_id = e.event_id);
CREATE OR REPLACE VIEW koers.stressor_valid AS
    SELECT e.* FROM koers.stressor e
    WHERE NOT EXISTS (SELECT 1 FROM koers.correction c WHERE c.target_event_id = e.event_id);
CREATE OR REPLACE VIEW koers.status_change_valid AS
    SELECT e.* FROM koers.status_change e
    WHERE NOT EXISTS (SELECT 1 FROM koers.correction c WHERE c.target_event_id = e.event_id);
COMMENT ON VIEW koers.zrm_score_valid IS 'ZRM scores that no correction voided.';
COMMENT ON VIEW koers.stressor_valid IS 'Stressor changes that no correction voided.';
COMMENT ON VIEW koers.status_change_valid IS 'Status changes that no correction voided.';

-- A correction of one of the new events is not dangling (sql/0011_coverage.sql's view, with
-- the new tables among the correctable ones).
CREATE OR REPLACE VIEW koers.data_quality_dangling_correction AS
    SELECT c.source, koers.local_month(c.occurred_at) AS month, c.event_id AS correction_event_id,
           c.target_event_id, c.recorded_at,
           koers.today() - koers.local_day(c.recorded_at) AS waiting_days
    FROM koers.correction c
    WHERE NOT EXISTS (SELECT 1 FROM koers.enrolment t WHERE t.event_id = c.target_event_id)
      AND NOT EXISTS (SELECT 1 FROM koers.contact t WHERE t.event_id = c.target_event_id)
      AND NOT EXISTS (SELECT 1 FROM koers.crisis t WHERE t.event_id = c.target_event_id)
      AND NOT EXISTS (SELECT 1 FROM koers.goal_change t WHERE t.event_id = c.target_event_id)
      AND NOT EXISTS (SELECT 1 FROM koers.police_call t WHERE t.event_id = c.target_event_id)
      AND NOT EXISTS (SELECT 1 FROM koers.coverage t WHERE t.event_id = c.target_event_id)
      AND NOT EXISTS (SELECT 1 FROM koers.zrm_score t WHERE t.event_id = c.target_event_id)
      AND NOT EXISTS (SELECT 1 FROM koers.stressor t WHERE t.event_id = c.target_event_id)
      AND NOT EXISTS (SELECT 1 FROM koers.status_change t WHERE t.event_id = c.target_event_id);

-- Counts per event type, source and month of the new types, from a consumer that stages them
-- (one older than sql/0014 does not).
CREATE OR REPLACE FUNCTION koers.staged_count_instruments(tz text) RETURNS void
    LANGUAGE plpgsql VOLATILE
    AS $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['zrm_score', 'stressor', 'status_change'] LOOP
        CONTINUE WHEN to_regclass('pg_temp.stage_' || t) IS NULL;
        EXECUTE format($q$
            INSERT INTO koers.event_count_month AS c (event_type, source, month, events)
            SELECT %L, source, date_trunc('month', occurred_at AT TIME ZONE $1)::date, count(*)
            FROM pg_temp.%I
            GROUP BY 2, 3 ORDER BY 2, 3
            ON CONFLICT (event_type, source, month) DO UPDATE SET events = c.events + excluded.events
            $q$, t, 'stage_' || t) USING tz;
    END LOOP;
END
$$;
COMMENT ON FUNCTION koers.staged_count_instruments(text) IS
    'Internal (batch hook): the batch''s zrm_score, stressor and status_change rows counted in '
    'koers.event_count_month per source and local month.';

------------------------------------------------------------------------------------------
-- Self-sufficiency matrix (ZRM).
------------------------------------------------------------------------------------------

-- The stability corner of a ZRM domain, as the goal domains map (domain.md): participation
-- (work and education, time use, social network, community participation), continuity of
-- support (mental and physical health, substance use), the living environment the rest
-- (finances, housing, domestic relations, basic and instrumental ADL, justice, parenting).
CREATE OR REPLACE FUNCTION koers.zrm_corner(d koers.zrm_score_domain) RETURNS text
    LANGUAGE sql IMMUTABLE
    AS $$
    SELECT CASE
        WHEN d IN ('work_and_education', 'time_use', 'social_network', 'community_participation')
            THEN 'participation'
        WHEN d IN ('mental_health', 'physical_health', 'substance_use')
            THEN 'continuity_of_support'
        ELSE 'living_environment'
    END
    $$;
COMMENT ON FUNCTION koers.zrm_corner(koers.zrm_score_domain) IS
    'Stability corner of a ZRM domain: participation (work_and_education, time_use, '
    'social_network, community_participation), continuity_of_support (mental_health, '
    'physical_health, substance_use), living_environment (the others).';

-- Per participant enrolled by as_of and domain scored by then: the first score (baseline),
-- the latest, the change and its direction. Scores on one instant are ordered by recorded_at.
CREATE OR REPLACE FUNCTION koers.zrm_participant(as_of date)
    RETURNS TABLE (participant text, cohort text, domain text, stability_corner text,
                   scores integer, baseline_day date, baseline_score integer, latest_day date,
                   latest_score integer, change integer, direction text)
    LANGUAGE sql STABLE
    AS $$
    WITH tz AS MATERIALIZED (SELECT koers.time_zone() AS z),
    s AS (
        SELECT z.participant, z.domain, count(*)::integer AS n,
               (array_agg((z.occurred_at AT TIME ZONE tz.z)::date
                          ORDER BY z.occurred_at, z.recorded_at, z.event_id))[1] AS b_day,
               (array_agg(z.score ORDER BY z.occurred_at, z.recorded_at, z.event_id))[1] AS b,
               (array_agg((z.occurred_at AT TIME ZONE tz.z)::date
                          ORDER BY z.occurred_at DESC, z.recorded_at DESC, z.event_id DESC))[1] AS l_day,
               (array_agg(z.score ORDER BY z.occurred_at DESC, z.recorded_at DESC, z.event_id DESC))[1] AS l
        FROM koers.zrm_score_valid z, tz
        WHERE z.occurred_at < (SELECT koers.day_start(as_of + 1))
        GROUP BY z.participant, z.domain
    )
    SELECT s.participant, p.cohort, s.domain::text, koers.zrm_corner(s.domain), s.n, s.b_day, s.b,
           s.l_day, s.l,
           CASE WHEN s.n > 1 THEN s.l - s.b END,
           CASE WHEN s.n = 1 THEN NULL WHEN s.l > s.b THEN 'up' WHEN s.l < s.b THEN 'down' ELSE 'same' END
    FROM s JOIN koers.participant p ON p.participant = s.participant AND p.first_enrolled <= as_of
    $$;
COMMENT ON FUNCTION koers.zrm_participant(date) IS
    'Per participant enrolled by as_of and ZRM domain scored by then (local day of occurred_at '
    '<= as_of): the number of scores, the first (baseline) and latest score with their days, '
    'change = latest - baseline and direction up/same/down (NULL for both when scored once: '
    'no change is measured on one score).';

------------------------------------------------------------------------------------------
-- Stressors.
------------------------------------------------------------------------------------------

-- Days after the first enrolled day that still count as "at enrolment": the intake.
INSERT INTO koers.setting VALUES ('stressor_intake_days', '30') ON CONFLICT (name) DO NOTHING;
CREATE OR REPLACE FUNCTION koers.stressor_intake_days() RETURNS integer
    LANGUAGE sql STABLE
    AS $$ SELECT greatest(coalesce((SELECT value::integer FROM koers.setting
                                    WHERE name = 'stressor_intake_days'), 30), 0) $$;
COMMENT ON FUNCTION koers.stressor_intake_days() IS
    'Stressors "at enrolment" are those present at the end of the day first_enrolled + this '
    'many days (koers.setting stressor_intake_days, default 30): the intake notes them.';

-- The state of each stressor of a participant from each day it changes: present after
-- present, reduced or returned; resolved after resolved. The last change of a day holds.
CREATE OR REPLACE FUNCTION koers.stressor_spans(as_of date)
    RETURNS TABLE (participant text, kind text, present boolean, days daterange)
    LANGUAGE sql STABLE
    AS $$
    WITH tz AS MATERIALIZED (SELECT koers.time_zone() AS z),
    d AS (
        SELECT DISTINCT ON (s.participant, s.kind, 3)
               s.participant, s.kind, (s.occurred_at AT TIME ZONE tz.z)::date AS day,
               s.change <> 'resolved' AS present
        FROM koers.stressor_valid s, tz
        WHERE s.occurred_at < (SELECT koers.day_start(as_of + 1))
        ORDER BY s.participant, s.kind, 3, s.occurred_at DESC, s.recorded_at DESC, s.event_id DESC
    )
    SELECT participant, kind::text, present,
           daterange(day, lead(day) OVER (PARTITION BY participant, kind ORDER BY day))
    FROM d
    $$;
COMMENT ON FUNCTION koers.stressor_spans(date) IS
    'Internal: per participant and stressor kind, the days from each change (local day) to '
    'the next one (open at the end), and whether the stressor is present then.';

-- Per participant enrolled by as_of and stressor kind ever noted: present at enrolment
-- (the intake day), present now (as_of), the first day present, and the days from it to the
-- first resolution after it (NULL while unresolved).
CREATE OR REPLACE FUNCTION koers.stressor_participant(as_of date)
    RETURNS TABLE (participant text, cohort text, kind text, at_enrolment boolean, now boolean,
                   first_present date, first_resolved date, days_to_resolution integer)
    LANGUAGE sql STABLE
    AS $$
    WITH s AS (
        SELECT s.*, p.cohort, least(p.first_enrolled + koers.stressor_intake_days(), as_of) AS intake
        FROM koers.stressor_spans(as_of) s
        JOIN koers.participant p ON p.participant = s.participant AND p.first_enrolled <= as_of
    ), k AS (
        SELECT participant, cohort, kind,
               coalesce(bool_or(present AND days @> intake), false) AS at_enrolment,
               coalesce(bool_or(present AND days @> as_of), false) AS now,
               min(lower(days)) FILTER (WHERE present) AS first_present
        FROM s GROUP BY 1, 2, 3
    )
    SELECT k.participant, k.cohort, k.kind, k.at_enrolment, k.now, k.first_present, r.day,
           r.day - k.first_present
    FROM k LEFT JOIN LATERAL (
        SELECT min(lower(s.days)) AS day FROM s
        WHERE s.participant = k.participant AND s.kind = k.kind AND NOT s.present
          AND lower(s.days) > k.first_present) r ON true
    WHERE k.first_present IS NOT NULL
    $$;
COMMENT ON FUNCTION koers.stressor_participant(date) IS
    'Per participant enrolled by as_of and stressor kind noted present by then: present at '
    'enrolment (at the end of the day first_enrolled + stressor_intake_days, or as_of if '
    'earlier), present at as_of, the first day present, the first resolved day after it and '
    'the days between (NULL while unresolved).';

-- Per participant and calendar month from the month of the first enrolled day to as_of:
-- the stressors present at the end of the month (at as_of for its month).
CREATE OR REPLACE FUNCTION koers.stressor_month(as_of date)
    RETURNS TABLE (participant text, cohort text, month date, present integer)
    LANGUAGE sql STABLE
    AS $$
    WITH m AS (
        SELECT p.participant, p.cohort, g::date AS month,
               least((g + interval '1 month' - interval '1 day')::date, as_of) AS day
        FROM koers.participant p
        CROSS JOIN LATERAL generate_series(date_trunc('month', p.first_enrolled),
                                           date_trunc('month', as_of::timestamp), interval '1 month') g
        WHERE p.first_enrolled <= as_of
    ), s AS MATERIALIZED (SELECT * FROM koers.stressor_spans(as_of) WHERE present)
    SELECT m.participant, m.cohort, m.month, count(s.participant)::integer
    FROM m LEFT JOIN s ON s.participant = m.participant AND s.days @> m.day
    GROUP BY 1, 2, 3
    $$;
COMMENT ON FUNCTION koers.stressor_month(date) IS
    'Per participant enrolled by as_of and month from the first enrolled month: the stressor '
    'kinds present at the end of the month (as_of for the last month).';

------------------------------------------------------------------------------------------
-- Statuses: housing, rent arrears, daytime activity, income, debt counselling; evictions.
------------------------------------------------------------------------------------------

-- The state of each status of a participant from each day a record reports it to the next
-- such day (open at the end). The last record of a day holds.
CREATE OR REPLACE FUNCTION koers.status_spans(as_of date)
    RETURNS TABLE (participant text, status text, state text, days daterange)
    LANGUAGE sql STABLE
    AS $$
    WITH tz AS MATERIALIZED (SELECT koers.time_zone() AS z),
    r AS (
        SELECT DISTINCT ON (s.participant, x.status, 3)
               s.participant, x.status, (s.occurred_at AT TIME ZONE tz.z)::date AS day,
               x.state
        FROM koers.status_change_valid s CROSS JOIN tz
        CROSS JOIN LATERAL (VALUES ('housing', s.housing::text),
                                   ('rent_arrears', s.rent_arrears::text),
                                   ('daytime_activity', s.daytime_activity::text),
                                   ('income_source', s.income_source::text),
                                   ('debt_counselling', s.debt_counselling::text)) x(status, state)
        WHERE x.state IS NOT NULL
          AND s.occurred_at < (SELECT koers.day_start(as_of + 1))
        ORDER BY s.participant, x.status, 3, s.occurred_at DESC, s.recorded_at DESC, s.event_id DESC
    )
    SELECT participant, status, state,
           daterange(day, lead(day) OVER (PARTITION BY participant, status ORDER BY day))
    FROM r
    $$;
COMMENT ON FUNCTION koers.status_spans(date) IS
    'Internal: per participant and status (housing, rent_arrears, daytime_activity, '
    'income_source, debt_counselling), the days from each record that reports it (local day) '
    'to the next one, open at the end, with its state.';

-- The known days of status_change data: those every source that stated its coverage covers.
CREATE OR REPLACE FUNCTION koers.status_known_days() RETURNS datemultirange
    LANGUAGE sql STABLE
    AS $$ SELECT coalesce(koers.covered_days('status_change'), '{(,)}'::datemultirange) $$;

-- Per participant, window (koers.window_ranges) and state of housing and of daytime
-- activity: the known days of the window in that state ('unknown' where no record reported
-- the status yet). Days outside the sources' coverage of status_change count nowhere.
CREATE OR REPLACE FUNCTION koers.status_window(as_of date)
    RETURNS TABLE (participant text, cohort text, window_name text, status text, state text,
                   days integer)
    LANGUAGE sql STABLE
    AS $$
    WITH k AS MATERIALIZED (SELECT koers.status_known_days() AS m),
    w AS MATERIALIZED (
        SELECT w.participant, w.cohort, w.window_name, w.days * k.m AS days
        FROM koers.window_ranges(as_of) w, k
    ), sp AS MATERIALIZED (
        SELECT * FROM koers.status_spans(as_of) WHERE status IN ('housing', 'daytime_activity')
    ), s AS (
        SELECT participant, status, state, range_agg(days) AS m FROM sp GROUP BY 1, 2, 3
    ), reported AS (
        SELECT participant, status, range_agg(days) AS m FROM sp GROUP BY 1, 2
    ), st AS (SELECT unnest(ARRAY['housing', 'daytime_activity']) AS status)
    SELECT w.participant, w.cohort, w.window_name, s.status, s.state, koers.days_in(w.days * s.m)
    FROM w JOIN s ON s.participant = w.participant
    UNION ALL
    SELECT w.participant, w.cohort, w.window_name, st.status, 'unknown',
           koers.days_in(w.days - coalesce(r.m, '{}'::datemultirange))
    FROM w CROSS JOIN st
    LEFT JOIN reported r ON r.participant = w.participant AND r.status = st.status
    $$;
COMMENT ON FUNCTION koers.status_window(date) IS
    'Per participant, window and status (housing, daytime_activity): the known days of the '
    'window (inside the sources'' coverage of status_change) in each state; unknown: known '
    'days before any record reported the status.';

-- Per participant and window: the known days, and the eviction notices and evictions on them.
CREATE OR REPLACE FUNCTION koers.eviction_window(as_of date)
    RETURNS TABLE (participant text, cohort text, window_name text, days integer,
                   notices integer, evictions integer)
    LANGUAGE sql STABLE
    AS $$
    WITH tz AS MATERIALIZED (SELECT koers.time_zone() AS z),
    k AS MATERIALIZED (SELECT koers.status_known_days() AS m),
    w AS MATERIALIZED (
        SELECT w.participant, w.cohort, w.window_name, w.days * k.m AS days
        FROM koers.window_ranges(as_of) w, k
    ), e AS MATERIALIZED (
        SELECT e.participant, e.eviction, (e.occurred_at AT TIME ZONE tz.z)::date AS day
        FROM koers.status_change_valid e, tz WHERE e.eviction IS NOT NULL
    )
    SELECT w.participant, w.cohort, w.window_name, koers.days_in(w.days),
           count(*) FILTER (WHERE e.eviction = 'notice')::integer,
           count(*) FILTER (WHERE e.eviction = 'evicted')::integer
    FROM w LEFT JOIN e ON e.participant = w.participant AND w.days @> e.day
    GROUP BY 1, 2, 3, 4
    $$;
COMMENT ON FUNCTION koers.eviction_window(date) IS
    'Per participant and window: the known days (inside the sources'' coverage of '
    'status_change) and the eviction notices and evictions on them.';

-- Per participant and month from the first enrolled month: whether enrolled at the end of the
-- month (as_of for its month) and the daytime activity then (NULL when none was reported).
CREATE OR REPLACE FUNCTION koers.work_month(as_of date)
    RETURNS TABLE (participant text, cohort text, month date, daytime_activity text)
    LANGUAGE sql STABLE
    AS $$
    WITH m AS (
        SELECT p.participant, p.cohort, g::date AS month,
               least((g + interval '1 month' - interval '1 day')::date, as_of) AS day
        FROM koers.participant p
        CROSS JOIN LATERAL generate_series(date_trunc('month', p.first_enrolled),
                                           date_trunc('month', as_of::timestamp), interval '1 month') g
        WHERE p.first_enrolled <= as_of
    ), s AS MATERIALIZED (SELECT * FROM koers.status_spans(as_of) WHERE status = 'daytime_activity')
    SELECT m.participant, m.cohort, m.month, s.state
    FROM m LEFT JOIN s ON s.participant = m.participant AND s.days @> m.day
    WHERE EXISTS (SELECT 1 FROM koers.enrolment_span e
                  WHERE e.participant = m.participant AND e.start_day <= m.day
                    AND (e.end_day IS NULL OR e.end_day > m.day))
    $$;
COMMENT ON FUNCTION koers.work_month(date) IS
    'Per participant and month: the participants enrolled at the end of the month (as_of for '
    'its month) and their daytime activity then (NULL: not reported yet). The share in paid or '
    'volunteer work is over those with a known daytime activity.';

------------------------------------------------------------------------------------------
-- Continuity and coordination of support, from the contacts already stored (daily use).
-- Days outside the sources' coverage of contacts are unknown: they are no gap and no
-- follow-up window; crises and police calls count on their known days only.
------------------------------------------------------------------------------------------

INSERT INTO koers.setting VALUES ('continuity_gap_weeks', '4') ON CONFLICT (name) DO NOTHING;
CREATE OR REPLACE FUNCTION koers.continuity_gap_weeks() RETURNS integer
    LANGUAGE sql STABLE
    AS $$ SELECT greatest(coalesce((SELECT value::integer FROM koers.setting
                                    WHERE name = 'continuity_gap_weeks'), 4), 1) $$;
COMMENT ON FUNCTION koers.continuity_gap_weeks() IS
    'A stretch of known enrolled days without a contact longer than this many weeks is a long '
    'gap (koers.setting continuity_gap_weeks, default 4).';

-- The known days of an event type's data (every day when no source stated its coverage).
CREATE OR REPLACE FUNCTION koers.known_days(t text) RETURNS datemultirange
    LANGUAGE sql STABLE
    AS $$ SELECT coalesce(koers.covered_days(t), '{(,)}'::datemultirange) $$;

-- Per participant and calendar quarter with enrolled days known for contacts: the distinct
-- organisations (sources) and roles of the contacts on those days, and the contacts.
CREATE OR REPLACE FUNCTION koers.continuity_quarter(as_of date)
    RETURNS TABLE (participant text, cohort text, quarter date, enrolled_days integer,
                   organisations integer, roles integer, contacts integer)
    LANGUAGE sql STABLE
    AS $$
    WITH k AS MATERIALIZED (SELECT koers.known_days('contact') AS m),
    pp AS MATERIALIZED (
        SELECT w.participant, w.cohort, w.days * k.m AS days
        FROM koers.window_ranges(as_of) w, k WHERE w.window_name = 'per_protocol'
    ), q AS (
        SELECT pp.participant, pp.cohort, g::date AS quarter,
               pp.days * datemultirange(daterange(g::date, (g + interval '3 months')::date)) AS d
        FROM pp CROSS JOIN LATERAL generate_series(date_trunc('quarter', lower(pp.days)),
                                                   date_trunc('quarter', as_of::timestamp),
                                                   interval '3 months') g
        WHERE NOT isempty(pp.days)
    ), c AS MATERIALIZED (
        SELECT u.participant, u.day, u.source, u.kind, u.events
        FROM koers.use_at(as_of) u WHERE u.event_type = 'contact' AND u.events > 0
    )
    SELECT q.participant, q.cohort, q.quarter, koers.days_in(q.d), count(DISTINCT c.source)::integer,
           count(DISTINCT c.kind)::integer, coalesce(sum(c.events), 0)::integer
    FROM q LEFT JOIN c ON c.participant = q.participant
                      AND c.day >= q.quarter AND c.day < q.quarter + interval '3 months' AND q.d @> c.day
    WHERE NOT isempty(q.d)
    GROUP BY 1, 2, 3, 4
    $$;
COMMENT ON FUNCTION koers.continuity_quarter(date) IS
    'Per participant and quarter with enrolled days (known for contacts): the distinct '
    'organisations and roles of the contacts on those days, and the contacts.';

-- Per participant: the known enrolled days, the days with a contact, the longest stretch of
-- known enrolled days without one (a stretch ends at a pause, an exit, an unknown day or
-- the as-of date; the start of enrolment to the first contact is one), and the stretches
-- longer than continuity_gap_weeks.
CREATE OR REPLACE FUNCTION koers.contact_gaps(as_of date)
    RETURNS TABLE (participant text, cohort text, enrolled_days integer, contact_days integer,
                   longest_gap integer, long_gaps integer)
    LANGUAGE sql STABLE
    AS $$
    WITH k AS MATERIALIZED (SELECT koers.known_days('contact') AS m),
    pp AS MATERIALIZED (
        SELECT w.participant, w.cohort, w.days * k.m AS days
        FROM koers.window_ranges(as_of) w, k WHERE w.window_name = 'per_protocol'
    ), cd AS (
        SELECT u.participant, range_agg(daterange(u.day, u.day + 1)) AS m
        FROM koers.use_at(as_of) u WHERE u.event_type = 'contact' AND u.events > 0
        GROUP BY 1
    ), g AS (
        SELECT pp.participant, pp.cohort, pp.days, pp.days * coalesce(cd.m, '{}') AS hit,
               pp.days - coalesce(cd.m, '{}') AS miss
        FROM pp LEFT JOIN cd ON cd.participant = pp.participant
    )
    SELECT g.participant, g.cohort, koers.days_in(g.days), koers.days_in(g.hit),
           coalesce((SELECT max(upper(r) - lower(r)) FROM unnest(g.miss) r), 0)::integer,
           (SELECT count(*) FROM unnest(g.miss) r
            WHERE upper(r) - lower(r) > 7 * koers.continuity_gap_weeks())::integer
    FROM g
    $$;
COMMENT ON FUNCTION koers.contact_gaps(date) IS
    'Per participant enrolled by as_of: known enrolled days, days with a contact, the longest '
    'stretch of known enrolled days without a contact, and the stretches longer than '
    'continuity_gap_weeks weeks.';

-- Per participant, event type (crisis, police_call) and known enrolled day with such events:
-- the events, and whether a contact followed on that day or the 3 days after (all four
-- known for contacts; an event whose follow-up days are not all known is left out).
CREATE OR REPLACE FUNCTION koers.crisis_followup(as_of date)
    RETURNS TABLE (participant text, cohort text, event_type text, day date, events integer,
                   followed boolean)
    LANGUAGE sql STABLE
    AS $$
    WITH k AS MATERIALIZED (
        SELECT t, koers.known_days(t) AS m FROM unnest(ARRAY['crisis', 'police_call', 'contact']) t
    ), pp AS MATERIALIZED (
        SELECT w.participant, w.cohort, w.days FROM koers.window_ranges(as_of) w
        WHERE w.window_name = 'per_protocol'
    ), u AS MATERIALIZED (
        SELECT * FROM koers.use_at(as_of) WHERE events > 0
    ), e AS (
        SELECT u.participant, u.event_type, u.day, sum(u.events)::integer AS n
        FROM u WHERE u.event_type IN ('crisis', 'police_call')
        GROUP BY 1, 2, 3
    ), c AS MATERIALIZED (
        -- One set of contact days per participant: one row to join, whatever the contacts.
        SELECT participant, range_agg(daterange(day, day + 1)) AS m FROM u
        WHERE event_type = 'contact' GROUP BY participant
    )
    SELECT e.participant, pp.cohort, e.event_type, e.day, e.n,
           coalesce(c.m && daterange(e.day, e.day + 4), false)
    FROM e JOIN pp ON pp.participant = e.participant AND pp.days @> e.day
    JOIN k ke ON ke.t = e.event_type AND ke.m @> e.day
    JOIN k kc ON kc.t = 'contact' AND kc.m @> datemultirange(daterange(e.day, e.day + 4))
    LEFT JOIN c ON c.participant = e.participant
    WHERE e.day + 3 <= as_of
    $$;
COMMENT ON FUNCTION koers.crisis_followup(date) IS
    'Per participant, event type (crisis, police_call) and enrolled day with such events '
    '(known for its type; its follow-up days known for contacts and on or before as_of): the '
    'events, and whether a contact followed on that day or one of the 3 days after.';

------------------------------------------------------------------------------------------
-- The stability model (issue 14, item 4): each corner's state per participant and month.
------------------------------------------------------------------------------------------

-- Per participant and month from the first enrolled month (the month's end, as_of for its
-- month), the state of each corner: stable, unstable or unknown.
--   participation: stable with a daytime activity other than none, or a mean of the latest
--     ZRM scores of the participation domains of 3 or more; unstable with none and a lower
--     (or no) mean; unknown when neither is known.
--   living_environment: unstable when homeless or in a shelter, or when a living-environment
--     stressor (debts, no_income, housing_insecurity, eviction_threat, conflict_or_violence)
--     is present or an eviction step fell in the month; stable when housed (supported_housing,
--     with_others, independent) and none of that; unknown otherwise.
--   continuity_of_support: stable when the month had a contact and every crisis and police
--     call of the month (with its follow-up days known) was followed within 3 days; unstable
--     when it had no contact or one was not followed; unknown when none of its enrolled
--     days is known for contacts.
CREATE OR REPLACE FUNCTION koers.stability_month(as_of date)
    RETURNS TABLE (participant text, cohort text, month date, corner text, state text)
    LANGUAGE sql STABLE
    AS $$
    WITH tz AS MATERIALIZED (SELECT koers.time_zone() AS z),
    m AS MATERIALIZED (
        SELECT p.participant, p.cohort, g::date AS month,
               least((g + interval '1 month' - interval '1 day')::date, as_of) AS day
        FROM koers.participant p
        CROSS JOIN LATERAL generate_series(date_trunc('month', p.first_enrolled),
                                           date_trunc('month', as_of::timestamp), interval '1 month') g
        WHERE p.first_enrolled <= as_of
    ), sp AS MATERIALIZED (SELECT * FROM koers.status_spans(as_of)),
    st AS MATERIALIZED (
        SELECT * FROM koers.stressor_spans(as_of)
        WHERE present AND kind IN ('debts', 'no_income', 'housing_insecurity', 'eviction_threat',
                                   'conflict_or_violence')
    ), zr AS MATERIALIZED (
        SELECT z.participant, (z.occurred_at AT TIME ZONE tz.z)::date AS day, z.domain, z.score,
               z.occurred_at, z.recorded_at, z.event_id
        FROM koers.zrm_score_valid z, tz WHERE koers.zrm_corner(z.domain) = 'participation'
    ), ev AS MATERIALIZED (
        SELECT e.participant, date_trunc('month', (e.occurred_at AT TIME ZONE tz.z))::date AS month
        FROM koers.status_change_valid e, tz WHERE e.eviction IS NOT NULL
    ), pp AS MATERIALIZED (
        SELECT w.participant, w.days * koers.known_days('contact') AS days
        FROM koers.window_ranges(as_of) w WHERE w.window_name = 'per_protocol'
    ), c AS MATERIALIZED (
        SELECT DISTINCT u.participant, date_trunc('month', u.day)::date AS month
        FROM koers.use_at(as_of) u WHERE u.event_type = 'contact' AND u.events > 0
    ), f AS MATERIALIZED (
        SELECT x.participant, date_trunc('month', x.day)::date AS month, bool_and(x.followed) AS all_followed
        FROM koers.crisis_followup(as_of) x GROUP BY 1, 2
    ), act AS (
        SELECT m.participant, m.month, s.state FROM m
        JOIN sp s ON s.participant = m.participant AND s.status = 'daytime_activity' AND s.days @> m.day
    ), hou AS (
        SELECT m.participant, m.month, s.state FROM m
        JOIN sp s ON s.participant = m.participant AND s.status = 'housing' AND s.days @> m.day
    ), zl AS (
        SELECT participant, month, avg(score) AS zrm FROM (
            SELECT DISTINCT ON (m.participant, m.month, z.domain) m.participant, m.month, z.score
            FROM m JOIN zr z ON z.participant = m.participant AND z.day <= m.day
            ORDER BY m.participant, m.month, z.domain, z.occurred_at DESC, z.recorded_at DESC, z.event_id DESC
        ) l GROUP BY 1, 2
    ), stressed AS (
        SELECT DISTINCT m.participant, m.month FROM m
        JOIN st ON st.participant = m.participant AND st.days @> m.day
    ), x AS (
        SELECT m.*, act.state AS activity, hou.state AS housing, zl.zrm,
               stressed.participant IS NOT NULL AS stressed,
               EXISTS (SELECT 1 FROM ev WHERE ev.participant = m.participant AND ev.month = m.month) AS evicting,
               NOT isempty(coalesce(pp.days, '{}') * datemultirange(daterange(m.month, m.day + 1))) AS contact_known,
               c.participant IS NOT NULL AS contacted, f.all_followed AS followed
        FROM m
        LEFT JOIN act ON act.participant = m.participant AND act.month = m.month
        LEFT JOIN hou ON hou.participant = m.participant AND hou.month = m.month
        LEFT JOIN zl ON zl.participant = m.participant AND zl.month = m.month
        LEFT JOIN stressed ON stressed.participant = m.participant AND stressed.month = m.month
        LEFT JOIN pp ON pp.participant = m.participant
        LEFT JOIN c ON c.participant = m.participant AND c.month = m.month
        LEFT JOIN f ON f.participant = m.participant AND f.month = m.month
    )
    SELECT x.participant, x.cohort, x.month, y.corner, y.state
    FROM x CROSS JOIN LATERAL (VALUES
        ('participation',
         CASE WHEN x.activity IS NOT NULL AND x.activity <> 'none' OR x.zrm >= 3 THEN 'stable'
              WHEN x.activity IS NULL AND x.zrm IS NULL THEN 'unknown' ELSE 'unstable' END),
        ('living_environment',
         CASE WHEN x.housing IN ('homeless', 'shelter') OR x.stressed OR x.evicting THEN 'unstable'
              WHEN x.housing IS NOT NULL THEN 'stable' ELSE 'unknown' END),
        ('continuity_of_support',
         CASE WHEN NOT coalesce(x.contact_known, false) THEN 'unknown'
              WHEN x.contacted AND coalesce(x.followed, true) THEN 'stable' ELSE 'unstable' END)
    ) y(corner, state)
    $$;
COMMENT ON FUNCTION koers.stability_month(date) IS
    'The stability model per participant enrolled by as_of and month from the first enrolled '
    'month (state at the month''s end, as_of for its month): participation, living_environment '
    'and continuity_of_support, each stable, unstable or unknown (rules in '
    'sql/0014_instruments_defs.sql and docs/measures.md).';

------------------------------------------------------------------------------------------
-- The dashboards' instruments group (page /instruments, dash.instruments).
------------------------------------------------------------------------------------------

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

------------------------------------------------------------------------------------------
-- Changed definitions: the batch hook counts the new types (sql/0012_measures_v2.sql's body
-- with one call added), and the dashboards' cells know the instruments group (0003's body
-- with the group added to its list).
------------------------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION koers.apply_staged() RETURNS integer
    LANGUAGE plpgsql
    AS $fn$
DECLARE
    tz       text := koers.time_zone();
    ps       text[];          -- participants of the batch
    span_ps  text[];          -- participants whose enrolment changes (new or voided)
    cp       text[];          -- participants whose stays are cut anew
    owners   text[];          -- owners of events this batch voids
    v_id     uuid[];          -- events stored before this batch that it voids
    v_type   text[];
    v_owner  text[];
    vu_id    uuid[];          -- of those, the contacts and police calls
    void_new uuid[];          -- new rows already voided (a correction came first, or with them)
    nu       koers.daily_use[];  -- what the batch adds to daily_use, labelled
    delta    koers.daily_use[];  -- every change to daily_use, for the monthly counts
    g_p      text[];          -- goals whose history is rebuilt
    g_ref    text[];
    b        integer;
BEGIN
    -- Counted first: a batch of coverage statements alone has no participant.
    IF to_regclass('pg_temp.stage_coverage') IS NOT NULL THEN
        PERFORM koers.staged_count_coverage(tz);
    END IF;
    -- And the instruments (sql/0014): their measures are computed when read (nothing prepared).
    PERFORM koers.staged_count_instruments(tz);
    SELECT array_agg(DISTINCT participant ORDER BY participant) INTO ps FROM (
        SELECT participant FROM pg_temp.stage_enrolment
        UNION ALL SELECT participant FROM pg_temp.stage_contact
        UNION ALL SELECT participant FROM pg_temp.stage_crisis
        UNION ALL SELECT participant FROM pg_temp.stage_goal_change
        UNION ALL SELECT participant FROM pg_temp.stage_police_call
        UNION ALL SELECT participant FROM pg_temp.stage_correction) s;
    IF ps IS NULL THEN
        RETURN 0;
    END IF;
    PERFORM koers.staged_count_months(tz);

    -- Consumers on other partitions may store events of the same participants: the same
    -- locks as refresh_participants, in ascending order, before anything below reads.
    FOR b IN SELECT DISTINCT abs(hashtext(x) % 64) FROM unnest(ps) AS x ORDER BY 1 LOOP
        PERFORM pg_advisory_xact_lock(7012342, b);
    END LOOP;
    SELECT coalesce(array_agg(v.event_id), '{}'), coalesce(array_agg(v.event_type), '{}'),
           coalesce(array_agg(v.participant), '{}')
    INTO v_id, v_type, v_owner FROM koers.staged_voids() v;
    -- A correction naming another participant than its target's: lock that owner too.
    FOR b IN SELECT DISTINCT abs(hashtext(x) % 64) FROM unnest(v_owner) AS x
             WHERE x <> ALL (ps) ORDER BY 1 LOOP
        PERFORM pg_advisory_xact_lock(7012342, b);
    END LOOP;
    owners := ARRAY(SELECT DISTINCT o FROM unnest(v_owner) AS o);
    vu_id := ARRAY(SELECT i FROM unnest(v_id, v_type) AS v(i, t) WHERE t IN ('contact', 'police_call'));
    void_new := ARRAY(
        SELECT s.event_id FROM (
            SELECT event_id FROM pg_temp.stage_contact
            UNION ALL SELECT event_id FROM pg_temp.stage_crisis
            UNION ALL SELECT event_id FROM pg_temp.stage_goal_change
            UNION ALL SELECT event_id FROM pg_temp.stage_police_call
            UNION ALL SELECT event_id FROM pg_temp.stage_correction) s
        WHERE EXISTS (SELECT 1 FROM koers.correction c WHERE c.target_event_id = s.event_id));

    span_ps := ARRAY(SELECT participant FROM pg_temp.stage_enrolment
                     UNION SELECT o FROM unnest(v_owner, v_type) AS v(o, t) WHERE t = 'enrolment');
    cp := ARRAY(SELECT unnest(span_ps)
                UNION SELECT participant FROM pg_temp.stage_crisis WHERE episode_ref IS NOT NULL
                UNION SELECT o FROM unnest(v_owner, v_type) AS v(o, t) WHERE t = 'crisis');
    IF cardinality(span_ps) > 0 THEN
        PERFORM koers.spans_relabel(span_ps, tz);
    END IF;

    -- daily_use: the batch's rows (the stays of cp are cut below from the raw table), the
    -- voided contacts and police calls out, stays cut anew; one delta for the months.
    nu := ARRAY(SELECT u FROM koers.staged_use(void_new, cp, tz) u);
    PERFORM koers.use_add(nu);
    delta := nu;
    IF cardinality(vu_id) > 0 THEN
        delta := delta || ARRAY(
            SELECT ROW(participant, day, source, event_type, kind, mode, initiated_by, caller, outcome,
                       -events, -days, -billable_days, -minutes, period, span)::koers.daily_use
            FROM koers.use_take_out(vu_id, owners, tz));
    END IF;
    IF cardinality(cp) > 0 THEN
        delta := delta || ARRAY(SELECT s FROM koers.stays_recut(cp, tz) s);
        PERFORM koers.use_relabel(cp, true);
    END IF;
    PERFORM koers.month_count_apply(delta);

    PERFORM koers.staged_lateness(void_new, v_id, owners, tz);

    -- Goals: rebuild the history of every goal with a new valid change or a voided one.
    SELECT array_agg(participant), array_agg(goal_ref) INTO g_p, g_ref FROM (
        SELECT participant, goal_ref FROM pg_temp.stage_goal_change WHERE event_id <> ALL (void_new)
        UNION
        SELECT participant, goal_ref FROM koers.goal_change
        WHERE event_id = ANY (v_id) AND participant = ANY (owners)) g;
    IF g_p IS NOT NULL THEN
        DELETE FROM koers.goal_history h USING unnest(g_p, g_ref) AS g(participant, goal_ref)
        WHERE h.participant = g.participant AND h.goal_ref = g.goal_ref;
        INSERT INTO koers.goal_history SELECT * FROM koers.goal_history_build(g_p, g_ref);
    END IF;

    PERFORM koers.staged_participants(nu, void_new, span_ps || cp, v_id, owners, tz);
    RETURN cardinality(ps);
END
$fn$;
ALTER FUNCTION koers.apply_staged() SET plan_cache_mode = force_custom_plan;
-- A batch's statements are small: compiling them (their temporary tables have no statistics,
-- so estimates can pass jit_above_cost) took longer than running them (175 -> 17 ms a batch
-- for staged_use in a profile of 30 batches).
ALTER FUNCTION koers.apply_staged() SET jit = off;
COMMENT ON FUNCTION koers.apply_staged() IS
    'The consumer''s hook (koers-consume), called in every batch transaction once the batch''s '
    'new rows are in the event tables and exactly those rows are in the session''s staging '
    'tables stage_<event type>: brings event_count_month and every prepared table up to date '
    '(sql/0012_measures_v2.sql); counts zrm_score, stressor and status_change rows too, whose '
    'measures are computed when read (sql/0014_instruments_defs.sql).';

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
    nrel   integer;
    i      integer;
    j      integer;
    m      integer;
    cnt    integer;
    best   integer;
    changed boolean;
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
    'Internal: the cells of a group of dashboard pages (overview, outcomes, quality, instruments) '
    'from koers.dash_contrib_<group>(as_of, organisation of the caller), filtered, with '
    'small-cell and complementary suppression for suppressed callers.';

------------------------------------------------------------------------------------------
-- Rights, as 0007 and 0011 give them: the consumer reads the valid views (as for the other
-- types); the dashboards' functions run as koers_reader, which reads the valid views of the
-- instruments (their measures are computed from them, as coverage_valid's are); the analyst
-- reads the measures, and so the valid rows they are computed from (a pseudonym, a day and a
-- score or state: what goal_history holds for goals).
------------------------------------------------------------------------------------------

GRANT SELECT ON koers.zrm_score_valid, koers.stressor_valid, koers.status_change_valid
    TO koers_consumer, koers_analyst;
REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA koers FROM PUBLIC;
DO $$
DECLARE
    f record;
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'koers_reader')
       AND EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'koers_auth') THEN
        GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA koers TO koers_reader, koers_auth;
        GRANT SELECT ON koers.zrm_score_valid, koers.stressor_valid, koers.status_change_valid
            TO koers_reader;
    END IF;
    FOR f IN SELECT p.oid::regprocedure AS sig, p.proname, p.prosecdef, p.provolatile
             FROM pg_proc p WHERE p.pronamespace = 'koers'::regnamespace LOOP
        CONTINUE WHEN f.prosecdef OR f.proname LIKE 'dash\_%';
        IF f.proname <> 'refresh_all' THEN
            EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO koers_consumer', f.sig);
        END IF;
        IF f.provolatile <> 'v' THEN
            EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO koers_analyst', f.sig);
        END IF;
    END LOOP;
END
$$;
ALTER FUNCTION dash.instruments(text, text, date, date) OWNER TO koers_reader;
REVOKE EXECUTE ON FUNCTION dash.instruments(text, text, date, date) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION dash.instruments(text, text, date, date)
    TO koers_evaluator, koers_funder, koers_partner, koers_admin;
