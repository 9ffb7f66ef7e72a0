-- koers speed: cheaper row checks, and prepared measures kept current incrementally: the
-- consumer's batch hook koers.apply_staged() updates only what the batch's new rows change
-- (one aggregate update per key per batch) instead of rebuilding its participants from the
-- raw tables. koers.refresh_participants() and koers.refresh_all() still rebuild, and give
-- the same rows (bench/run and the tests compare them).

------------------------------------------------------------------------------------------
-- Row checks: the same rules, without bounded regex repetition ({64}, {1,32}), which costs
-- PostgreSQL's regex engine several microseconds a row. [...]+ plus a length test accepts
-- exactly the same strings (the character classes are ASCII, one character a byte).
------------------------------------------------------------------------------------------

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['enrolment', 'contact', 'crisis', 'goal_change', 'police_call',
                             'correction', 'event_envelope'] LOOP
        EXECUTE format('ALTER TABLE koers.%I DROP CONSTRAINT event_envelope_participant_check,'
                       ' ADD CONSTRAINT event_envelope_participant_check'
                       ' CHECK (participant ~ ''^[0-9a-f]+$'' AND length(participant) = 64),'
                       ' DROP CONSTRAINT event_envelope_source_check,'
                       ' ADD CONSTRAINT event_envelope_source_check'
                       ' CHECK (source ~ ''^[a-z0-9_-]+$'' AND length(source) <= 32)', t);
    END LOOP;
END
$$;
ALTER TABLE koers.enrolment DROP CONSTRAINT enrolment_cohort_check,
    ADD CONSTRAINT enrolment_cohort_check CHECK (cohort ~ '^[a-z0-9_-]+$' AND length(cohort) <= 32);
ALTER TABLE koers.goal_change DROP CONSTRAINT goal_change_goal_ref_check,
    ADD CONSTRAINT goal_change_goal_ref_check
    CHECK (goal_ref ~ '^[A-Za-z0-9_-]+$' AND length(goal_ref) <= 64);

------------------------------------------------------------------------------------------
-- The rebuild, without locks (refresh_participants() takes them first), its inserts in key
-- order (a third faster for refresh_all() than the hash order of the aggregates).
------------------------------------------------------------------------------------------

CREATE FUNCTION koers.rebuild_participants(ps text[]) RETURNS void
    LANGUAGE plpgsql
    AS $fn$
DECLARE
    tz text := koers.time_zone();
