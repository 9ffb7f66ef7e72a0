-- Data quality: corrections whose target is not stored (yet).
-- A correction may arrive before the event it voids (another file, a later import, another
-- partition), so it is stored on arrival and voids its target once that arrives: the measures
-- handle either order. It is therefore never dead-lettered for pointing at nothing; instead
-- this view shows which corrections still wait, and for how long. One that keeps waiting
-- names a record that was never imported, or the wrong type or source for it.

CREATE VIEW koers.data_quality_dangling_correction AS
    SELECT c.source, koers.local_month(c.occurred_at) AS month, c.event_id AS correction_event_id,
           c.target_event_id, c.recorded_at,
           koers.today() - koers.local_day(c.recorded_at) AS waiting_days
    FROM koers.correction c
    WHERE NOT EXISTS (SELECT 1 FROM koers.enrolment t WHERE t.event_id = c.target_event_id)
      AND NOT EXISTS (SELECT 1 FROM koers.contact t WHERE t.event_id = c.target_event_id)
      AND NOT EXISTS (SELECT 1 FROM koers.crisis t WHERE t.event_id = c.target_event_id)
      AND NOT EXISTS (SELECT 1 FROM koers.goal_change t WHERE t.event_id = c.target_event_id)
      AND NOT EXISTS (SELECT 1 FROM koers.police_call t WHERE t.event_id = c.target_event_id);
COMMENT ON VIEW koers.data_quality_dangling_correction IS
    'Measure 7 (data quality): stored corrections whose target_event_id is in none of the '
    'correctable event tables (yet). Not an error on arrival: the target may come later.';
COMMENT ON COLUMN koers.data_quality_dangling_correction.source IS 'Organisation that sent the correction.';
COMMENT ON COLUMN koers.data_quality_dangling_correction.month IS 'Local month of the correction''s occurred_at.';
COMMENT ON COLUMN koers.data_quality_dangling_correction.correction_event_id IS 'The correction''s own event id.';
COMMENT ON COLUMN koers.data_quality_dangling_correction.target_event_id IS 'The event id it voids, not stored.';
COMMENT ON COLUMN koers.data_quality_dangling_correction.recorded_at IS 'When the producer emitted the correction.';
COMMENT ON COLUMN koers.data_quality_dangling_correction.waiting_days IS 'Local days from recorded_at to today.';
