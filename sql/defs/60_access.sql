-- koers definitions, access: who is calling (dashboard role and organisation), the checks
-- every dash function starts with, the audit trail's writer, the dashboards' users and sessions
-- and /metrics.

-- Made by `koers-dash user add --role partner --organisation ORG` (run as a role that may
-- create roles). The organisation's role is a member of koers_partner, and koers_dash may
-- SET ROLE to it.
CREATE OR REPLACE FUNCTION koers.dash_partner_role(org text) RETURNS name
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
COMMENT ON FUNCTION koers.dash_partner_role(text) IS
    'Creates (if missing) the role koers_partner_<org>, member of koers_partner, that koers_dash '
    'may SET ROLE to; records it in koers.dash_organisation. Returns the role name.';

-- koers-dash sets koers.dash_session to the hex SHA-256 of the caller's session token and
-- SETs ROLE to the user's database role: the session must be live, and the role must be
-- the user's own, or nothing is returned. Without that setting (a direct login, e.g.
-- Grafana's), the login role's memberships decide, most restrictive first (partner, funder,
-- evaluator, admin); a role that is none of these reads nothing. A superuser counts as admin;
-- koers_dash itself, without a session, reads nothing.
CREATE OR REPLACE FUNCTION koers.dash_caller() RETURNS koers.dash_caller_row
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

CREATE OR REPLACE FUNCTION koers.dash_require(allowed text[]) RETURNS koers.dash_caller_row
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

CREATE OR REPLACE FUNCTION koers.dash_audit_write(c koers.dash_caller_row, action text, resource text,
                                       detail jsonb) RETURNS void
    LANGUAGE sql
    AS $$
    INSERT INTO koers.dash_audit (user_name, role, organisation, action, resource, detail, client)
    VALUES (c.user_name, c.role, c.organisation, action, resource, detail,
            nullif(current_setting('koers.dash_client', true), ''))
    $$;

CREATE OR REPLACE FUNCTION dash.whoami()
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

------------------------------------------------------------------------------------------
-- Micro-data, for evaluators only; every call is written to koers.dash_audit.
------------------------------------------------------------------------------------------

-- Checks the purpose an audit row records: 'page' (shown) or 'export' (downloaded).
CREATE OR REPLACE FUNCTION koers.dash_audit_action(purpose text) RETURNS text
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

------------------------------------------------------------------------------------------
-- Administration: users and the audit trail (read only; users are managed by koers-dash user).
------------------------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION dash.users()
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

CREATE OR REPLACE FUNCTION dash.audit_log(max_rows integer)
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

CREATE OR REPLACE FUNCTION dash.auth_user(user_name text)
    RETURNS TABLE (password_hash text, role text, organisation text, db_role text)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT u.password_hash, u.role, u.organisation, u.db_role::text
    FROM koers.dash_user u WHERE u.name = $1 AND NOT u.disabled
    $$;
COMMENT ON FUNCTION dash.auth_user(text) IS
    'koers-dash: the password hash and role of an enabled user, to check a login.';

CREATE OR REPLACE FUNCTION dash.auth_session_create(user_name text, token_hash bytea, ttl_seconds integer,
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

CREATE OR REPLACE FUNCTION dash.auth_session(token_hash bytea)
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

CREATE OR REPLACE FUNCTION dash.auth_session_end(token_hash bytea, client text) RETURNS void
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

CREATE OR REPLACE FUNCTION dash.auth_failed(user_name text, client text) RETURNS void
    LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$
    INSERT INTO koers.dash_audit (user_name, action, resource, client)
    VALUES (left($1, 64), 'login_failed', 'session', $2)
    $$;

------------------------------------------------------------------------------------------
-- For /metrics (koers-dash itself, no user): totals only, nothing per participant.
------------------------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION dash.metrics()
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
