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

CREATE FUNCTION koers.min_cell() RETURNS integer
    LANGUAGE sql STABLE
    AS $$ SELECT greatest(coalesce((SELECT value::integer FROM koers.setting WHERE name = 'min_cell'), 5), 1) $$;
COMMENT ON FUNCTION koers.min_cell() IS
    'k of small-cell suppression: a figure drawn from fewer than k distinct participants is not '
    'shown to funders and partners (koers.setting min_cell, default 5).';

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

-- Made by `koers-dash user add --role partner --organisation ORG` (run as a role that may
-- create roles). The organisation's role is a member of koers_partner, and koers_dash may
-- SET ROLE to it.
CREATE FUNCTION koers.dash_partner_role(org text) RETURNS name
    LANGUAGE plpgsql
    AS $$
DECLARE
    r name := 'koers_partner_' || org;
BEGIN
    IF org !~ '^[a-z0-9_-]{1,32}$' THEN
        RAISE EXCEPTION 'organisation % is not a source name ([a-z0-9_-]{1,32})', org
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
        BEGIN
            EXECUTE format('CREATE ROLE %I NOLOGIN IN ROLE koers_partner', r);
        EXCEPTION WHEN duplicate_object OR unique_violation THEN
            NULL;
        END;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_auth_members m
                   WHERE m.roleid = (SELECT oid FROM pg_roles WHERE rolname = r)
                     AND m.member = (SELECT oid FROM pg_roles WHERE rolname = 'koers_dash')) THEN
        EXECUTE format('GRANT %I TO koers_dash', r);
    END IF;
    INSERT INTO koers.dash_organisation VALUES (org, r) ON CONFLICT (organisation) DO NOTHING;
    RETURN r;
END
$$;
REVOKE EXECUTE ON FUNCTION koers.dash_partner_role(text) FROM PUBLIC;
COMMENT ON FUNCTION koers.dash_partner_role(text) IS
    'Creates (if missing) the role koers_partner_<org>, member of koers_partner, that koers_dash '
    'may SET ROLE to; records it in koers.dash_organisation. Returns the role name.';

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

-- koers-dash sets koers.dash_session to the hex SHA-256 of the caller's session token and
-- SETs ROLE to the user's database role: the session must be live, and the role must be
-- the user's own, or nothing is returned. Without that setting (a direct login, e.g.
-- Grafana's), the login role's memberships decide, most restrictive first (partner, funder,
-- evaluator, admin); a role that is none of these reads nothing. A superuser counts as admin;
-- koers_dash itself, without a session, reads nothing.
CREATE FUNCTION koers.dash_caller() RETURNS koers.dash_caller_row
    LANGUAGE plpgsql STABLE
    AS $$
DECLARE
    tok text := current_setting('koers.dash_session', true);
    c   koers.dash_caller_row;
    dbr name;
BEGIN
    IF tok IS NOT NULL AND tok <> '' THEN
        IF tok !~ '^[0-9a-f]{64}$' THEN
            RAISE EXCEPTION 'no valid dashboard session' USING ERRCODE = 'invalid_authorization_specification';
        END IF;
        SELECT u.name, u.role, u.organisation, u.role IN ('funder', 'partner'), u.db_role
        INTO c.user_name, c.role, c.organisation, c.suppress, dbr
        FROM koers.dash_session s JOIN koers.dash_user u ON u.name = s.user_name
        WHERE s.token_hash = decode(tok, 'hex') AND NOT u.disabled
          AND s.expires_at > now() AND s.last_seen_at + make_interval(secs => s.idle_seconds) > now();
        IF NOT FOUND THEN
            RAISE EXCEPTION 'no valid dashboard session' USING ERRCODE = 'invalid_authorization_specification';
        END IF;
        IF current_setting('role') IS DISTINCT FROM dbr::text THEN
            RAISE EXCEPTION 'the current role is not the role of the session''s user'
                USING ERRCODE = 'insufficient_privilege';
        END IF;
        RETURN c;
    END IF;
    IF session_user = 'koers_dash' THEN
        RAISE EXCEPTION 'no valid dashboard session' USING ERRCODE = 'invalid_authorization_specification';
    END IF;
    c.user_name := session_user;
    c.suppress := false;
    IF (SELECT rolsuper FROM pg_roles WHERE rolname = session_user) THEN
        c.role := 'admin';
    ELSIF pg_has_role(session_user, 'koers_partner', 'MEMBER') THEN
        c.role := 'partner';
        c.suppress := true;
        SELECT o.organisation INTO c.organisation FROM koers.dash_organisation o
        WHERE pg_has_role(session_user, o.db_role, 'MEMBER') ORDER BY 1 LIMIT 1;
        IF c.organisation IS NULL THEN
            RAISE EXCEPTION 'role % is a partner of no organisation', session_user
                USING ERRCODE = 'insufficient_privilege';
        END IF;
    ELSIF pg_has_role(session_user, 'koers_funder', 'MEMBER') THEN
        c.role := 'funder';
        c.suppress := true;
    ELSIF pg_has_role(session_user, 'koers_evaluator', 'MEMBER') THEN
        c.role := 'evaluator';
    ELSIF pg_has_role(session_user, 'koers_admin', 'MEMBER') THEN
        c.role := 'admin';
    ELSE
        RAISE EXCEPTION 'role % may read no dashboard', session_user USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN c;
END
$$;
COMMENT ON FUNCTION koers.dash_caller() IS
    'The dashboard caller: user, role (evaluator, funder, partner, admin), organisation '
    '(partners) and whether small cells are suppressed for them. Raises when there is none.';

CREATE FUNCTION koers.dash_require(allowed text[]) RETURNS koers.dash_caller_row
    LANGUAGE plpgsql STABLE
    AS $$
DECLARE
    c koers.dash_caller_row := koers.dash_caller();
BEGIN
    IF NOT c.role = ANY (allowed) THEN
        RAISE EXCEPTION 'role % may not read this', c.role USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN c;
END
$$;

CREATE FUNCTION koers.dash_audit_write(c koers.dash_caller_row, action text, resource text,
                                       detail jsonb) RETURNS void
    LANGUAGE sql
    AS $$
    INSERT INTO koers.dash_audit (user_name, role, organisation, action, resource, detail, client)
    VALUES (c.user_name, c.role, c.organisation, action, resource, detail,
            nullif(current_setting('koers.dash_client', true), ''))
    $$;

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

-- The as-of date of a request: for funders and partners the end of the last complete month;
-- for the others the end of the period (its month), never past today.
CREATE FUNCTION koers.dash_as_of(c koers.dash_caller_row, period_to date) RETURNS date
    LANGUAGE sql STABLE
    AS $$
    SELECT CASE WHEN c.suppress
                THEN (date_trunc('month', koers.today()) - interval '1 day')::date
                ELSE least(koers.today(), (date_trunc('month', coalesce(period_to, koers.today()))
                                           + interval '1 month' - interval '1 day')::date)
           END
    $$;

-- Participants a filter setting leaves: enrolled by as_of, of the cohort (if given), with an
-- event registered by the organisation (if given). Refuses, for suppressed roles, a setting
-- that leaves fewer than k, or that differs from a wider one by 1..k-1.
CREATE FUNCTION koers.dash_check_filter(c koers.dash_caller_row, p_cohort text, p_org text,
                                        as_of date) RETURNS integer
    LANGUAGE plpgsql STABLE
    AS $$
DECLARE
    k  integer := koers.min_cell();
    f  integer;
    dc integer;
    dorg integer;
    da integer;
BEGIN
    IF p_cohort IS NOT NULL AND p_cohort !~ '^[a-z0-9_-]{1,32}$' THEN
        RAISE EXCEPTION 'cohort is not a cohort name' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_org IS NOT NULL AND p_org !~ '^[a-z0-9_-]{1,32}$' THEN
        RAISE EXCEPTION 'organisation is not a source name' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    WITH p AS (
        SELECT (p_cohort IS NULL OR e.cohort = p_cohort) AS in_c,
               (p_org IS NULL OR EXISTS (
                    SELECT 1 FROM koers.event_lateness l
                    WHERE l.participant = e.participant AND l.source = p_org AND NOT l.voided
                      AND l.event_type <> 'correction')) AS in_o
        FROM koers.exposure(as_of) e
    )
    SELECT count(*) FILTER (WHERE in_c AND in_o), count(*) FILTER (WHERE in_c AND NOT in_o),
           count(*) FILTER (WHERE in_o AND NOT in_c), count(*) FILTER (WHERE NOT (in_c AND in_o))
    INTO f, dc, dorg, da FROM p;
    IF c.suppress AND (p_cohort IS NOT NULL OR p_org IS NOT NULL) THEN
        IF f < k THEN
            RAISE EXCEPTION 'this filter leaves fewer than % participants', k
                USING ERRCODE = 'KS001', HINT = 'choose a wider cohort or organisation';
        END IF;
        IF dc BETWEEN 1 AND k - 1 OR dorg BETWEEN 1 AND k - 1 OR da BETWEEN 1 AND k - 1 THEN
            RAISE EXCEPTION 'this filter differs from a wider one by fewer than % participants', k
                USING ERRCODE = 'KS001', HINT = 'choose a wider cohort or organisation';
        END IF;
    END IF;
    RETURN f;
