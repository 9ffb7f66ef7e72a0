-- pgTAP: the measures of sql/0002_measures.sql on the fixture that tests/e2e/test_measures.py
-- loads batch by batch (see FIXTURE there). Every expected figure is worked out by hand in the
-- comment beside it; none is computed by the SQL under test. Runs in a transaction that is
-- rolled back. Time zone Europe/Amsterdam; person-month 30.4375 days.
\set ON_ERROR_STOP 1
BEGIN;
SELECT no_plan();

-- Pseudonyms of the fixture's participants (the test hashes the names the same way).
CREATE FUNCTION pg_temp.p(name text) RETURNS text LANGUAGE sql IMMUTABLE
    AS $$ SELECT encode(sha256(convert_to(name, 'UTF8')), 'hex') $$;

---------------------------------------------------------------------------- the hook itself
SELECT is(koers.refresh_participants(ARRAY[]::text[]), 0, 'refresh of no participant does nothing');
SELECT is(koers.refresh_participants(NULL), 0, 'refresh of NULL does nothing');

---------------------------------------------------------------------------- enrolment spans
-- A: enrolled 15 Jan (00:30 local, 14 Jan UTC), paused 1 Mar, resumed 11 Mar; B enrolled 1 Mar,
-- exited 1 May.
SELECT results_eq(
    $$SELECT span_no, start_day, end_day, started_by::text, ended_by::text FROM koers.enrolment_span
      WHERE participant = pg_temp.p('A') ORDER BY span_no$$,
    $$VALUES (1, date '2025-01-15', date '2025-03-01', 'enrolled', 'paused'),
             (2, date '2025-03-11', NULL::date, 'resumed', NULL)$$,
    'A: two spans, the first ended by paused (local days, end excluded), the second open');
SELECT results_eq(
    $$SELECT cohort, first_enrolled, before_start FROM koers.participant WHERE participant = pg_temp.p('B')$$,
    $$VALUES ('grn1', date '2025-03-01', date '2024-03-01')$$,
    'B: cohort grn1, before period from 1 Mar 2024');

---------------------------------------------------------------------------- participant_month
-- A's rows at 2025-06-30 run from Jan 2024 (the month of a-cr-1, before the before period that
-- starts 15 Jan 2024) to Jun 2025 (open span): 12 + 6 = 18 months.
SELECT is((SELECT count(*)::int FROM koers.participant_month_at('2025-06-30') WHERE participant = pg_temp.p('A')),
          18, 'participant_month: 18 months for A');
-- Jan 2025: enrolled 15..31 = 17 days; before 1..14 = 14 days; contact a-co-1 (home visit,
-- by the participant, 60 min); police a-po-1 (confused, 14 Jan 23:30 local) and a-po-2
-- (nuisance, 15 Jan 00:10 local).
SELECT results_eq(
    $$SELECT enrolment_state, enrolled_days, before_days, contacts, contact_minutes, outreach_contacts,
             home_visit_contacts, participant_initiated_contacts, significant_other_contacts,
             experience_expert_contacts, crisis_events, police_calls, police_nuisance,
             police_confused_person, confused_person_calls
      FROM koers.participant_month_at('2025-06-30') WHERE participant = pg_temp.p('A') AND month = '2025-01-01'$$,
    $$VALUES ('enrolled', 17, 14, 1, 60, 0, 1, 1, 0, 0, 0, 2, 1, 1, 1)$$,
    'participant_month A Jan 2025');
-- Feb 2025: 28 enrolled days; a-co-2 (experience expert, outreach, 90 min); the late
-- a-cr-5 (crisis_admission, 4 days).
SELECT results_eq(
    $$SELECT enrolment_state, enrolled_days, contacts, contact_minutes, outreach_contacts,
             experience_expert_contacts, crisis_events, crisis_admission, crisis_days, stay_days
      FROM koers.participant_month_at('2025-06-30') WHERE participant = pg_temp.p('A') AND month = '2025-02-01'$$,
    $$VALUES ('enrolled', 28, 1, 90, 1, 1, 1, 1, 4, 0)$$,
    'participant_month A Feb 2025 (late crisis event included)');
-- Mar 2025: paused 1..10, enrolled 11..31 = 21 days; state at 31 Mar enrolled; a-cr-4
-- (crisis_contact) and a-cr-7 (respite_stay, 0 days) count in the month although paused;
-- a-co-3 (participant-initiated); a-po-4 (confused).
SELECT results_eq(
    $$SELECT enrolment_state, enrolled_days, crisis_events, crisis_contact, respite_stay, crisis_days,
             stay_days, contacts, participant_initiated_contacts, police_calls, confused_person_calls
      FROM koers.participant_month_at('2025-06-30') WHERE participant = pg_temp.p('A') AND month = '2025-03-01'$$,
    $$VALUES ('enrolled', 21, 2, 1, 1, 0, 0, 1, 1, 1, 1)$$,
    'participant_month A Mar 2025 (paused time)');
