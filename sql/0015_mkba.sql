-- koers MKBA (indicative social cost-benefit per stakeholder, issue 13): who pays each unit
-- cost (shares when split), low and high unit costs for the sensitivity, the consumer price
-- index that brings every price to one price year, and the settings of the analysis. Tables
-- and seed rows only; the functions are in sql/defs/45_mkba.sql and 85_mkba_dash.sql.

------------------------------------------------------------------------------------------
-- Payers (stakeholders).
------------------------------------------------------------------------------------------

CREATE TABLE koers.payer (
    payer    text PRIMARY KEY CHECK (payer ~ '^[a-z_]{1,32}$'),
    ord      integer NOT NULL UNIQUE,
    label_nl text NOT NULL,
    label_en text NOT NULL,
    pays_for text NOT NULL
);
COMMENT ON TABLE koers.payer IS
    'The stakeholders of the MKBA: who pays a unit cost (and so who gains when it is avoided).';
COMMENT ON COLUMN koers.payer.payer IS 'Name used in every layer (SQL, JSON, page, report).';
COMMENT ON COLUMN koers.payer.ord IS 'Order of the rows in the MKBA table.';
COMMENT ON COLUMN koers.payer.label_nl IS 'Dutch label (pages and report).';
COMMENT ON COLUMN koers.payer.label_en IS 'English label.';
COMMENT ON COLUMN koers.payer.pays_for IS 'What this payer finances (the law or budget), in English.';

INSERT INTO koers.payer (payer, ord, label_nl, label_en, pays_for) VALUES
('municipality', 1, 'Gemeente', 'Municipality',
 'Social Support Act (Wmo): neighbourhood teams, home support, shelter and protected housing, debt counselling'),
('health_insurer', 2, 'Zorgverzekeraar', 'Health insurer',
 'Health Insurance Act (Zvw): mental-health care, emergency departments, ambulances, the first years of an admission'),
('long_term_care', 3, 'Wlz (zorgkantoor)', 'Long-term care',
 'Long-term Care Act (Wlz): lasting residential care, mental-health admissions after the Zvw years'),
('police', 4, 'Politie', 'Police', 'Police time on calls'),
('justice', 5, 'Justitie', 'Justice', 'Public prosecutor, courts and custody'),
('housing_corporation', 6, 'Woningcorporatie', 'Housing corporation', 'Rent arrears, evictions, housing staff'),
('other', 7, 'Overig', 'Other', 'Anyone else');

------------------------------------------------------------------------------------------
-- Who pays each unit cost: one row per item and payer; the shares of an item add up to 1.
------------------------------------------------------------------------------------------

CREATE TABLE koers.unit_cost_payer (
    item       text NOT NULL REFERENCES koers.unit_cost (item) ON UPDATE CASCADE ON DELETE CASCADE,
    payer      text NOT NULL REFERENCES koers.payer (payer) ON UPDATE CASCADE,
    share      numeric(5, 4) NOT NULL CHECK (share > 0 AND share <= 1),
    valid_year integer NOT NULL CHECK (valid_year BETWEEN 1990 AND 2100),
    source     text NOT NULL CHECK (source <> ''),
    PRIMARY KEY (item, payer)
);
COMMENT ON TABLE koers.unit_cost_payer IS
    'Who pays each unit cost (editable like koers.unit_cost): an item split over payers has a '
    'row per payer, and its shares add up to 1 (checked at commit). An item without rows is '
    'paid by other.';
COMMENT ON COLUMN koers.unit_cost_payer.item IS 'The koers.unit_cost item.';
COMMENT ON COLUMN koers.unit_cost_payer.payer IS 'The koers.payer that pays this share.';
COMMENT ON COLUMN koers.unit_cost_payer.share IS 'Share of the item''s cost this payer bears (0 < share <= 1).';
COMMENT ON COLUMN koers.unit_cost_payer.valid_year IS 'The year the split describes (financing rules change).';
COMMENT ON COLUMN koers.unit_cost_payer.source IS 'Where the split comes from, or the assumption it rests on.';

-- Checked at commit, so an edit may move a share from one row to another in two statements.
CREATE FUNCTION koers.unit_cost_payer_check() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
DECLARE
    it text := CASE WHEN TG_OP = 'DELETE' THEN OLD.item ELSE NEW.item END;
    total numeric;
