-- koers measures v2 (../shared/domain.md, "Measures v2"; docs/measures.md): stays counted on
-- the days they cover, acute crisis apart from its alternatives, police use apart from
-- victimisation, four windows (before, per-protocol, intention-to-treat, follow-up), paired
-- per-participant rates with their spread and a signed-rank test and bootstrap interval,
-- GAS with abandoned goals kept and a baseline, shares over the enrolled participants.
-- The building blocks below are each a rule's one home: the rebuild and the batch hook call
-- the same ones.

------------------------------------------------------------------------------------------
-- Groups of kinds.
------------------------------------------------------------------------------------------

CREATE FUNCTION koers.crisis_group(k koers.crisis_kind) RETURNS text
    LANGUAGE sql IMMUTABLE
    AS $$ SELECT CASE WHEN k IN ('respite_stay', 'shelter_night') THEN 'alternative' ELSE 'acute' END $$;
COMMENT ON FUNCTION koers.crisis_group(koers.crisis_kind) IS
    'acute (crisis_contact, emergency_department, crisis_admission, compulsory_care) or '
    'alternative (respite_stay, shelter_night): always separate measures.';

CREATE FUNCTION koers.police_group(k koers.police_call_kind) RETURNS text
    LANGUAGE sql IMMUTABLE
    AS $$ SELECT CASE WHEN k = 'victim' THEN 'victim' ELSE 'use' END $$;
COMMENT ON FUNCTION koers.police_group(koers.police_call_kind) IS
    'use (the participant is the subject of the call) or victim (the call is for them): victim '
    'calls are their own measure and are never priced.';

-- A victim call is never a cost that a programme should avoid.
DELETE FROM koers.unit_cost_map WHERE event_type = 'police_call' AND kind = 'victim';
ALTER TABLE koers.unit_cost_map ADD CONSTRAINT unit_cost_map_victim_unpriced
    CHECK (NOT (event_type = 'police_call' AND kind = 'victim'));

INSERT INTO koers.setting VALUES ('gas_include_abandoned', 'true') ON CONFLICT (name) DO NOTHING;

-- crisis_valid was made with the columns crisis had then; episode_ref came later.
CREATE OR REPLACE VIEW koers.crisis_valid AS
    SELECT e.* FROM koers.crisis e
    WHERE NOT EXISTS (SELECT 1 FROM koers.correction c WHERE c.target_event_id = e.event_id);

------------------------------------------------------------------------------------------
-- Stays on the days they cover.
------------------------------------------------------------------------------------------

-- Days where a participant's windows change: a stay is cut there (and at month starts) so
-- that every piece of it lies in one month, one period and one window.
CREATE FUNCTION koers.window_bounds(p text) RETURNS SETOF date
    LANGUAGE sql STABLE
    AS $$
    SELECT start_day FROM koers.enrolment_span WHERE participant = p
    UNION SELECT end_day FROM koers.enrolment_span WHERE participant = p AND end_day IS NOT NULL
    UNION SELECT (start_day - interval '12 months')::date FROM koers.enrolment_span
          WHERE participant = p AND span_no = 1
    UNION SELECT (end_day + interval '12 months')::date FROM koers.enrolment_span
          WHERE participant = p AND ended_by = 'exited'
    $$;
COMMENT ON FUNCTION koers.window_bounds(text) IS
    'Internal: the days where a participant''s period or window changes (span starts and ends, '
    'the before period''s start, 12 months after each exit).';

-- A crisis stay as rows of koers.daily_use: [first_day, end_day) cut into pieces; the event
-- counts once, on its first day (admission). end_day NULL or not after first_day: a one-day
-- event (priced as one day when its kind is priced per day).
CREATE FUNCTION koers.stay_rows(p text, first_day date, end_day date)
    RETURNS TABLE (day date, events integer, days integer, billable_days integer, span integer)
    LANGUAGE sql STABLE
    AS $$
    SELECT first_day, 1, 0, 1, 0 WHERE end_day IS NULL OR end_day <= first_day
    UNION ALL
    SELECT c, (c = first_day)::integer, w, w, w FROM (
        SELECT c, lead(c, 1, end_day) OVER (ORDER BY c) - c AS w FROM (
            SELECT first_day AS c
            UNION
            SELECT g::date FROM generate_series(
                date_trunc('month', first_day::timestamp) + interval '1 month',
                (end_day - 1)::timestamp, interval '1 month') g
            UNION
            SELECT b FROM koers.window_bounds(p) b WHERE b > first_day AND b < end_day
        ) cuts
    ) pieces
    WHERE end_day > first_day
    $$;
COMMENT ON FUNCTION koers.stay_rows(text, date, date) IS
    'Internal: the daily_use rows of one crisis event or stay: a stay covering the local days '
    '[first_day, end_day) is cut at month starts and window bounds (span = the piece''s days); '
    'the event counts on its first day.';

-- The stays of participants from their valid crisis events. Old form (no episode_ref, or an
-- episode of one record with days): days reported at discharge cover [day - days, day).
-- Episodes (same source and episode_ref): from the day of the first record to the day of
-- the last; an episode of one record without days is open (open = true) until closed.
CREATE FUNCTION koers.crisis_stays(ps text[], tz text)
    RETURNS TABLE (participant text, source text, kind koers.crisis_kind, first_day date,
                   end_day date, open boolean)
    LANGUAGE sql STABLE
    AS $$
    WITH c AS (
        SELECT c.participant, c.source, c.kind, c.days, c.episode_ref,
               (c.occurred_at AT TIME ZONE tz)::date AS day,
               count(*) OVER ep AS records,
               row_number() OVER (ep ORDER BY c.occurred_at, c.recorded_at, c.event_id) AS n,
               max((c.occurred_at AT TIME ZONE tz)::date) OVER ep AS last_day
        FROM koers.crisis_valid c WHERE c.participant = ANY (ps)
        WINDOW ep AS (PARTITION BY c.participant, c.source, coalesce(c.episode_ref, c.event_id::text))
    )
    SELECT participant, source, kind,
           CASE WHEN records > 1 THEN day ELSE day - greatest(coalesce(days, 0), 0) END,
           CASE WHEN records > 1 THEN last_day WHEN days > 0 THEN day END,
           records = 1 AND days IS NULL
    FROM c WHERE n = 1
    $$;
COMMENT ON FUNCTION koers.crisis_stays(text[], text) IS
    'Internal: one row per crisis event or episode of the participants, with the local days it '
    'covers [first_day, end_day) (end_day NULL: a one-day event) and whether it is still open.';

CREATE TABLE koers.open_stay (
    participant text NOT NULL,
    source      text NOT NULL,
    kind        koers.crisis_kind NOT NULL,
    first_day   date NOT NULL
);
CREATE INDEX open_stay_participant_idx ON koers.open_stay (participant);
COMMENT ON TABLE koers.open_stay IS
    'Prepared: stays reported open at admission (an episode_ref without days) and not closed '
    'yet: they count their days from first_day up to the as-of date.';

ALTER TABLE koers.daily_use ADD COLUMN span integer NOT NULL DEFAULT 0;
COMMENT ON COLUMN koers.daily_use.span IS
    'Crisis stays: the days of each piece in this row (a stay is cut at month starts and window '
    'bounds; the row covers [day, day + span) for each of its pieces, days = pieces x span); 0 '
    'for one-day events, contacts and police calls.';
COMMENT ON COLUMN koers.daily_use.day IS
    'Local day of occurred_at; for a crisis stay the first day of the piece.';
COMMENT ON COLUMN koers.daily_use.days IS 'Stay days in this row (crisis stays; 0 for others).';
COMMENT ON COLUMN koers.daily_use.billable_days IS
    'Days priced: the stay days, or 1 for a crisis event without a stay.';

-- GAS: the score given with each change (the cumulative latest_gas cannot tell it).
ALTER TABLE koers.goal_history ADD COLUMN gas integer;
COMMENT ON COLUMN koers.goal_history.gas IS 'The gas score given with this change; NULL if none.';

------------------------------------------------------------------------------------------
-- Rebuild: building blocks shared by the full rebuild and the batch hook.
------------------------------------------------------------------------------------------

CREATE FUNCTION koers.spans_build(ps text[], tz text)
    RETURNS SETOF koers.enrolment_span
    LANGUAGE sql STABLE
    AS $$
    -- State after an event is "open" iff it is enrolled/resumed, so spans start where open
    -- follows closed and end at the next closed.
    WITH ev AS (
        SELECT participant, (occurred_at AT TIME ZONE tz)::date AS day, change, cohort,
               occurred_at, recorded_at, event_id,
               change IN ('enrolled', 'resumed') AS opening
        FROM koers.enrolment_valid WHERE participant = ANY (ps)
    ), m AS (
        SELECT *, coalesce(lag(opening) OVER w, false) AS was_open
        FROM ev WINDOW w AS (PARTITION BY participant ORDER BY occurred_at, recorded_at, event_id)
    ), marks AS (
        SELECT *, lead(day) OVER w AS next_day, lead(change) OVER w AS next_change
        FROM m WHERE opening <> was_open
        WINDOW w AS (PARTITION BY participant ORDER BY occurred_at, recorded_at, event_id)
    )
    SELECT participant,
           row_number() OVER (PARTITION BY participant ORDER BY occurred_at, recorded_at, event_id)::integer,
           cohort, day, next_day, change, next_change
    FROM marks WHERE opening
    ORDER BY 1, 2
    $$;
COMMENT ON FUNCTION koers.spans_build(text[], text) IS
    'Internal: the enrolled spans of the participants from their valid enrolment changes.';

