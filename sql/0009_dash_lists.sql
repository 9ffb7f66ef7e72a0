-- koers dashboards: the cohorts and organisations that dash.filters() offers a caller whose
-- small cells are hidden (funders, partners) are only those that the filter check
-- (koers.dash_check_filter) accepts for that caller, so that a list names no group too small
-- to be shown. Evaluators and admins still get every name.

-- Whether a cohort or organisation may be offered to c: always without suppression, else
-- when the filter check accepts it alone (one rule: the check itself decides).
CREATE FUNCTION koers.dash_filter_offered(c koers.dash_caller_row, p_cohort text, p_org text,
                                          as_of date) RETURNS boolean
    LANGUAGE plpgsql STABLE
    AS $$
BEGIN
    IF c.suppress THEN
        PERFORM koers.dash_check_filter(c, p_cohort, p_org, as_of);
    END IF;
    RETURN true;
EXCEPTION WHEN SQLSTATE 'KS001' THEN
    RETURN false;
END
$$;
REVOKE EXECUTE ON FUNCTION koers.dash_filter_offered(koers.dash_caller_row, text, text, date) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION koers.dash_filter_offered(koers.dash_caller_row, text, text, date) TO koers_reader;

CREATE OR REPLACE FUNCTION dash.filters()
    RETURNS TABLE (name text, value text)
    LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    c     koers.dash_caller_row := koers.dash_require(ARRAY['evaluator', 'funder', 'partner', 'admin']);
    as_of date := koers.dash_as_of(c, NULL);
BEGIN
    RETURN QUERY
        SELECT 'cohort', x FROM (SELECT DISTINCT p.cohort AS x FROM koers.participant p
                                 WHERE p.cohort IS NOT NULL ORDER BY 1) a
        WHERE koers.dash_filter_offered(c, x, NULL, as_of)
        UNION ALL
        SELECT 'organisation', x FROM (SELECT DISTINCT m.source AS x FROM koers.event_count_month m
                                       ORDER BY 1) b
        WHERE koers.dash_filter_offered(c, NULL, x, as_of)
        UNION ALL
        SELECT 'first_month', to_char(min(p.first_enrolled), 'YYYY-MM') FROM koers.participant p
        UNION ALL
        SELECT 'last_month', to_char(as_of, 'YYYY-MM');
END
$$;
COMMENT ON FUNCTION dash.filters() IS
    'Choices for the filters: cohorts, organisations (sources), first and last month; for '
    'callers with small cells hidden, only the cohorts and organisations their filter check accepts.';