-- Apr 2025: 30 days; a-cr-6 shelter_night 3 days -> stay_days 3; a-co-4 significant other.
SELECT results_eq(
    $$SELECT enrolled_days, shelter_night, stay_days, crisis_days, significant_other_contacts, contact_minutes
      FROM koers.participant_month_at('2025-06-30') WHERE participant = pg_temp.p('A') AND month = '2025-04-01'$$,
    $$VALUES (30, 1, 3, 0, 1, 45)$$,
    'participant_month A Apr 2025 (stay days)');
-- May 2025: a-po-3 (arrest) was voided: no police call at all.
SELECT results_eq(
    $$SELECT enrolled_days, police_calls, police_arrest
      FROM koers.participant_month_at('2025-06-30') WHERE participant = pg_temp.p('A') AND month = '2025-05-01'$$,
    $$VALUES (31, 0, 0)$$,
    'participant_month A May 2025: the voided arrest counts nowhere');
-- Jan 2024: before period 15..31 = 17 days; a-cr-1 on 14 Jan counts in the month.
SELECT results_eq(
    $$SELECT enrolment_state, enrolled_days, before_days, crisis_events, crisis_contact
      FROM koers.participant_month_at('2025-06-30') WHERE participant = pg_temp.p('A') AND month = '2024-01-01'$$,
    $$VALUES ('not_enrolled', 0, 17, 1, 1)$$,
    'participant_month A Jan 2024');
-- As of 5 Mar 2025 A is paused: March has 0 enrolled days so far and the state is paused;
-- the rows stop at March: Jan 2024 .. Mar 2025 = 15.
SELECT results_eq(
    $$SELECT enrolment_state, enrolled_days FROM koers.participant_month_at('2025-03-05')
      WHERE participant = pg_temp.p('A') AND month = '2025-03-01'$$,
    $$VALUES ('paused', 0)$$,
    'participant_month A Mar 2025 as of 5 Mar: paused');
SELECT is((SELECT count(*)::int FROM koers.participant_month_at('2025-03-05') WHERE participant = pg_temp.p('A')),
          15, 'participant_month as of 5 Mar 2025: 15 months for A');
-- B: Mar 2024 .. May 2025 = 15 months; May: exited, 0 days, b-po-1 counts in the month.
SELECT is((SELECT count(*)::int FROM koers.participant_month_at('2025-06-30') WHERE participant = pg_temp.p('B')),
          15, 'participant_month: 15 months for B');
SELECT results_eq(
    $$SELECT month, enrolment_state, enrolled_days FROM koers.participant_month_at('2025-06-30')
      WHERE participant = pg_temp.p('B') AND month >= '2025-03-01' ORDER BY month$$,
    $$VALUES (date '2025-03-01', 'enrolled', 31), (date '2025-04-01', 'enrolled', 30),
             (date '2025-05-01', 'exited', 0)$$,
    'participant_month B: enrolled Mar-Apr, exited in May');
-- D: the correction came before its target d-po-1 (1 Feb): still voided.
SELECT is((SELECT police_calls FROM koers.participant_month_at('2025-06-30')
           WHERE participant = pg_temp.p('D') AND month = '2025-02-01'), 0,
          'participant_month D: event voided by an earlier correction counts nowhere');
SELECT ok(EXISTS (SELECT 1 FROM koers.participant_month WHERE participant = pg_temp.p('A')),
          'the view koers.participant_month answers');

---------------------------------------------------------------------------- participant_month_cost
-- A Jan 2025: police 2 x 300 = 600.00; support a-co-1 care_worker 134.00.
-- A Mar 2025: crisis a-cr-4 crisis_contact 134 + a-cr-7 respite 0 days -> 1 billable day x 41
-- = 175.00; police a-po-4 300.00; support a-co-3 neighbourhood_team 127.00.
-- A Apr 2025: shelter 3 x 41 = 123.00; significant_other contact unpriced: 0.
SELECT results_eq(
    $$SELECT month, crisis_cost, police_cost, support_cost FROM koers.participant_month_cost
      WHERE participant = pg_temp.p('A') AND month IN ('2025-01-01', '2025-03-01', '2025-04-01') ORDER BY month$$,
    $$VALUES (date '2025-01-01', 0.00, 600.00, 134.00), (date '2025-03-01', 175.00, 300.00, 127.00),
             (date '2025-04-01', 123.00, 0.00, 0.00)$$,
    'participant_month_cost A');

