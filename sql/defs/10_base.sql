-- koers definitions, base: the programme's calendar (time zone, local days and months), the
-- event catalogue's groupings (acute crisis vs stay alternatives, police use vs victim, a
-- goal's stability corner, GAS scores of a change) and the valid events (voided ones left out).
-- The prepared tables are built by these rules, so a change here rebuilds them.
-- koers-defs: rebuild

-- The programme's time zone: calendar periods (day, week, month) are taken in it.
CREATE OR REPLACE FUNCTION koers.time_zone() RETURNS text
    LANGUAGE sql STABLE
    AS $$ SELECT value FROM koers.setting WHERE name = 'time_zone' $$;

CREATE OR REPLACE FUNCTION koers.local_month(ts timestamptz) RETURNS date
    LANGUAGE sql STABLE
    AS $$ SELECT date_trunc('month', ts AT TIME ZONE koers.time_zone())::date $$;

------------------------------------------------------------------------------------------
-- Shared definitions: local days, person-months, stability corners.
------------------------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION koers.local_day(ts timestamptz) RETURNS date
    LANGUAGE sql STABLE
    AS $$ SELECT (ts AT TIME ZONE koers.time_zone())::date $$;
COMMENT ON FUNCTION koers.local_day(timestamptz) IS
    'The calendar day, in the programme''s time zone, that an instant falls on.';

CREATE OR REPLACE FUNCTION koers.day_start(d date) RETURNS timestamptz
    LANGUAGE sql STABLE
    AS $$ SELECT d::timestamp AT TIME ZONE koers.time_zone() $$;
COMMENT ON FUNCTION koers.day_start(date) IS
    'The instant a local calendar day starts (midnight in the programme''s time zone).';

CREATE OR REPLACE FUNCTION koers.today() RETURNS date
    LANGUAGE sql STABLE
    AS $$ SELECT koers.local_day(now()) $$;
COMMENT ON FUNCTION koers.today() IS 'Today in the programme''s time zone: the default as-of date.';

CREATE OR REPLACE FUNCTION koers.person_month_days() RETURNS numeric
    LANGUAGE sql IMMUTABLE
    AS $$ SELECT 30.4375 $$;
COMMENT ON FUNCTION koers.person_month_days() IS 'Days in a person-month: 30.4375 (365.25 / 12).';

CREATE OR REPLACE FUNCTION koers.stability_corner(d koers.goal_change_domain) RETURNS text
    LANGUAGE sql IMMUTABLE
    AS $$
    SELECT CASE
        WHEN d IN ('daytime_activity', 'work', 'social_contact', 'family', 'pet', 'leisure')
            THEN 'participation'
        WHEN d IN ('housing', 'finances', 'safety_justice', 'self_care')
            THEN 'living_environment'
        WHEN d IN ('physical_health', 'mental_health', 'addiction')
            THEN 'continuity_of_support'
        ELSE 'unclassified'
    END $$;
COMMENT ON FUNCTION koers.stability_corner(koers.goal_change_domain) IS
    'The stability-model corner of a goal domain: participation, living_environment, '
    'continuity_of_support, or unclassified (domain other).';

CREATE OR REPLACE FUNCTION koers.min_cell() RETURNS integer
    LANGUAGE sql STABLE
    AS $$ SELECT greatest(coalesce((SELECT value::integer FROM koers.setting WHERE name = 'min_cell'), 5), 1) $$;
COMMENT ON FUNCTION koers.min_cell() IS
    'k of small-cell suppression: a figure drawn from fewer than k distinct participants is not '
    'shown to funders and partners (koers.setting min_cell, default 5).';

------------------------------------------------------------------------------------------
-- Groups of kinds.
------------------------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION koers.crisis_group(k koers.crisis_kind) RETURNS text
    LANGUAGE sql IMMUTABLE
    AS $$ SELECT CASE WHEN k IN ('respite_stay', 'shelter_night') THEN 'alternative' ELSE 'acute' END $$;
COMMENT ON FUNCTION koers.crisis_group(koers.crisis_kind) IS
    'acute (crisis_contact, emergency_department, crisis_admission, compulsory_care) or '
    'alternative (respite_stay, shelter_night): always separate measures.';

CREATE OR REPLACE FUNCTION koers.police_group(k koers.police_call_kind) RETURNS text
    LANGUAGE sql IMMUTABLE
    AS $$ SELECT CASE WHEN k = 'victim' THEN 'victim' ELSE 'use' END $$;
COMMENT ON FUNCTION koers.police_group(koers.police_call_kind) IS
    'use (the participant is the subject of the call) or victim (the call is for them): victim '
    'calls are their own measure and are never priced.';

CREATE OR REPLACE FUNCTION koers.gas_include_abandoned() RETURNS boolean
    LANGUAGE sql STABLE
    AS $$ SELECT coalesce((SELECT value::boolean FROM koers.setting
                           WHERE name = 'gas_include_abandoned'), true) $$;

-- The score of each goal change: the gas given, or 0 for an achieved without one.
CREATE OR REPLACE FUNCTION koers.gas_of_change(change koers.goal_change_change, gas integer) RETURNS integer
    LANGUAGE sql IMMUTABLE
    AS $$ SELECT coalesce(gas, CASE WHEN change = 'achieved' THEN 0 END) $$;

CREATE OR REPLACE VIEW koers.enrolment_valid AS
    SELECT e.* FROM koers.enrolment e
    WHERE NOT EXISTS (SELECT 1 FROM koers.correction c WHERE c.target_event_id = e.event_id);
COMMENT ON VIEW koers.enrolment_valid IS 'Enrolment events that no correction voided (refresh input).';
CREATE OR REPLACE VIEW koers.contact_valid AS
    SELECT e.* FROM koers.contact e
    WHERE NOT EXISTS (SELECT 1 FROM koers.correction c WHERE c.target_event_id = e.event_id);
COMMENT ON VIEW koers.contact_valid IS 'Contact events that no correction voided (refresh input).';
CREATE OR REPLACE VIEW koers.goal_change_valid AS
    SELECT e.* FROM koers.goal_change e
    WHERE NOT EXISTS (SELECT 1 FROM koers.correction c WHERE c.target_event_id = e.event_id);
COMMENT ON VIEW koers.goal_change_valid IS 'Goal changes that no correction voided (refresh input).';
CREATE OR REPLACE VIEW koers.police_call_valid AS
    SELECT e.* FROM koers.police_call e
    WHERE NOT EXISTS (SELECT 1 FROM koers.correction c WHERE c.target_event_id = e.event_id);
COMMENT ON VIEW koers.police_call_valid IS 'Police calls that no correction voided (refresh input).';

CREATE OR REPLACE VIEW koers.coverage_valid AS
    SELECT * FROM koers.coverage e
    WHERE NOT EXISTS (SELECT 1 FROM koers.correction c WHERE c.target_event_id = e.event_id);
COMMENT ON VIEW koers.coverage_valid IS 'Coverage statements that no correction voided.';

-- crisis_valid was made with the columns crisis had then; episode_ref came later.
CREATE OR REPLACE VIEW koers.crisis_valid AS
    SELECT e.* FROM koers.crisis e
    WHERE NOT EXISTS (SELECT 1 FROM koers.correction c WHERE c.target_event_id = e.event_id);
COMMENT ON VIEW koers.crisis_valid IS 'Crisis events that no correction voided (refresh input).';
