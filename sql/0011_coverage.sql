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

-- Rights, as sql/0007_least_privilege.sql gives them for the other event tables: the consumer
-- appends (SELECT for its staging table LIKE this one and for RETURNING). The analyst may
-- read the statements and the valid ones, unlike the events about participants: they hold
-- nothing about a person, and a measure's coverage cannot be judged without them. The
-- dashboards' functions (owned by koers_reader, sql/0003_access.sql) read the valid ones.
GRANT SELECT, INSERT ON koers.coverage TO koers_consumer;
GRANT SELECT ON koers.coverage TO koers_analyst;
