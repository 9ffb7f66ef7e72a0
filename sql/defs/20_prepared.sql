-- koers definitions, prepared tables: how participant, enrolment_span, daily_use,
-- participant_month_count, goal_history, open_stay, registration_month and lateness_histogram
-- are built from the events, by the full rebuild (koers.refresh_all) and by the consumer's hook per batch
-- (koers.apply_staged), which call the same rule functions. A change here rebuilds them.
-- koers-defs: rebuild

CREATE OR REPLACE FUNCTION koers.refresh_participants(participants text[]) RETURNS integer
    LANGUAGE plpgsql
    AS $fn$
DECLARE
    ps text[];
    b  integer;
BEGIN
    -- Also the owners of events that these participants' corrections void, should a
    -- correction name another participant than its target.
    SELECT array_agg(DISTINCT x ORDER BY x) INTO ps FROM (
        SELECT unnest(participants) AS x
        UNION
        SELECT t.participant FROM koers.correction c
        CROSS JOIN LATERAL (
            SELECT participant FROM koers.enrolment WHERE event_id = c.target_event_id
            UNION ALL SELECT participant FROM koers.contact WHERE event_id = c.target_event_id
            UNION ALL SELECT participant FROM koers.crisis WHERE event_id = c.target_event_id
            UNION ALL SELECT participant FROM koers.goal_change WHERE event_id = c.target_event_id
            UNION ALL SELECT participant FROM koers.police_call WHERE event_id = c.target_event_id
        ) t
        WHERE c.participant = ANY (participants)
    ) s WHERE x IS NOT NULL;
    IF ps IS NULL THEN
        RETURN 0;
    END IF;
    -- Serialise with every consumer's hook (buckets in ascending order, so no deadlock): the
    -- lateness histogram, rebuilt whole, holds every participant's events. After the wait,
    -- READ COMMITTED statements see the others' rows.
    FOR b IN 0..63 LOOP
        PERFORM pg_advisory_xact_lock(7012342, b);
    END LOOP;
    PERFORM koers.rebuild_participants(ps);
    RETURN cardinality(ps);
END
$fn$;
COMMENT ON FUNCTION koers.refresh_participants(text[]) IS
    'The consumer''s hook, called in every batch transaction after the rows are inserted, with '
    'the distinct participants of the batch (corrections'' included): rebuilds those '
    'participants'' prepared rows, and the whole lateness histogram, from the raw tables, '
    'voided events left out. Waits for every consumer''s batch. Must run at READ COMMITTED (the '
    'default). Returns the number of participants refreshed.';

------------------------------------------------------------------------------------------
-- The consumer's batch, staged: the session's temporary tables stage_<event type> (LIKE
-- koers.<event type>, with more columns if the consumer likes) hold exactly the rows this
-- batch added to the event tables (consumers/sink.c: a COPY into both, or, when the batch
-- holds an event already stored, an INSERT ... ON CONFLICT DO NOTHING that leaves only the
-- inserted rows staged). apply_staged() brings every aggregate up to date from them.
------------------------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION koers.use_of_events(ids uuid[], owners text[], tz text)
    RETURNS TABLE (participant text, day date, source text, event_type text, kind text,
                   mode text, initiated_by text, caller text, outcome text, days integer,
                   billable_days integer, minutes integer)
    LANGUAGE sql STABLE
    AS $$
    SELECT participant, (occurred_at AT TIME ZONE tz)::date, source, 'contact', with_role::text,
           mode::text, initiated_by::text, NULL, NULL, 0, 0, duration_min
    FROM koers.contact WHERE event_id = ANY (ids) AND participant = ANY (owners)
    UNION ALL
    SELECT participant, (occurred_at AT TIME ZONE tz)::date, source, 'crisis', kind::text,
           NULL, NULL, NULL, NULL, days, greatest(days, 1), 0
    FROM koers.crisis WHERE event_id = ANY (ids) AND participant = ANY (owners)
    UNION ALL
    SELECT participant, (occurred_at AT TIME ZONE tz)::date, source, 'police_call', kind::text,
           NULL, NULL, caller::text, outcome::text, 0, 0, 0
    FROM koers.police_call WHERE event_id = ANY (ids) AND participant = ANY (owners)
    $$;
COMMENT ON FUNCTION koers.use_of_events(uuid[], text[], text) IS
    'Internal: what each of the given contact, crisis and police events (of the owners) adds to '
    'koers.daily_use, one row per event, days local to tz.';

