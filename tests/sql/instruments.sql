-- pgTAP: the outcome instruments (sql/defs/45_instruments.sql: ZRM scores, stressors,
-- statuses) on a fixture of their own, loaded through the consumer's hook koers.apply_staged().
-- Every expected figure is worked out by hand in the comment beside it. Runs in a transaction
-- that is rolled back. Time zone Europe/Amsterdam; person-month 30.4375 days; as-of date
-- 30 Jun 2025; stressor_intake_days 30 (the default).
\set ON_ERROR_STOP 1
BEGIN;
SELECT no_plan();

CREATE FUNCTION pg_temp.p(name text) RETURNS text LANGUAGE sql IMMUTABLE
    AS $$ SELECT encode(sha256(convert_to('inst:' || name, 'UTF8')), 'hex') $$;
CREATE FUNCTION pg_temp.ev(k text) RETURNS uuid LANGUAGE sql IMMUTABLE
    AS $$ SELECT md5('inst:' || k)::uuid $$;
CREATE TEMP TABLE stage_enrolment (LIKE koers.enrolment);
CREATE TEMP TABLE stage_contact (LIKE koers.contact);
CREATE TEMP TABLE stage_crisis (LIKE koers.crisis);
CREATE TEMP TABLE stage_goal_change (LIKE koers.goal_change);
CREATE TEMP TABLE stage_police_call (LIKE koers.police_call);
CREATE TEMP TABLE stage_zrm_score (LIKE koers.zrm_score);
CREATE TEMP TABLE stage_stressor (LIKE koers.stressor);
CREATE TEMP TABLE stage_status_change (LIKE koers.status_change);
CREATE TEMP TABLE stage_correction (LIKE koers.correction);
CREATE TEMP TABLE counts_before AS SELECT event_type, source, month, events FROM koers.event_count_month;

-- Z: enrolled 1 Jan 2025 (cohort inst, still enrolled): before = 2024 (366 days), per-protocol
--    = intention-to-treat = 1 Jan .. 30 Jun 2025 = 181 days.
-- Y: enrolled 1 Mar 2025: per-protocol 1 Mar .. 30 Jun = 122 days.
WITH i AS (INSERT INTO koers.enrolment VALUES
    (pg_temp.ev('z-enr'), pg_temp.p('Z'), '2025-01-01T09:00+01', '2025-01-02T09:00+01', 'inst_team', 'enrolled', 'inst'),
    (pg_temp.ev('y-enr'), pg_temp.p('Y'), '2025-03-01T09:00+01', '2025-03-02T09:00+01', 'inst_team', 'enrolled', 'inst')
    RETURNING *) INSERT INTO stage_enrolment SELECT * FROM i;

