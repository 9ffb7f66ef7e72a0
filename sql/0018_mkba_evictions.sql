-- koers migration 0018: evictions avoided as a benefit of the MKBA (issue 13). The housing
-- corporation's direct cost of an eviction carried out (status_change.eviction = 'evicted')
-- becomes a unit cost, paid by the housing corporation. What follows an eviction (shelter
-- nights, crisis) is priced by those events themselves, so it is not in this item.

ALTER TABLE koers.unit_cost_map DROP CONSTRAINT unit_cost_map_event_type_check;
ALTER TABLE koers.unit_cost_map ADD CONSTRAINT unit_cost_map_event_type_check
    CHECK (event_type IN ('contact', 'crisis', 'police_call', 'status_change'));
COMMENT ON COLUMN koers.unit_cost_map.event_type IS
    'contact (support cost), crisis (crisis cost), police_call (police cost) or status_change '
    '(an eviction carried out: kind evicted).';
COMMENT ON COLUMN koers.unit_cost_map.kind IS
    'crisis or police kind; for contacts the with_role; for status_change the eviction step.';

INSERT INTO koers.unit_cost (item, amount_eur, per, price_year, source, low_eur, high_eur, range_source)
VALUES ('eviction', 5100.00, 'event', 2024,
        'ASSUMPTION, no published unit price: the housing corporation''s direct cost of one '
        'eviction carried out, composed as court and bailiff fees EUR 1,500 + three months of '
        'rent arrears written off at EUR 650 (EUR 1,950) + one month of vacancy EUR 650 + '
        'clearing and storing the household''s belongings EUR 1,000. Edit to the corporation''s '
        'own figures.',
        3000.00, 10000.00,
        'ASSUMPTION: low without the storage and with two months of arrears; high with six '
        'months of arrears, repairs and a longer vacancy');
INSERT INTO koers.unit_cost_map (event_type, kind, item) VALUES ('status_change', 'evicted', 'eviction');
INSERT INTO koers.unit_cost_payer (item, payer, share, valid_year, source) VALUES
('eviction', 'housing_corporation', 1, 2024,
 'The housing corporation bears the court, bailiff, arrears and vacancy costs of an eviction');