-- The goal history of some goals: of the participants ps, or, with refs, of the goals
-- (ps[i], refs[i]).
CREATE FUNCTION koers.goal_history_build(ps text[], refs text[])
    RETURNS SETOF koers.goal_history
    LANGUAGE sql STABLE
    AS $$
    WITH g AS (
        SELECT participant, goal_ref, occurred_at, domain, change, set_by, gas, weight,
               row_number() OVER (PARTITION BY participant, goal_ref
                                  ORDER BY occurred_at, recorded_at, event_id) AS seq
        FROM koers.goal_change_valid
        WHERE CASE WHEN refs IS NULL THEN participant = ANY (ps)
                   ELSE (participant, goal_ref) IN (SELECT * FROM unnest(ps, refs)) END
    ), g2 AS (
        -- "Latest non-null" is the first row of the group that starts at each non-null value.
        SELECT g.*,
            count(*) FILTER (WHERE change IN ('set', 'achieved', 'revised', 'abandoned', 'reopened'))
                OVER upto AS st_grp,
            count(gas) OVER upto AS gas_grp,
            count(weight) OVER upto AS w_grp,
            count(*) FILTER (WHERE change = 'set') OVER upto AS sets,
            count(*) FILTER (WHERE change = 'revised') OVER upto AS revisions,
            lead(occurred_at) OVER (PARTITION BY participant, goal_ref ORDER BY seq) AS valid_to,
            first_value(domain) OVER (PARTITION BY participant, goal_ref ORDER BY seq) AS first_domain,
            first_value(set_by) OVER (PARTITION BY participant, goal_ref ORDER BY seq) AS first_set_by,
            first_value(domain) OVER firstset AS set_domain,
            first_value(set_by) OVER firstset AS set_set_by,
            first_value(occurred_at) OVER firstset AS set_occurred
        FROM g
        WINDOW upto AS (PARTITION BY participant, goal_ref ORDER BY seq
                        ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW),
               firstset AS (PARTITION BY participant, goal_ref ORDER BY (change <> 'set'), seq)
    ), g3 AS (
        SELECT g2.*,
            first_value(change) OVER (PARTITION BY participant, goal_ref, st_grp ORDER BY seq) AS st_change,
            first_value(occurred_at) OVER (PARTITION BY participant, goal_ref, st_grp ORDER BY seq) AS st_at,
            first_value(gas) OVER (PARTITION BY participant, goal_ref, gas_grp ORDER BY seq) AS last_gas,
            first_value(weight) OVER (PARTITION BY participant, goal_ref, w_grp ORDER BY seq) AS last_weight
        FROM g2
    )
    SELECT participant, goal_ref, seq::integer, occurred_at, valid_to, change,
        CASE WHEN sets > 0 THEN set_domain ELSE first_domain END,
        CASE WHEN sets > 0 THEN set_set_by ELSE first_set_by END,
        CASE WHEN st_grp = 0 OR st_change IN ('set', 'reopened') THEN 'open' ELSE st_change::text END,
        CASE WHEN sets > 0 THEN set_occurred END,
        CASE WHEN st_grp > 0 AND st_change = 'achieved' THEN st_at END,
        revisions::integer, last_gas, last_weight, gas
    FROM g3 ORDER BY participant, goal_ref, seq
    $$;
COMMENT ON FUNCTION koers.goal_history_build(text[], text[]) IS
    'Internal: the goal_history rows of the participants ps (refs NULL) or of the goals '
    '(ps[i], refs[i]), from their valid changes.';

-- A participant's row from the prepared tables (spans, daily use, open stays, goals).
CREATE FUNCTION koers.participant_build(ps text[], tz text)
    RETURNS SETOF koers.participant
    LANGUAGE sql STABLE
    AS $$
    SELECT d.participant, s1.cohort, s1.start_day, (s1.start_day - interval '12 months')::date,
           d.first_day, d.last_day,
           (SELECT s.start_day FROM koers.enrolment_span s
            WHERE s.participant = d.participant AND s.end_day IS NULL),
           (SELECT max(s.end_day) FROM koers.enrolment_span s WHERE s.participant = d.participant)
    FROM (
        SELECT participant, min(day) AS first_day, max(day) AS last_day FROM (
            SELECT participant, day FROM koers.daily_use WHERE participant = ANY (ps)
            UNION ALL
            SELECT participant, first_day FROM koers.open_stay WHERE participant = ANY (ps)
            UNION ALL
            SELECT participant, (occurred_at AT TIME ZONE tz)::date FROM koers.enrolment_valid
            WHERE participant = ANY (ps)
            UNION ALL
            SELECT participant, (valid_from AT TIME ZONE tz)::date FROM koers.goal_history
            WHERE participant = ANY (ps)
        ) u GROUP BY participant
    ) d
    LEFT JOIN koers.enrolment_span s1 ON s1.participant = d.participant AND s1.span_no = 1
    ORDER BY 1
    $$;
COMMENT ON FUNCTION koers.participant_build(text[], text) IS
    'Internal: koers.participant rows of the participants from their prepared rows.';

-- The monthly pivot of daily_use rows (the rows of one participant-month added up).
CREATE FUNCTION koers.month_count_rows(rows koers.daily_use[])
    RETURNS SETOF koers.participant_month_count
    LANGUAGE sql IMMUTABLE
    AS $$
    SELECT participant, date_trunc('month', day)::date,
        coalesce(sum(events) FILTER (WHERE event_type = 'contact'), 0)::integer,
        coalesce(sum(minutes) FILTER (WHERE event_type = 'contact'), 0)::integer,
        coalesce(sum(events) FILTER (WHERE event_type = 'contact' AND mode = 'outreach'), 0)::integer,
        coalesce(sum(events) FILTER (WHERE event_type = 'contact' AND mode = 'home_visit'), 0)::integer,
        coalesce(sum(events) FILTER (WHERE event_type = 'contact' AND initiated_by = 'participant'), 0)::integer,
        coalesce(sum(events) FILTER (WHERE event_type = 'contact' AND kind = 'significant_other'), 0)::integer,
        coalesce(sum(events) FILTER (WHERE event_type = 'contact' AND kind = 'experience_expert'), 0)::integer,
        coalesce(sum(events) FILTER (WHERE event_type = 'crisis'), 0)::integer,
        coalesce(sum(events) FILTER (WHERE event_type = 'crisis' AND kind = 'crisis_contact'), 0)::integer,
        coalesce(sum(events) FILTER (WHERE event_type = 'crisis' AND kind = 'crisis_admission'), 0)::integer,
        coalesce(sum(events) FILTER (WHERE event_type = 'crisis' AND kind = 'emergency_department'), 0)::integer,
        coalesce(sum(events) FILTER (WHERE event_type = 'crisis' AND kind = 'compulsory_care'), 0)::integer,
        coalesce(sum(events) FILTER (WHERE event_type = 'crisis' AND kind = 'respite_stay'), 0)::integer,
        coalesce(sum(events) FILTER (WHERE event_type = 'crisis' AND kind = 'shelter_night'), 0)::integer,
        coalesce(sum(days) FILTER (WHERE event_type = 'crisis'
                                   AND koers.crisis_group(kind::koers.crisis_kind) = 'acute'), 0)::integer,
        coalesce(sum(days) FILTER (WHERE event_type = 'crisis'
                                   AND koers.crisis_group(kind::koers.crisis_kind) = 'alternative'), 0)::integer,
        coalesce(sum(events) FILTER (WHERE event_type = 'police_call'), 0)::integer,
        coalesce(sum(events) FILTER (WHERE event_type = 'police_call' AND kind = 'confused_person'), 0)::integer,
        coalesce(sum(events) FILTER (WHERE event_type = 'police_call' AND kind = 'nuisance'), 0)::integer,
        coalesce(sum(events) FILTER (WHERE event_type = 'police_call' AND kind = 'threat_violence'), 0)::integer,
        coalesce(sum(events) FILTER (WHERE event_type = 'police_call' AND kind = 'welfare_check'), 0)::integer,
        coalesce(sum(events) FILTER (WHERE event_type = 'police_call' AND kind = 'arrest'), 0)::integer,
        coalesce(sum(events) FILTER (WHERE event_type = 'police_call' AND kind = 'victim'), 0)::integer,
        coalesce(sum(events) FILTER (WHERE event_type = 'police_call' AND kind = 'other'), 0)::integer
    FROM unnest(rows)
    GROUP BY participant, 2 ORDER BY participant, 2
    $$;
COMMENT ON FUNCTION koers.month_count_rows(koers.daily_use[]) IS
    'Internal: the participant_month_count rows that the given daily_use rows add up to.';

-- The crisis rows of daily_use of participants: their stays (closed ones) in pieces
-- (unlabelled: koers.use_labelled gives the period).
CREATE FUNCTION koers.crisis_use_build(ps text[], tz text)
    RETURNS SETOF koers.daily_use
    LANGUAGE sql STABLE
    AS $$
    SELECT s.participant, r.day, s.source, 'crisis', s.kind::text, NULL, NULL, NULL, NULL,
           sum(r.events)::integer, sum(r.days)::integer, sum(r.billable_days)::integer, 0,
           NULL::text, r.span
    FROM koers.crisis_stays(ps, tz) s
    CROSS JOIN LATERAL koers.stay_rows(s.participant, s.first_day, s.end_day) r
    WHERE NOT s.open
    GROUP BY s.participant, r.day, s.source, s.kind, r.span
    $$;
COMMENT ON FUNCTION koers.crisis_use_build(text[], text) IS
    'Internal: the crisis rows of daily_use of the participants from their valid crisis events.';

-- The daily_use rows of participants from their valid contacts, crisis events (stays cut
-- into pieces) and police calls; period labels from their spans (already rebuilt).
CREATE FUNCTION koers.daily_use_build(ps text[], tz text)
    RETURNS SETOF koers.daily_use
    LANGUAGE sql STABLE
    AS $$
    SELECT participant, (occurred_at AT TIME ZONE tz)::date, source, 'contact', with_role::text,
           mode::text, initiated_by::text, NULL, NULL, count(*)::integer, 0, 0,
           sum(duration_min)::integer, NULL, 0
    FROM koers.contact_valid WHERE participant = ANY (ps)
    GROUP BY participant, 2, source, with_role, mode, initiated_by
    UNION ALL
    SELECT participant, (occurred_at AT TIME ZONE tz)::date, source, 'police_call', kind::text,
           NULL, NULL, caller::text, outcome::text, count(*)::integer, 0, 0, 0, NULL, 0
    FROM koers.police_call_valid WHERE participant = ANY (ps)
    GROUP BY participant, 2, source, kind, caller, outcome
    UNION ALL
    SELECT * FROM koers.crisis_use_build(ps, tz)
    $$;
COMMENT ON FUNCTION koers.daily_use_build(text[], text) IS
    'Internal: the daily_use rows of the participants from the raw tables (voided events left '
    'out), unlabelled (koers.use_labelled gives the period).';

