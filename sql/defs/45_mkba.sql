-- koers MKBA definitions (issue 13; tables in sql/0015_mkba.sql): the indicative social
-- cost-benefit per stakeholder. Costs: the programme's support contacts in the chosen window,
-- by who pays them. Benefits: crisis, stay, police and eviction costs avoided against the null
-- alternative, the cohort's pooled before rate per known person-month carried on over the
-- window's known person-months (times a regression-to-the-mean factor, 1 in the base case).
-- Every price is brought to one price year with koers.price_index. The sensitivity varies
-- each unit cost to its low and high value and the before rate by the factor. Re-runnable.

------------------------------------------------------------------------------------------
-- Settings and prices.
------------------------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION koers.mkba_setting(name text) RETURNS text
    LANGUAGE sql STABLE
    AS $$ SELECT s.value FROM koers.setting s WHERE s.name = mkba_setting.name $$;
COMMENT ON FUNCTION koers.mkba_setting(text) IS
    'Internal: a koers.setting value (mkba_price_year, mkba_window, mkba_rtm_factor, '
    'mkba_rtm_variation, mkba_default_range).';

-- A price of year a as a price of year b; raises when the index lacks either year, so that
-- no amount is silently left unindexed.
CREATE OR REPLACE FUNCTION koers.cpi_factor(from_year integer, to_year integer) RETURNS numeric
    LANGUAGE plpgsql STABLE
    AS $$
DECLARE
    a numeric := (SELECT cpi FROM koers.price_index WHERE year = from_year);
    b numeric := (SELECT cpi FROM koers.price_index WHERE year = to_year);
BEGIN
    IF a IS NULL OR b IS NULL THEN
        RAISE EXCEPTION 'koers.price_index has no consumer price index for year %',
            CASE WHEN a IS NULL THEN from_year ELSE to_year END
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'INSERT INTO koers.price_index (year, cpi, source) the missing year';
    END IF;
    RETURN b / a;
END
$$;
COMMENT ON FUNCTION koers.cpi_factor(integer, integer) IS
    'cpi(to_year) / cpi(from_year) from koers.price_index; raises when a year is missing.';

-- Every unit cost in prices of price_year: base, low and high (a source's range, or
-- +-mkba_default_range), unrounded.
CREATE OR REPLACE FUNCTION koers.mkba_prices(price_year integer)
    RETURNS TABLE (item text, per text, source_year integer, cpi_factor numeric, price numeric,
                   price_low numeric, price_high numeric, range_given boolean)
    LANGUAGE sql STABLE
    AS $$
    SELECT u.item, u.per, u.price_year, f.f, u.amount_eur * f.f,
           coalesce(u.low_eur, u.amount_eur * (1 - r.r)) * f.f,
           coalesce(u.high_eur, u.amount_eur * (1 + r.r)) * f.f,
           u.low_eur IS NOT NULL
    FROM koers.unit_cost u
    CROSS JOIN LATERAL (SELECT koers.cpi_factor(u.price_year, mkba_prices.price_year) AS f) f
    CROSS JOIN (SELECT coalesce(koers.mkba_setting('mkba_default_range')::numeric, 0.25) AS r) r
    $$;
COMMENT ON FUNCTION koers.mkba_prices(integer) IS
    'Unit costs in prices of price_year (amount x cpi(price_year) / cpi(its own year)), with '
    'the low and high values of the sensitivity (the source''s range, or amount x (1 -+ setting '
    'mkba_default_range)).';

------------------------------------------------------------------------------------------
-- Quantities per participant: units priced by each item, before and in the window.
------------------------------------------------------------------------------------------

