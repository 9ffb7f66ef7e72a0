-- pgTAP: the MKBA (sql/0015_mkba.sql, sql/defs/45_mkba.sql) on a hand-worked fixture of its
-- own: four stakeholders, prices of two years indexed to a third, an item split over two
-- payers, a source's range beside the default +-25%, and the regression-to-the-mean
-- variation. Every expected figure is worked out in the comment beside it. Runs in a
-- transaction that is rolled back; the fixture's participants are passed as ps, so other
-- data in the database does not count. Time zone Europe/Amsterdam; person-month 30.4375
-- days; as-of date 30 Jun 2025; window intention_to_treat unless said.
\set ON_ERROR_STOP 1
BEGIN;
SELECT no_plan();

CREATE FUNCTION pg_temp.p(name text) RETURNS text LANGUAGE sql IMMUTABLE
    AS $$ SELECT encode(sha256(convert_to('mkba:' || name, 'UTF8')), 'hex') $$;
CREATE FUNCTION pg_temp.ev(k text) RETURNS uuid LANGUAGE sql IMMUTABLE
    AS $$ SELECT md5('mkba:' || k)::uuid $$;
CREATE FUNCTION pg_temp.ps() RETURNS text[] LANGUAGE sql IMMUTABLE
    AS $$ SELECT ARRAY[pg_temp.p('P'), pg_temp.p('Q')] $$;

-- Prices. The index (2015 = 100 as shipped) is replaced by round figures: 2022 = 100,
-- 2023 = 125, 2024 = 150, so a 2022 price x 1.5 and a 2023 price x 1.2 is a 2024 price.
--   t_adm_day      EUR 100 a day (2022)  -> 150; no range: low 75 x 1.5 = 112.50, high 125 x 1.5 = 187.50;
--                  paid 60% by the health insurer, 40% by long-term care (the split item).
--   t_police       EUR 250 a call (2023) -> 300; a source's range 200..400 -> 240..480; police.
--   t_support_hour EUR 60 an hour (2023) -> 72; no range: 45 x 1.2 = 54, 75 x 1.2 = 90; municipality.
-- No coverage statements: every day is known.
DELETE FROM koers.coverage;
DELETE FROM koers.unit_cost_map;
UPDATE koers.price_index SET cpi = CASE year WHEN 2022 THEN 100 WHEN 2023 THEN 125 WHEN 2024 THEN 150 END
WHERE year IN (2022, 2023, 2024);
INSERT INTO koers.unit_cost (item, amount_eur, per, price_year, source, low_eur, high_eur, range_source) VALUES
    ('t_adm_day', 100, 'day', 2022, 'test', NULL, NULL, NULL),
    ('t_police', 250, 'event', 2023, 'test', 200, 400, 'test range'),
    ('t_support_hour', 60, 'hour', 2023, 'test', NULL, NULL, NULL);
INSERT INTO koers.unit_cost_map (event_type, kind, item) VALUES
    ('crisis', 'crisis_admission', 't_adm_day'),
    ('police_call', 'confused_person', 't_police'), ('police_call', 'nuisance', 't_police'),
    ('police_call', 'arrest', 't_police'),
    ('contact', 'neighbourhood_team', 't_support_hour');
INSERT INTO koers.unit_cost_payer (item, payer, share, valid_year, source) VALUES
    ('t_adm_day', 'health_insurer', 0.6, 2024, 'test'), ('t_adm_day', 'long_term_care', 0.4, 2024, 'test'),
    ('t_police', 'police', 1, 2024, 'test'), ('t_support_hour', 'municipality', 1, 2024, 'test');
UPDATE koers.setting SET value = CASE name WHEN 'mkba_price_year' THEN '2024'
    WHEN 'mkba_window' THEN 'intention_to_treat' WHEN 'mkba_rtm_factor' THEN '1'
    WHEN 'mkba_rtm_variation' THEN '0.75' WHEN 'mkba_default_range' THEN '0.25' END
WHERE name LIKE 'mkba\_%';

SELECT results_eq(
    $$SELECT item, round(price, 2), round(price_low, 2), round(price_high, 2), range_given
      FROM koers.mkba_prices(2024) WHERE item LIKE 't\_%' ORDER BY item$$,
    $$VALUES ('t_adm_day', 150.00, 112.50, 187.50, false), ('t_police', 300.00, 240.00, 480.00, true),
             ('t_support_hour', 72.00, 54.00, 90.00, false)$$,
    'prices indexed to 2024: x cpi(2024) / cpi(own year); low and high a source''s range or +-25%');
SELECT throws_ok($$SELECT * FROM koers.mkba_prices(2031)$$, '22023',
                 'koers.price_index has no consumer price index for year 2031',
                 'a price year without an index figure is refused, not left unindexed');

