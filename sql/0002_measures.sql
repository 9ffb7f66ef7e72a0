-- koers measures: prepared per-participant tables kept current by the consumer's one hook,
-- koers.refresh_participants(text[]), and the public SQL interface of the seven measures.
-- Readers (the views and functions below) read only the prepared tables, koers.unit_cost,
-- koers.unit_cost_map, koers.setting and koers.rejected_events; never the raw event tables.
-- docs/measures.md is the page for people; every public column has a COMMENT here too.

------------------------------------------------------------------------------------------
-- Shared definitions: local days, person-months, stability corners.
------------------------------------------------------------------------------------------

CREATE FUNCTION koers.local_day(ts timestamptz) RETURNS date
    LANGUAGE sql STABLE
    AS $$ SELECT (ts AT TIME ZONE koers.time_zone())::date $$;
COMMENT ON FUNCTION koers.local_day(timestamptz) IS
    'The calendar day, in the programme''s time zone, that an instant falls on.';

CREATE FUNCTION koers.day_start(d date) RETURNS timestamptz
    LANGUAGE sql STABLE
    AS $$ SELECT d::timestamp AT TIME ZONE koers.time_zone() $$;
COMMENT ON FUNCTION koers.day_start(date) IS
    'The instant a local calendar day starts (midnight in the programme''s time zone).';

CREATE FUNCTION koers.today() RETURNS date
    LANGUAGE sql STABLE
    AS $$ SELECT koers.local_day(now()) $$;
COMMENT ON FUNCTION koers.today() IS 'Today in the programme''s time zone: the default as-of date.';

CREATE FUNCTION koers.person_month_days() RETURNS numeric
    LANGUAGE sql IMMUTABLE
    AS $$ SELECT 30.4375 $$;
COMMENT ON FUNCTION koers.person_month_days() IS 'Days in a person-month: 30.4375 (365.25 / 12).';

CREATE FUNCTION koers.stability_corner(d koers.goal_change_domain) RETURNS text
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

------------------------------------------------------------------------------------------
-- Valid events: the raw tables less every voided event. Used only by the refresh.
------------------------------------------------------------------------------------------

CREATE INDEX correction_participant_idx ON koers.correction (participant);

CREATE VIEW koers.enrolment_valid AS
    SELECT e.* FROM koers.enrolment e
    WHERE NOT EXISTS (SELECT 1 FROM koers.correction c WHERE c.target_event_id = e.event_id);
CREATE VIEW koers.contact_valid AS
    SELECT e.* FROM koers.contact e
    WHERE NOT EXISTS (SELECT 1 FROM koers.correction c WHERE c.target_event_id = e.event_id);
CREATE VIEW koers.crisis_valid AS
    SELECT e.* FROM koers.crisis e
    WHERE NOT EXISTS (SELECT 1 FROM koers.correction c WHERE c.target_event_id = e.event_id);
CREATE VIEW koers.goal_change_valid AS
    SELECT e.* FROM koers.goal_change e
    WHERE NOT EXISTS (SELECT 1 FROM koers.correction c WHERE c.target_event_id = e.event_id);
CREATE VIEW koers.police_call_valid AS
    SELECT e.* FROM koers.police_call e
    WHERE NOT EXISTS (SELECT 1 FROM koers.correction c WHERE c.target_event_id = e.event_id);
COMMENT ON VIEW koers.enrolment_valid IS 'Enrolment events that no correction voided (refresh input).';
COMMENT ON VIEW koers.contact_valid IS 'Contact events that no correction voided (refresh input).';
COMMENT ON VIEW koers.crisis_valid IS 'Crisis events that no correction voided (refresh input).';
COMMENT ON VIEW koers.goal_change_valid IS 'Goal changes that no correction voided (refresh input).';
COMMENT ON VIEW koers.police_call_valid IS 'Police calls that no correction voided (refresh input).';

------------------------------------------------------------------------------------------
-- Prepared tables: one set of rows per participant, rebuilt by refresh_participants().
------------------------------------------------------------------------------------------

CREATE TABLE koers.participant (
    participant     text PRIMARY KEY,
    cohort          text,
    first_enrolled  date,
    before_start    date,
    first_event_day date NOT NULL,
    last_event_day  date NOT NULL,
    open_since      date,
    last_span_end   date
);
COMMENT ON TABLE koers.participant IS
    'Prepared: one row per participant with any valid event; enrolment landmarks.';
COMMENT ON COLUMN koers.participant.participant IS 'Pseudonym (HMAC-SHA256 of the source''s client id).';
COMMENT ON COLUMN koers.participant.cohort IS 'Cohort named by the event that opened the first enrolled span; NULL if never enrolled.';
COMMENT ON COLUMN koers.participant.first_enrolled IS 'Local day the first enrolled span starts (normally the day of the first enrolled).';
COMMENT ON COLUMN koers.participant.before_start IS 'first_enrolled minus 12 calendar months: first day of the before period.';
COMMENT ON COLUMN koers.participant.first_event_day IS 'Local day of the earliest valid event (corrections excluded).';
COMMENT ON COLUMN koers.participant.last_event_day IS 'Local day of the latest valid event (corrections excluded).';
COMMENT ON COLUMN koers.participant.open_since IS 'Start of the span still open (no paused/exited after it), else NULL.';
COMMENT ON COLUMN koers.participant.last_span_end IS 'Exclusive end day of the latest closed span, else NULL.';

CREATE TABLE koers.enrolment_span (
    participant text NOT NULL,
    span_no     integer NOT NULL,
    cohort      text NOT NULL,
    start_day   date NOT NULL,
    end_day     date,
    started_by  koers.enrolment_change NOT NULL,
    ended_by    koers.enrolment_change,
    PRIMARY KEY (participant, span_no)
);
COMMENT ON TABLE koers.enrolment_span IS
    'Prepared: enrolled spans. enrolled/resumed open a span when none is open, paused/exited '
    'close the open one; other changes are ignored. Days are local; end_day is exclusive.';
COMMENT ON COLUMN koers.enrolment_span.participant IS 'Pseudonym.';
COMMENT ON COLUMN koers.enrolment_span.span_no IS '1, 2, ... in event-time order.';
COMMENT ON COLUMN koers.enrolment_span.cohort IS 'Cohort of the event that opened the span.';
COMMENT ON COLUMN koers.enrolment_span.start_day IS 'Local day of the enrolled/resumed that opened it (included).';
COMMENT ON COLUMN koers.enrolment_span.end_day IS 'Local day of the paused/exited that closed it (excluded); NULL while open.';
COMMENT ON COLUMN koers.enrolment_span.started_by IS 'enrolled or resumed.';
COMMENT ON COLUMN koers.enrolment_span.ended_by IS 'paused or exited; NULL while open.';

CREATE TABLE koers.daily_use (
    participant   text NOT NULL,
    day           date NOT NULL,
    source        text NOT NULL,
    event_type    text NOT NULL,
    kind          text NOT NULL,
    mode          text,
    initiated_by  text,
    caller        text,
    outcome       text,
    events        integer NOT NULL,
    days          integer NOT NULL,
    billable_days integer NOT NULL,
    minutes       integer NOT NULL,
    period        text CHECK (period IN ('before', 'during'))
);
CREATE INDEX daily_use_participant_day_idx ON koers.daily_use (participant, day);
COMMENT ON TABLE koers.daily_use IS
    'Prepared: valid contact, crisis and police events per participant, local day, source and '
    'kind (contacts: kind = with_role, with mode and initiated_by; police: with caller and outcome).';
COMMENT ON COLUMN koers.daily_use.participant IS 'Pseudonym.';
COMMENT ON COLUMN koers.daily_use.day IS 'Local day of occurred_at.';
COMMENT ON COLUMN koers.daily_use.source IS 'Organisation that registered the events.';
COMMENT ON COLUMN koers.daily_use.event_type IS 'contact, crisis or police_call.';
COMMENT ON COLUMN koers.daily_use.kind IS 'crisis/police kind, or a contact''s with_role.';
COMMENT ON COLUMN koers.daily_use.mode IS 'Contact mode (contacts only).';
COMMENT ON COLUMN koers.daily_use.initiated_by IS 'Who started the contact (contacts only).';
COMMENT ON COLUMN koers.daily_use.caller IS 'Police caller (police calls only).';
COMMENT ON COLUMN koers.daily_use.outcome IS 'Police outcome (police calls only).';
COMMENT ON COLUMN koers.daily_use.events IS 'Number of events.';
COMMENT ON COLUMN koers.daily_use.days IS 'Sum of crisis days as reported (0 for others).';
COMMENT ON COLUMN koers.daily_use.billable_days IS 'Sum of greatest(days, 1) over crisis events: a stay reported with 0 days is priced as one day.';
COMMENT ON COLUMN koers.daily_use.minutes IS 'Sum of duration_min (contacts only).';
COMMENT ON COLUMN koers.daily_use.period IS 'before (in the 12 calendar months before the first enrolled day), during (in an enrolled span, an open span running on) or NULL; an as-of date only cuts at day <= as_of.';

CREATE TABLE koers.participant_month_count (
    participant                    text NOT NULL,
    month                          date NOT NULL,
    contacts                       integer NOT NULL,
    contact_minutes                integer NOT NULL,
    outreach_contacts              integer NOT NULL,
    home_visit_contacts            integer NOT NULL,
    participant_initiated_contacts integer NOT NULL,
    significant_other_contacts     integer NOT NULL,
    experience_expert_contacts     integer NOT NULL,
    crisis_events                  integer NOT NULL,
    crisis_contact                 integer NOT NULL,
    crisis_admission               integer NOT NULL,
    emergency_department           integer NOT NULL,
    compulsory_care                integer NOT NULL,
    respite_stay                   integer NOT NULL,
    shelter_night                  integer NOT NULL,
    crisis_days                    integer NOT NULL,
    stay_days                      integer NOT NULL,
    police_calls                   integer NOT NULL,
    police_confused_person         integer NOT NULL,
    police_nuisance                integer NOT NULL,
    police_threat_violence         integer NOT NULL,
    police_welfare_check           integer NOT NULL,
    police_arrest                  integer NOT NULL,
    police_victim                  integer NOT NULL,
    police_other                   integer NOT NULL,
    PRIMARY KEY (participant, month)
);
COMMENT ON TABLE koers.participant_month_count IS
    'Prepared: the event counts of koers.participant_month for months with events '
    '(columns as documented on koers.participant_month).';

