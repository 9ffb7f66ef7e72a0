-- koers definitions, measures: the seven measures over the prepared tables (per participant
-- and month, goals and GAS, before/during, support intensity, cost-benefit), read at query
-- time; docs/measures.md gives each in words.

------------------------------------------------------------------------------------------
-- Internal building blocks of the time-dependent measures.
------------------------------------------------------------------------------------------

-- Before and during days per enrolled participant at an as-of date.
CREATE OR REPLACE FUNCTION koers.exposure(as_of date)
    RETURNS TABLE (participant text, cohort text, first_enrolled date, before_start date,
                   days_before integer, days_during integer)
    LANGUAGE sql STABLE
    AS $$
    SELECT p.participant, p.cohort, p.first_enrolled, p.before_start,
           p.first_enrolled - p.before_start,
           coalesce((SELECT sum(greatest(least(coalesce(s.end_day, as_of + 1), as_of + 1)
                                         - s.start_day, 0))
                     FROM koers.enrolment_span s
                     WHERE s.participant = p.participant), 0)::integer
    FROM koers.participant p
    WHERE p.first_enrolled <= as_of
    $$;
COMMENT ON FUNCTION koers.exposure(date) IS
    'Internal: days in the before period and enrolled days up to as_of (included) per '
    'participant enrolled by as_of.';

CREATE OR REPLACE FUNCTION koers.goal_status_at(as_of date)
    RETURNS SETOF koers.goal_status_row
    LANGUAGE sql STABLE
    AS $$
    SELECT h.participant, p.cohort, h.goal_ref, h.domain, koers.stability_corner(h.domain),
           h.set_by, h.status, h.set_at, h.achieved_at,
           koers.local_day(h.achieved_at) - koers.local_day(h.set_at),
           h.revisions, h.latest_gas, h.weight
    FROM koers.goal_history h
    LEFT JOIN koers.participant p ON p.participant = h.participant
    WHERE h.valid_from < koers.day_start(as_of + 1)
      AND (h.valid_to IS NULL OR h.valid_to >= koers.day_start(as_of + 1))
    $$;
COMMENT ON FUNCTION koers.goal_status_at(date) IS
    'koers.goal_status as it stood at the end of the local as-of day.';

CREATE OR REPLACE FUNCTION koers.gas_tscore_cohort(as_of date)
    RETURNS SETOF koers.gas_tscore_cohort_row
    LANGUAGE sql STABLE
    AS $$
    SELECT cohort, count(*)::integer, count(t_score)::integer, sum(goals_scored)::integer,
           round(avg(t_score), 2),
           round((percentile_cont(0.5) WITHIN GROUP (ORDER BY t_score))::numeric, 2),
           min(t_score), max(t_score)
    FROM koers.gas_tscore(as_of) GROUP BY cohort
    $$;
COMMENT ON FUNCTION koers.gas_tscore_cohort(date) IS 'Measure 2 per cohort.';

CREATE OR REPLACE FUNCTION koers.support_intensity(as_of date)
    RETURNS SETOF koers.support_intensity_row
    LANGUAGE sql STABLE
    AS $$
    WITH e AS (SELECT * FROM koers.exposure(as_of)),
    u AS (
        SELECT participant, sum(events) AS n, sum(minutes) AS mins,
               sum(events) FILTER (WHERE mode IN ('outreach', 'home_visit')) AS oh,
               sum(events) FILTER (WHERE initiated_by = 'participant') AS pi,
               sum(events) FILTER (WHERE kind IN ('significant_other', 'experience_expert')) AS ne
        FROM koers.period_use(as_of) WHERE period = 'during' AND event_type = 'contact'
        GROUP BY participant
    ), j AS (
        SELECT e.cohort, e.participant, e.days_during::numeric AS days, coalesce(n, 0) AS n,
               coalesce(mins, 0) AS mins, coalesce(oh, 0) AS oh, coalesce(pi, 0) AS pi,
               coalesce(ne, 0) AS ne
        FROM e LEFT JOIN u ON u.participant = e.participant
    )
    SELECT cohort, participant, round(sum(days) / 7, 2), sum(n)::integer, sum(mins)::integer,
           round(sum(n) * 7 / nullif(sum(days), 0), 2), round(sum(mins) * 7 / nullif(sum(days), 0), 2),
           round(sum(oh) / nullif(sum(n), 0), 4), round(sum(pi) / nullif(sum(n), 0), 4),
           round(sum(ne) / nullif(sum(n), 0), 4)
    FROM j GROUP BY GROUPING SETS ((cohort, participant), (cohort))
    ORDER BY cohort, participant NULLS LAST
    $$;
COMMENT ON FUNCTION koers.support_intensity(date) IS
    'Measure 5: support contacts on enrolled days up to as_of, per participant and (participant '
    'NULL) per cohort, pooled.';

