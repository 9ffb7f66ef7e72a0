-- pgTAP: the Measures v2 definitions (sql/0012_measures_v2.sql) on a fixture of their own,
-- loaded here through the consumer's hook koers.apply_staged() in two batches (the second
-- closes a stay opened in the first and voids an event). Every expected figure is worked out
-- by hand in the comment beside it. Runs in a transaction that is rolled back. Time zone
-- Europe/Amsterdam; person-month 30.4375 days; as-of date 30 Jun 2025 unless said.
\set ON_ERROR_STOP 1
BEGIN;
SELECT no_plan();

CREATE FUNCTION pg_temp.p(name text) RETURNS text LANGUAGE sql IMMUTABLE
    AS $$ SELECT encode(sha256(convert_to('v2:' || name, 'UTF8')), 'hex') $$;
CREATE FUNCTION pg_temp.ev(k text) RETURNS uuid LANGUAGE sql IMMUTABLE
    AS $$ SELECT md5('v2:' || k)::uuid $$;
CREATE TEMP TABLE stage_enrolment (LIKE koers.enrolment);
CREATE TEMP TABLE stage_contact (LIKE koers.contact);
CREATE TEMP TABLE stage_crisis (LIKE koers.crisis);
CREATE TEMP TABLE stage_goal_change (LIKE koers.goal_change);
CREATE TEMP TABLE stage_police_call (LIKE koers.police_call);
CREATE TEMP TABLE stage_correction (LIKE koers.correction);

-- Batch 1.
-- E: enrolled 1 Mar 2025 (cohort v2, still enrolled). Before: 1 Mar 2024 .. 28 Feb 2025 = 365
--    days. A 300-day admission discharged 3 Mar 2025 covers 7 May 2024 .. 2 Mar 2025: 298
--    days before, 2 during; it counts once, on 7 May 2024 (before). A shelter stay of 10
--    nights discharged 11 Apr covers 1..10 Apr. A respite stay opened 20 May (episode R1, no
--    days) is closed in batch 2 on 25 May: 20..24 May, 5 days. An admission opened 25 Jun
--    (episode A2) is still open: 25..30 Jun = 6 days at the as-of date.
--    Police: confused_person 10 Feb (before), victim 5 Apr and arrest 2 May (during).
-- F: enrolled 1 Jan 2025, paused 1 Feb, resumed 1 Mar, exited 1 Apr. Before = 2024 = 366 days.
--    crisis_contact 1 Jun 2024 (before); emergency_department 20 Jan (enrolled); a shelter
--    stay of 3 nights discharged 3 Feb covers 31 Jan (enrolled) and 1..2 Feb (paused); an
--    arrest 10 Feb (paused); nuisance 15 Apr (after the exit).
-- G: enrolled 15 Jan 2025. A 200-day admission discharged 14 Jan 2025 covers 28 Jun 2024 ..
--    13 Jan 2025: all before. A nuisance call on 1 Feb 2025 is voided in batch 2.
-- H: enrolled 1 Feb 2025; nothing else.
WITH i AS (INSERT INTO koers.enrolment VALUES
    (pg_temp.ev('e-enr'), pg_temp.p('E'), '2025-03-01T09:00+01', '2025-03-02T09:00+01', 'ggz', 'enrolled', 'v2'),
    (pg_temp.ev('f-enr'), pg_temp.p('F'), '2025-01-01T09:00+01', '2025-01-02T09:00+01', 'ggz', 'enrolled', 'v2'),
    (pg_temp.ev('f-pau'), pg_temp.p('F'), '2025-02-01T09:00+01', '2025-02-02T09:00+01', 'ggz', 'paused', 'v2'),
    (pg_temp.ev('f-res'), pg_temp.p('F'), '2025-03-01T09:00+01', '2025-03-02T09:00+01', 'ggz', 'resumed', 'v2'),
    (pg_temp.ev('f-exi'), pg_temp.p('F'), '2025-04-01T09:00+02', '2025-04-02T09:00+02', 'ggz', 'exited', 'v2'),
    (pg_temp.ev('g-enr'), pg_temp.p('G'), '2025-01-15T09:00+01', '2025-01-16T09:00+01', 'ggz', 'enrolled', 'v2'),
    (pg_temp.ev('h-enr'), pg_temp.p('H'), '2025-02-01T09:00+01', '2025-02-02T09:00+01', 'ggz', 'enrolled', 'v2')
    RETURNING *) INSERT INTO stage_enrolment SELECT * FROM i;