-- ZRM. Z: finances 2 (5 Jan), 3 (1 Mar), 4 (1 Jun): baseline 2, latest 4, change +2, up.
--    housing 3 (5 Jan), 2 (1 Jun): change -1, down. mental_health 3 once: no change.
--    social_network 2 (5 Jan), 2 (1 Apr), 5 (1 May, voided below): 2 -> 2, same.
--    justice 4 on 15 Jul 2025: after the as-of date, so not scored by then.
-- Y: finances 1 (2 Mar), 3 (30 Jun 23:30 local: the as-of day, included): up, +2.
--    housing 1 and 2 at the same instant (2 Mar 10:00), recorded 2 Mar and 3 Mar: the one
--    recorded first is the baseline (1), the later the latest (2): up, +1.
WITH i AS (INSERT INTO koers.zrm_score VALUES
    (pg_temp.ev('z-f1'), pg_temp.p('Z'), '2025-01-05T10:00+01', '2025-01-06T10:00+01', 'inst_team', 'finances', 2, 'professional'),
    (pg_temp.ev('z-f2'), pg_temp.p('Z'), '2025-03-01T10:00+01', '2025-03-02T10:00+01', 'inst_team', 'finances', 3, 'participant_with_professional'),
    (pg_temp.ev('z-f3'), pg_temp.p('Z'), '2025-06-01T10:00+02', '2025-06-02T10:00+02', 'inst_team', 'finances', 4, 'participant'),
    (pg_temp.ev('z-h1'), pg_temp.p('Z'), '2025-01-05T10:00+01', '2025-01-06T10:00+01', 'inst_team', 'housing', 3, 'professional'),
    (pg_temp.ev('z-h2'), pg_temp.p('Z'), '2025-06-01T10:00+02', '2025-06-02T10:00+02', 'inst_team', 'housing', 2, 'professional'),
    (pg_temp.ev('z-m1'), pg_temp.p('Z'), '2025-01-05T10:00+01', '2025-01-06T10:00+01', 'inst_team', 'mental_health', 3, 'professional'),
    (pg_temp.ev('z-s1'), pg_temp.p('Z'), '2025-01-05T10:00+01', '2025-01-06T10:00+01', 'inst_team', 'social_network', 2, 'professional'),
    (pg_temp.ev('z-s2'), pg_temp.p('Z'), '2025-04-01T10:00+02', '2025-04-02T10:00+02', 'inst_team', 'social_network', 2, 'professional'),
    (pg_temp.ev('z-s3'), pg_temp.p('Z'), '2025-05-01T10:00+02', '2025-05-02T10:00+02', 'inst_team', 'social_network', 5, 'professional'),
    (pg_temp.ev('z-j1'), pg_temp.p('Z'), '2025-07-15T10:00+02', '2025-07-16T10:00+02', 'inst_team', 'justice', 4, 'professional'),
    (pg_temp.ev('y-f1'), pg_temp.p('Y'), '2025-03-02T10:00+01', '2025-03-02T11:00+01', 'inst_team', 'finances', 1, 'professional'),
    (pg_temp.ev('y-f2'), pg_temp.p('Y'), '2025-06-30T23:30+02', '2025-07-01T10:00+02', 'inst_team', 'finances', 3, 'professional'),
    (pg_temp.ev('y-h1'), pg_temp.p('Y'), '2025-03-02T10:00+01', '2025-03-02T11:00+01', 'inst_team', 'housing', 1, 'professional'),
    (pg_temp.ev('y-h2'), pg_temp.p('Y'), '2025-03-02T10:00+01', '2025-03-03T11:00+01', 'inst_team', 'housing', 2, 'professional')
    RETURNING *) INSERT INTO stage_zrm_score SELECT * FROM i;

-- Stressors of Z (intake day: 1 Jan + 30 = 31 Jan).
--   debts: present 10 Jan, reduced 1 Mar, resolved 1 May: at enrolment yes, now no; 10 Jan ->
--     1 May = 21 + 28 + 31 + 30 + 1 = 111 days to resolution.
--   housing_insecurity: present 15 Feb: not at enrolment (after the intake day), now yes,
--     unresolved.
--   conflict_or_violence: present 1 Dec 2024, resolved 20 Jan, returned 1 Apr: at enrolment
--     no (resolved on 31 Jan), now yes; 1 Dec -> 20 Jan = 31 + 19 = 50 days.
WITH i AS (INSERT INTO koers.stressor VALUES
    (pg_temp.ev('z-d1'), pg_temp.p('Z'), '2025-01-10T10:00+01', '2025-01-11T10:00+01', 'inst_team', 'debts', 'present'),
    (pg_temp.ev('z-d2'), pg_temp.p('Z'), '2025-03-01T10:00+01', '2025-03-02T10:00+01', 'inst_team', 'debts', 'reduced'),
    (pg_temp.ev('z-d3'), pg_temp.p('Z'), '2025-05-01T10:00+02', '2025-05-02T10:00+02', 'inst_team', 'debts', 'resolved'),
    (pg_temp.ev('z-i1'), pg_temp.p('Z'), '2025-02-15T10:00+01', '2025-02-16T10:00+01', 'inst_team', 'housing_insecurity', 'present'),
    (pg_temp.ev('z-c1'), pg_temp.p('Z'), '2024-12-01T10:00+01', '2024-12-02T10:00+01', 'inst_team', 'conflict_or_violence', 'present'),
    (pg_temp.ev('z-c2'), pg_temp.p('Z'), '2025-01-20T10:00+01', '2025-01-21T10:00+01', 'inst_team', 'conflict_or_violence', 'resolved'),
    (pg_temp.ev('z-c3'), pg_temp.p('Z'), '2025-04-01T10:00+02', '2025-04-02T10:00+02', 'inst_team', 'conflict_or_violence', 'returned')
    RETURNING *) INSERT INTO stage_stressor SELECT * FROM i;

