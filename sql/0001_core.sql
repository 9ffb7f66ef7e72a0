-- koers core: typed event tables (one per event type), offsets, rejects, and a first aggregate.
-- Names are the event catalogue's: one name for one thing in schema, SQL, C and dashboard.

CREATE TABLE koers.setting (
    name  text PRIMARY KEY,
    value text NOT NULL
);
COMMENT ON TABLE koers.setting IS 'Programme settings that measures read, e.g. time_zone.';
INSERT INTO koers.setting VALUES ('time_zone', 'Europe/Amsterdam');

CREATE TYPE koers.enrolment_change AS ENUM ('enrolled', 'paused', 'resumed', 'exited');
CREATE TYPE koers.contact_with_role AS ENUM ('care_worker', 'addiction_worker',
    'neighbourhood_team', 'municipality', 'experience_expert', 'significant_other',
    'general_practitioner', 'housing', 'police_liaison', 'other');
CREATE TYPE koers.contact_mode AS ENUM ('face_to_face', 'home_visit', 'outreach', 'phone',
    'digital', 'group');
CREATE TYPE koers.contact_initiated_by AS ENUM ('participant', 'professional', 'network');
CREATE TYPE koers.crisis_kind AS ENUM ('crisis_contact', 'crisis_admission',
    'emergency_department', 'compulsory_care', 'respite_stay', 'shelter_night');
CREATE TYPE koers.goal_change_domain AS ENUM ('housing', 'daytime_activity', 'work',
    'social_contact', 'family', 'pet', 'leisure', 'finances', 'physical_health',
    'mental_health', 'addiction', 'safety_justice', 'self_care', 'other');
CREATE TYPE koers.goal_change_change AS ENUM ('set', 'progress', 'setback', 'achieved',
    'revised', 'abandoned', 'reopened');
CREATE TYPE koers.goal_change_set_by AS ENUM ('participant', 'participant_with_network',
    'professional');
CREATE TYPE koers.police_call_kind AS ENUM ('confused_person', 'nuisance', 'threat_violence',
    'welfare_check', 'arrest', 'victim', 'other');
CREATE TYPE koers.police_call_caller AS ENUM ('participant', 'family', 'neighbour',
    'professional', 'public', 'police');
CREATE TYPE koers.police_call_outcome AS ENUM ('none', 'advice', 'referred_to_care',
    'taken_to_crisis_service', 'custody', 'other');
CREATE TYPE koers.correction_action AS ENUM ('void');

-- The envelope every event carries; each event table starts with these columns.
CREATE TABLE koers.event_envelope (
    event_id    uuid        NOT NULL,
    participant text        NOT NULL CHECK (participant ~ '^[0-9a-f]{64}$'),
    occurred_at timestamptz NOT NULL,
    recorded_at timestamptz NOT NULL,
    source      text        NOT NULL CHECK (source ~ '^[a-z0-9_-]{1,32}$')
);
COMMENT ON TABLE koers.event_envelope IS 'Template of the envelope columns; holds no rows.';

CREATE TABLE koers.enrolment (
    LIKE koers.event_envelope INCLUDING ALL,
    change koers.enrolment_change NOT NULL,
    cohort text NOT NULL CHECK (cohort ~ '^[a-z0-9_-]{1,32}$'),
    PRIMARY KEY (event_id)
);
CREATE TABLE koers.contact (
    LIKE koers.event_envelope INCLUDING ALL,
    with_role    koers.contact_with_role    NOT NULL,
    mode         koers.contact_mode         NOT NULL,
    initiated_by koers.contact_initiated_by NOT NULL,
    duration_min integer NOT NULL CHECK (duration_min BETWEEN 0 AND 1440),
    planned      boolean NOT NULL,
    PRIMARY KEY (event_id)
);
CREATE TABLE koers.crisis (
    LIKE koers.event_envelope INCLUDING ALL,
    kind koers.crisis_kind NOT NULL,
    days integer NOT NULL CHECK (days BETWEEN 0 AND 366),
    PRIMARY KEY (event_id)
);
CREATE TABLE koers.goal_change (
    LIKE koers.event_envelope INCLUDING ALL,
    goal_ref text NOT NULL CHECK (goal_ref ~ '^[A-Za-z0-9_-]{1,64}$'),
    domain   koers.goal_change_domain NOT NULL,
    change   koers.goal_change_change NOT NULL,
    set_by   koers.goal_change_set_by NOT NULL,
    gas      integer CHECK (gas BETWEEN -2 AND 2),
    weight   integer CHECK (weight BETWEEN 1 AND 10),
    PRIMARY KEY (event_id)
);
CREATE TABLE koers.police_call (
    LIKE koers.event_envelope INCLUDING ALL,
    kind    koers.police_call_kind    NOT NULL,
    caller  koers.police_call_caller  NOT NULL,
    outcome koers.police_call_outcome NOT NULL,
    PRIMARY KEY (event_id)
);
CREATE TABLE koers.correction (
    LIKE koers.event_envelope INCLUDING ALL,
    target_event_id uuid NOT NULL,
    action koers.correction_action NOT NULL,
    PRIMARY KEY (event_id)
);
CREATE INDEX ON koers.enrolment (participant, occurred_at);
CREATE INDEX ON koers.contact (participant, occurred_at);
CREATE INDEX ON koers.crisis (participant, occurred_at);
CREATE INDEX ON koers.goal_change (participant, goal_ref, occurred_at);
CREATE INDEX ON koers.police_call (participant, occurred_at);
CREATE INDEX ON koers.correction (target_event_id);

COMMENT ON TABLE koers.enrolment IS 'Enrolment changes: enrolled, paused, resumed, exited, per cohort.';
COMMENT ON TABLE koers.contact IS 'Support contacts: with whom, how, started by whom, minutes, planned.';
COMMENT ON TABLE koers.crisis IS 'Crisis-service use; days = length of an admission or stay, at discharge.';
COMMENT ON TABLE koers.goal_change IS 'Changes to goals the participants set themselves, with GAS scores.';
COMMENT ON TABLE koers.police_call IS 'Police calls concerning a participant: kind, caller, outcome.';
COMMENT ON TABLE koers.correction IS 'Corrections: a voided target_event_id drops out of every measure.';

-- Where each consumer group is in each partition: written in the same transaction as the
-- rows, so that stored rows and consumed offsets never disagree.
CREATE TABLE koers.consumer_offset (
    group_id    text    NOT NULL,
    topic       text    NOT NULL,
    partition   integer NOT NULL,
    next_offset bigint  NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (group_id, topic, partition)
);

-- Messages the consumer could not decode or that break the contract (also on the
-- dead-letter topic). Nothing is lost: the raw bytes are kept with the reason.
CREATE TABLE koers.rejected_events (
    topic        text    NOT NULL,
    partition    integer NOT NULL,
    kafka_offset bigint  NOT NULL,
    message_key  bytea,
    payload      bytea   NOT NULL,
    reason       text    NOT NULL,
    rejected_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (topic, partition, kafka_offset)
);

-- Events stored per event type, source and local month: kept current by the consumer in the
-- batch transaction, counting only rows that were new (redeliveries count nowhere).
CREATE TABLE koers.event_count_month (
    event_type text    NOT NULL,
    source     text    NOT NULL,
    month      date    NOT NULL,
    events     bigint  NOT NULL,
    PRIMARY KEY (event_type, source, month)
);