CREATE OR REPLACE FUNCTION koers.cost_benefit_rows(as_of date, by_participant boolean)
    RETURNS SETOF koers.cost_benefit_row
    LANGUAGE sql STABLE
    AS $$
    WITH e AS (SELECT * FROM koers.exposure(as_of)),
    c AS (
        SELECT u.participant,
            sum(cst) FILTER (WHERE period = 'before' AND u.event_type = 'crisis') AS crb,
            sum(cst) FILTER (WHERE period = 'during' AND u.event_type = 'crisis') AS crd,
            sum(cst) FILTER (WHERE period = 'before' AND u.event_type = 'police_call') AS pob,
            sum(cst) FILTER (WHERE period = 'during' AND u.event_type = 'police_call') AS pod,
            sum(cst) FILTER (WHERE period = 'during' AND u.event_type = 'contact') AS sud
        FROM koers.period_use(as_of) u
        JOIN koers.unit_cost_map m ON m.event_type = u.event_type AND m.kind = u.kind
        JOIN koers.unit_cost k ON k.item = m.item
        CROSS JOIN LATERAL (SELECT CASE k.per WHEN 'event' THEN u.events::numeric
                                              WHEN 'day' THEN u.billable_days::numeric
                                              WHEN 'hour' THEN u.minutes / 60.0 END
                                   * k.amount_eur AS cst) q
        GROUP BY u.participant
    ), j AS (
        SELECT e.cohort, CASE WHEN by_participant THEN e.participant END AS participant,
               sum(e.days_before) / koers.person_month_days() AS pmb,
               sum(e.days_during) / koers.person_month_days() AS pmd,
               coalesce(sum(crb), 0) AS crb, coalesce(sum(crd), 0) AS crd,
               coalesce(sum(pob), 0) AS pob, coalesce(sum(pod), 0) AS pod,
               coalesce(sum(sud), 0) AS sud
        FROM e LEFT JOIN c ON c.participant = e.participant
        GROUP BY 1, 2
    ), r AS (
        SELECT j.*, (crb + pob) / nullif(pmb, 0) AS bpm, (crd + pod) / nullif(pmd, 0) AS dpm,
               sud / nullif(pmd, 0) AS spm
        FROM j
    )
    SELECT cohort, participant, round(pmb, 4), round(pmd, 4),
           round(crb, 2), round(crd, 2), round(pob, 2), round(pod, 2),
           round(crb + pob, 2), round(crd + pod, 2),
           round(crb / nullif(pmb, 0), 2), round(crd / nullif(pmd, 0), 2),
           round(pob / nullif(pmb, 0), 2), round(pod / nullif(pmd, 0), 2),
           round(bpm, 2), round(dpm, 2), round(bpm - dpm, 2), round((bpm - dpm) * pmd, 2),
           round(sud, 2), round(spm, 2), round((bpm - dpm) * pmd - sud, 2)
    FROM r ORDER BY cohort, participant
    $$;
COMMENT ON FUNCTION koers.cost_benefit_rows(date, boolean) IS
    'Internal: koers.cost_benefit per participant (true) or per cohort (false).';

CREATE OR REPLACE FUNCTION koers.cost_benefit(as_of date)
    RETURNS SETOF koers.cost_benefit_row
    LANGUAGE sql STABLE
    AS $$ SELECT * FROM koers.cost_benefit_rows(as_of, true) $$;
COMMENT ON FUNCTION koers.cost_benefit(date) IS
    'Measure 6 per participant enrolled by as_of: cost of crisis and police use before and '
    'during, the difference per person-month and over the enrolled time, and the support cost '
    'beside it, with the current koers.unit_cost and koers.unit_cost_map.';

CREATE OR REPLACE FUNCTION koers.cost_benefit_cohort(as_of date)
    RETURNS SETOF koers.cost_benefit_row
    LANGUAGE sql STABLE
    AS $$ SELECT * FROM koers.cost_benefit_rows(as_of, false) $$;
COMMENT ON FUNCTION koers.cost_benefit_cohort(date) IS
    'Measure 6 per cohort (participant NULL): sums, and pooled per-person-month figures.';

------------------------------------------------------------------------------------------
-- Readers: daily use at an as-of date, and the windows.
------------------------------------------------------------------------------------------

-- Daily use as it stood at the end of the as-of day: stay pieces cut at it, open stays
-- counted up to it.
CREATE OR REPLACE FUNCTION koers.use_at(as_of date)
    RETURNS SETOF koers.daily_use
    LANGUAGE sql STABLE
    AS $$
    SELECT participant, day, source, event_type, kind, mode, initiated_by, caller, outcome,
           events,
           CASE WHEN span > 0 THEN days / span * least(span, as_of + 1 - day) ELSE days END,
           CASE WHEN span > 0 THEN billable_days / span * least(span, as_of + 1 - day)
                ELSE billable_days END,
           minutes, period, span
    FROM koers.daily_use WHERE day <= as_of
    UNION ALL
    SELECT * FROM koers.use_labelled(ARRAY(
        SELECT ROW(o.participant, r.day, o.source, 'crisis', o.kind::text, NULL, NULL, NULL, NULL,
                   r.events, r.days, r.billable_days, 0, NULL, r.span)::koers.daily_use
        FROM koers.open_stay o
        CROSS JOIN LATERAL koers.stay_rows(o.participant, o.first_day, as_of + 1) r
        WHERE o.first_day <= as_of))
    $$;