------------------------------------------------------------------------------------------
-- Stays on the days they cover.
------------------------------------------------------------------------------------------

-- Days where a participant's windows change: a stay is cut there (and at month starts) so
-- that every piece of it lies in one month, one period and one window.
CREATE OR REPLACE FUNCTION koers.window_bounds(p text) RETURNS SETOF date
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
CREATE OR REPLACE FUNCTION koers.stay_rows(p text, first_day date, end_day date)
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
CREATE OR REPLACE FUNCTION koers.crisis_stays(ps text[], tz text)
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

------------------------------------------------------------------------------------------
-- Rebuild: building blocks shared by the full rebuild and the batch hook.
------------------------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION koers.spans_build(ps text[], tz text)
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
CREATE OR REPLACE FUNCTION koers.goal_history_build(ps text[], refs text[])
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
CREATE OR REPLACE FUNCTION koers.participant_build(ps text[], tz text)
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
CREATE OR REPLACE FUNCTION koers.month_count_rows(rows koers.daily_use[])
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
CREATE OR REPLACE FUNCTION koers.crisis_use_build(ps text[], tz text)
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
CREATE OR REPLACE FUNCTION koers.daily_use_build(ps text[], tz text)
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

-- Lateness in buckets whose lower edges are the figures the quality page shows: every minute
-- below an hour, then every tenth of an hour below a day, every hour below a week, every day
-- beyond. A fixed set of rows per source, type and month, however many events: a percentile
-- read from the histogram is the lower edge of its bucket (docs/measures.md, measure 7).
CREATE OR REPLACE FUNCTION koers.lateness_bucket(minutes integer) RETURNS integer
    LANGUAGE sql IMMUTABLE
    AS $$
    SELECT CASE WHEN minutes < 60 THEN minutes
                WHEN minutes < 1440 THEN minutes - minutes % 6
                WHEN minutes < 10080 THEN minutes - minutes % 60
                ELSE minutes - minutes % 1440 END
    $$;
COMMENT ON FUNCTION koers.lateness_bucket(integer) IS
    'The lateness bucket (its lower edge, minutes) of a lateness of whole minutes: exact below '
    '60, then multiples of 6 below 1440 (a day), of 60 below 10080 (a week), of 1440 beyond.';

