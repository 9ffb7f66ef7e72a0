-- koers measures: prepared per-participant tables kept current by the consumer's one hook,
-- koers.refresh_participants(text[]), and the public SQL interface of the seven measures.
-- Readers (the views and functions below) read only the prepared tables, koers.unit_cost,
-- koers.unit_cost_map, koers.setting and koers.rejected_events; never the raw event tables.
-- docs/measures.md is the page for people; every public column has a COMMENT here too.
-- The functions and views of the measures are in sql/defs/ (20_prepared.sql, 30_measures.sql);
-- this migration keeps their tables, types and seed rows.

------------------------------------------------------------------------------------------
-- Valid events (the views are in sql/defs/10_base.sql): a participant's corrections found
-- by index.
------------------------------------------------------------------------------------------

CREATE INDEX correction_participant_idx ON koers.correction (participant);

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