BEGIN
    DELETE FROM koers.participant WHERE participant = ANY (ps);
    DELETE FROM koers.enrolment_span WHERE participant = ANY (ps);
    DELETE FROM koers.daily_use WHERE participant = ANY (ps);
    DELETE FROM koers.participant_month_count WHERE participant = ANY (ps);
    DELETE FROM koers.goal_history WHERE participant = ANY (ps);
    DELETE FROM koers.event_lateness WHERE participant = ANY (ps);

    -- Enrolled spans. State after an event is "open" iff it is enrolled/resumed, so spans
    -- start where open follows closed and end at the next closed.
    INSERT INTO koers.enrolment_span
        (participant, span_no, cohort, start_day, end_day, started_by, ended_by)
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
           row_number() OVER (PARTITION BY participant ORDER BY occurred_at, recorded_at, event_id),
           cohort, day, next_day, change, next_change
    FROM marks WHERE opening;

    -- Daily use, and its monthly pivot from the rows just inserted (no second read).
    WITH d AS (
    INSERT INTO koers.daily_use
    SELECT u.*,
        CASE WHEN f.start_day IS NULL THEN NULL
             WHEN u.day < f.start_day THEN
                 CASE WHEN u.day >= (f.start_day - interval '12 months')::date THEN 'before' END
             WHEN EXISTS (SELECT 1 FROM koers.enrolment_span s
                          WHERE s.participant = u.participant AND u.day >= s.start_day
                            AND (s.end_day IS NULL OR u.day < s.end_day)) THEN 'during'
        END
    FROM (
    SELECT participant, (occurred_at AT TIME ZONE tz)::date AS day, source, 'contact', with_role::text,
           mode::text, initiated_by::text, NULL, NULL, count(*), 0, 0, sum(duration_min)
    FROM koers.contact_valid WHERE participant = ANY (ps)
    GROUP BY participant, 2, source, with_role, mode, initiated_by
    UNION ALL
    SELECT participant, (occurred_at AT TIME ZONE tz)::date, source, 'crisis', kind::text,
           NULL, NULL, NULL, NULL, count(*), sum(days), sum(greatest(days, 1)), 0
    FROM koers.crisis_valid WHERE participant = ANY (ps)
    GROUP BY participant, 2, source, kind
    UNION ALL
    SELECT participant, (occurred_at AT TIME ZONE tz)::date, source, 'police_call', kind::text,
           NULL, NULL, caller::text, outcome::text, count(*), 0, 0, 0
    FROM koers.police_call_valid WHERE participant = ANY (ps)
    GROUP BY participant, 2, source, kind, caller, outcome
    ) u
    LEFT JOIN koers.enrolment_span f ON f.participant = u.participant AND f.span_no = 1
    ORDER BY u.participant, u.day
    RETURNING *
    )
    INSERT INTO koers.participant_month_count
    SELECT participant, date_trunc('month', day)::date,
        coalesce(sum(events) FILTER (WHERE event_type = 'contact'), 0),
        coalesce(sum(minutes) FILTER (WHERE event_type = 'contact'), 0),
        coalesce(sum(events) FILTER (WHERE event_type = 'contact' AND mode = 'outreach'), 0),
        coalesce(sum(events) FILTER (WHERE event_type = 'contact' AND mode = 'home_visit'), 0),
        coalesce(sum(events) FILTER (WHERE event_type = 'contact' AND initiated_by = 'participant'), 0),
        coalesce(sum(events) FILTER (WHERE event_type = 'contact' AND kind = 'significant_other'), 0),
        coalesce(sum(events) FILTER (WHERE event_type = 'contact' AND kind = 'experience_expert'), 0),
        coalesce(sum(events) FILTER (WHERE event_type = 'crisis'), 0),
        coalesce(sum(events) FILTER (WHERE event_type = 'crisis' AND kind = 'crisis_contact'), 0),
        coalesce(sum(events) FILTER (WHERE event_type = 'crisis' AND kind = 'crisis_admission'), 0),
        coalesce(sum(events) FILTER (WHERE event_type = 'crisis' AND kind = 'emergency_department'), 0),
        coalesce(sum(events) FILTER (WHERE event_type = 'crisis' AND kind = 'compulsory_care'), 0),
        coalesce(sum(events) FILTER (WHERE event_type = 'crisis' AND kind = 'respite_stay'), 0),
        coalesce(sum(events) FILTER (WHERE event_type = 'crisis' AND kind = 'shelter_night'), 0),
        coalesce(sum(days) FILTER (WHERE event_type = 'crisis'
                                   AND kind NOT IN ('respite_stay', 'shelter_night')), 0),
        coalesce(sum(days) FILTER (WHERE event_type = 'crisis'
                                   AND kind IN ('respite_stay', 'shelter_night')), 0),
        coalesce(sum(events) FILTER (WHERE event_type = 'police_call'), 0),
        coalesce(sum(events) FILTER (WHERE event_type = 'police_call' AND kind = 'confused_person'), 0),
        coalesce(sum(events) FILTER (WHERE event_type = 'police_call' AND kind = 'nuisance'), 0),
        coalesce(sum(events) FILTER (WHERE event_type = 'police_call' AND kind = 'threat_violence'), 0),
        coalesce(sum(events) FILTER (WHERE event_type = 'police_call' AND kind = 'welfare_check'), 0),
        coalesce(sum(events) FILTER (WHERE event_type = 'police_call' AND kind = 'arrest'), 0),
        coalesce(sum(events) FILTER (WHERE event_type = 'police_call' AND kind = 'victim'), 0),
        coalesce(sum(events) FILTER (WHERE event_type = 'police_call' AND kind = 'other'), 0)
    FROM d
    GROUP BY participant, 2 ORDER BY participant, 2;

    -- Goals: the cumulative state after each change. "Latest non-null" is the first row of
    -- the group that starts at each non-null value (count() over the rows so far).
    INSERT INTO koers.goal_history
    WITH g AS (
        SELECT participant, goal_ref, occurred_at, domain, change, set_by, gas, weight,
               row_number() OVER (PARTITION BY participant, goal_ref
                                  ORDER BY occurred_at, recorded_at, event_id) AS seq
        FROM koers.goal_change_valid WHERE participant = ANY (ps)
    ), g2 AS (
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
    SELECT participant, goal_ref, seq, occurred_at, valid_to, change,
        CASE WHEN sets > 0 THEN set_domain ELSE first_domain END,
        CASE WHEN sets > 0 THEN set_set_by ELSE first_set_by END,
        CASE WHEN st_grp = 0 OR st_change IN ('set', 'reopened') THEN 'open' ELSE st_change::text END,
        CASE WHEN sets > 0 THEN set_occurred END,
        CASE WHEN st_grp > 0 AND st_change = 'achieved' THEN st_at END,
        revisions, last_gas, last_weight
    FROM g3 ORDER BY participant, goal_ref, seq;

    INSERT INTO koers.participant
        (participant, cohort, first_enrolled, before_start, first_event_day, last_event_day,
         open_since, last_span_end)
    SELECT d.participant, s1.cohort, s1.start_day, (s1.start_day - interval '12 months')::date,
           d.first_day, d.last_day,
           (SELECT s.start_day FROM koers.enrolment_span s
            WHERE s.participant = d.participant AND s.end_day IS NULL),
           (SELECT max(s.end_day) FROM koers.enrolment_span s WHERE s.participant = d.participant)
    FROM (
        SELECT participant, min(day) AS first_day, max(day) AS last_day FROM (
            SELECT participant, day FROM koers.daily_use WHERE participant = ANY (ps)
            UNION ALL
            SELECT participant, (occurred_at AT TIME ZONE tz)::date FROM koers.enrolment_valid
            WHERE participant = ANY (ps)
            UNION ALL
            SELECT participant, (valid_from AT TIME ZONE tz)::date FROM koers.goal_history
            WHERE participant = ANY (ps)
        ) u GROUP BY participant
    ) d
    LEFT JOIN koers.enrolment_span s1 ON s1.participant = d.participant AND s1.span_no = 1;

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
ALTER FUNCTION koers.rebuild_participants(text[]) SET work_mem = '64MB';
COMMENT ON FUNCTION koers.rebuild_participants(text[]) IS
    'Internal: deletes and rebuilds the prepared rows of the participants ps from the raw '
    'tables, voided events left out. Takes no locks: callers hold the participants'' advisory '
    'locks (see refresh_participants).';

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
    -- Serialise work on the same participants across consumers (buckets in ascending order,
    -- so no deadlock); after the wait, READ COMMITTED statements see the other's rows.
    FOR b IN SELECT DISTINCT abs(hashtext(x) % 64) FROM unnest(ps) AS x ORDER BY 1 LOOP
        PERFORM pg_advisory_xact_lock(7012342, b);
    END LOOP;
    PERFORM koers.rebuild_participants(ps);
    RETURN cardinality(ps);
END
$fn$;

------------------------------------------------------------------------------------------
-- The consumer's batch, staged: the session's temporary tables stage_<event type> (LIKE
-- koers.<event type>, with more columns if the consumer likes) hold exactly the rows this
-- batch added to the event tables (consumers/sink.c: a COPY into both, or, when the batch
-- holds an event already stored, an INSERT ... ON CONFLICT DO NOTHING that leaves only the
-- inserted rows staged). apply_staged() brings every aggregate up to date from them.
------------------------------------------------------------------------------------------

CREATE FUNCTION koers.use_of_events(ids uuid[], owners text[], tz text)
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

CREATE FUNCTION koers.apply_staged() RETURNS integer
    LANGUAGE plpgsql
    AS $fn$
DECLARE
    tz      text := koers.time_zone();
    ps      text[];          -- participants of the batch
    span_ps text[];          -- participants whose enrolment changes (new or voided)
    owners  text[];          -- owners of events this batch voids
    v_id    uuid[];          -- events stored before this batch that it voids
    v_type  text[];
    v_owner text[];
    void_new uuid[];         -- new rows already voided (a correction came first, or with them)
    g_p     text[];          -- goals whose history is rebuilt
    g_ref   text[];
    b       integer;
BEGIN
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

    -- Counts per event type, source and month: every new row, whoever it belongs to.
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
    ON CONFLICT (event_type, source, month) DO UPDATE SET events = c.events + excluded.events;

    -- The same locks as refresh_participants, taken before anything below reads: a consumer
    -- storing events of these participants on other partitions has committed by then.
    FOR b IN SELECT DISTINCT abs(hashtext(x) % 64) FROM unnest(ps) AS x ORDER BY 1 LOOP
        PERFORM pg_advisory_xact_lock(7012342, b);
    END LOOP;

    -- Events stored by earlier batches that this batch's corrections void first.
    SELECT array_agg(t.event_id), array_agg(t.event_type), array_agg(t.participant)
    INTO v_id, v_type, v_owner
    FROM (SELECT DISTINCT target_event_id AS id FROM pg_temp.stage_correction s
          WHERE NOT EXISTS (SELECT 1 FROM koers.correction o
                            WHERE o.target_event_id = s.target_event_id
                              AND NOT EXISTS (SELECT 1 FROM pg_temp.stage_correction n
                                              WHERE n.event_id = o.event_id))) c
    CROSS JOIN LATERAL (
        SELECT 'enrolment' AS event_type, participant, event_id FROM koers.enrolment
        WHERE event_id = c.id
        UNION ALL SELECT 'contact', participant, event_id FROM koers.contact WHERE event_id = c.id
        UNION ALL SELECT 'crisis', participant, event_id FROM koers.crisis WHERE event_id = c.id
        UNION ALL SELECT 'goal_change', participant, event_id FROM koers.goal_change
        WHERE event_id = c.id
        UNION ALL SELECT 'police_call', participant, event_id FROM koers.police_call
        WHERE event_id = c.id
        UNION ALL SELECT 'correction', participant, event_id FROM koers.correction
        WHERE event_id = c.id) t
    WHERE NOT EXISTS (SELECT 1 FROM pg_temp.stage_enrolment x WHERE x.event_id = t.event_id)
      AND NOT EXISTS (SELECT 1 FROM pg_temp.stage_contact x WHERE x.event_id = t.event_id)
      AND NOT EXISTS (SELECT 1 FROM pg_temp.stage_crisis x WHERE x.event_id = t.event_id)
      AND NOT EXISTS (SELECT 1 FROM pg_temp.stage_goal_change x WHERE x.event_id = t.event_id)
      AND NOT EXISTS (SELECT 1 FROM pg_temp.stage_police_call x WHERE x.event_id = t.event_id)
      AND NOT EXISTS (SELECT 1 FROM pg_temp.stage_correction x WHERE x.event_id = t.event_id);
    v_id := coalesce(v_id, '{}');
    v_type := coalesce(v_type, '{}');
    v_owner := coalesce(v_owner, '{}');
    -- A correction naming another participant than its target's: lock that owner too.
    FOR b IN SELECT DISTINCT abs(hashtext(x) % 64) FROM unnest(v_owner) AS x
             WHERE x <> ALL (ps) ORDER BY 1 LOOP
        PERFORM pg_advisory_xact_lock(7012342, b);
    END LOOP;

    -- Enrolment changes move spans: rebuild those participants' spans from the raw table and
    -- relabel the days whose period changes with them (counts do not depend on spans; their
    -- participant rows are recomputed at the end). The rows added below get the new labels.
    span_ps := ARRAY(SELECT DISTINCT participant FROM pg_temp.stage_enrolment
                     UNION SELECT o FROM unnest(v_owner, v_type) AS v(o, t) WHERE t = 'enrolment');
    IF cardinality(span_ps) > 0 THEN
        DELETE FROM koers.enrolment_span WHERE participant = ANY (span_ps);
        INSERT INTO koers.enrolment_span
            (participant, span_no, cohort, start_day, end_day, started_by, ended_by)
        WITH ev AS (
            SELECT participant, (occurred_at AT TIME ZONE tz)::date AS day, change, cohort,
                   occurred_at, recorded_at, event_id,
                   change IN ('enrolled', 'resumed') AS opening
            FROM koers.enrolment_valid WHERE participant = ANY (span_ps)
        ), m AS (
            SELECT *, coalesce(lag(opening) OVER w, false) AS was_open
            FROM ev WINDOW w AS (PARTITION BY participant ORDER BY occurred_at, recorded_at, event_id)
        ), marks AS (
            SELECT *, lead(day) OVER w AS next_day, lead(change) OVER w AS next_change
            FROM m WHERE opening <> was_open
            WINDOW w AS (PARTITION BY participant ORDER BY occurred_at, recorded_at, event_id)
        )
        SELECT participant,
               row_number() OVER (PARTITION BY participant ORDER BY occurred_at, recorded_at, event_id),
               cohort, day, next_day, change, next_change
        FROM marks WHERE opening;

        WITH n AS (
            SELECT d.ctid AS id, d.period AS old,
                CASE WHEN f.start_day IS NULL THEN NULL
                     WHEN d.day < f.start_day THEN
                         CASE WHEN d.day >= (f.start_day - interval '12 months')::date THEN 'before' END
                     WHEN EXISTS (SELECT 1 FROM koers.enrolment_span s
                                  WHERE s.participant = d.participant AND d.day >= s.start_day
                                    AND (s.end_day IS NULL OR d.day < s.end_day)) THEN 'during'
                END AS period
            FROM koers.daily_use d
            LEFT JOIN koers.enrolment_span f ON f.participant = d.participant AND f.span_no = 1
            WHERE d.participant = ANY (span_ps)
        )
        UPDATE koers.daily_use d SET period = n.period
        FROM n WHERE d.ctid = n.id AND n.period IS DISTINCT FROM n.old;
    END IF;
    owners := ARRAY(SELECT DISTINCT o FROM unnest(v_owner) AS o);

    void_new := ARRAY(
        SELECT s.event_id FROM (
            SELECT event_id FROM pg_temp.stage_contact
            UNION ALL SELECT event_id FROM pg_temp.stage_crisis
            UNION ALL SELECT event_id FROM pg_temp.stage_goal_change
            UNION ALL SELECT event_id FROM pg_temp.stage_police_call
            UNION ALL SELECT event_id FROM pg_temp.stage_correction) s
        WHERE EXISTS (SELECT 1 FROM koers.correction c WHERE c.target_event_id = s.event_id));

    -- Daily use and its monthly pivot: add the batch's valid contact, crisis and police rows.
    -- A participant's spans did not change (else they were rebuilt above), so the period
    -- label of a day is what a rebuild would give it.
    WITH u AS (
        SELECT participant, (occurred_at AT TIME ZONE tz)::date AS day, source,
               'contact' AS event_type, with_role::text AS kind, mode::text AS mode,
               initiated_by::text AS initiated_by, NULL::text AS caller, NULL::text AS outcome,
               count(*) AS events, 0::bigint AS days, 0::bigint AS billable_days,
               sum(duration_min) AS minutes
        FROM pg_temp.stage_contact
        WHERE event_id <> ALL (void_new)
        GROUP BY participant, 2, source, with_role, mode, initiated_by
        UNION ALL
        SELECT participant, (occurred_at AT TIME ZONE tz)::date, source, 'crisis', kind::text,
               NULL, NULL, NULL, NULL, count(*), sum(days), sum(greatest(days, 1)), 0
        FROM pg_temp.stage_crisis
        WHERE event_id <> ALL (void_new)
        GROUP BY participant, 2, source, kind
        UNION ALL
        SELECT participant, (occurred_at AT TIME ZONE tz)::date, source, 'police_call',
               kind::text, NULL, NULL, caller::text, outcome::text, count(*), 0, 0, 0
        FROM pg_temp.stage_police_call
        WHERE event_id <> ALL (void_new)
        GROUP BY participant, 2, source, kind, caller, outcome
    ), l AS (
        SELECT u.*,
            CASE WHEN f.start_day IS NULL THEN NULL
                 WHEN u.day < f.start_day THEN
                     CASE WHEN u.day >= (f.start_day - interval '12 months')::date THEN 'before' END
                 WHEN EXISTS (SELECT 1 FROM koers.enrolment_span s
                              WHERE s.participant = u.participant AND u.day >= s.start_day
                                AND (s.end_day IS NULL OR u.day < s.end_day)) THEN 'during'
            END AS period,
            -- A day after the participant's last event day has no daily_use row yet.
            q.last_event_day IS NULL OR u.day > q.last_event_day AS fresh
        FROM u LEFT JOIN koers.enrolment_span f ON f.participant = u.participant AND f.span_no = 1
        LEFT JOIN koers.participant q ON q.participant = u.participant
    ), upd AS (
        -- Rows of those days and kinds that exist already grow (found through
        -- (participant, day)); the advisory locks keep anyone else from adding them meanwhile.
        UPDATE koers.daily_use d
        SET events = d.events + l.events, days = d.days + l.days,
            billable_days = d.billable_days + l.billable_days, minutes = d.minutes + l.minutes
        FROM l
        WHERE NOT l.fresh
          AND d.participant = l.participant AND d.day = l.day AND d.source = l.source
          AND d.event_type = l.event_type AND d.kind = l.kind
          AND d.mode IS NOT DISTINCT FROM l.mode AND d.initiated_by IS NOT DISTINCT FROM l.initiated_by
          AND d.caller IS NOT DISTINCT FROM l.caller AND d.outcome IS NOT DISTINCT FROM l.outcome
        RETURNING d.participant, d.day, d.source, d.event_type, d.kind, coalesce(d.mode, '') AS mode,
                  coalesce(d.initiated_by, '') AS initiated_by, coalesce(d.caller, '') AS caller,
                  coalesce(d.outcome, '') AS outcome
    ), ins AS (
        INSERT INTO koers.daily_use
        SELECT participant, day, source, event_type, kind, mode, initiated_by, caller, outcome,
               events, days, billable_days, minutes, period
        FROM l
        WHERE l.fresh OR NOT EXISTS (SELECT 1 FROM upd
                          WHERE upd.participant = l.participant AND upd.day = l.day
                            AND upd.source = l.source AND upd.event_type = l.event_type
                            AND upd.kind = l.kind AND upd.mode = coalesce(l.mode, '')
                            AND upd.initiated_by = coalesce(l.initiated_by, '')
                            AND upd.caller = coalesce(l.caller, '')
                            AND upd.outcome = coalesce(l.outcome, ''))
        ORDER BY participant, day
    )
    INSERT INTO koers.participant_month_count AS m
    SELECT participant, date_trunc('month', day)::date,
        coalesce(sum(events) FILTER (WHERE event_type = 'contact'), 0),
        coalesce(sum(minutes) FILTER (WHERE event_type = 'contact'), 0),
        coalesce(sum(events) FILTER (WHERE event_type = 'contact' AND mode = 'outreach'), 0),
        coalesce(sum(events) FILTER (WHERE event_type = 'contact' AND mode = 'home_visit'), 0),
        coalesce(sum(events) FILTER (WHERE event_type = 'contact' AND initiated_by = 'participant'), 0),
        coalesce(sum(events) FILTER (WHERE event_type = 'contact' AND kind = 'significant_other'), 0),
        coalesce(sum(events) FILTER (WHERE event_type = 'contact' AND kind = 'experience_expert'), 0),
        coalesce(sum(events) FILTER (WHERE event_type = 'crisis'), 0),
        coalesce(sum(events) FILTER (WHERE event_type = 'crisis' AND kind = 'crisis_contact'), 0),
        coalesce(sum(events) FILTER (WHERE event_type = 'crisis' AND kind = 'crisis_admission'), 0),
        coalesce(sum(events) FILTER (WHERE event_type = 'crisis' AND kind = 'emergency_department'), 0),
        coalesce(sum(events) FILTER (WHERE event_type = 'crisis' AND kind = 'compulsory_care'), 0),
        coalesce(sum(events) FILTER (WHERE event_type = 'crisis' AND kind = 'respite_stay'), 0),
        coalesce(sum(events) FILTER (WHERE event_type = 'crisis' AND kind = 'shelter_night'), 0),
        coalesce(sum(days) FILTER (WHERE event_type = 'crisis'
                                   AND kind NOT IN ('respite_stay', 'shelter_night')), 0),
        coalesce(sum(days) FILTER (WHERE event_type = 'crisis'
                                   AND kind IN ('respite_stay', 'shelter_night')), 0),
        coalesce(sum(events) FILTER (WHERE event_type = 'police_call'), 0),
        coalesce(sum(events) FILTER (WHERE event_type = 'police_call' AND kind = 'confused_person'), 0),
        coalesce(sum(events) FILTER (WHERE event_type = 'police_call' AND kind = 'nuisance'), 0),
        coalesce(sum(events) FILTER (WHERE event_type = 'police_call' AND kind = 'threat_violence'), 0),
        coalesce(sum(events) FILTER (WHERE event_type = 'police_call' AND kind = 'welfare_check'), 0),
        coalesce(sum(events) FILTER (WHERE event_type = 'police_call' AND kind = 'arrest'), 0),
        coalesce(sum(events) FILTER (WHERE event_type = 'police_call' AND kind = 'victim'), 0),
        coalesce(sum(events) FILTER (WHERE event_type = 'police_call' AND kind = 'other'), 0)
    FROM l
    GROUP BY participant, 2 ORDER BY participant, 2
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

    -- ... and take out what the newly voided events had added: per key, a row that only
    -- they made goes, the others shrink (found by their key, not by scanning).
    IF cardinality(owners) > 0 THEN
        WITH x AS (
            SELECT participant, date_trunc('month', day)::date AS month,
                count(*) FILTER (WHERE event_type = 'contact') AS contacts,
                coalesce(sum(minutes) FILTER (WHERE event_type = 'contact'), 0) AS contact_minutes,
                count(*) FILTER (WHERE event_type = 'contact' AND mode = 'outreach') AS outreach_contacts,
                count(*) FILTER (WHERE event_type = 'contact' AND mode = 'home_visit') AS home_visit_contacts,
                count(*) FILTER (WHERE event_type = 'contact' AND initiated_by = 'participant') AS participant_initiated_contacts,
                count(*) FILTER (WHERE event_type = 'contact' AND kind = 'significant_other') AS significant_other_contacts,
                count(*) FILTER (WHERE event_type = 'contact' AND kind = 'experience_expert') AS experience_expert_contacts,
                count(*) FILTER (WHERE event_type = 'crisis') AS crisis_events,
                count(*) FILTER (WHERE event_type = 'crisis' AND kind = 'crisis_contact') AS crisis_contact,
                count(*) FILTER (WHERE event_type = 'crisis' AND kind = 'crisis_admission') AS crisis_admission,
                count(*) FILTER (WHERE event_type = 'crisis' AND kind = 'emergency_department') AS emergency_department,
                count(*) FILTER (WHERE event_type = 'crisis' AND kind = 'compulsory_care') AS compulsory_care,
                count(*) FILTER (WHERE event_type = 'crisis' AND kind = 'respite_stay') AS respite_stay,
                count(*) FILTER (WHERE event_type = 'crisis' AND kind = 'shelter_night') AS shelter_night,
                coalesce(sum(days) FILTER (WHERE event_type = 'crisis'
                                           AND kind NOT IN ('respite_stay', 'shelter_night')), 0) AS crisis_days,
                coalesce(sum(days) FILTER (WHERE event_type = 'crisis'
                                           AND kind IN ('respite_stay', 'shelter_night')), 0) AS stay_days,
                count(*) FILTER (WHERE event_type = 'police_call') AS police_calls,
                count(*) FILTER (WHERE event_type = 'police_call' AND kind = 'confused_person') AS police_confused_person,
                count(*) FILTER (WHERE event_type = 'police_call' AND kind = 'nuisance') AS police_nuisance,
                count(*) FILTER (WHERE event_type = 'police_call' AND kind = 'threat_violence') AS police_threat_violence,
                count(*) FILTER (WHERE event_type = 'police_call' AND kind = 'welfare_check') AS police_welfare_check,
                count(*) FILTER (WHERE event_type = 'police_call' AND kind = 'arrest') AS police_arrest,
                count(*) FILTER (WHERE event_type = 'police_call' AND kind = 'victim') AS police_victim,
                count(*) FILTER (WHERE event_type = 'police_call' AND kind = 'other') AS police_other
            FROM koers.use_of_events(v_id, owners, tz) GROUP BY 1, 2
        ), gone AS (
            DELETE FROM koers.participant_month_count m USING x
            WHERE m.participant = x.participant AND m.month = x.month
              AND m.contacts = x.contacts AND m.crisis_events = x.crisis_events
              AND m.police_calls = x.police_calls
        )
        UPDATE koers.participant_month_count m SET
            contacts = m.contacts - x.contacts,
            contact_minutes = m.contact_minutes - x.contact_minutes,
            outreach_contacts = m.outreach_contacts - x.outreach_contacts,
            home_visit_contacts = m.home_visit_contacts - x.home_visit_contacts,
            participant_initiated_contacts = m.participant_initiated_contacts - x.participant_initiated_contacts,
            significant_other_contacts = m.significant_other_contacts - x.significant_other_contacts,
            experience_expert_contacts = m.experience_expert_contacts - x.experience_expert_contacts,
            crisis_events = m.crisis_events - x.crisis_events,
            crisis_contact = m.crisis_contact - x.crisis_contact,
            crisis_admission = m.crisis_admission - x.crisis_admission,
            emergency_department = m.emergency_department - x.emergency_department,
            compulsory_care = m.compulsory_care - x.compulsory_care,
            respite_stay = m.respite_stay - x.respite_stay,
            shelter_night = m.shelter_night - x.shelter_night,
            crisis_days = m.crisis_days - x.crisis_days,
            stay_days = m.stay_days - x.stay_days,
            police_calls = m.police_calls - x.police_calls,
            police_confused_person = m.police_confused_person - x.police_confused_person,
            police_nuisance = m.police_nuisance - x.police_nuisance,
            police_threat_violence = m.police_threat_violence - x.police_threat_violence,
            police_welfare_check = m.police_welfare_check - x.police_welfare_check,
            police_arrest = m.police_arrest - x.police_arrest,
            police_victim = m.police_victim - x.police_victim,
            police_other = m.police_other - x.police_other
        FROM x
        WHERE m.participant = x.participant AND m.month = x.month
          AND NOT (m.contacts = x.contacts AND m.crisis_events = x.crisis_events
                   AND m.police_calls = x.police_calls);

        WITH g AS (
            SELECT participant, day, source, event_type, kind, mode, initiated_by, caller, outcome,
                   count(*) AS events, sum(days) AS days, sum(billable_days) AS billable_days,
                   sum(minutes) AS minutes
            FROM koers.use_of_events(v_id, owners, tz) GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9
        ), gone AS (
            DELETE FROM koers.daily_use d USING g
            WHERE d.participant = g.participant AND d.day = g.day AND d.source = g.source
              AND d.event_type = g.event_type AND d.kind = g.kind
              AND d.mode IS NOT DISTINCT FROM g.mode
              AND d.initiated_by IS NOT DISTINCT FROM g.initiated_by
              AND d.caller IS NOT DISTINCT FROM g.caller AND d.outcome IS NOT DISTINCT FROM g.outcome
              AND d.events = g.events
        )
        UPDATE koers.daily_use d
        SET events = d.events - g.events, days = d.days - g.days,
            billable_days = d.billable_days - g.billable_days, minutes = d.minutes - g.minutes
        FROM g
        WHERE d.participant = g.participant AND d.day = g.day AND d.source = g.source
          AND d.event_type = g.event_type AND d.kind = g.kind
          AND d.mode IS NOT DISTINCT FROM g.mode
          AND d.initiated_by IS NOT DISTINCT FROM g.initiated_by
          AND d.caller IS NOT DISTINCT FROM g.caller AND d.outcome IS NOT DISTINCT FROM g.outcome
          AND d.events > g.events;
    END IF;

    -- Lateness: the batch's rows (voided or not), and the newly voided ones move over. A
    -- valid event in a month after the participant's last event day starts a new row.
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
    IF cardinality(owners) > 0 THEN
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
    END IF;

    -- Goals: rebuild the history of every goal with a new valid change or a voided one.
    SELECT array_agg(participant), array_agg(goal_ref) INTO g_p, g_ref FROM (
        SELECT participant, goal_ref FROM pg_temp.stage_goal_change
        WHERE event_id <> ALL (void_new)
        UNION
        SELECT participant, goal_ref FROM koers.goal_change
        WHERE event_id = ANY (v_id) AND participant = ANY (owners)) g;
    IF g_p IS NOT NULL THEN
        DELETE FROM koers.goal_history h USING unnest(g_p, g_ref) AS g(participant, goal_ref)
        WHERE h.participant = g.participant AND h.goal_ref = g.goal_ref;
        INSERT INTO koers.goal_history
        WITH g AS (
            SELECT participant, goal_ref, occurred_at, domain, change, set_by, gas, weight,
                   row_number() OVER (PARTITION BY participant, goal_ref
                                      ORDER BY occurred_at, recorded_at, event_id) AS seq
            FROM koers.goal_change_valid
            WHERE (participant, goal_ref) IN (SELECT * FROM unnest(g_p, g_ref))
        ), g2 AS (
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
        SELECT participant, goal_ref, seq, occurred_at, valid_to, change,
            CASE WHEN sets > 0 THEN set_domain ELSE first_domain END,
            CASE WHEN sets > 0 THEN set_set_by ELSE first_set_by END,
            CASE WHEN st_grp = 0 OR st_change IN ('set', 'reopened') THEN 'open' ELSE st_change::text END,
            CASE WHEN sets > 0 THEN set_occurred END,
            CASE WHEN st_grp > 0 AND st_change = 'achieved' THEN st_at END,
            revisions, last_gas, last_weight
        FROM g3;
    END IF;

    -- Participants: a new valid event can only widen first/last_event_day (their spans are
    -- unchanged); the owners of voided events are recomputed from the prepared tables.
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
            SELECT participant, (occurred_at AT TIME ZONE tz)::date AS day FROM pg_temp.stage_contact
            WHERE event_id <> ALL (void_new)
            UNION ALL SELECT participant, (occurred_at AT TIME ZONE tz)::date FROM pg_temp.stage_crisis
            WHERE event_id <> ALL (void_new)
            UNION ALL SELECT participant, (occurred_at AT TIME ZONE tz)::date FROM pg_temp.stage_police_call
            WHERE event_id <> ALL (void_new)
            UNION ALL SELECT participant, (occurred_at AT TIME ZONE tz)::date FROM pg_temp.stage_goal_change
            WHERE event_id <> ALL (void_new)
        ) n GROUP BY participant ORDER BY participant
    ) x
    LEFT JOIN koers.enrolment_span s1 ON s1.participant = x.participant AND s1.span_no = 1
    ON CONFLICT (participant) DO UPDATE SET
        first_event_day = least(p.first_event_day, excluded.first_event_day),
        last_event_day = greatest(p.last_event_day, excluded.last_event_day);
    -- Recomputed from the prepared tables: participants whose spans moved, and owners of
    -- voided events on their first or last day (elsewhere a voided event changes nothing).
    owners := ARRAY(
        SELECT unnest(span_ps)
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
    IF cardinality(owners) > 0 THEN
        DELETE FROM koers.participant WHERE participant = ANY (owners);
        INSERT INTO koers.participant
            (participant, cohort, first_enrolled, before_start, first_event_day, last_event_day,
             open_since, last_span_end)
        SELECT d.participant, s1.cohort, s1.start_day, (s1.start_day - interval '12 months')::date,
               d.first_day, d.last_day,
               (SELECT s.start_day FROM koers.enrolment_span s
                WHERE s.participant = d.participant AND s.end_day IS NULL),
               (SELECT max(s.end_day) FROM koers.enrolment_span s WHERE s.participant = d.participant)
        FROM (
            SELECT participant, min(day) AS first_day, max(day) AS last_day FROM (
                SELECT participant, day FROM koers.daily_use WHERE participant = ANY (owners)
                UNION ALL
                SELECT participant, (occurred_at AT TIME ZONE tz)::date FROM koers.enrolment_valid
                WHERE participant = ANY (owners)
                UNION ALL
                SELECT participant, (valid_from AT TIME ZONE tz)::date FROM koers.goal_history
                WHERE participant = ANY (owners)
            ) u GROUP BY participant
        ) d
        LEFT JOIN koers.enrolment_span s1 ON s1.participant = d.participant AND s1.span_no = 1;
    END IF;
    RETURN cardinality(ps);
END
$fn$;
-- Plan every statement for the batch at hand: plans cached while the tables were small (a
-- fresh database catching up on years of events) would go on scanning them whole.
ALTER FUNCTION koers.apply_staged() SET plan_cache_mode = force_custom_plan;
COMMENT ON FUNCTION koers.apply_staged() IS
    'The consumer''s hook (koers-consume), called in every batch transaction once the batch''s '
    'new rows are in the event tables and exactly those rows are in the session''s staging '
    'tables stage_<event type>: brings event_count_month and every prepared table up to date '
    'by difference (one update per key per batch). Participants with a new enrolment change, '
    'or whose enrolment change a correction voids, are rebuilt from the raw tables instead. '
    'Gives the same rows as refresh_participants() would; takes the same advisory locks. Must '
    'run at READ COMMITTED. Returns the number of participants in the batch.';