COMMENT ON FUNCTION koers.use_at(date) IS
    'Prepared daily use up to the end of the as-of day: a stay counts the days it covered by '
    'then (an open stay up to the as-of day included).';

CREATE OR REPLACE FUNCTION koers.period_use(as_of date)
    RETURNS TABLE (participant text, cohort text, period text, day date, event_type text,
                   kind text, mode text, initiated_by text, events integer, days integer,
                   billable_days integer, minutes integer)
    LANGUAGE sql STABLE
    AS $$
    SELECT d.participant, p.cohort, d.period, d.day, d.event_type, d.kind, d.mode,
           d.initiated_by, d.events, d.days, d.billable_days, d.minutes
    FROM koers.use_at(as_of) d
    JOIN koers.participant p ON p.participant = d.participant
    WHERE d.period IS NOT NULL AND p.first_enrolled <= as_of
    $$;
COMMENT ON FUNCTION koers.period_use(date) IS
    'Internal: prepared daily use in the before period or in enrolled time up to as_of, '
    'labelled before/during; paused time, time after exit and older days are left out.';

-- The days of a set of date ranges.
CREATE OR REPLACE FUNCTION koers.days_in(m datemultirange) RETURNS integer
    LANGUAGE sql IMMUTABLE
    AS $$ SELECT coalesce(sum(upper(r) - lower(r)), 0)::integer FROM unnest(m) r $$;

CREATE OR REPLACE FUNCTION koers.gas_tscore(as_of date)
    RETURNS SETOF koers.gas_tscore_row
    LANGUAGE sql STABLE
    AS $$
    WITH h AS (
        SELECT h.participant, h.goal_ref, h.seq, h.status, h.weight,
               koers.gas_of_change(h.change, h.gas) AS x,
               h.valid_to IS NULL OR h.valid_to >= koers.day_start(as_of + 1) AS current
        FROM koers.goal_history h
        WHERE h.valid_from < koers.day_start(as_of + 1)
    ), g AS (
        SELECT participant, goal_ref,
               bool_or(current AND (status <> 'abandoned' OR koers.gas_include_abandoned())) AS counted,
               (array_agg(x ORDER BY seq DESC) FILTER (WHERE x IS NOT NULL))[1] AS latest,
               (array_agg(x ORDER BY seq) FILTER (WHERE x IS NOT NULL))[1] AS baseline,
               coalesce((array_agg(weight ORDER BY seq DESC))[1], 1)::numeric AS w
        FROM h GROUP BY participant, goal_ref
    ), s AS (
        SELECT g.participant, p.cohort, count(*) AS goals,
               count(*) FILTER (WHERE counted AND latest IS NOT NULL) AS n,
               sum(w * latest) FILTER (WHERE counted AND latest IS NOT NULL) AS swx,
               sum(w * baseline) FILTER (WHERE counted AND latest IS NOT NULL) AS swb,
               sum(w * w) FILTER (WHERE counted AND latest IS NOT NULL) AS sww,
               sum(w) FILTER (WHERE counted AND latest IS NOT NULL) AS sw
        FROM g LEFT JOIN koers.participant p ON p.participant = g.participant
        GROUP BY g.participant, p.cohort
    )
    SELECT participant, cohort, goals::integer, n::integer,
           CASE WHEN n > 0 THEN round(50 + 10 * swx / sqrt(0.7 * sww + 0.3 * sw * sw), 2) END,
           CASE WHEN n > 0 THEN round(50 + 10 * swb / sqrt(0.7 * sww + 0.3 * sw * sw), 2) END,
           CASE WHEN n > 0 THEN round(50 + 10 * swx / sqrt(0.7 * sww + 0.3 * sw * sw), 2)
                              - round(50 + 10 * swb / sqrt(0.7 * sww + 0.3 * sw * sw), 2) END,
           koers.gas_include_abandoned()
    FROM s
    $$;
COMMENT ON FUNCTION koers.gas_tscore(date) IS
    'Measure 2: the GAS T-score per participant with goals at the end of the as-of day: latest '
    'and baseline (each goal''s first score) over the same goals, and the change.';