CREATE OR REPLACE FUNCTION koers.rebuild_participants(ps text[]) RETURNS void
    LANGUAGE plpgsql
    AS $fn$
DECLARE
    tz text := koers.time_zone();
BEGIN
    DELETE FROM koers.participant WHERE participant = ANY (ps);
    DELETE FROM koers.enrolment_span WHERE participant = ANY (ps);
    DELETE FROM koers.daily_use WHERE participant = ANY (ps);
    DELETE FROM koers.open_stay WHERE participant = ANY (ps);
    DELETE FROM koers.participant_month_count WHERE participant = ANY (ps);
    DELETE FROM koers.goal_history WHERE participant = ANY (ps);
    DELETE FROM koers.event_lateness WHERE participant = ANY (ps);

    INSERT INTO koers.enrolment_span SELECT * FROM koers.spans_build(ps, tz);
    -- Labelled one participant at a time: a full rebuild's rows would not fit one array.
    INSERT INTO koers.daily_use
    SELECT l.* FROM unnest(ps) AS p(participant)
    CROSS JOIN LATERAL koers.use_labelled(ARRAY(SELECT b FROM koers.daily_use_build(ARRAY[p.participant], tz) b)) l
    ORDER BY l.participant, l.day;
    -- The pivot one participant at a time: a full rebuild's rows would not fit one array.
    INSERT INTO koers.participant_month_count
    SELECT m.* FROM unnest(ps) AS p(participant)
    CROSS JOIN LATERAL koers.month_count_rows(ARRAY(
        SELECT d FROM koers.daily_use d WHERE d.participant = p.participant)) m;
    INSERT INTO koers.open_stay
    SELECT participant, source, kind, first_day FROM koers.crisis_stays(ps, tz) WHERE open;
    INSERT INTO koers.goal_history SELECT * FROM koers.goal_history_build(ps, NULL);
    INSERT INTO koers.participant SELECT * FROM koers.participant_build(ps, tz);

    INSERT INTO koers.event_lateness
    SELECT e.participant, e.source, e.event_type,
           date_trunc('month', e.occurred_at AT TIME ZONE tz)::date,
           EXISTS (SELECT 1 FROM koers.correction c WHERE c.target_event_id = e.event_id),
           floor(extract(epoch FROM e.recorded_at - e.occurred_at) / 60)::integer,
           count(*)
    FROM (
        SELECT 'enrolment' AS event_type, participant, source, occurred_at, recorded_at, event_id
        FROM koers.enrolment WHERE participant = ANY (ps)
        UNION ALL SELECT 'contact', participant, source, occurred_at, recorded_at, event_id
        FROM koers.contact WHERE participant = ANY (ps)
        UNION ALL SELECT 'crisis', participant, source, occurred_at, recorded_at, event_id
        FROM koers.crisis WHERE participant = ANY (ps)
        UNION ALL SELECT 'goal_change', participant, source, occurred_at, recorded_at, event_id
        FROM koers.goal_change WHERE participant = ANY (ps)
        UNION ALL SELECT 'police_call', participant, source, occurred_at, recorded_at, event_id
        FROM koers.police_call WHERE participant = ANY (ps)
        UNION ALL SELECT 'correction', participant, source, occurred_at, recorded_at, event_id
        FROM koers.correction WHERE participant = ANY (ps)
    ) e
    GROUP BY 1, 2, 3, 4, 5, 6 ORDER BY 1, 2, 3, 4, 5, 6;
END
$fn$;

CREATE OR REPLACE FUNCTION koers.refresh_all() RETURNS integer
    LANGUAGE plpgsql
    AS $fn$
DECLARE
    ps text[];
BEGIN
    FOR b IN 0..63 LOOP
        PERFORM pg_advisory_xact_lock(7012342, b);
    END LOOP;
    TRUNCATE koers.participant, koers.enrolment_span, koers.daily_use, koers.open_stay,
             koers.participant_month_count, koers.goal_history, koers.event_lateness;
    SELECT array_agg(participant) INTO ps FROM (
        SELECT participant FROM koers.enrolment
        UNION SELECT participant FROM koers.contact
        UNION SELECT participant FROM koers.crisis
        UNION SELECT participant FROM koers.goal_change
        UNION SELECT participant FROM koers.police_call
        UNION SELECT participant FROM koers.correction
    ) u;
    RETURN coalesce(koers.refresh_participants(ps), 0);
END
$fn$;

------------------------------------------------------------------------------------------
-- The batch hook, in parts. Most rows are added by difference. A participant with a new or
-- voided enrolment change gets new spans and period labels; their stays, and those of a
-- participant with a crisis episode record or a voided crisis event, are cut anew from the
-- raw crisis table (stays are rare). Every change to daily_use goes to the monthly counts
-- as one delta.
------------------------------------------------------------------------------------------

-- The period of a day: before (the 12 calendar months before the first enrolled day), during
-- (in an enrolled span) or NULL. Inlined where it is called: the callers give the
-- participant's first enrolled day and whether a span holds the day.
CREATE FUNCTION koers.period_label(d date, first_enrolled date, enrolled boolean) RETURNS text
    LANGUAGE sql IMMUTABLE
    AS $$
    SELECT CASE WHEN first_enrolled IS NULL THEN NULL
                WHEN d < first_enrolled THEN
                    CASE WHEN d >= (first_enrolled - interval '12 months')::date THEN 'before' END
                WHEN enrolled THEN 'during'
           END
    $$;

-- Daily-use rows with the period label of their day, from their participants' current spans.
CREATE FUNCTION koers.use_labelled(u koers.daily_use[])
    RETURNS SETOF koers.daily_use
    LANGUAGE sql STABLE
    AS $$
    SELECT n.participant, n.day, n.source, n.event_type, n.kind, n.mode, n.initiated_by,
           n.caller, n.outcome, n.events, n.days, n.billable_days, n.minutes,
           koers.period_label(n.day, f.start_day,
               EXISTS (SELECT 1 FROM koers.enrolment_span s
                       WHERE s.participant = n.participant AND n.day >= s.start_day
                         AND (s.end_day IS NULL OR n.day < s.end_day))),
           n.span
    FROM unnest(u) n LEFT JOIN koers.enrolment_span f ON f.participant = n.participant AND f.span_no = 1
    $$;

-- The functions below read the consumer's session tables pg_temp.stage_<event type>, which
-- exist only in its sessions: their bodies are checked when they run, not here.
SET LOCAL check_function_bodies = off;

-- What the staged contacts, old-form crisis events and police calls add to daily_use
-- (voided ones, and the crisis events of participants in skip, left out), labelled.
CREATE FUNCTION koers.staged_use(void_new uuid[], skip text[], tz text)
    RETURNS SETOF koers.daily_use
    LANGUAGE sql VOLATILE
    AS $$
    WITH u AS (
        SELECT participant, (occurred_at AT TIME ZONE tz)::date AS day, source,
               'contact' AS event_type, with_role::text AS kind, mode::text AS mode,
               initiated_by::text AS initiated_by, NULL::text AS caller, NULL::text AS outcome,
               count(*)::integer AS events, 0 AS days, 0 AS billable_days,
               sum(duration_min)::integer AS minutes, 0 AS span
        FROM pg_temp.stage_contact
        WHERE event_id <> ALL (void_new)
        GROUP BY participant, 2, source, with_role, mode, initiated_by
        UNION ALL
        SELECT s.participant, r.day, s.source, 'crisis', s.kind::text, NULL, NULL, NULL, NULL,
               sum(r.events)::integer, sum(r.days)::integer, sum(r.billable_days)::integer, 0,
               r.span
        FROM pg_temp.stage_crisis s
        CROSS JOIN LATERAL (SELECT (s.occurred_at AT TIME ZONE tz)::date AS day) o
        CROSS JOIN LATERAL koers.stay_rows(s.participant, o.day - greatest(coalesce(s.days, 0), 0),
                                           CASE WHEN s.days > 0 THEN o.day END) r
        WHERE s.event_id <> ALL (void_new) AND s.participant <> ALL (skip)
        GROUP BY s.participant, r.day, s.source, s.kind, r.span
        UNION ALL
        SELECT participant, (occurred_at AT TIME ZONE tz)::date, source, 'police_call', kind::text,
               NULL, NULL, caller::text, outcome::text, count(*)::integer, 0, 0, 0, 0
        FROM pg_temp.stage_police_call
        WHERE event_id <> ALL (void_new)
        GROUP BY participant, 2, source, kind, caller, outcome
    )
    SELECT u.participant, u.day, u.source, u.event_type, u.kind, u.mode, u.initiated_by, u.caller,
           u.outcome, u.events, u.days, u.billable_days, u.minutes,
           koers.period_label(u.day, f.start_day,
               EXISTS (SELECT 1 FROM koers.enrolment_span s
                       WHERE s.participant = u.participant AND u.day >= s.start_day
                         AND (s.end_day IS NULL OR u.day < s.end_day))),
           u.span
    FROM u LEFT JOIN koers.enrolment_span f ON f.participant = u.participant AND f.span_no = 1
    ORDER BY u.participant, u.day
    $$;