-- Each participant's units of each priced kind: events (per event), billable days of stays
-- that fall in the window (per day), contact hours (per hour). As koers.window_measures: a
-- day outside the stated coverage of its event type adds nothing; a stay piece lies wholly
-- inside or outside each window (stays are cut at the window bounds).
CREATE OR REPLACE FUNCTION koers.mkba_units(as_of date, window_name text, ps text[])
    RETURNS TABLE (participant text, cohort text, side text, event_type text, kind text,
                   item text, units numeric)
    LANGUAGE sql STABLE
    AS $$
    WITH cov AS MATERIALIZED (
        SELECT t, koers.known_days(t) AS known
        FROM unnest(ARRAY['contact', 'crisis', 'police_call', 'status_change']) t
    ), w AS (
        SELECT r.participant, r.cohort,
               CASE WHEN r.window_name = 'before' THEN 'before' ELSE 'during' END AS side, r.days
        FROM koers.window_ranges(as_of) r
        WHERE r.window_name IN ('before', koers.dash_window_check(mkba_units.window_name))
          AND (ps IS NULL OR r.participant = ANY (ps))
    ), u AS (
        SELECT d.participant, d.day, d.event_type, d.kind, d.events, d.minutes, d.billable_days,
               d.span, least(d.span, as_of + 1 - d.day) AS len
        FROM koers.use_at(as_of) d
        WHERE d.event_type IN ('contact', 'crisis', 'police_call')
          AND (ps IS NULL OR d.participant = ANY (ps))
        UNION ALL
        -- An eviction carried out is an event of its day.
        SELECT e.participant, koers.local_day(e.occurred_at), 'status_change', 'evicted', 1, 0, 0,
               0, 0
        FROM koers.status_change_valid e
        WHERE e.eviction = 'evicted' AND koers.local_day(e.occurred_at) <= as_of
          AND (ps IS NULL OR e.participant = ANY (ps))
    )
    SELECT w.participant, w.cohort, w.side, u.event_type, u.kind, m.item,
           sum(CASE k.per
                   WHEN 'event' THEN CASE WHEN u.day <@ c.known THEN u.events ELSE 0 END
                   WHEN 'hour' THEN CASE WHEN u.day <@ c.known THEN u.minutes / 60.0 ELSE 0 END
                   ELSE CASE WHEN u.span > 0 AND daterange(u.day, u.day + u.len) <@ c.known
                             THEN u.billable_days
                             WHEN u.span > 0
                             THEN u.billable_days::numeric / u.len
                                  * koers.days_in(datemultirange(daterange(u.day, u.day + u.len)) * c.known)
                             WHEN u.day <@ c.known THEN u.billable_days ELSE 0 END
               END)
    FROM w
    JOIN u ON u.participant = w.participant AND u.day <@ w.days
    JOIN cov c ON c.t = u.event_type
    JOIN koers.unit_cost_map m ON m.event_type = u.event_type AND m.kind = u.kind
    JOIN koers.unit_cost k ON k.item = m.item
    GROUP BY 1, 2, 3, 4, 5, 6
    $$;
COMMENT ON FUNCTION koers.mkba_units(date, text, text[]) IS
    'Per participant (of ps; NULL = every participant enrolled by as_of), side (before = the 12 '
    'months before, during = the window), event type, kind and unit cost item: the units that '
    'item prices (events, billable stay days that fall in the side, or contact hours = '
    'duration_min / 60), on days within the stated coverage of the event type.';

-- Each participant's known days per side and event type: the person-months of the rates.
CREATE OR REPLACE FUNCTION koers.mkba_exposure(as_of date, window_name text, ps text[])
    RETURNS TABLE (participant text, cohort text, side text, event_type text, days integer)
    LANGUAGE sql STABLE
    AS $$
    WITH cov AS MATERIALIZED (
        SELECT t, koers.known_days(t) AS known
        FROM unnest(ARRAY['contact', 'crisis', 'police_call', 'status_change']) t
    )
    SELECT r.participant, r.cohort, CASE WHEN r.window_name = 'before' THEN 'before' ELSE 'during' END,
           c.t, koers.days_in(r.days * c.known)
    FROM koers.window_ranges(as_of) r CROSS JOIN cov c
    WHERE r.window_name IN ('before', koers.dash_window_check(mkba_exposure.window_name))
      AND (ps IS NULL OR r.participant = ANY (ps))
    $$;
