-- Crisis episodes: a stay may be reported open at admission and closed at discharge by a later
-- record with the same episode_ref (Measures v2, "Stays where they happened"). The old form, days
-- at discharge and no episode_ref, keeps its meaning; stored rows are unchanged.
--
-- Table changes only: the measures that read episode_ref and a NULL days are defined elsewhere
-- (a numbered migration never redefines a measure function).

ALTER TABLE koers.crisis ADD COLUMN episode_ref text;

-- The same rule as goal_ref (sql/0006_speed.sql): a class and a length test rather than
-- bounded regex repetition, which costs the regex engine microseconds a row.
ALTER TABLE koers.crisis
    ADD CONSTRAINT crisis_episode_ref_check
    CHECK (episode_ref ~ '^[A-Za-z0-9_-]+$' AND length(episode_ref) <= 64),
    ALTER COLUMN days DROP NOT NULL,
    -- An opening record has no days yet; a record with neither says nothing about a stay.
    ADD CONSTRAINT crisis_days_or_episode_ref_check
    CHECK (days IS NOT NULL OR episode_ref IS NOT NULL);

-- A stay is found by its opening and closing records: the same participant and episode_ref.
CREATE INDEX crisis_participant_episode_ref_idx ON koers.crisis (participant, episode_ref)
    WHERE episode_ref IS NOT NULL;

COMMENT ON TABLE koers.crisis IS
    'Crisis-service use. Old form: days = length of an admission or stay, at discharge. '
    'Episode form: a record with episode_ref and no days opens a stay at occurred_at; a later '
    'record with the same participant, source and episode_ref closes it, with its days.';
COMMENT ON COLUMN koers.crisis.days IS
    'Length of an admission or stay in days (0..366), reported at discharge; 0 for a one-off '
    'contact; NULL on a record that opens a stay (episode_ref given).';
COMMENT ON COLUMN koers.crisis.episode_ref IS
    'The source''s own key of the stay or admission episode ([A-Za-z0-9_-]{1,64}); NULL in '
    'the old form. With no days: the stay opens at occurred_at (admission); with days: the '
    'record with the same participant, source and episode_ref closes it at occurred_at '
    '(discharge).';
