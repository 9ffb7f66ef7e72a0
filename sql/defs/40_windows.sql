-- koers definitions, windows and evidence (Measures v2): before, per-protocol,
-- intention-to-treat and follow-up windows cut by source coverage, the paired
-- per-participant rates and the cohort's spread and tests (median, IQR, Wilcoxon, bootstrap).

-- The windows of each participant enrolled by as_of, as sets of days. Per-protocol: the
-- enrolled days; intention-to-treat: every day from the first enrolled day; follow-up: the
-- 12 months from the day of an exit that no later span follows; before: the 12 months
-- before the first enrolled day. All cut at the as-of day (included).
CREATE OR REPLACE FUNCTION koers.window_ranges(as_of date)
    RETURNS TABLE (participant text, cohort text, window_name text, days datemultirange)
    LANGUAGE sql STABLE
    AS $$
    WITH p AS (
        SELECT p.participant, p.cohort, p.first_enrolled, p.before_start,
               (SELECT s.end_day FROM koers.enrolment_span s
                WHERE s.participant = p.participant AND s.start_day <= as_of
                ORDER BY s.span_no DESC LIMIT 1) AS last_end,
               (SELECT s.ended_by FROM koers.enrolment_span s
                WHERE s.participant = p.participant AND s.start_day <= as_of
                ORDER BY s.span_no DESC LIMIT 1) AS last_ended_by
        FROM koers.participant p WHERE p.first_enrolled <= as_of
    )
    SELECT participant, cohort, 'before', datemultirange(daterange(before_start, first_enrolled))
    FROM p
    UNION ALL
    SELECT p.participant, p.cohort, 'per_protocol',
           coalesce((SELECT range_agg(daterange(s.start_day, least(coalesce(s.end_day, as_of + 1), as_of + 1)))
                     FROM koers.enrolment_span s
                     WHERE s.participant = p.participant AND s.start_day <= as_of),
                    '{}'::datemultirange)
    FROM p
    UNION ALL
    SELECT participant, cohort, 'intention_to_treat', datemultirange(daterange(first_enrolled, as_of + 1))
    FROM p
    UNION ALL
    SELECT participant, cohort, 'follow_up',
           datemultirange(daterange(last_end, least((last_end + interval '12 months')::date, as_of + 1)))
    FROM p WHERE last_ended_by = 'exited' AND last_end <= as_of
    $$;
COMMENT ON FUNCTION koers.window_ranges(date) IS
    'Per participant enrolled by as_of, the days of each window: before (the 12 calendar months '
    'before the first enrolled day), per_protocol (enrolled days), intention_to_treat (every day '
    'from the first enrolled day, paused and after-exit time included), follow_up (the 12 months '
    'from the day of the last exit, when no span followed it); all up to the as-of day included.';

CREATE OR REPLACE FUNCTION koers.window_exposure(as_of date)
    RETURNS TABLE (participant text, cohort text, window_name text, days integer)
    LANGUAGE sql STABLE
    AS $$ SELECT participant, cohort, window_name, koers.days_in(days) FROM koers.window_ranges(as_of) $$;
COMMENT ON FUNCTION koers.window_exposure(date) IS
    'The days of each window of koers.window_ranges.';

-- Source coverage. A source that states the period its data of an event type cover makes
-- every other day unknown for that type: such a day adds neither events nor person-months
-- to the type's measures. Several sources of a type: the days all of them cover.
CREATE OR REPLACE FUNCTION koers.covered_days(t text) RETURNS datemultirange
    LANGUAGE sql STABLE
    AS $$
    SELECT range_intersect_agg(m) FROM (
        SELECT range_agg(daterange(covered_from, covered_to + 1)) AS m
        FROM koers.coverage_valid WHERE covered_type::text = t GROUP BY source) s
    $$;
COMMENT ON FUNCTION koers.covered_days(text) IS
    'The days whose data of event type t are known: the days every source that stated its '
    'coverage of t covers (covered_from .. covered_to, an open end running on); NULL when no '
    'source stated any (every day counts).';