---------------------------------------------------------------------------- goal_status
-- G1 set 20 Jan (w 3, gas -1), progress 1 Apr (gas 1), achieved 1 Jun (gas 2); the setback of
-- 20 Jun (gas -2) is voided. Days 20 Jan -> 1 Jun = 11 + 28 + 31 + 30 + 31 + 1 = 132.
-- G2 set 20 Jan (w 2, gas 0), revised 15 Mar (gas -1), achieved 10 May (gas 1): 110 days.
-- G3 set by a professional (no weight, gas -2), late progress 15 Jun gas 0.
-- G4 set, never scored. G5 set (w 5, gas 1), abandoned 1 May.
SELECT results_eq(
    $$SELECT goal_ref, domain::text, stability_corner, set_by::text, status, set_at, achieved_at,
             days_to_achieved, revisions, latest_gas, weight
      FROM koers.goal_status WHERE participant = pg_temp.p('A') ORDER BY goal_ref$$,
    $$VALUES
      ('G1', 'housing', 'living_environment', 'participant', 'achieved',
       timestamptz '2025-01-20 10:00+01', timestamptz '2025-06-01 10:00+02', 132, 0, 2, 3),
      ('G2', 'work', 'participation', 'participant_with_network', 'achieved',
       timestamptz '2025-01-20 11:00+01', timestamptz '2025-05-10 10:00+02', 110, 1, 1, 2),
      ('G3', 'mental_health', 'continuity_of_support', 'professional', 'open',
       timestamptz '2025-02-01 10:00+01', NULL, NULL, 0, 0, NULL),
      ('G4', 'social_contact', 'participation', 'participant', 'open',
       timestamptz '2025-02-01 10:00+01', NULL, NULL, 0, NULL, NULL),
      ('G5', 'pet', 'participation', 'participant', 'abandoned',
       timestamptz '2025-01-25 10:00+01', NULL, NULL, 0, 1, 5)$$,
    'goal_status: A''s five goals (revised then achieved, never scored, abandoned, voided setback)');
SELECT results_eq(
    $$SELECT status, revisions, latest_gas FROM koers.goal_status_at('2025-03-20')
      WHERE participant = pg_temp.p('A') AND goal_ref = 'G2'$$,
    $$VALUES ('revised', 1, -1)$$,
    'goal_status_at 20 Mar 2025: G2 revised');
SELECT is((SELECT status FROM koers.goal_status_at('2025-04-30')
           WHERE participant = pg_temp.p('A') AND goal_ref = 'G5'), 'open',
          'goal_status_at 30 Apr 2025: G5 still open');

---------------------------------------------------------------------------- goal_summary
-- grn1 at 2025-06-30: A (G1..G5), B (B1 leisure, self-set, gas 2, achieved 20 Apr: 46 days),
-- C (C1 set by a professional, achieved 10 Jun: 9 days).
-- goals 7; set by participant G1 G4 G5 B1 = 4, with network G2 = 1, professional G3 C1 = 2;
-- open G3 G4 = 2; achieved G1 G2 B1 C1 = 4; abandoned G5 = 1; revisions 1;
-- self-set achieved G1 G2 B1 = 3; participants with one: A, B = 2 of the 2 enrolled by
-- 30 Jun (C enrols in July: counted among participants with goals, not in the share) -> 1;
-- days to achieved 9, 46, 110, 132: median (46 + 110) / 2 = 78, mean 297 / 4 = 74.25.
SELECT results_eq(
    $$SELECT participants, goals, set_by_participant, set_by_participant_with_network, set_by_professional,
             open, achieved, revised, abandoned, revisions, self_set_achieved,
             participants_self_set_achieved, share_self_set_achieved, median_days_to_achieved,
             mean_days_to_achieved, enrolled_participants
      FROM koers.goal_summary('2025-06-30') WHERE cohort = 'grn1' AND stability_corner = 'all'$$,
    $$VALUES (3, 7, 4, 1, 2, 2, 4, 0, 1, 1, 3, 2, 1.0000, 78::numeric, 74.25, 2)$$,
    'goal_summary grn1');
-- participation: G2 G4 G5 (A) and B1 (B): 4 goals of 2 participants, 2 achieved.
SELECT results_eq(
    $$SELECT participants, goals, achieved FROM koers.goal_summary('2025-06-30')
      WHERE cohort = 'grn1' AND stability_corner = 'participation' AND domain = 'all'$$,
    $$VALUES (2, 4, 2)$$,
    'goal_summary grn1 participation corner');