BEGIN
    SELECT sum(share) INTO total FROM koers.unit_cost_payer WHERE item = it;
    IF total IS NOT NULL AND total <> 1 THEN
        RAISE EXCEPTION 'the payer shares of unit cost % add up to %, not 1', it, total
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END
$$;
CREATE CONSTRAINT TRIGGER unit_cost_payer_shares
    AFTER INSERT OR UPDATE OR DELETE ON koers.unit_cost_payer
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION koers.unit_cost_payer_check();

INSERT INTO koers.unit_cost_payer (item, payer, share, valid_year, source) VALUES
('emergency_department_visit', 'health_insurer', 1, 2024,
 'Zvw covers emergency-department care (basic insurance package)'),
('ambulance_ride_urgent', 'health_insurer', 1, 2024,
 'Zvw covers urgent ambulance transport (basic insurance package)'),
-- The split below is the shipped example of a shared item: an assumption to edit.
('psychiatric_institution_day', 'health_insurer', 0.8, 2024,
 'ASSUMPTION: Zvw pays the first three years of a mental-health admission, the Wlz after '
 'that (Wlz-GGZ); 80/20 assumed for a cohort with long care histories: edit to the cohort''s '
 'indications'),
('psychiatric_institution_day', 'long_term_care', 0.2, 2024,
 'ASSUMPTION: see the health_insurer share of this item'),
('general_hospital_psychiatric_ward_day', 'health_insurer', 1, 2024,
 'Zvw covers care under the compulsory mental-health care act (Wvggz) on a general-hospital '
 'ward; the court procedure is not in this unit cost'),
('specialised_mental_health_contact', 'health_insurer', 1, 2024,
 'Zvw covers specialised mental-health care (basic insurance package)'),
('social_work_contact', 'municipality', 1, 2024,
 'Wmo: social work and neighbourhood teams are financed by the municipality'),
('home_support_hour', 'municipality', 1, 2024,
 'Wmo: home support is financed by the municipality'),
('police_confused_person_call', 'police', 1, 2024, 'Police time (national police budget)'),
('police_call_other', 'police', 1, 2024, 'Police time (national police budget)'),
('shelter_night', 'municipality', 1, 2024,
 'Wmo: shelter (maatschappelijke opvang) is financed by the (central) municipality');

------------------------------------------------------------------------------------------
-- Low and high unit costs for the sensitivity analysis.
------------------------------------------------------------------------------------------

ALTER TABLE koers.unit_cost
    ADD COLUMN low_eur numeric(12, 2) CHECK (low_eur >= 0),
    ADD COLUMN high_eur numeric(12, 2),
    ADD COLUMN range_source text,
    ADD CONSTRAINT unit_cost_range CHECK (
        (low_eur IS NULL AND high_eur IS NULL AND range_source IS NULL)
        OR (low_eur IS NOT NULL AND high_eur IS NOT NULL AND range_source IS NOT NULL
            AND low_eur <= amount_eur AND amount_eur <= high_eur));
COMMENT ON COLUMN koers.unit_cost.low_eur IS
    'Low end of the price range a source gives (same price year); NULL: none given, the '
    'sensitivity uses amount_eur x (1 - setting mkba_default_range).';
COMMENT ON COLUMN koers.unit_cost.high_eur IS
    'High end of the range; NULL: amount_eur x (1 + setting mkba_default_range).';
COMMENT ON COLUMN koers.unit_cost.range_source IS 'Where low_eur and high_eur come from.';
COMMENT ON TABLE koers.unit_cost IS
    'Unit costs for the indicative social cost-benefit; editable (UPDATE amount_eur, price_year '
    'and source together). koers.cost_benefit uses the amounts as they stand; the MKBA '
    '(koers.mkba) indexes them to one price year with koers.price_index, and its sensitivity '
    'uses low_eur and high_eur.';

------------------------------------------------------------------------------------------
-- Consumer price index.
------------------------------------------------------------------------------------------

CREATE TABLE koers.price_index (
    year   integer PRIMARY KEY CHECK (year BETWEEN 1990 AND 2100),
    cpi    numeric(9, 3) NOT NULL CHECK (cpi > 0),
    source text NOT NULL CHECK (source <> '')
);
COMMENT ON TABLE koers.price_index IS
    'Consumer price index per year (any one base), editable: a price of year a becomes a price '
    'of year b as amount x cpi(b) / cpi(a). Add the year a new price year needs.';
