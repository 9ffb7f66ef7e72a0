-- koers definitions, data quality: rejected messages, dangling corrections, GAS findings and
-- counts per source and month.

------------------------------------------------------------------------------------------
-- 7: data quality.
------------------------------------------------------------------------------------------

CREATE OR REPLACE VIEW koers.data_quality AS
    WITH h AS (
        SELECT l.source, l.month, coalesce(l.event_type, 'all') AS event_type, u.b AS bucket_min,
               coalesce(sum(u.n) FILTER (WHERE NOT l.voided), 0) AS n,
               coalesce(sum(u.n) FILTER (WHERE l.voided), 0) AS v
        FROM koers.lateness_histogram l, unnest(l.bucket_min, l.events) AS u(b, n)
        GROUP BY GROUPING SETS ((l.source, l.month, l.event_type, u.b), (l.source, l.month, u.b))
    ), c AS (
        SELECT h.*, sum(n) OVER (PARTITION BY source, month, event_type ORDER BY bucket_min) AS cum,
               sum(n) OVER (PARTITION BY source, month, event_type) AS total
        FROM h
    )
    SELECT source, month, event_type, max(total)::bigint AS events, sum(v)::bigint AS voided,
           round(min(bucket_min) FILTER (WHERE n > 0 AND cum >= 0.5 * total) / 60.0, 2) AS lateness_p50_hours,
           round(min(bucket_min) FILTER (WHERE n > 0 AND cum >= 0.9 * total) / 60.0, 2) AS lateness_p90_hours,
           round(min(bucket_min) FILTER (WHERE n > 0 AND cum >= 0.99 * total) / 60.0, 2) AS lateness_p99_hours,
           round(max(bucket_min) FILTER (WHERE n > 0) / 60.0, 2) AS lateness_max_hours
    FROM c GROUP BY source, month, event_type;
COMMENT ON VIEW koers.data_quality IS
    'Measure 7: stored events per source, local month of occurred_at and event type (and all '
    'types), with lateness percentiles over the events not voided, read from '
    'koers.lateness_histogram: each is the lower edge of the bucket that holds it.';
COMMENT ON COLUMN koers.data_quality.source IS 'Organisation that registered the events.';
COMMENT ON COLUMN koers.data_quality.month IS 'Local month of occurred_at.';
COMMENT ON COLUMN koers.data_quality.event_type IS 'Event type (correction included), or all.';
COMMENT ON COLUMN koers.data_quality.events IS 'Events stored and not voided (duplicates once).';
COMMENT ON COLUMN koers.data_quality.voided IS 'Events stored and voided by a correction.';
COMMENT ON COLUMN koers.data_quality.lateness_p50_hours IS 'Median lateness (recorded_at - occurred_at), nearest rank over whole minutes, in hours (2 decimals), as the lower edge of its bucket (koers.lateness_bucket: exact below 1 hour, then to 0.1 hour below 24 hours, to the hour below 7 days, to the day beyond).';
COMMENT ON COLUMN koers.data_quality.lateness_p90_hours IS '90th percentile of lateness, nearest rank, hours, bucket''s lower edge.';
COMMENT ON COLUMN koers.data_quality.lateness_p99_hours IS '99th percentile of lateness, nearest rank, hours, bucket''s lower edge.';
COMMENT ON COLUMN koers.data_quality.lateness_max_hours IS 'Greatest lateness, hours, bucket''s lower edge.';

CREATE OR REPLACE VIEW koers.data_quality_rejected AS
    SELECT koers.local_month(rejected_at) AS month, topic, reason, count(*) AS messages
    FROM koers.rejected_events GROUP BY 1, 2, 3;
COMMENT ON VIEW koers.data_quality_rejected IS
    'Measure 7: messages the consumer rejected, per local month of rejection, topic and reason.';
COMMENT ON COLUMN koers.data_quality_rejected.month IS 'Local month of rejected_at.';
COMMENT ON COLUMN koers.data_quality_rejected.topic IS 'Kafka topic of the message.';
COMMENT ON COLUMN koers.data_quality_rejected.reason IS 'Why it was rejected.';
COMMENT ON COLUMN koers.data_quality_rejected.messages IS 'Messages rejected.';

-- A correction of a coverage statement or of an outcome instrument is not dangling: the same
-- view as sql/0004_dangling_corrections.sql, with every correctable table.
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
      AND NOT EXISTS (SELECT 1 FROM koers.coverage t WHERE t.event_id = c.target_event_id)
      AND NOT EXISTS (SELECT 1 FROM koers.zrm_score t WHERE t.event_id = c.target_event_id)
      AND NOT EXISTS (SELECT 1 FROM koers.stressor t WHERE t.event_id = c.target_event_id)
      AND NOT EXISTS (SELECT 1 FROM koers.status_change t WHERE t.event_id = c.target_event_id);

COMMENT ON VIEW koers.data_quality_dangling_correction IS
    'Measure 7 (data quality): stored corrections whose target_event_id is in none of the '
    'correctable event tables (yet). Not an error on arrival: the target may come later.';
COMMENT ON COLUMN koers.data_quality_dangling_correction.source IS 'Organisation that sent the correction.';
COMMENT ON COLUMN koers.data_quality_dangling_correction.month IS 'Local month of the correction''s occurred_at.';
COMMENT ON COLUMN koers.data_quality_dangling_correction.correction_event_id IS 'The correction''s own event id.';
COMMENT ON COLUMN koers.data_quality_dangling_correction.target_event_id IS 'The event id it voids, not stored.';
COMMENT ON COLUMN koers.data_quality_dangling_correction.recorded_at IS 'When the producer emitted the correction.';
COMMENT ON COLUMN koers.data_quality_dangling_correction.waiting_days IS 'Local days from recorded_at to today.';

CREATE OR REPLACE VIEW koers.data_quality_gas AS
    SELECT h.participant, h.goal_ref, h.valid_from AS occurred_at, h.gas
    FROM koers.goal_history h WHERE h.change = 'achieved' AND h.gas < 0;
COMMENT ON VIEW koers.data_quality_gas IS
    'Data-quality findings: goals marked achieved with a GAS score below 0 (the expected level).';