-- Shares of a split item must add up to 1 (checked at commit; made immediate here).
SET CONSTRAINTS ALL IMMEDIATE;
SELECT throws_ok($$UPDATE koers.unit_cost_payer SET share = 0.5 WHERE item = 't_adm_day' AND payer = 'health_insurer'$$,
                 '23514', 'the payer shares of unit cost t_adm_day add up to 0.9000, not 1',
                 'payer shares that do not add up to 1 are refused');
SET CONSTRAINTS ALL DEFERRED;

-- Events (cohort mk).
-- P: enrolled 1 Jan 2025, still enrolled. Before = 2024 = 366 days; ITT = 1 Jan .. 30 Jun
--    2025 = 31 + 28 + 31 + 30 + 31 + 30 = 181 days (per-protocol the same).
--    Before: a 10-day admission discharged 11 Jun 2024 (1..10 Jun), a confused_person call
--    1 Mar 2024, a nuisance call 1 Sep 2024, a neighbourhood_team contact of 60 min on
--    1 Dec 2024 (before enrolment: not the programme's support).
--    During: an arrest 1 Mar 2025, a 4-day admission discharged 5 Apr 2025 (1..4 Apr),
--    contacts of 90 and 30 min (2 hours).
-- Q: enrolled 1 Jan 2025, paused 1 Mar 2025 (not resumed). Before 366 days; ITT 181 days;
--    per-protocol 1 Jan .. 28 Feb = 59 days.
--    Before: a nuisance call 1 May 2024. During: a contact of 60 min on 1 Feb (enrolled),
--    one of 30 min on 1 Apr (paused: ITT only), a victim call 15 Feb (never priced).
CREATE TEMP TABLE stage_enrolment (LIKE koers.enrolment);
CREATE TEMP TABLE stage_contact (LIKE koers.contact);
CREATE TEMP TABLE stage_crisis (LIKE koers.crisis);
CREATE TEMP TABLE stage_goal_change (LIKE koers.goal_change);
CREATE TEMP TABLE stage_police_call (LIKE koers.police_call);
CREATE TEMP TABLE stage_correction (LIKE koers.correction);
CREATE TEMP TABLE stage_coverage (LIKE koers.coverage);
WITH i AS (INSERT INTO koers.enrolment VALUES
    (pg_temp.ev('p-enr'), pg_temp.p('P'), '2025-01-01T09:00+01', '2025-01-02T09:00+01', 'wijk', 'enrolled', 'mk'),
    (pg_temp.ev('q-enr'), pg_temp.p('Q'), '2025-01-01T09:00+01', '2025-01-02T09:00+01', 'wijk', 'enrolled', 'mk'),
    (pg_temp.ev('q-pau'), pg_temp.p('Q'), '2025-03-01T09:00+01', '2025-03-02T09:00+01', 'wijk', 'paused', 'mk')
    RETURNING *) INSERT INTO stage_enrolment SELECT * FROM i;
WITH i AS (INSERT INTO koers.crisis (event_id, participant, occurred_at, recorded_at, source, kind, days, episode_ref) VALUES
    (pg_temp.ev('p-adm1'), pg_temp.p('P'), '2024-06-11T12:00+02', '2024-06-12T12:00+02', 'ggz', 'crisis_admission', 10, NULL),
    (pg_temp.ev('p-adm2'), pg_temp.p('P'), '2025-04-05T12:00+02', '2025-04-06T12:00+02', 'ggz', 'crisis_admission', 4, NULL)
    RETURNING *) INSERT INTO stage_crisis SELECT * FROM i;
WITH i AS (INSERT INTO koers.police_call VALUES
    (pg_temp.ev('p-po1'), pg_temp.p('P'), '2024-03-01T12:00+01', '2024-03-02T12:00+01', 'police', 'confused_person', 'public', 'advice'),
    (pg_temp.ev('p-po2'), pg_temp.p('P'), '2024-09-01T12:00+02', '2024-09-02T12:00+02', 'police', 'nuisance', 'neighbour', 'advice'),
    (pg_temp.ev('p-po3'), pg_temp.p('P'), '2025-03-01T12:00+01', '2025-03-02T12:00+01', 'police', 'arrest', 'public', 'custody'),
    (pg_temp.ev('q-po1'), pg_temp.p('Q'), '2024-05-01T12:00+02', '2024-05-02T12:00+02', 'police', 'nuisance', 'neighbour', 'advice'),
    (pg_temp.ev('q-po2'), pg_temp.p('Q'), '2025-02-15T12:00+01', '2025-02-16T12:00+01', 'police', 'victim', 'participant', 'advice')
    RETURNING *) INSERT INTO stage_police_call SELECT * FROM i;
WITH i AS (INSERT INTO koers.contact VALUES
    (pg_temp.ev('p-c0'), pg_temp.p('P'), '2024-12-01T10:00+01', '2024-12-01T11:00+01', 'wijk', 'neighbourhood_team', 'home_visit', 'professional', 60, true),
    (pg_temp.ev('p-c1'), pg_temp.p('P'), '2025-01-10T10:00+01', '2025-01-10T11:00+01', 'wijk', 'neighbourhood_team', 'home_visit', 'professional', 90, true),
    (pg_temp.ev('p-c2'), pg_temp.p('P'), '2025-05-10T10:00+02', '2025-05-10T11:00+02', 'wijk', 'neighbourhood_team', 'phone', 'participant', 30, false),
    (pg_temp.ev('q-c1'), pg_temp.p('Q'), '2025-02-01T10:00+01', '2025-02-01T11:00+01', 'wijk', 'neighbourhood_team', 'outreach', 'professional', 60, true),
    (pg_temp.ev('q-c2'), pg_temp.p('Q'), '2025-04-01T10:00+02', '2025-04-01T11:00+02', 'wijk', 'neighbourhood_team', 'outreach', 'professional', 30, true)
    RETURNING *) INSERT INTO stage_contact SELECT * FROM i;
SELECT is(koers.apply_staged(), 2, 'the fixture through the hook: 2 participants');

-- Units. Exposure (both participants alike): before 2 x 366 = 732 days, ITT 2 x 181 = 362;
-- the null alternative carries the before rate over 362 / 732 = 181 / 366 of the before
-- units. t_adm_day: before 10 days, during 4, expected 10 x 181 / 366 = 4.945355.
-- t_police by kind: confused_person 1 / 0, expected 0.494536; nuisance 2 / 0, expected
-- 0.989071; arrest 0 / 1, expected 0. Support: during 90 + 30 + 60 + 30 min = 3.5 hours.
SELECT results_eq(
    $$SELECT side, kind, payer, share, units_before, units_during, round(units_expected, 6)
      FROM koers.mkba_lines('2025-06-30', 'intention_to_treat', 2024, pg_temp.ps())
      ORDER BY side, kind, payer$$,
    $$VALUES ('benefit', 'arrest', 'police', 1.0000, 0::numeric, 1::numeric, 0.000000),
             ('benefit', 'confused_person', 'police', 1.0000, 1, 0, 0.494536),
             ('benefit', 'crisis_admission', 'health_insurer', 0.6000, 10, 4, 4.945355),
             ('benefit', 'crisis_admission', 'long_term_care', 0.4000, 10, 4, 4.945355),
             ('benefit', 'nuisance', 'police', 1.0000, 2, 0, 0.989071),
             ('cost', 'neighbourhood_team', 'municipality', 1.0000, 0, 3.5, 0.000000)$$,
    'lines: units before and in the window per kind and payer; the null alternative; victim calls unpriced');

-- The table (EUR, 2024 prices):
--   health_insurer: before 0.6 x 150 x 10 = 900; expected 900 x 181/366 = 445.081967;
--     during 0.6 x 150 x 4 = 360; benefit 85.081967; balance 85.08.
--   long_term_care: before 600; expected 600 x 181/366 = 296.721311; during 240; benefit
--     56.721311; balance 56.72.
--   police: before 300 x 3 = 900; expected 445.081967; during 300 x 1 = 300; benefit 145.08.
--   municipality: support 72 x 3.5 = 252; no benefit; balance -252.00.
--   justice, housing_corporation, other: nothing priced: zeros.
--   total: support 252; before 2400; expected 1186.885246; during 900; benefit 286.885246
--     (286.89); balance 286.885246 - 252 = 34.885246 (34.89).
-- Contributors: P alone for the admissions; P and Q for police (Q's nuisance call) and
-- support.
SELECT results_eq(
    $$SELECT payer, support_cost, cost_before, cost_expected, cost_during, benefit, balance, contributors
      FROM koers.mkba('2025-06-30', NULL, NULL, pg_temp.ps()) ORDER BY ord$$,
    $$VALUES ('municipality', 252.00, 0.00, 0.00, 0.00, 0.00, -252.00, 2),
             ('health_insurer', 0.00, 900.00, 445.08, 360.00, 85.08, 85.08, 1),
             ('long_term_care', 0.00, 600.00, 296.72, 240.00, 56.72, 56.72, 1),
             ('police', 0.00, 900.00, 445.08, 300.00, 145.08, 145.08, 2),
             ('justice', 0.00, 0.00, 0.00, 0.00, 0.00, 0.00, 0),
             ('housing_corporation', 0.00, 0.00, 0.00, 0.00, 0.00, 0.00, 0),
             ('other', 0.00, 0.00, 0.00, 0.00, 0.00, 0.00, 0),
             ('total', 252.00, 2400.00, 1186.89, 900.00, 286.89, 34.89, 2)$$,
    'the MKBA per stakeholder and in total (intention-to-treat by default, 2024 prices)');

-- Per-protocol: Q's window is 59 days; exposure 181 + 59 = 240 days against 732 before, so
-- the null alternative is 240 / 732 of the before units; Q's paused contact drops out.
-- Police: expected 900 x 240/732 = 295.081967 (295.08); support 72 x 3 = 216.00.
SELECT results_eq(
    $$SELECT payer, support_cost, cost_expected FROM koers.mkba('2025-06-30', 'per_protocol', 2024, pg_temp.ps())
      WHERE payer IN ('police', 'municipality') ORDER BY ord$$,
    $$VALUES ('municipality', 216.00, 0.00), ('police', 0.00, 295.08)$$,
    'per-protocol: the enrolled days only');

-- Sensitivity (base 34.885246). The balance is linear in each price:
--   t_adm_day: coefficient 4.945355 - 4 = 0.945355 (shares add to 1); low 112.50:
--     34.885246 - 37.5 x 0.945355 = -0.565574 (-0.57); high 187.50: 70.336066 (70.34).
--   t_police: coefficient (0.494536 + 0.989071 + 0) - 1 = 0.483607; low 240: 34.885246 -
--     60 x 0.483607 = 5.868852 (5.87); high 480: 34.885246 + 180 x 0.483607 = 121.934426 (121.93).
--   t_support_hour: coefficient -3.5; low 54: 34.885246 + 18 x 3.5 = 97.885246 (97.89);
--     high 90: -28.114754 (-28.11).
--   rtm_factor 0.75: 34.885246 - 0.25 x 1186.885246 = -261.836066 (-261.84); at 1 the base.
SELECT results_eq(
    $$SELECT variation, item, value_low, value_high, balance_low, balance_high, balance_base, contributors
      FROM koers.mkba_sensitivity('2025-06-30', NULL, NULL, pg_temp.ps())$$,
    $$VALUES ('unit_cost', 't_adm_day', 112.50, 187.50, -0.57, 70.34, 34.89, 1),
             ('unit_cost', 't_police', 240.00, 480.00, 5.87, 121.93, 34.89, 2),
             ('unit_cost', 't_support_hour', 54.00, 90.00, 97.89, -28.11, 34.89, 2),
             ('rtm_factor', NULL, 0.75, 1, -261.84, 34.89, 34.89, 2)$$,
    'sensitivity: low and high unit costs, and the before rate x 0.75');

-- The sensitivity's linear shortcut equals recomputing the table: t_support_hour at its
-- low price (45 in 2023) gives the balance of the sensitivity row.
UPDATE koers.unit_cost SET amount_eur = 45 WHERE item = 't_support_hour';
SELECT is((SELECT balance FROM koers.mkba('2025-06-30', NULL, NULL, pg_temp.ps()) WHERE payer = 'total'),
          97.89, 'the table recomputed at a low price equals the sensitivity row');
UPDATE koers.unit_cost SET amount_eur = 60 WHERE item = 't_support_hour';
UPDATE koers.setting SET value = '0.75' WHERE name = 'mkba_rtm_factor';
SELECT is((SELECT balance FROM koers.mkba('2025-06-30', NULL, NULL, pg_temp.ps()) WHERE payer = 'total'),
          -261.84, 'the table recomputed with the factor 0.75 equals the sensitivity row');
UPDATE koers.setting SET value = '1' WHERE name = 'mkba_rtm_factor';

-- Who cashes in: person-years of the window 362 / 365.25 = 0.991102; police's benefit per
-- person-year 145.081967 / 0.991102 = 146.384499 (146.38); now (2 participants) 292.77; at
-- 10 participants 1463.84. Its share of the support cost 0; the municipality's 1.
SELECT results_eq(
    $$SELECT payer, participants, person_years, benefit_per_person_year, yearly_saving_now,
             yearly_saving_at_size, cost_share
      FROM koers.mkba_yearly('2025-06-30', 10, NULL, NULL, pg_temp.ps())
      WHERE payer IN ('municipality', 'police') ORDER BY ord$$,
    $$VALUES ('municipality', 2, 0.9911, 0.00, 0.00, 0.00, 1.0000),
             ('police', 2, 0.9911, 146.38, 292.77, 1463.84, 0.0000)$$,
    'who cashes in: the yearly saving per stakeholder now and at 10 participants');

SELECT * FROM finish();
ROLLBACK;
