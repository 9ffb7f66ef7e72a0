-- koers speed: cheaper row checks, and prepared measures kept current incrementally: the
-- consumer's batch hook koers.apply_staged() updates only what the batch's new rows change
-- (one aggregate update per key per batch) instead of rebuilding its participants from the
-- raw tables. koers.refresh_participants() and koers.refresh_all() still rebuild, and give
-- the same rows (bench/run and the tests compare them).

------------------------------------------------------------------------------------------
-- Row checks: the same rules, without bounded regex repetition ({64}, {1,32}), which costs
-- PostgreSQL's regex engine several microseconds a row. [...]+ plus a length test accepts
-- exactly the same strings (the character classes are ASCII, one character a byte).
------------------------------------------------------------------------------------------

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['enrolment', 'contact', 'crisis', 'goal_change', 'police_call',
                             'correction', 'event_envelope'] LOOP
        EXECUTE format('ALTER TABLE koers.%I DROP CONSTRAINT event_envelope_participant_check,'
                       ' ADD CONSTRAINT event_envelope_participant_check'
                       ' CHECK (participant ~ ''^[0-9a-f]+$'' AND length(participant) = 64),'
                       ' DROP CONSTRAINT event_envelope_source_check,'
                       ' ADD CONSTRAINT event_envelope_source_check'
                       ' CHECK (source ~ ''^[a-z0-9_-]+$'' AND length(source) <= 32)', t);
    END LOOP;
END
$$;
ALTER TABLE koers.enrolment DROP CONSTRAINT enrolment_cohort_check,
    ADD CONSTRAINT enrolment_cohort_check CHECK (cohort ~ '^[a-z0-9_-]+$' AND length(cohort) <= 32);
ALTER TABLE koers.goal_change DROP CONSTRAINT goal_change_goal_ref_check,
    ADD CONSTRAINT goal_change_goal_ref_check
    CHECK (goal_ref ~ '^[A-Za-z0-9_-]+$' AND length(goal_ref) <= 64);