CREATE TABLE koers.goal_history (
    participant text NOT NULL,
    goal_ref    text NOT NULL,
    seq         integer NOT NULL,
    valid_from  timestamptz NOT NULL,
    valid_to    timestamptz,
    change      koers.goal_change_change NOT NULL,
    domain      koers.goal_change_domain NOT NULL,
    set_by      koers.goal_change_set_by NOT NULL,
    status      text NOT NULL,
    set_at      timestamptz,
    achieved_at timestamptz,
    revisions   integer NOT NULL,
    latest_gas  integer,
    weight      integer,
    PRIMARY KEY (participant, goal_ref, seq)
);
COMMENT ON TABLE koers.goal_history IS
    'Prepared: the state of each goal after each of its valid changes, in event-time order '
    '(ties: recorded_at, then event_id); the state holds from valid_from up to valid_to.';
COMMENT ON COLUMN koers.goal_history.participant IS 'Pseudonym.';
COMMENT ON COLUMN koers.goal_history.goal_ref IS 'The source''s goal key (one goal per participant and goal_ref).';
COMMENT ON COLUMN koers.goal_history.seq IS '1, 2, ... per goal in event-time order.';
COMMENT ON COLUMN koers.goal_history.valid_from IS 'occurred_at of this change.';
COMMENT ON COLUMN koers.goal_history.valid_to IS 'occurred_at of the next change; NULL for the latest.';
COMMENT ON COLUMN koers.goal_history.change IS 'The change itself.';
COMMENT ON COLUMN koers.goal_history.domain IS 'Domain of the first set (or of the first change when no set yet).';
COMMENT ON COLUMN koers.goal_history.set_by IS 'set_by of the first set (or of the first change when no set yet).';
COMMENT ON COLUMN koers.goal_history.status IS 'open, achieved, revised or abandoned after this change.';
COMMENT ON COLUMN koers.goal_history.set_at IS 'occurred_at of the first set so far.';
COMMENT ON COLUMN koers.goal_history.achieved_at IS 'occurred_at of the achieved that made the status achieved.';
COMMENT ON COLUMN koers.goal_history.revisions IS 'revised changes so far.';
COMMENT ON COLUMN koers.goal_history.latest_gas IS 'Latest gas given so far.';
COMMENT ON COLUMN koers.goal_history.weight IS 'Latest weight given so far (NULL: none given).';

CREATE TABLE koers.event_lateness (
    participant  text NOT NULL,
    source       text NOT NULL,
    event_type   text NOT NULL,
    month        date NOT NULL,
    voided       boolean NOT NULL,
    lateness_min integer NOT NULL,
    events       integer NOT NULL,
    PRIMARY KEY (participant, source, event_type, month, voided, lateness_min)
);
COMMENT ON TABLE koers.event_lateness IS
    'Prepared: stored events (corrections included) per participant, source, type, local month '
    'of occurred_at, voided or not, and lateness floor((recorded_at - occurred_at) in minutes).';

------------------------------------------------------------------------------------------
-- Unit costs (editable) and which event kind is priced with which item.
------------------------------------------------------------------------------------------

CREATE TABLE koers.unit_cost (
    item       text PRIMARY KEY,
    amount_eur numeric(12, 2) NOT NULL CHECK (amount_eur >= 0),
    per        text NOT NULL CHECK (per IN ('event', 'day', 'hour')),
    price_year integer NOT NULL,
    source     text NOT NULL
);
COMMENT ON TABLE koers.unit_cost IS
    'Unit costs for the indicative social cost-benefit; editable (UPDATE amount_eur, price_year '
    'and source together). Amounts are used as they stand, without indexation.';
COMMENT ON COLUMN koers.unit_cost.item IS 'Name of the cost item.';
COMMENT ON COLUMN koers.unit_cost.amount_eur IS 'Price in euros per unit (per).';
COMMENT ON COLUMN koers.unit_cost.per IS 'Unit: event (per event), day (per billable day of a stay), hour (per hour of contact duration).';
COMMENT ON COLUMN koers.unit_cost.price_year IS 'Price level (year) of amount_eur.';
COMMENT ON COLUMN koers.unit_cost.source IS 'Where the figure comes from, or the assumption it rests on.';

CREATE TABLE koers.unit_cost_map (
    event_type text NOT NULL CHECK (event_type IN ('contact', 'crisis', 'police_call')),
    kind       text NOT NULL,
    item       text NOT NULL REFERENCES koers.unit_cost (item) ON UPDATE CASCADE,
    PRIMARY KEY (event_type, kind)
);
COMMENT ON TABLE koers.unit_cost_map IS
    'Which unit cost prices which event: crisis and police events by kind, contacts by '
    'with_role. An event kind without a row here costs nothing (editable).';
COMMENT ON COLUMN koers.unit_cost_map.event_type IS 'contact (support cost), crisis (crisis cost) or police_call (police cost).';
COMMENT ON COLUMN koers.unit_cost_map.kind IS 'crisis or police kind; for contacts the with_role.';
COMMENT ON COLUMN koers.unit_cost_map.item IS 'The koers.unit_cost item that prices it.';

INSERT INTO koers.unit_cost (item, amount_eur, per, price_year, source) VALUES
('emergency_department_visit', 258, 'event', 2022,
 'Zorginstituut Nederland, costing manual for health-economic research (Kostenhandleiding), '
 'reference price emergency department visit, price level 2022, from a public machine-readable '
 'copy: verify against the official tables'),
('ambulance_ride_urgent', 657, 'event', 2022,
 'Zorginstituut Nederland, Kostenhandleiding, reference price urgent ambulance ride, price level '
 '2022, from a public machine-readable copy: verify against the official tables'),
('psychiatric_institution_day', 327, 'day', 2022,
 'Zorginstituut Nederland, Kostenhandleiding, reference price day in a psychiatric institution, '
 'price level 2022, from a public machine-readable copy: verify against the official tables'),
('general_hospital_psychiatric_ward_day', 490, 'day', 2022,
 'Zorginstituut Nederland, Kostenhandleiding, reference price day on a general-hospital '
 'psychiatric ward, price level 2022, from a public machine-readable copy: verify against the '
 'official tables'),
('specialised_mental_health_contact', 134, 'event', 2022,
 'Zorginstituut Nederland, Kostenhandleiding, reference price contact with specialised '
 'mental-health care, price level 2022, from a public machine-readable copy: verify against the '
 'official tables'),
('social_work_contact', 127, 'event', 2022,
 'Zorginstituut Nederland, Kostenhandleiding, reference price social-work contact, price level '
 '2022, from a public machine-readable copy: verify against the official tables'),
('home_support_hour', 64, 'hour', 2022,
 'Zorginstituut Nederland, Kostenhandleiding, reference price home support per hour, price level '
 '2022, from a public machine-readable copy: verify against the official tables'),
('police_confused_person_call', 300, 'event', 2023,
 'ASSUMPTION, no published price: 2 officers x 2 hours x EUR 75 per officer-hour (assumed '
 'all-in hourly rate). Basis: the Ministry of Justice and Security reported about 140,000 calls '
 'about confused persons in 2023, each taking at least two officers for two hours'),
('police_call_other', 300, 'event', 2023,
 'ASSUMPTION, no published price: other police calls priced as a confused-person call '
 '(2 officers x 2 hours x EUR 75 per officer-hour, assumed)'),
('shelter_night', 41, 'day', 2022,
 'ASSUMPTION, indicative: about EUR 15,000 per shelter place a year / 365 = about EUR 41 a night; '
 'price year assumed 2022');

INSERT INTO koers.unit_cost_map (event_type, kind, item) VALUES
('crisis', 'crisis_contact', 'specialised_mental_health_contact'),
('crisis', 'emergency_department', 'emergency_department_visit'),
('crisis', 'crisis_admission', 'psychiatric_institution_day'),
('crisis', 'compulsory_care', 'general_hospital_psychiatric_ward_day'),
('crisis', 'respite_stay', 'shelter_night'),
('crisis', 'shelter_night', 'shelter_night'),
('police_call', 'confused_person', 'police_confused_person_call'),
('police_call', 'nuisance', 'police_call_other'),
('police_call', 'threat_violence', 'police_call_other'),
('police_call', 'welfare_check', 'police_call_other'),
('police_call', 'arrest', 'police_call_other'),
('police_call', 'victim', 'police_call_other'),
('police_call', 'other', 'police_call_other'),
('contact', 'care_worker', 'specialised_mental_health_contact'),
('contact', 'addiction_worker', 'specialised_mental_health_contact'),
('contact', 'neighbourhood_team', 'social_work_contact'),
('contact', 'municipality', 'social_work_contact'),
('contact', 'other', 'social_work_contact'),
('contact', 'experience_expert', 'home_support_hour'),
('contact', 'housing', 'home_support_hour');
-- Not priced: contacts with significant_other (informal), general_practitioner and
-- police_liaison (no figure among the starting points).

------------------------------------------------------------------------------------------
-- The hook: recompute the prepared rows of some participants from the raw tables.
------------------------------------------------------------------------------------------

CREATE FUNCTION koers.refresh_participants(participants text[]) RETURNS integer
    LANGUAGE plpgsql
    AS $fn$
DECLARE
    tz text := koers.time_zone();
    ps text[];
    b  integer;