-- The known days of an event type's data: its covered days, or every day when no source
-- stated its coverage of the type.
CREATE OR REPLACE FUNCTION koers.known_days(t text) RETURNS datemultirange
    LANGUAGE sql STABLE
    AS $$ SELECT coalesce(koers.covered_days(t), '{(,)}'::datemultirange) $$;

-- The known days of a row of koers.use_at (pieces of stays alike on [day, day + span), cut at
-- the as-of day; days: their days, or billable days, in all): the days that fall in cov.
-- A row of events without days (span 0) has none.
CREATE OR REPLACE FUNCTION koers.use_known_days(day date, days integer, span integer, as_of date,
                                                cov datemultirange) RETURNS integer
    LANGUAGE sql IMMUTABLE
    AS $$
    SELECT CASE WHEN span > 0
                THEN days / least(span, as_of + 1 - day)
                     * koers.days_in(datemultirange(daterange(day, day + least(span, as_of + 1 - day))) * cov)
                ELSE 0 END
    $$;
COMMENT ON FUNCTION koers.use_known_days(date, integer, integer, date, datemultirange) IS
    'Internal: of the days of a koers.use_at row, those on days in cov (a type''s covered days).';

CREATE OR REPLACE FUNCTION koers.window_measures(as_of date)
    RETURNS SETOF koers.window_row
    LANGUAGE sql STABLE
    AS $$
    WITH cov AS (
        SELECT koers.known_days('crisis') AS crisis, koers.known_days('police_call') AS police
    ), w AS (
        SELECT r.*, koers.days_in(r.days) AS n_days,
               koers.days_in(r.days * cov.crisis) AS crisis_days,
               koers.days_in(r.days * cov.police) AS police_days
        FROM koers.window_ranges(as_of) r, cov
    ), u AS (
        -- A row holds pieces of stays alike in [day, day + its days); its covered days count.
        SELECT d.participant, d.day, d.events,
               koers.use_known_days(d.day, d.days, d.span, as_of,
                                    CASE d.event_type WHEN 'crisis' THEN cov.crisis ELSE cov.police END) AS days,
               d.day <@ CASE d.event_type WHEN 'crisis' THEN cov.crisis ELSE cov.police END AS known,
               CASE d.event_type WHEN 'crisis' THEN koers.crisis_group(d.kind::koers.crisis_kind)
                                 ELSE 'police_' || koers.police_group(d.kind::koers.police_call_kind) END
                   AS grp,
               d.kind
        FROM koers.use_at(as_of) d, cov
        WHERE d.event_type IN ('crisis', 'police_call')
    ), m AS (
        SELECT w.participant, w.window_name,
               sum(u.events) FILTER (WHERE u.grp = 'acute' AND u.known) AS ae,
               sum(u.days) FILTER (WHERE u.grp = 'acute') AS ad,
               sum(u.events) FILTER (WHERE u.grp = 'alternative' AND u.known) AS se,
               sum(u.days) FILTER (WHERE u.grp = 'alternative') AS sd,
               sum(u.events) FILTER (WHERE u.grp = 'police_use' AND u.known) AS pu,
               sum(u.events) FILTER (WHERE u.grp = 'police_use' AND u.kind = 'confused_person'
                                     AND u.known) AS pc,
               sum(u.events) FILTER (WHERE u.grp = 'police_victim' AND u.known) AS pv
        FROM w JOIN u ON u.participant = w.participant AND u.day <@ w.days
        GROUP BY 1, 2
    )
    SELECT w.participant, w.cohort, w.window_name, w.n_days,
           round(w.n_days / koers.person_month_days(), 4),
           coalesce(ae, 0)::integer, coalesce(ad, 0)::integer, coalesce(se, 0)::integer,
           coalesce(sd, 0)::integer, coalesce(pu, 0)::integer, coalesce(pc, 0)::integer,
           coalesce(pv, 0)::integer, w.crisis_days, w.police_days
    FROM w LEFT JOIN m ON m.participant = w.participant AND m.window_name = w.window_name
    ORDER BY w.cohort, w.participant, w.window_name
    $$;