CREATE OR REPLACE FUNCTION koers.goal_summary(as_of date)
    RETURNS SETOF koers.goal_summary_row
    LANGUAGE sql STABLE
    AS $$
    WITH s AS (
        SELECT cohort,
               CASE WHEN grouping(stability_corner) = 1 THEN 'all' ELSE stability_corner END AS corner,
               CASE WHEN grouping(domain) = 1 THEN 'all' ELSE domain::text END AS dom,
               count(DISTINCT participant)::integer AS participants,
               count(*)::integer AS goals,
               count(*) FILTER (WHERE set_by = 'participant')::integer AS sp,
               count(*) FILTER (WHERE set_by = 'participant_with_network')::integer AS spn,
               count(*) FILTER (WHERE set_by = 'professional')::integer AS spr,
               count(*) FILTER (WHERE status = 'open')::integer AS o,
               count(*) FILTER (WHERE status = 'achieved')::integer AS a,
               count(*) FILTER (WHERE status = 'revised')::integer AS r,
               count(*) FILTER (WHERE status = 'abandoned')::integer AS ab,
               sum(revisions)::integer AS revisions,
               count(*) FILTER (WHERE status = 'achieved' AND set_by <> 'professional')::integer AS ssa,
               count(DISTINCT participant) FILTER (WHERE status = 'achieved'
                                                   AND set_by <> 'professional')::integer AS pssa,
               percentile_cont(0.5) WITHIN GROUP (ORDER BY days_to_achieved)::numeric AS med,
               round(avg(days_to_achieved), 2) AS mean
        FROM koers.goal_status_at(as_of)
        GROUP BY GROUPING SETS ((cohort), (cohort, stability_corner), (cohort, stability_corner, domain))
    ), e AS (
        SELECT cohort, count(*)::integer AS enrolled FROM koers.participant
        WHERE first_enrolled <= as_of GROUP BY cohort
    )
    SELECT s.cohort, corner, dom, participants, goals, sp, spn, spr, o, a, r, ab, revisions, ssa,
           pssa, round(pssa::numeric / nullif(e.enrolled, 0), 4), med, mean, e.enrolled
    FROM s LEFT JOIN e ON e.cohort IS NOT DISTINCT FROM s.cohort
    $$;
COMMENT ON FUNCTION koers.goal_summary(date) IS
    'Measure 1 per cohort, per cohort and stability corner, and per cohort, corner and domain, '
    'as at the end of the as-of day; shares over the cohort''s enrolled participants.';

-- Sums of window rows: per participant (by_participant) or per cohort.
CREATE OR REPLACE FUNCTION koers.before_during_rows(as_of date, by_participant boolean)
    RETURNS TABLE (participant text, cohort text, first_enrolled date, participants integer,
                   pmb numeric, pmd numeric, kcb numeric, kcd numeric, kpb numeric, kpd numeric,
                   cb integer, cd integer, db integer, dd integer,
                   pb integer, pd integer, fb integer, fd integer, ab integer, ad integer,
                   sb integer, sd integer, vb integer, vd integer)
    LANGUAGE sql STABLE
    AS $$
    SELECT CASE WHEN by_participant THEN w.participant END, w.cohort,
           CASE WHEN by_participant THEN min(p.first_enrolled) END,
           count(DISTINCT w.participant)::integer,
           sum(w.days) FILTER (WHERE w.window_name = 'before') / koers.person_month_days(),
           sum(w.days) FILTER (WHERE w.window_name = 'per_protocol') / koers.person_month_days(),
           sum(w.crisis_covered_days) FILTER (WHERE w.window_name = 'before') / koers.person_month_days(),
           sum(w.crisis_covered_days) FILTER (WHERE w.window_name = 'per_protocol') / koers.person_month_days(),
           sum(w.police_covered_days) FILTER (WHERE w.window_name = 'before') / koers.person_month_days(),
           sum(w.police_covered_days) FILTER (WHERE w.window_name = 'per_protocol') / koers.person_month_days(),
           sum(w.acute_events) FILTER (WHERE w.window_name = 'before')::integer,
           sum(w.acute_events) FILTER (WHERE w.window_name = 'per_protocol')::integer,
           sum(w.acute_days) FILTER (WHERE w.window_name = 'before')::integer,
           sum(w.acute_days) FILTER (WHERE w.window_name = 'per_protocol')::integer,
           sum(w.police_use_calls) FILTER (WHERE w.window_name = 'before')::integer,
           sum(w.police_use_calls) FILTER (WHERE w.window_name = 'per_protocol')::integer,
           sum(w.confused_person_calls) FILTER (WHERE w.window_name = 'before')::integer,
           sum(w.confused_person_calls) FILTER (WHERE w.window_name = 'per_protocol')::integer,
           sum(w.alternative_events) FILTER (WHERE w.window_name = 'before')::integer,
           sum(w.alternative_events) FILTER (WHERE w.window_name = 'per_protocol')::integer,
           sum(w.alternative_days) FILTER (WHERE w.window_name = 'before')::integer,
           sum(w.alternative_days) FILTER (WHERE w.window_name = 'per_protocol')::integer,
           sum(w.police_victim_calls) FILTER (WHERE w.window_name = 'before')::integer,
           sum(w.police_victim_calls) FILTER (WHERE w.window_name = 'per_protocol')::integer
    FROM koers.window_measures(as_of) w JOIN koers.participant p ON p.participant = w.participant
    WHERE w.window_name IN ('before', 'per_protocol')
    GROUP BY 1, w.cohort
    $$;