COMMENT ON FUNCTION koers.mkba_exposure(date, text, text[]) IS
    'Per participant, side (before, during = the window) and event type: the side''s days '
    'within the stated coverage of that type (the denominator of its rates).';

------------------------------------------------------------------------------------------
-- Lines: one per priced kind and payer, in EUR of the price year.
------------------------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION koers.mkba_lines(as_of date, window_name text, price_year integer, ps text[])
    RETURNS SETOF koers.mkba_line
    LANGUAGE sql STABLE
    AS $$
    WITH q AS MATERIALIZED (SELECT * FROM koers.mkba_units(as_of, window_name, ps)),
    x AS MATERIALIZED (
        SELECT e.event_type,
               sum(e.days) FILTER (WHERE e.side = 'before') / koers.person_month_days() AS pmb,
               sum(e.days) FILTER (WHERE e.side = 'during') / koers.person_month_days() AS pmd
        FROM koers.mkba_exposure(as_of, window_name, ps) e GROUP BY 1
    ), l AS (
        SELECT q.event_type, q.kind, q.item,
               coalesce(sum(q.units) FILTER (WHERE q.side = 'before'), 0) AS ub,
               coalesce(sum(q.units) FILTER (WHERE q.side = 'during'), 0) AS ud,
               array_agg(DISTINCT q.participant ORDER BY q.participant)
                   FILTER (WHERE q.units <> 0 AND (q.side = 'during' OR q.event_type <> 'contact')) AS who
        FROM q GROUP BY 1, 2, 3
    )
    SELECT CASE WHEN l.event_type = 'contact' THEN 'cost' ELSE 'benefit' END,
           l.event_type, l.kind, l.item, coalesce(p.payer, 'other'), coalesce(p.share, 1), pr.per,
           pr.price, pr.price_low, pr.price_high,
           CASE WHEN l.event_type = 'contact' THEN 0 ELSE l.ub END, l.ud,
           coalesce(x.pmb, 0), coalesce(x.pmd, 0),
           -- The null alternative: the pooled before rate per known person-month carried on
           -- over the window's known person-months.
           CASE WHEN l.event_type = 'contact' THEN 0 ELSE l.ub * x.pmd / nullif(x.pmb, 0) END,
           coalesce(l.who, '{}')
    FROM l
    JOIN koers.mkba_prices(price_year) pr ON pr.item = l.item
    LEFT JOIN x ON x.event_type = l.event_type
    LEFT JOIN koers.unit_cost_payer p ON p.item = l.item
    WHERE l.ub <> 0 OR l.ud <> 0
    ORDER BY 1, 2, 3, 5
    $$;
COMMENT ON FUNCTION koers.mkba_lines(date, text, integer, text[]) IS
    'Internal: the MKBA per priced kind and payer of its item (share; an item without payer rows '
    'is paid by other): side benefit (crisis and police kinds) or cost (support contacts); '
    'prices in EUR of price_year; units before and in the window; known person-months of the '
    'kind''s event type; units_expected = units_before x pm_during / pm_before (NULL when no '
    'before day is known); the participants with units (never leaves the database).';

------------------------------------------------------------------------------------------
-- The table per stakeholder.
------------------------------------------------------------------------------------------