END
$$;

-- The cells of one group of pages (overview, outcomes, quality), suppressed for c when
-- c.suppress. links: 'chartA=chartB' pairs whose cells with the same series and category
-- are the same quantity; extra: a JSON array of relations, each an array of
-- [chart, series, category] members any one of which follows from the others.
CREATE FUNCTION koers.dash_cells(grp text, c koers.dash_caller_row, p_cohort text, p_org text,
                                 as_of date, links text[], extra jsonb)
    RETURNS SETOF koers.dash_cell
    LANGUAGE plpgsql STABLE
    AS $$
DECLARE
    k      integer := koers.min_cell();
    ch     text[];
    se     text[];
    ca     text[];
    val    numeric[];
    sup    boolean[];
    sp     text[];
    cp     text[];
    r_id   text[];
    r_mem  integer[];
    r_tot  boolean[];
    nrel   integer;
    i      integer;
    j      integer;
    m      integer;
    cnt    integer;
    best   integer;
    changed boolean;
BEGIN
    IF grp NOT IN ('overview', 'outcomes', 'quality') THEN
        RAISE EXCEPTION 'unknown group %', grp USING ERRCODE = 'invalid_parameter_value';
    END IF;
    EXECUTE format($q$
        WITH pop AS (SELECT participant, cohort FROM koers.exposure($1)),
        raw AS MATERIALIZED (SELECT x.* FROM koers.%I($1, $4) x),
        flagged AS (
            SELECT raw.*, (raw.participant IS NULL OR $2::text IS NULL OR p.cohort = $2) AS in_c,
                   (raw.source IS NULL OR $3::text IS NULL OR raw.source = $3) AS in_o
            FROM raw LEFT JOIN pop p ON p.participant = raw.participant
        ), per AS (
            -- Per cell and participant: the sums under the filter, and in which of the
            -- settings (the filter; wider ones less the filter) the participant contributes.
            SELECT f.chart, s.series, cat.category, f.participant,
                   sum(f.num) FILTER (WHERE in_c AND in_o) AS num,
                   sum(f.den) FILTER (WHERE in_c AND in_o) AS den, count(f.den) AS dens,
                   bool_or(f.den > 0 AND in_c AND in_o) AS d_f,
                   bool_or(f.contrib AND in_c AND in_o) AS c_f,
                   bool_or(f.contrib AND in_c AND NOT in_o) AS c_c,
                   bool_or(f.contrib AND in_o AND NOT in_c) AS c_o,
                   bool_or(f.contrib AND NOT (in_c AND in_o)) AS c_a
            FROM flagged f
            CROSS JOIN LATERAL unnest(f.series_path) s(series)
            CROSS JOIN LATERAL unnest(f.category_path) cat(category)
            GROUP BY 1, 2, 3, 4
        ), cells AS (
            SELECT chart, series, category,
                CASE WHEN sum(dens) > 0 THEN sum(num) / nullif(sum(den), 0)
                     ELSE coalesce(sum(num), 0) END AS value,
                count(*) FILTER (WHERE c_f AND participant IS NOT NULL) AS n,
                count(*) FILTER (WHERE d_f AND participant IS NOT NULL) AS np, sum(dens) AS dens,
                count(*) FILTER (WHERE c_c AND participant IS NOT NULL) AS nc,
                count(*) FILTER (WHERE c_o AND participant IS NOT NULL) AS nr,
                count(*) FILTER (WHERE c_a AND participant IS NOT NULL) AS na
            FROM per GROUP BY 1, 2, 3
        ), sp AS (
            SELECT DISTINCT chart || '|' || series_path[i] || '|' || series_path[i + 1] AS pair
            FROM raw, generate_subscripts(series_path, 1) i WHERE i < cardinality(series_path)
        ), cp AS (
            SELECT DISTINCT chart || '|' || category_path[i] || '|' || category_path[i + 1] AS pair
            FROM raw, generate_subscripts(category_path, 1) i WHERE i < cardinality(category_path)
        )
        SELECT array_agg(chart ORDER BY chart, series, category),
               array_agg(series ORDER BY chart, series, category),
               array_agg(category ORDER BY chart, series, category),
               array_agg(value ORDER BY chart, series, category),
               array_agg($5 AND (n BETWEEN 1 AND $6 - 1 OR (dens > 0 AND np < $6)
                                 OR nc BETWEEN 1 AND $6 - 1 OR nr BETWEEN 1 AND $6 - 1
                                 OR na BETWEEN 1 AND $6 - 1) ORDER BY chart, series, category),
               (SELECT array_agg(pair) FROM sp), (SELECT array_agg(pair) FROM cp)
        FROM cells
        $q$, 'dash_contrib_' || grp)
    INTO ch, se, ca, val, sup, sp, cp
    USING as_of, p_cohort, p_org, c.organisation, c.suppress, k;

    IF ch IS NULL THEN
        RETURN;
    END IF;

    IF c.suppress THEN
        -- The relations, as (relation id, member index, is the total) rows sorted by id.
        WITH cells AS (
            SELECT * FROM unnest(ch, se, ca) WITH ORDINALITY AS t(chart, series, category, idx)
        ), spairs AS (
            SELECT split_part(x, '|', 1) AS chart, split_part(x, '|', 2) AS child,
                   split_part(x, '|', 3) AS parent FROM unnest(sp) x
        ), cpairs AS (
            SELECT split_part(x, '|', 1) AS chart, split_part(x, '|', 2) AS child,
                   split_part(x, '|', 3) AS parent FROM unnest(cp) x
        ), lk AS (
            SELECT split_part(x, '=', 1) AS a, split_part(x, '=', 2) AS b FROM unnest(links) x
        ), rel AS (
            SELECT 'S|' || p.chart || '|' || p.parent || '|' || c1.category AS rid, c1.idx,
                   c1.series = p.parent AS is_total
            FROM spairs p JOIN cells c1 ON c1.chart = p.chart AND c1.series IN (p.child, p.parent)
            UNION
            SELECT 'C|' || p.chart || '|' || p.parent || '|' || c1.series, c1.idx,
                   c1.category = p.parent
            FROM cpairs p JOIN cells c1 ON c1.chart = p.chart AND c1.category IN (p.child, p.parent)
            UNION
            SELECT 'L|' || lk.a || '|' || lk.b || '|' || a.series || '|' || a.category, x.idx, false
            FROM lk JOIN cells a ON a.chart = lk.a
            JOIN cells b ON b.chart = lk.b AND b.series = a.series AND b.category = a.category
            CROSS JOIN LATERAL (VALUES (a.idx), (b.idx)) x(idx)
            UNION
            SELECT 'X|' || e.ord, c1.idx, false
            FROM jsonb_array_elements(coalesce(extra, '[]')) WITH ORDINALITY e(rel, ord)
            CROSS JOIN LATERAL jsonb_array_elements(e.rel) mem
            JOIN cells c1 ON c1.chart = mem->>0 AND c1.series = mem->>1 AND c1.category = mem->>2
        )
        SELECT array_agg(rid ORDER BY rid, idx), array_agg(idx::integer ORDER BY rid, idx),
               array_agg(is_total ORDER BY rid, idx)
        INTO r_id, r_mem, r_tot FROM rel;

        nrel := coalesce(cardinality(r_id), 0);
        LOOP
            changed := false;
            i := 1;
            WHILE i <= nrel LOOP
                j := i;
                cnt := 0;
                WHILE j <= nrel AND r_id[j] = r_id[i] LOOP
                    IF sup[r_mem[j]] THEN
                        cnt := cnt + 1;
                    END IF;
                    j := j + 1;
                END LOOP;
                IF cnt = 1 THEN
                    best := NULL;
                    FOR m IN i .. j - 1 LOOP
                        IF NOT sup[r_mem[m]] AND (best IS NULL
                            OR (r_tot[m]::integer, abs(coalesce(val[r_mem[m]], 0)), r_mem[m])
                               < (r_tot[best]::integer, abs(coalesce(val[r_mem[best]], 0)), r_mem[best])) THEN
                            best := m;
                        END IF;
                    END LOOP;
                    IF best IS NOT NULL THEN
                        sup[r_mem[best]] := true;
                        changed := true;
                    END IF;
                END IF;
                i := j;
            END LOOP;
            EXIT WHEN NOT changed;
        END LOOP;
    END IF;

    RETURN QUERY
        SELECT t.chart, t.series, t.category,
               CASE WHEN t.sup THEN NULL ELSE round(t.value, 4) END, t.sup
        FROM unnest(ch, se, ca, val, sup) AS t(chart, series, category, value, sup);
