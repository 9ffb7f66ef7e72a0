-- koers measures v2 (../shared/domain.md, "Measures v2"; docs/measures.md): stays counted on
-- the days they cover, acute crisis apart from its alternatives, police use apart from
-- victimisation, four windows (before, per-protocol, intention-to-treat, follow-up), paired
-- per-participant rates with their spread and a signed-rank test and bootstrap interval,
-- GAS with abandoned goals kept and a baseline, shares over the enrolled participants.
-- The building blocks below are each a rule's one home: the rebuild and the batch hook call
-- the same ones.
-- Its functions and views are in sql/defs/ (10_base.sql, 20_prepared.sql, 30_measures.sql,
-- 40_windows.sql); this migration keeps the tables, types, constraints and settings they need.

-- A victim call is never a cost that a programme should avoid.
DELETE FROM koers.unit_cost_map WHERE event_type = 'police_call' AND kind = 'victim';
ALTER TABLE koers.unit_cost_map ADD CONSTRAINT unit_cost_map_victim_unpriced
    CHECK (NOT (event_type = 'police_call' AND kind = 'victim'));

INSERT INTO koers.setting VALUES ('gas_include_abandoned', 'true') ON CONFLICT (name) DO NOTHING;

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
GRANT SELECT, INSERT, UPDATE, DELETE ON koers.open_stay TO koers_consumer;
GRANT SELECT ON koers.open_stay TO koers_analyst;
GRANT SELECT ON koers.open_stay TO koers_reader;