-- Per payer, unrounded: support cost, cost before, expected (the before rate times f carried
-- on; NULL when a line has no before day known), cost during, and the contributors: the
-- distinct participants with units on any of its lines. Every payer has a row.
CREATE OR REPLACE FUNCTION koers.mkba_sums_of(lines koers.mkba_line[], f numeric)
    RETURNS TABLE (payer text, ord integer, label_nl text, label_en text, sc numeric,
                   cb numeric, ce numeric, cd numeric, n integer)
    LANGUAGE sql IMMUTABLE
    AS $$
    WITH l AS (
        SELECT l.*, l.share * l.price AS sp FROM unnest(lines) l
    ), p AS (
        SELECT l.payer,
               sum(l.sp * l.units_during) FILTER (WHERE l.side = 'cost') AS sc,
               sum(l.sp * l.units_before) FILTER (WHERE l.side = 'benefit') AS cb,
               CASE WHEN bool_and(l.units_expected IS NOT NULL)
                    THEN coalesce(sum(l.sp * f * l.units_expected) FILTER (WHERE l.side = 'benefit'), 0) END AS ce,
               sum(l.sp * l.units_during) FILTER (WHERE l.side = 'benefit') AS cd,
               (SELECT count(DISTINCT w) FROM unnest(lines) l2, unnest(l2.participants) w
                WHERE l2.payer = l.payer)::integer AS n
        FROM l GROUP BY l.payer
    )
    SELECT y.payer, y.ord, y.label_nl, y.label_en, coalesce(p.sc, 0),
           coalesce(p.cb, 0), CASE WHEN p.payer IS NULL THEN 0 ELSE p.ce END,
           coalesce(p.cd, 0), coalesce(p.n, 0)
    FROM koers.payer y LEFT JOIN p ON p.payer = y.payer
    ORDER BY y.ord
    $$;
COMMENT ON FUNCTION koers.mkba_sums_of(koers.mkba_line[], numeric) IS
    'Internal: the unrounded sums per payer of koers.mkba from its lines, the before rate times f.';

-- The table from its lines: the payers' sums rounded, and their total.
CREATE OR REPLACE FUNCTION koers.mkba_table_of(lines koers.mkba_line[], f numeric)
    RETURNS SETOF koers.mkba_row
    LANGUAGE sql IMMUTABLE
    AS $$
    WITH r AS (SELECT * FROM koers.mkba_sums_of(lines, f))
    SELECT payer, ord, label_nl, label_en, round(sc, 2), round(cb, 2), round(ce, 2), round(cd, 2),
           round(ce - cd, 2), round(ce - cd - sc, 2), n
    FROM r
    UNION ALL
    SELECT 'total', 1000, 'Totaal', 'Total', round(sum(sc), 2), round(sum(cb), 2), round(t.ce, 2),
           round(sum(cd), 2), round(t.ce - sum(cd), 2), round(t.ce - sum(cd) - sum(sc), 2),
           (SELECT count(DISTINCT w) FROM unnest(lines) l2, unnest(l2.participants) w)::integer
    FROM r CROSS JOIN LATERAL (SELECT CASE WHEN bool_and(r2.ce IS NOT NULL) THEN sum(r2.ce) END AS ce
                               FROM r r2) t
    GROUP BY t.ce
    ORDER BY 2
    $$;
COMMENT ON FUNCTION koers.mkba_table_of(koers.mkba_line[], numeric) IS
    'Internal: koers.mkba from its lines, the before rate times f.';

CREATE OR REPLACE FUNCTION koers.mkba(as_of date, window_name text DEFAULT NULL,
                                      price_year integer DEFAULT NULL, ps text[] DEFAULT NULL)
    RETURNS SETOF koers.mkba_row
    LANGUAGE sql STABLE
    AS $$
    SELECT * FROM koers.mkba_table_of(
        ARRAY(SELECT l FROM koers.mkba_lines(as_of,
                  coalesce(window_name, koers.mkba_setting('mkba_window')),
                  coalesce(price_year, koers.mkba_setting('mkba_price_year')::integer), ps) l),
        coalesce(koers.mkba_setting('mkba_rtm_factor')::numeric, 1))
    $$;