COMMENT ON FUNCTION koers.window_measures(date) IS
    'Crisis and police measures per participant and window (see window_ranges): acute crisis '
    'events and stay days, stay alternatives (respite_stay, shelter_night) apart, police calls '
    'about the participant (confused-person calls among them) and victim calls apart. A stay''s '
    'days count on the days they cover; its event on its first day. Days outside the stated '
    'coverage of their type (koers.covered_days) add neither events nor days; '
    'crisis_covered_days and police_covered_days are the window''s known days per type.';

------------------------------------------------------------------------------------------
-- Spread and evidence: paired before/during rates per participant and their statistics.
------------------------------------------------------------------------------------------

-- Quantiles by linear interpolation between order statistics (Hyndman and Fan type 7, R's
-- default), exactly in numeric: percentile_cont works in double precision, whose rounding
-- would move figures shown to 4 decimals.
CREATE OR REPLACE FUNCTION koers.quantile(x numeric[], p numeric) RETURNS numeric
    LANGUAGE sql IMMUTABLE
    AS $$
    WITH s AS (SELECT array_agg(v ORDER BY v) AS v, count(*) AS n FROM unnest(x) v WHERE v IS NOT NULL),
         h AS (SELECT v, n, (n - 1) * p + 1 AS h FROM s WHERE n > 0)
    SELECT v[floor(h)::integer] + (h - floor(h)) * (coalesce(v[floor(h)::integer + 1], v[floor(h)::integer])
                                                   - v[floor(h)::integer])
    FROM h
    $$;
COMMENT ON FUNCTION koers.quantile(numeric[], numeric) IS
    'The p-quantile of x (NULLs left out) by linear interpolation (type 7), exact in numeric.';

-- Standard normal upper tail from the Maclaurin series of erf in numeric: exact to far more
-- digits than a p-value shown to 4 decimals needs, and no approximation to disagree with.
CREATE OR REPLACE FUNCTION koers.normal_upper_tail(z numeric) RETURNS numeric
    LANGUAGE plpgsql IMMUTABLE
    AS $fn$
DECLARE
    x numeric := abs(z) / sqrt(2.0::numeric(60, 50));
    term numeric := x;
    erf numeric := x;
    n integer := 0;
BEGIN
    IF abs(z) > 8 THEN  -- below 1e-15: zero at any precision shown
        RETURN CASE WHEN z > 0 THEN 0 ELSE 1 END;
    END IF;
    LOOP
        n := n + 1;
        term := round(-term * x * x / n, 50);
        erf := erf + term / (2 * n + 1);
        EXIT WHEN abs(term) < 1e-40;
    END LOOP;
    erf := erf * 2 / sqrt(3.14159265358979323846264338327950288419716939937510::numeric(60, 50));
    RETURN CASE WHEN z >= 0 THEN (1 - erf) / 2 ELSE (1 + erf) / 2 END;
END
$fn$;
COMMENT ON FUNCTION koers.normal_upper_tail(numeric) IS
    'P(Z >= z) for a standard normal Z, from the series of erf in numeric.';

-- Wilcoxon signed-rank test on d = during - before (zero differences dropped, tied |d| given
-- their mean rank): exact two-sided p from the permutation distribution of W+ for up to 25
-- non-zero differences, else the normal approximation with tie and continuity correction.
-- Bootstrap: 2,000 resamples of the n differences with replacement, drawn with a fixed
-- stream (index = first 8 hex digits of md5('koers:<resample>:<draw>') mod n), so a rerun
-- and any other implementation give the same interval; the 2.5th and 97.5th percentiles
-- (linear interpolation) of the resamples' medians.
CREATE OR REPLACE FUNCTION koers.paired_statistics(d numeric[]) RETURNS koers.paired_stats
    LANGUAGE plpgsql IMMUTABLE
    AS $fn$