COMMENT ON COLUMN koers.price_index.year IS 'Calendar year (yearly average).';
COMMENT ON COLUMN koers.price_index.cpi IS 'Index figure (2015 = 100 as shipped).';
COMMENT ON COLUMN koers.price_index.source IS 'Where the figure comes from.';

-- Chained from 2015 = 100 with the yearly changes CBS publishes (0.3, 1.4, 1.7, 2.6, 1.3,
-- 2.7, 10.0, 3.8, 3.3 per cent for 2016..2024), rounded to 3 decimals.
INSERT INTO koers.price_index (year, cpi, source)
SELECT y, c, 'CBS, consumer price index (CPI, all households), yearly change as published by '
             'CBS (StatLine 83131NED), chained from 2015 = 100 and rounded to 3 decimals; '
             'replace by the StatLine index figures where exactness matters'
FROM (VALUES (2015, 100.000), (2016, 100.300), (2017, 101.704), (2018, 103.433),
             (2019, 106.122), (2020, 107.502), (2021, 110.405), (2022, 121.445),
             (2023, 126.060), (2024, 130.220)) v(y, c);

------------------------------------------------------------------------------------------
-- Settings of the analysis (koers.setting, so the dashboards' data version moves with them).
------------------------------------------------------------------------------------------

INSERT INTO koers.setting VALUES
    ('mkba_price_year', '2024'),        -- every amount in prices of this year
    ('mkba_window', 'intention_to_treat'), -- the during window compared with the before year
    ('mkba_rtm_factor', '1'),           -- base case: the before rate carried on as it was
    ('mkba_rtm_variation', '0.75'),     -- sensitivity: the before rate x this (enrolment at a peak)
    ('mkba_default_range', '0.25')      -- low/high unit cost where no source gives a range
ON CONFLICT (name) DO NOTHING;

------------------------------------------------------------------------------------------
-- The rows of the MKBA functions (sql/defs/45_mkba.sql).
------------------------------------------------------------------------------------------

CREATE TYPE koers.mkba_line AS (
    side            text,
    event_type      text,
    kind            text,
    item            text,
    payer           text,
    share           numeric,
    per             text,
    price           numeric,
    price_low       numeric,
    price_high      numeric,
    units_before    numeric,
    units_during    numeric,
    pm_before       numeric,
    pm_during       numeric,
    units_expected  numeric,
    participants    text[]
);
COMMENT ON TYPE koers.mkba_line IS
    'Internal: a line of the MKBA (koers.mkba_lines): a priced kind and one payer of its item.';

CREATE TYPE koers.mkba_row AS (
    payer                text,
    ord                  integer,
    label_nl             text,
    label_en             text,
    support_cost         numeric,
    cost_before          numeric,
    cost_expected        numeric,
    cost_during          numeric,
    benefit              numeric,
    balance              numeric,
    contributors         integer
);
COMMENT ON TYPE koers.mkba_row IS 'A row of koers.mkba (see its column comments).';

------------------------------------------------------------------------------------------
-- Schema report: what koers-report --audience funder reads (sql/defs/85_mkba_dash.sql).
------------------------------------------------------------------------------------------

CREATE SCHEMA report;
COMMENT ON SCHEMA report IS
    'The printable funder report''s functions: the dashboards'' cells as a funder sees them '
    '(suppressed), whoever runs the report.';
REVOKE ALL ON SCHEMA report FROM PUBLIC;
GRANT USAGE ON SCHEMA report TO koers_evaluator, koers_funder, koers_partner, koers_admin, koers_reader;

------------------------------------------------------------------------------------------
-- Rights: as koers.unit_cost (0007): readers and the analyst read, the consumer too.
------------------------------------------------------------------------------------------

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'koers_reader') THEN
        GRANT SELECT ON koers.payer, koers.unit_cost_payer, koers.price_index TO koers_reader;
    END IF;
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'koers_consumer') THEN
        GRANT SELECT ON koers.payer, koers.unit_cost_payer, koers.price_index TO koers_consumer;
    END IF;
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'koers_analyst') THEN
        GRANT SELECT ON koers.payer, koers.unit_cost_payer, koers.price_index TO koers_analyst;
    END IF;
END
$$;