END
$$;
-- The planner's estimates of these set-returning queries are far too high: JIT would cost
-- seconds to save milliseconds.
ALTER FUNCTION koers.dash_cells(text, koers.dash_caller_row, text, text, date, text[], jsonb) SET jit = off;
COMMENT ON FUNCTION koers.dash_cells(text, koers.dash_caller_row, text, text, date, text[], jsonb) IS
    'Internal: the cells of a group of dashboard pages from koers.dash_contrib_<group>(as_of, '
    'organisation of the caller), filtered, with small-cell and complementary suppression for '
    'suppressed callers.';

------------------------------------------------------------------------------------------
-- Contributions of each group of pages. Only participants enrolled by as_of count.
------------------------------------------------------------------------------------------

-- Overview: participants, enrolment over time, goals by status, domain and corner, who set
-- them, the share with an achieved self-set goal, and the mean GAS T-score.
CREATE FUNCTION koers.dash_contrib_overview(as_of date, own_org text)
    RETURNS SETOF koers.dash_contrib
    LANGUAGE sql STABLE
    AS $$
    WITH pop AS (SELECT * FROM koers.exposure(as_of)),
    months AS (
        SELECT to_char(g, 'YYYY-MM') AS m, g::date AS m_start, (g + interval '1 month')::date AS m_end
        FROM generate_series((SELECT date_trunc('month', min(first_enrolled)) FROM pop),
                             date_trunc('month', as_of::timestamp), interval '1 month') g
    ), spans AS (
        SELECT s.* FROM koers.enrolment_span s JOIN pop p ON p.participant = s.participant
        WHERE s.start_day <= as_of
    ), goals AS (
        SELECT g.participant, g.domain::text AS domain, g.stability_corner, g.set_by::text AS set_by,
               g.status
        FROM koers.goal_status_at(as_of) g JOIN pop p ON p.participant = g.participant
    ), statuses AS (
        SELECT unnest(ARRAY['open', 'achieved', 'revised', 'abandoned']) AS status
    ), domains AS (
        SELECT d::text AS domain, koers.stability_corner(d) AS corner
        FROM unnest(enum_range(NULL::koers.goal_change_domain)) d
    )
    -- New enrolments per month; their total is the number of participants.
    SELECT 'overview.enrolment', ARRAY['new'], ARRAY[to_char(first_enrolled, 'YYYY-MM'), 'all'],
           participant, NULL::text, 1::numeric, NULL::numeric, true
    FROM pop
    UNION ALL
    SELECT 'overview.enrolment', ARRAY['new'], ARRAY[m, 'all'], NULL, NULL, 0, NULL, false FROM months
    -- Participants enrolled on at least one day of the month.
    UNION ALL
    SELECT DISTINCT 'overview.active', ARRAY['active'], ARRAY[m.m], s.participant, NULL::text,
           1::numeric, NULL::numeric, true
    FROM spans s JOIN months m ON s.start_day < m.m_end
                               AND least(coalesce(s.end_day, as_of + 1), as_of + 1) > m.m_start
    UNION ALL
    SELECT 'overview.active', ARRAY['active'], ARRAY[m], NULL, NULL, 0, NULL, false FROM months
    -- Enrolled on the as-of date.
    UNION ALL
    SELECT 'overview.kpi', ARRAY['enrolled_now'], ARRAY['all'], p.participant, NULL, 1, NULL, true
    FROM pop p WHERE EXISTS (SELECT 1 FROM spans s WHERE s.participant = p.participant
                                                   AND (s.end_day IS NULL OR s.end_day > as_of))
    UNION ALL
    SELECT 'overview.kpi', ARRAY['enrolled_now'], ARRAY['all'], NULL, NULL, 0, NULL, false
    -- Goals by status (parts of "set": every goal set) and domain (parts of its corner, parts
    -- of "all").
    UNION ALL
    SELECT 'overview.goals', ARRAY[status, 'set'], ARRAY[domain, stability_corner, 'all'],
           participant, NULL, 1, NULL, true
    FROM goals
    UNION ALL
    SELECT 'overview.goals', ARRAY[st.status, 'set'], ARRAY[d.domain, d.corner, 'all'],
           NULL, NULL, 0, NULL, false
    FROM statuses st CROSS JOIN domains d
    UNION ALL
    SELECT 'overview.goals_set_by', ARRAY[set_by, 'set'], ARRAY['all'], participant, NULL, 1, NULL, true
    FROM goals
    UNION ALL
    SELECT 'overview.goals_set_by', ARRAY[b::text, 'set'], ARRAY['all'], NULL, NULL, 0, NULL, false
    FROM unnest(enum_range(NULL::koers.goal_change_set_by)) b
    -- Share of participants with goals who achieved at least one self-set goal.
    UNION ALL
    SELECT 'overview.kpi', ARRAY['self_set_achieved_share'], ARRAY['all'], participant, NULL,
           max(CASE WHEN status = 'achieved' AND set_by <> 'professional' THEN 1 ELSE 0 END),
           1, max(CASE WHEN status = 'achieved' AND set_by <> 'professional' THEN 1 ELSE 0 END) = 1
    FROM goals GROUP BY participant
    -- Mean GAS T-score over the participants who have one.
    UNION ALL
    SELECT 'overview.kpi', ARRAY['mean_t_score'], ARRAY['all'], g.participant, NULL, g.t_score, 1, true
    FROM koers.gas_tscore(as_of) g JOIN pop p ON p.participant = g.participant
    WHERE g.t_score IS NOT NULL
    $$;