---------------------------------------------------------------------------- GAS T-score
-- T = 50 + 10*sum(w x) / sqrt(0.7*sum(w^2) + 0.3*(sum w)^2)
-- A at 2025-06-30: G1 (w 3, x 2, first score -1), G2 (w 2, x 1, first 0), G3 (w 1 by default,
-- x 0, first -2), G5 abandoned on 1 May with its last score (w 5, x 1, first 1), kept by
-- default; G4 never scored. sum wx = 6 + 2 + 0 + 5 = 13; sum w^2 = 9 + 4 + 1 + 25 = 39;
-- sum w = 11; sqrt(0.7*39 + 0.3*121) = sqrt(63.6) = 7.97496; T = 50 + 130 / 7.97496 = 66.30.
-- Baseline: sum w x0 = -3 + 0 - 2 + 5 = 0 -> 50.00; change 16.30.
SELECT results_eq(
    $$SELECT goals, goals_scored, t_score, baseline_t_score, t_score_change, abandoned_included
      FROM koers.gas_tscore('2025-06-30') WHERE participant = pg_temp.p('A')$$,
    $$VALUES (5, 4, 66.30, 50.00, 16.30, true)$$,
    'GAS A at 2025-06-30: four goals, the abandoned one with its last score = 66.30, baseline 50.00');
-- With gas_include_abandoned false, G5 leaves: sum wx = 8; sum w^2 = 14; (sum w)^2 = 36;
-- sqrt(9.8 + 10.8) = sqrt(20.6) = 4.53872; T = 50 + 80 / 4.53872 = 67.63. Baseline:
-- -3 + 0 - 2 = -5 -> 50 - 50 / 4.53872 = 38.98; change 67.63 - 38.98 = 28.65.
UPDATE koers.setting SET value = 'false' WHERE name = 'gas_include_abandoned';
SELECT results_eq(
    $$SELECT goals_scored, t_score, baseline_t_score, t_score_change, abandoned_included
      FROM koers.gas_tscore('2025-06-30') WHERE participant = pg_temp.p('A')$$,
    $$VALUES (3, 67.63, 38.98, 28.65, false)$$,
    'GAS A at 2025-06-30 with abandoned goals left out (setting) = 67.63');
UPDATE koers.setting SET value = 'true' WHERE name = 'gas_include_abandoned';
-- A at 2025-04-30: G1 x 1 (progress 1 Apr) w 3, G2 x -1 (revised 15 Mar) w 2, G3 x -2 w 1,
-- G5 x 1 w 5 (abandoned only on 1 May). sum wx = 3 - 2 - 2 + 5 = 4; sum w^2 = 9+4+1+25 = 39;
-- sum w = 11; sqrt(27.3 + 36.3) = sqrt(63.6) = 7.97496; T = 50 + 40 / 7.97496 = 55.02.
SELECT results_eq(
    $$SELECT goals_scored, t_score FROM koers.gas_tscore('2025-04-30') WHERE participant = pg_temp.p('A')$$,
    $$VALUES (4, 55.02)$$,
    'GAS A at 2025-04-30: the later-abandoned goal counts = 55.02');
-- B: B1 set with gas 2 (baseline), achieved without a score on 20 Apr: achieved means the
-- expected level, x 0 -> T 50.00, baseline 50 + 10*2/sqrt(1) = 70.00, change -20.00.
-- C: C1 never scored, achieved on 10 Jun: x 0 -> T 50.00, baseline 50.00.
SELECT results_eq(
    $$SELECT participant = pg_temp.p('B'), goals_scored, t_score, baseline_t_score, t_score_change
      FROM koers.gas_tscore('2025-06-30')
      WHERE participant IN (pg_temp.p('B'), pg_temp.p('C')) ORDER BY 1 DESC$$,
    $$VALUES (true, 1, 50.00, 70.00, -20.00), (false, 1, 50.00, 50.00, 0.00)$$,
    'GAS: achieved without a score counts 0 (B 50.00 from a baseline of 70.00; C 50.00)');
-- C before its goal was achieved (9 Jun): never scored, so no T-score.
SELECT results_eq(
    $$SELECT goals_scored, t_score FROM koers.gas_tscore('2025-06-09') WHERE participant = pg_temp.p('C')$$,
    $$VALUES (0, NULL::numeric)$$,
    'GAS C at 2025-06-09: a goal never scored gives no T-score');
SELECT is((SELECT count(*)::int FROM koers.gas_tscore('2025-01-19') WHERE participant = pg_temp.p('A')), 0,
          'GAS A at 2025-01-19: no goals yet, no row');