DECLARE
    r koers.paired_stats;
    nz numeric[];
    ranks numeric[];
    m integer;
    i integer;
    j integer;
    k integer;
    s2 integer;            -- twice the sum of ranks: midranks are multiples of 0.5
    total2 integer := 0;
    dist double precision[];
    w2 integer;
    p_lo double precision := 0;
    p_hi double precision := 0;
    mu numeric;
    sigma2 numeric;
    z numeric;
    ties numeric := 0;
BEGIN
    r.n := coalesce(cardinality(d), 0);
    IF r.n = 0 THEN
        RETURN r;
    END IF;
    r.median_difference := koers.quantile(d, 0.5);
    r.q1_difference := koers.quantile(d, 0.25);
    r.q3_difference := koers.quantile(d, 0.75);

    nz := ARRAY(SELECT x FROM unnest(d) x WHERE x <> 0 ORDER BY abs(x));
    m := cardinality(nz);
    r.n_nonzero := m;
    IF m > 0 THEN
        -- Mean ranks of |d| (first rank + (ties - 1) / 2), doubled to stay integers.
        ranks := ARRAY(SELECT (2 * (rank() OVER (ORDER BY abs(x))) + (count(*) OVER (PARTITION BY abs(x))) - 1)::numeric
                       FROM unnest(nz) WITH ORDINALITY AS t(x, o) ORDER BY o);
        w2 := 0;
        FOR i IN 1..m LOOP
            total2 := total2 + ranks[i]::integer;
            IF nz[i] > 0 THEN
                w2 := w2 + ranks[i]::integer;
            END IF;
        END LOOP;
        r.w_plus := round(w2 / 2.0, 1);
        IF m <= 25 THEN
            -- dist[s + 1]: number of sign assignments whose doubled positive rank sum is s.
            dist := array_fill(0::double precision, ARRAY[total2 + 1]);
            dist[1] := 1;
            FOR i IN 1..m LOOP
                k := ranks[i]::integer;
                FOR j IN REVERSE total2..k LOOP
                    dist[j + 1] := dist[j + 1] + dist[j - k + 1];
                END LOOP;
            END LOOP;
            FOR s2 IN 0..total2 LOOP
                IF s2 <= w2 THEN p_lo := p_lo + dist[s2 + 1]; END IF;
                IF s2 >= w2 THEN p_hi := p_hi + dist[s2 + 1]; END IF;
            END LOOP;
            r.p_value := round(least(1.0, 2 * least(p_lo, p_hi) / power(2.0, m))::numeric, 4);
            r.p_method := 'exact';
        ELSE
            SELECT coalesce(sum(c * c * c - c), 0) INTO ties
            FROM (SELECT count(*)::numeric AS c FROM unnest(nz) x GROUP BY abs(x)) t;
            mu := m * (m + 1) / 4.0;
            sigma2 := m * (m + 1) * (2 * m + 1) / 24.0 - ties / 48.0;
            z := (r.w_plus - mu - sign(r.w_plus - mu) * 0.5) / sqrt(sigma2::numeric(60, 30));
            r.p_value := round(least(1.0, 2 * koers.normal_upper_tail(abs(z))), 4);
            r.p_method := 'normal';
        END IF;
    ELSE
        r.p_value := 1;
        r.p_method := 'exact';
        r.w_plus := 0.0;
    END IF;

    SELECT koers.quantile(array_agg(med), 0.025), koers.quantile(array_agg(med), 0.975)
    INTO r.boot_lo, r.boot_hi
    FROM (
        SELECT resample, koers.quantile(array_agg(d[1 + (('x' || substr(md5(
                   'koers:' || resample || ':' || draw), 1, 8))::bit(32)::bigint % r.n)::integer]),
                   0.5) AS med
        FROM generate_series(1, 2000) resample, generate_series(1, r.n) draw
        GROUP BY resample
    ) s;
    r.median_difference := round(r.median_difference, 4);
    r.q1_difference := round(r.q1_difference, 4);
    r.q3_difference := round(r.q3_difference, 4);
    r.boot_lo := round(r.boot_lo, 4);
    r.boot_hi := round(r.boot_hi, 4);
    RETURN r;