-- Crisis and police use before versus during, support intensity, and the cost-benefit.
CREATE FUNCTION koers.dash_contrib_outcomes(as_of date, own_org text)
    RETURNS SETOF koers.dash_contrib
    LANGUAGE sql STABLE
    AS $$
    WITH pop AS (
        SELECT e.*, e.days_before / koers.person_month_days() AS pm_before,
               e.days_during / koers.person_month_days() AS pm_during
        FROM koers.exposure(as_of) e
    ), use AS (
        SELECT d.*, p.first_enrolled FROM koers.daily_use d JOIN pop p ON p.participant = d.participant
        WHERE d.period IS NOT NULL AND d.day <= as_of
    ), periods AS (
        SELECT p.participant, x.period, x.pm
        FROM pop p CROSS JOIN LATERAL (VALUES ('before', p.pm_before), ('during', p.pm_during)) x(period, pm)
    ), measures AS (
        SELECT participant, source, period,
               greatest(floor((day - first_enrolled) / koers.person_month_days())::integer, -12) AS r,
               x.measure, sum(x.num) AS num
        FROM (SELECT *, event_type <> 'contact' AS u_is_event FROM use) u CROSS JOIN LATERAL (VALUES
            ('crisis_events', CASE WHEN event_type = 'crisis' THEN events END),
            ('crisis_days', CASE WHEN event_type = 'crisis' THEN days END),
            ('police_calls', CASE WHEN event_type = 'police_call' THEN events END),
            ('confused_person', CASE WHEN event_type = 'police_call' AND kind = 'confused_person'
                                     THEN events END)) x(measure, num)
        WHERE x.num IS NOT NULL AND u_is_event
        GROUP BY 1, 2, 3, 4, 5
    ), grid AS (
        SELECT m, per FROM unnest(ARRAY['crisis_events', 'crisis_days', 'police_calls',
                                        'confused_person']) m,
                           unnest(ARRAY['before', 'during']) per
    ), costed AS (
        SELECT u.participant, u.source, u.period, u.event_type,
               sum(CASE k.per WHEN 'event' THEN u.events::numeric WHEN 'day' THEN u.billable_days::numeric
                              WHEN 'hour' THEN u.minutes / 60.0 END * k.amount_eur) AS cost
        FROM use u
        JOIN koers.unit_cost_map m ON m.event_type = u.event_type AND m.kind = u.kind
        JOIN koers.unit_cost k ON k.item = m.item
        WHERE u.event_type <> 'contact' OR u.period = 'during'
        GROUP BY 1, 2, 3, 4
    ), contacts AS (
        -- Contacts in enrolled time per participant, source, month, role, mode and initiator.
        SELECT participant, source, to_char(day, 'YYYY-MM') AS month, kind, mode, initiated_by,
               sum(events) AS events, sum(minutes) AS minutes
        FROM use WHERE event_type = 'contact' AND period = 'during'
        GROUP BY 1, 2, 3, 4, 5, 6
    ), rel_exposure AS (
        -- Days of each participant in each month relative to the first enrolled day: month
        -- r holds day offsets ceil(r * 30.4375) .. ceil((r + 1) * 30.4375) - 1; the before
        -- period is months -12 .. -1 (a leap year's extra day joins -12).
        SELECT x.participant, x.period, r,
               greatest(0, least(ceil((r + 1) * koers.person_month_days())::integer, x.b)
                           - greatest(CASE WHEN r = -12 THEN x.a ELSE ceil(r * koers.person_month_days())::integer END,
                                      x.a)) AS days
        FROM (
            SELECT p.participant, 'before' AS period, p.before_start - p.first_enrolled AS a, 0 AS b
            FROM pop p
            UNION ALL
            SELECT s.participant, 'during', s.start_day - p.first_enrolled,
                   least(coalesce(s.end_day, as_of + 1), as_of + 1) - p.first_enrolled
            FROM koers.enrolment_span s JOIN pop p ON p.participant = s.participant
            WHERE s.start_day <= as_of
        ) x
        CROSS JOIN LATERAL generate_series(
            CASE WHEN x.period = 'before' THEN -12 ELSE floor(x.a / koers.person_month_days())::integer END,
            CASE WHEN x.period = 'before' THEN -1 ELSE floor((x.b - 1) / koers.person_month_days())::integer END) r
        WHERE x.b > x.a
    ), months AS (
        SELECT to_char(g, 'YYYY-MM') AS m, g::date AS m_start, (g + interval '1 month')::date AS m_end
        FROM generate_series((SELECT date_trunc('month', min(first_enrolled)) FROM pop),
                             date_trunc('month', as_of::timestamp), interval '1 month') g
    )
    -- Before versus during: counts, rates per person-month, and the person-months.
    SELECT 'crisis.bd_count', ARRAY[measure], ARRAY[period], participant, source, num::numeric,
           NULL::numeric, num <> 0
    FROM measures
    UNION ALL
    SELECT 'crisis.bd_count', ARRAY[m], ARRAY[per], NULL, NULL, 0, NULL, false FROM grid
    UNION ALL
    SELECT 'crisis.bd_rate', ARRAY[measure], ARRAY[period], participant, source, num, NULL, num <> 0
    FROM measures
    UNION ALL
    SELECT 'crisis.bd_rate', ARRAY[g.m], ARRAY[p.period], p.participant, NULL, 0, p.pm, false
    FROM periods p CROSS JOIN (SELECT DISTINCT m FROM grid) g
    UNION ALL
    SELECT 'crisis.person_months', ARRAY['person_months'], ARRAY[period], participant, NULL, pm,
           NULL, pm > 0
    FROM periods
    -- By kind, caller and outcome (parts of the totals above).
    UNION ALL
    SELECT 'crisis.kind', ARRAY[kind, 'crisis_events'], ARRAY[period], participant, source,
           sum(events), NULL, true
    FROM use WHERE event_type = 'crisis' GROUP BY kind, period, participant, source
    UNION ALL
    SELECT 'crisis.kind', ARRAY[k::text, 'crisis_events'], ARRAY[per], NULL, NULL, 0, NULL, false
    FROM unnest(enum_range(NULL::koers.crisis_kind)) k, unnest(ARRAY['before', 'during']) per
    UNION ALL
    SELECT 'crisis.police_kind', ARRAY[kind, 'police_calls'], ARRAY[period], participant, source,
           sum(events), NULL, true
    FROM use WHERE event_type = 'police_call' GROUP BY kind, period, participant, source
    UNION ALL
    SELECT 'crisis.police_kind', ARRAY[k::text, 'police_calls'], ARRAY[per], NULL, NULL, 0, NULL, false
    FROM unnest(enum_range(NULL::koers.police_call_kind)) k, unnest(ARRAY['before', 'during']) per
    UNION ALL
    SELECT 'crisis.police_caller', ARRAY[caller, 'police_calls'], ARRAY[period], participant, source,
           sum(events), NULL, true
    FROM use WHERE event_type = 'police_call' GROUP BY caller, period, participant, source
    UNION ALL
    SELECT 'crisis.police_caller', ARRAY[k::text, 'police_calls'], ARRAY[per], NULL, NULL, 0, NULL, false
    FROM unnest(enum_range(NULL::koers.police_call_caller)) k, unnest(ARRAY['before', 'during']) per
    UNION ALL
    SELECT 'crisis.police_outcome', ARRAY[outcome, 'police_calls'], ARRAY[period], participant, source,
           sum(events), NULL, true
    FROM use WHERE event_type = 'police_call' GROUP BY outcome, period, participant, source
    UNION ALL
    SELECT 'crisis.police_outcome', ARRAY[k::text, 'police_calls'], ARRAY[per], NULL, NULL, 0, NULL, false
    FROM unnest(enum_range(NULL::koers.police_call_outcome)) k, unnest(ARRAY['before', 'during']) per
    -- Trend per month relative to the first enrolled day: rates per person-month; the months
    -- are parts of before and during.
    UNION ALL
    SELECT 'crisis.trend', ARRAY[measure], ARRAY[r::text, period], participant, source, num, NULL,
           num <> 0
    FROM measures
    WHERE measure IN ('crisis_events', 'police_calls')
    UNION ALL
    SELECT 'crisis.trend', ARRAY[ms], ARRAY[r::text, period], participant, NULL, 0,
           days / koers.person_month_days(), false
    FROM rel_exposure CROSS JOIN unnest(ARRAY['crisis_events', 'police_calls']) ms
    WHERE days > 0
    -- Cost: totals (crisis and police are parts of crisis_police), per person-month.
    UNION ALL
    SELECT 'cost.total', CASE event_type WHEN 'crisis' THEN ARRAY['crisis', 'crisis_police']
                                         WHEN 'police_call' THEN ARRAY['police', 'crisis_police']
                                         ELSE ARRAY['support'] END,
           ARRAY[period], participant, source, cost, NULL, cost <> 0
    FROM costed
    UNION ALL
    SELECT 'cost.total', s, ARRAY[per], NULL, NULL, 0, NULL, false
    FROM (VALUES (ARRAY['crisis', 'crisis_police'], 'before'), (ARRAY['crisis', 'crisis_police'], 'during'),
                 (ARRAY['police', 'crisis_police'], 'before'), (ARRAY['police', 'crisis_police'], 'during'),
                 (ARRAY['support'], 'during')) v(s, per)
    UNION ALL
    SELECT 'cost.per_pm', ARRAY[s], ARRAY[period], participant, source, cost, NULL, cost <> 0
    FROM costed CROSS JOIN LATERAL unnest(CASE event_type WHEN 'crisis' THEN ARRAY['crisis', 'crisis_police']
                                                          WHEN 'police_call' THEN ARRAY['police', 'crisis_police']
                                                          ELSE ARRAY['support'] END) s
    UNION ALL
    SELECT 'cost.per_pm', ARRAY[s], ARRAY[p.period], p.participant, NULL, 0, p.pm, false
    FROM periods p CROSS JOIN unnest(ARRAY['crisis', 'police', 'crisis_police', 'support']) s
    WHERE s <> 'support' OR p.period = 'during'
    -- Support intensity in enrolled time: contacts by role, mode and initiator (parts of all).
    UNION ALL
    SELECT 'support.' || dim, ARRAY[val, 'all'], ARRAY['during'], participant, source, sum(events),
           NULL, true
    FROM contacts CROSS JOIN LATERAL (VALUES ('role', kind), ('mode', mode), ('initiated', initiated_by)) x(dim, val)
    GROUP BY dim, val, participant, source
    UNION ALL
    SELECT 'support.role', ARRAY[k::text, 'all'], ARRAY['during'], NULL, NULL, 0, NULL, false
    FROM unnest(enum_range(NULL::koers.contact_with_role)) k
    UNION ALL
    SELECT 'support.mode', ARRAY[k::text, 'all'], ARRAY['during'], NULL, NULL, 0, NULL, false
    FROM unnest(enum_range(NULL::koers.contact_mode)) k
    UNION ALL
    SELECT 'support.initiated', ARRAY[k::text, 'all'], ARRAY['during'], NULL, NULL, 0, NULL, false
    FROM unnest(enum_range(NULL::koers.contact_initiated_by)) k
    -- Key figures: contacts and minutes per participant-week, and shares of the contacts.
    UNION ALL
    SELECT 'support.kpi', ARRAY[x.s], ARRAY['all'], participant, source, x.num, x.den, x.num <> 0
    FROM (
        SELECT participant, source, sum(events) AS events, sum(minutes) AS minutes,
               sum(events) FILTER (WHERE mode IN ('outreach', 'home_visit')) AS oh,
               sum(events) FILTER (WHERE initiated_by = 'participant') AS pi,
               sum(events) FILTER (WHERE kind IN ('significant_other', 'experience_expert')) AS ne
        FROM contacts GROUP BY 1, 2
    ) a
    CROSS JOIN LATERAL (VALUES
        ('contacts_per_week', events::numeric, NULL::numeric),
        ('minutes_per_week', minutes::numeric, NULL::numeric),
        ('outreach_home_visit_share', coalesce(oh, 0), events),
        ('participant_initiated_share', coalesce(pi, 0), events),
        ('network_expert_share', coalesce(ne, 0), events)
    ) x(s, num, den)
    UNION ALL
    SELECT 'support.kpi', ARRAY[s], ARRAY['all'], participant, NULL, 0, days_during / 7.0, false
    FROM pop CROSS JOIN unnest(ARRAY['contacts_per_week', 'minutes_per_week']) s
    -- Contacts per enrolled participant-week per month.
    UNION ALL
    SELECT 'support.month', ARRAY['contacts_per_week'], ARRAY[month], participant, source,
           sum(events), NULL, true
    FROM contacts GROUP BY month, participant, source
    UNION ALL
    SELECT 'support.month', ARRAY['contacts_per_week'], ARRAY[m.m], s.participant, NULL, 0,
           (least(coalesce(s.end_day, as_of + 1), as_of + 1, m.m_end) - greatest(s.start_day, m.m_start)) / 7.0,
           false
    FROM koers.enrolment_span s JOIN pop p ON p.participant = s.participant
    JOIN months m ON s.start_day < m.m_end AND least(coalesce(s.end_day, as_of + 1), as_of + 1) > m.m_start
    WHERE s.start_day <= as_of
    -- A partner's own organisation: its contacts per month and mode (whatever the period).
    UNION ALL
    SELECT 'support.own_mode', ARRAY[d.mode, 'all'], ARRAY[to_char(d.day, 'YYYY-MM')], d.participant,
           NULL, sum(d.events), NULL, true
    FROM koers.daily_use d JOIN pop p ON p.participant = d.participant
    WHERE own_org IS NOT NULL AND d.source = own_org AND d.event_type = 'contact' AND d.day <= as_of
      AND d.day >= (SELECT min(m_start) FROM months)
    GROUP BY d.mode, 3, d.participant
    UNION ALL
    SELECT 'support.own_mode', ARRAY[k::text, 'all'], ARRAY[m.m], NULL, NULL, 0, NULL, false
    FROM unnest(enum_range(NULL::koers.contact_mode)) k CROSS JOIN months m
    WHERE own_org IS NOT NULL
    $$;

-- Data quality: stored events (not voided) per source and month of occurred_at, and per
-- source and event type. Every participant with events counts, enrolled or not.
CREATE FUNCTION koers.dash_contrib_quality(as_of date, own_org text)
    RETURNS SETOF koers.dash_contrib
    LANGUAGE sql STABLE
    AS $$
    WITH ev AS (
        SELECT l.participant, l.source, l.event_type, l.month, sum(l.events) AS events
        FROM koers.event_lateness l
        WHERE NOT l.voided AND l.month <= as_of
        GROUP BY 1, 2, 3, 4
    ), months AS (
        SELECT to_char(g, 'YYYY-MM') AS m
        FROM generate_series((SELECT min(month) FROM ev), date_trunc('month', as_of::timestamp),
                             interval '1 month') g
    ), sources AS (SELECT DISTINCT source FROM ev)
    SELECT 'quality.events', ARRAY[source], ARRAY[to_char(month, 'YYYY-MM')], participant, source,
           events::numeric, NULL::numeric, events <> 0
    FROM ev
    UNION ALL
    SELECT 'quality.events', ARRAY[s.source], ARRAY[m.m], NULL, s.source, 0, NULL, false
    FROM sources s CROSS JOIN months m
    UNION ALL
    SELECT 'quality.types', ARRAY[source], ARRAY[event_type], participant, source, events, NULL,
           events <> 0
    FROM ev
    UNION ALL
    SELECT 'quality.types', ARRAY[s.source], ARRAY[t], NULL, s.source, 0, NULL, false
    FROM sources s CROSS JOIN unnest(ARRAY['enrolment', 'contact', 'crisis', 'goal_change',
                                           'police_call', 'correction']) t
    $$;

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

-- Keeps a cell unless its category is a month (YYYY-MM) outside the period.
CREATE FUNCTION koers.dash_in_period(category text, period_from date, period_to date) RETURNS boolean
    LANGUAGE sql IMMUTABLE
    AS $$
    SELECT category !~ '^\d{4}-\d{2}$'
        OR ((period_from IS NULL OR to_date(category, 'YYYY-MM') >= date_trunc('month', period_from))
            AND (period_to IS NULL OR to_date(category, 'YYYY-MM') <= period_to))
    $$;

CREATE FUNCTION dash.whoami()
    RETURNS TABLE (user_name text, role text, organisation text, suppressed_below integer,
                   as_of date)
    LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    c koers.dash_caller_row := koers.dash_caller();
BEGIN
    RETURN QUERY SELECT c.user_name, c.role, c.organisation,
                        CASE WHEN c.suppress THEN koers.min_cell() END, koers.dash_as_of(c, NULL);
END
$$;
COMMENT ON FUNCTION dash.whoami() IS
    'The caller: user, role, organisation (partners), k when small cells are suppressed for '
    'them (else NULL), and the default as-of date.';

CREATE FUNCTION dash.filters()
    RETURNS TABLE (name text, value text)
    LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    c koers.dash_caller_row := koers.dash_require(ARRAY['evaluator', 'funder', 'partner', 'admin']);
BEGIN
    RETURN QUERY
        SELECT 'cohort', x FROM (SELECT DISTINCT p.cohort AS x FROM koers.participant p
                                 WHERE p.cohort IS NOT NULL ORDER BY 1) a
        UNION ALL
        SELECT 'organisation', x FROM (SELECT DISTINCT l.source AS x FROM koers.event_lateness l
                                       ORDER BY 1) b
        UNION ALL
        SELECT 'first_month', to_char(min(p.first_enrolled), 'YYYY-MM') FROM koers.participant p
        UNION ALL
        SELECT 'last_month', to_char(koers.dash_as_of(c, NULL), 'YYYY-MM');
END
$$;
COMMENT ON FUNCTION dash.filters() IS 'Choices for the filters: cohorts, organisations (sources), first and last month.';

-- The cells of a group for a filter setting, the period applied, and only the charts of
-- the pages (or the charts) named.
CREATE FUNCTION koers.dash_page(pages text[], grp text, c koers.dash_caller_row, p_cohort text,
                                p_org text, period_from date, period_to date, links text[],
                                extra jsonb)
    RETURNS SETOF koers.dash_cell
    LANGUAGE plpgsql STABLE
    AS $$
DECLARE
    as_of date := koers.dash_as_of(c, period_to);
BEGIN
    PERFORM koers.dash_check_filter(c, p_cohort, p_org, as_of);
    RETURN QUERY
        SELECT x.* FROM koers.dash_cells(grp, c, p_cohort, p_org, as_of, links, extra) x
        WHERE (split_part(x.chart, '.', 1) = ANY (pages) OR x.chart = ANY (pages))
          AND koers.dash_in_period(x.category, period_from, period_to)
        ORDER BY x.chart, x.series, x.category;
END
$$;

CREATE FUNCTION dash.overview(cohort text, organisation text, period_from date, period_to date)
    RETURNS SETOF koers.dash_cell
    LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    c koers.dash_caller_row := koers.dash_require(ARRAY['evaluator', 'funder', 'partner', 'admin']);
BEGIN
    RETURN QUERY SELECT * FROM koers.dash_page(ARRAY['overview'], 'overview', c, cohort, organisation,
        period_from, period_to, ARRAY['overview.goals=overview.goals_set_by'], NULL);
END
$$;
COMMENT ON FUNCTION dash.overview(text, text, date, date) IS
    'Overview page: overview.enrolment (new per month, all = participants), overview.active '
    '(participants enrolled in the month), overview.kpi (enrolled_now, self_set_achieved_share, '
    'mean_t_score), overview.goals (status x domain, corner, all; set = every goal), '
    'overview.goals_set_by.';

-- The relations between the charts of the outcomes group (crisis, cost, support pages):
-- the same quantity in two charts, and costs computed from counts.
CREATE FUNCTION koers.dash_outcomes_links() RETURNS text[]
    LANGUAGE sql IMMUTABLE
    AS $$ SELECT ARRAY['crisis.bd_count=crisis.bd_rate', 'crisis.bd_rate=crisis.trend',
                       'crisis.bd_count=crisis.kind', 'crisis.bd_count=crisis.police_kind',
                       'crisis.bd_count=crisis.police_caller', 'crisis.bd_count=crisis.police_outcome',
                       'cost.total=cost.per_pm', 'support.role=support.mode',
                       'support.role=support.initiated', 'support.mode=support.initiated'] $$;

CREATE FUNCTION koers.dash_outcomes_extra() RETURNS jsonb
    LANGUAGE sql IMMUTABLE
    AS $$
    SELECT jsonb_agg(r) FROM (
        -- Police cost is priced from the police calls; crisis cost from the crisis kinds.
        SELECT jsonb_build_array(jsonb_build_array('cost.total', 'police', per),
                                 jsonb_build_array('crisis.bd_count', 'police_calls', per)) AS r
        FROM unnest(ARRAY['before', 'during']) per
        UNION ALL
        SELECT jsonb_build_array(jsonb_build_array('cost.total', 'crisis', per))
               || (SELECT jsonb_agg(jsonb_build_array('crisis.kind', k::text, per))
                   FROM unnest(enum_range(NULL::koers.crisis_kind)) k)
        FROM unnest(ARRAY['before', 'during']) per
        UNION ALL
        SELECT jsonb_build_array(jsonb_build_array('cost.total', 'support', 'during'))
               || (SELECT jsonb_agg(jsonb_build_array('support.role', k::text, 'during'))
                   FROM unnest(enum_range(NULL::koers.contact_with_role)) k)
        UNION ALL
        -- Key figures of support computed from the contacts by role, mode and initiator.
        SELECT '[["support.kpi", "contacts_per_week", "all"], ["support.role", "all", "during"]]'::jsonb
        UNION ALL
        SELECT '[["support.kpi", "outreach_home_visit_share", "all"], ["support.mode", "outreach", "during"],
                 ["support.mode", "home_visit", "during"], ["support.mode", "all", "during"]]'::jsonb
        UNION ALL
        SELECT '[["support.kpi", "participant_initiated_share", "all"],
                 ["support.initiated", "participant", "during"], ["support.initiated", "all", "during"]]'::jsonb
        UNION ALL
        SELECT '[["support.kpi", "network_expert_share", "all"], ["support.role", "significant_other", "during"],
                 ["support.role", "experience_expert", "during"], ["support.role", "all", "during"]]'::jsonb
    ) x
    $$;