-- Statuses of Z (source inst_woco states its status_change coverage from 1 Mar 2024, open):
--   1 Oct 2024 homeless, no daytime activity; 1 Feb 2025 shelter; 1 Apr 2025 supported
--   housing and volunteer work; 15 May 2025 paid work and rent arrears.
--   Eviction notice 1 Feb 2024 (before the coverage: unknown day, counts nowhere), notice
--   1 Jun 2024 and eviction 1 Jul 2024 (before), notice 20 May 2025 (during).
WITH i AS (INSERT INTO koers.status_change VALUES
    (pg_temp.ev('z-st1'), pg_temp.p('Z'), '2024-10-01T10:00+02', '2024-10-02T10:00+02', 'inst_woco', 'homeless', NULL, NULL, 'none', NULL, NULL),
    (pg_temp.ev('z-st2'), pg_temp.p('Z'), '2025-02-01T10:00+01', '2025-02-02T10:00+01', 'inst_woco', 'shelter', NULL, NULL, NULL, NULL, NULL),
    (pg_temp.ev('z-st3'), pg_temp.p('Z'), '2025-04-01T10:00+02', '2025-04-02T10:00+02', 'inst_woco', 'supported_housing', NULL, NULL, 'volunteer_work', NULL, NULL),
    (pg_temp.ev('z-st4'), pg_temp.p('Z'), '2025-05-15T10:00+02', '2025-05-16T10:00+02', 'inst_woco', NULL, true, NULL, 'paid_work', NULL, NULL),
    (pg_temp.ev('z-ev0'), pg_temp.p('Z'), '2024-02-01T10:00+01', '2024-02-02T10:00+01', 'inst_woco', NULL, NULL, 'notice', NULL, NULL, NULL),
    (pg_temp.ev('z-ev1'), pg_temp.p('Z'), '2024-06-01T10:00+02', '2024-06-02T10:00+02', 'inst_woco', NULL, NULL, 'notice', NULL, NULL, NULL),
    (pg_temp.ev('z-ev2'), pg_temp.p('Z'), '2024-07-01T10:00+02', '2024-07-02T10:00+02', 'inst_woco', NULL, NULL, 'evicted', NULL, NULL, NULL),
    (pg_temp.ev('z-ev3'), pg_temp.p('Z'), '2025-05-20T10:00+02', '2025-05-21T10:00+02', 'inst_woco', NULL, NULL, 'notice', NULL, NULL, NULL)
    RETURNING *) INSERT INTO stage_status_change SELECT * FROM i;
INSERT INTO koers.coverage VALUES
    (pg_temp.ev('woco-cov'), '2025-01-01T10:00+01', '2025-01-02T10:00+01', 'inst_woco', 'status_change', '2024-03-01', NULL);
-- Z's social_network score of 1 May is voided.
WITH i AS (INSERT INTO koers.correction VALUES
    (pg_temp.ev('z-void'), pg_temp.p('Z'), '2025-05-03T10:00+02', '2025-05-03T11:00+02', 'inst_team', pg_temp.ev('z-s3'), 'void')
    RETURNING *) INSERT INTO stage_correction SELECT * FROM i;

-- Contacts of Z (continuity): 3 Jan care_worker (ggz), 20 Jan neighbourhood_team (wijkteam),
-- 15 Mar care_worker (ggz), 2 Apr housing (woco), 20 Jun care_worker (ggz). A crisis contact on
-- 13 Mar (a contact on 15 Mar follows within 3 days), a nuisance call on 1 May (no contact 1..4
-- May), a crisis contact on 29 Jun (its 3 days run past the as-of date: left out).
WITH i AS (INSERT INTO koers.contact VALUES
    (pg_temp.ev('z-k1'), pg_temp.p('Z'), '2025-01-03T10:00+01', '2025-01-04T10:00+01', 'ggz', 'care_worker', 'home_visit', 'professional', 30, true),
    (pg_temp.ev('z-k2'), pg_temp.p('Z'), '2025-01-20T10:00+01', '2025-01-21T10:00+01', 'wijkteam', 'neighbourhood_team', 'outreach', 'professional', 45, true),
    (pg_temp.ev('z-k3'), pg_temp.p('Z'), '2025-03-15T10:00+01', '2025-03-16T10:00+01', 'ggz', 'care_worker', 'phone', 'participant', 10, false),
    (pg_temp.ev('z-k4'), pg_temp.p('Z'), '2025-04-02T10:00+02', '2025-04-03T10:00+02', 'woco', 'housing', 'home_visit', 'professional', 30, true),
    (pg_temp.ev('z-k5'), pg_temp.p('Z'), '2025-06-20T10:00+02', '2025-06-21T10:00+02', 'ggz', 'care_worker', 'face_to_face', 'professional', 50, true)
    RETURNING *) INSERT INTO stage_contact SELECT * FROM i;