-- Adds labelled rows to daily_use: a row of the same key grows, else a new row. A day after
-- the participant's last event day has no row yet (found without a lookup).
CREATE FUNCTION koers.use_add(nu koers.daily_use[]) RETURNS void
    LANGUAGE sql VOLATILE
    AS $$
    WITH l AS (
        SELECT n.*, q.last_event_day IS NULL OR n.day > q.last_event_day AS fresh
        FROM unnest(nu) n LEFT JOIN koers.participant q ON q.participant = n.participant
    ), upd AS (
        -- Found through (participant, day); the advisory locks keep anyone else from adding
        -- the same key meanwhile.
        UPDATE koers.daily_use d
        SET events = d.events + l.events, days = d.days + l.days,
            billable_days = d.billable_days + l.billable_days, minutes = d.minutes + l.minutes
        FROM l
        WHERE NOT l.fresh
          AND d.participant = l.participant AND d.day = l.day AND d.source = l.source
          AND d.event_type = l.event_type AND d.kind = l.kind AND d.span = l.span
          AND d.mode IS NOT DISTINCT FROM l.mode AND d.initiated_by IS NOT DISTINCT FROM l.initiated_by
          AND d.caller IS NOT DISTINCT FROM l.caller AND d.outcome IS NOT DISTINCT FROM l.outcome
        RETURNING d.participant, d.day, d.source, d.event_type, d.kind, d.span,
                  coalesce(d.mode, '') AS mode, coalesce(d.initiated_by, '') AS initiated_by,
                  coalesce(d.caller, '') AS caller, coalesce(d.outcome, '') AS outcome
    )
    INSERT INTO koers.daily_use
    SELECT participant, day, source, event_type, kind, mode, initiated_by, caller, outcome,
           events, days, billable_days, minutes, period, span
    FROM l
    WHERE l.fresh OR NOT EXISTS (SELECT 1 FROM upd
                      WHERE upd.participant = l.participant AND upd.day = l.day
                        AND upd.source = l.source AND upd.event_type = l.event_type
                        AND upd.kind = l.kind AND upd.span = l.span
                        AND upd.mode = coalesce(l.mode, '')
                        AND upd.initiated_by = coalesce(l.initiated_by, '')
                        AND upd.caller = coalesce(l.caller, '')
                        AND upd.outcome = coalesce(l.outcome, ''))
    ORDER BY participant, day
    $$;

-- Takes voided contacts and police calls out of daily_use: per key, a row that only they
-- made goes, the others shrink. Returns what was taken out, for the monthly counts.
CREATE FUNCTION koers.use_take_out(ids uuid[], owners text[], tz text)
    RETURNS SETOF koers.daily_use
    LANGUAGE sql VOLATILE
    AS $$
    WITH g AS (
        SELECT participant, day, source, event_type, kind, mode, initiated_by, caller, outcome,
               count(*)::integer AS events, sum(minutes)::integer AS minutes
        FROM koers.use_of_events(ids, owners, tz) GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9
    ), gone AS (
        DELETE FROM koers.daily_use d USING g
        WHERE d.participant = g.participant AND d.day = g.day AND d.source = g.source
          AND d.event_type = g.event_type AND d.kind = g.kind AND d.span = 0
          AND d.mode IS NOT DISTINCT FROM g.mode
          AND d.initiated_by IS NOT DISTINCT FROM g.initiated_by
          AND d.caller IS NOT DISTINCT FROM g.caller AND d.outcome IS NOT DISTINCT FROM g.outcome
          AND d.events = g.events
    ), shrunk AS (
        UPDATE koers.daily_use d
        SET events = d.events - g.events, minutes = d.minutes - g.minutes
        FROM g
        WHERE d.participant = g.participant AND d.day = g.day AND d.source = g.source
          AND d.event_type = g.event_type AND d.kind = g.kind AND d.span = 0
          AND d.mode IS NOT DISTINCT FROM g.mode
          AND d.initiated_by IS NOT DISTINCT FROM g.initiated_by
          AND d.caller IS NOT DISTINCT FROM g.caller AND d.outcome IS NOT DISTINCT FROM g.outcome
          AND d.events > g.events
    )
    SELECT participant, day, source, event_type, kind, mode, initiated_by, caller, outcome,
           events, 0, 0, minutes, NULL, 0
    FROM g
    $$;

-- Cuts the stays of participants anew from the raw crisis table: their crisis rows and open
-- stays are replaced. Returns the rows added and, negated, the rows removed.
CREATE FUNCTION koers.stays_recut(ps text[], tz text)
    RETURNS SETOF koers.daily_use
    LANGUAGE sql VOLATILE
    AS $$
    WITH old AS (
        DELETE FROM koers.daily_use WHERE participant = ANY (ps) AND event_type = 'crisis'
        RETURNING *
    ), gone AS (
        DELETE FROM koers.open_stay WHERE participant = ANY (ps)
    ), opened AS (
        INSERT INTO koers.open_stay
        SELECT participant, source, kind, first_day FROM koers.crisis_stays(ps, tz) WHERE open
    ), new AS (
        INSERT INTO koers.daily_use SELECT * FROM koers.crisis_use_build(ps, tz) RETURNING *
    )
    SELECT * FROM new
    UNION ALL
    SELECT participant, day, source, event_type, kind, mode, initiated_by, caller, outcome,
           -events, -days, -billable_days, -minutes, period, span
    FROM old
    $$;

-- Applies a change of daily_use (rows added; rows taken out with negative counts) to the
-- monthly counts; a month left with nothing goes.
CREATE FUNCTION koers.month_count_apply(delta koers.daily_use[]) RETURNS void
    LANGUAGE sql VOLATILE
    AS $$
    INSERT INTO koers.participant_month_count AS m
        SELECT * FROM koers.month_count_rows(delta)
        ON CONFLICT (participant, month) DO UPDATE SET
            contacts = m.contacts + excluded.contacts,
            contact_minutes = m.contact_minutes + excluded.contact_minutes,
            outreach_contacts = m.outreach_contacts + excluded.outreach_contacts,
            home_visit_contacts = m.home_visit_contacts + excluded.home_visit_contacts,
            participant_initiated_contacts = m.participant_initiated_contacts + excluded.participant_initiated_contacts,
            significant_other_contacts = m.significant_other_contacts + excluded.significant_other_contacts,
            experience_expert_contacts = m.experience_expert_contacts + excluded.experience_expert_contacts,
            crisis_events = m.crisis_events + excluded.crisis_events,
            crisis_contact = m.crisis_contact + excluded.crisis_contact,
            crisis_admission = m.crisis_admission + excluded.crisis_admission,
            emergency_department = m.emergency_department + excluded.emergency_department,
            compulsory_care = m.compulsory_care + excluded.compulsory_care,
            respite_stay = m.respite_stay + excluded.respite_stay,
            shelter_night = m.shelter_night + excluded.shelter_night,
            crisis_days = m.crisis_days + excluded.crisis_days,
            stay_days = m.stay_days + excluded.stay_days,
            police_calls = m.police_calls + excluded.police_calls,
            police_confused_person = m.police_confused_person + excluded.police_confused_person,
            police_nuisance = m.police_nuisance + excluded.police_nuisance,
            police_threat_violence = m.police_threat_violence + excluded.police_threat_violence,
            police_welfare_check = m.police_welfare_check + excluded.police_welfare_check,
            police_arrest = m.police_arrest + excluded.police_arrest,
            police_victim = m.police_victim + excluded.police_victim,
            police_other = m.police_other + excluded.police_other;
    -- Every daily_use row has an event or a stay day, so a month with neither has no row
    -- left (contacts and police calls are events; minutes come with contacts). A second
    -- statement: one statement does not see its own updates.
    DELETE FROM koers.participant_month_count m
    USING (SELECT DISTINCT participant, date_trunc('month', day)::date AS month FROM unnest(delta)) t
    WHERE m.participant = t.participant AND m.month = t.month
      AND m.contacts = 0 AND m.crisis_events = 0 AND m.police_calls = 0
      AND m.crisis_days = 0 AND m.stay_days = 0;
    $$;

-- Relabels the daily_use rows of participants (only their crisis rows with crisis_only)
-- from their current spans; only rows whose label changes are written.
CREATE FUNCTION koers.use_relabel(ps text[], crisis_only boolean) RETURNS void
    LANGUAGE sql VOLATILE
    AS $$
    WITH n AS (
        SELECT d.ctid AS id, d.period AS old,
               koers.period_label(d.day, f.start_day,
                   EXISTS (SELECT 1 FROM koers.enrolment_span s
                           WHERE s.participant = d.participant AND d.day >= s.start_day
                             AND (s.end_day IS NULL OR d.day < s.end_day))) AS period
        FROM koers.daily_use d
        LEFT JOIN koers.enrolment_span f ON f.participant = d.participant AND f.span_no = 1
        WHERE d.participant = ANY (ps) AND (NOT crisis_only OR d.event_type = 'crisis')
    )
    UPDATE koers.daily_use d SET period = n.period
    FROM n WHERE d.ctid = n.id AND n.period IS DISTINCT FROM n.old
    $$;

-- New spans for participants whose enrolment changed, and their rows relabelled.
CREATE FUNCTION koers.spans_relabel(ps text[], tz text) RETURNS void
    LANGUAGE sql VOLATILE
    AS $$
    DELETE FROM koers.enrolment_span WHERE participant = ANY (ps);
    INSERT INTO koers.enrolment_span SELECT * FROM koers.spans_build(ps, tz);
    SELECT koers.use_relabel(ps, false);
    $$;

-- Counts per event type, source and month: every new row, whoever it belongs to.
CREATE FUNCTION koers.staged_count_months(tz text) RETURNS void
    LANGUAGE sql VOLATILE
    AS $$
    INSERT INTO koers.event_count_month AS c (event_type, source, month, events)
    SELECT event_type, source, date_trunc('month', occurred_at AT TIME ZONE tz)::date, count(*)
    FROM (
        SELECT 'enrolment' AS event_type, source, occurred_at FROM pg_temp.stage_enrolment
        UNION ALL SELECT 'contact', source, occurred_at FROM pg_temp.stage_contact
        UNION ALL SELECT 'crisis', source, occurred_at FROM pg_temp.stage_crisis
        UNION ALL SELECT 'goal_change', source, occurred_at FROM pg_temp.stage_goal_change
        UNION ALL SELECT 'police_call', source, occurred_at FROM pg_temp.stage_police_call
        UNION ALL SELECT 'correction', source, occurred_at FROM pg_temp.stage_correction) s
    GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
    ON CONFLICT (event_type, source, month) DO UPDATE SET events = c.events + excluded.events
    $$;

-- Coverage statements per source and month, from a consumer that stages them (one older than
-- sql/0011 does not).
CREATE FUNCTION koers.staged_count_coverage(tz text) RETURNS void
    LANGUAGE sql VOLATILE
    AS $$
    INSERT INTO koers.event_count_month AS c (event_type, source, month, events)
    SELECT 'coverage', source, date_trunc('month', occurred_at AT TIME ZONE tz)::date, count(*)
    FROM pg_temp.stage_coverage
    GROUP BY 2, 3 ORDER BY 2, 3
    ON CONFLICT (event_type, source, month) DO UPDATE SET events = c.events + excluded.events
    $$;

