-- koers least privilege: the consumer's own role, and a read-only role for the measures.
-- Numbered after every migration that makes objects these roles use (a privilege can only
-- be granted on what exists); a later migration that adds such an object grants it itself.
--
--   koers_consumer  what koers-consume does in its batches and nothing more: append events
--                   (INSERT, and SELECT for its staging tables LIKE the event tables and for
--                   RETURNING), keep koers.event_count_month, store rejects (append only),
--                   read and advance its offsets, and run the measures hook, which rewrites
--                   the prepared per-participant tables. It cannot change or delete a stored
--                   event or reject, delete offsets, run DDL, rebuild everything
--                   (koers.refresh_all), read or change unit costs' history, or see anything
--                   of the dashboards (users, sessions, audit trail; schema dash).
--   koers_analyst   reads the measures: the prepared tables, the unit costs, the measure
--                   views and functions, data quality. Not the raw event tables (nor the
--                   *_valid views over them), offsets, rejected payloads or the dashboards;
--                   writes nothing.
-- Both are NOLOGIN: a deployment grants them to its login roles, e.g.
--   CREATE ROLE consume LOGIN PASSWORD '…' IN ROLE koers_consumer;
-- Migrations (koers-consume --migrate) run as the owner of schema koers, never as these.
-- The dashboards' roles are in 0003_access.sql.

DO $$
DECLARE
    r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['koers_consumer', 'koers_analyst'] LOOP
        BEGIN
            EXECUTE format('CREATE ROLE %I NOLOGIN', r);
        EXCEPTION WHEN duplicate_object OR unique_violation THEN
            NULL; -- made by an earlier migration of another database of this cluster
        END;
    END LOOP;
END
$$;

GRANT USAGE ON SCHEMA koers TO koers_consumer, koers_analyst;

-- The consumer.
GRANT SELECT, INSERT ON koers.enrolment, koers.contact, koers.crisis, koers.goal_change,
    koers.police_call, koers.correction TO koers_consumer;
GRANT SELECT, INSERT, UPDATE ON koers.event_count_month, koers.consumer_offset TO koers_consumer;
GRANT INSERT ON koers.rejected_events TO koers_consumer;
GRANT SELECT ON koers.setting, koers.unit_cost, koers.unit_cost_map TO koers_consumer;
GRANT SELECT, INSERT, UPDATE, DELETE ON koers.participant, koers.enrolment_span, koers.daily_use,
    koers.participant_month_count, koers.goal_history, koers.event_lateness TO koers_consumer;

-- The analyst.
GRANT SELECT ON koers.participant, koers.enrolment_span, koers.daily_use,
    koers.participant_month_count, koers.goal_history, koers.event_lateness,
    koers.event_count_month, koers.setting, koers.unit_cost, koers.unit_cost_map TO koers_analyst;