COMMENT ON FUNCTION koers.mkba(date, text, integer, text[]) IS
    'The indicative MKBA per stakeholder (koers.payer) and in total, in EUR of price_year '
    '(default setting mkba_price_year), for the window (default setting mkba_window, '
    'intention_to_treat) against the 12 months before, over the participants ps (NULL: every '
    'participant enrolled by as_of). Columns: see COMMENT ON COLUMN koers.mkba_row.*.';

DO $$
DECLARE
    c record;
BEGIN
    FOR c IN SELECT * FROM (VALUES
        ('payer', 'The stakeholder (koers.payer), or total.'),
        ('ord', 'Order of the rows.'),
        ('label_nl', 'Dutch label.'),
        ('label_en', 'English label.'),
        ('support_cost', 'Cost: the programme''s support contacts in the window that this payer pays (EUR).'),
        ('cost_before', 'Crisis, stay and police cost in the 12 months before that this payer paid (EUR).'),
        ('cost_expected', 'Null alternative: the before rate per known person-month (times the factor mkba_rtm_factor) carried on over the window''s known person-months (EUR); NULL when no before day is known.'),
        ('cost_during', 'Crisis, stay and police cost in the window that this payer paid (EUR).'),
        ('benefit', 'Benefit: cost_expected - cost_during, the cost avoided (EUR; negative: more cost than expected).'),
        ('balance', 'benefit - support_cost (EUR).'),
        ('contributors', 'Distinct participants with a priced event or contact in this payer''s figures.')
    ) AS v(col, doc) LOOP
        EXECUTE format('COMMENT ON COLUMN koers.mkba_row.%I IS %L', c.col, c.doc);
    END LOOP;
END
$$;

------------------------------------------------------------------------------------------
-- Sensitivity: the total balance under each variation (a tornado chart).
------------------------------------------------------------------------------------------

-- The balance is linear in each price and in f: varying item i's price by d changes it by
-- d x share x (f x expected - during) on benefit lines and by -d x share x during on cost
-- lines; varying f by d changes it by d x share x price x expected on benefit lines.
CREATE OR REPLACE FUNCTION koers.mkba_sensitivity_of(lines koers.mkba_line[], f numeric, f_var numeric)
    RETURNS TABLE (variation text, item text, value_low numeric, value_high numeric,
                   balance_low numeric, balance_high numeric, balance_base numeric,
                   contributors integer)
    LANGUAGE sql IMMUTABLE
    AS $$
    WITH l AS (
        SELECT l.*,
               CASE WHEN l.side = 'benefit' THEN l.share * (f * l.units_expected - l.units_during)
                    ELSE -l.share * l.units_during END AS coef
        FROM unnest(lines) l
    ), b AS (
        SELECT sum(price * coef) AS base FROM l
    )
    SELECT 'unit_cost', l.item, round(min(l.price_low), 2), round(min(l.price_high), 2),
           round(b.base + sum((l.price_low - l.price) * l.coef), 2),
           round(b.base + sum((l.price_high - l.price) * l.coef), 2), round(b.base, 2),
           (SELECT count(DISTINCT w) FROM unnest(lines) l2, unnest(l2.participants) w
            WHERE l2.item = l.item)::integer
    FROM l, b GROUP BY l.item, b.base
    UNION ALL
    SELECT 'rtm_factor', NULL, least(f, f_var), greatest(f, f_var),
           round(b.base + (least(f, f_var) - f)
                 * (SELECT sum(share * price * units_expected) FROM l WHERE side = 'benefit'), 2),
           round(b.base + (greatest(f, f_var) - f)
                 * (SELECT sum(share * price * units_expected) FROM l WHERE side = 'benefit'), 2),
           round(b.base, 2),
           (SELECT count(DISTINCT w) FROM unnest(lines) l2, unnest(l2.participants) w
            WHERE l2.side = 'benefit')::integer
    FROM b
    ORDER BY 1 DESC, 2
    $$;