-- Events stored by earlier batches that this batch's corrections void first.
CREATE FUNCTION koers.staged_voids()
    RETURNS TABLE (event_id uuid, event_type text, participant text)
    LANGUAGE sql VOLATILE
    AS $$
    SELECT t.event_id, t.event_type, t.participant
    FROM (SELECT DISTINCT target_event_id AS id FROM pg_temp.stage_correction s
          WHERE NOT EXISTS (SELECT 1 FROM koers.correction o
                            WHERE o.target_event_id = s.target_event_id
                              AND NOT EXISTS (SELECT 1 FROM pg_temp.stage_correction n
                                              WHERE n.event_id = o.event_id))) c
    CROSS JOIN LATERAL (
        SELECT 'enrolment' AS event_type, e.participant, e.event_id FROM koers.enrolment e WHERE e.event_id = c.id
        UNION ALL SELECT 'contact', e.participant, e.event_id FROM koers.contact e WHERE e.event_id = c.id
        UNION ALL SELECT 'crisis', e.participant, e.event_id FROM koers.crisis e WHERE e.event_id = c.id
        UNION ALL SELECT 'goal_change', e.participant, e.event_id FROM koers.goal_change e WHERE e.event_id = c.id
        UNION ALL SELECT 'police_call', e.participant, e.event_id FROM koers.police_call e WHERE e.event_id = c.id
        UNION ALL SELECT 'correction', e.participant, e.event_id FROM koers.correction e WHERE e.event_id = c.id) t
    WHERE NOT EXISTS (SELECT 1 FROM pg_temp.stage_enrolment x WHERE x.event_id = t.event_id)
      AND NOT EXISTS (SELECT 1 FROM pg_temp.stage_contact x WHERE x.event_id = t.event_id)
      AND NOT EXISTS (SELECT 1 FROM pg_temp.stage_crisis x WHERE x.event_id = t.event_id)
      AND NOT EXISTS (SELECT 1 FROM pg_temp.stage_goal_change x WHERE x.event_id = t.event_id)
      AND NOT EXISTS (SELECT 1 FROM pg_temp.stage_police_call x WHERE x.event_id = t.event_id)
      AND NOT EXISTS (SELECT 1 FROM pg_temp.stage_correction x WHERE x.event_id = t.event_id)
    $$;

-- Lateness: the batch's rows (voided or not), and the newly voided ones (v_id) move over. A
-- valid event in a month after the participant's last event day starts a new row.
CREATE FUNCTION koers.staged_lateness(void_new uuid[], v_id uuid[], owners text[], tz text)
    RETURNS void
    LANGUAGE sql VOLATILE
    AS $$
    WITH e AS (
        SELECT e.participant, e.source, e.event_type,
               date_trunc('month', e.occurred_at AT TIME ZONE tz)::date AS month,
               e.event_id = ANY (void_new) AS voided,
               floor(extract(epoch FROM e.recorded_at - e.occurred_at) / 60)::integer AS lateness_min,
               count(*) AS n
        FROM (
            SELECT 'enrolment' AS event_type, participant, source, occurred_at, recorded_at, event_id
            FROM pg_temp.stage_enrolment
            UNION ALL SELECT 'contact', participant, source, occurred_at, recorded_at, event_id
            FROM pg_temp.stage_contact
            UNION ALL SELECT 'crisis', participant, source, occurred_at, recorded_at, event_id
            FROM pg_temp.stage_crisis
            UNION ALL SELECT 'goal_change', participant, source, occurred_at, recorded_at, event_id
            FROM pg_temp.stage_goal_change
            UNION ALL SELECT 'police_call', participant, source, occurred_at, recorded_at, event_id
            FROM pg_temp.stage_police_call
            UNION ALL SELECT 'correction', participant, source, occurred_at, recorded_at, event_id
            FROM pg_temp.stage_correction
        ) e
        GROUP BY 1, 2, 3, 4, 5, 6
    ), f AS (
        SELECT e.*, e.event_type <> 'correction' AND NOT e.voided
                    AND (q.last_event_day IS NULL
                         OR e.month > date_trunc('month', q.last_event_day)::date) AS fresh
        FROM e LEFT JOIN koers.participant q ON q.participant = e.participant
    ), fresh AS (
        INSERT INTO koers.event_lateness
        SELECT participant, source, event_type, month, voided, lateness_min, n FROM f
        WHERE fresh ORDER BY 1, 2, 3, 4, 5, 6
    )
    INSERT INTO koers.event_lateness AS l
    SELECT participant, source, event_type, month, voided, lateness_min, n FROM f
    WHERE NOT fresh ORDER BY 1, 2, 3, 4, 5, 6
    ON CONFLICT (participant, source, event_type, month, voided, lateness_min)
    DO UPDATE SET events = l.events + excluded.events;

    WITH t AS (
        SELECT participant, source, event_type,
               date_trunc('month', occurred_at AT TIME ZONE tz)::date AS month,
               floor(extract(epoch FROM recorded_at - occurred_at) / 60)::integer AS lateness_min,
               count(*) AS n
        FROM (
            SELECT 'enrolment' AS event_type, participant, source, occurred_at, recorded_at
            FROM koers.enrolment WHERE event_id = ANY (v_id)
            UNION ALL SELECT 'contact', participant, source, occurred_at, recorded_at
            FROM koers.contact WHERE event_id = ANY (v_id)
            UNION ALL SELECT 'crisis', participant, source, occurred_at, recorded_at
            FROM koers.crisis WHERE event_id = ANY (v_id)
            UNION ALL SELECT 'goal_change', participant, source, occurred_at, recorded_at
            FROM koers.goal_change WHERE event_id = ANY (v_id)
            UNION ALL SELECT 'police_call', participant, source, occurred_at, recorded_at
            FROM koers.police_call WHERE event_id = ANY (v_id)
            UNION ALL SELECT 'correction', participant, source, occurred_at, recorded_at
            FROM koers.correction WHERE event_id = ANY (v_id)
        ) e
        WHERE participant = ANY (owners)
        GROUP BY 1, 2, 3, 4, 5
    ), gone AS (
        DELETE FROM koers.event_lateness l USING t
        WHERE l.participant = t.participant AND l.source = t.source
          AND l.event_type = t.event_type AND l.month = t.month AND NOT l.voided
          AND l.lateness_min = t.lateness_min AND l.events = t.n
    ), dec AS (
        UPDATE koers.event_lateness l SET events = l.events - t.n
        FROM t
        WHERE l.participant = t.participant AND l.source = t.source
          AND l.event_type = t.event_type AND l.month = t.month AND NOT l.voided
          AND l.lateness_min = t.lateness_min AND l.events > t.n
    )
    INSERT INTO koers.event_lateness AS l
    SELECT participant, source, event_type, month, true, lateness_min, n FROM t
    ON CONFLICT (participant, source, event_type, month, voided, lateness_min)
    DO UPDATE SET events = l.events + excluded.events;
    $$;

-- Participants: a new valid event can only widen first/last_event_day; participants whose
-- spans or stays were redone, and owners of voided events on their first or last day, are
-- recomputed from the prepared tables (elsewhere a voided event changes nothing).
CREATE FUNCTION koers.staged_participants(nu koers.daily_use[], void_new uuid[], redone text[],
                                          v_id uuid[], owners text[], tz text)
    RETURNS void
    LANGUAGE plpgsql
    AS $fn$
DECLARE
    rc text[];
BEGIN
    INSERT INTO koers.participant AS p
        (participant, cohort, first_enrolled, before_start, first_event_day, last_event_day,
         open_since, last_span_end)
    SELECT x.participant, s1.cohort, s1.start_day, (s1.start_day - interval '12 months')::date,
           x.lo, x.hi,
           (SELECT s.start_day FROM koers.enrolment_span s
            WHERE s.participant = x.participant AND s.end_day IS NULL),
           (SELECT max(s.end_day) FROM koers.enrolment_span s WHERE s.participant = x.participant)
    FROM (
        SELECT participant, min(day) AS lo, max(day) AS hi FROM (
            SELECT participant, day FROM unnest(nu)
            UNION ALL SELECT participant, (occurred_at AT TIME ZONE tz)::date FROM pg_temp.stage_goal_change
            WHERE event_id <> ALL (void_new)
        ) n GROUP BY participant ORDER BY participant
    ) x
    LEFT JOIN koers.enrolment_span s1 ON s1.participant = x.participant AND s1.span_no = 1
    ON CONFLICT (participant) DO UPDATE SET
        first_event_day = least(p.first_event_day, excluded.first_event_day),
        last_event_day = greatest(p.last_event_day, excluded.last_event_day);
    rc := ARRAY(
        SELECT unnest(redone)
        UNION
        SELECT p.participant FROM koers.participant p
        WHERE p.participant = ANY (owners)
          AND EXISTS (SELECT 1 FROM (
                  SELECT u.participant, u.day FROM koers.use_of_events(v_id, owners, tz) u
                  UNION ALL
                  SELECT g.participant, (g.occurred_at AT TIME ZONE tz)::date FROM koers.goal_change g
                  WHERE g.event_id = ANY (v_id)) v
              WHERE v.participant = p.participant
                AND v.day IN (p.first_event_day, p.last_event_day)));
    IF cardinality(rc) > 0 THEN
        DELETE FROM koers.participant WHERE participant = ANY (rc);
        INSERT INTO koers.participant SELECT * FROM koers.participant_build(rc, tz);
    END IF;
END
$fn$;

SET LOCAL check_function_bodies = on;

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
    'tables stage_<event type>: brings event_count_month and every prepared table up to date. '
    'Participants with a new enrolment change or crisis episode record, or whose enrolment '
    'change or crisis event a correction voids, are rebuilt from the raw tables; the rest is '
    'added by difference (one update per key per batch). Gives the same rows as '
    'refresh_participants(); takes the same advisory locks. Must run at READ COMMITTED. '
    'Returns the number of participants in the batch.';

------------------------------------------------------------------------------------------
-- Readers: daily use at an as-of date, and the windows.
------------------------------------------------------------------------------------------

-- Daily use as it stood at the end of the as-of day: stay pieces cut at it, open stays
-- counted up to it.
CREATE FUNCTION koers.use_at(as_of date)
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

-- The days of a set of date ranges.
CREATE FUNCTION koers.days_in(m datemultirange) RETURNS integer
    LANGUAGE sql IMMUTABLE
    AS $$ SELECT coalesce(sum(upper(r) - lower(r)), 0)::integer FROM unnest(m) r $$;