BEGIN
    -- Also the owners of events that these participants' corrections void, should a
    -- correction name another participant than its target.
    SELECT array_agg(DISTINCT x ORDER BY x) INTO ps FROM (
        SELECT unnest(participants) AS x
        UNION
        SELECT t.participant FROM koers.correction c
        CROSS JOIN LATERAL (
            SELECT participant FROM koers.enrolment WHERE event_id = c.target_event_id
            UNION ALL SELECT participant FROM koers.contact WHERE event_id = c.target_event_id
            UNION ALL SELECT participant FROM koers.crisis WHERE event_id = c.target_event_id
            UNION ALL SELECT participant FROM koers.goal_change WHERE event_id = c.target_event_id
            UNION ALL SELECT participant FROM koers.police_call WHERE event_id = c.target_event_id
        ) t
        WHERE c.participant = ANY (participants)
    ) s WHERE x IS NOT NULL;
    IF ps IS NULL THEN
        RETURN 0;
    END IF;

    -- Consumers on other partitions may store events of the same participant at the same
    -- time: serialise refreshes per bucket of participants (always in the same order, so no
    -- deadlock). After the wait, the next statements (READ COMMITTED) see what the other
    -- transaction committed.
    FOR b IN SELECT DISTINCT abs(hashtext(x) % 64) FROM unnest(ps) AS x ORDER BY 1 LOOP
        PERFORM pg_advisory_xact_lock(7012342, b);
    END LOOP;

    DELETE FROM koers.participant WHERE participant = ANY (ps);
    DELETE FROM koers.enrolment_span WHERE participant = ANY (ps);
    DELETE FROM koers.daily_use WHERE participant = ANY (ps);
    DELETE FROM koers.participant_month_count WHERE participant = ANY (ps);
    DELETE FROM koers.goal_history WHERE participant = ANY (ps);
    DELETE FROM koers.event_lateness WHERE participant = ANY (ps);

    -- Enrolled spans. State after an event is "open" iff it is enrolled/resumed, so spans
    -- start where open follows closed and end at the next closed.
    INSERT INTO koers.enrolment_span
        (participant, span_no, cohort, start_day, end_day, started_by, ended_by)
    WITH ev AS (
        SELECT participant, (occurred_at AT TIME ZONE tz)::date AS day, change, cohort,
               occurred_at, recorded_at, event_id,
               change IN ('enrolled', 'resumed') AS opening
        FROM koers.enrolment_valid WHERE participant = ANY (ps)
    ), m AS (
        SELECT *, coalesce(lag(opening) OVER w, false) AS was_open
        FROM ev WINDOW w AS (PARTITION BY participant ORDER BY occurred_at, recorded_at, event_id)
    ), marks AS (
        SELECT *, lead(day) OVER w AS next_day, lead(change) OVER w AS next_change
        FROM m WHERE opening <> was_open
        WINDOW w AS (PARTITION BY participant ORDER BY occurred_at, recorded_at, event_id)
    )
    SELECT participant,
           row_number() OVER (PARTITION BY participant ORDER BY occurred_at, recorded_at, event_id),
           cohort, day, next_day, change, next_change
    FROM marks WHERE opening;

    -- Daily use, and its monthly pivot from the rows just inserted (no second read).
    WITH d AS (
    INSERT INTO koers.daily_use
    SELECT u.*,
        CASE WHEN f.start_day IS NULL THEN NULL
             WHEN u.day < f.start_day THEN
                 CASE WHEN u.day >= (f.start_day - interval '12 months')::date THEN 'before' END
             WHEN EXISTS (SELECT 1 FROM koers.enrolment_span s
                          WHERE s.participant = u.participant AND u.day >= s.start_day
                            AND (s.end_day IS NULL OR u.day < s.end_day)) THEN 'during'
        END
    FROM (
    SELECT participant, (occurred_at AT TIME ZONE tz)::date AS day, source, 'contact', with_role::text,
           mode::text, initiated_by::text, NULL, NULL, count(*), 0, 0, sum(duration_min)
    FROM koers.contact_valid WHERE participant = ANY (ps)
    GROUP BY participant, 2, source, with_role, mode, initiated_by
    UNION ALL
    SELECT participant, (occurred_at AT TIME ZONE tz)::date, source, 'crisis', kind::text,
           NULL, NULL, NULL, NULL, count(*), sum(days), sum(greatest(days, 1)), 0
    FROM koers.crisis_valid WHERE participant = ANY (ps)
    GROUP BY participant, 2, source, kind
    UNION ALL
    SELECT participant, (occurred_at AT TIME ZONE tz)::date, source, 'police_call', kind::text,
           NULL, NULL, caller::text, outcome::text, count(*), 0, 0, 0
    FROM koers.police_call_valid WHERE participant = ANY (ps)
    GROUP BY participant, 2, source, kind, caller, outcome
    ) u
    LEFT JOIN koers.enrolment_span f ON f.participant = u.participant AND f.span_no = 1
    RETURNING *
    )
    INSERT INTO koers.participant_month_count
    SELECT participant, date_trunc('month', day)::date,
        coalesce(sum(events) FILTER (WHERE event_type = 'contact'), 0),
        coalesce(sum(minutes) FILTER (WHERE event_type = 'contact'), 0),
        coalesce(sum(events) FILTER (WHERE event_type = 'contact' AND mode = 'outreach'), 0),
        coalesce(sum(events) FILTER (WHERE event_type = 'contact' AND mode = 'home_visit'), 0),
        coalesce(sum(events) FILTER (WHERE event_type = 'contact' AND initiated_by = 'participant'), 0),
        coalesce(sum(events) FILTER (WHERE event_type = 'contact' AND kind = 'significant_other'), 0),
        coalesce(sum(events) FILTER (WHERE event_type = 'contact' AND kind = 'experience_expert'), 0),
        coalesce(sum(events) FILTER (WHERE event_type = 'crisis'), 0),
        coalesce(sum(events) FILTER (WHERE event_type = 'crisis' AND kind = 'crisis_contact'), 0),
        coalesce(sum(events) FILTER (WHERE event_type = 'crisis' AND kind = 'crisis_admission'), 0),
        coalesce(sum(events) FILTER (WHERE event_type = 'crisis' AND kind = 'emergency_department'), 0),
        coalesce(sum(events) FILTER (WHERE event_type = 'crisis' AND kind = 'compulsory_care'), 0),
        coalesce(sum(events) FILTER (WHERE event_type = 'crisis' AND kind = 'respite_stay'), 0),
        coalesce(sum(events) FILTER (WHERE event_type = 'crisis' AND kind = 'shelter_night'), 0),
        coalesce(sum(days) FILTER (WHERE event_type = 'crisis'
                                   AND kind NOT IN ('respite_stay', 'shelter_night')), 0),
        coalesce(sum(days) FILTER (WHERE event_type = 'crisis'
                                   AND kind IN ('respite_stay', 'shelter_night')), 0),
        coalesce(sum(events) FILTER (WHERE event_type = 'police_call'), 0),
        coalesce(sum(events) FILTER (WHERE event_type = 'police_call' AND kind = 'confused_person'), 0),
        coalesce(sum(events) FILTER (WHERE event_type = 'police_call' AND kind = 'nuisance'), 0),
        coalesce(sum(events) FILTER (WHERE event_type = 'police_call' AND kind = 'threat_violence'), 0),
        coalesce(sum(events) FILTER (WHERE event_type = 'police_call' AND kind = 'welfare_check'), 0),
        coalesce(sum(events) FILTER (WHERE event_type = 'police_call' AND kind = 'arrest'), 0),
        coalesce(sum(events) FILTER (WHERE event_type = 'police_call' AND kind = 'victim'), 0),
        coalesce(sum(events) FILTER (WHERE event_type = 'police_call' AND kind = 'other'), 0)
    FROM d
    GROUP BY participant, 2;

    -- Goals: the cumulative state after each change. "Latest non-null" is the first row of
    -- the group that starts at each non-null value (count() over the rows so far).
    INSERT INTO koers.goal_history
    WITH g AS (
        SELECT participant, goal_ref, occurred_at, domain, change, set_by, gas, weight,
               row_number() OVER (PARTITION BY participant, goal_ref
                                  ORDER BY occurred_at, recorded_at, event_id) AS seq
        FROM koers.goal_change_valid WHERE participant = ANY (ps)
    ), g2 AS (
        SELECT g.*,
            count(*) FILTER (WHERE change IN ('set', 'achieved', 'revised', 'abandoned', 'reopened'))
                OVER upto AS st_grp,
            count(gas) OVER upto AS gas_grp,
            count(weight) OVER upto AS w_grp,
            count(*) FILTER (WHERE change = 'set') OVER upto AS sets,
            count(*) FILTER (WHERE change = 'revised') OVER upto AS revisions,
            lead(occurred_at) OVER (PARTITION BY participant, goal_ref ORDER BY seq) AS valid_to,
            first_value(domain) OVER (PARTITION BY participant, goal_ref ORDER BY seq) AS first_domain,
            first_value(set_by) OVER (PARTITION BY participant, goal_ref ORDER BY seq) AS first_set_by,
            first_value(domain) OVER firstset AS set_domain,
            first_value(set_by) OVER firstset AS set_set_by,
            first_value(occurred_at) OVER firstset AS set_occurred
        FROM g
        WINDOW upto AS (PARTITION BY participant, goal_ref ORDER BY seq
                        ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW),
               firstset AS (PARTITION BY participant, goal_ref ORDER BY (change <> 'set'), seq)
    ), g3 AS (
        SELECT g2.*,
            first_value(change) OVER (PARTITION BY participant, goal_ref, st_grp ORDER BY seq) AS st_change,
            first_value(occurred_at) OVER (PARTITION BY participant, goal_ref, st_grp ORDER BY seq) AS st_at,
            first_value(gas) OVER (PARTITION BY participant, goal_ref, gas_grp ORDER BY seq) AS last_gas,
            first_value(weight) OVER (PARTITION BY participant, goal_ref, w_grp ORDER BY seq) AS last_weight
        FROM g2
    )
    SELECT participant, goal_ref, seq, occurred_at, valid_to, change,
        CASE WHEN sets > 0 THEN set_domain ELSE first_domain END,
        CASE WHEN sets > 0 THEN set_set_by ELSE first_set_by END,
        CASE WHEN st_grp = 0 OR st_change IN ('set', 'reopened') THEN 'open' ELSE st_change::text END,
        CASE WHEN sets > 0 THEN set_occurred END,
        CASE WHEN st_grp > 0 AND st_change = 'achieved' THEN st_at END,
        revisions, last_gas, last_weight
    FROM g3;

    INSERT INTO koers.participant
        (participant, cohort, first_enrolled, before_start, first_event_day, last_event_day,
         open_since, last_span_end)
    SELECT d.participant, s1.cohort, s1.start_day, (s1.start_day - interval '12 months')::date,
           d.first_day, d.last_day,
           (SELECT s.start_day FROM koers.enrolment_span s
            WHERE s.participant = d.participant AND s.end_day IS NULL),
           (SELECT max(s.end_day) FROM koers.enrolment_span s WHERE s.participant = d.participant)
    FROM (
        SELECT participant, min(day) AS first_day, max(day) AS last_day FROM (
            SELECT participant, day FROM koers.daily_use WHERE participant = ANY (ps)
            UNION ALL
            SELECT participant, (occurred_at AT TIME ZONE tz)::date FROM koers.enrolment_valid
            WHERE participant = ANY (ps)
            UNION ALL
            SELECT participant, (valid_from AT TIME ZONE tz)::date FROM koers.goal_history
            WHERE participant = ANY (ps)
        ) u GROUP BY participant
    ) d
    LEFT JOIN koers.enrolment_span s1 ON s1.participant = d.participant AND s1.span_no = 1;

    INSERT INTO koers.event_lateness
    SELECT e.participant, e.source, e.event_type,
           date_trunc('month', e.occurred_at AT TIME ZONE tz)::date,
           EXISTS (SELECT 1 FROM koers.correction c WHERE c.target_event_id = e.event_id),
           floor(extract(epoch FROM e.recorded_at - e.occurred_at) / 60)::integer,
           count(*)
    FROM (
        SELECT 'enrolment' AS event_type, participant, source, occurred_at, recorded_at, event_id
        FROM koers.enrolment WHERE participant = ANY (ps)
        UNION ALL SELECT 'contact', participant, source, occurred_at, recorded_at, event_id
        FROM koers.contact WHERE participant = ANY (ps)
        UNION ALL SELECT 'crisis', participant, source, occurred_at, recorded_at, event_id
        FROM koers.crisis WHERE participant = ANY (ps)
        UNION ALL SELECT 'goal_change', participant, source, occurred_at, recorded_at, event_id
        FROM koers.goal_change WHERE participant = ANY (ps)
        UNION ALL SELECT 'police_call', participant, source, occurred_at, recorded_at, event_id
        FROM koers.police_call WHERE participant = ANY (ps)
        UNION ALL SELECT 'correction', participant, source, occurred_at, recorded_at, event_id
        FROM koers.correction WHERE participant = ANY (ps)
    ) e
    GROUP BY 1, 2, 3, 4, 5, 6;

    RETURN cardinality(ps);