WITH i AS (INSERT INTO koers.crisis (event_id, participant, occurred_at, recorded_at, source, kind, days, episode_ref) VALUES
    (pg_temp.ev('z-cr1'), pg_temp.p('Z'), '2025-03-13T22:00+01', '2025-03-14T10:00+01', 'crisis_svc', 'crisis_contact', 0, NULL),
    (pg_temp.ev('z-cr2'), pg_temp.p('Z'), '2025-06-29T22:00+02', '2025-06-30T10:00+02', 'crisis_svc', 'crisis_contact', 0, NULL)
    RETURNING *) INSERT INTO stage_crisis SELECT * FROM i;
WITH i AS (INSERT INTO koers.police_call VALUES
    (pg_temp.ev('z-po1'), pg_temp.p('Z'), '2025-05-01T12:00+02', '2025-05-02T12:00+02', 'police', 'nuisance', 'neighbour', 'advice')
    RETURNING *) INSERT INTO stage_police_call SELECT * FROM i;

SELECT is(koers.apply_staged(), 2, 'through the hook: 2 participants');

-- event_count_month: the batch's new rows per type, source and month. zrm_score of
-- inst_team: Jan 4 (z-f1, z-h1, z-m1, z-s1), Mar 4 (z-f2, y-f1, y-h1, y-h2), Apr 1 (z-s2),
-- May 1 (z-s3: voided later, stored all the same), Jun 3 (z-f3, z-h2, y-f2), Jul 1 (z-j1).
-- stressor: Dec 1, Jan 2, Feb, Mar, Apr, May 1 each; status_change as listed above.
SELECT results_eq(
    $$SELECT event_type, to_char(n.month, 'YYYY-MM'), n.events - coalesce(b.events, 0)
      FROM koers.event_count_month n
      LEFT JOIN counts_before b USING (event_type, source, month)
      WHERE n.source IN ('inst_team', 'inst_woco') AND event_type IN ('zrm_score', 'stressor', 'status_change')
      ORDER BY 1, 2$$,
    $$VALUES ('status_change', '2024-02', 1::bigint), ('status_change', '2024-06', 1), ('status_change', '2024-07', 1),
             ('status_change', '2024-10', 1), ('status_change', '2025-02', 1), ('status_change', '2025-04', 1),
             ('status_change', '2025-05', 2),
             ('stressor', '2024-12', 1), ('stressor', '2025-01', 2), ('stressor', '2025-02', 1),
             ('stressor', '2025-03', 1), ('stressor', '2025-04', 1), ('stressor', '2025-05', 1),
             ('zrm_score', '2025-01', 4), ('zrm_score', '2025-03', 4), ('zrm_score', '2025-04', 1),
             ('zrm_score', '2025-05', 1), ('zrm_score', '2025-06', 3), ('zrm_score', '2025-07', 1)$$,
    'the hook counts the new types per source and local month');

------------------------------------------------------------------------- ZRM
SELECT results_eq(
    $$SELECT domain, stability_corner, scores, baseline_day, baseline_score, latest_day, latest_score,
             change, direction
      FROM koers.zrm_participant('2025-06-30') WHERE participant = pg_temp.p('Z') ORDER BY domain$$,
    $$VALUES ('finances', 'living_environment', 3, date '2025-01-05', 2, date '2025-06-01', 4, 2, 'up'),
             ('housing', 'living_environment', 2, date '2025-01-05', 3, date '2025-06-01', 2, -1, 'down'),
             ('mental_health', 'continuity_of_support', 1, date '2025-01-05', 3, date '2025-01-05', 3, NULL, NULL),
             ('social_network', 'participation', 2, date '2025-01-05', 2, date '2025-04-01', 2, 0, 'same')$$,
    'ZRM Z: baseline, latest, change and direction per domain; a voided score and a later one left out');
