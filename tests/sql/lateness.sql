-- pgTAP: the lateness histogram and the registrations (sql/0017_coarse_lateness.sql,
-- sql/defs/20_prepared.sql) through the consumer's hook koers.apply_staged(): the buckets'
-- edges, a participant whose cohort arrives after their first registrations (every event
-- moves to it), a voided event, and the rebuild giving the same rows. Expected figures are
-- worked out by hand beside each. Runs in a transaction that is rolled back; time zone
-- Europe/Amsterdam.
\set ON_ERROR_STOP 1
BEGIN;
SELECT no_plan();

---------------------------------------------------------------------------- bucket edges
-- Exact below 60 minutes; multiples of 6 below 1440; of 60 below 10080; of 1440 beyond.
SELECT results_eq(
    $$SELECT koers.lateness_bucket(m) FROM unnest(ARRAY[-5, 0, 59, 60, 65, 143, 1439, 1440, 1519,
                                                        10079, 10080, 11000, 180000]) m$$,
    $$VALUES (-5), (0), (59), (60), (60), (138), (1434), (1440), (1500), (10020), (10080),
             (10080), (180000)$$,
    'lateness_bucket: exact below an hour, then 0.1 h, 1 h and 1 day steps');

CREATE FUNCTION pg_temp.p(name text) RETURNS text LANGUAGE sql IMMUTABLE
    AS $$ SELECT encode(sha256(convert_to('late:' || name, 'UTF8')), 'hex') $$;
CREATE FUNCTION pg_temp.ev(k text) RETURNS uuid LANGUAGE sql IMMUTABLE
    AS $$ SELECT md5('late:' || k)::uuid $$;
CREATE TEMP TABLE stage_enrolment (LIKE koers.enrolment);
CREATE TEMP TABLE stage_contact (LIKE koers.contact);
CREATE TEMP TABLE stage_crisis (LIKE koers.crisis);
CREATE TEMP TABLE stage_goal_change (LIKE koers.goal_change);
CREATE TEMP TABLE stage_police_call (LIKE koers.police_call);
CREATE TEMP TABLE stage_correction (LIKE koers.correction);
CREATE FUNCTION pg_temp.empty_stage() RETURNS void LANGUAGE sql AS $$
    DELETE FROM stage_enrolment; DELETE FROM stage_contact; DELETE FROM stage_crisis;
    DELETE FROM stage_goal_change; DELETE FROM stage_police_call; DELETE FROM stage_correction $$;

-- Batch 1: Q, not enrolled yet. A contact from lateq on 10 Mar 2031 recorded 90 minutes
-- later (bucket 90), a police call from lateq_police on 12 Mar recorded 145 minutes later
-- (bucket 144: 2.40 hours, the lower edge of [2.40, 2.50) h; the event itself is 2.42 h).
WITH i AS (INSERT INTO koers.contact (event_id, participant, occurred_at, recorded_at, source,
                                      with_role, mode, initiated_by, duration_min, planned) VALUES
    (pg_temp.ev('q-c1'), pg_temp.p('Q'), '2031-03-10T10:00+01', '2031-03-10T11:30+01', 'lateq',
     'care_worker', 'face_to_face', 'participant', 30, true)
    RETURNING *) INSERT INTO stage_contact SELECT * FROM i;
WITH i AS (INSERT INTO koers.police_call VALUES
    (pg_temp.ev('q-p1'), pg_temp.p('Q'), '2031-03-12T10:00+01', '2031-03-12T12:25+01', 'lateq_police',
     'nuisance', 'neighbour', 'advice')
    RETURNING *) INSERT INTO stage_police_call SELECT * FROM i;
SELECT koers.apply_staged();
SELECT results_eq(
    $$SELECT source, event_type, cohort, voided, u.b, u.n
      FROM koers.lateness_histogram, unnest(bucket_min, events) AS u(b, n)
      WHERE source LIKE 'lateq%' ORDER BY 1$$,
    $$VALUES ('lateq', 'contact', '', false, 90, 1), ('lateq_police', 'police_call', '', false, 144, 1)$$,
    'batch 1: no cohort yet (empty), one event in each bucket');
SELECT results_eq(
    $$SELECT lateness_p50_hours, lateness_max_hours FROM koers.data_quality
      WHERE source = 'lateq_police' AND event_type = 'police_call'$$,
    $$VALUES (2.40, 2.40)$$,
    'data_quality: 145 minutes late is shown as its bucket''s lower edge, 2.40 hours');