END
$fn$;
-- Sorts of a large batch stay in memory.
ALTER FUNCTION koers.refresh_participants(text[]) SET work_mem = '64MB';
COMMENT ON FUNCTION koers.refresh_participants(text[]) IS
    'The consumer''s hook, called in every batch transaction after the rows are inserted, with '
    'the distinct participants of the batch (corrections'' included): rebuilds those '
    'participants'' prepared rows from the raw tables, voided events left out. Must run at READ '
    'COMMITTED (the default). Returns the number of participants refreshed.';

CREATE FUNCTION koers.refresh_all() RETURNS integer
    LANGUAGE plpgsql
    AS $fn$
DECLARE
    ps text[];
BEGIN
    FOR b IN 0..63 LOOP
        PERFORM pg_advisory_xact_lock(7012342, b);
    END LOOP;
    TRUNCATE koers.participant, koers.enrolment_span, koers.daily_use,
             koers.participant_month_count, koers.goal_history, koers.event_lateness;
    SELECT array_agg(participant) INTO ps FROM (
        SELECT participant FROM koers.enrolment
        UNION SELECT participant FROM koers.contact
        UNION SELECT participant FROM koers.crisis
        UNION SELECT participant FROM koers.goal_change
        UNION SELECT participant FROM koers.police_call
        UNION SELECT participant FROM koers.correction
    ) u;
    RETURN coalesce(koers.refresh_participants(ps), 0);
END
$fn$;
COMMENT ON FUNCTION koers.refresh_all() IS
    'Rebuilds every prepared table from the raw tables (backfills, a changed time_zone, tests). '
    'Returns the number of participants.';

------------------------------------------------------------------------------------------
-- Internal building blocks of the time-dependent measures.
------------------------------------------------------------------------------------------

-- Before and during days per enrolled participant at an as-of date.
CREATE FUNCTION koers.exposure(as_of date)
    RETURNS TABLE (participant text, cohort text, first_enrolled date, before_start date,
                   days_before integer, days_during integer)
    LANGUAGE sql STABLE
    AS $$
    SELECT p.participant, p.cohort, p.first_enrolled, p.before_start,
           p.first_enrolled - p.before_start,
           coalesce((SELECT sum(greatest(least(coalesce(s.end_day, as_of + 1), as_of + 1)
                                         - s.start_day, 0))
                     FROM koers.enrolment_span s
                     WHERE s.participant = p.participant), 0)::integer
    FROM koers.participant p
    WHERE p.first_enrolled <= as_of
    $$;
COMMENT ON FUNCTION koers.exposure(date) IS
    'Internal: days in the before period and enrolled days up to as_of (included) per '
    'participant enrolled by as_of.';

-- daily_use rows that fall in the before period or in an enrolled span (up to as_of).
CREATE FUNCTION koers.period_use(as_of date)
    RETURNS TABLE (participant text, cohort text, period text, day date, event_type text,
                   kind text, mode text, initiated_by text, events integer, days integer,
                   billable_days integer, minutes integer)
    LANGUAGE sql STABLE
    AS $$
    SELECT d.participant, p.cohort, d.period, d.day, d.event_type, d.kind, d.mode,
           d.initiated_by, d.events, d.days, d.billable_days, d.minutes
    FROM koers.daily_use d
    JOIN koers.participant p ON p.participant = d.participant
    WHERE d.period IS NOT NULL AND d.day <= as_of AND p.first_enrolled <= as_of
    $$;
COMMENT ON FUNCTION koers.period_use(date) IS
    'Internal: prepared daily use in the before period or in enrolled time up to as_of, '
    'labelled before/during; paused time, time after exit and older days are left out.';

CREATE VIEW koers.daily_cost AS
    SELECT d.participant, d.day, d.event_type, d.kind, u.item,
           CASE u.per WHEN 'event' THEN d.events::numeric
                      WHEN 'day' THEN d.billable_days::numeric
                      WHEN 'hour' THEN d.minutes / 60.0 END * u.amount_eur AS cost_eur
    FROM koers.daily_use d
    JOIN koers.unit_cost_map m ON m.event_type = d.event_type AND m.kind = d.kind
    JOIN koers.unit_cost u ON u.item = m.item;
COMMENT ON VIEW koers.daily_cost IS
    'Internal: prepared daily use priced with the current unit costs (unmapped kinds omitted).';

------------------------------------------------------------------------------------------
-- 1-5: participant_month (and its cost), per month.
------------------------------------------------------------------------------------------

CREATE TYPE koers.participant_month_row AS (
    participant                    text,
    month                          date,
    cohort                         text,
    enrolment_state                text,
    enrolled_days                  integer,
    before_days                    integer,
    contacts                       integer,
    contact_minutes                integer,
    outreach_contacts              integer,
    home_visit_contacts            integer,
    participant_initiated_contacts integer,
    significant_other_contacts     integer,
    experience_expert_contacts     integer,
    crisis_events                  integer,
    crisis_contact                 integer,
    crisis_admission               integer,
    emergency_department           integer,
    compulsory_care                integer,
    respite_stay                   integer,
    shelter_night                  integer,
    crisis_days                    integer,
    stay_days                      integer,
    police_calls                   integer,
    police_confused_person         integer,
    police_nuisance                integer,
    police_threat_violence         integer,
    police_welfare_check           integer,
    police_arrest                  integer,
    police_victim                  integer,
    police_other                   integer,
    confused_person_calls          integer
);

CREATE FUNCTION koers.participant_month_at(as_of date)
    RETURNS SETOF koers.participant_month_row
    LANGUAGE sql STABLE
    AS $$
    SELECT p.participant, m.month, p.cohort,
        CASE WHEN st.start_day IS NULL THEN 'not_enrolled'
             WHEN st.end_day IS NULL OR st.end_day > m.ref THEN 'enrolled'
             ELSE st.ended_by::text END,
        coalesce((SELECT sum(greatest(least(coalesce(s.end_day, as_of + 1), as_of + 1, m.next_month)
                                      - greatest(s.start_day, m.month), 0))
                  FROM koers.enrolment_span s
                  WHERE s.participant = p.participant AND s.start_day <= as_of), 0)::integer,
        CASE WHEN p.first_enrolled IS NULL THEN 0
             ELSE greatest(least(p.first_enrolled, m.next_month)
                           - greatest(p.before_start, m.month), 0) END,
        coalesce(c.contacts, 0), coalesce(c.contact_minutes, 0), coalesce(c.outreach_contacts, 0),
        coalesce(c.home_visit_contacts, 0), coalesce(c.participant_initiated_contacts, 0),
        coalesce(c.significant_other_contacts, 0), coalesce(c.experience_expert_contacts, 0),
        coalesce(c.crisis_events, 0), coalesce(c.crisis_contact, 0),
        coalesce(c.crisis_admission, 0), coalesce(c.emergency_department, 0),
        coalesce(c.compulsory_care, 0), coalesce(c.respite_stay, 0), coalesce(c.shelter_night, 0),
        coalesce(c.crisis_days, 0), coalesce(c.stay_days, 0),
        coalesce(c.police_calls, 0), coalesce(c.police_confused_person, 0),
        coalesce(c.police_nuisance, 0), coalesce(c.police_threat_violence, 0),
        coalesce(c.police_welfare_check, 0), coalesce(c.police_arrest, 0),
        coalesce(c.police_victim, 0), coalesce(c.police_other, 0),
        coalesce(c.police_confused_person, 0)
    FROM koers.participant p
    CROSS JOIN LATERAL (
        SELECT g::date AS month, (g + interval '1 month')::date AS next_month,
               least(as_of, (g + interval '1 month')::date - 1) AS ref
        FROM generate_series(
            date_trunc('month', least(p.before_start, p.first_event_day)::timestamp),
            date_trunc('month', least(as_of, greatest(p.last_event_day,
                CASE WHEN p.open_since IS NOT NULL THEN as_of
                     ELSE p.last_span_end - 1 END))::timestamp),
            interval '1 month') AS g
    ) m
    LEFT JOIN koers.participant_month_count c
        ON c.participant = p.participant AND c.month = m.month
    LEFT JOIN LATERAL (
        SELECT s.start_day, s.end_day, s.ended_by FROM koers.enrolment_span s
        WHERE s.participant = p.participant AND s.start_day <= m.ref
        ORDER BY s.span_no DESC LIMIT 1
    ) st ON true
    $$;