-- Cohort: participants with goals A, B, C, all scored; goals scored 4 + 1 + 1 = 6;
-- mean (66.30 + 50.00 + 50.00) / 3 = 55.433 -> 55.43; median 50.00.
SELECT results_eq(
    $$SELECT participants, participants_scored, goals_scored, mean_t_score, median_t_score, min_t_score, max_t_score
      FROM koers.gas_tscore_cohort('2025-06-30') WHERE cohort = 'grn1'$$,
    $$VALUES (3, 3, 6, 55.43, 50.00, 50.00, 66.30)$$,
    'GAS cohort grn1');

---------------------------------------------------------------------------- before / during
-- A: before = 15 Jan 2024 .. 14 Jan 2025 = 366 days (leap year) -> 366 / 30.4375 = 12.0246.
-- During to 30 Jun: 15 Jan..28 Feb = 45 days + 11 Mar..30 Jun = 112 days = 157 -> 5.1581.
-- Acute crisis before: a-cr-2 (admission, 5 days: 5..9 Mar 2024), a-cr-3 (0) = 2 events, 5 days
-- (a-cr-1 is too early). Acute during: a-cr-5 (late admission, 4 days: 16..19 Feb 2025) = 1
-- event, 4 days. Stay alternatives during: a-cr-6 (shelter, 3 nights: 7..9 Apr) = 1, 3 days;
-- none before (a-cr-4 and a-cr-7 fall in paused time: nowhere). Police before: a-po-1 (confused, last before day), a-po-5 = 2,
-- 1 confused. Police during: a-po-2 (enrolment day, local), a-po-4 (resume day, confused) = 2,
-- 1 confused; a-po-3 voided.
-- Rates: 2 / 12.02464 = 0.1663; 1 / 5.15811 = 0.1939; 5 / 12.02464 = 0.4158;
-- 4 / 5.15811 = 0.7755; police 2 / 5.15811 = 0.3877; 1 / 12.02464 = 0.0832; 1 / 5.15811 =
-- 0.1939; alternative days 0 before, 3 / 5.15811 = 0.5816 during.
SELECT results_eq(
    $$SELECT cohort, first_enrolled, person_months_before, person_months_during, crisis_before, crisis_during,
             crisis_days_before, crisis_days_during, police_before, police_during, confused_before,
             confused_during, crisis_before_rate, crisis_during_rate, crisis_days_before_rate,
             crisis_days_during_rate, police_before_rate, police_during_rate, confused_before_rate,
             confused_during_rate, alternative_before, alternative_during, alternative_days_before,
             alternative_days_during, victim_before, victim_during, alternative_days_before_rate,
             alternative_days_during_rate
      FROM koers.before_during('2025-06-30') WHERE participant = pg_temp.p('A')$$,
    $$VALUES ('grn1', date '2025-01-15', 12.0246, 5.1581, 2, 1, 5, 4, 2, 2, 1, 1,
              0.1663, 0.1939, 0.4158, 0.7755, 0.1663, 0.3877, 0.0832, 0.1939,
              0, 1, 0, 3, 0, 0, 0.0000, 0.5816)$$,
    'before_during A: boundaries, paused time, late event, voided event');
-- B: no events in the year before: before = 1 Mar 2024 .. 28 Feb 2025 = 365 days -> 11.9918,
-- all zero. During 1 Mar .. 30 Apr = 61 days -> 2.0041; b-cr-1 during (1 / 2.00411 = 0.4990);
-- b-po-1 after exit: nowhere.
SELECT results_eq(
    $$SELECT person_months_before, person_months_during, crisis_before, crisis_during, police_before,
             police_during, crisis_before_rate, crisis_during_rate, police_during_rate
      FROM koers.before_during('2025-06-30') WHERE participant = pg_temp.p('B')$$,
    $$VALUES (11.9918, 2.0041, 0, 1, 0, 0, 0.0000, 0.4990, 0.0000)$$,
    'before_during B: no events in the year before, exited');
SELECT is((SELECT count(*)::int FROM koers.before_during('2025-06-30') WHERE participant = pg_temp.p('C')), 0,
          'before_during: C, enrolled after the as-of date, has no row');
-- A as of 28 Feb 2025: during 15 Jan .. 28 Feb = 45 days -> 1.4784; a-cr-5 (20 Feb) and
-- a-po-2 during; a-po-4 (11 Mar) is after the as-of date.
SELECT results_eq(
    $$SELECT person_months_during, crisis_during, police_during, confused_during
      FROM koers.before_during('2025-02-28') WHERE participant = pg_temp.p('A')$$,
    $$VALUES (1.4784, 1, 1, 0)$$,
    'before_during A as of 28 Feb 2025');