WITH i AS (INSERT INTO koers.crisis (event_id, participant, occurred_at, recorded_at, source, kind, days, episode_ref) VALUES
    (pg_temp.ev('e-adm'), pg_temp.p('E'), '2025-03-03T12:00+01', '2025-03-04T12:00+01', 'crisis_svc', 'crisis_admission', 300, NULL),
    (pg_temp.ev('e-she'), pg_temp.p('E'), '2025-04-11T12:00+02', '2025-04-12T12:00+02', 'shelter', 'shelter_night', 10, NULL),
    (pg_temp.ev('e-r1a'), pg_temp.p('E'), '2025-05-20T12:00+02', '2025-05-20T13:00+02', 'crisis_svc', 'respite_stay', NULL, 'R1'),
    (pg_temp.ev('e-a2a'), pg_temp.p('E'), '2025-06-25T12:00+02', '2025-06-25T13:00+02', 'crisis_svc', 'crisis_admission', NULL, 'A2'),
    (pg_temp.ev('f-cc'), pg_temp.p('F'), '2024-06-01T12:00+02', '2024-06-02T12:00+02', 'crisis_svc', 'crisis_contact', 0, NULL),
    (pg_temp.ev('f-ed'), pg_temp.p('F'), '2025-01-20T12:00+01', '2025-01-21T12:00+01', 'crisis_svc', 'emergency_department', 0, NULL),
    (pg_temp.ev('f-she'), pg_temp.p('F'), '2025-02-03T12:00+01', '2025-02-04T12:00+01', 'shelter', 'shelter_night', 3, NULL),
    (pg_temp.ev('g-adm'), pg_temp.p('G'), '2025-01-14T12:00+01', '2025-01-15T12:00+01', 'crisis_svc', 'crisis_admission', 200, NULL)
    RETURNING *) INSERT INTO stage_crisis SELECT * FROM i;
WITH i AS (INSERT INTO koers.police_call VALUES
    (pg_temp.ev('e-po1'), pg_temp.p('E'), '2025-02-10T12:00+01', '2025-02-11T12:00+01', 'police', 'confused_person', 'public', 'advice'),
    (pg_temp.ev('e-po2'), pg_temp.p('E'), '2025-04-05T12:00+02', '2025-04-06T12:00+02', 'police', 'victim', 'participant', 'advice'),
    (pg_temp.ev('e-po3'), pg_temp.p('E'), '2025-05-02T12:00+02', '2025-05-03T12:00+02', 'police', 'arrest', 'public', 'custody'),
    (pg_temp.ev('f-po1'), pg_temp.p('F'), '2025-02-10T12:00+01', '2025-02-11T12:00+01', 'police', 'arrest', 'public', 'custody'),
    (pg_temp.ev('f-po2'), pg_temp.p('F'), '2025-04-15T12:00+02', '2025-04-16T12:00+02', 'police', 'nuisance', 'neighbour', 'advice'),
    (pg_temp.ev('g-po1'), pg_temp.p('G'), '2025-02-01T12:00+01', '2025-02-02T12:00+01', 'police', 'nuisance', 'neighbour', 'advice')
    RETURNING *) INSERT INTO stage_police_call SELECT * FROM i;
SELECT is(koers.apply_staged(), 4, 'batch 1 through the hook: 4 participants');

-- Before the stay R1 is closed it is open: at 22 May it has 3 days (20..22 May).
SELECT results_eq(
    $$SELECT first_day, kind::text FROM koers.open_stay WHERE participant = pg_temp.p('E') ORDER BY 1$$,
    $$VALUES (date '2025-05-20', 'respite_stay'), (date '2025-06-25', 'crisis_admission')$$,
    'batch 1: R1 and A2 are open stays');