COMMENT ON FUNCTION koers.participant_month_at(date) IS
    'koers.participant_month with an explicit as-of date (where an open span ends). Columns: '
    'see COMMENT ON COLUMN koers.participant_month_row.*.';

CREATE VIEW koers.participant_month AS
    SELECT * FROM koers.participant_month_at(koers.today());
COMMENT ON VIEW koers.participant_month IS
    'Measures 3-5 per participant and local month: one row for every month from the start of '
    'the before period (or the first event) to the month of the last event or enrolled day '
    '(open spans run to today), never past the current month. Counts are whole-month counts '
    'by local day of occurred_at. Voided events count nowhere.';

DO $$
DECLARE
    c record;
BEGIN
    FOR c IN SELECT * FROM (VALUES
        ('participant', 'Pseudonym (HMAC-SHA256 of the source''s client id).'),
        ('month', 'First day of the local calendar month.'),
        ('cohort', 'Cohort of the participant''s first enrolled span; NULL if never enrolled.'),
        ('enrolment_state', 'State at the month''s last day (or at the as-of date in its month): not_enrolled, enrolled, paused or exited.'),
        ('enrolled_days', 'Enrolled days in the month: from the day of enrolled/resumed up to, not including, the day of paused/exited; an open span to the as-of date included.'),
        ('before_days', 'Days of the month in the before period (the 12 calendar months before the first enrolled day).'),
        ('contacts', 'Support contacts.'),
        ('contact_minutes', 'Sum of duration_min of the contacts.'),
        ('outreach_contacts', 'Contacts with mode outreach.'),
        ('home_visit_contacts', 'Contacts with mode home_visit.'),
        ('participant_initiated_contacts', 'Contacts with initiated_by participant.'),
        ('significant_other_contacts', 'Contacts with with_role significant_other.'),
        ('experience_expert_contacts', 'Contacts with with_role experience_expert.'),
        ('crisis_events', 'Crisis events of every kind.'),
        ('crisis_contact', 'Crisis events of kind crisis_contact.'),
        ('crisis_admission', 'Crisis events of kind crisis_admission.'),
        ('emergency_department', 'Crisis events of kind emergency_department.'),
        ('compulsory_care', 'Crisis events of kind compulsory_care.'),
        ('respite_stay', 'Crisis events of kind respite_stay.'),
        ('shelter_night', 'Crisis events of kind shelter_night.'),
        ('crisis_days', 'Sum of days of crisis_contact, crisis_admission, emergency_department and compulsory_care events, in the month of their occurred_at (the discharge).'),
        ('stay_days', 'Sum of days of respite_stay and shelter_night events, in the month of their occurred_at.'),
        ('police_calls', 'Police calls of every kind.'),
        ('police_confused_person', 'Police calls of kind confused_person.'),
        ('police_nuisance', 'Police calls of kind nuisance.'),
        ('police_threat_violence', 'Police calls of kind threat_violence.'),
        ('police_welfare_check', 'Police calls of kind welfare_check.'),
        ('police_arrest', 'Police calls of kind arrest.'),
        ('police_victim', 'Police calls of kind victim.'),
        ('police_other', 'Police calls of kind other.'),
        ('confused_person_calls', 'Confused-person calls on their own (= police_confused_person).')
    ) AS v(col, doc) LOOP
        EXECUTE format('COMMENT ON COLUMN koers.participant_month.%I IS %L', c.col, c.doc);
        EXECUTE format('COMMENT ON COLUMN koers.participant_month_row.%I IS %L', c.col, c.doc);
    END LOOP;
END
$$;

CREATE VIEW koers.participant_month_cost AS
    SELECT d.participant, date_trunc('month', d.day)::date AS month, p.cohort,
           round(coalesce(sum(d.cost_eur) FILTER (WHERE d.event_type = 'crisis'), 0), 2) AS crisis_cost,
           round(coalesce(sum(d.cost_eur) FILTER (WHERE d.event_type = 'police_call'), 0), 2) AS police_cost,
           round(coalesce(sum(d.cost_eur) FILTER (WHERE d.event_type = 'contact'), 0), 2) AS support_cost
    FROM koers.daily_cost d JOIN koers.participant p ON p.participant = d.participant
    GROUP BY d.participant, 2, p.cohort;
COMMENT ON VIEW koers.participant_month_cost IS
    'Measure 6 per participant-month: crisis, police and support events priced with the current '
    'koers.unit_cost via koers.unit_cost_map (months with priced events only).';
COMMENT ON COLUMN koers.participant_month_cost.participant IS 'Pseudonym.';
COMMENT ON COLUMN koers.participant_month_cost.month IS 'First day of the local calendar month.';
COMMENT ON COLUMN koers.participant_month_cost.cohort IS 'Cohort of the participant.';
COMMENT ON COLUMN koers.participant_month_cost.crisis_cost IS 'EUR: crisis events (day-priced kinds x billable days).';
COMMENT ON COLUMN koers.participant_month_cost.police_cost IS 'EUR: police calls.';
COMMENT ON COLUMN koers.participant_month_cost.support_cost IS 'EUR: support contacts (hour-priced roles x duration).';

------------------------------------------------------------------------------------------
-- 1-2: goals and goal attainment scaling.
------------------------------------------------------------------------------------------

CREATE TYPE koers.goal_status_row AS (
    participant      text,
    cohort           text,
    goal_ref         text,
    domain           koers.goal_change_domain,
    stability_corner text,
    set_by           koers.goal_change_set_by,
    status           text,
    set_at           timestamptz,
    achieved_at      timestamptz,
    days_to_achieved integer,
    revisions        integer,
    latest_gas       integer,
    weight           integer
);

CREATE FUNCTION koers.goal_status_at(as_of date)
    RETURNS SETOF koers.goal_status_row
    LANGUAGE sql STABLE
    AS $$
    SELECT h.participant, p.cohort, h.goal_ref, h.domain, koers.stability_corner(h.domain),
           h.set_by, h.status, h.set_at, h.achieved_at,
           koers.local_day(h.achieved_at) - koers.local_day(h.set_at),
           h.revisions, h.latest_gas, h.weight
    FROM koers.goal_history h
    LEFT JOIN koers.participant p ON p.participant = h.participant
    WHERE h.valid_from < koers.day_start(as_of + 1)
      AND (h.valid_to IS NULL OR h.valid_to >= koers.day_start(as_of + 1))
    $$;
COMMENT ON FUNCTION koers.goal_status_at(date) IS
    'koers.goal_status as it stood at the end of the local as-of day.';

CREATE VIEW koers.goal_status AS
    SELECT h.participant, p.cohort, h.goal_ref, h.domain, koers.stability_corner(h.domain) AS stability_corner,
           h.set_by, h.status, h.set_at, h.achieved_at,
           koers.local_day(h.achieved_at) - koers.local_day(h.set_at) AS days_to_achieved,
           h.revisions, h.latest_gas, h.weight
    FROM koers.goal_history h
    LEFT JOIN koers.participant p ON p.participant = h.participant
    WHERE h.valid_to IS NULL;
COMMENT ON VIEW koers.goal_status IS
    'Measure 1: every goal with its status after its latest valid change by event time.';

DO $$
DECLARE
    c record;
BEGIN
    FOR c IN SELECT * FROM (VALUES
        ('participant', 'Pseudonym.'),
        ('cohort', 'Cohort of the participant; NULL if never enrolled.'),
        ('goal_ref', 'The source''s own goal key; a goal is (participant, goal_ref).'),
        ('domain', 'Goal domain, as given with the first set.'),
        ('stability_corner', 'participation, living_environment, continuity_of_support or unclassified (from domain).'),
        ('set_by', 'Who set the goal (first set): participant, participant_with_network (both self-set) or professional.'),
        ('status', 'Last of set/achieved/revised/abandoned/reopened by event time (progress and setback do not change it; set and reopened make it open): open, achieved, revised or abandoned.'),
        ('set_at', 'occurred_at of the first set (NULL if no set was received).'),
        ('achieved_at', 'occurred_at of the achieved that made the status achieved; NULL unless status is achieved.'),
        ('days_to_achieved', 'Local days from set_at to achieved_at.'),
        ('revisions', 'Number of revised changes.'),
        ('latest_gas', 'Latest goal attainment score given (-2..2); NULL if never scored.'),
        ('weight', 'Latest importance weight given (1..10); NULL if none (the T-score then uses 1).')
    ) AS v(col, doc) LOOP
        EXECUTE format('COMMENT ON COLUMN koers.goal_status.%I IS %L', c.col, c.doc);
        EXECUTE format('COMMENT ON COLUMN koers.goal_status_row.%I IS %L', c.col, c.doc);
    END LOOP;
END
$$;

CREATE TYPE koers.goal_summary_row AS (
    cohort                           text,
    stability_corner                 text,
    domain                           text,
    participants                     integer,
    goals                            integer,
    set_by_participant               integer,
    set_by_participant_with_network  integer,
    set_by_professional              integer,
    open                             integer,
    achieved                         integer,
    revised                          integer,
    abandoned                        integer,
    revisions                        integer,
    self_set_achieved                integer,
    participants_self_set_achieved   integer,
    share_self_set_achieved          numeric,
    median_days_to_achieved          numeric,
    mean_days_to_achieved            numeric
);
COMMENT ON COLUMN koers.goal_summary_row.cohort IS 'Cohort (NULL: participants never enrolled).';
COMMENT ON COLUMN koers.goal_summary_row.stability_corner IS 'Stability corner, or all.';
COMMENT ON COLUMN koers.goal_summary_row.domain IS 'Goal domain, or all.';
COMMENT ON COLUMN koers.goal_summary_row.participants IS 'Participants with at least one goal in this group.';
COMMENT ON COLUMN koers.goal_summary_row.goals IS 'Goals (any status).';
COMMENT ON COLUMN koers.goal_summary_row.set_by_participant IS 'Goals set by the participant.';
COMMENT ON COLUMN koers.goal_summary_row.set_by_participant_with_network IS 'Goals set by the participant with their network.';
COMMENT ON COLUMN koers.goal_summary_row.set_by_professional IS 'Goals set by a professional.';
COMMENT ON COLUMN koers.goal_summary_row.open IS 'Goals open.';
COMMENT ON COLUMN koers.goal_summary_row.achieved IS 'Goals achieved.';
COMMENT ON COLUMN koers.goal_summary_row.revised IS 'Goals whose status is revised.';
COMMENT ON COLUMN koers.goal_summary_row.abandoned IS 'Goals abandoned.';
COMMENT ON COLUMN koers.goal_summary_row.revisions IS 'Revised changes over all goals (a revised goal later achieved still counts here).';
COMMENT ON COLUMN koers.goal_summary_row.self_set_achieved IS 'Achieved goals that were self-set.';
COMMENT ON COLUMN koers.goal_summary_row.participants_self_set_achieved IS 'Participants with at least one achieved self-set goal.';
COMMENT ON COLUMN koers.goal_summary_row.share_self_set_achieved IS 'participants_self_set_achieved / participants (4 decimals).';
COMMENT ON COLUMN koers.goal_summary_row.median_days_to_achieved IS 'Median local days from set to achieved over achieved goals.';
COMMENT ON COLUMN koers.goal_summary_row.mean_days_to_achieved IS 'Mean local days from set to achieved (2 decimals).';