-- Cohort grn1 (A and B): before 366 + 365 = 731 days -> 24.0164; during 157 + 61 = 218 ->
-- 7.1622. Acute crisis 2 / 2 (A's a-cr-5, B's b-cr-1), days 5 / 4, police 2 / 2, confused
-- 1 / 1, alternatives 0 / 1 (3 days). Pooled rates: 2/24.0164 = 0.0833, 2/7.1622 = 0.2792,
-- 5/24.0164 = 0.2082, 4/7.1622 = 0.5585, 2/7.1622 = 0.2792, 1/24.0164 = 0.0416,
-- 1/7.1622 = 0.1396, 3/7.1622 = 0.4189.
SELECT results_eq(
    $$SELECT participants, person_months_before, person_months_during, crisis_before, crisis_during,
             crisis_days_before, crisis_days_during, police_before, police_during, confused_before,
             confused_during, crisis_before_rate, crisis_during_rate, crisis_days_before_rate,
             crisis_days_during_rate, police_before_rate, police_during_rate, confused_before_rate,
             confused_during_rate, alternative_during, alternative_days_during,
             alternative_days_during_rate
      FROM koers.before_during_cohort('2025-06-30') WHERE cohort = 'grn1'$$,
    $$VALUES (2, 24.0164, 7.1622, 2, 2, 5, 4, 2, 2, 1, 1,
              0.0833, 0.2792, 0.2082, 0.5585, 0.0833, 0.2792, 0.0416, 0.1396, 1, 3, 0.4189)$$,
    'before_during_cohort grn1: pooled');
-- D (grn2): enrolled 1 Jan 2025; before = 2024 = 366 days; during 1 Jan..30 Jun = 181 days
-- -> 5.9466; its only police call was voided.
SELECT results_eq(
    $$SELECT person_months_before, person_months_during, police_during FROM koers.before_during_cohort('2025-06-30')
      WHERE cohort = 'grn2'$$,
    $$VALUES (12.0246, 5.9466, 0)$$,
    'before_during_cohort grn2');

---------------------------------------------------------------------------- support intensity
-- A during: a-co-1 (home visit, participant, 60), a-co-2 (outreach, experience expert, 90),
-- a-co-4 (significant other, network, 45) = 3 contacts, 195 min; 157 days = 22.43 weeks;
-- 3*7/157 = 0.13 a week; 195*7/157 = 8.69 min a week; shares 2/3, 1/3, 2/3.
-- B: b-co-1 (municipality, face to face, participant, 60); 61 days = 8.71 weeks; 7/61 = 0.11;
-- 420/61 = 6.89; shares 0, 1, 0. Cohort: 218 days = 31.14 weeks, 4 contacts, 255 min,
-- 28/218 = 0.13, 1785/218 = 8.19, shares 2/4, 2/4, 2/4.
SELECT results_eq(
    $$SELECT participant = pg_temp.p('A'), enrolled_weeks, contacts, contact_minutes, contacts_per_week,
             minutes_per_week, outreach_home_visit_share, participant_initiated_share, network_expert_share
      FROM koers.support_intensity('2025-06-30') WHERE cohort = 'grn1' ORDER BY participant IS NULL, participant = pg_temp.p('A') DESC$$,
    $$VALUES (true, 22.43, 3, 195, 0.13, 8.69, 0.6667, 0.3333, 0.6667),
             (false, 8.71, 1, 60, 0.11, 6.89, 0.0000, 1.0000, 0.0000),
             (NULL, 31.14, 4, 255, 0.13, 8.19, 0.5000, 0.5000, 0.5000)$$,
    'support_intensity grn1: A, B and the cohort');