COMMENT ON FUNCTION koers.before_during_rows(date, boolean) IS
    'Internal: the before and per-protocol window measures summed per participant or cohort.';

CREATE OR REPLACE FUNCTION koers.before_during(as_of date)
    RETURNS SETOF koers.before_during_row
    LANGUAGE sql STABLE
    AS $$
    SELECT participant, cohort, first_enrolled, round(pmb, 4), round(pmd, 4),
           cb, cd, db, dd, pb, pd, fb, fd,
           round(cb / nullif(kcb, 0), 4), round(cd / nullif(kcd, 0), 4),
           round(db / nullif(kcb, 0), 4), round(dd / nullif(kcd, 0), 4),
           round(pb / nullif(kpb, 0), 4), round(pd / nullif(kpd, 0), 4),
           round(fb / nullif(kpb, 0), 4), round(fd / nullif(kpd, 0), 4),
           ab, ad, sb, sd, vb, vd, round(sb / nullif(kcb, 0), 4), round(sd / nullif(kcd, 0), 4),
           round(kcb, 4), round(kcd, 4), round(kpb, 4), round(kpd, 4)
    FROM koers.before_during_rows(as_of, true)
    $$;
COMMENT ON FUNCTION koers.before_during(date) IS
    'Measures 3-4 per participant enrolled by as_of: acute crisis, stay alternatives and police '
    'use (victim calls apart) in the 12 calendar months before the first enrolled day versus '
    'enrolled time up to as_of (per-protocol; koers.window_measures has every window).';

CREATE OR REPLACE FUNCTION koers.before_during_cohort(as_of date)
    RETURNS SETOF koers.before_during_cohort_row
    LANGUAGE sql STABLE
    AS $$
    SELECT cohort, participants, round(pmb, 4), round(pmd, 4),
           cb, cd, db, dd, pb, pd, fb, fd,
           round(cb / nullif(kcb, 0), 4), round(cd / nullif(kcd, 0), 4),
           round(db / nullif(kcb, 0), 4), round(dd / nullif(kcd, 0), 4),
           round(pb / nullif(kpb, 0), 4), round(pd / nullif(kpd, 0), 4),
           round(fb / nullif(kpb, 0), 4), round(fd / nullif(kpd, 0), 4),
           ab, ad, sb, sd, vb, vd, round(sb / nullif(kcb, 0), 4), round(sd / nullif(kcd, 0), 4),
           round(kcb, 4), round(kcd, 4), round(kpb, 4), round(kpd, 4)
    FROM koers.before_during_rows(as_of, false)
    $$;
COMMENT ON FUNCTION koers.before_during_cohort(date) IS
    'Measures 3-4 per cohort: sums over participants; rates pooled (sum of counts / sum of '
    'person-months).';