-- The windows of each participant enrolled by as_of, as sets of days. Per-protocol: the
-- enrolled days; intention-to-treat: every day from the first enrolled day; follow-up: the
-- 12 months from the day of an exit that no later span follows; before: the 12 months
-- before the first enrolled day. All cut at the as-of day (included).
CREATE FUNCTION koers.window_ranges(as_of date)
    RETURNS TABLE (participant text, cohort text, window_name text, days datemultirange)
    LANGUAGE sql STABLE
    AS $$
    WITH p AS (
        SELECT p.participant, p.cohort, p.first_enrolled, p.before_start,
               (SELECT s.end_day FROM koers.enrolment_span s
                WHERE s.participant = p.participant AND s.start_day <= as_of
                ORDER BY s.span_no DESC LIMIT 1) AS last_end,
               (SELECT s.ended_by FROM koers.enrolment_span s
                WHERE s.participant = p.participant AND s.start_day <= as_of
                ORDER BY s.span_no DESC LIMIT 1) AS last_ended_by
        FROM koers.participant p WHERE p.first_enrolled <= as_of
    )
    SELECT participant, cohort, 'before', datemultirange(daterange(before_start, first_enrolled))
    FROM p
    UNION ALL
    SELECT p.participant, p.cohort, 'per_protocol',
           coalesce((SELECT range_agg(daterange(s.start_day, least(coalesce(s.end_day, as_of + 1), as_of + 1)))
                     FROM koers.enrolment_span s
                     WHERE s.participant = p.participant AND s.start_day <= as_of),
                    '{}'::datemultirange)
    FROM p
    UNION ALL
    SELECT participant, cohort, 'intention_to_treat', datemultirange(daterange(first_enrolled, as_of + 1))
    FROM p
    UNION ALL
    SELECT participant, cohort, 'follow_up',
           datemultirange(daterange(last_end, least((last_end + interval '12 months')::date, as_of + 1)))
    FROM p WHERE last_ended_by = 'exited' AND last_end <= as_of
    $$;
COMMENT ON FUNCTION koers.window_ranges(date) IS
    'Per participant enrolled by as_of, the days of each window: before (the 12 calendar months '
    'before the first enrolled day), per_protocol (enrolled days), intention_to_treat (every day '
    'from the first enrolled day, paused and after-exit time included), follow_up (the 12 months '
    'from the day of the last exit, when no span followed it); all up to the as-of day included.';

CREATE FUNCTION koers.window_exposure(as_of date)
    RETURNS TABLE (participant text, cohort text, window_name text, days integer)
    LANGUAGE sql STABLE
    AS $$ SELECT participant, cohort, window_name, koers.days_in(days) FROM koers.window_ranges(as_of) $$;
COMMENT ON FUNCTION koers.window_exposure(date) IS
    'The days of each window of koers.window_ranges.';

-- Source coverage. A source that states the period its data of an event type cover makes
-- every other day unknown for that type: such a day adds neither events nor person-months
-- to the type's measures. Several sources of a type: the days all of them cover.
CREATE FUNCTION koers.covered_days(t text) RETURNS datemultirange
    LANGUAGE sql STABLE
    AS $$
    SELECT range_intersect_agg(m) FROM (
        SELECT range_agg(daterange(covered_from, covered_to + 1)) AS m
        FROM koers.coverage_valid WHERE covered_type::text = t GROUP BY source) s
    $$;
COMMENT ON FUNCTION koers.covered_days(text) IS
    'The days whose data of event type t are known: the days every source that stated its '
    'coverage of t covers (covered_from .. covered_to, an open end running on); NULL when no '
    'source stated any (every day counts).';

-- The measures of the windows, one row per participant and window.
CREATE TYPE koers.window_row AS (
    participant           text,
    cohort                text,
    window_name           text,
    days                  integer,
    person_months         numeric,
    acute_events          integer,
    acute_days            integer,
    alternative_events    integer,
    alternative_days      integer,
    police_use_calls      integer,
    confused_person_calls integer,
    police_victim_calls   integer,
    crisis_covered_days   integer,
    police_covered_days   integer
);

CREATE FUNCTION koers.window_measures(as_of date)
    RETURNS SETOF koers.window_row
    LANGUAGE sql STABLE
    AS $$
    WITH cov AS (
        SELECT coalesce(koers.covered_days('crisis'), '{(,)}'::datemultirange) AS crisis,
               coalesce(koers.covered_days('police_call'), '{(,)}'::datemultirange) AS police
    ), w AS (
        SELECT r.*, koers.days_in(r.days) AS n_days,
               koers.days_in(r.days * cov.crisis) AS crisis_days,
               koers.days_in(r.days * cov.police) AS police_days
        FROM koers.window_ranges(as_of) r, cov
    ), u AS (
        -- A row holds pieces of stays alike in [day, day + its days); its covered days count.
        SELECT d.participant, d.day, d.events,
               CASE WHEN d.span > 0
                    THEN d.days / least(d.span, as_of + 1 - d.day)
                         * koers.days_in(datemultirange(daterange(d.day, d.day + least(d.span, as_of + 1 - d.day)))
                                         * CASE d.event_type WHEN 'crisis' THEN cov.crisis ELSE cov.police END)
                    ELSE 0 END AS days,
               d.day <@ CASE d.event_type WHEN 'crisis' THEN cov.crisis ELSE cov.police END AS known,
               CASE d.event_type WHEN 'crisis' THEN koers.crisis_group(d.kind::koers.crisis_kind)
                                 ELSE 'police_' || koers.police_group(d.kind::koers.police_call_kind) END
                   AS grp,
               d.kind
        FROM koers.use_at(as_of) d, cov
        WHERE d.event_type IN ('crisis', 'police_call')
    ), m AS (
        SELECT w.participant, w.window_name,
               sum(u.events) FILTER (WHERE u.grp = 'acute' AND u.known) AS ae,
               sum(u.days) FILTER (WHERE u.grp = 'acute') AS ad,
               sum(u.events) FILTER (WHERE u.grp = 'alternative' AND u.known) AS se,
               sum(u.days) FILTER (WHERE u.grp = 'alternative') AS sd,
               sum(u.events) FILTER (WHERE u.grp = 'police_use' AND u.known) AS pu,
               sum(u.events) FILTER (WHERE u.grp = 'police_use' AND u.kind = 'confused_person'
                                     AND u.known) AS pc,
               sum(u.events) FILTER (WHERE u.grp = 'police_victim' AND u.known) AS pv
        FROM w JOIN u ON u.participant = w.participant AND u.day <@ w.days
        GROUP BY 1, 2
    )
    SELECT w.participant, w.cohort, w.window_name, w.n_days,
           round(w.n_days / koers.person_month_days(), 4),
           coalesce(ae, 0)::integer, coalesce(ad, 0)::integer, coalesce(se, 0)::integer,
           coalesce(sd, 0)::integer, coalesce(pu, 0)::integer, coalesce(pc, 0)::integer,
           coalesce(pv, 0)::integer, w.crisis_days, w.police_days
    FROM w LEFT JOIN m ON m.participant = w.participant AND m.window_name = w.window_name
    ORDER BY w.cohort, w.participant, w.window_name
    $$;
COMMENT ON FUNCTION koers.window_measures(date) IS
    'Crisis and police measures per participant and window (see window_ranges): acute crisis '
    'events and stay days, stay alternatives (respite_stay, shelter_night) apart, police calls '
    'about the participant (confused-person calls among them) and victim calls apart. A stay''s '
    'days count on the days they cover; its event on its first day. Days outside the stated '
    'coverage of their type (koers.covered_days) add neither events nor days; '
    'crisis_covered_days and police_covered_days are the window''s known days per type.';

DO $$
DECLARE
    c record;
BEGIN
    FOR c IN SELECT * FROM (VALUES
        ('participant', 'Pseudonym.'),
        ('cohort', 'Cohort of the participant.'),
        ('window_name', 'before, per_protocol, intention_to_treat or follow_up.'),
        ('days', 'Days of the window up to the as-of day.'),
        ('person_months', 'days / 30.4375 (4 decimals).'),
        ('acute_events', 'Acute crisis events: crisis_contact, emergency_department, crisis_admission, compulsory_care (a stay counts on its first day).'),
        ('acute_days', 'Days of acute stays (crisis_admission, compulsory_care, ...) that fall in the window.'),
        ('alternative_events', 'Stay alternatives: respite_stay and shelter_night events.'),
        ('alternative_days', 'Days of respite stays and shelter nights in the window.'),
        ('police_use_calls', 'Police calls about the participant (every kind but victim).'),
        ('confused_person_calls', 'Of those, confused_person calls.'),
        ('police_victim_calls', 'Police calls where the participant was the victim (never priced).'),
        ('crisis_covered_days', 'Days of the window whose crisis data are known (within every crisis source''s stated coverage): the denominator of the crisis rates.'),
        ('police_covered_days', 'Days of the window whose police data are known: the denominator of the police rates.')
    ) AS v(col, doc) LOOP
        EXECUTE format('COMMENT ON COLUMN koers.window_row.%I IS %L', c.col, c.doc);
    END LOOP;
END
$$;

------------------------------------------------------------------------------------------
-- Spread and evidence: paired before/during rates per participant and their statistics.
------------------------------------------------------------------------------------------

-- Quantiles by linear interpolation between order statistics (Hyndman and Fan type 7, R's
-- default), exactly in numeric: percentile_cont works in double precision, whose rounding
-- would move figures shown to 4 decimals.
CREATE FUNCTION koers.quantile(x numeric[], p numeric) RETURNS numeric
    LANGUAGE sql IMMUTABLE
    AS $$
    WITH s AS (SELECT array_agg(v ORDER BY v) AS v, count(*) AS n FROM unnest(x) v WHERE v IS NOT NULL),
         h AS (SELECT v, n, (n - 1) * p + 1 AS h FROM s WHERE n > 0)
    SELECT v[floor(h)::integer] + (h - floor(h)) * (coalesce(v[floor(h)::integer + 1], v[floor(h)::integer])
                                                   - v[floor(h)::integer])
    FROM h
    $$;