CREATE FUNCTION koers.goal_summary(as_of date)
    RETURNS SETOF koers.goal_summary_row
    LANGUAGE sql STABLE
    AS $$
    SELECT cohort,
           CASE WHEN grouping(stability_corner) = 1 THEN 'all' ELSE stability_corner END,
           CASE WHEN grouping(domain) = 1 THEN 'all' ELSE domain::text END,
           count(DISTINCT participant)::integer,
           count(*)::integer,
           count(*) FILTER (WHERE set_by = 'participant')::integer,
           count(*) FILTER (WHERE set_by = 'participant_with_network')::integer,
           count(*) FILTER (WHERE set_by = 'professional')::integer,
           count(*) FILTER (WHERE status = 'open')::integer,
           count(*) FILTER (WHERE status = 'achieved')::integer,
           count(*) FILTER (WHERE status = 'revised')::integer,
           count(*) FILTER (WHERE status = 'abandoned')::integer,
           sum(revisions)::integer,
           count(*) FILTER (WHERE status = 'achieved' AND set_by <> 'professional')::integer,
           count(DISTINCT participant) FILTER (WHERE status = 'achieved'
                                               AND set_by <> 'professional')::integer,
           round(count(DISTINCT participant) FILTER (WHERE status = 'achieved'
                                                     AND set_by <> 'professional')::numeric
                 / count(DISTINCT participant), 4),
           percentile_cont(0.5) WITHIN GROUP (ORDER BY days_to_achieved)::numeric,
           round(avg(days_to_achieved), 2)
    FROM koers.goal_status_at(as_of)
    GROUP BY GROUPING SETS ((cohort), (cohort, stability_corner), (cohort, stability_corner, domain))
    $$;
COMMENT ON FUNCTION koers.goal_summary(date) IS
    'Measure 1 per cohort, per cohort and stability corner, and per cohort, corner and domain, '
    'as at the end of the as-of day.';

CREATE TYPE koers.gas_tscore_row AS (
    participant  text,
    cohort       text,
    goals        integer,
    goals_scored integer,
    t_score      numeric
);
COMMENT ON COLUMN koers.gas_tscore_row.participant IS 'Pseudonym.';
COMMENT ON COLUMN koers.gas_tscore_row.cohort IS 'Cohort of the participant.';
COMMENT ON COLUMN koers.gas_tscore_row.goals IS 'Goals the participant had at the as-of date (any status).';
COMMENT ON COLUMN koers.gas_tscore_row.goals_scored IS 'Goals with a gas score at the as-of date that are not abandoned then.';
COMMENT ON COLUMN koers.gas_tscore_row.t_score IS 'Kiresuk-Sherman T = 50 + 10*sum(w*x) / sqrt((1-rho)*sum(w^2) + rho*(sum w)^2), rho 0.3, x the latest gas, w the weight (1 where none given), 2 decimals; NULL when no goal is scored.';

CREATE FUNCTION koers.gas_tscore(as_of date)
    RETURNS SETOF koers.gas_tscore_row
    LANGUAGE sql STABLE
    AS $$
    WITH g AS (
        SELECT participant, cohort, latest_gas AS x, coalesce(weight, 1)::numeric AS w,
               latest_gas IS NOT NULL AND status <> 'abandoned' AS scored
        FROM koers.goal_status_at(as_of)
    ), s AS (
        SELECT participant, cohort, count(*) AS goals, count(*) FILTER (WHERE scored) AS n,
               sum(w * x) FILTER (WHERE scored) AS swx,
               sum(w * w) FILTER (WHERE scored) AS sww,
               sum(w) FILTER (WHERE scored) AS sw
        FROM g GROUP BY participant, cohort
    )
    SELECT participant, cohort, goals::integer, n::integer,
           CASE WHEN n > 0 THEN round(50 + 10 * swx / sqrt(0.7 * sww + 0.3 * sw * sw), 2) END
    FROM s
    $$;
COMMENT ON FUNCTION koers.gas_tscore(date) IS
    'Measure 2: the GAS T-score per participant with goals at the end of the as-of day.';

CREATE TYPE koers.gas_tscore_cohort_row AS (
    cohort              text,
    participants        integer,
    participants_scored integer,
    goals_scored        integer,
    mean_t_score        numeric,
    median_t_score      numeric,
    min_t_score         numeric,
    max_t_score         numeric
);
COMMENT ON COLUMN koers.gas_tscore_cohort_row.cohort IS 'Cohort.';
COMMENT ON COLUMN koers.gas_tscore_cohort_row.participants IS 'Participants with goals.';
COMMENT ON COLUMN koers.gas_tscore_cohort_row.participants_scored IS 'Participants with a T-score.';
COMMENT ON COLUMN koers.gas_tscore_cohort_row.goals_scored IS 'Scored goals over all participants.';
COMMENT ON COLUMN koers.gas_tscore_cohort_row.mean_t_score IS 'Mean of the participants'' T-scores (2 decimals).';
COMMENT ON COLUMN koers.gas_tscore_cohort_row.median_t_score IS 'Median T-score (2 decimals).';
COMMENT ON COLUMN koers.gas_tscore_cohort_row.min_t_score IS 'Lowest T-score.';
COMMENT ON COLUMN koers.gas_tscore_cohort_row.max_t_score IS 'Highest T-score.';

CREATE FUNCTION koers.gas_tscore_cohort(as_of date)
    RETURNS SETOF koers.gas_tscore_cohort_row
    LANGUAGE sql STABLE
    AS $$
    SELECT cohort, count(*)::integer, count(t_score)::integer, sum(goals_scored)::integer,
           round(avg(t_score), 2),
           round((percentile_cont(0.5) WITHIN GROUP (ORDER BY t_score))::numeric, 2),
           min(t_score), max(t_score)
    FROM koers.gas_tscore(as_of) GROUP BY cohort
    $$;
COMMENT ON FUNCTION koers.gas_tscore_cohort(date) IS 'Measure 2 per cohort.';

------------------------------------------------------------------------------------------
-- 3-4: crisis and police before versus during enrolment.
------------------------------------------------------------------------------------------

CREATE TYPE koers.before_during_row AS (
    participant             text,
    cohort                  text,
    first_enrolled          date,
    person_months_before    numeric,
    person_months_during    numeric,
    crisis_before           integer,
    crisis_during           integer,
    crisis_days_before      integer,
    crisis_days_during      integer,
    police_before           integer,
    police_during           integer,
    confused_before         integer,
    confused_during         integer,
    crisis_before_rate      numeric,
    crisis_during_rate      numeric,
    crisis_days_before_rate numeric,
    crisis_days_during_rate numeric,
    police_before_rate      numeric,
    police_during_rate      numeric,
    confused_before_rate    numeric,
    confused_during_rate    numeric
);

CREATE FUNCTION koers.before_during(as_of date)
    RETURNS SETOF koers.before_during_row
    LANGUAGE sql STABLE
    AS $$
    WITH e AS (SELECT * FROM koers.exposure(as_of)),
    u AS (
        SELECT participant,
            sum(events) FILTER (WHERE period = 'before' AND event_type = 'crisis') AS cb,
            sum(events) FILTER (WHERE period = 'during' AND event_type = 'crisis') AS cd,
            sum(days) FILTER (WHERE period = 'before' AND event_type = 'crisis') AS db,
            sum(days) FILTER (WHERE period = 'during' AND event_type = 'crisis') AS dd,
            sum(events) FILTER (WHERE period = 'before' AND event_type = 'police_call') AS pb,
            sum(events) FILTER (WHERE period = 'during' AND event_type = 'police_call') AS pd,
            sum(events) FILTER (WHERE period = 'before' AND event_type = 'police_call'
                                AND kind = 'confused_person') AS fb,
            sum(events) FILTER (WHERE period = 'during' AND event_type = 'police_call'
                                AND kind = 'confused_person') AS fd
        FROM koers.period_use(as_of) GROUP BY participant
    ), x AS (
        SELECT e.participant, e.cohort, e.first_enrolled,
               e.days_before / koers.person_month_days() AS pmb,
               e.days_during / koers.person_month_days() AS pmd,
               coalesce(cb, 0) AS cb, coalesce(cd, 0) AS cd, coalesce(db, 0) AS db,
               coalesce(dd, 0) AS dd, coalesce(pb, 0) AS pb, coalesce(pd, 0) AS pd,
               coalesce(fb, 0) AS fb, coalesce(fd, 0) AS fd
        FROM e LEFT JOIN u ON u.participant = e.participant
    )
    SELECT participant, cohort, first_enrolled, round(pmb, 4), round(pmd, 4),
           cb::integer, cd::integer, db::integer, dd::integer, pb::integer, pd::integer,
           fb::integer, fd::integer,
           round(cb / nullif(pmb, 0), 4), round(cd / nullif(pmd, 0), 4),
           round(db / nullif(pmb, 0), 4), round(dd / nullif(pmd, 0), 4),
           round(pb / nullif(pmb, 0), 4), round(pd / nullif(pmd, 0), 4),
           round(fb / nullif(pmb, 0), 4), round(fd / nullif(pmd, 0), 4)
    FROM x
    $$;
COMMENT ON FUNCTION koers.before_during(date) IS
    'Measures 3-4 per participant enrolled by as_of: crisis and police use in the 12 calendar '
    'months before the first enrolled day versus enrolled time up to as_of (paused time and '
    'time after exit excluded).';