CREATE FUNCTION dash.crisis(cohort text, organisation text, period_from date, period_to date)
    RETURNS SETOF koers.dash_cell
    LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    c koers.dash_caller_row := koers.dash_require(ARRAY['evaluator', 'funder', 'partner', 'admin']);
BEGIN
    RETURN QUERY SELECT * FROM koers.dash_page(ARRAY['crisis'], 'outcomes', c, cohort, organisation,
        period_from, period_to, koers.dash_outcomes_links(), koers.dash_outcomes_extra());
END
$$;
COMMENT ON FUNCTION dash.crisis(text, text, date, date) IS
    'Crisis and police page, before (12 months before the first enrolled day) versus during '
    '(enrolled days): crisis.bd_count, crisis.bd_rate (per person-month), crisis.person_months, '
    'crisis.kind, crisis.police_kind, crisis.police_caller, crisis.police_outcome, and '
    'crisis.trend (rate per month relative to the first enrolled day; -12..-1 before).';

CREATE FUNCTION dash.support(cohort text, organisation text, period_from date, period_to date)
    RETURNS SETOF koers.dash_cell
    LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    c koers.dash_caller_row := koers.dash_require(ARRAY['evaluator', 'funder', 'partner', 'admin']);
BEGIN
    RETURN QUERY SELECT * FROM koers.dash_page(ARRAY['support'], 'outcomes', c, cohort, organisation,
        period_from, period_to, koers.dash_outcomes_links(), koers.dash_outcomes_extra());
