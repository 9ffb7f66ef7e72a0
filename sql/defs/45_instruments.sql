-- koers definitions, outcome instruments (issue 14): the valid rows of zrm_score, stressor and
-- status_change, and their measures on Measures v2's windows and source coverage: the
-- self-sufficiency matrix (ZRM), stressors, housing, work, income and debts, evictions, the
-- continuity of support from the contacts, and the stability model. Computed when read: an
-- assessment or a status is a few rows per participant a year, so there is no prepared state
-- that a batch could leave out of step with a rebuild (the hook only counts the rows, in
-- sql/defs/20_prepared.sql). The tables and settings are in sql/0014_instruments.sql; the
-- page's cells in sql/defs/70_dash_cells.sql.

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

-- Per participant, window (koers.window_ranges) and state of housing and of daytime
-- activity: the known days of the window in that state ('unknown' where no record reported
-- the status yet). Days outside the sources' coverage of status_change count nowhere.
CREATE OR REPLACE FUNCTION koers.status_window(as_of date)
    RETURNS TABLE (participant text, cohort text, window_name text, status text, state text,
                   days integer)
    LANGUAGE sql STABLE
    AS $$
    WITH k AS MATERIALIZED (SELECT koers.known_days('status_change') AS m),
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
    k AS MATERIALIZED (SELECT koers.known_days('status_change') AS m),
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

CREATE OR REPLACE FUNCTION koers.continuity_gap_weeks() RETURNS integer
    LANGUAGE sql STABLE
    AS $$ SELECT greatest(coalesce((SELECT value::integer FROM koers.setting
                                    WHERE name = 'continuity_gap_weeks'), 4), 1) $$;
COMMENT ON FUNCTION koers.continuity_gap_weeks() IS
    'A stretch of known enrolled days without a contact longer than this many weeks is a long '
    'gap (koers.setting continuity_gap_weeks, default 4).';

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
    'sql/defs/45_instruments.sql and docs/measures.md).';
