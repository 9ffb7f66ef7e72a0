-- Source coverage (Measures v2, "Source coverage"): each source states, per event type, the
-- days its data covers. A coverage statement is about a source, not about a participant: the
-- table has the envelope without participant. A day outside a source's stated coverage is
-- missing for that source's events of that type: it adds neither events nor person-months
-- to the measures of that type (the measures that read this are defined elsewhere).

CREATE TYPE koers.coverage_covered_type AS ENUM ('enrolment', 'contact', 'crisis',
    'goal_change', 'police_call');

-- The envelope's columns and checks as koers.event_envelope has them (sql/0006_speed.sql's
-- form of the source check), less participant.
CREATE TABLE koers.coverage (
    event_id     uuid        PRIMARY KEY,
    occurred_at  timestamptz NOT NULL,
    recorded_at  timestamptz NOT NULL,
    source       text        NOT NULL
        CONSTRAINT coverage_source_check CHECK (source ~ '^[a-z0-9_-]+$' AND length(source) <= 32),
    covered_type koers.coverage_covered_type NOT NULL,
    covered_from date        NOT NULL,
    covered_to   date,
    CONSTRAINT coverage_covered_to_check CHECK (covered_to IS NULL OR covered_to >= covered_from)
);
CREATE INDEX coverage_source_covered_type_idx ON koers.coverage (source, covered_type, covered_from);

COMMENT ON TABLE koers.coverage IS
    'Coverage statements: the days a source''s data of one event type covers. About the source, '
    'so no participant. A day outside every valid statement of a source for a type is missing '
    'for that source''s events of that type.';
COMMENT ON COLUMN koers.coverage.event_id IS
    'Derived from (source, ''coverage'', record id) with the producer''s key, like every event id.';
COMMENT ON COLUMN koers.coverage.occurred_at IS 'When the source made the statement.';
COMMENT ON COLUMN koers.coverage.recorded_at IS 'When the producer emitted it.';
COMMENT ON COLUMN koers.coverage.source IS
    'The organisation that makes the statement, about its own data ([a-z0-9_-]{1,32}).';
COMMENT ON COLUMN koers.coverage.covered_type IS 'The event type of the source''s data covered.';
COMMENT ON COLUMN koers.coverage.covered_from IS 'First local day covered.';
COMMENT ON COLUMN koers.coverage.covered_to IS
    'Last local day covered, included; NULL while the source still delivers (every day since '
    'covered_from).';

CREATE VIEW koers.coverage_valid AS
    SELECT * FROM koers.coverage e
    WHERE NOT EXISTS (SELECT 1 FROM koers.correction c WHERE c.target_event_id = e.event_id);
COMMENT ON VIEW koers.coverage_valid IS 'Coverage statements that no correction voided.';

-- A correction of a coverage statement is not dangling: the same view as
-- sql/0004_dangling_corrections.sql, with the coverage table among the correctable ones.
CREATE OR REPLACE VIEW koers.data_quality_dangling_correction AS
    SELECT c.source, koers.local_month(c.occurred_at) AS month, c.event_id AS correction_event_id,
           c.target_event_id, c.recorded_at,
           koers.today() - koers.local_day(c.recorded_at) AS waiting_days
    FROM koers.correction c
    WHERE NOT EXISTS (SELECT 1 FROM koers.enrolment t WHERE t.event_id = c.target_event_id)
      AND NOT EXISTS (SELECT 1 FROM koers.contact t WHERE t.event_id = c.target_event_id)
      AND NOT EXISTS (SELECT 1 FROM koers.crisis t WHERE t.event_id = c.target_event_id)
      AND NOT EXISTS (SELECT 1 FROM koers.goal_change t WHERE t.event_id = c.target_event_id)
      AND NOT EXISTS (SELECT 1 FROM koers.police_call t WHERE t.event_id = c.target_event_id)
      AND NOT EXISTS (SELECT 1 FROM koers.coverage t WHERE t.event_id = c.target_event_id);

-- Rights, as sql/0007_least_privilege.sql gives them for the other event tables: the consumer
-- appends (SELECT for its staging table LIKE this one and for RETURNING). The analyst may
-- read the statements and the valid ones, unlike the events about participants: they hold
-- nothing about a person, and a measure's coverage cannot be judged without them. The
-- dashboards' functions (owned by koers_reader, sql/0003_access.sql) read the valid ones.
GRANT SELECT, INSERT ON koers.coverage TO koers_consumer;
GRANT SELECT ON koers.coverage_valid TO koers_consumer;
GRANT SELECT ON koers.coverage, koers.coverage_valid TO koers_analyst;
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'koers_reader') THEN
        GRANT SELECT ON koers.coverage_valid TO koers_reader;
    END IF;
END
$$;