CREATE TYPE koers.before_during_cohort_row AS (
    cohort                  text,
    participants            integer,
    person_months_before    numeric,
    person_months_during    numeric,
    crisis_before           integer,
    crisis_during           integer,
    crisis_days_before      integer,
    crisis_days_during      integer,
    police_before           integer,
    police_during           integer,
    confused_before         integer,
    confused_during         integer,
    crisis_before_rate      numeric,
    crisis_during_rate      numeric,
    crisis_days_before_rate numeric,
    crisis_days_during_rate numeric,
    police_before_rate      numeric,
    police_during_rate      numeric,
    confused_before_rate    numeric,
    confused_during_rate    numeric
);

CREATE FUNCTION koers.before_during_cohort(as_of date)
    RETURNS SETOF koers.before_during_cohort_row
    LANGUAGE sql STABLE
    AS $$
    WITH e AS (
        SELECT cohort, count(*) AS n, sum(days_before) / koers.person_month_days() AS pmb,
               sum(days_during) / koers.person_month_days() AS pmd
        FROM koers.exposure(as_of) GROUP BY cohort
    ), u AS (
        SELECT cohort,
            coalesce(sum(events) FILTER (WHERE period = 'before' AND event_type = 'crisis'), 0) AS cb,
            coalesce(sum(events) FILTER (WHERE period = 'during' AND event_type = 'crisis'), 0) AS cd,
            coalesce(sum(days) FILTER (WHERE period = 'before' AND event_type = 'crisis'), 0) AS db,
            coalesce(sum(days) FILTER (WHERE period = 'during' AND event_type = 'crisis'), 0) AS dd,
            coalesce(sum(events) FILTER (WHERE period = 'before' AND event_type = 'police_call'), 0) AS pb,
            coalesce(sum(events) FILTER (WHERE period = 'during' AND event_type = 'police_call'), 0) AS pd,
            coalesce(sum(events) FILTER (WHERE period = 'before' AND event_type = 'police_call'
                                         AND kind = 'confused_person'), 0) AS fb,
            coalesce(sum(events) FILTER (WHERE period = 'during' AND event_type = 'police_call'
                                         AND kind = 'confused_person'), 0) AS fd
        FROM koers.period_use(as_of) GROUP BY cohort
    )
    SELECT e.cohort, e.n::integer, round(pmb, 4), round(pmd, 4),
           coalesce(cb, 0)::integer, coalesce(cd, 0)::integer, coalesce(db, 0)::integer,
           coalesce(dd, 0)::integer, coalesce(pb, 0)::integer, coalesce(pd, 0)::integer,
           coalesce(fb, 0)::integer, coalesce(fd, 0)::integer,
           round(coalesce(cb, 0) / nullif(pmb, 0), 4), round(coalesce(cd, 0) / nullif(pmd, 0), 4),
           round(coalesce(db, 0) / nullif(pmb, 0), 4), round(coalesce(dd, 0) / nullif(pmd, 0), 4),
           round(coalesce(pb, 0) / nullif(pmb, 0), 4), round(coalesce(pd, 0) / nullif(pmd, 0), 4),
           round(coalesce(fb, 0) / nullif(pmb, 0), 4), round(coalesce(fd, 0) / nullif(pmd, 0), 4)
    FROM e LEFT JOIN u ON u.cohort IS NOT DISTINCT FROM e.cohort
    $$;
COMMENT ON FUNCTION koers.before_during_cohort(date) IS
    'Measures 3-4 per cohort: sums over participants; rates pooled (sum of counts / sum of '
    'person-months).';

DO $$
DECLARE
    c record;
BEGIN
    FOR c IN SELECT * FROM (VALUES
        ('cohort', 'Cohort.'),
        ('person_months_before', 'Days of the before period / 30.4375 (4 decimals).'),
        ('person_months_during', 'Enrolled days up to as_of (included) / 30.4375 (4 decimals); paused time excluded.'),
        ('crisis_before', 'Crisis events (every kind) in the before period.'),
        ('crisis_during', 'Crisis events on enrolled days.'),
        ('crisis_days_before', 'Sum of days of crisis events (every kind) whose occurred_at (discharge) falls in the before period.'),
        ('crisis_days_during', 'Sum of days of crisis events whose occurred_at falls on an enrolled day.'),
        ('police_before', 'Police calls (every kind) in the before period.'),
        ('police_during', 'Police calls on enrolled days.'),
        ('confused_before', 'Confused-person calls in the before period.'),
        ('confused_during', 'Confused-person calls on enrolled days.'),
        ('crisis_before_rate', 'crisis_before per person-month (4 decimals; NULL with no time).'),
        ('crisis_during_rate', 'crisis_during per person-month.'),
        ('crisis_days_before_rate', 'crisis_days_before per person-month.'),
        ('crisis_days_during_rate', 'crisis_days_during per person-month.'),
        ('police_before_rate', 'police_before per person-month.'),
        ('police_during_rate', 'police_during per person-month.'),
        ('confused_before_rate', 'confused_before per person-month.'),
        ('confused_during_rate', 'confused_during per person-month.')
    ) AS v(col, doc) LOOP
        EXECUTE format('COMMENT ON COLUMN koers.before_during_row.%I IS %L', c.col, c.doc);
        EXECUTE format('COMMENT ON COLUMN koers.before_during_cohort_row.%I IS %L', c.col, c.doc);
    END LOOP;
END
$$;
COMMENT ON COLUMN koers.before_during_row.participant IS 'Pseudonym.';
COMMENT ON COLUMN koers.before_during_row.first_enrolled IS 'Local day the first enrolled span starts; the before period is the 12 calendar months of days up to the day before.';
COMMENT ON COLUMN koers.before_during_cohort_row.participants IS 'Participants enrolled by as_of.';

------------------------------------------------------------------------------------------
-- 5: support intensity.
------------------------------------------------------------------------------------------

CREATE TYPE koers.support_intensity_row AS (
    cohort                      text,
    participant                 text,
    enrolled_weeks              numeric,
    contacts                    integer,
    contact_minutes             integer,
    contacts_per_week           numeric,
    minutes_per_week            numeric,
    outreach_home_visit_share   numeric,
    participant_initiated_share numeric,
    network_expert_share        numeric
);
COMMENT ON COLUMN koers.support_intensity_row.cohort IS 'Cohort.';
COMMENT ON COLUMN koers.support_intensity_row.participant IS 'Pseudonym; NULL on the cohort row.';
COMMENT ON COLUMN koers.support_intensity_row.enrolled_weeks IS 'Enrolled days up to as_of / 7 (2 decimals).';
COMMENT ON COLUMN koers.support_intensity_row.contacts IS 'Support contacts on enrolled days.';
COMMENT ON COLUMN koers.support_intensity_row.contact_minutes IS 'Their minutes.';
COMMENT ON COLUMN koers.support_intensity_row.contacts_per_week IS 'Contacts per participant-week (2 decimals).';
COMMENT ON COLUMN koers.support_intensity_row.minutes_per_week IS 'Minutes per participant-week (2 decimals).';
COMMENT ON COLUMN koers.support_intensity_row.outreach_home_visit_share IS 'Share of contacts by outreach or home visit (4 decimals).';
COMMENT ON COLUMN koers.support_intensity_row.participant_initiated_share IS 'Share of contacts started by the participant.';
COMMENT ON COLUMN koers.support_intensity_row.network_expert_share IS 'Share of contacts with significant others or experience experts.';

CREATE FUNCTION koers.support_intensity(as_of date)
    RETURNS SETOF koers.support_intensity_row
    LANGUAGE sql STABLE
    AS $$
    WITH e AS (SELECT * FROM koers.exposure(as_of)),
    u AS (
        SELECT participant, sum(events) AS n, sum(minutes) AS mins,
               sum(events) FILTER (WHERE mode IN ('outreach', 'home_visit')) AS oh,
               sum(events) FILTER (WHERE initiated_by = 'participant') AS pi,
               sum(events) FILTER (WHERE kind IN ('significant_other', 'experience_expert')) AS ne
        FROM koers.period_use(as_of) WHERE period = 'during' AND event_type = 'contact'
        GROUP BY participant
    ), j AS (
        SELECT e.cohort, e.participant, e.days_during::numeric AS days, coalesce(n, 0) AS n,
               coalesce(mins, 0) AS mins, coalesce(oh, 0) AS oh, coalesce(pi, 0) AS pi,
               coalesce(ne, 0) AS ne
        FROM e LEFT JOIN u ON u.participant = e.participant
    )
    SELECT cohort, participant, round(sum(days) / 7, 2), sum(n)::integer, sum(mins)::integer,
           round(sum(n) * 7 / nullif(sum(days), 0), 2), round(sum(mins) * 7 / nullif(sum(days), 0), 2),
           round(sum(oh) / nullif(sum(n), 0), 4), round(sum(pi) / nullif(sum(n), 0), 4),
           round(sum(ne) / nullif(sum(n), 0), 4)
    FROM j GROUP BY GROUPING SETS ((cohort, participant), (cohort))
    ORDER BY cohort, participant NULLS LAST
    $$;
COMMENT ON FUNCTION koers.support_intensity(date) IS
    'Measure 5: support contacts on enrolled days up to as_of, per participant and (participant '
    'NULL) per cohort, pooled.';

------------------------------------------------------------------------------------------
-- 6: indicative social cost-benefit.
------------------------------------------------------------------------------------------

CREATE TYPE koers.cost_benefit_row AS (
    cohort                     text,
    participant                text,
    person_months_before       numeric,
    person_months_during       numeric,
    crisis_cost_before         numeric,
    crisis_cost_during         numeric,
    police_cost_before         numeric,
    police_cost_during         numeric,
    cost_before                numeric,
    cost_during                numeric,
    crisis_cost_before_per_pm  numeric,
    crisis_cost_during_per_pm  numeric,
    police_cost_before_per_pm  numeric,
    police_cost_during_per_pm  numeric,
    cost_before_per_pm         numeric,
    cost_during_per_pm         numeric,
    difference_per_pm          numeric,
    difference_total           numeric,
    support_cost_during        numeric,
    support_cost_during_per_pm numeric,
    net_benefit_total          numeric
);