SELECT results_eq(
    $$SELECT domain, baseline_score, latest_score, change, direction
      FROM koers.zrm_participant('2025-06-30') WHERE participant = pg_temp.p('Y') ORDER BY domain$$,
    $$VALUES ('finances', 1, 3, 2, 'up'), ('housing', 1, 2, 1, 'up')$$,
    'ZRM Y: a score late on the as-of day counts; one instant ordered by recorded_at');
SELECT is((SELECT count(*)::integer FROM koers.zrm_participant('2025-07-31') WHERE participant = pg_temp.p('Z')),
          5, 'ZRM Z on 31 Jul: justice scored too');
-- The page's corners (means over participants of their mean per corner): living environment
-- Z (2 + 3) / 2 = 2.5 baseline, (4 + 2) / 2 = 3 latest, (2 - 1) / 2 = 0.5 change; Y 1, 2.5,
-- 1.5. Over Z and Y: baseline (2.5 + 1) / 2 = 1.75, latest (3 + 2.5) / 2 = 2.75, change
-- (0.5 + 1.5) / 2 = 1.
SELECT results_eq(
    $$SELECT x.series_path[1], sum(x.num) / sum(x.den)
      FROM koers.dash_contrib_instruments('2025-06-30', NULL) x
      WHERE x.chart = 'instruments.zrm_corner' AND x.participant IN (pg_temp.p('Z'), pg_temp.p('Y'))
        AND x.category_path[1] = 'living_environment'
      GROUP BY 1 ORDER BY 1$$,
    $$VALUES ('baseline_mean', 1.75), ('change_mean', 1.0), ('latest_mean', 2.75)$$,
    'ZRM per corner: the mean over participants of their mean over the domains');

------------------------------------------------------------------------- stressors
SELECT results_eq(
    $$SELECT kind, at_enrolment, now, first_present, first_resolved, days_to_resolution
      FROM koers.stressor_participant('2025-06-30') WHERE participant = pg_temp.p('Z') ORDER BY kind$$,
    $$VALUES ('conflict_or_violence', false, true, date '2024-12-01', date '2025-01-20', 50),
             ('debts', true, false, date '2025-01-10', date '2025-05-01', 111),
             ('housing_insecurity', false, true, date '2025-02-15', NULL::date, NULL::integer)$$,
    'stressors Z: at enrolment (intake day 31 Jan), now, days to the first resolution');
-- Present at the end of each month: Jan (31 Jan) debts = 1 (conflict resolved 20 Jan); Feb
-- debts, housing_insecurity = 2; Mar 2 (debts reduced is still present); Apr 3 (conflict
-- returned 1 Apr); May 2 (debts resolved 1 May); Jun 2.
SELECT results_eq(
    $$SELECT to_char(month, 'YYYY-MM'), present FROM koers.stressor_month('2025-06-30')
      WHERE participant = pg_temp.p('Z') ORDER BY month$$,
    $$VALUES ('2025-01', 1), ('2025-02', 2), ('2025-03', 2), ('2025-04', 3), ('2025-05', 2), ('2025-06', 2)$$,
    'stressors Z present at each month end');
UPDATE koers.setting SET value = '0' WHERE name = 'stressor_intake_days';
-- Intake on the enrolled day itself (1 Jan): debts (10 Jan) not yet; conflict present.
SELECT results_eq(
    $$SELECT kind, at_enrolment FROM koers.stressor_participant('2025-06-30')
      WHERE participant = pg_temp.p('Z') ORDER BY kind$$,
    $$VALUES ('conflict_or_violence', true), ('debts', false), ('housing_insecurity', false)$$,
    'stressors at enrolment follow the intake setting');
UPDATE koers.setting SET value = '30' WHERE name = 'stressor_intake_days';

