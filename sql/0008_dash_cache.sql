-- koers dashboard cache: what the dashboards' functions compute is kept per filter setting
-- and version of the data, so that a page is read instead of recomputed from every
-- participant's contributions (minutes at ten million events; see BENCHMARKS.md).
--
-- The data changes only through the consumer's batches (which advance koers.consumer_offset
-- in the same transaction), the settings and the unit costs; koers.data_version() digests
-- exactly those. Anything else that rewrites the prepared tables calls
-- koers.dash_cache_clear(). A cached answer is served while the data version is unchanged,
-- or, while batches keep arriving (settings and unit costs unchanged), for at most
-- koers.setting dash_cache_max_stale seconds (default 300; 0 = never stale); koers-dash
-- recomputes the stale answers in the background (dash.cache_refresh), so a reader seldom
-- waits for a computation.
-- koers.setting dash_cache = off turns the cache off (every request computes).
-- Its functions are in sql/defs/70_dash_cells.sql; this migration keeps the cache tables.

-- Each entry is one computation: its key names the function and every argument that
-- decides the answer (the caller's suppression and organisation included), never a user.
CREATE TABLE koers.dash_cache (
    cache_key    text PRIMARY KEY,
    data_version text NOT NULL,
    computed_at  timestamptz NOT NULL,
    compute_ms   numeric NOT NULL,
    last_hit_at  timestamptz NOT NULL,
    lanes        integer,
    cells        koers.dash_cell[],
    refresh      text
);
COMMENT ON TABLE koers.dash_cache IS
    'Internal: dashboard answers per key (function and arguments) and data version; see '
    'sql/0008_dash_cache.sql. Holds only what the callers of that key may see.';
COMMENT ON COLUMN koers.dash_cache.computed_at IS 'When the computation started: the data is as of then.';
COMMENT ON COLUMN koers.dash_cache.lanes IS 'The participants the filter setting leaves.';
COMMENT ON COLUMN koers.dash_cache.cells IS 'The cells (suppressed ones without value), or NULL for a lane list.';
COMMENT ON COLUMN koers.dash_cache.refresh IS 'The statement that recomputes this entry (for koers.dash_cache_refresh).';
CREATE INDEX ON koers.dash_cache (last_hit_at);

-- The lanes of the timeline and the rows of the participants export, per key of dash_cache.
CREATE TYPE koers.dash_lane_measures AS (
    person_months_before numeric, person_months_during numeric, crisis_before integer,
    crisis_during integer, crisis_days_before integer, crisis_days_during integer,
    police_before integer, police_during integer, confused_before integer,
    confused_during integer, goals integer, goals_achieved integer, goals_revised integer,
    goals_abandoned integer, t_score numeric, contacts_per_week numeric,
    cost_before_per_pm numeric, cost_during_per_pm numeric, support_cost_during numeric
);
COMMENT ON TYPE koers.dash_lane_measures IS 'Internal: a participant''s measures, as dash.participants returns them.';
CREATE TABLE koers.dash_cache_lane (
    cache_key      text NOT NULL REFERENCES koers.dash_cache ON DELETE CASCADE,
    lane           integer NOT NULL,
    participant    text NOT NULL,
    cohort         text,
    first_enrolled date NOT NULL,
    measures       koers.dash_lane_measures,
    PRIMARY KEY (cache_key, lane)
);
COMMENT ON TABLE koers.dash_cache_lane IS
    'Internal: the lanes (participants in first-enrolled order) of a cached filter setting, '
    'with their measures when the entry is a participants export.';

-- Ownership and grants, as in 0003: the dashboards' functions run as koers_reader, which
-- keeps the cache; koers_dash may only trigger the refresh.
GRANT SELECT, INSERT, UPDATE, DELETE ON koers.dash_cache, koers.dash_cache_lane TO koers_reader;