-- The stored events of participants ps (NULL: everyone) per source, type, local month,
-- voided or not and lateness bucket; skip leaves out those events and does not count those
-- corrections (the hook's view of a participant before its batch).
CREATE OR REPLACE FUNCTION koers.registrations_build(ps text[], tz text, skip uuid[])
    RETURNS TABLE (participant text, source text, event_type text, month date, voided boolean,
                   bucket_min integer, events bigint)
    LANGUAGE sql STABLE
    AS $$
    SELECT e.participant, e.source, e.event_type,
           date_trunc('month', e.occurred_at AT TIME ZONE tz)::date,
           EXISTS (SELECT 1 FROM koers.correction c
                   WHERE c.target_event_id = e.event_id AND c.event_id <> ALL (skip)),
           koers.lateness_bucket(e.lateness_min), count(*)
    FROM (SELECT e.*, floor(extract(epoch FROM e.recorded_at - e.occurred_at) / 60)::integer AS lateness_min
    FROM (
        SELECT 'enrolment' AS event_type, participant, source, occurred_at, recorded_at, event_id
        FROM koers.enrolment WHERE ps IS NULL OR participant = ANY (ps)
        UNION ALL SELECT 'contact', participant, source, occurred_at, recorded_at, event_id
        FROM koers.contact WHERE ps IS NULL OR participant = ANY (ps)
        UNION ALL SELECT 'crisis', participant, source, occurred_at, recorded_at, event_id
        FROM koers.crisis WHERE ps IS NULL OR participant = ANY (ps)
        UNION ALL SELECT 'goal_change', participant, source, occurred_at, recorded_at, event_id
        FROM koers.goal_change WHERE ps IS NULL OR participant = ANY (ps)
        UNION ALL SELECT 'police_call', participant, source, occurred_at, recorded_at, event_id
        FROM koers.police_call WHERE ps IS NULL OR participant = ANY (ps)
        UNION ALL SELECT 'correction', participant, source, occurred_at, recorded_at, event_id
        FROM koers.correction WHERE ps IS NULL OR participant = ANY (ps)
    ) e) e
    WHERE e.event_id <> ALL (skip)
    GROUP BY 1, 2, 3, 4, 5, 6
    $$;
COMMENT ON FUNCTION koers.registrations_build(text[], text, uuid[]) IS
    'Internal: the rows of koers.registration_month and koers.lateness_histogram before they '
    'are added up: stored events of the participants (NULL: all) per participant, source, type, '
    'local month, voided and lateness bucket; the events skip names left out, as events and as '
    'corrections.';

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
    DELETE FROM koers.registration_month WHERE participant = ANY (ps);

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

    INSERT INTO koers.registration_month
    SELECT participant, source, event_type, month, coalesce(sum(events) FILTER (WHERE NOT voided), 0),
           coalesce(sum(events) FILTER (WHERE voided), 0)
    FROM koers.registrations_build(ps, tz, '{}')
    GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4;
    -- The histogram has no participant: rebuilt whole (the callers hold every lock).
    DELETE FROM koers.lateness_histogram;
    INSERT INTO koers.lateness_histogram
    SELECT source, event_type, month, cohort, voided, array_agg(bucket_min ORDER BY bucket_min),
           array_agg(events ORDER BY bucket_min)
    FROM (
        SELECT r.source, r.event_type, r.month, coalesce(p.cohort, '') AS cohort, r.voided,
               r.bucket_min, sum(r.events)::integer AS events
        FROM koers.registrations_build(NULL, tz, '{}') r
        LEFT JOIN koers.participant p ON p.participant = r.participant
        GROUP BY 1, 2, 3, 4, 5, 6
    ) b
    GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5;
END
$fn$;
COMMENT ON FUNCTION koers.rebuild_participants(text[]) IS
    'Internal: deletes and rebuilds the prepared rows of the participants ps, and the whole '
    'lateness histogram, from the raw tables, voided events left out. Takes no locks: callers '
    'hold every advisory lock of the hooks (see refresh_participants).';

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
             koers.participant_month_count, koers.goal_history, koers.registration_month,
             koers.lateness_histogram;
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
COMMENT ON FUNCTION koers.refresh_all() IS
    'Rebuilds every prepared table from the raw tables (backfills, a changed time_zone, tests). '
    'Returns the number of participants.';

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
CREATE OR REPLACE FUNCTION koers.period_label(d date, first_enrolled date, enrolled boolean) RETURNS text
    LANGUAGE sql IMMUTABLE
    AS $$
    SELECT CASE WHEN first_enrolled IS NULL THEN NULL
                WHEN d < first_enrolled THEN
                    CASE WHEN d >= (first_enrolled - interval '12 months')::date THEN 'before' END
                WHEN enrolled THEN 'during'
           END
    $$;

-- Daily-use rows with the period label of their day, from their participants' current spans.
CREATE OR REPLACE FUNCTION koers.use_labelled(u koers.daily_use[])
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

-- What the staged contacts, old-form crisis events and police calls add to daily_use
-- (voided ones, and the crisis events of participants in skip, left out), labelled.
CREATE OR REPLACE FUNCTION koers.staged_use(void_new uuid[], skip text[], tz text)
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
CREATE OR REPLACE FUNCTION koers.use_add(nu koers.daily_use[]) RETURNS void
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
CREATE OR REPLACE FUNCTION koers.use_take_out(ids uuid[], owners text[], tz text)
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
CREATE OR REPLACE FUNCTION koers.stays_recut(ps text[], tz text)
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
CREATE OR REPLACE FUNCTION koers.month_count_apply(delta koers.daily_use[]) RETURNS void
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
CREATE OR REPLACE FUNCTION koers.use_relabel(ps text[], crisis_only boolean) RETURNS void
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
CREATE OR REPLACE FUNCTION koers.spans_relabel(ps text[], tz text) RETURNS void
    LANGUAGE sql VOLATILE
    AS $$
    DELETE FROM koers.enrolment_span WHERE participant = ANY (ps);
    INSERT INTO koers.enrolment_span SELECT * FROM koers.spans_build(ps, tz);
    SELECT koers.use_relabel(ps, false);
    $$;

-- Counts per event type, source and month: every new row, whoever it belongs to.
CREATE OR REPLACE FUNCTION koers.staged_count_months(tz text) RETURNS void
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
CREATE OR REPLACE FUNCTION koers.staged_count_coverage(tz text) RETURNS void
    LANGUAGE sql VOLATILE
    AS $$
    INSERT INTO koers.event_count_month AS c (event_type, source, month, events)
    SELECT 'coverage', source, date_trunc('month', occurred_at AT TIME ZONE tz)::date, count(*)
    FROM pg_temp.stage_coverage
    GROUP BY 2, 3 ORDER BY 2, 3
    ON CONFLICT (event_type, source, month) DO UPDATE SET events = c.events + excluded.events
    $$;

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

-- Events stored by earlier batches that this batch's corrections void first.
CREATE OR REPLACE FUNCTION koers.staged_voids()
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

-- Registrations and lateness: the batch's rows (voided or not) added, the stored events it
-- voids (v_id) moved over; one delta per table, applied in key order (the histogram's rows
-- are shared by every consumer: one ordered statement cannot deadlock with another), a
-- histogram row's buckets merged with the batch's. A
-- participant who had registrations before the batch (old_p, with their cohort then, old_c)
-- and whose cohort changed has every event moved in the histogram: out as they stood before
-- the batch, in as they stand now, from the raw tables (enrolment changes are rare). known:
-- the participants with registrations before the batch (the others' keys are all new).
CREATE OR REPLACE FUNCTION koers.staged_lateness(void_new uuid[], v_id uuid[], owners text[],
                                                 known text[], old_p text[], old_c text[], tz text)
    RETURNS void
    LANGUAGE plpgsql
    AS $fn$
DECLARE
    moved text[];   -- participants whose cohort changed
    skip  uuid[] := '{}';   -- the batch's events: their view before it
    z     koers.lateness_histogram[];
BEGIN
    moved := ARRAY(SELECT o.p FROM unnest(old_p, old_c) AS o(p, c)
                   LEFT JOIN koers.participant q ON q.participant = o.p
                   WHERE coalesce(q.cohort, '') <> o.c);
    IF cardinality(moved) > 0 THEN
        skip := ARRAY(
            SELECT event_id FROM pg_temp.stage_enrolment WHERE participant = ANY (moved)
            UNION ALL SELECT event_id FROM pg_temp.stage_contact WHERE participant = ANY (moved)
            UNION ALL SELECT event_id FROM pg_temp.stage_crisis WHERE participant = ANY (moved)
            UNION ALL SELECT event_id FROM pg_temp.stage_goal_change WHERE participant = ANY (moved)
            UNION ALL SELECT event_id FROM pg_temp.stage_police_call WHERE participant = ANY (moved)
            UNION ALL SELECT event_id FROM pg_temp.stage_correction);
    END IF;
    WITH e AS (
        SELECT e.participant, e.source, e.event_type,
               date_trunc('month', e.occurred_at AT TIME ZONE tz)::date AS month,
               e.event_id = ANY (void_new) AS voided,
               floor(extract(epoch FROM e.recorded_at - e.occurred_at) / 60)::integer AS lateness_min
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
    ), v AS (
        SELECT participant, source, event_type,
               date_trunc('month', occurred_at AT TIME ZONE tz)::date AS month,
               floor(extract(epoch FROM recorded_at - occurred_at) / 60)::integer AS lateness_min
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
        ) x
        WHERE participant = ANY (owners)
    ), rd AS (
        SELECT participant, source, event_type, month, sum(de)::integer AS de, sum(dv)::integer AS dv
        FROM (
            SELECT participant, source, event_type, month, (NOT voided)::integer AS de,
                   voided::integer AS dv FROM e
            UNION ALL SELECT participant, source, event_type, month, -1, 1 FROM v
        ) d
        GROUP BY 1, 2, 3, 4
    ), reg_new AS (
        -- A participant without registrations before the batch has only new keys.
        INSERT INTO koers.registration_month
        SELECT * FROM rd WHERE participant NOT IN (SELECT unnest(known)) ORDER BY 1, 2, 3, 4
    ), reg AS (
        INSERT INTO koers.registration_month AS r
        SELECT * FROM rd WHERE participant IN (SELECT unnest(known)) ORDER BY 1, 2, 3, 4
        ON CONFLICT (participant, source, event_type, month)
        DO UPDATE SET events = r.events + excluded.events, voided = r.voided + excluded.voided
    ), h AS (
        INSERT INTO koers.lateness_histogram AS h
        SELECT source, event_type, month, cohort, voided, array_agg(bucket_min ORDER BY bucket_min),
               array_agg(n ORDER BY bucket_min)
        FROM (
        SELECT source, event_type, month, cohort, voided, bucket_min, sum(n)::integer AS n FROM (
            SELECT e.source, e.event_type, e.month, coalesce(q.cohort, '') AS cohort, e.voided,
                   koers.lateness_bucket(e.lateness_min) AS bucket_min, 1 AS n
            FROM e LEFT JOIN koers.participant q ON q.participant = e.participant
            WHERE e.participant <> ALL (moved)
            UNION ALL
            SELECT v.source, v.event_type, v.month, coalesce(q.cohort, ''), m.voided,
                   koers.lateness_bucket(v.lateness_min), m.n
            FROM v LEFT JOIN koers.participant q ON q.participant = v.participant
            CROSS JOIN (VALUES (false, -1), (true, 1)) m(voided, n)
            WHERE v.participant <> ALL (moved)
            UNION ALL
            SELECT r.source, r.event_type, r.month, o.c, r.voided, r.bucket_min, -r.events
            FROM koers.registrations_build(moved, tz, skip) r
            JOIN unnest(old_p, old_c) AS o(p, c) ON o.p = r.participant
            WHERE cardinality(moved) > 0
            UNION ALL
            SELECT r.source, r.event_type, r.month, coalesce(q.cohort, ''), r.voided, r.bucket_min, r.events
            FROM koers.registrations_build(moved, tz, '{}') r
            LEFT JOIN koers.participant q ON q.participant = r.participant
            WHERE cardinality(moved) > 0
        ) d
        GROUP BY 1, 2, 3, 4, 5, 6 HAVING sum(n) <> 0
        ) g
        GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5
        ON CONFLICT (source, event_type, month, cohort, voided)
        DO UPDATE SET (bucket_min, events) = (
            SELECT coalesce(array_agg(x.b ORDER BY x.b), '{}'), coalesce(array_agg(x.n ORDER BY x.b), '{}')
            FROM (SELECT b, sum(n)::integer AS n
                  FROM unnest(h.bucket_min || excluded.bucket_min, h.events || excluded.events) AS u(b, n)
                  GROUP BY b HAVING sum(n) <> 0) x)
        RETURNING h.*
    )
    SELECT array_agg(ROW(h.source, h.event_type, h.month, h.cohort, h.voided, h.bucket_min,
                         h.events)::koers.lateness_histogram)
    INTO z FROM h WHERE cardinality(h.bucket_min) = 0;
    IF z IS NOT NULL THEN
        DELETE FROM koers.lateness_histogram h USING unnest(z) AS g
        WHERE (h.source, h.event_type, h.month, h.cohort, h.voided)
            = (g.source, g.event_type, g.month, g.cohort, g.voided);
    END IF;
END
$fn$;

-- Participants: a new valid event can only widen first/last_event_day; participants whose
-- spans or stays were redone, and owners of voided events on their first or last day, are
-- recomputed from the prepared tables (elsewhere a voided event changes nothing).
CREATE OR REPLACE FUNCTION koers.staged_participants(nu koers.daily_use[], void_new uuid[], redone text[],
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
    known    text[];          -- participants with registrations before the batch
    old_p    text[];          -- of those, the ones whose cohort may change
    old_c    text[];          -- and their cohort then
    b        integer;
BEGIN
    -- Counted first: a batch of coverage statements alone has no participant.
    IF to_regclass('pg_temp.stage_coverage') IS NOT NULL THEN
        PERFORM koers.staged_count_coverage(tz);
    END IF;
    -- And the outcome instruments (sql/defs/45_instruments.sql): measured when read, nothing
    -- prepared.
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
    -- Before anything changes: the participants with registrations (a participant row comes
    -- from some), and the cohort then of those whose participant row this batch may make or
    -- remake (koers.staged_participants), for the lateness histogram.
    SELECT coalesce(array_agg(u.x), '{}'),
           coalesce(array_agg(u.x) FILTER (WHERE q.participant IS NULL OR u.x = ANY (span_ps)
                                           OR u.x = ANY (cp) OR u.x = ANY (owners)), '{}'),
           coalesce(array_agg(coalesce(q.cohort, '')) FILTER (WHERE q.participant IS NULL
                        OR u.x = ANY (span_ps) OR u.x = ANY (cp) OR u.x = ANY (owners)), '{}')
    INTO known, old_p, old_c
    FROM (SELECT unnest(ps) UNION SELECT unnest(owners)) u(x)
    LEFT JOIN koers.participant q ON q.participant = u.x
    WHERE q.participant IS NOT NULL
       OR EXISTS (SELECT 1 FROM koers.registration_month r WHERE r.participant = u.x);
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
    -- After the participants: the histogram keeps each event under its participant's cohort.
    PERFORM koers.staged_lateness(void_new, v_id, owners, known, old_p, old_c, tz);
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