------------------------------------------------------------------------------------------
-- participant_month with open stays: their days up to the as-of date, in their months.
------------------------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION koers.participant_month_at(as_of date)
    RETURNS SETOF koers.participant_month_row
    LANGUAGE sql STABLE
    AS $$
    WITH o AS (
        -- Open stays' rows up to as_of, per participant and month.
        SELECT participant, date_trunc('month', day)::date AS month,
               sum(events) AS events, sum(days) FILTER (WHERE grp = 'acute') AS acute_days,
               sum(days) FILTER (WHERE grp = 'alternative') AS alt_days,
               sum(events) FILTER (WHERE kind = 'crisis_admission') AS crisis_admission,
               sum(events) FILTER (WHERE kind = 'compulsory_care') AS compulsory_care,
               sum(events) FILTER (WHERE kind = 'respite_stay') AS respite_stay,
               sum(events) FILTER (WHERE kind = 'shelter_night') AS shelter_night,
               sum(events) FILTER (WHERE kind = 'crisis_contact') AS crisis_contact,
               sum(events) FILTER (WHERE kind = 'emergency_department') AS emergency_department
        FROM (SELECT s.participant, r.day, r.events, r.days, s.kind::text AS kind,
                     koers.crisis_group(s.kind) AS grp
              FROM koers.open_stay s
              CROSS JOIN LATERAL koers.stay_rows(s.participant, s.first_day, as_of + 1) r
              WHERE s.first_day <= as_of) x
        GROUP BY 1, 2
    )
    SELECT p.participant, m.month, p.cohort,
        CASE WHEN st.start_day IS NULL THEN 'not_enrolled'
             WHEN st.end_day IS NULL OR st.end_day > m.ref THEN 'enrolled'
             ELSE st.ended_by::text END,
        coalesce((SELECT sum(greatest(least(coalesce(s.end_day, as_of + 1), as_of + 1, m.next_month)
                                      - greatest(s.start_day, m.month), 0))
                  FROM koers.enrolment_span s
                  WHERE s.participant = p.participant AND s.start_day <= as_of), 0)::integer,
        CASE WHEN p.first_enrolled IS NULL THEN 0
             ELSE greatest(least(p.first_enrolled, m.next_month)
                           - greatest(p.before_start, m.month), 0) END,
        coalesce(c.contacts, 0), coalesce(c.contact_minutes, 0), coalesce(c.outreach_contacts, 0),
        coalesce(c.home_visit_contacts, 0), coalesce(c.participant_initiated_contacts, 0),
        coalesce(c.significant_other_contacts, 0), coalesce(c.experience_expert_contacts, 0),
        (coalesce(c.crisis_events, 0) + coalesce(o.events, 0))::integer,
        (coalesce(c.crisis_contact, 0) + coalesce(o.crisis_contact, 0))::integer,
        (coalesce(c.crisis_admission, 0) + coalesce(o.crisis_admission, 0))::integer,
        (coalesce(c.emergency_department, 0) + coalesce(o.emergency_department, 0))::integer,
        (coalesce(c.compulsory_care, 0) + coalesce(o.compulsory_care, 0))::integer,
        (coalesce(c.respite_stay, 0) + coalesce(o.respite_stay, 0))::integer,
        (coalesce(c.shelter_night, 0) + coalesce(o.shelter_night, 0))::integer,
        (coalesce(c.crisis_days, 0) + coalesce(o.acute_days, 0))::integer,
        (coalesce(c.stay_days, 0) + coalesce(o.alt_days, 0))::integer,
        coalesce(c.police_calls, 0), coalesce(c.police_confused_person, 0),
        coalesce(c.police_nuisance, 0), coalesce(c.police_threat_violence, 0),
        coalesce(c.police_welfare_check, 0), coalesce(c.police_arrest, 0),
        coalesce(c.police_victim, 0), coalesce(c.police_other, 0),
        coalesce(c.police_confused_person, 0)
    FROM koers.participant p
    CROSS JOIN LATERAL (
        SELECT g::date AS month, (g + interval '1 month')::date AS next_month,
               least(as_of, (g + interval '1 month')::date - 1) AS ref
        FROM generate_series(
            date_trunc('month', least(p.before_start, p.first_event_day)::timestamp),
            date_trunc('month', least(as_of, greatest(p.last_event_day,
                CASE WHEN p.open_since IS NOT NULL
                          OR EXISTS (SELECT 1 FROM koers.open_stay s WHERE s.participant = p.participant)
                     THEN as_of ELSE p.last_span_end - 1 END))::timestamp),
            interval '1 month') AS g
    ) m
    LEFT JOIN koers.participant_month_count c
        ON c.participant = p.participant AND c.month = m.month
    LEFT JOIN o ON o.participant = p.participant AND o.month = m.month
    LEFT JOIN LATERAL (
        SELECT s.start_day, s.end_day, s.ended_by FROM koers.enrolment_span s
        WHERE s.participant = p.participant AND s.start_day <= m.ref
        ORDER BY s.span_no DESC LIMIT 1
    ) st ON true
    $$;
COMMENT ON FUNCTION koers.participant_month_at(date) IS
    'koers.participant_month with an explicit as-of date (where open spans and open stays end). '
    'Columns: see COMMENT ON COLUMN koers.participant_month_row.*.';

CREATE OR REPLACE VIEW koers.daily_cost AS
    SELECT d.participant, d.day, d.event_type, d.kind, u.item,
           CASE u.per WHEN 'event' THEN d.events::numeric
                      WHEN 'day' THEN d.billable_days::numeric
                      WHEN 'hour' THEN d.minutes / 60.0 END * u.amount_eur AS cost_eur
    FROM koers.daily_use d
    JOIN koers.unit_cost_map m ON m.event_type = d.event_type AND m.kind = d.kind
    JOIN koers.unit_cost u ON u.item = m.item;
COMMENT ON VIEW koers.daily_cost IS
    'Internal: prepared daily use priced with the current unit costs (unmapped kinds omitted).';

CREATE OR REPLACE VIEW koers.participant_month AS
    SELECT * FROM koers.participant_month_at(koers.today());
COMMENT ON VIEW koers.participant_month IS
    'Measures 3-5 per participant and local month: one row for every month from the start of '
    'the before period (or the first event) to the month of the last event or enrolled day '
    '(open spans run to today), never past the current month. Counts are whole-month counts '
    'by local day of occurred_at. Voided events count nowhere.';

DO $$
DECLARE
    c record;
