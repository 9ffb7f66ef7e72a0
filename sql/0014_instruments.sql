-- Outcome instruments (issue 14): the self-sufficiency matrix (zrm_score), stressors
-- (stressor) and housing, work, income and debt statuses (status_change) as event tables,
-- with the rights the other event tables have, and the measures' settings. Tables, types,
-- seed rows and grants only: the valid views and the measures are in
-- sql/defs/45_instruments.sql.

CREATE TYPE koers.zrm_score_domain AS ENUM ('finances', 'work_and_education', 'time_use',
    'housing', 'domestic_relations', 'mental_health', 'physical_health', 'substance_use',
    'basic_adl', 'instrumental_adl', 'social_network', 'community_participation', 'justice',
    'parenting');
CREATE TYPE koers.zrm_score_scored_by AS ENUM ('professional', 'participant_with_professional',
    'participant');
CREATE TYPE koers.stressor_kind AS ENUM ('debts', 'no_income', 'no_work_or_daytime_activity',
    'housing_insecurity', 'eviction_threat', 'conflict_or_violence', 'loss', 'health',
    'justice', 'other');
CREATE TYPE koers.stressor_change AS ENUM ('present', 'reduced', 'resolved', 'returned');
CREATE TYPE koers.status_change_housing AS ENUM ('homeless', 'shelter', 'supported_housing',
    'with_others', 'independent');
CREATE TYPE koers.status_change_eviction AS ENUM ('notice', 'evicted');
CREATE TYPE koers.status_change_daytime_activity AS ENUM ('none', 'daytime_activity',
    'volunteer_work', 'paid_work', 'education');
CREATE TYPE koers.status_change_income_source AS ENUM ('none', 'wages', 'benefits', 'pension',
    'student_finance', 'other');
CREATE TYPE koers.status_change_debt_counselling AS ENUM ('none', 'waiting', 'active', 'settled');

-- A source may state the coverage of the new types too (the catalogue's covered_type).
ALTER TYPE koers.coverage_covered_type ADD VALUE 'zrm_score';
ALTER TYPE koers.coverage_covered_type ADD VALUE 'stressor';
ALTER TYPE koers.coverage_covered_type ADD VALUE 'status_change';

CREATE TABLE koers.zrm_score (
    LIKE koers.event_envelope INCLUDING ALL,
    domain    koers.zrm_score_domain    NOT NULL,
    score     integer                   NOT NULL CHECK (score BETWEEN 1 AND 5),
    scored_by koers.zrm_score_scored_by NOT NULL,
    PRIMARY KEY (event_id)
);
CREATE TABLE koers.stressor (
    LIKE koers.event_envelope INCLUDING ALL,
    kind   koers.stressor_kind   NOT NULL,
    change koers.stressor_change NOT NULL,
    PRIMARY KEY (event_id)
);
CREATE TABLE koers.status_change (
    LIKE koers.event_envelope INCLUDING ALL,
    housing          koers.status_change_housing,
    rent_arrears     boolean,
    eviction         koers.status_change_eviction,
    daytime_activity koers.status_change_daytime_activity,
    income_source    koers.status_change_income_source,
    debt_counselling koers.status_change_debt_counselling,
    PRIMARY KEY (event_id),
    CONSTRAINT status_change_any_check CHECK (num_nonnulls(housing, rent_arrears, eviction,
        daytime_activity, income_source, debt_counselling) > 0)
);
CREATE INDEX ON koers.zrm_score (participant, domain, occurred_at);
CREATE INDEX ON koers.stressor (participant, kind, occurred_at);
CREATE INDEX ON koers.status_change (participant, occurred_at);

COMMENT ON TABLE koers.zrm_score IS
    'Self-sufficiency matrix (ZRM 2017): one domain''s score for a participant, 1 (acute '
    'problems) .. 5 (fully self-reliant), and who scored it.';
COMMENT ON COLUMN koers.zrm_score.domain IS 'The ZRM 2017 domain scored; parenting only where it applies.';
COMMENT ON COLUMN koers.zrm_score.score IS
    '1 acute problems, 2 not self-reliant, 3 limited self-reliance, 4 sufficiently self-reliant, '
    '5 fully self-reliant.';
COMMENT ON COLUMN koers.zrm_score.scored_by IS
    'professional, participant_with_professional (scored together) or participant (alone).';
COMMENT ON TABLE koers.stressor IS
    'Stressors in a participant''s life (the stability model): kind and change. A kind is '
    'present from a present, reduced or returned change to a resolved one.';
COMMENT ON COLUMN koers.stressor.kind IS 'What the stressor is.';
COMMENT ON COLUMN koers.stressor.change IS
    'present (noted), reduced (still there, less), resolved (gone), returned (back after resolved).';
COMMENT ON TABLE koers.status_change IS
    'Statuses of a participant as of the local day of occurred_at: each column NULL when the '
    'record does not report it, at least one given. A status holds until the next record that '
    'reports it; eviction is a step on that day, not a status.';
COMMENT ON COLUMN koers.status_change.housing IS 'Where the participant lives from this day on.';
COMMENT ON COLUMN koers.status_change.rent_arrears IS 'Whether the participant has rent arrears from this day on.';
COMMENT ON COLUMN koers.status_change.eviction IS
    'An eviction step on this day: notice (served) or evicted (carried out).';
COMMENT ON COLUMN koers.status_change.daytime_activity IS 'The main daytime activity from this day on.';
COMMENT ON COLUMN koers.status_change.income_source IS 'The main source of income from this day on.';
COMMENT ON COLUMN koers.status_change.debt_counselling IS 'Debt counselling from this day on.';

-- Rights as sql/0007_least_privilege.sql gives them for the other event tables: the consumer
-- appends (SELECT for its staging tables LIKE these and for RETURNING); the analyst reads
-- the measures, not the raw rows.
GRANT SELECT, INSERT ON koers.zrm_score, koers.stressor, koers.status_change TO koers_consumer;

-- The measures' settings (sql/defs/45_instruments.sql): the intake after the first enrolled
-- day that still counts as "at enrolment" for stressors, and the weeks without a contact that
-- make a long gap.
INSERT INTO koers.setting VALUES ('stressor_intake_days', '30'), ('continuity_gap_weeks', '4')
    ON CONFLICT (name) DO NOTHING;
