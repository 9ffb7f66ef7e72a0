-- koers dashboards on Measures v2 (../shared/domain.md, "Measures v2"; docs/dashboards.md):
-- acute crisis apart from its stay alternatives and police use apart from victim calls on
-- every page, stays on the days they cover (koers.use_at), the crisis cost split the same
-- way, GAS with its baseline and change, the share of achieved self-set goals over the
-- enrolled participants, and the spread and evidence of the change per participant for a
-- chosen window (aggregates for everyone, suppressed; the paired rates for evaluators).
-- Its functions are in sql/defs/ (70_dash_cells.sql, 80_dash_api.sql); this migration keeps
-- the row type they return.

CREATE TYPE koers.window_paired_row AS (
    participant text, cohort text, window_name text, measure text, before_count integer,
    during_count integer, before_days integer, during_days integer, before_rate numeric,
    during_rate numeric, difference numeric, full_coverage boolean
);
COMMENT ON TYPE koers.window_paired_row IS 'Internal: a row of koers.window_paired.';
DO $$
DECLARE
    c record;
BEGIN
    FOR c IN SELECT a.attname FROM pg_attribute a
             WHERE a.attrelid = 'koers.window_paired_row'::regclass AND a.attnum > 0 LOOP
        EXECUTE format('COMMENT ON COLUMN koers.window_paired_row.%I IS %L', c.attname,
                       'As the column of koers.window_paired of this name.');
    END LOOP;
END
$$;
