-- koers access: database roles for the dashboards, their users and sessions, the audit trail,
-- small-cell suppression, and schema dash: the only relations koers-dash and Grafana read.
-- docs/dashboards.md is the page for people. What a role may read is decided here, not in
-- the web server: a bug there cannot widen it.
--
-- Roles (cluster-wide, so created only when missing):
--   koers_evaluator   pseudonymised micro-data (timelines, per-participant export), unsuppressed
--   koers_funder      aggregates only, small cells suppressed
--   koers_partner     aggregates only, small cells suppressed; one member role per organisation,
--                     koers_partner_<organisation>, made by koers.dash_partner_role()
--   koers_admin       aggregates unsuppressed, users and audit trail; no micro-data
--   koers_dash        the web server's LOGIN role: may only SET ROLE to the four above and
--                     append to the audit trail (NOINHERIT: it holds none of their rights)
--   koers_reader, koers_auth   NOLOGIN owners of the SECURITY DEFINER functions of schema
--                     dash: reader may read the prepared tables, auth the users and sessions.
-- None of the four reader roles can read a koers table: they have no USAGE on schema koers.

DO $$
DECLARE
    r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['koers_evaluator', 'koers_funder', 'koers_partner', 'koers_admin',
                             'koers_reader', 'koers_auth'] LOOP
        BEGIN
            EXECUTE format('CREATE ROLE %I NOLOGIN', r);
        EXCEPTION WHEN duplicate_object OR unique_violation THEN
            NULL; -- made by an earlier migration of another database of this cluster
        END;
    END LOOP;
    BEGIN
        CREATE ROLE koers_dash LOGIN NOINHERIT;
    EXCEPTION WHEN duplicate_object OR unique_violation THEN
        NULL;
    END;
END
$$;
ALTER ROLE koers_dash NOINHERIT;
DO $$
DECLARE
    r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['koers_evaluator', 'koers_funder', 'koers_partner', 'koers_admin'] LOOP
        IF NOT pg_has_role('koers_dash', r, 'MEMBER') THEN
            EXECUTE format('GRANT %I TO koers_dash', r);
        END IF;
    END LOOP;
END
$$;

INSERT INTO koers.setting VALUES ('min_cell', '5') ON CONFLICT (name) DO NOTHING;

------------------------------------------------------------------------------------------
-- Dashboard users, sessions, organisations and the audit trail.
------------------------------------------------------------------------------------------

CREATE TABLE koers.dash_organisation (
    organisation text PRIMARY KEY CHECK (organisation ~ '^[a-z0-9_-]{1,32}$'),
    db_role      name NOT NULL UNIQUE
);
COMMENT ON TABLE koers.dash_organisation IS
    'Partner organisations (a source name) and their PostgreSQL role koers_partner_<organisation>.';

CREATE TABLE koers.dash_user (
    name                text PRIMARY KEY CHECK (name ~ '^[a-z0-9][a-z0-9._@-]{0,63}$'),
    role                text NOT NULL CHECK (role IN ('evaluator', 'funder', 'partner', 'admin')),
    organisation        text REFERENCES koers.dash_organisation,
    db_role             name NOT NULL,
    password_hash       text NOT NULL CHECK (password_hash LIKE '$argon2%'),
    created_at          timestamptz NOT NULL DEFAULT now(),
    password_changed_at timestamptz NOT NULL DEFAULT now(),
    last_login_at       timestamptz,
    disabled            boolean NOT NULL DEFAULT false,
    CHECK ((role = 'partner') = (organisation IS NOT NULL))
);
COMMENT ON TABLE koers.dash_user IS
    'Dashboard users (koers-dash user add|passwd|disable|list). password_hash is libsodium''s '
    'crypto_pwhash_str (Argon2id, salted); no password is ever stored.';

CREATE TABLE koers.dash_session (
    token_hash   bytea PRIMARY KEY CHECK (length(token_hash) = 32),
    user_name    text NOT NULL REFERENCES koers.dash_user ON DELETE CASCADE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    idle_seconds integer NOT NULL CHECK (idle_seconds > 0)
);
CREATE INDEX ON koers.dash_session (user_name);
COMMENT ON TABLE koers.dash_session IS
    'Dashboard sessions: SHA-256 of the random token in the cookie (the token itself is never '
    'stored), absolute expiry and idle timeout.';