END
$$;
COMMENT ON FUNCTION dash.support(text, text, date, date) IS
    'Support intensity page (enrolled time): support.kpi, support.role, support.mode, '
    'support.initiated, support.month (contacts per participant-week), and for partners '
    'support.own_mode (their own organisation''s contacts per month and mode).';

CREATE FUNCTION dash.cost(cohort text, organisation text, period_from date, period_to date)
    RETURNS SETOF koers.dash_cell
    LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    c koers.dash_caller_row := koers.dash_require(ARRAY['evaluator', 'funder', 'partner', 'admin']);
BEGIN
    -- The results are computed from the cells shown, so they disclose nothing more.
    RETURN QUERY
    WITH x AS (
        SELECT * FROM koers.dash_page(ARRAY['cost', 'crisis.person_months'], 'outcomes', c,
            cohort, organisation, period_from, period_to, koers.dash_outcomes_links(),
            koers.dash_outcomes_extra())
    ), v AS (
        SELECT (SELECT value FROM x WHERE chart = 'cost.per_pm' AND series = 'crisis_police' AND category = 'before') AS b,
               (SELECT value FROM x WHERE chart = 'cost.per_pm' AND series = 'crisis_police' AND category = 'during') AS d,
               (SELECT value FROM x WHERE chart = 'crisis.person_months' AND category = 'during') AS pmd,
               (SELECT value FROM x WHERE chart = 'cost.total' AND series = 'support' AND category = 'during') AS s
    ), r AS (
        SELECT round(b - d, 2) AS dpm, round((b - d) * pmd, 2) AS dtot,
               round((b - d) * pmd - s, 2) AS net
        FROM v
    )
    SELECT x.chart, x.series, x.category, x.value, x.suppressed FROM x
    UNION ALL
    SELECT 'cost.result', y.s, 'all', y.val, y.val IS NULL
    FROM r CROSS JOIN LATERAL (VALUES ('difference_per_pm', r.dpm), ('difference_total', r.dtot),
                                      ('net_benefit_total', r.net)) y(s, val);
END
$$;
COMMENT ON FUNCTION dash.cost(text, text, date, date) IS
    'Social cost-benefit page (EUR, current unit costs): cost.total and cost.per_pm (crisis, '
    'police, crisis_police, support; before and during), crisis.person_months, and cost.result '
    '(difference_per_pm = before - during per person-month, difference_total = that x '
    'person-months during, net_benefit_total = difference_total - support cost during).';

CREATE FUNCTION dash.unit_costs()
    RETURNS TABLE (item text, amount_eur numeric, per text, price_year integer, source text,
                   prices text)
    LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    PERFORM koers.dash_require(ARRAY['evaluator', 'funder', 'partner', 'admin']);
    RETURN QUERY
        SELECT u.item, u.amount_eur, u.per, u.price_year, u.source,
               string_agg(m.event_type || ':' || m.kind, ', ' ORDER BY m.event_type, m.kind)
        FROM koers.unit_cost u LEFT JOIN koers.unit_cost_map m ON m.item = u.item
        GROUP BY u.item, u.amount_eur, u.per, u.price_year, u.source
        ORDER BY u.item;
END
$$;
COMMENT ON FUNCTION dash.unit_costs() IS
    'The unit costs in use with year and source, and the event kinds each prices (event_type:kind).';

CREATE FUNCTION dash.quality(cohort text, organisation text, period_from date, period_to date)
    RETURNS SETOF koers.dash_cell
    LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$
#variable_conflict use_variable
DECLARE
    c     koers.dash_caller_row := koers.dash_require(ARRAY['evaluator', 'funder', 'partner', 'admin']);
    as_of date := koers.dash_as_of(c, period_to);
    k     integer := koers.min_cell();
BEGIN
    RETURN QUERY
        SELECT * FROM koers.dash_page(ARRAY['quality'], 'quality', c, cohort, organisation, period_from,
                                      period_to, NULL, NULL);
    -- Lateness (recorded_at - occurred_at, hours) per source: nearest-rank percentiles over
    -- the events not voided of the period; suppressed under k participants (no relations).
    RETURN QUERY
        WITH l AS (
            SELECT l.source, l.participant, l.lateness_min, l.events
            FROM koers.event_lateness l LEFT JOIN koers.participant p ON p.participant = l.participant
            WHERE NOT l.voided AND l.month <= as_of
              AND (cohort IS NULL OR p.cohort = cohort)
              AND (organisation IS NULL OR l.source = organisation)
              AND (period_from IS NULL OR l.month >= date_trunc('month', period_from))
              AND (period_to IS NULL OR l.month <= period_to)
        ), cum AS (
            SELECT source, lateness_min,
                   sum(events) OVER (PARTITION BY source ORDER BY lateness_min) AS upto,
                   sum(events) OVER (PARTITION BY source) AS total
            FROM l
        ), s AS (
            SELECT source, min(lateness_min) FILTER (WHERE upto >= 0.5 * total) AS p50,
                   min(lateness_min) FILTER (WHERE upto >= 0.9 * total) AS p90,
                   max(lateness_min) AS pmax
            FROM cum GROUP BY source
        ), n AS (SELECT source, count(DISTINCT participant) AS n FROM l GROUP BY source)
        SELECT 'quality.lateness', s.source, y.q,
               CASE WHEN c.suppress AND n.n < k THEN NULL ELSE round(y.v / 60.0, 2) END,
               c.suppress AND n.n < k
        FROM s JOIN n USING (source)
        CROSS JOIN LATERAL (VALUES ('p50_hours', s.p50), ('p90_hours', s.p90), ('max_hours', s.pmax)) y(q, v)
        ORDER BY 2, 3;
    -- Messages the consumer rejected: no participant is known, so nothing to suppress.
    RETURN QUERY
        SELECT 'quality.rejected', r.reason, to_char(r.month, 'YYYY-MM'), sum(r.messages)::numeric, false
        FROM koers.data_quality_rejected r
        WHERE koers.dash_in_period(to_char(r.month, 'YYYY-MM'), period_from, period_to)
        GROUP BY r.reason, r.month ORDER BY 2, 3;
