-- The MKBA on the dashboards and in the funder report (sql/defs/45_mkba.sql computes it):
-- dash.mkba's cells, suppressed for funders and partners; the assumptions and the index; and
-- schema report, what koers-report --audience funder reads. Owners and rights of the dash
-- functions are 90_grants'; those of schema report are given here.

-- The cells of the MKBA of one window (chart mkba.table: series a payer or total, category a
-- column of koers.mkba_row; mkba.sensitivity: series unit_cost:<item> or rtm_factor;
-- mkba.yearly: series a payer, categories benefit_per_person_year and cost_share;
-- mkba.meta: the settings, participants and person-years). For suppressed callers: the
-- MKBA of a cohort or organisation filter is hidden whole (differencing it against the
-- whole programme's is not guarded otherwise); a payer's row is hidden when 1..k-1
-- participants contribute to it, and while exactly one row of the table (payers and total)
-- with contributors is hidden, the one with the fewest other contributors is too; a
-- sensitivity row is hidden when 1..k-1 participants contribute to it or a payer it touches
-- is hidden (it discloses that payer's part); the participants when fewer than k.
CREATE OR REPLACE FUNCTION koers.dash_mkba_cells(window_name text, c koers.dash_caller_row,
                                                 p_cohort text, p_org text, as_of date)
    RETURNS koers.dash_cell[]
    LANGUAGE plpgsql STABLE
    AS $$
#variable_conflict use_variable
DECLARE
    k      integer := koers.min_cell();
    win    text := koers.dash_window_check(window_name);
    py     integer := coalesce(koers.mkba_setting('mkba_price_year')::integer, 2024);
    f      numeric := coalesce(koers.mkba_setting('mkba_rtm_factor')::numeric, 1);
    fv     numeric := coalesce(koers.mkba_setting('mkba_rtm_variation')::numeric, 0.75);
    ps     text[];
    lines  koers.mkba_line[];
    rows   koers.mkba_row[];
    hidden text[] := '{}';
    whole  boolean := c.suppress AND (p_cohort IS NOT NULL OR p_org IS NOT NULL);
    n_part integer;
    pyears numeric;
    nxt    text;
    cells  koers.dash_cell[];
BEGIN
    SELECT array_agg(f2.participant) INTO ps
    FROM koers.dash_filter_flags(p_cohort, p_org, as_of) f2 WHERE f2.in_c AND f2.in_o;
    ps := coalesce(ps, '{}');
    n_part := cardinality(ps);
    SELECT sum(koers.days_in(r.days)) / 365.25 INTO pyears
    FROM koers.window_ranges(as_of) r WHERE r.window_name = win AND r.participant = ANY (ps);
    lines := ARRAY(SELECT l FROM koers.mkba_lines(as_of, win, py, ps) l);
    rows := ARRAY(SELECT r FROM koers.mkba_table_of(lines, f) r);
    IF c.suppress THEN
        hidden := ARRAY(SELECT r.payer FROM unnest(rows) r WHERE r.contributors BETWEEN 1 AND k - 1);
        LOOP
            EXIT WHEN (SELECT count(*) FROM unnest(rows) r
                       WHERE r.contributors > 0 AND r.payer = ANY (hidden)) <> 1;
            SELECT r.payer INTO nxt FROM unnest(rows) r
            WHERE r.contributors > 0 AND NOT r.payer = ANY (hidden)
            ORDER BY r.payer = 'total', r.contributors, r.ord LIMIT 1;
            EXIT WHEN nxt IS NULL;
            hidden := hidden || nxt;
        END LOOP;
    END IF;
    WITH t AS (
        SELECT r.*, whole OR r.payer = ANY (hidden) AS hide FROM unnest(rows) r
    ), s AS (
        SELECT x.*, whole OR (c.suppress AND (x.contributors BETWEEN 1 AND k - 1
                   OR 'total' = ANY (hidden)
                   OR EXISTS (SELECT 1 FROM unnest(lines) l
                              WHERE l.payer = ANY (hidden)
                                AND (x.variation = 'rtm_factor' AND l.side = 'benefit'
                                     OR l.item = x.item)))) AS hide
        FROM koers.mkba_sensitivity_of(lines, f, fv) x
    ), y AS (
        SELECT m.payer, (m.ce - m.cd) / nullif(pyears, 0) AS ppy,
               coalesce(m.sc / nullif(sum(m.sc) OVER (), 0), 0) AS share
        FROM koers.mkba_sums_of(lines, f) m
    )
    SELECT array_agg(ROW(x.chart, x.series, x.category, CASE WHEN x.hide THEN NULL ELSE x.value END,
                         x.hide)::koers.dash_cell ORDER BY x.chart, x.series, x.category)
    INTO cells FROM (
        SELECT 'mkba.table' AS chart, t.payer AS series, v.category, v.value, t.hide
        FROM t CROSS JOIN LATERAL (VALUES ('support_cost', t.support_cost), ('cost_before', t.cost_before),
            ('cost_expected', t.cost_expected), ('cost_during', t.cost_during), ('benefit', t.benefit),
            ('balance', t.balance)) v(category, value)
        UNION ALL
        SELECT 'mkba.sensitivity', s.variation || coalesce(':' || s.item, ''), v.category, v.value, s.hide
        FROM s CROSS JOIN LATERAL (VALUES ('value_low', s.value_low), ('value_high', s.value_high),
            ('balance_low', s.balance_low), ('balance_high', s.balance_high),
            ('balance_base', s.balance_base)) v(category, value)
        UNION ALL
        SELECT 'mkba.yearly', y.payer, v.category, v.value, t.hide
        FROM y JOIN t ON t.payer = y.payer
        CROSS JOIN LATERAL (VALUES ('benefit_per_person_year', round(y.ppy, 2)),
                                   ('cost_share', round(y.share, 4))) v(category, value)
        UNION ALL
        SELECT 'mkba.meta', 'setting', v.category, v.value, v.hide
        FROM (VALUES ('price_year', py::numeric, false), ('rtm_factor', f, false),
                     ('rtm_variation', fv, false),
                     ('default_range', coalesce(koers.mkba_setting('mkba_default_range')::numeric, 0.25), false),
                     ('participants', n_part::numeric, whole OR (c.suppress AND n_part BETWEEN 1 AND k - 1)),
                     ('person_years', round(pyears, 4), whole OR (c.suppress AND n_part BETWEEN 1 AND k - 1)))
             v(category, value, hide)
    ) x;
    RETURN coalesce(cells, '{}');
END
$$;
COMMENT ON FUNCTION koers.dash_mkba_cells(text, koers.dash_caller_row, text, text, date) IS
    'Internal: the MKBA of one window for a filter setting as dashboard cells (mkba.table, '
    'mkba.sensitivity, mkba.yearly, mkba.meta), suppressed for suppressed callers.';

CREATE OR REPLACE FUNCTION dash.mkba(cohort text, organisation text, period_from date, period_to date,
                                     window_name text)
    RETURNS SETOF koers.dash_cell
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    c koers.dash_caller_row := koers.dash_require(ARRAY['evaluator', 'funder', 'partner', 'admin']);
BEGIN
    RETURN QUERY SELECT * FROM koers.dash_page(ARRAY['mkba'],
        'mkba.' || koers.dash_window_check(coalesce(window_name, koers.mkba_setting('mkba_window'))),
        c, cohort, organisation, period_from, period_to, NULL, NULL);
END
$$;
COMMENT ON FUNCTION dash.mkba(text, text, date, date, text) IS
    'Indicative MKBA on the cost page, for a window (NULL: setting mkba_window) against the 12 '
    'months before, in prices of setting mkba_price_year: mkba.table (per payer and total: '
    'support_cost, cost_before, cost_expected, cost_during, benefit, balance), mkba.sensitivity '
    '(unit_cost:<item> and rtm_factor: value_low/high, balance_low/high, balance_base), '
    'mkba.yearly (per payer: benefit_per_person_year, cost_share), mkba.meta. Suppressed for '
    'funders and partners (see koers.dash_mkba_cells).';

-- The assumptions beside the table: every unit cost in use with its payers, its price in the
-- price year and its range; and the index. They hold no participant's data.
CREATE OR REPLACE FUNCTION dash.mkba_assumptions()
    RETURNS TABLE (item text, per text, amount_eur numeric, price_year integer, source text,
                   price numeric, price_low numeric, price_high numeric, range_source text,
                   payers text, payer_source text, prices text)
    LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$
#variable_conflict use_column
BEGIN
    PERFORM koers.dash_require(ARRAY['evaluator', 'funder', 'partner', 'admin']);
    RETURN QUERY
        SELECT u.item, u.per, u.amount_eur, u.price_year, u.source, round(p.price, 2),
               round(p.price_low, 2), round(p.price_high, 2),
               coalesce(u.range_source, 'none given: +-' || round(100 * coalesce(
                   koers.mkba_setting('mkba_default_range')::numeric, 0.25)) || '%'),
               coalesce((SELECT string_agg(y.payer || ' ' || round(100 * y.share) || '%', ', '
                                           ORDER BY y.share DESC, y.payer)
                         FROM koers.unit_cost_payer y WHERE y.item = u.item), 'other 100%'),
               (SELECT string_agg(DISTINCT y.source || ' (' || y.valid_year || ')', '; ')
                FROM koers.unit_cost_payer y WHERE y.item = u.item),
               (SELECT string_agg(m.event_type || ':' || m.kind, ', ' ORDER BY m.event_type, m.kind)
                FROM koers.unit_cost_map m WHERE m.item = u.item)
        FROM koers.unit_cost u
        JOIN koers.mkba_prices(coalesce(koers.mkba_setting('mkba_price_year')::integer, 2024)) p
            ON p.item = u.item
        ORDER BY u.item;
END
$$;
COMMENT ON FUNCTION dash.mkba_assumptions() IS
    'The unit costs of the MKBA: amount with its own year and source, the price in the price '
    'year (setting mkba_price_year, consumer price index), low and high with their source, the '
    'payers with shares and the source of the split, the event kinds it prices.';

CREATE OR REPLACE FUNCTION dash.price_index()
    RETURNS TABLE (year integer, cpi numeric, source text)
    LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$
#variable_conflict use_column
BEGIN
    PERFORM koers.dash_require(ARRAY['evaluator', 'funder', 'partner', 'admin']);
    RETURN QUERY SELECT i.year, i.cpi, i.source FROM koers.price_index i ORDER BY i.year;
END
$$;
COMMENT ON FUNCTION dash.price_index() IS 'The consumer price index the MKBA indexes prices with.';

------------------------------------------------------------------------------------------
-- The funder report (koers-report --audience funder): the cells of the pages it prints, as
-- a funder sees them (suppressed, as of the end of the last complete month, no filter),
-- whoever runs it; so the document can be sent as it is. No per-participant row.
------------------------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION report.meta()
    RETURNS TABLE (as_of date, generated_at timestamptz, suppressed_below integer, price_year integer,
                   window_name text, rtm_factor numeric, rtm_variation numeric, default_range numeric,
                   time_zone text)
    LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    f koers.dash_caller_row := ROW('koers-report', 'funder', NULL, true);
BEGIN
    PERFORM koers.dash_require(ARRAY['evaluator', 'funder', 'partner', 'admin']);
    RETURN QUERY SELECT koers.dash_as_of(f, NULL), now(), koers.min_cell(),
        coalesce(koers.mkba_setting('mkba_price_year')::integer, 2024),
        coalesce(koers.mkba_setting('mkba_window'), 'intention_to_treat'),
        coalesce(koers.mkba_setting('mkba_rtm_factor')::numeric, 1),
        coalesce(koers.mkba_setting('mkba_rtm_variation')::numeric, 0.75),
        coalesce(koers.mkba_setting('mkba_default_range')::numeric, 0.25),
        (SELECT s.value FROM koers.setting s WHERE s.name = 'time_zone');
END
$$;
COMMENT ON FUNCTION report.meta() IS
    'The funder report''s as-of date (the end of the last complete month, as the funder pages), '
    'when it was made, k of the suppression and the MKBA settings.';

CREATE OR REPLACE FUNCTION report.funder_cells()
    RETURNS SETOF koers.dash_cell
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    f     koers.dash_caller_row := ROW('koers-report', 'funder', NULL, true);
    as_of date := koers.dash_as_of(f, NULL);
    win   text := coalesce(koers.mkba_setting('mkba_window'), 'intention_to_treat');
BEGIN
    PERFORM koers.dash_require(ARRAY['evaluator', 'funder', 'partner', 'admin']);
    RETURN QUERY
    SELECT x.* FROM (
        SELECT * FROM unnest(koers.dash_group('overview', f, NULL, NULL, as_of,
                                              ARRAY['overview.goals=overview.goals_set_by'], NULL))
        UNION ALL
        SELECT * FROM unnest(koers.dash_group('outcomes', f, NULL, NULL, as_of,
                                              koers.dash_outcomes_links(), koers.dash_outcomes_extra()))
        UNION ALL
        SELECT * FROM unnest(koers.dash_group('evidence.' || koers.dash_window_check(win), f, NULL, NULL,
                                              as_of, NULL, NULL))
        UNION ALL
        SELECT * FROM unnest(koers.dash_group('mkba.' || win, f, NULL, NULL, as_of, NULL, NULL))
    ) x
    -- Monthly series are for the screen; the report prints totals.
    WHERE x.category !~ '^\d{4}-\d{2}$' AND x.chart NOT LIKE 'support.own%'
    ORDER BY x.chart, x.series, x.category;
END
$$;
COMMENT ON FUNCTION report.funder_cells() IS
    'The cells the funder report prints (overview, outcomes, the evidence and the MKBA of the '
    'setting mkba_window), suppressed as for a funder, without monthly series.';

ALTER FUNCTION report.meta() OWNER TO koers_reader;
ALTER FUNCTION report.funder_cells() OWNER TO koers_reader;
REVOKE EXECUTE ON FUNCTION report.meta(), report.funder_cells() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION report.meta(), report.funder_cells()
    TO koers_evaluator, koers_funder, koers_partner, koers_admin;