------------------------------------------------------------------------- statuses
-- Known days: from 1 Mar 2024 (inst_woco's coverage). Before (2024): 1 Mar .. 31 Dec = 306
-- known days: unknown 1 Mar .. 30 Sep = 31+30+31+30+31+31+30 = 214, homeless 1 Oct .. 31 Dec
-- = 92. Per-protocol (181): homeless Jan 31, shelter Feb + Mar = 28 + 31 = 59, supported
-- housing Apr .. Jun = 30 + 31 + 30 = 91. Daytime activity before: unknown 214, none 92;
-- per-protocol: none Jan .. Mar = 90, volunteer 1 Apr .. 14 May = 44, paid 15 May .. 30 Jun = 47.
SELECT results_eq(
    $$SELECT window_name, status, state, days FROM koers.status_window('2025-06-30')
      WHERE participant = pg_temp.p('Z') AND window_name IN ('before', 'per_protocol') AND days > 0
      ORDER BY 1, 2, 3$$,
    $$VALUES ('before', 'daytime_activity', 'none', 92), ('before', 'daytime_activity', 'unknown', 214),
             ('before', 'housing', 'homeless', 92), ('before', 'housing', 'unknown', 214),
             ('per_protocol', 'daytime_activity', 'none', 90),
             ('per_protocol', 'daytime_activity', 'paid_work', 47),
             ('per_protocol', 'daytime_activity', 'volunteer_work', 44),
             ('per_protocol', 'housing', 'homeless', 31), ('per_protocol', 'housing', 'shelter', 59),
             ('per_protocol', 'housing', 'supported_housing', 91)$$,
    'statuses Z: known days per state and window, coverage applied');
-- Evictions: before 306 known days, the notice of 1 Jun and the eviction of 1 Jul (the notice
-- of 1 Feb 2024 is on an unknown day); per-protocol 181 days, the notice of 20 May.
SELECT results_eq(
    $$SELECT window_name, days, notices, evictions FROM koers.eviction_window('2025-06-30')
      WHERE participant = pg_temp.p('Z') ORDER BY 1$$,
    $$VALUES ('before', 306, 1, 1), ('intention_to_treat', 181, 1, 0), ('per_protocol', 181, 1, 0)$$,
    'evictions Z per window, on known days only');
-- Y has no status records: every known day unknown (before 1 Mar 2024 .. 28 Feb 2025 =
-- 365 days, all known), no evictions.
SELECT results_eq(
    $$SELECT window_name, days, notices, evictions FROM koers.eviction_window('2025-06-30')
      WHERE participant = pg_temp.p('Y') ORDER BY 1$$,
    $$VALUES ('before', 365, 0, 0), ('intention_to_treat', 122, 0, 0), ('per_protocol', 122, 0, 0)$$,
    'evictions Y: known days, none');
-- Daytime activity at each month end while enrolled.
SELECT results_eq(
    $$SELECT to_char(month, 'YYYY-MM'), daytime_activity FROM koers.work_month('2025-06-30')
      WHERE participant = pg_temp.p('Z') ORDER BY month$$,
    $$VALUES ('2025-01', 'none'), ('2025-02', 'none'), ('2025-03', 'none'), ('2025-04', 'volunteer_work'),
             ('2025-05', 'paid_work'), ('2025-06', 'paid_work')$$,
    'daytime activity of Z at each month end');
-- The page's housing cells: person-months, e.g. shelter per-protocol 59 / 30.4375.
SELECT is(
    (SELECT round(sum(x.num), 4) FROM koers.dash_contrib_instruments('2025-06-30', NULL) x
     WHERE x.chart = 'instruments.housing' AND x.participant = pg_temp.p('Z')
       AND x.series_path[1] = 'shelter' AND x.category_path[1] = 'per_protocol'),
    round(59 / 30.4375, 4), 'housing on the page: person-months (59 days of shelter)');
-- Work days per-protocol: (44 + 47) / 181 known days with an activity.
SELECT is(
    (SELECT round(sum(x.num) / sum(x.den), 4) FROM koers.dash_contrib_instruments('2025-06-30', NULL) x
     WHERE x.chart = 'instruments.work_days' AND x.participant = pg_temp.p('Z')
       AND x.category_path[1] = 'per_protocol'),
    round(91 / 181.0, 4), 'work days on the page: share of the days with a known activity');

------------------------------------------------------------------------- continuity
-- Q1 2025 (90 enrolled days): contacts 3 Jan, 20 Jan, 15 Mar: 2 organisations (ggz,
-- wijkteam), 2 roles, 3 contacts. Q2 (91 days): 2 Apr (woco, housing), 20 Jun (ggz,
-- care_worker): 2, 2, 2.
SELECT results_eq(
    $$SELECT quarter, enrolled_days, organisations, roles, contacts FROM koers.continuity_quarter('2025-06-30')
      WHERE participant = pg_temp.p('Z') ORDER BY quarter$$,
    $$VALUES (date '2025-01-01', 90, 2, 2, 3), (date '2025-04-01', 91, 2, 2, 2)$$,
    'continuity per quarter: organisations, roles and contacts');
-- Stretches without a contact in Z's 181 enrolled days: 1..2 Jan 2, 4..19 Jan 16, 21 Jan ..
-- 14 Mar 11 + 28 + 14 = 53, 16 Mar .. 1 Apr 17, 3 Apr .. 19 Jun 28 + 31 + 19 = 78, 21..30
-- Jun 10. Longest 78; longer than 4 weeks (28 days): 53 and 78. Y: 122 days, no contact.
SELECT results_eq(
    $$SELECT enrolled_days, contact_days, longest_gap, long_gaps FROM koers.contact_gaps('2025-06-30')
      WHERE participant IN (pg_temp.p('Z'), pg_temp.p('Y')) ORDER BY enrolled_days DESC$$,
    $$VALUES (181, 5, 78, 2), (122, 0, 122, 1)$$,
    'contact gaps: the longest stretch without a contact and those over 4 weeks');
SELECT results_eq(
    $$SELECT event_type, day, events, followed FROM koers.crisis_followup('2025-06-30')
      WHERE participant = pg_temp.p('Z') ORDER BY day$$,
    $$VALUES ('crisis', date '2025-03-13', 1, true), ('police_call', date '2025-05-01', 1, false)$$,
    'crisis followed by a contact within 3 days, the police call not; the last crisis too recent');

------------------------------------------------------------------------- the stability model
-- Z at each month end. Participation: no daytime activity and a participation-domain ZRM mean
-- of 2 (social_network) until March; volunteer work from 1 Apr, paid from 15 May: stable.
-- Living environment: homeless (Jan), shelter (Feb, Mar), then supported housing but with
-- stressors present (debts until 1 May, housing_insecurity, conflict from 1 Apr) and an
-- eviction notice in May: unstable throughout. Continuity: contacts in Jan; none in Feb;
-- Mar's crisis (13 Mar) followed on 15 Mar; a contact in Apr; May's police call not
-- followed and no contact; Jun a contact (the crisis of 29 Jun is too recent to judge).
SELECT results_eq(
    $$SELECT corner, string_agg(state, ' ' ORDER BY month) FROM koers.stability_month('2025-06-30')
      WHERE participant = pg_temp.p('Z') GROUP BY corner ORDER BY corner$$,
    $$VALUES ('continuity_of_support', 'stable unstable stable stable unstable stable'),
             ('living_environment', 'unstable unstable unstable unstable unstable unstable'),
             ('participation', 'unstable unstable unstable stable stable stable')$$,
    'stability model Z: each corner per month');
-- Y (Mar .. Jun): no statuses, no participation-domain scores: unknown; no contacts on known
-- enrolled days: unstable.
SELECT results_eq(
    $$SELECT corner, string_agg(state, ' ' ORDER BY month) FROM koers.stability_month('2025-06-30')
      WHERE participant = pg_temp.p('Y') GROUP BY corner ORDER BY corner$$,
    $$VALUES ('continuity_of_support', 'unstable unstable unstable unstable'),
             ('living_environment', 'unknown unknown unknown unknown'),
             ('participation', 'unknown unknown unknown unknown')$$,
    'stability model Y: unknown without data, unstable without contacts');

------------------------------------------------------------------------- corrections
-- A correction of one of the new events is not dangling.
SELECT is((SELECT count(*)::integer FROM koers.data_quality_dangling_correction
           WHERE correction_event_id = pg_temp.ev('z-void')), 0,
          'a correction of a zrm_score is not dangling');

SELECT * FROM finish();
ROLLBACK;