SELECT is((SELECT alternative_days FROM koers.window_measures('2025-05-22')
           WHERE participant = pg_temp.p('E') AND window_name = 'per_protocol'),
          13, 'an open stay counts its days up to the as-of date: 10 shelter nights + 3 respite days');

TRUNCATE stage_enrolment, stage_contact, stage_crisis, stage_goal_change, stage_police_call, stage_correction;
-- Batch 2: R1 closed on 25 May (the record gives days 5; the episode's own days are used);
-- G's nuisance call voided.
WITH i AS (INSERT INTO koers.crisis (event_id, participant, occurred_at, recorded_at, source, kind, days, episode_ref) VALUES
    (pg_temp.ev('e-r1b'), pg_temp.p('E'), '2025-05-25T12:00+02', '2025-05-26T12:00+02', 'crisis_svc', 'respite_stay', 5, 'R1')
    RETURNING *) INSERT INTO stage_crisis SELECT * FROM i;
WITH i AS (INSERT INTO koers.correction VALUES
    (pg_temp.ev('g-void'), pg_temp.p('G'), '2025-06-01T12:00+02', '2025-06-01T13:00+02', 'police', pg_temp.ev('g-po1'), 'void')
    RETURNING *) INSERT INTO stage_correction SELECT * FROM i;
SELECT is(koers.apply_staged(), 2, 'batch 2 through the hook: 2 participants');
SELECT results_eq(
    $$SELECT first_day FROM koers.open_stay WHERE participant = pg_temp.p('E')$$,
    $$VALUES (date '2025-06-25')$$,
    'batch 2: R1 closed, A2 still open');

------------------------------------------------------------------------- stays where they happened
-- E's 300-day admission by month (crisis_days of participant_month): May 2024 7..31 = 25,
-- Jun 30, Jul 31, Aug 31, Sep 30, Oct 31, Nov 30, Dec 31, Jan 2025 31, Feb 28, Mar 1..2 = 2;
-- 25 + 30 + 31 + 31 + 30 + 31 + 30 + 31 + 31 + 28 + 2 = 300. The event counts in May 2024.
-- March has nothing else acute.
SELECT results_eq(
    $$SELECT month, crisis_days, crisis_admission FROM koers.participant_month_at('2025-06-30')
      WHERE participant = pg_temp.p('E') AND month BETWEEN '2024-04-01' AND '2025-03-01' ORDER BY month$$,
    $$VALUES (date '2024-04-01', 0, 0), ('2024-05-01', 25, 1), ('2024-06-01', 30, 0), ('2024-07-01', 31, 0),
             ('2024-08-01', 31, 0), ('2024-09-01', 30, 0), ('2024-10-01', 31, 0), ('2024-11-01', 30, 0),
             ('2024-12-01', 31, 0), ('2025-01-01', 31, 0), ('2025-02-01', 28, 0), ('2025-03-01', 2, 0)$$,
    'a 300-day admission counts its days in the months they fall in, its event in the first');
-- The open admission A2 (25 Jun) counts its days up to the as-of date in its month: 30 Jun:
-- 6 days; 27 Jun: 3 days. Its event counts in June.
SELECT results_eq(
    $$SELECT crisis_days, crisis_admission FROM koers.participant_month_at('2025-06-30')
      WHERE participant = pg_temp.p('E') AND month = '2025-06-01'
      UNION ALL
      SELECT crisis_days, crisis_admission FROM koers.participant_month_at('2025-06-27')
      WHERE participant = pg_temp.p('E') AND month = '2025-06-01'$$,
    $$VALUES (6, 1), (3, 1)$$,
    'an open stay in participant_month: its days up to the as-of date');
-- Stay alternatives by month: E's shelter 1..10 Apr = 10, R1 20..24 May = 5 (stay_days).
SELECT results_eq(
    $$SELECT month, stay_days, shelter_night, respite_stay FROM koers.participant_month_at('2025-06-30')
      WHERE participant = pg_temp.p('E') AND month BETWEEN '2025-04-01' AND '2025-05-01' ORDER BY month$$,
    $$VALUES (date '2025-04-01', 10, 1, 0), ('2025-05-01', 5, 0, 1)$$,
    'stay alternatives apart (stay_days), on their own days');

------------------------------------------------------------------------- windows
-- E: before 365 days; per-protocol = intention-to-treat = 1 Mar .. 30 Jun = 122 days; no
-- follow-up. Before: acute 1 event (the admission, on 7 May 2024), 298 days; police use 1
-- (confused 1). Per-protocol: acute 1 event (A2, 25 Jun), 2 + 6 = 8 days; alternatives 2
-- events (shelter, R1), 10 + 5 = 15 days; police use 1 (arrest), victim 1.
-- F: before 366 (2024); per-protocol Jan 31 + Mar 31 = 62 days; intention-to-treat 1 Jan ..
-- 30 Jun = 181 days; follow-up from the exit 1 Apr .. 30 Jun = 91 days. Before: acute 1 (the
-- crisis contact). Per-protocol: acute 1 (ED), alternative 1 event, 1 day (31 Jan), police 0.
-- ITT: acute 1, alternative 1 event, 3 days, police use 2 (arrest while paused, nuisance
-- after exit). Follow-up: police use 1 (the nuisance).
-- G: before 15 Jan 2024 .. 14 Jan 2025 = 366 days: acute 1, 200 days. During 15 Jan .. 30 Jun =
-- 167 days: nothing (the nuisance is voided).
-- H: before 1 Feb 2024 .. 31 Jan 2025 = 366 days; during 1 Feb .. 30 Jun = 150 days; nothing.
SELECT results_eq(
    $$SELECT w.window_name, w.days, acute_events, acute_days, alternative_events, alternative_days,
             police_use_calls, confused_person_calls, police_victim_calls
      FROM koers.window_measures('2025-06-30') w
      WHERE participant = pg_temp.p('E') ORDER BY w.window_name$$,
    $$VALUES ('before', 365, 1, 298, 0, 0, 1, 1, 0), ('intention_to_treat', 122, 1, 8, 2, 15, 1, 0, 1),
             ('per_protocol', 122, 1, 8, 2, 15, 1, 0, 1)$$,
    'windows E: stays where they happened, alternatives and victim calls apart, an open stay');
SELECT results_eq(
    $$SELECT w.window_name, w.days, w.person_months, acute_events, acute_days, alternative_events,
             alternative_days, police_use_calls
      FROM koers.window_measures('2025-06-30') w
      WHERE participant = pg_temp.p('F') ORDER BY w.window_name$$,
    $$VALUES ('before', 366, 12.0246, 1, 0, 0, 0, 0), ('follow_up', 91, 2.9897, 0, 0, 0, 0, 1),
             ('intention_to_treat', 181, 5.9466, 1, 0, 1, 3, 2), ('per_protocol', 62, 2.0370, 1, 0, 1, 1, 0)$$,
    'windows F: paused time and time after exit in intention-to-treat, follow-up after the exit');
SELECT results_eq(
    $$SELECT participant, w.window_name, w.days, acute_events, acute_days, police_use_calls
      FROM koers.window_measures('2025-06-30') w
      WHERE participant IN (pg_temp.p('G'), pg_temp.p('H')) AND w.window_name IN ('before', 'per_protocol')
      ORDER BY participant = pg_temp.p('H'), w.window_name$$,
    $$VALUES (pg_temp.p('G'), 'before', 366, 1, 200, 0), (pg_temp.p('G'), 'per_protocol', 167, 0, 0, 0),
             (pg_temp.p('H'), 'before', 366, 0, 0, 0), (pg_temp.p('H'), 'per_protocol', 150, 0, 0, 0)$$,
    'windows G and H: a stay that ended before enrolment stays before; a voided call counts nowhere');
-- The old reading of G's stay (200 days on its discharge day, 14 Jan, before) and of E's (300
-- days on 3 Mar, during) is gone: before_during (per-protocol) shows E 8 acute days during.
SELECT results_eq(
    $$SELECT crisis_before, crisis_during, crisis_days_before, crisis_days_during, police_before,
             police_during, alternative_during, alternative_days_during, victim_during
      FROM koers.before_during('2025-06-30') WHERE participant = pg_temp.p('E')$$,
    $$VALUES (1, 1, 298, 8, 1, 1, 2, 15, 1)$$,
    'before_during E on the v2 rules');

------------------------------------------------------------------------- costs
-- Victim calls are never priced: no unit_cost_map row, and the table refuses one.
SELECT is((SELECT count(*)::int FROM koers.unit_cost_map WHERE event_type = 'police_call' AND kind = 'victim'),
          0, 'victim calls have no unit cost');
SELECT throws_ok(
    $$INSERT INTO koers.unit_cost_map VALUES ('police_call', 'victim', 'police_call_other')$$,
    '23514', NULL, 'a unit cost for victim calls is refused');
-- E's cost before: 298 admission days x 327 = 97446; the confused-person call 300 -> 97746.
-- (Read as before v2, the 300 days x 327 = 98100 would all have been "during".)
SELECT results_eq(
    $$SELECT crisis_cost_before, police_cost_before, police_cost_during FROM koers.cost_benefit('2025-06-30')
      WHERE participant = pg_temp.p('E')$$,
    $$VALUES (97446.00, 300.00, 300.00)$$,
    'cost: stay days priced where they happened; the victim call costs nothing');

------------------------------------------------------------------------- paired statistics
-- Per-protocol acute days per person-month (rates rounded to 4 decimals, then differenced):
-- E 298 x 30.4375 / 365 = 24.8503 -> 8 x 30.4375 / 122 = 1.9959: -22.8544;
-- F 0 -> 0: 0; G 200 x 30.4375 / 366 = 16.6325 -> 0: -16.6325; H 0 -> 0: 0.
SELECT bag_eq(
    $$SELECT participant, before_rate, during_rate, difference FROM koers.window_paired('2025-06-30')
      WHERE cohort = 'v2' AND window_name = 'per_protocol' AND measure = 'acute_days'$$,
    $$VALUES (pg_temp.p('E'), 24.8503, 1.9959, -22.8544), (pg_temp.p('F'), 0.0000, 0.0000, 0.0000),
             (pg_temp.p('H'), 0.0000, 0.0000, 0.0000), (pg_temp.p('G'), 16.6325, 0.0000, -16.6325)$$,
    'paired per-participant rates, per-protocol acute days');
-- Cohort v2: n 4; pooled before (298 + 200) x 30.4375 / (365 + 366 + 366 + 366) = 15157.875 /
-- 1463 = 10.3608;
-- during 8 x 30.4375 / (122 + 62 + 167 + 150) = 0.4860. Medians of the rates: before
-- (0 + 16.6325) / 2 = 8.3163, during 0. Differences sorted -22.8544, -16.6325, 0, 0: median
-- -8.31625 -> -8.3163; q1 at 1 + 0.25 x 3 = 1.75: -22.8544 + 0.75 x 6.2219 = -18.1880; q3 at
-- 3.25: 0. Signed ranks: two non-zero, both negative: W+ = 0; exact P(W+ <= 0) = 1/4,
-- two-sided p = 0.5.
SELECT results_eq(
    $$SELECT n, pooled_before_rate, pooled_during_rate, median_before_rate, median_during_rate,
             (stats).n_nonzero, (stats).w_plus, (stats).p_value, (stats).p_method,
             (stats).median_difference, (stats).q1_difference, (stats).q3_difference
      FROM koers.window_evidence('2025-06-30')
      WHERE cohort = 'v2' AND window_name = 'per_protocol' AND measure = 'acute_days'$$,
    $$VALUES (4, 10.3608, 0.4860, 8.3163, 0.0000, 2, 0.0, 0.5000, 'exact', -8.3163, -18.1880, 0.0000)$$,
    'cohort evidence: pooled rates, medians, signed-rank test');
-- Follow-up: only F (exited) has the window: n 1.
SELECT is((SELECT n FROM koers.window_evidence('2025-06-30')
           WHERE cohort = 'v2' AND window_name = 'follow_up' AND measure = 'police_use_calls'),
          1, 'follow-up evidence over the exited participants only');

-- The test itself on known differences.
-- d = 1, -2, 3, 4, 0, 5: zero dropped, |d| ranks 1..5, W+ = 1 + 3 + 4 + 5 = 13 of 15.
-- P(W+ >= 13) = P(W+ <= 2) = #{ {}, {1}, {2} } / 32 = 3/32; two-sided 6/32 = 0.1875.
-- Sorted -2, 0, 1, 3, 4, 5: median (1 + 3) / 2 = 2; q1 at 1 + 0.25 x 5 = 2.25: 0 + 0.25 x 1 =
-- 0.25; q3 at 1 + 0.75 x 5 = 4.75: 3 + 0.75 x (4 - 3) = 3.75.
SELECT results_eq(
    $$SELECT (s).n, (s).n_nonzero, (s).w_plus, (s).p_value, (s).p_method, (s).median_difference,
             (s).q1_difference, (s).q3_difference
      FROM (SELECT koers.paired_statistics(ARRAY[1, -2, 3, 4, 0, 5]::numeric[]) AS s) x$$,
    $$VALUES (6, 5, 13.0, 0.1875, 'exact', 2.0000, 0.2500, 3.7500)$$,
    'signed-rank test, exact: p = 6/32');
-- Ties: d = 1, -1, 2, 2, -3: mean ranks 1.5, 1.5, 3.5, 3.5, 5; W+ = 1.5 + 3.5 + 3.5 = 8.5.
-- Doubled ranks 3, 3, 7, 7, 10 (total 30); W+ doubled 17. Subsets with sum <= 13: {} 0,
-- {3} x2, {3,3} 6, {7} x2, {3,7} x4 10, {10} 10, {3,3,7} x2 13, {3,10} x2 13 = 15 of 32, so
-- P(W+ >= 17) = 15/32; sums <= 12: 11, so P(W+ <= 17) = 1 - 11/32 = 21/32.
-- p = 2 x 15/32 = 0.9375.
SELECT results_eq(
    $$SELECT (s).w_plus, (s).p_value FROM (SELECT koers.paired_statistics(ARRAY[1, -1, 2, 2, -3]::numeric[]) AS s) x$$,
    $$VALUES (8.5, 0.9375)$$,
    'signed-rank test with ties: mean ranks, exact p = 30/32');
-- 26 non-zero differences -1..-8, 9..26: W+ = 9 + ... + 26 = 351 - 36 = 315; normal
-- approximation: mean 26 x 27 / 4 = 175.5, variance 26 x 27 x 53 / 24 = 1550.25 (no ties);
-- z = (315 - 175.5 - 0.5) / 39.3732 = 3.53033; p = 2 x P(Z >= 3.53033) = 0.000415 -> 0.0004.
SELECT results_eq(
    $$SELECT (s).w_plus, (s).p_value, (s).p_method FROM (SELECT koers.paired_statistics(
          ARRAY(SELECT CASE WHEN i <= 8 THEN -i ELSE i END FROM generate_series(1, 26) i)::numeric[]) AS s) x$$,
    $$VALUES (315.0, 0.0004, 'normal')$$,
    'signed-rank test above 25 pairs: normal approximation');
-- 26 differences 1..13 and -1..-13: each |d| twice, so midranks 1.5, 3.5, .., 25.5; W+ = 1.5 +
-- 3.5 + ... + 25.5 = 13 x 13.5 = 175.5, exactly the mean 26 x 27 / 4. No
-- continuity correction where W+ is the mean (as R's wilcox.test: sign(0) = 0): z = 0, p = 1.
SELECT results_eq(
    $$SELECT (s).w_plus, (s).p_value, (s).p_method FROM (SELECT koers.paired_statistics(
          ARRAY(SELECT i * s FROM generate_series(1, 13) i, (VALUES (1), (-1)) v(s))::numeric[]) AS s) x$$,
    $$VALUES (175.5, 1.0000, 'normal')$$,
    'signed-rank test, normal approximation: W+ at its mean gives p = 1');
-- Bootstrap: every resample of (2, 2, 2) has median 2, so the interval is [2, 2]; of any data
-- it lies within [min, max]. (tests/e2e/test_measures.py recomputes the stream itself.)
SELECT results_eq(
    $$SELECT (s).boot_lo, (s).boot_hi FROM (SELECT koers.paired_statistics(ARRAY[2, 2, 2]::numeric[]) AS s) x$$,
    $$VALUES (2.0000, 2.0000)$$,
    'bootstrap interval of constant differences');
SELECT ok((SELECT (s).boot_lo >= -22.8544 AND (s).boot_hi <= 0 AND (s).boot_lo <= (s).boot_hi
           FROM (SELECT koers.paired_statistics(ARRAY[-22.8544, 0, -16.6325, 0]) AS s) x),
          'bootstrap interval within the range of the differences');

------------------------------------------------------------------------- GAS data quality
-- An achieved goal scored below 0 is a data-quality finding.
WITH i AS (INSERT INTO koers.goal_change VALUES
    (pg_temp.ev('h-g1'), pg_temp.p('H'), '2025-03-01T12:00+01', '2025-03-02T12:00+01', 'ggz', 'HG1', 'housing', 'set', 'participant', -2, NULL),
    (pg_temp.ev('h-g2'), pg_temp.p('H'), '2025-04-01T12:00+02', '2025-04-02T12:00+02', 'ggz', 'HG1', 'housing', 'achieved', 'participant', -1, NULL)
    RETURNING *) INSERT INTO stage_goal_change SELECT * FROM i;
TRUNCATE stage_enrolment, stage_contact, stage_crisis, stage_police_call, stage_correction;
SELECT is(koers.apply_staged(), 1, 'batch 3 through the hook');
SELECT results_eq(
    $$SELECT goal_ref, gas FROM koers.data_quality_gas WHERE participant = pg_temp.p('H')$$,
    $$VALUES ('HG1', -1)$$,
    'achieved with a score below 0 is listed as a data-quality finding');

------------------------------------------------------------------------- shares
-- Cohort v2 has 4 enrolled participants; H's achieved self-set goal: 1 of 4 = 0.25.
SELECT results_eq(
    $$SELECT participants_self_set_achieved, enrolled_participants, share_self_set_achieved
      FROM koers.goal_summary('2025-06-30') WHERE cohort = 'v2' AND stability_corner = 'all'$$,
    $$VALUES (1, 4, 0.2500)$$,
    'the share of participants with an achieved self-set goal is over the enrolled participants');

------------------------------------------------------------------------- source coverage
-- police states its police data from 1 Jun 2024 on; crisis_svc its crisis data from 1 Jan
-- 2024 on; shelter its crisis data for 2025 only. Known crisis days: those both crisis
-- sources cover, 1 Jan .. 31 Dec 2025; known police days: from 1 Jun 2024.
INSERT INTO koers.coverage VALUES
    (pg_temp.ev('cov-1'), '2025-06-01T12:00+02', '2025-06-01T13:00+02', 'police', 'police_call', '2024-06-01', NULL),
    (pg_temp.ev('cov-2'), '2025-06-01T12:00+02', '2025-06-01T13:00+02', 'crisis_svc', 'crisis', '2024-01-01', NULL),
    (pg_temp.ev('cov-3'), '2025-06-01T12:00+02', '2025-06-01T13:00+02', 'shelter', 'crisis', '2025-01-01', '2025-12-31');
-- E before (1 Mar 2024 .. 28 Feb 2025, 365 days): crisis known 1 Jan .. 28 Feb 2025 = 59 days;
-- the admission's event (7 May 2024) is unknown, its days 1 Jan .. 28 Feb 2025 count: 59.
-- Police known 1 Jun 2024 .. 28 Feb 2025 = 30+31+31+30+31+30+31+31+28 = 273 days; the
-- confused-person call of 10 Feb 2025 counts. Per-protocol (1 Mar .. 30 Jun 2025): all known.
-- F before (2024, 366 days): no crisis day known; police known 1 Jun .. 31 Dec = 214 days.
SELECT results_eq(
    $$SELECT participant = pg_temp.p('E'), w.window_name, w.days, crisis_covered_days, police_covered_days,
             acute_events, acute_days, police_use_calls
      FROM koers.window_measures('2025-06-30') w
      WHERE participant IN (pg_temp.p('E'), pg_temp.p('F')) AND w.window_name IN ('before', 'per_protocol')
      ORDER BY 1 DESC, 2$$,
    $$VALUES (true, 'before', 365, 59, 273, 0, 59, 1), (true, 'per_protocol', 122, 122, 122, 1, 8, 1),
             (false, 'before', 366, 0, 214, 0, 0, 0), (false, 'per_protocol', 62, 62, 62, 1, 0, 0)$$,
    'coverage: unknown days add neither events nor days; the known days are the denominators');
-- E's crisis rates before are over the 59 known days: 59 acute days x 30.4375 / 59 = 30.4375.
SELECT results_eq(
    $$SELECT before_days, before_rate FROM koers.window_paired('2025-06-30')
      WHERE participant = pg_temp.p('E') AND window_name = 'per_protocol' AND measure = 'acute_days'$$,
    $$VALUES (59, 30.4375)$$,
    'coverage: a rate over the known days');
-- Acute days, per-protocol: F has no known crisis day before and drops out; E (59 of 365),
-- G (1 .. 14 Jan 2025: 14 of 366) and H (January 2025: 31 of 366) stay, none with full
-- coverage in both windows: n 3, full coverage 0.
SELECT results_eq(
    $$SELECT n, full_coverage FROM koers.window_evidence('2025-06-30')
      WHERE cohort = 'v2' AND window_name = 'per_protocol' AND measure = 'acute_days'$$,
    $$VALUES (3, 0)$$,
    'coverage: participants without known days drop out; full coverage counted');
-- before_during uses the same known days: E's crisis_known_months_before 59 / 30.4375 = 1.9384.
SELECT results_eq(
    $$SELECT person_months_before, crisis_known_months_before, police_known_months_before, crisis_days_before
      FROM koers.before_during('2025-06-30') WHERE participant = pg_temp.p('E')$$,
    $$VALUES (11.9918, 1.9384, 8.9692, 59)$$,
    'before_during: known person-months beside the calendar ones');
DELETE FROM koers.coverage;

------------------------------------------------------------------------- incremental = full
CREATE TEMP TABLE s_use AS SELECT * FROM koers.daily_use;
CREATE TEMP TABLE s_open AS SELECT * FROM koers.open_stay;
CREATE TEMP TABLE s_month AS SELECT * FROM koers.participant_month_count;
CREATE TEMP TABLE s_participant AS SELECT * FROM koers.participant;
CREATE TEMP TABLE s_goal AS SELECT * FROM koers.goal_history;
CREATE TEMP TABLE s_reg AS SELECT * FROM koers.registration_month;
CREATE TEMP TABLE s_late AS SELECT * FROM koers.lateness_histogram;
SELECT ok(koers.refresh_all() >= 4, 'refresh_all');
SELECT bag_eq('SELECT * FROM koers.daily_use', 'SELECT * FROM s_use', 'v2: refresh_all = hook: daily_use');
SELECT bag_eq('SELECT * FROM koers.open_stay', 'SELECT * FROM s_open', 'v2: refresh_all = hook: open_stay');
SELECT bag_eq('SELECT * FROM koers.participant_month_count', 'SELECT * FROM s_month', 'v2: refresh_all = hook: participant_month_count');
SELECT bag_eq('SELECT * FROM koers.participant', 'SELECT * FROM s_participant', 'v2: refresh_all = hook: participant');
SELECT bag_eq('SELECT * FROM koers.goal_history', 'SELECT * FROM s_goal', 'v2: refresh_all = hook: goal_history');
SELECT bag_eq('SELECT * FROM koers.registration_month', 'SELECT * FROM s_reg', 'v2: refresh_all = hook: registration_month');
SELECT bag_eq('SELECT * FROM koers.lateness_histogram', 'SELECT * FROM s_late', 'v2: refresh_all = hook: lateness_histogram');

SELECT * FROM finish();
ROLLBACK;