CREATE TABLE koers.dash_audit (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at           timestamptz NOT NULL DEFAULT clock_timestamp(),
    user_name    text,
    role         text,
    organisation text,
    action       text NOT NULL CHECK (action IN ('login', 'login_failed', 'logout', 'view', 'export')),
    resource     text NOT NULL,
    detail       jsonb,
    client       text
);
COMMENT ON TABLE koers.dash_audit IS
    'Audit trail: logins, and every access to pseudonymised micro-data (who, when, which page '
    'or export, with which filters). Append-only: no role may update, delete or truncate it.';

CREATE FUNCTION koers.dash_audit_refuse() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    RAISE EXCEPTION 'koers.dash_audit is append-only' USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER dash_audit_append_only BEFORE UPDATE OR DELETE ON koers.dash_audit
    FOR EACH ROW EXECUTE FUNCTION koers.dash_audit_refuse();
CREATE TRIGGER dash_audit_no_truncate BEFORE TRUNCATE ON koers.dash_audit
    FOR EACH STATEMENT EXECUTE FUNCTION koers.dash_audit_refuse();

------------------------------------------------------------------------------------------
-- Who is asking: from the dashboard session (koers-dash), or from the login role (Grafana).
------------------------------------------------------------------------------------------

CREATE TYPE koers.dash_caller_row AS (
    user_name    text,
    role         text,
    organisation text,
    suppress     boolean
);
COMMENT ON COLUMN koers.dash_caller_row.user_name IS 'Dashboard user (or the login role of a direct login).';
COMMENT ON COLUMN koers.dash_caller_row.role IS 'evaluator, funder, partner or admin.';
COMMENT ON COLUMN koers.dash_caller_row.organisation IS 'The partner''s organisation (a source name); NULL for other roles.';
COMMENT ON COLUMN koers.dash_caller_row.suppress IS 'Whether small cells are hidden from this caller (funders and partners).';

------------------------------------------------------------------------------------------
-- Small-cell suppression.
--
-- Every figure on a dashboard is a cell (chart, series, category) computed from
-- contributions: rows (participant, source, num, den) that a measure adds to the cell; the
-- value is sum(num), or sum(num) / sum(den) for a rate. A cell's contributors are the distinct
-- participants with a contribution flagged contrib (normally num <> 0). For funders and
-- partners (koers.dash_caller().suppress):
--   1. a cell with 1..k-1 contributors is suppressed (its value leaves the database as NULL;
--      the page shows "<k"); so is a rate whose population (participants with time in its
--      denominator) is under k. A count without contributors is a zero, drawn from nobody: it
--      is shown, and is no hidden figure that complementary suppression must protect.
--   2. filters: a cohort or organisation filter that leaves fewer than k participants, or that
--      differs from a wider setting by 1..k-1 participants, is refused (SQLSTATE KS001); and a
--      cell is suppressed when the same cell under a wider setting (no cohort filter, no
--      organisation filter, neither) has 1..k-1 contributors more: differencing the two would
--      disclose them.
--   3. complementary suppression: cells are linked by exact relations: a total and its parts
--      (the paths in a contribution: series_path {achieved, set} says "achieved" is a part of
--      "set"), the same quantity in two charts (links), and relations between charts (extra).
--      While some relation has exactly one suppressed member, the smallest other member of it
--      (parts before the total) is suppressed too, so no hidden value is the difference of
--      shown ones.
-- The as-of date of suppressed roles is the end of the last complete month, whatever the
-- period filter, and the period filter only hides months of monthly series: cells never
-- change with it, so it gives nothing to difference.
------------------------------------------------------------------------------------------