COMMENT ON FUNCTION koers.quantile(numeric[], numeric) IS
    'The p-quantile of x (NULLs left out) by linear interpolation (type 7), exact in numeric.';

-- Standard normal upper tail from the Maclaurin series of erf in numeric: exact to far more
-- digits than a p-value shown to 4 decimals needs, and no approximation to disagree with.
CREATE FUNCTION koers.normal_upper_tail(z numeric) RETURNS numeric
    LANGUAGE plpgsql IMMUTABLE
    AS $fn$
DECLARE
    x numeric := abs(z) / sqrt(2.0::numeric(60, 50));
    term numeric := x;
    erf numeric := x;
    n integer := 0;
BEGIN
    IF abs(z) > 8 THEN  -- below 1e-15: zero at any precision shown
        RETURN CASE WHEN z > 0 THEN 0 ELSE 1 END;
    END IF;
    LOOP
        n := n + 1;
        term := round(-term * x * x / n, 50);
        erf := erf + term / (2 * n + 1);
        EXIT WHEN abs(term) < 1e-40;
    END LOOP;
    erf := erf * 2 / sqrt(3.14159265358979323846264338327950288419716939937510::numeric(60, 50));
    RETURN CASE WHEN z >= 0 THEN (1 - erf) / 2 ELSE (1 + erf) / 2 END;
END
$fn$;
COMMENT ON FUNCTION koers.normal_upper_tail(numeric) IS
    'P(Z >= z) for a standard normal Z, from the series of erf in numeric.';