END
$$;
COMMENT ON FUNCTION dash.quality(text, text, date, date) IS
    'Data quality page: quality.events (stored events per source and month), quality.types '
    '(per source and event type), quality.lateness (p50, p90, max hours per source) and '
    'quality.rejected (messages per reason and month).';

------------------------------------------------------------------------------------------
-- Micro-data, for evaluators only; every call is written to koers.dash_audit.
------------------------------------------------------------------------------------------

-- Checks the purpose an audit row records: 'page' (shown) or 'export' (downloaded).
CREATE FUNCTION koers.dash_audit_action(purpose text) RETURNS text
    LANGUAGE plpgsql IMMUTABLE
    AS $$
BEGIN
    IF purpose = 'page' THEN
        RETURN 'view';
    ELSIF purpose = 'export' THEN
        RETURN 'export';
    END IF;
    RAISE EXCEPTION 'purpose must be page or export' USING ERRCODE = 'invalid_parameter_value';
END
$$;

-- The participants of a filter setting, in lane order (first enrolled day, pseudonym).
CREATE FUNCTION koers.dash_lanes(p_cohort text, p_org text, as_of date)
    RETURNS TABLE (lane integer, participant text, cohort text, first_enrolled date)
    LANGUAGE sql STABLE
    AS $$
    SELECT (row_number() OVER (ORDER BY e.first_enrolled, e.participant))::integer,
           e.participant, e.cohort, e.first_enrolled
    FROM koers.exposure(as_of) e
    WHERE (p_cohort IS NULL OR e.cohort = p_cohort)
      AND (p_org IS NULL OR EXISTS (SELECT 1 FROM koers.event_lateness l
                                    WHERE l.participant = e.participant AND l.source = p_org
                                      AND NOT l.voided AND l.event_type <> 'correction'))
    $$;

CREATE FUNCTION dash.timeline(cohort text, organisation text, period_from date, period_to date,
                              lane_offset integer, lane_limit integer, purpose text)
    RETURNS TABLE (lane integer, participant text, cohort_name text, item text, detail text,
                   start_day date, end_day date, events integer, days integer)
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$
#variable_conflict use_variable
DECLARE
    c      koers.dash_caller_row := koers.dash_require(ARRAY['evaluator']);
    as_of  date := koers.dash_as_of(c, period_to);
    action text := koers.dash_audit_action(purpose);
    lo     date := coalesce(date_trunc('month', period_from)::date, '-infinity');
    hi     date := least(as_of, coalesce(period_to + interval '1 month' - interval '1 day', as_of)::date);
    shown  integer;
BEGIN
    IF lane_offset IS NULL OR lane_offset < 0 OR lane_limit IS NULL OR lane_limit NOT BETWEEN 1 AND 500 THEN
        RAISE EXCEPTION 'lane_offset must be >= 0 and lane_limit 1..500' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    CREATE TEMP TABLE IF NOT EXISTS dash_timeline_lanes (lane integer, participant text, cohort text,
                                                        first_enrolled date) ON COMMIT DROP;
    TRUNCATE dash_timeline_lanes;
    INSERT INTO dash_timeline_lanes
        SELECT * FROM koers.dash_lanes(cohort, organisation, as_of) l
        ORDER BY l.lane OFFSET lane_offset LIMIT lane_limit;
    GET DIAGNOSTICS shown = ROW_COUNT;
    PERFORM koers.dash_audit_write(c, action, 'timeline', jsonb_build_object(
        'cohort', cohort, 'organisation', organisation, 'period_from', period_from,
        'period_to', period_to, 'lane_offset', lane_offset, 'participants', shown));
    RETURN QUERY
        -- Enrolled spans (end_day exclusive; an open span runs to the as-of date).
        SELECT l.lane, l.participant, l.cohort, 'enrolled'::text, s.started_by::text || '-' || coalesce(s.ended_by::text, 'open'),
               greatest(s.start_day, lo), least(coalesce(s.end_day, as_of + 1), hi + 1), NULL::integer, NULL::integer
        FROM dash_timeline_lanes l JOIN koers.enrolment_span s ON s.participant = l.participant
        WHERE s.start_day <= hi AND coalesce(s.end_day, as_of + 1) > lo
        UNION ALL
        -- Goal changes (set, achieved, revised, abandoned, reopened, progress, setback).
        SELECT l.lane, l.participant, l.cohort, 'goal_' || h.change::text, h.domain::text || ':' || h.goal_ref,
               koers.local_day(h.valid_from), NULL, 1, NULL
        FROM dash_timeline_lanes l JOIN koers.goal_history h ON h.participant = l.participant
        WHERE koers.local_day(h.valid_from) BETWEEN lo AND hi
        UNION ALL
        -- Contacts per week (Monday), crises and police calls per day.
        SELECT l.lane, l.participant, l.cohort, 'contact', NULL, date_trunc('week', d.day)::date, NULL,
               sum(d.events)::integer, sum(d.minutes)::integer
        FROM dash_timeline_lanes l JOIN koers.daily_use d ON d.participant = l.participant
        WHERE d.event_type = 'contact' AND d.day BETWEEN lo AND hi
          AND (organisation IS NULL OR d.source = organisation)
        GROUP BY 1, 2, 3, 6
        UNION ALL
        SELECT l.lane, l.participant, l.cohort, d.event_type, d.kind,
               CASE WHEN d.event_type = 'crisis' AND d.days > 0 THEN d.day - d.days ELSE d.day END, d.day,
               d.events, d.days
        FROM dash_timeline_lanes l JOIN koers.daily_use d ON d.participant = l.participant
        WHERE d.event_type IN ('crisis', 'police_call') AND d.day BETWEEN lo AND hi
          AND (organisation IS NULL OR d.source = organisation)
        ORDER BY 1, 6, 4;
END
$$;
COMMENT ON FUNCTION dash.timeline(text, text, date, date, integer, integer, text) IS
    'Evaluators: one lane per participant (lane_offset, lane_limit in first-enrolled order) with '
    'items enrolled (spans), goal_<change>, contact (per week: events, minutes), crisis (start_day '
    '= discharge - days) and police_call. Audited: purpose page or export.';

CREATE FUNCTION dash.timeline_lanes(cohort text, organisation text, period_to date)
    RETURNS integer
    LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    c koers.dash_caller_row := koers.dash_require(ARRAY['evaluator']);
BEGIN
    RETURN (SELECT count(*) FROM koers.dash_lanes(cohort, organisation, koers.dash_as_of(c, period_to)));
END
$$;
COMMENT ON FUNCTION dash.timeline_lanes(text, text, date) IS 'Evaluators: the number of lanes of dash.timeline.';

CREATE FUNCTION dash.participants(cohort text, organisation text, period_to date, purpose text)
    RETURNS TABLE (participant text, cohort_name text, first_enrolled date,
                   person_months_before numeric, person_months_during numeric,
                   crisis_before integer, crisis_during integer, crisis_days_before integer,
                   crisis_days_during integer, police_before integer, police_during integer,
                   confused_before integer, confused_during integer, goals integer,
                   goals_achieved integer, goals_revised integer, goals_abandoned integer,
                   t_score numeric, contacts_per_week numeric, cost_before_per_pm numeric,
                   cost_during_per_pm numeric, support_cost_during numeric)
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$
#variable_conflict use_variable
DECLARE
    c      koers.dash_caller_row := koers.dash_require(ARRAY['evaluator']);
    as_of  date := koers.dash_as_of(c, period_to);
    action text := koers.dash_audit_action(purpose);
BEGIN
    PERFORM koers.dash_audit_write(c, action, 'participants', jsonb_build_object(
        'cohort', cohort, 'organisation', organisation, 'period_to', period_to));
    RETURN QUERY
        WITH l AS (SELECT * FROM koers.dash_lanes(cohort, organisation, as_of)),
        g AS (
            SELECT gs.participant, count(*)::integer AS n,
                   count(*) FILTER (WHERE gs.status = 'achieved')::integer AS a,
                   count(*) FILTER (WHERE gs.status = 'revised')::integer AS r,
                   count(*) FILTER (WHERE gs.status = 'abandoned')::integer AS ab
            FROM koers.goal_status_at(as_of) gs GROUP BY gs.participant
        )
        SELECT l.participant, l.cohort, l.first_enrolled, b.person_months_before,
               b.person_months_during, b.crisis_before, b.crisis_during, b.crisis_days_before,
               b.crisis_days_during, b.police_before, b.police_during, b.confused_before,
               b.confused_during, coalesce(g.n, 0), coalesce(g.a, 0), coalesce(g.r, 0),
               coalesce(g.ab, 0), t.t_score, si.contacts_per_week, cb.cost_before_per_pm,
               cb.cost_during_per_pm, cb.support_cost_during
        FROM l
        JOIN koers.before_during(as_of) b ON b.participant = l.participant
        LEFT JOIN g ON g.participant = l.participant
        LEFT JOIN koers.gas_tscore(as_of) t ON t.participant = l.participant
        LEFT JOIN koers.support_intensity(as_of) si ON si.participant = l.participant
        LEFT JOIN koers.cost_benefit(as_of) cb ON cb.participant = l.participant
        ORDER BY l.lane;
