-- Who may call the functions and read the views of sql/defs/. Applied with the definitions,
-- which are dropped and created anew whenever one of them changes, so their rights are given
-- here each time; the rights on tables and schemas are the migrations' (sql/0003, 0007).

-- Schema koers: no function is PUBLIC. The dashboards' owner roles may call every one. The
-- consumer may call those that run with its own rights (they can do no more than its table
-- rights allow), but not the dashboards' nor the full rebuild; the analyst the measures (STABLE
-- or IMMUTABLE), not the hooks that write (VOLATILE).
REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA koers, dash FROM PUBLIC;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA koers TO koers_reader, koers_auth;
DO $$
DECLARE
    f record;
BEGIN
    FOR f IN SELECT p.oid::regprocedure AS sig, p.proname, p.prosecdef, p.provolatile
             FROM pg_proc p WHERE p.pronamespace = 'koers'::regnamespace LOOP
        CONTINUE WHEN f.prosecdef OR f.proname LIKE 'dash\_%';
        IF f.proname <> 'refresh_all' THEN
            EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO koers_consumer', f.sig);
        END IF;
        IF f.provolatile <> 'v' THEN
            EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO koers_analyst', f.sig);
        END IF;
    END LOOP;
END
$$;

-- Schema dash: the only functions koers-dash and Grafana call. They are SECURITY DEFINER and
-- run as koers_reader (the prepared tables, the cache) or koers_auth (users and sessions);
-- the four reader roles call them, micro-data for evaluators only, users and the audit trail
-- for admins; koers_dash itself only logs in, ends sessions, reads /metrics and triggers the
-- cache's background refresh.
DO $$
DECLARE
    f record;
BEGIN
    FOR f IN SELECT p.oid::regprocedure AS sig, p.proname
             FROM pg_proc p WHERE p.pronamespace = 'dash'::regnamespace LOOP
        EXECUTE format('ALTER FUNCTION %s OWNER TO %I', f.sig,
                       CASE WHEN f.proname LIKE 'auth\_%' THEN 'koers_auth' ELSE 'koers_reader' END);
        EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO %s', f.sig,
                       CASE WHEN f.proname LIKE 'auth\_%' OR f.proname IN ('metrics', 'cache_refresh')
                                THEN 'koers_dash'
                            WHEN f.proname IN ('timeline', 'timeline_lanes', 'participants', 'paired')
                                THEN 'koers_evaluator'
                            WHEN f.proname IN ('users', 'audit_log') THEN 'koers_admin'
                            ELSE 'koers_evaluator, koers_funder, koers_partner, koers_admin' END);
    END LOOP;
END
$$;

-- Views. The consumer checks new rows against the valid events; the dashboards' functions
-- read the rejected payloads, the unit costs and the coverage statements; the analyst may read
-- every measure view, and of the valid ones only the coverage statements, which hold nothing
-- about a person (the valid events are read through the measures).
GRANT SELECT ON koers.enrolment_valid, koers.contact_valid, koers.crisis_valid,
    koers.goal_change_valid, koers.police_call_valid, koers.coverage_valid TO koers_consumer;
GRANT SELECT ON koers.data_quality_rejected, koers.cost_assumptions, koers.coverage_valid
    TO koers_reader;
DO $$
DECLARE
    v record;
BEGIN
    FOR v IN SELECT c.relname FROM pg_class c
             WHERE c.relnamespace = 'koers'::regnamespace AND c.relkind = 'v'
               AND (c.relname NOT LIKE '%\_valid' OR c.relname = 'coverage_valid')
               AND c.relname NOT LIKE 'dash\_%' LOOP
        EXECUTE format('GRANT SELECT ON koers.%I TO koers_analyst', v.relname);
    END LOOP;
END
$$;
