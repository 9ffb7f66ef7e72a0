-- koers dashboards on Measures v2 (../shared/domain.md, "Measures v2"; docs/dashboards.md):
-- acute crisis apart from its stay alternatives and police use apart from victim calls on
-- every page, stays on the days they cover (koers.use_at), the crisis cost split the same
-- way, GAS with its baseline and change, the share of achieved self-set goals over the
-- enrolled participants, and the spread and evidence of the change per participant for a
-- chosen window (aggregates for everyone, suppressed; the paired rates for evaluators).

------------------------------------------------------------------------------------------
-- The participants of a filter setting: one home for the rule that dash_check_filter and
-- the evidence both apply.
------------------------------------------------------------------------------------------

-- Every participant enrolled by as_of, with whether they are in the cohort (in_c) and have
-- a registration of the organisation (in_o); NULL filters leave everyone in.
CREATE FUNCTION koers.dash_filter_flags(p_cohort text, p_org text, as_of date)
    RETURNS TABLE (participant text, in_c boolean, in_o boolean)
    LANGUAGE sql STABLE
    AS $$
    SELECT e.participant, (p_cohort IS NULL OR e.cohort = p_cohort),
           (p_org IS NULL OR EXISTS (
                SELECT 1 FROM koers.event_lateness l
                WHERE l.participant = e.participant AND l.source = p_org AND NOT l.voided
                  AND l.event_type <> 'correction'))
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
CREATE FUNCTION koers.dash_contrib_support(as_of date, own_org text)
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
-- first enrolled day (the counts come with the other crisis figures).
CREATE FUNCTION koers.dash_contrib_trend_exposure(as_of date)
    RETURNS SETOF koers.dash_contrib
    LANGUAGE sql STABLE
    AS $$
    WITH pop AS (SELECT * FROM koers.exposure(as_of)),
    rel_exposure AS (
        -- Days of each participant in each month relative to the first enrolled day: month
        -- r holds day offsets ceil(r * 30.4375) .. ceil((r + 1) * 30.4375) - 1; the before
        -- period is months -12 .. -1 (a leap year's extra day joins -12).
        SELECT x.participant, x.period, r,
               greatest(0, least(ceil((r + 1) * koers.person_month_days())::integer, x.b)
                           - greatest(CASE WHEN r = -12 THEN x.a ELSE ceil(r * koers.person_month_days())::integer END,
                                      x.a)) AS days
        FROM (
            SELECT p.participant, 'before' AS period, p.before_start - p.first_enrolled AS a, 0 AS b
            FROM pop p
            UNION ALL
            SELECT s.participant, 'during', s.start_day - p.first_enrolled,
                   least(coalesce(s.end_day, as_of + 1), as_of + 1) - p.first_enrolled
            FROM koers.enrolment_span s JOIN pop p ON p.participant = s.participant
            WHERE s.start_day <= as_of
        ) x
        CROSS JOIN LATERAL generate_series(
            CASE WHEN x.period = 'before' THEN -12 ELSE floor(x.a / koers.person_month_days())::integer END,
            CASE WHEN x.period = 'before' THEN -1 ELSE floor((x.b - 1) / koers.person_month_days())::integer END) r
        WHERE x.b > x.a
    )
    SELECT 'crisis.trend', ARRAY[ms], ARRAY[r::text, period], participant, NULL, 0,
           days / koers.person_month_days(), false
    FROM rel_exposure CROSS JOIN unnest(ARRAY['acute_events', 'police_use_calls']) ms
    WHERE days > 0
    $$;
COMMENT ON FUNCTION koers.dash_contrib_trend_exposure(date) IS
    'Internal: the person-months of the crisis page''s trend per participant, period and month '
    'relative to the first enrolled day (part of koers.dash_contrib_outcomes).';

CREATE OR REPLACE FUNCTION koers.dash_contrib_outcomes(as_of date, own_org text)
    RETURNS SETOF koers.dash_contrib
    LANGUAGE sql STABLE
    AS $$
    WITH pop AS (
        SELECT e.*, e.days_before / koers.person_month_days() AS pm_before,
               e.days_during / koers.person_month_days() AS pm_during
        FROM koers.exposure(as_of) e
    ), use AS (
        -- Stay pieces cut at the as-of day and open stays counted up to it (koers.use_at);
        -- grp: acute or alternative (crisis), use or victim (police calls).
        SELECT d.*, p.first_enrolled,
               CASE d.event_type
                   WHEN 'crisis' THEN koers.crisis_group(d.kind::koers.crisis_kind)
                   WHEN 'police_call' THEN koers.police_group(d.kind::koers.police_call_kind)
               END AS grp
        FROM koers.use_at(as_of) d JOIN pop p ON p.participant = d.participant
        WHERE d.period IS NOT NULL
    ), periods AS (
        SELECT p.participant, x.period, x.pm
        FROM pop p CROSS JOIN LATERAL (VALUES ('before', p.pm_before), ('during', p.pm_during)) x(period, pm)
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
    SELECT 'crisis.bd_rate', ARRAY[g.m], ARRAY[p.period], p.participant, NULL, 0, p.pm, false
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
    SELECT 'cost.per_pm', ARRAY[s], ARRAY[p.period], p.participant, NULL, 0, p.pm, false
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
COMMENT ON FUNCTION dash.cost(text, text, date, date) IS
    'Social cost-benefit page (EUR, current unit costs): cost.total and cost.per_pm (acute and '
    'alternative, parts of crisis; crisis and police, parts of crisis_police; support; before '
    'and during), crisis.person_months, and cost.result (difference_per_pm = before - during '
    'per person-month, difference_total = that x person-months during, net_benefit_total = '
    'difference_total - support cost during). Victim calls are never priced.';
COMMENT ON FUNCTION dash.overview(text, text, date, date) IS
    'Overview page: overview.enrolment (new per month, all = participants), overview.active '
    '(participants enrolled in the month), overview.kpi (enrolled_now; self_set_achieved_share '
    'of the enrolled participants; mean_t_score, mean_baseline_t_score, mean_t_score_change; '
    'gas_abandoned_included 1 or 0), overview.goals (status x domain, corner, all; set = every '
    'goal), overview.goals_set_by.';

------------------------------------------------------------------------------------------
-- Spread and evidence per window: the statistics of koers.window_evidence over the
-- participants of a filter setting (any cohort, or none), as dashboard cells.
------------------------------------------------------------------------------------------

-- The windows a page may choose (the during side of the pairs; before is the other side).
CREATE FUNCTION koers.dash_window_names() RETURNS text[]
    LANGUAGE sql IMMUTABLE
    AS $$ SELECT ARRAY['per_protocol', 'intention_to_treat', 'follow_up'] $$;

CREATE FUNCTION koers.dash_window_check(window_name text) RETURNS text
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

CREATE TYPE koers.window_paired_row AS (
    participant text, cohort text, window_name text, measure text, before_count integer,
    during_count integer, before_days integer, during_days integer, before_rate numeric,
    during_rate numeric, difference numeric, full_coverage boolean
);
COMMENT ON TYPE koers.window_paired_row IS 'Internal: a row of koers.window_paired.';
DO $$
DECLARE
    c record;
BEGIN
    FOR c IN SELECT a.attname FROM pg_attribute a
             WHERE a.attrelid = 'koers.window_paired_row'::regclass AND a.attnum > 0 LOOP
        EXECUTE format('COMMENT ON COLUMN koers.window_paired_row.%I IS %L', c.attname,
                       'As the column of koers.window_paired of this name.');
    END LOOP;
END
$$;

-- window_evidence's statistics without its grouping by cohort: over the paired rows given
-- (koers.window_paired rows of one window), per measure, and who contributes to each side.
CREATE FUNCTION koers.window_evidence_of(pairs koers.window_paired_row[])
    RETURNS TABLE (measure text, n integer, n_before integer, n_during integer,
                   pooled_before_rate numeric, pooled_during_rate numeric,
                   median_before_rate numeric, q1_before_rate numeric, q3_before_rate numeric,
                   median_during_rate numeric, q1_during_rate numeric, q3_during_rate numeric,
                   stats koers.paired_stats, full_coverage integer)
    LANGUAGE sql IMMUTABLE
    AS $$
    SELECT m.measure, count(w.participant)::integer,
           count(*) FILTER (WHERE w.before_count > 0)::integer,
           count(*) FILTER (WHERE w.during_count > 0)::integer,
           round(sum(w.before_count) * koers.person_month_days() / sum(w.before_days), 4),
           round(sum(w.during_count) * koers.person_month_days() / sum(w.during_days), 4),
           round(koers.quantile(array_agg(w.before_rate), 0.5), 4),
           round(koers.quantile(array_agg(w.before_rate), 0.25), 4),
           round(koers.quantile(array_agg(w.before_rate), 0.75), 4),
           round(koers.quantile(array_agg(w.during_rate), 0.5), 4),
           round(koers.quantile(array_agg(w.during_rate), 0.25), 4),
           round(koers.quantile(array_agg(w.during_rate), 0.75), 4),
           koers.paired_statistics(array_agg(w.difference ORDER BY w.participant)
                                   FILTER (WHERE w.participant IS NOT NULL)),
           count(*) FILTER (WHERE w.full_coverage)::integer
    FROM unnest(koers.window_measure_names()) WITH ORDINALITY m(measure, ord)
    LEFT JOIN unnest(pairs) w ON w.measure = m.measure
    GROUP BY m.measure, m.ord
    ORDER BY m.ord
    $$;
COMMENT ON FUNCTION koers.window_evidence_of(koers.window_paired_row[]) IS
    'Internal: koers.window_evidence''s figures over the paired rows given (one window), per '
    'measure of koers.window_measure_names() (n 0 where none), with the participants whose '
    'count before (n_before) and during (n_during) is not zero.';

-- The cells of the evidence of one window for a filter setting: chart evidence.stats, series
-- a measure, category a figure. For suppressed callers: a measure's row is hidden when its
-- n is 1..k-1 or differs from a wider setting's by 1..k-1; the figures of one side (before,
-- during) when 1..k-1 participants have a count there; those of the differences when 1..k-1
-- differences are not zero; and the per-protocol pooled rates, which are the crisis.bd_rate
-- cells, where those are hidden (complementary suppression included).
CREATE FUNCTION koers.dash_evidence_cells(window_name text, c koers.dash_caller_row, p_cohort text,
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

-- As 0008, and the groups evidence.<window> (koers.dash_evidence_cells) beside those of
-- koers.dash_cells: one cache and one filter check for both.
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

CREATE FUNCTION dash.evidence(cohort text, organisation text, period_from date, period_to date,
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
CREATE FUNCTION dash.paired(cohort text, organisation text, period_to date, window_name text,
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

------------------------------------------------------------------------------------------
-- Ownership and grants, as 0003 gave them: the functions run as koers_reader; evidence for
-- every dashboard role, the paired rates (micro-data) for evaluators only.
------------------------------------------------------------------------------------------

ALTER FUNCTION dash.evidence(text, text, date, date, text) OWNER TO koers_reader;
ALTER FUNCTION dash.paired(text, text, date, text, text) OWNER TO koers_reader;
REVOKE EXECUTE ON FUNCTION dash.evidence(text, text, date, date, text) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION dash.paired(text, text, date, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION dash.evidence(text, text, date, date, text)
    TO koers_evaluator, koers_funder, koers_partner, koers_admin;
GRANT EXECUTE ON FUNCTION dash.paired(text, text, date, text, text) TO koers_evaluator;
REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA koers FROM PUBLIC;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA koers TO koers_reader, koers_auth;

-- Answers cached by the dashboards under the v1 definitions: the data version (offsets,
-- settings, unit costs) did not move with the definitions, so clear them.
SELECT koers.dash_cache_clear();