CREATE FUNCTION koers.cost_benefit_rows(as_of date, by_participant boolean)
    RETURNS SETOF koers.cost_benefit_row
    LANGUAGE sql STABLE
    AS $$
    WITH e AS (SELECT * FROM koers.exposure(as_of)),
    c AS (
        SELECT u.participant,
            sum(cst) FILTER (WHERE period = 'before' AND u.event_type = 'crisis') AS crb,
            sum(cst) FILTER (WHERE period = 'during' AND u.event_type = 'crisis') AS crd,
            sum(cst) FILTER (WHERE period = 'before' AND u.event_type = 'police_call') AS pob,
            sum(cst) FILTER (WHERE period = 'during' AND u.event_type = 'police_call') AS pod,
            sum(cst) FILTER (WHERE period = 'during' AND u.event_type = 'contact') AS sud
        FROM koers.period_use(as_of) u
        JOIN koers.unit_cost_map m ON m.event_type = u.event_type AND m.kind = u.kind
        JOIN koers.unit_cost k ON k.item = m.item
        CROSS JOIN LATERAL (SELECT CASE k.per WHEN 'event' THEN u.events::numeric
                                              WHEN 'day' THEN u.billable_days::numeric
                                              WHEN 'hour' THEN u.minutes / 60.0 END
                                   * k.amount_eur AS cst) q
        GROUP BY u.participant
    ), j AS (
        SELECT e.cohort, CASE WHEN by_participant THEN e.participant END AS participant,
               sum(e.days_before) / koers.person_month_days() AS pmb,
               sum(e.days_during) / koers.person_month_days() AS pmd,
               coalesce(sum(crb), 0) AS crb, coalesce(sum(crd), 0) AS crd,
               coalesce(sum(pob), 0) AS pob, coalesce(sum(pod), 0) AS pod,
               coalesce(sum(sud), 0) AS sud
        FROM e LEFT JOIN c ON c.participant = e.participant
        GROUP BY 1, 2
    ), r AS (
        SELECT j.*, (crb + pob) / nullif(pmb, 0) AS bpm, (crd + pod) / nullif(pmd, 0) AS dpm,
               sud / nullif(pmd, 0) AS spm
        FROM j
    )
    SELECT cohort, participant, round(pmb, 4), round(pmd, 4),
           round(crb, 2), round(crd, 2), round(pob, 2), round(pod, 2),
           round(crb + pob, 2), round(crd + pod, 2),
           round(crb / nullif(pmb, 0), 2), round(crd / nullif(pmd, 0), 2),
           round(pob / nullif(pmb, 0), 2), round(pod / nullif(pmd, 0), 2),
           round(bpm, 2), round(dpm, 2), round(bpm - dpm, 2), round((bpm - dpm) * pmd, 2),
           round(sud, 2), round(spm, 2), round((bpm - dpm) * pmd - sud, 2)
    FROM r ORDER BY cohort, participant
    $$;
COMMENT ON FUNCTION koers.cost_benefit_rows(date, boolean) IS
    'Internal: koers.cost_benefit per participant (true) or per cohort (false).';

CREATE FUNCTION koers.cost_benefit(as_of date)
    RETURNS SETOF koers.cost_benefit_row
    LANGUAGE sql STABLE
    AS $$ SELECT * FROM koers.cost_benefit_rows(as_of, true) $$;
COMMENT ON FUNCTION koers.cost_benefit(date) IS
    'Measure 6 per participant enrolled by as_of: cost of crisis and police use before and '
    'during, the difference per person-month and over the enrolled time, and the support cost '
    'beside it, with the current koers.unit_cost and koers.unit_cost_map.';

CREATE FUNCTION koers.cost_benefit_cohort(as_of date)
    RETURNS SETOF koers.cost_benefit_row
    LANGUAGE sql STABLE
    AS $$ SELECT * FROM koers.cost_benefit_rows(as_of, false) $$;
COMMENT ON FUNCTION koers.cost_benefit_cohort(date) IS
    'Measure 6 per cohort (participant NULL): sums, and pooled per-person-month figures.';

DO $$
DECLARE
    c record;
BEGIN
    FOR c IN SELECT * FROM (VALUES
        ('cohort', 'Cohort.'),
        ('participant', 'Pseudonym; NULL on cohort rows.'),
        ('person_months_before', 'Days of the before period / 30.4375.'),
        ('person_months_during', 'Enrolled days up to as_of / 30.4375.'),
        ('crisis_cost_before', 'EUR: crisis events in the before period (day-priced kinds x greatest(days, 1)).'),
        ('crisis_cost_during', 'EUR: crisis events on enrolled days.'),
        ('police_cost_before', 'EUR: police calls in the before period.'),
        ('police_cost_during', 'EUR: police calls on enrolled days.'),
        ('cost_before', 'EUR: crisis_cost_before + police_cost_before.'),
        ('cost_during', 'EUR: crisis_cost_during + police_cost_during.'),
        ('crisis_cost_before_per_pm', 'EUR per person-month before.'),
        ('crisis_cost_during_per_pm', 'EUR per person-month during.'),
        ('police_cost_before_per_pm', 'EUR per person-month before.'),
        ('police_cost_during_per_pm', 'EUR per person-month during.'),
        ('cost_before_per_pm', 'EUR crisis + police per person-month before.'),
        ('cost_during_per_pm', 'EUR crisis + police per person-month during.'),
        ('difference_per_pm', 'cost_before_per_pm - cost_during_per_pm: positive means less crisis and police cost during.'),
        ('difference_total', 'difference_per_pm x person_months_during: indicative cost avoided over the enrolled time, had the before rate gone on.'),
        ('support_cost_during', 'EUR: support contacts on enrolled days (the cost of support beside it).'),
        ('support_cost_during_per_pm', 'EUR support per person-month during.'),
        ('net_benefit_total', 'difference_total - support_cost_during.')
    ) AS v(col, doc) LOOP
        EXECUTE format('COMMENT ON COLUMN koers.cost_benefit_row.%I IS %L', c.col, c.doc);
    END LOOP;
END
$$;

CREATE VIEW koers.cost_assumptions AS
    SELECT m.event_type, m.kind, u.item, u.amount_eur, u.per, u.price_year, u.source
    FROM koers.unit_cost_map m JOIN koers.unit_cost u ON u.item = m.item
    ORDER BY m.event_type, m.kind;
COMMENT ON VIEW koers.cost_assumptions IS 'The unit costs in use, per event kind: what the report prints.';
COMMENT ON COLUMN koers.cost_assumptions.event_type IS 'contact, crisis or police_call.';
COMMENT ON COLUMN koers.cost_assumptions.kind IS 'Kind (contacts: with_role).';
COMMENT ON COLUMN koers.cost_assumptions.item IS 'Unit cost item.';
COMMENT ON COLUMN koers.cost_assumptions.amount_eur IS 'EUR per unit.';
COMMENT ON COLUMN koers.cost_assumptions.per IS 'event, day or hour.';
COMMENT ON COLUMN koers.cost_assumptions.price_year IS 'Price level.';
COMMENT ON COLUMN koers.cost_assumptions.source IS 'Source or assumption.';

------------------------------------------------------------------------------------------
-- 7: data quality.
------------------------------------------------------------------------------------------

CREATE VIEW koers.data_quality AS
    WITH h AS (
        SELECT source, month, coalesce(event_type, 'all') AS event_type, lateness_min,
               coalesce(sum(events) FILTER (WHERE NOT voided), 0) AS n,
               coalesce(sum(events) FILTER (WHERE voided), 0) AS v
        FROM koers.event_lateness
        GROUP BY GROUPING SETS ((source, month, event_type, lateness_min), (source, month, lateness_min))
    ), c AS (
        SELECT h.*, sum(n) OVER (PARTITION BY source, month, event_type ORDER BY lateness_min) AS cum,
               sum(n) OVER (PARTITION BY source, month, event_type) AS total
        FROM h
    )
    SELECT source, month, event_type, max(total)::bigint AS events, sum(v)::bigint AS voided,
           round(min(lateness_min) FILTER (WHERE n > 0 AND cum >= 0.5 * total) / 60.0, 2) AS lateness_p50_hours,
           round(min(lateness_min) FILTER (WHERE n > 0 AND cum >= 0.9 * total) / 60.0, 2) AS lateness_p90_hours,
           round(min(lateness_min) FILTER (WHERE n > 0 AND cum >= 0.99 * total) / 60.0, 2) AS lateness_p99_hours,
           round(max(lateness_min) FILTER (WHERE n > 0) / 60.0, 2) AS lateness_max_hours
    FROM c GROUP BY source, month, event_type;
COMMENT ON VIEW koers.data_quality IS
    'Measure 7: stored events per source, local month of occurred_at and event type (and all '
    'types), with lateness percentiles over the events not voided.';
COMMENT ON COLUMN koers.data_quality.source IS 'Organisation that registered the events.';
COMMENT ON COLUMN koers.data_quality.month IS 'Local month of occurred_at.';
COMMENT ON COLUMN koers.data_quality.event_type IS 'Event type (correction included), or all.';
COMMENT ON COLUMN koers.data_quality.events IS 'Events stored and not voided (duplicates once).';
COMMENT ON COLUMN koers.data_quality.voided IS 'Events stored and voided by a correction.';
COMMENT ON COLUMN koers.data_quality.lateness_p50_hours IS 'Median lateness (recorded_at - occurred_at), nearest rank over whole minutes, in hours (2 decimals).';
COMMENT ON COLUMN koers.data_quality.lateness_p90_hours IS '90th percentile of lateness, nearest rank, hours.';
COMMENT ON COLUMN koers.data_quality.lateness_p99_hours IS '99th percentile of lateness, nearest rank, hours.';
COMMENT ON COLUMN koers.data_quality.lateness_max_hours IS 'Greatest lateness, hours.';

CREATE VIEW koers.data_quality_rejected AS
    SELECT koers.local_month(rejected_at) AS month, topic, reason, count(*) AS messages
    FROM koers.rejected_events GROUP BY 1, 2, 3;
COMMENT ON VIEW koers.data_quality_rejected IS
    'Measure 7: messages the consumer rejected, per local month of rejection, topic and reason.';
COMMENT ON COLUMN koers.data_quality_rejected.month IS 'Local month of rejected_at.';
COMMENT ON COLUMN koers.data_quality_rejected.topic IS 'Kafka topic of the message.';
COMMENT ON COLUMN koers.data_quality_rejected.reason IS 'Why it was rejected.';
COMMENT ON COLUMN koers.data_quality_rejected.messages IS 'Messages rejected.';