---------------------------------------------------------------------------- cost-benefit
-- A before: crisis a-cr-2 5 days x 327 = 1635 + a-cr-3 ED 258 = 1893; police 2 x 300 = 600.
-- A during: crisis a-cr-5 4 x 327 = 1308 + a-cr-6 3 nights x 41 = 123 -> 1431; police 600.
-- Support during: a-co-1 care_worker 134 + a-co-2 experience expert 1.5 h x 64 = 96 +
-- a-co-4 significant other (unpriced) = 230.
-- Per person-month: 1893/12.02464 = 157.43; 1431/5.15811 = 277.43; 600/12.02464 = 49.90;
-- 600/5.15811 = 116.32; before 2493/12.02464 = 207.32; during 2031/5.15811 = 393.75;
-- difference 207.3243 - 393.7488 = -186.42; over the enrolled time -186.42452 x 5.15811 =
-- -961.60; support 230/5.15811 = 44.59; net -961.60 - 230 = -1191.60.
SELECT results_eq(
    $$SELECT person_months_before, person_months_during, crisis_cost_before, crisis_cost_during,
             police_cost_before, police_cost_during, cost_before, cost_during, crisis_cost_before_per_pm,
             crisis_cost_during_per_pm, police_cost_before_per_pm, police_cost_during_per_pm,
             cost_before_per_pm, cost_during_per_pm, difference_per_pm, difference_total,
             support_cost_during, support_cost_during_per_pm, net_benefit_total
      FROM koers.cost_benefit('2025-06-30') WHERE participant = pg_temp.p('A')$$,
    $$VALUES (12.0246, 5.1581, 1893.00, 1431.00, 600.00, 600.00, 2493.00, 2031.00, 157.43, 277.43,
              49.90, 116.32, 207.32, 393.75, -186.42, -961.60, 230.00, 44.59, -1191.60)$$,
    'cost_benefit A');
-- Cohort grn1: + B (during: crisis_contact 134; support municipality 127).
-- before 2493 / 24.01643 = 103.80; during (1431 + 134 + 600) = 2165 / 7.16222 = 302.28;
-- crisis during 1565 / 7.16222 = 218.51; police 600 / 24.01643 = 24.98, 600 / 7.16222 = 83.77;
-- difference 103.80395 - 302.28068 = -198.48; x 7.16222 = -1421.53; support 357 -> 49.84;
-- net -1421.53 - 357 = -1778.53.
SELECT results_eq(
    $$SELECT participant, cost_before, cost_during, crisis_cost_before_per_pm, crisis_cost_during_per_pm,
             police_cost_before_per_pm, police_cost_during_per_pm, cost_before_per_pm, cost_during_per_pm,
             difference_per_pm, difference_total, support_cost_during, support_cost_during_per_pm,
             net_benefit_total
      FROM koers.cost_benefit_cohort('2025-06-30') WHERE cohort = 'grn1'$$,
    $$VALUES (NULL::text, 2493.00, 2165.00, 78.82, 218.51, 24.98, 83.77, 103.80, 302.28, -198.48, -1421.53,
              357.00, 49.84, -1778.53)$$,
    'cost_benefit_cohort grn1');
-- Unit costs are editable: a confused-person call at 400 makes A's police cost before
-- 400 + 300 = 700.
UPDATE koers.unit_cost SET amount_eur = 400 WHERE item = 'police_confused_person_call';
SELECT is((SELECT police_cost_before FROM koers.cost_benefit('2025-06-30') WHERE participant = pg_temp.p('A')),
          700.00, 'cost_benefit follows an edited unit cost');
UPDATE koers.unit_cost SET amount_eur = 300 WHERE item = 'police_confused_person_call';
SELECT ok((SELECT bool_and(source <> '' AND price_year BETWEEN 2000 AND 2100) FROM koers.unit_cost),
          'every unit cost has a source and a price year');
SELECT ok((SELECT source ~ 'ASSUMPTION' FROM koers.unit_cost WHERE item = 'police_confused_person_call'),
          'the police unit cost is marked as an assumption');

---------------------------------------------------------------------------- data quality
-- police / Jan 2025: a-po-1 30 min late, a-po-2 90 min: p50 (rank 1 of 2) 0.50 h, p90 1.50 h.
-- police / May 2025: b-po-1 120 min; a-po-3 voided. police / Feb 2025: only the voided d-po-1.
-- crisis_svc / Feb 2025: a-cr-5, 125 days late = 3000 h.
-- ggz / Jan 2025 enrolment: a-enr-1 (15 Jan) and d-enr-1 (1 Jan), 1 day late each, though the
-- re-import recorded them again 10 days later (the stored copy is the first).
-- ggz / Jun 2025 corrections: d-void-1, a-void-1, a-void-2, 60 min late.
SELECT results_eq(
    $$SELECT source, month, event_type, events, voided, lateness_p50_hours, lateness_p90_hours,
             lateness_p99_hours, lateness_max_hours
      FROM koers.data_quality
      WHERE (source, month, event_type) IN (('police', '2025-01-01', 'police_call'), ('police', '2025-01-01', 'all'),
            ('police', '2025-05-01', 'police_call'), ('police', '2025-02-01', 'police_call'),
            ('crisis_svc', '2025-02-01', 'crisis'), ('ggz', '2025-01-01', 'enrolment'),
            ('ggz', '2025-06-01', 'correction'))
      ORDER BY source, month, event_type$$,
    $$VALUES ('crisis_svc', date '2025-02-01', 'crisis', 1::bigint, 0::bigint, 3000.00, 3000.00, 3000.00, 3000.00),
             ('ggz', date '2025-01-01', 'enrolment', 2, 0, 24.00, 24.00, 24.00, 24.00),
             ('ggz', date '2025-06-01', 'correction', 3, 0, 1.00, 1.00, 1.00, 1.00),
             ('police', date '2025-01-01', 'all', 2, 0, 0.50, 1.50, 1.50, 1.50),
             ('police', date '2025-01-01', 'police_call', 2, 0, 0.50, 1.50, 1.50, 1.50),
             ('police', date '2025-02-01', 'police_call', 0, 1, NULL, NULL, NULL, NULL),
             ('police', date '2025-05-01', 'police_call', 1, 1, 2.00, 2.00, 2.00, 2.00)$$,
    'data_quality: events, voided, lateness percentiles');