END
$fn$;
COMMENT ON FUNCTION koers.paired_statistics(numeric[]) IS
    'Spread and evidence of paired differences (during - before): n, the median and quartiles '
    '(linear interpolation), the Wilcoxon signed-rank test (W+ and a two-sided p: exact for up '
    'to 25 non-zero differences, else normal with tie and continuity correction) and a '
    'bootstrap 95% interval of the median difference (2,000 resamples from a fixed md5 stream).';

-- The measures that have a rate per person-month, in the order pages show them.
CREATE OR REPLACE FUNCTION koers.window_measure_names() RETURNS text[]
    LANGUAGE sql IMMUTABLE
    AS $$ SELECT ARRAY['acute_events', 'acute_days', 'alternative_events', 'alternative_days',
                       'police_use_calls', 'confused_person_calls', 'police_victim_calls'] $$;

-- The event type whose stated coverage makes a measure's days known or unknown.
CREATE OR REPLACE FUNCTION koers.window_measure_type(m text) RETURNS text
    LANGUAGE sql IMMUTABLE
    AS $$ SELECT CASE WHEN m IN ('police_use_calls', 'confused_person_calls', 'police_victim_calls')
                      THEN 'police_call' ELSE 'crisis' END $$;

CREATE OR REPLACE FUNCTION koers.window_paired(as_of date)
    RETURNS TABLE (participant text, cohort text, window_name text, measure text,
                   before_count integer, during_count integer, before_days integer,
                   during_days integer, before_rate numeric, during_rate numeric,
                   difference numeric, full_coverage boolean)
    LANGUAGE sql STABLE
    AS $$
    WITH w AS (SELECT * FROM koers.window_measures(as_of)),
    v AS (
        -- Each measure over the known days of its type.
        SELECT w.participant, w.cohort, w.window_name, x.measure, x.n, x.known,
               x.known = w.days AS full
        FROM w CROSS JOIN LATERAL unnest(koers.window_measure_names(),
            ARRAY[w.acute_events, w.acute_days, w.alternative_events, w.alternative_days,
                  w.police_use_calls, w.confused_person_calls, w.police_victim_calls],
            ARRAY[w.crisis_covered_days, w.crisis_covered_days, w.crisis_covered_days,
                  w.crisis_covered_days, w.police_covered_days, w.police_covered_days,
                  w.police_covered_days]) AS x(measure, n, known)
    )
    SELECT d.participant, d.cohort, d.window_name, d.measure, b.n, d.n, b.known, d.known,
           round(b.n * koers.person_month_days() / b.known, 4),
           round(d.n * koers.person_month_days() / d.known, 4),
           round(d.n * koers.person_month_days() / d.known, 4)
               - round(b.n * koers.person_month_days() / b.known, 4),
           b.full AND d.full
    FROM v d JOIN v b ON b.participant = d.participant AND b.measure = d.measure
                     AND b.window_name = 'before'
    WHERE d.window_name <> 'before' AND d.known > 0 AND b.known > 0
    ORDER BY d.cohort, d.participant, d.window_name, array_position(koers.window_measure_names(), d.measure)
    $$;
COMMENT ON FUNCTION koers.window_paired(date) IS
    'Per participant, window (per_protocol, intention_to_treat, follow_up) and measure: the '
    'count, known days and rate per person-month before and in the window, and the difference '
    '(during - before; rates rounded to 4 decimals first). Only participants with known days in '
    'both; full_coverage when every day of both windows is known for the measure''s type.';