CREATE TYPE koers.dash_contrib AS (
    chart         text,
    series_path   text[],
    category_path text[],
    participant   text,
    source        text,
    num           numeric,
    den           numeric,
    contrib       boolean
);
COMMENT ON COLUMN koers.dash_contrib.chart IS 'page.chart the contribution adds to.';
COMMENT ON COLUMN koers.dash_contrib.series_path IS 'The series and its totals, leaf first.';
COMMENT ON COLUMN koers.dash_contrib.category_path IS 'The category and its totals, leaf first.';
COMMENT ON COLUMN koers.dash_contrib.participant IS 'Pseudonym of the contributor; NULL for grid rows.';
COMMENT ON COLUMN koers.dash_contrib.source IS 'Organisation that registered it; NULL when not source-specific.';
COMMENT ON COLUMN koers.dash_contrib.num IS 'Added to the numerator (the count, sum or cost).';
COMMENT ON COLUMN koers.dash_contrib.den IS 'Added to the denominator of a rate (person-months, weeks, contacts); NULL for counts.';
COMMENT ON COLUMN koers.dash_contrib.contrib IS 'Whether the participant counts as a contributor (normally num <> 0).';
COMMENT ON TYPE koers.dash_contrib IS
    'A contribution to dashboard cells: series_path and category_path run from the leaf to its '
    'totals (each element a part of the next); source NULL means not specific to a source '
    '(not cut by the organisation filter); participant NULL for the zero rows that make every '
    'cell of a grid exist.';

CREATE TYPE koers.dash_cell AS (
    chart      text,
    series     text,
    category   text,
    value      numeric,
    suppressed boolean
);
COMMENT ON COLUMN koers.dash_cell.chart IS 'page.chart, e.g. overview.goals.';
COMMENT ON COLUMN koers.dash_cell.series IS 'The series (a status, a kind, before/during, ...), or a total.';
COMMENT ON COLUMN koers.dash_cell.category IS 'The category (a domain, a month YYYY-MM, before/during, ...), or a total.';
COMMENT ON COLUMN koers.dash_cell.value IS 'The figure (4 decimals); NULL when suppressed.';
COMMENT ON COLUMN koers.dash_cell.suppressed IS 'Hidden from this caller: drawn from 1..k-1 participants, or complementary.';

------------------------------------------------------------------------------------------
-- Schema dash: what koers-dash and Grafana call. Each function checks the caller
-- (koers.dash_require) and runs as koers_reader; EXECUTE is granted per role below.
-- Parameters: cohort and organisation (NULL: all), period_from and period_to (first days of
-- months; NULL: open). Page functions return (chart, series, category, value, suppressed):
-- value is NULL where suppressed.
------------------------------------------------------------------------------------------

CREATE SCHEMA dash;
COMMENT ON SCHEMA dash IS
    'The dashboards'' SQL interface (koers-dash, Grafana): functions that check the caller''s '
    'role and suppress small cells for funders and partners. See docs/dashboards.md.';

------------------------------------------------------------------------------------------
-- Ownership and grants.
------------------------------------------------------------------------------------------

GRANT USAGE ON SCHEMA koers TO koers_reader, koers_auth, koers_dash;
GRANT SELECT ON koers.participant, koers.enrolment_span, koers.daily_use,
    koers.participant_month_count, koers.goal_history, koers.event_lateness, koers.unit_cost,
    koers.unit_cost_map, koers.setting, koers.rejected_events, koers.dash_organisation,
    koers.dash_user, koers.dash_session TO koers_reader;
GRANT SELECT ON koers.event_count_month, koers.consumer_offset TO koers_reader;
GRANT SELECT, UPDATE (last_login_at) ON koers.dash_user TO koers_auth;
GRANT SELECT, INSERT, UPDATE (last_seen_at), DELETE ON koers.dash_session TO koers_auth;
GRANT INSERT ON koers.dash_audit TO koers_reader, koers_auth;
GRANT SELECT ON koers.dash_audit TO koers_reader;
-- The web server's own right: append to the audit trail (never read, change or delete it).
GRANT INSERT (user_name, role, organisation, action, resource, detail, client)
    ON koers.dash_audit TO koers_dash;

REVOKE ALL ON SCHEMA dash FROM PUBLIC;
GRANT USAGE ON SCHEMA dash TO koers_evaluator, koers_funder, koers_partner, koers_admin,
    koers_dash, koers_reader, koers_auth;