SELECT results_eq(
    $$SELECT month, topic, reason, messages FROM koers.data_quality_rejected$$,
    $$VALUES (date '2025-06-01', 'koers.contact', 'recorded_at: more than a day in the future', 2::bigint)$$,
    'data_quality_rejected: per reason');

---------------------------------------------------------------------------- documentation
SELECT is((SELECT count(*)::int FROM information_schema.columns c
           WHERE c.table_schema = 'koers'
             AND c.table_name IN ('participant_month', 'goal_status', 'data_quality', 'data_quality_rejected',
                                  'participant_month_cost', 'cost_assumptions', 'unit_cost', 'unit_cost_map')
             AND col_description(format('koers.%I', c.table_name)::regclass, c.ordinal_position) IS NULL),
          0, 'every column of the public views and tables has a COMMENT');
SELECT is((SELECT count(*)::int FROM pg_attribute a JOIN pg_type t ON t.typrelid = a.attrelid
           JOIN pg_namespace n ON n.oid = t.typnamespace
           WHERE n.nspname = 'koers' AND t.typname LIKE '%\_row' AND a.attnum > 0
             AND col_description(a.attrelid, a.attnum) IS NULL),
          0, 'every column of the measure functions'' row types has a COMMENT');

---------------------------------------------------------------------------- incremental = full
-- The prepared tables built batch by batch (late events, corrections, re-import) equal a
-- rebuild from the raw tables.
CREATE TEMP TABLE s_participant AS SELECT * FROM koers.participant;
CREATE TEMP TABLE s_span AS SELECT * FROM koers.enrolment_span;
CREATE TEMP TABLE s_use AS SELECT * FROM koers.daily_use;
CREATE TEMP TABLE s_open AS SELECT * FROM koers.open_stay;
CREATE TEMP TABLE s_month AS SELECT * FROM koers.participant_month_count;
CREATE TEMP TABLE s_goal AS SELECT * FROM koers.goal_history;
CREATE TEMP TABLE s_reg AS SELECT * FROM koers.registration_month;
CREATE TEMP TABLE s_late AS SELECT * FROM koers.lateness_histogram;
SELECT is(koers.refresh_all(), 4, 'refresh_all rebuilds 4 participants');
SELECT bag_eq('SELECT * FROM koers.participant', 'SELECT * FROM s_participant', 'refresh_all = incremental: participant');
SELECT bag_eq('SELECT * FROM koers.enrolment_span', 'SELECT * FROM s_span', 'refresh_all = incremental: enrolment_span');
SELECT bag_eq('SELECT * FROM koers.daily_use', 'SELECT * FROM s_use', 'refresh_all = incremental: daily_use');
SELECT bag_eq('SELECT * FROM koers.open_stay', 'SELECT * FROM s_open', 'refresh_all = incremental: open_stay');
SELECT bag_eq('SELECT * FROM koers.participant_month_count', 'SELECT * FROM s_month', 'refresh_all = incremental: participant_month_count');
SELECT bag_eq('SELECT * FROM koers.goal_history', 'SELECT * FROM s_goal', 'refresh_all = incremental: goal_history');
SELECT bag_eq('SELECT * FROM koers.registration_month', 'SELECT * FROM s_reg', 'refresh_all = incremental: registration_month');
SELECT bag_eq('SELECT * FROM koers.lateness_histogram', 'SELECT * FROM s_late', 'refresh_all = incremental: lateness_histogram');
SELECT isnt((SELECT count(*)::int FROM s_use), 0, 'the compared tables are not empty');

SELECT * FROM finish();
ROLLBACK;