-- Batch 2: Q enrolled on 1 Mar 2031 in cohort lq: both earlier events move to cohort lq; a
-- second contact (recorded 1 day = 1440 minutes late) goes there at once.
SELECT pg_temp.empty_stage();
WITH i AS (INSERT INTO koers.enrolment VALUES
    (pg_temp.ev('q-enr'), pg_temp.p('Q'), '2031-03-01T09:00+01', '2031-03-13T09:00+01', 'lateq',
     'enrolled', 'lq')
    RETURNING *) INSERT INTO stage_enrolment SELECT * FROM i;
WITH i AS (INSERT INTO koers.contact (event_id, participant, occurred_at, recorded_at, source,
                                      with_role, mode, initiated_by, duration_min, planned) VALUES
    (pg_temp.ev('q-c2'), pg_temp.p('Q'), '2031-03-14T10:00+01', '2031-03-15T10:00+01', 'lateq',
     'care_worker', 'face_to_face', 'participant', 30, true)
    RETURNING *) INSERT INTO stage_contact SELECT * FROM i;
SELECT koers.apply_staged();
-- The enrolment: occurred 1 Mar 09:00, recorded 13 Mar 09:00 = 12 days = 17280 minutes.
SELECT results_eq(
    $$SELECT source, event_type, cohort, voided, u.b, u.n
      FROM koers.lateness_histogram, unnest(bucket_min, events) AS u(b, n)
      WHERE source LIKE 'lateq%' ORDER BY 1, 2, 5$$,
    $$VALUES ('lateq', 'contact', 'lq', false, 90, 1), ('lateq', 'contact', 'lq', false, 1440, 1),
             ('lateq', 'enrolment', 'lq', false, 17280, 1),
             ('lateq_police', 'police_call', 'lq', false, 144, 1)$$,
    'batch 2: the cohort arrives; every event of Q is under it, none left without');

-- Batch 3: corrections (recorded 30 minutes later) void the first contact and the police
-- call: the police call's row of events not voided is left empty, and goes.
SELECT pg_temp.empty_stage();
WITH i AS (INSERT INTO koers.correction VALUES
    (pg_temp.ev('q-void'), pg_temp.p('Q'), '2031-03-20T10:00+01', '2031-03-20T10:30+01', 'lateq',
     pg_temp.ev('q-c1'), 'void'),
    (pg_temp.ev('q-void2'), pg_temp.p('Q'), '2031-03-20T11:00+01', '2031-03-20T11:30+01', 'lateq',
     pg_temp.ev('q-p1'), 'void')
    RETURNING *) INSERT INTO stage_correction SELECT * FROM i;
SELECT koers.apply_staged();
SELECT results_eq(
    $$SELECT source, event_type, cohort, voided, u.b, u.n
      FROM koers.lateness_histogram, unnest(bucket_min, events) AS u(b, n)
      WHERE source LIKE 'lateq%' AND event_type <> 'enrolment' ORDER BY 1, 2, 4, 5$$,
    $$VALUES ('lateq', 'contact', 'lq', false, 1440, 1), ('lateq', 'contact', 'lq', true, 90, 1),
             ('lateq', 'correction', 'lq', false, 30, 2),
             ('lateq_police', 'police_call', 'lq', true, 144, 1)$$,
    'batch 3: the voided events move to voided; emptied buckets and rows are gone');
SELECT is((SELECT count(*)::int FROM koers.lateness_histogram WHERE source = 'lateq_police' AND NOT voided),
          0, 'batch 3: the police call''s row of events not voided is deleted, not left empty');
SELECT results_eq(
    $$SELECT event_type, events, voided FROM koers.registration_month
      WHERE participant = pg_temp.p('Q') ORDER BY 1$$,
    $$VALUES ('contact', 1, 1), ('correction', 2, 0), ('enrolment', 1, 0), ('police_call', 0, 1)$$,
    'registration_month: Q per type in March 2031, voided apart');

---------------------------------------------------------------------------- incremental = full
CREATE TEMP TABLE s_reg AS SELECT * FROM koers.registration_month;
CREATE TEMP TABLE s_late AS SELECT * FROM koers.lateness_histogram;
SELECT ok(koers.refresh_all() >= 1, 'refresh_all');
SELECT bag_eq('SELECT * FROM koers.registration_month', 'SELECT * FROM s_reg',
              'refresh_all = hook: registration_month');
SELECT bag_eq('SELECT * FROM koers.lateness_histogram', 'SELECT * FROM s_late',
              'refresh_all = hook: lateness_histogram');

SELECT * FROM finish();
ROLLBACK;