END
$$;
COMMENT ON FUNCTION dash.participants(text, text, date, text) IS
    'Evaluators: the measures per participant (for R or SPSS). Audited: purpose page or export.';

------------------------------------------------------------------------------------------
-- Administration: users and the audit trail (read only; users are managed by koers-dash user).
------------------------------------------------------------------------------------------

CREATE FUNCTION dash.users()
    RETURNS TABLE (name text, role text, organisation text, created_at timestamptz,
                   last_login_at timestamptz, disabled boolean, sessions integer)
    LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    PERFORM koers.dash_require(ARRAY['admin']);
    RETURN QUERY
        SELECT u.name, u.role, u.organisation, u.created_at, u.last_login_at, u.disabled,
               (SELECT count(*)::integer FROM koers.dash_session s
                WHERE s.user_name = u.name AND s.expires_at > now())
        FROM koers.dash_user u ORDER BY u.name;
END
$$;
COMMENT ON FUNCTION dash.users() IS 'Admins: the dashboard users (no password hashes) and their live sessions.';

CREATE FUNCTION dash.audit_log(max_rows integer)
    RETURNS TABLE (id bigint, at timestamptz, user_name text, role text, organisation text,
                   action text, resource text, detail jsonb, client text)
    LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    PERFORM koers.dash_require(ARRAY['admin']);
    RETURN QUERY
        SELECT a.id, a.at, a.user_name, a.role, a.organisation, a.action, a.resource, a.detail, a.client
        FROM koers.dash_audit a ORDER BY a.id DESC LIMIT least(greatest(coalesce(max_rows, 200), 1), 10000);
END
$$;
COMMENT ON FUNCTION dash.audit_log(integer) IS 'Admins: the latest entries of the audit trail.';

------------------------------------------------------------------------------------------
-- Login and sessions: for koers_dash only. The password is checked by koers-dash
-- (crypto_pwhash_str_verify); the database keeps the hash and the sessions.
------------------------------------------------------------------------------------------

CREATE FUNCTION dash.auth_user(user_name text)
    RETURNS TABLE (password_hash text, role text, organisation text, db_role text)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT u.password_hash, u.role, u.organisation, u.db_role::text
    FROM koers.dash_user u WHERE u.name = $1 AND NOT u.disabled
    $$;
COMMENT ON FUNCTION dash.auth_user(text) IS
    'koers-dash: the password hash and role of an enabled user, to check a login.';

CREATE FUNCTION dash.auth_session_create(user_name text, token_hash bytea, ttl_seconds integer,
                                         idle_seconds integer, client text) RETURNS void
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$
#variable_conflict use_variable
DECLARE
    u koers.dash_user;
BEGIN
    SELECT * INTO u FROM koers.dash_user d WHERE d.name = user_name AND NOT d.disabled;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no such user' USING ERRCODE = 'invalid_authorization_specification';
    END IF;
    IF ttl_seconds NOT BETWEEN 60 AND 86400 OR idle_seconds NOT BETWEEN 60 AND ttl_seconds THEN
        RAISE EXCEPTION 'session lifetimes out of range' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    DELETE FROM koers.dash_session s WHERE s.expires_at < now() - interval '1 day';
    INSERT INTO koers.dash_session (token_hash, user_name, expires_at, idle_seconds)
    VALUES (token_hash, user_name, now() + make_interval(secs => ttl_seconds), idle_seconds);
    UPDATE koers.dash_user d SET last_login_at = now() WHERE d.name = user_name;
    INSERT INTO koers.dash_audit (user_name, role, organisation, action, resource, client)
    VALUES (u.name, u.role, u.organisation, 'login', 'session', client);
END
$$;
COMMENT ON FUNCTION dash.auth_session_create(text, bytea, integer, integer, text) IS
    'koers-dash, after a password checked: stores the session (SHA-256 of its token) and audits the login.';

CREATE FUNCTION dash.auth_session(token_hash bytea)
    RETURNS TABLE (user_name text, role text, organisation text, db_role text, expires_at timestamptz)
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$
#variable_conflict use_variable
BEGIN
    RETURN QUERY
        UPDATE koers.dash_session s SET last_seen_at = now()
        FROM koers.dash_user u
        WHERE s.token_hash = token_hash AND u.name = s.user_name AND NOT u.disabled
          AND s.expires_at > now() AND s.last_seen_at + make_interval(secs => s.idle_seconds) > now()
        RETURNING u.name, u.role, u.organisation, u.db_role::text, s.expires_at;
END
$$;
COMMENT ON FUNCTION dash.auth_session(bytea) IS
    'koers-dash: the user of a live session (none when expired, idle too long or disabled); '
    'marks it used now.';

CREATE FUNCTION dash.auth_session_end(token_hash bytea, client text) RETURNS void
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$
#variable_conflict use_variable
DECLARE
    u koers.dash_user;
BEGIN
    SELECT d.* INTO u FROM koers.dash_session s JOIN koers.dash_user d ON d.name = s.user_name
    WHERE s.token_hash = token_hash;
    IF FOUND THEN
        DELETE FROM koers.dash_session s WHERE s.token_hash = token_hash;
        INSERT INTO koers.dash_audit (user_name, role, organisation, action, resource, client)
        VALUES (u.name, u.role, u.organisation, 'logout', 'session', client);
    END IF;
END
$$;

CREATE FUNCTION dash.auth_failed(user_name text, client text) RETURNS void
    LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$
    INSERT INTO koers.dash_audit (user_name, action, resource, client)
    VALUES (left($1, 64), 'login_failed', 'session', $2)
    $$;

------------------------------------------------------------------------------------------
-- For /metrics (koers-dash itself, no user): totals only, nothing per participant.
------------------------------------------------------------------------------------------

CREATE FUNCTION dash.metrics()
    RETURNS TABLE (metric text, l1 text, l2 text, l3 text, value numeric)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT 'koers_events_stored_total', t, NULL, NULL,
           coalesce((SELECT sum(c.events) FROM koers.event_count_month c WHERE c.event_type = t), 0)::numeric
    FROM unnest(ARRAY['enrolment', 'contact', 'crisis', 'goal_change', 'police_call', 'correction']) t
    UNION ALL
    SELECT 'koers_events_rejected_total', r.topic, NULL, NULL, count(*)::numeric
    FROM koers.rejected_events r GROUP BY r.topic
    UNION ALL
    SELECT 'koers_consumer_next_offset', o.group_id, o.topic, o.partition::text, o.next_offset::numeric
    FROM koers.consumer_offset o
    UNION ALL
    SELECT 'koers_dash_sessions_live', NULL, NULL, NULL, count(*)::numeric
    FROM koers.dash_session s WHERE s.expires_at > now()
    $$;
COMMENT ON FUNCTION dash.metrics() IS
    'koers-dash /metrics: events stored per type, rejects per topic, consumer offsets per '
    'partition, live sessions.';

------------------------------------------------------------------------------------------
-- Ownership and grants.
------------------------------------------------------------------------------------------

GRANT USAGE ON SCHEMA koers TO koers_reader, koers_auth, koers_dash;
-- Schema usage lets koers_dash name koers.dash_audit; it may call none of the functions.
REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA koers FROM PUBLIC;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA koers TO koers_reader, koers_auth;
GRANT SELECT ON koers.participant, koers.enrolment_span, koers.daily_use,
    koers.participant_month_count, koers.goal_history, koers.event_lateness, koers.unit_cost,
    koers.unit_cost_map, koers.setting, koers.rejected_events, koers.dash_organisation,
    koers.dash_user, koers.dash_session TO koers_reader;
GRANT SELECT ON koers.data_quality_rejected, koers.cost_assumptions, koers.event_count_month,
    koers.consumer_offset TO koers_reader;
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
REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA dash FROM PUBLIC;

DO $$
DECLARE
    f record;
BEGIN
    FOR f IN SELECT p.oid::regprocedure AS sig, p.proname
             FROM pg_proc p WHERE p.pronamespace = 'dash'::regnamespace LOOP
        EXECUTE format('ALTER FUNCTION %s OWNER TO %I', f.sig,
                       CASE WHEN f.proname LIKE 'auth\_%' THEN 'koers_auth' ELSE 'koers_reader' END);
        EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO %s', f.sig,
                       CASE WHEN f.proname LIKE 'auth\_%' OR f.proname = 'metrics' THEN 'koers_dash'
                            WHEN f.proname IN ('timeline', 'timeline_lanes', 'participants') THEN 'koers_evaluator'
                            WHEN f.proname IN ('users', 'audit_log') THEN 'koers_admin'
                            ELSE 'koers_evaluator, koers_funder, koers_partner, koers_admin' END);
    END LOOP;
END
$$;