CREATE OR REPLACE FUNCTION koers.window_evidence(as_of date)
    RETURNS TABLE (cohort text, window_name text, measure text, n integer,
                   pooled_before_rate numeric, pooled_during_rate numeric,
                   median_before_rate numeric, q1_before_rate numeric, q3_before_rate numeric,
                   median_during_rate numeric, q1_during_rate numeric, q3_during_rate numeric,
                   stats koers.paired_stats, full_coverage integer)
    LANGUAGE sql STABLE
    AS $$
    SELECT cohort, window_name, measure, count(*)::integer,
           round(sum(before_count) * koers.person_month_days() / sum(before_days), 4),
           round(sum(during_count) * koers.person_month_days() / sum(during_days), 4),
           round(koers.quantile(array_agg(before_rate), 0.5), 4),
           round(koers.quantile(array_agg(before_rate), 0.25), 4),
           round(koers.quantile(array_agg(before_rate), 0.75), 4),
           round(koers.quantile(array_agg(during_rate), 0.5), 4),
           round(koers.quantile(array_agg(during_rate), 0.25), 4),
           round(koers.quantile(array_agg(during_rate), 0.75), 4),
           koers.paired_statistics(array_agg(difference ORDER BY participant)),
           (count(*) FILTER (WHERE full_coverage))::integer
    FROM koers.window_paired(as_of)
    GROUP BY cohort, window_name, measure
    ORDER BY cohort, window_name, array_position(koers.window_measure_names(), measure)
    $$;
COMMENT ON FUNCTION koers.window_evidence(date) IS
    'Per cohort, window and measure: n participants with both windows, the pooled rates (sum '
    'of counts / sum of person-months), the median and quartiles of the per-participant rates, '
    'the paired statistics of their differences (koers.paired_statistics), and how many of the n '
    'had full coverage (every day of both windows known for the measure''s type).';

-- window_evidence's statistics without its grouping by cohort: over the paired rows given
-- (koers.window_paired rows of one window), per measure, and who contributes to each side.
CREATE OR REPLACE FUNCTION koers.window_evidence_of(pairs koers.window_paired_row[])
    RETURNS TABLE (measure text, n integer, n_before integer, n_during integer,
                   pooled_before_rate numeric, pooled_during_rate numeric,
                   median_before_rate numeric, q1_before_rate numeric, q3_before_rate numeric,
                   median_during_rate numeric, q1_during_rate numeric, q3_during_rate numeric,
                   stats koers.paired_stats, full_coverage integer)
    LANGUAGE sql IMMUTABLE
    AS $$
    SELECT m.measure, count(w.participant)::integer,
           count(*) FILTER (WHERE w.before_count > 0)::integer,
           count(*) FILTER (WHERE w.during_count > 0)::integer,
           round(sum(w.before_count) * koers.person_month_days() / sum(w.before_days), 4),
           round(sum(w.during_count) * koers.person_month_days() / sum(w.during_days), 4),
           round(koers.quantile(array_agg(w.before_rate), 0.5), 4),
           round(koers.quantile(array_agg(w.before_rate), 0.25), 4),
           round(koers.quantile(array_agg(w.before_rate), 0.75), 4),
           round(koers.quantile(array_agg(w.during_rate), 0.5), 4),
           round(koers.quantile(array_agg(w.during_rate), 0.25), 4),
           round(koers.quantile(array_agg(w.during_rate), 0.75), 4),
           koers.paired_statistics(array_agg(w.difference ORDER BY w.participant)
                                   FILTER (WHERE w.participant IS NOT NULL)),
           count(*) FILTER (WHERE w.full_coverage)::integer
    FROM unnest(koers.window_measure_names()) WITH ORDINALITY m(measure, ord)
    LEFT JOIN unnest(pairs) w ON w.measure = m.measure
    GROUP BY m.measure, m.ord
    ORDER BY m.ord
    $$;
COMMENT ON FUNCTION koers.window_evidence_of(koers.window_paired_row[]) IS
    'Internal: koers.window_evidence''s figures over the paired rows given (one window), per '
    'measure of koers.window_measure_names() (n 0 where none), with the participants whose '
    'count before (n_before) and during (n_during) is not zero.';