BEGIN
    FOR c IN SELECT * FROM (VALUES
        ('participant', 'Pseudonym (HMAC-SHA256 of the source''s client id).'),
        ('month', 'First day of the local calendar month.'),
        ('cohort', 'Cohort of the participant''s first enrolled span; NULL if never enrolled.'),
        ('enrolment_state', 'State at the month''s last day (or at the as-of date in its month): not_enrolled, enrolled, paused or exited.'),
        ('enrolled_days', 'Enrolled days in the month: from the day of enrolled/resumed up to, not including, the day of paused/exited; an open span to the as-of date included.'),
        ('before_days', 'Days of the month in the before period (the 12 calendar months before the first enrolled day).'),
        ('contacts', 'Support contacts.'),
        ('contact_minutes', 'Sum of duration_min of the contacts.'),
        ('outreach_contacts', 'Contacts with mode outreach.'),
        ('home_visit_contacts', 'Contacts with mode home_visit.'),
        ('participant_initiated_contacts', 'Contacts with initiated_by participant.'),
        ('significant_other_contacts', 'Contacts with with_role significant_other.'),
        ('experience_expert_contacts', 'Contacts with with_role experience_expert.'),
        ('crisis_events', 'Crisis events of every kind.'),
        ('crisis_contact', 'Crisis events of kind crisis_contact.'),
        ('crisis_admission', 'Crisis events of kind crisis_admission.'),
        ('emergency_department', 'Crisis events of kind emergency_department.'),
        ('compulsory_care', 'Crisis events of kind compulsory_care.'),
        ('respite_stay', 'Crisis events of kind respite_stay.'),
        ('shelter_night', 'Crisis events of kind shelter_night.'),
        ('crisis_days', 'Sum of days of crisis_contact, crisis_admission, emergency_department and compulsory_care events, in the month of their occurred_at (the discharge).'),
        ('stay_days', 'Sum of days of respite_stay and shelter_night events, in the month of their occurred_at.'),
        ('police_calls', 'Police calls of every kind.'),
        ('police_confused_person', 'Police calls of kind confused_person.'),
        ('police_nuisance', 'Police calls of kind nuisance.'),
        ('police_threat_violence', 'Police calls of kind threat_violence.'),
        ('police_welfare_check', 'Police calls of kind welfare_check.'),
        ('police_arrest', 'Police calls of kind arrest.'),
        ('police_victim', 'Police calls of kind victim.'),
        ('police_other', 'Police calls of kind other.'),
        ('confused_person_calls', 'Confused-person calls on their own (= police_confused_person).')
    ) AS v(col, doc) LOOP
        EXECUTE format('COMMENT ON COLUMN koers.participant_month.%I IS %L', c.col, c.doc);
        EXECUTE format('COMMENT ON COLUMN koers.participant_month_row.%I IS %L', c.col, c.doc);
    END LOOP;
END
$$;
DO $$
DECLARE
    c record;
BEGIN
    FOR c IN SELECT * FROM (VALUES
        ('crisis_events', 'Crisis events of every kind; a stay counts in the month of its first day.'),
        ('crisis_days', 'Days of acute stays (crisis_admission, compulsory_care, ...) that fall in the month; an open stay up to the as-of date.'),
        ('stay_days', 'Days of stay alternatives (respite_stay, shelter_night) that fall in the month.')
    ) AS v(col, doc) LOOP
        EXECUTE format('COMMENT ON COLUMN koers.participant_month.%I IS %L', c.col, c.doc);
        EXECUTE format('COMMENT ON COLUMN koers.participant_month_row.%I IS %L', c.col, c.doc);
    END LOOP;
END
$$;

CREATE OR REPLACE VIEW koers.participant_month_cost AS
    SELECT d.participant, date_trunc('month', d.day)::date AS month, p.cohort,
           round(coalesce(sum(d.cost_eur) FILTER (WHERE d.event_type = 'crisis'), 0), 2) AS crisis_cost,
           round(coalesce(sum(d.cost_eur) FILTER (WHERE d.event_type = 'police_call'), 0), 2) AS police_cost,
           round(coalesce(sum(d.cost_eur) FILTER (WHERE d.event_type = 'contact'), 0), 2) AS support_cost
    FROM koers.daily_cost d JOIN koers.participant p ON p.participant = d.participant
    GROUP BY d.participant, 2, p.cohort;
COMMENT ON VIEW koers.participant_month_cost IS
    'Measure 6 per participant-month: crisis, police and support events priced with the current '
    'koers.unit_cost via koers.unit_cost_map (months with priced events only).';
COMMENT ON COLUMN koers.participant_month_cost.participant IS 'Pseudonym.';
COMMENT ON COLUMN koers.participant_month_cost.month IS 'First day of the local calendar month.';
COMMENT ON COLUMN koers.participant_month_cost.cohort IS 'Cohort of the participant.';
COMMENT ON COLUMN koers.participant_month_cost.crisis_cost IS 'EUR: crisis events (day-priced kinds x billable days).';
COMMENT ON COLUMN koers.participant_month_cost.police_cost IS 'EUR: police calls.';
COMMENT ON COLUMN koers.participant_month_cost.support_cost IS 'EUR: support contacts (hour-priced roles x duration).';

