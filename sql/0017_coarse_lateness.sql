-- koers: lateness kept in a fixed histogram per source, event type, month and cohort, and the
-- participants each organisation registered kept per type and month, in place of
-- koers.event_lateness's row per participant and lateness minute (about one per event; issue
-- 12). The rules that fill them are in sql/defs/20_prepared.sql, whose change in the same
-- release makes `koers-consume --migrate` rebuild every prepared table from the raw events
-- right after this migration (consumers/migrate.c, "koers-defs: rebuild"): that rebuild fills
-- these two tables.

CREATE TABLE koers.lateness_histogram (
    source     text NOT NULL,
    event_type text NOT NULL,
    month      date NOT NULL,
    cohort     text NOT NULL,
    voided     boolean NOT NULL,
    bucket_min integer[] NOT NULL,
    events     integer[] NOT NULL,
    PRIMARY KEY (source, event_type, month, cohort, voided)
);
COMMENT ON TABLE koers.lateness_histogram IS
    'Prepared: stored events (corrections included) per source, type, local month of '
    'occurred_at, the participant''s cohort and voided or not: one row, whose arrays hold the '
    'events per lateness bucket (koers.lateness_bucket of floor((recorded_at - occurred_at) in '
    'minutes)), however many events. No participant: the participants behind a figure are '
    'counted in koers.registration_month.';
COMMENT ON COLUMN koers.lateness_histogram.source IS 'Organisation that registered the events.';
COMMENT ON COLUMN koers.lateness_histogram.event_type IS 'Event type (correction included).';
COMMENT ON COLUMN koers.lateness_histogram.month IS 'Local month of occurred_at.';
COMMENT ON COLUMN koers.lateness_histogram.cohort IS
    'koers.participant.cohort of the events'' participant now; empty when there is none (no '
    'enrolment stored yet).';
COMMENT ON COLUMN koers.lateness_histogram.voided IS 'Voided by a stored correction.';
COMMENT ON COLUMN koers.lateness_histogram.bucket_min IS
    'Lower edges of the lateness buckets that hold events, ascending, minutes: every minute '
    'below 1 hour, every 6 minutes below 24 hours, every hour below 7 days, every day beyond.';
COMMENT ON COLUMN koers.lateness_histogram.events IS
    'Events in each bucket of bucket_min (the same position), never 0.';

CREATE TABLE koers.registration_month (
    participant text NOT NULL,
    source      text NOT NULL,
    event_type  text NOT NULL,
    month       date NOT NULL,
    events      integer NOT NULL,
    voided      integer NOT NULL,
    PRIMARY KEY (participant, source, event_type, month)
);
COMMENT ON TABLE koers.registration_month IS
    'Prepared: stored events (corrections included) per participant, source, type and local '
    'month of occurred_at: who an organisation registered, for the quality page''s counts and '
    'the participants that its small-cell suppression and organisation filter count.';
COMMENT ON COLUMN koers.registration_month.participant IS 'Pseudonym.';
COMMENT ON COLUMN koers.registration_month.source IS 'Organisation that registered the events.';
COMMENT ON COLUMN koers.registration_month.event_type IS 'Event type (correction included).';
COMMENT ON COLUMN koers.registration_month.month IS 'Local month of occurred_at.';
COMMENT ON COLUMN koers.registration_month.events IS 'Events stored and not voided.';
COMMENT ON COLUMN koers.registration_month.voided IS 'Events stored and voided by a correction.';

-- The view over the old table is a definition (sql/defs/50_quality.sql makes it anew); it is
-- dropped by name so that anything else built on the old table stops the upgrade.
DROP VIEW IF EXISTS koers.data_quality;
DROP TABLE koers.event_lateness;

GRANT SELECT, INSERT, UPDATE, DELETE ON koers.lateness_histogram, koers.registration_month
    TO koers_consumer;
GRANT SELECT ON koers.lateness_histogram, koers.registration_month TO koers_analyst, koers_reader;