CREATE TYPE koers.paired_stats AS (
    n                  integer,   -- pairs
    n_nonzero          integer,   -- pairs with a difference (the signed-rank test's n)
    w_plus             numeric,   -- sum of the ranks of the positive differences
    p_value            numeric,   -- two-sided
    p_method           text,      -- exact or normal
    median_difference  numeric,
    q1_difference      numeric,
    q3_difference      numeric,
    boot_lo            numeric,   -- bootstrap 95% interval of the median difference
    boot_hi            numeric
);

-- Wilcoxon signed-rank test on d = during - before (zero differences dropped, tied |d| given
-- their mean rank): exact two-sided p from the permutation distribution of W+ for up to 25
-- non-zero differences, else the normal approximation with tie and continuity correction.
-- Bootstrap: 2,000 resamples of the n differences with replacement, drawn with a fixed
-- stream (index = first 8 hex digits of md5('koers:<resample>:<draw>') mod n), so a rerun
-- and any other implementation give the same interval; the 2.5th and 97.5th percentiles
-- (linear interpolation) of the resamples' medians.
CREATE FUNCTION koers.paired_statistics(d numeric[]) RETURNS koers.paired_stats
    LANGUAGE plpgsql IMMUTABLE
    AS $fn$
DECLARE
    r koers.paired_stats;
    nz numeric[];
    ranks numeric[];
    m integer;
    i integer;
    j integer;
    k integer;
    s2 integer;            -- twice the sum of ranks: midranks are multiples of 0.5
    total2 integer := 0;
    dist double precision[];
    w2 integer;
    p_lo double precision := 0;
    p_hi double precision := 0;
    mu numeric;
    sigma2 numeric;
    z numeric;
    ties numeric := 0;
BEGIN
    r.n := coalesce(cardinality(d), 0);
    IF r.n = 0 THEN
        RETURN r;
    END IF;
    r.median_difference := koers.quantile(d, 0.5);
    r.q1_difference := koers.quantile(d, 0.25);
    r.q3_difference := koers.quantile(d, 0.75);

    nz := ARRAY(SELECT x FROM unnest(d) x WHERE x <> 0 ORDER BY abs(x));
    m := cardinality(nz);
    r.n_nonzero := m;
    IF m > 0 THEN
        -- Mean ranks of |d| (first rank + (ties - 1) / 2), doubled to stay integers.
        ranks := ARRAY(SELECT (2 * (rank() OVER (ORDER BY abs(x))) + (count(*) OVER (PARTITION BY abs(x))) - 1)::numeric
                       FROM unnest(nz) WITH ORDINALITY AS t(x, o) ORDER BY o);
        w2 := 0;
        FOR i IN 1..m LOOP
            total2 := total2 + ranks[i]::integer;
            IF nz[i] > 0 THEN
                w2 := w2 + ranks[i]::integer;
            END IF;
        END LOOP;
        r.w_plus := round(w2 / 2.0, 1);
        IF m <= 25 THEN
            -- dist[s + 1]: number of sign assignments whose doubled positive rank sum is s.
            dist := array_fill(0::double precision, ARRAY[total2 + 1]);
            dist[1] := 1;
            FOR i IN 1..m LOOP
                k := ranks[i]::integer;
                FOR j IN REVERSE total2..k LOOP
                    dist[j + 1] := dist[j + 1] + dist[j - k + 1];
                END LOOP;
            END LOOP;
            FOR s2 IN 0..total2 LOOP
                IF s2 <= w2 THEN p_lo := p_lo + dist[s2 + 1]; END IF;
                IF s2 >= w2 THEN p_hi := p_hi + dist[s2 + 1]; END IF;
            END LOOP;
            r.p_value := round(least(1.0, 2 * least(p_lo, p_hi) / power(2.0, m))::numeric, 4);
            r.p_method := 'exact';
        ELSE
            SELECT coalesce(sum(c * c * c - c), 0) INTO ties
            FROM (SELECT count(*)::numeric AS c FROM unnest(nz) x GROUP BY abs(x)) t;
            mu := m * (m + 1) / 4.0;
            sigma2 := m * (m + 1) * (2 * m + 1) / 24.0 - ties / 48.0;
            z := (r.w_plus - mu - sign(r.w_plus - mu) * 0.5) / sqrt(sigma2::numeric(60, 30));
            r.p_value := round(least(1.0, 2 * koers.normal_upper_tail(abs(z))), 4);
            r.p_method := 'normal';
        END IF;
    ELSE
        r.p_value := 1;
        r.p_method := 'exact';
        r.w_plus := 0.0;
    END IF;

    SELECT koers.quantile(array_agg(med), 0.025), koers.quantile(array_agg(med), 0.975)
    INTO r.boot_lo, r.boot_hi
    FROM (
        SELECT resample, koers.quantile(array_agg(d[1 + (('x' || substr(md5(
                   'koers:' || resample || ':' || draw), 1, 8))::bit(32)::bigint % r.n)::integer]),
                   0.5) AS med
        FROM generate_series(1, 2000) resample, generate_series(1, r.n) draw
        GROUP BY resample
    ) s;
    r.median_difference := round(r.median_difference, 4);
    r.q1_difference := round(r.q1_difference, 4);
    r.q3_difference := round(r.q3_difference, 4);
    r.boot_lo := round(r.boot_lo, 4);
    r.boot_hi := round(r.boot_hi, 4);
    RETURN r;
END
$fn$;
COMMENT ON FUNCTION koers.paired_statistics(numeric[]) IS
    'Spread and evidence of paired differences (during - before): n, the median and quartiles '
    '(linear interpolation), the Wilcoxon signed-rank test (W+ and a two-sided p: exact for up '
    'to 25 non-zero differences, else normal with tie and continuity correction) and a '
    'bootstrap 95% interval of the median difference (2,000 resamples from a fixed md5 stream).';

-- The measures that have a rate per person-month, in the order pages show them.
CREATE FUNCTION koers.window_measure_names() RETURNS text[]
    LANGUAGE sql IMMUTABLE
    AS $$ SELECT ARRAY['acute_events', 'acute_days', 'alternative_events', 'alternative_days',
                       'police_use_calls', 'confused_person_calls', 'police_victim_calls'] $$;

CREATE FUNCTION koers.window_paired(as_of date)
    RETURNS TABLE (participant text, cohort text, window_name text, measure text,
                   before_count integer, during_count integer, before_days integer,
                   during_days integer, before_rate numeric, during_rate numeric,
                   difference numeric, full_coverage boolean)
    LANGUAGE sql STABLE
    AS $$
    WITH w AS (SELECT * FROM koers.window_measures(as_of)),
    v AS (
        -- Each measure over the known days of its type.
        SELECT w.participant, w.cohort, w.window_name, x.measure, x.n, x.known,
               x.known = w.days AS full
        FROM w CROSS JOIN LATERAL unnest(koers.window_measure_names(),
            ARRAY[w.acute_events, w.acute_days, w.alternative_events, w.alternative_days,
                  w.police_use_calls, w.confused_person_calls, w.police_victim_calls],
            ARRAY[w.crisis_covered_days, w.crisis_covered_days, w.crisis_covered_days,
                  w.crisis_covered_days, w.police_covered_days, w.police_covered_days,
                  w.police_covered_days]) AS x(measure, n, known)
    )
    SELECT d.participant, d.cohort, d.window_name, d.measure, b.n, d.n, b.known, d.known,
           round(b.n * koers.person_month_days() / b.known, 4),
           round(d.n * koers.person_month_days() / d.known, 4),
           round(d.n * koers.person_month_days() / d.known, 4)
               - round(b.n * koers.person_month_days() / b.known, 4),
           b.full AND d.full
    FROM v d JOIN v b ON b.participant = d.participant AND b.measure = d.measure
                     AND b.window_name = 'before'
    WHERE d.window_name <> 'before' AND d.known > 0 AND b.known > 0
    ORDER BY d.cohort, d.participant, d.window_name, array_position(koers.window_measure_names(), d.measure)
    $$;
COMMENT ON FUNCTION koers.window_paired(date) IS
    'Per participant, window (per_protocol, intention_to_treat, follow_up) and measure: the '
    'count, known days and rate per person-month before and in the window, and the difference '
    '(during - before; rates rounded to 4 decimals first). Only participants with known days in '
    'both; full_coverage when every day of both windows is known for the measure''s type.';

CREATE FUNCTION koers.window_evidence(as_of date)
    RETURNS TABLE (cohort text, window_name text, measure text, n integer,
                   pooled_before_rate numeric, pooled_during_rate numeric,
                   median_before_rate numeric, q1_before_rate numeric, q3_before_rate numeric,
                   median_during_rate numeric, q1_during_rate numeric, q3_during_rate numeric,
                   stats koers.paired_stats, full_coverage integer)
    LANGUAGE sql STABLE
    AS $$
    SELECT cohort, window_name, measure, count(*)::integer,
           round(sum(before_count) * koers.person_month_days() / sum(before_days), 4),
           round(sum(during_count) * koers.person_month_days() / sum(during_days), 4),
           round(koers.quantile(array_agg(before_rate), 0.5), 4),
           round(koers.quantile(array_agg(before_rate), 0.25), 4),
           round(koers.quantile(array_agg(before_rate), 0.75), 4),
           round(koers.quantile(array_agg(during_rate), 0.5), 4),
           round(koers.quantile(array_agg(during_rate), 0.25), 4),
           round(koers.quantile(array_agg(during_rate), 0.75), 4),
           koers.paired_statistics(array_agg(difference ORDER BY participant)),
           (count(*) FILTER (WHERE full_coverage))::integer
    FROM koers.window_paired(as_of)
    GROUP BY cohort, window_name, measure
    ORDER BY cohort, window_name, array_position(koers.window_measure_names(), measure)
    $$;
COMMENT ON FUNCTION koers.window_evidence(date) IS
    'Per cohort, window and measure: n participants with both windows, the pooled rates (sum '
    'of counts / sum of person-months), the median and quartiles of the per-participant rates, '
    'the paired statistics of their differences (koers.paired_statistics), and how many of the n '
    'had full coverage (every day of both windows known for the measure''s type).';

------------------------------------------------------------------------------------------
-- GAS: abandoned goals keep their last score (setting gas_include_abandoned), achieved
-- without a score counts 0, a baseline T from each goal's first score.
------------------------------------------------------------------------------------------

ALTER TYPE koers.gas_tscore_row ADD ATTRIBUTE baseline_t_score numeric;
ALTER TYPE koers.gas_tscore_row ADD ATTRIBUTE t_score_change numeric;
ALTER TYPE koers.gas_tscore_row ADD ATTRIBUTE abandoned_included boolean;
COMMENT ON COLUMN koers.gas_tscore_row.goals_scored IS
    'Goals with a score at the as-of date (abandoned goals too unless the setting '
    'gas_include_abandoned is false; achieved without a score counts as 0).';
COMMENT ON COLUMN koers.gas_tscore_row.t_score IS
    'Kiresuk-Sherman T = 50 + 10*sum(w*x) / sqrt((1-rho)*sum(w^2) + rho*(sum w)^2), rho 0.3, x '
    'each scored goal''s latest score (an achieved without a score: 0), w its weight (1 where '
    'none given), 2 decimals; NULL when no goal is scored.';
COMMENT ON COLUMN koers.gas_tscore_row.baseline_t_score IS
    'The same T over each of those goals'' first score (the baseline).';
COMMENT ON COLUMN koers.gas_tscore_row.t_score_change IS 't_score - baseline_t_score.';
COMMENT ON COLUMN koers.gas_tscore_row.abandoned_included IS
    'Whether abandoned goals were kept with their last score (setting gas_include_abandoned).';

CREATE FUNCTION koers.gas_include_abandoned() RETURNS boolean
    LANGUAGE sql STABLE
    AS $$ SELECT coalesce((SELECT value::boolean FROM koers.setting
                           WHERE name = 'gas_include_abandoned'), true) $$;

-- The score of each goal change: the gas given, or 0 for an achieved without one.
CREATE FUNCTION koers.gas_of_change(change koers.goal_change_change, gas integer) RETURNS integer
    LANGUAGE sql IMMUTABLE
    AS $$ SELECT coalesce(gas, CASE WHEN change = 'achieved' THEN 0 END) $$;

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

CREATE VIEW koers.data_quality_gas AS
    SELECT h.participant, h.goal_ref, h.valid_from AS occurred_at, h.gas
    FROM koers.goal_history h WHERE h.change = 'achieved' AND h.gas < 0;
COMMENT ON VIEW koers.data_quality_gas IS
    'Data-quality findings: goals marked achieved with a GAS score below 0 (the expected level).';

------------------------------------------------------------------------------------------
-- Shares over the participants enrolled by the as-of date.
------------------------------------------------------------------------------------------

ALTER TYPE koers.goal_summary_row ADD ATTRIBUTE enrolled_participants integer;
COMMENT ON COLUMN koers.goal_summary_row.enrolled_participants IS
    'Participants of the cohort enrolled by the as-of date: the denominator of '
    'share_self_set_achieved.';
COMMENT ON COLUMN koers.goal_summary_row.share_self_set_achieved IS
    'participants_self_set_achieved / enrolled_participants (4 decimals): the share of the '
    'enrolled participants with at least one achieved self-set goal.';

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

------------------------------------------------------------------------------------------
-- Before versus during (per-protocol), on the window rules: crisis_* is acute crisis,
-- police_* is police use (victim calls apart); stay alternatives and victim calls beside.
------------------------------------------------------------------------------------------

ALTER TYPE koers.before_during_row
    ADD ATTRIBUTE alternative_before integer, ADD ATTRIBUTE alternative_during integer,
    ADD ATTRIBUTE alternative_days_before integer, ADD ATTRIBUTE alternative_days_during integer,
    ADD ATTRIBUTE victim_before integer, ADD ATTRIBUTE victim_during integer,
    ADD ATTRIBUTE alternative_days_before_rate numeric,
    ADD ATTRIBUTE alternative_days_during_rate numeric,
    ADD ATTRIBUTE crisis_known_months_before numeric, ADD ATTRIBUTE crisis_known_months_during numeric,
    ADD ATTRIBUTE police_known_months_before numeric, ADD ATTRIBUTE police_known_months_during numeric;
ALTER TYPE koers.before_during_cohort_row
    ADD ATTRIBUTE alternative_before integer, ADD ATTRIBUTE alternative_during integer,
    ADD ATTRIBUTE alternative_days_before integer, ADD ATTRIBUTE alternative_days_during integer,
    ADD ATTRIBUTE victim_before integer, ADD ATTRIBUTE victim_during integer,
    ADD ATTRIBUTE alternative_days_before_rate numeric,
    ADD ATTRIBUTE alternative_days_during_rate numeric,
    ADD ATTRIBUTE crisis_known_months_before numeric, ADD ATTRIBUTE crisis_known_months_during numeric,
    ADD ATTRIBUTE police_known_months_before numeric, ADD ATTRIBUTE police_known_months_during numeric;
DO $$
DECLARE
    c record;
BEGIN
    FOR c IN SELECT * FROM (VALUES
        ('crisis_before', 'Acute crisis events (crisis_contact, emergency_department, crisis_admission, compulsory_care) in the before period; a stay counts on its first day.'),
        ('crisis_during', 'Acute crisis events on enrolled days.'),
        ('crisis_days_before', 'Days of acute stays that fall in the before period (a stay covers [occurred_at - days, occurred_at), each day in its own period).'),
        ('crisis_days_during', 'Days of acute stays that fall on enrolled days up to as_of (an open stay up to as_of).'),
        ('police_before', 'Police calls about the participant (every kind but victim) in the before period.'),
        ('police_during', 'Police calls about the participant on enrolled days.'),
        ('alternative_before', 'Stay alternatives (respite_stay, shelter_night) in the before period.'),
        ('alternative_during', 'Stay alternatives on enrolled days.'),
        ('alternative_days_before', 'Days of respite stays and shelter nights in the before period.'),
        ('alternative_days_during', 'Days of respite stays and shelter nights on enrolled days.'),
        ('victim_before', 'Police calls where the participant was the victim, before (never priced).'),
        ('victim_during', 'Victim calls on enrolled days.'),
        ('alternative_days_before_rate', 'alternative_days_before per person-month.'),
        ('alternative_days_during_rate', 'alternative_days_during per person-month.'),
        ('person_months_before', 'Days of the before period / 30.4375 (4 decimals), known or not.'),
        ('person_months_during', 'Enrolled days up to as_of / 30.4375 (4 decimals), known or not.'),
        ('crisis_known_months_before', 'Person-months of the before period whose crisis data are known (within the crisis sources'' stated coverage): the denominator of the crisis and alternative rates.'),
        ('crisis_known_months_during', 'Person-months of enrolled time whose crisis data are known.'),
        ('police_known_months_before', 'Person-months of the before period whose police data are known: the denominator of the police rates.'),
        ('police_known_months_during', 'Person-months of enrolled time whose police data are known.'),
        ('crisis_before_rate', 'crisis_before per known person-month (crisis_known_months_before; 4 decimals; NULL with none).'),
        ('crisis_during_rate', 'crisis_during per known person-month.'),
        ('crisis_days_before_rate', 'crisis_days_before per known person-month.'),
        ('crisis_days_during_rate', 'crisis_days_during per known person-month.'),
        ('police_before_rate', 'police_before per known person-month (police_known_months_before).'),
        ('police_during_rate', 'police_during per known person-month.'),
        ('confused_before_rate', 'confused_before per known person-month.'),
        ('confused_during_rate', 'confused_during per known person-month.')
    ) AS v(col, doc) LOOP
        EXECUTE format('COMMENT ON COLUMN koers.before_during_row.%I IS %L', c.col, c.doc);
        EXECUTE format('COMMENT ON COLUMN koers.before_during_cohort_row.%I IS %L', c.col, c.doc);
    END LOOP;
END
$$;

-- Sums of window rows: per participant (by_participant) or per cohort.
CREATE FUNCTION koers.before_during_rows(as_of date, by_participant boolean)
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

------------------------------------------------------------------------------------------
-- Rights on what this file added (as 0007 set them for what existed then).
------------------------------------------------------------------------------------------

REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA koers FROM PUBLIC;
DO $$
DECLARE
    f record;
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'koers_reader')
       AND EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'koers_auth') THEN
        GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA koers TO koers_reader, koers_auth;
        GRANT SELECT ON koers.open_stay TO koers_reader;
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
GRANT SELECT, INSERT, UPDATE, DELETE ON koers.open_stay TO koers_consumer;
GRANT SELECT ON koers.open_stay, koers.data_quality_gas TO koers_analyst;
GRANT SELECT ON koers.crisis_valid TO koers_consumer;

-- A database that holds events from before this migration: its prepared rows were written by
-- the v1 rules (stay days on the discharge day); rebuild them from the stored events, which
-- are kept as they are.
SELECT koers.refresh_all();