CREATE OR REPLACE FUNCTION koers.cohort_month(as_of date)
RETURNS TABLE (cohort text, month date, participants_enrolled bigint, enrolled_days bigint,
               contacts bigint, contact_minutes bigint, crisis_events bigint, crisis_days bigint,
               stay_days bigint, police_calls bigint, confused_person_calls bigint,
               crisis_cost numeric, police_cost numeric, support_cost numeric)
LANGUAGE sql STABLE AS $$
    SELECT m.cohort, m.month, count(*) FILTER (WHERE m.enrolled_days > 0),
           sum(m.enrolled_days), sum(m.contacts), sum(m.contact_minutes), sum(m.crisis_events),
           sum(m.crisis_days), sum(m.stay_days), sum(m.police_calls),
           sum(m.confused_person_calls), coalesce(sum(c.crisis_cost), 0.00),
           coalesce(sum(c.police_cost), 0.00), coalesce(sum(c.support_cost), 0.00)
    FROM koers.participant_month_at(as_of) m
    LEFT JOIN koers.participant_month_cost c ON c.participant = m.participant AND c.month = m.month
    WHERE m.cohort IS NOT NULL
    GROUP BY m.cohort, m.month
$$;
COMMENT ON FUNCTION koers.cohort_month(date) IS
    'Measures 3-6 per cohort and local month: koers.participant_month_at summed over the '
    'cohort''s participants (participants_enrolled: those with an enrolled day in the month), '
    'with the month''s priced use from koers.participant_month_cost.';

CREATE OR REPLACE VIEW koers.goal_status AS
    SELECT h.participant, p.cohort, h.goal_ref, h.domain, koers.stability_corner(h.domain) AS stability_corner,
           h.set_by, h.status, h.set_at, h.achieved_at,
           koers.local_day(h.achieved_at) - koers.local_day(h.set_at) AS days_to_achieved,
           h.revisions, h.latest_gas, h.weight
    FROM koers.goal_history h
    LEFT JOIN koers.participant p ON p.participant = h.participant
    WHERE h.valid_to IS NULL;
COMMENT ON VIEW koers.goal_status IS
    'Measure 1: every goal with its status after its latest valid change by event time.';

DO $$
DECLARE
    c record;
BEGIN
    FOR c IN SELECT * FROM (VALUES
        ('participant', 'Pseudonym.'),
        ('cohort', 'Cohort of the participant; NULL if never enrolled.'),
        ('goal_ref', 'The source''s own goal key; a goal is (participant, goal_ref).'),
        ('domain', 'Goal domain, as given with the first set.'),
        ('stability_corner', 'participation, living_environment, continuity_of_support or unclassified (from domain).'),
        ('set_by', 'Who set the goal (first set): participant, participant_with_network (both self-set) or professional.'),
        ('status', 'Last of set/achieved/revised/abandoned/reopened by event time (progress and setback do not change it; set and reopened make it open): open, achieved, revised or abandoned.'),
        ('set_at', 'occurred_at of the first set (NULL if no set was received).'),
        ('achieved_at', 'occurred_at of the achieved that made the status achieved; NULL unless status is achieved.'),
        ('days_to_achieved', 'Local days from set_at to achieved_at.'),
        ('revisions', 'Number of revised changes.'),
        ('latest_gas', 'Latest goal attainment score given (-2..2); NULL if never scored.'),
        ('weight', 'Latest importance weight given (1..10); NULL if none (the T-score then uses 1).')
    ) AS v(col, doc) LOOP
        EXECUTE format('COMMENT ON COLUMN koers.goal_status.%I IS %L', c.col, c.doc);
        EXECUTE format('COMMENT ON COLUMN koers.goal_status_row.%I IS %L', c.col, c.doc);
    END LOOP;
END
$$;

CREATE OR REPLACE VIEW koers.cost_assumptions AS
    SELECT m.event_type, m.kind, u.item, u.amount_eur, u.per, u.price_year, u.source
    FROM koers.unit_cost_map m JOIN koers.unit_cost u ON u.item = m.item
    ORDER BY m.event_type, m.kind;
COMMENT ON VIEW koers.cost_assumptions IS 'The unit costs in use, per event kind: what the report prints.';
COMMENT ON COLUMN koers.cost_assumptions.event_type IS 'contact, crisis or police_call.';
COMMENT ON COLUMN koers.cost_assumptions.kind IS 'Kind (contacts: with_role).';
COMMENT ON COLUMN koers.cost_assumptions.item IS 'Unit cost item.';
COMMENT ON COLUMN koers.cost_assumptions.amount_eur IS 'EUR per unit.';
COMMENT ON COLUMN koers.cost_assumptions.per IS 'event, day or hour.';
COMMENT ON COLUMN koers.cost_assumptions.price_year IS 'Price level.';
COMMENT ON COLUMN koers.cost_assumptions.source IS 'Source or assumption.';