COMMENT ON FUNCTION koers.mkba_sensitivity_of(koers.mkba_line[], numeric, numeric) IS
    'Internal: koers.mkba_sensitivity from the lines, with base factor f and its variation f_var.';

CREATE OR REPLACE FUNCTION koers.mkba_sensitivity(as_of date, window_name text DEFAULT NULL,
                                                  price_year integer DEFAULT NULL, ps text[] DEFAULT NULL)
    RETURNS TABLE (variation text, item text, value_low numeric, value_high numeric,
                   balance_low numeric, balance_high numeric, balance_base numeric,
                   contributors integer)
    LANGUAGE sql STABLE
    AS $$
    SELECT * FROM koers.mkba_sensitivity_of(
        ARRAY(SELECT l FROM koers.mkba_lines(as_of,
                  coalesce(window_name, koers.mkba_setting('mkba_window')),
                  coalesce(price_year, koers.mkba_setting('mkba_price_year')::integer), ps) l),
        coalesce(koers.mkba_setting('mkba_rtm_factor')::numeric, 1),
        coalesce(koers.mkba_setting('mkba_rtm_variation')::numeric, 0.75))
    $$;
COMMENT ON FUNCTION koers.mkba_sensitivity(date, text, integer, text[]) IS
    'The total balance of koers.mkba under the base case (balance_base) and each variation: '
    'variation unit_cost (item: its price at value_low and value_high, EUR of the price year; '
    'every other price at base) and rtm_factor (the factor on the before rate at value_low and '
    'value_high: the settings mkba_rtm_factor and mkba_rtm_variation). contributors: distinct '
    'participants with units priced by the item (by any benefit line for rtm_factor).';

------------------------------------------------------------------------------------------
-- Who cashes in (verzilverplan).
------------------------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION koers.mkba_yearly(as_of date, cohort_size integer,
                                             window_name text DEFAULT NULL,
                                             price_year integer DEFAULT NULL, ps text[] DEFAULT NULL)
    RETURNS TABLE (payer text, ord integer, participants integer, person_years numeric,
                   benefit_per_person_year numeric, yearly_saving_now numeric,
                   yearly_saving_at_size numeric, cost_share numeric, contributors integer)
    LANGUAGE sql STABLE
    AS $$
    WITH a AS (
        SELECT koers.dash_window_check(coalesce(mkba_yearly.window_name,
                                                koers.mkba_setting('mkba_window'))) AS win
    ), w AS (
        SELECT count(*)::integer AS n, sum(koers.days_in(r.days)) / 365.25 AS py
        FROM koers.window_ranges(as_of) r, a
        WHERE r.window_name = a.win AND (ps IS NULL OR r.participant = ANY (ps))
    ), t AS (
        SELECT s.* FROM a CROSS JOIN LATERAL koers.mkba_sums_of(
            ARRAY(SELECT l FROM koers.mkba_lines(as_of, a.win,
                      coalesce(price_year, koers.mkba_setting('mkba_price_year')::integer), ps) l),
            coalesce(koers.mkba_setting('mkba_rtm_factor')::numeric, 1)) s
    ), y AS (
        SELECT t.payer, t.ord, (t.ce - t.cd) / nullif(w.py, 0) AS ppy,
               t.sc / nullif((SELECT sum(sc) FROM t), 0) AS share, t.n
        FROM t, w
    )
    SELECT y.payer, y.ord, w.n, round(w.py, 4), round(y.ppy, 2), round(y.ppy * w.n, 2),
           round(y.ppy * cohort_size, 2), round(coalesce(y.share, 0), 4), y.n
    FROM y, w ORDER BY y.ord
    $$;
COMMENT ON FUNCTION koers.mkba_yearly(date, integer, text, integer, text[]) IS
    'Who cashes in: per stakeholder the benefit of koers.mkba per person-year of the window '
    '(its days / 365.25), the yearly saving at the current number of participants and at '
    'cohort_size, beside the payer''s share of the programme''s support cost.';
