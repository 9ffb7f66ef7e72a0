/* koers dashboards: one renderer per page; each turns the API's cells into key figures, charts
 * and the tables behind them. */
'use strict';
(function () {
  const K = window.K;
  const t = K.t;

  const DOMAINS = {
    participation: ['daytime_activity', 'work', 'social_contact', 'family', 'pet', 'leisure'],
    living_environment: ['housing', 'finances', 'safety_justice', 'self_care'],
    continuity_of_support: ['physical_health', 'mental_health', 'addiction'],
    unclassified: ['other'],
  };
  const CORNERS = Object.keys(DOMAINS);
  const STATUSES = ['achieved', 'open', 'revised', 'abandoned'];
  const PERIODS = ['before', 'during'];
  const byMonth = (a, b) => (a < b ? -1 : a > b ? 1 : 0);
  const isMonth = (s) => /^\d{4}-\d{2}$/.test(s);

  const grid = (main) => main.appendChild(K.el('div', { class: 'grid' }));
  const axisFmt = (kind) => ({ callback: (v) => K.fmt(v, kind) });
  const tooltipFmt = (kind) => ({ callbacks: { label: (ctx) => ctx.dataset.label + ': ' + (ctx.raw === null ? K.supText() : K.fmt(ctx.parsed[ctx.chart.options.indexAxis === 'y' ? 'x' : 'y'], kind)) } });

  /* A bar chart of series (datasets) over categories (labels). */
  function bars(labels, datasets, kind, opts) {
    opts = opts || {};
    return {
      type: 'bar',
      data: { labels, datasets },
      options: {
        indexAxis: opts.horizontal ? 'y' : 'x',
        scales: {
          [opts.horizontal ? 'x' : 'y']: { beginAtZero: true, stacked: !!opts.stacked, ticks: axisFmt(kind), grid: { color: '#e5e7eb' } },
          [opts.horizontal ? 'y' : 'x']: { stacked: !!opts.stacked, grid: { display: false } },
        },
        plugins: { legend: { display: datasets.length > 1, position: 'bottom' }, tooltip: tooltipFmt(kind) },
      },
    };
  }
  const ds = (label, data, color, extra) => Object.assign({ label, data, backgroundColor: color, borderColor: color }, extra || {});

  /* A breakdown before versus during (series = the kinds, with their total series: each a
   * measure, so labelled m_<total>). */
  function beforeDuring(main, cells, chart, totals, prefix, title, kind) {
    const sum = (k) => PERIODS.reduce((a, p) => a + (K.v(cells(chart, k, p)) || 0), 0);
    const kinds = cells.series(chart).filter((s) => !totals.includes(s)).sort((a, b) => sum(b) - sum(a) || (a < b ? -1 : 1));
    const labels = kinds.map((k) => K.label(prefix, k));
    K.card(main, {
      id: chart.replace('.', '-'), title, csv: [chart.split('.')[0], chart],
      chart: bars(labels, PERIODS.map((p) => ds(t(p), kinds.map((k) => K.v(cells(chart, k, p))), p === 'before' ? K.before : K.during)), kind, { horizontal: true }),
      height: 60 + kinds.length * 34,
      table: {
        head: ['', t('before'), t('during')],
        rows: kinds.map((k) => [K.label(prefix, k), ...PERIODS.map((p) => K.fig(cells, chart, k, p, kind))])
          .concat(totals.map((tot) => ({ cls: 'total', cells: [totals.length > 1 ? t('m_' + tot) : t('total'), ...PERIODS.map((p) => K.fig(cells, chart, tot, p, kind))] }))),
      },
    });
  }

  /* ---------------------------------------------------------------- overview */

  K.pages['/'] = async function (main) {
    const c = K.cells(await K.api('overview'));
    K.kpis(main, [
      Object.assign({ label: t('kpi_participants'), sub: t('kpi_participants_sub') }, K.fig(c, 'overview.enrolment', 'new', 'all', 'int')),
      Object.assign({ label: t('kpi_enrolled_now') }, K.fig(c, 'overview.kpi', 'enrolled_now', 'all', 'int')),
      Object.assign({ label: t('kpi_goals_set') }, K.fig(c, 'overview.goals', 'set', 'all', 'int')),
      Object.assign({ label: t('kpi_goals_achieved') }, K.fig(c, 'overview.goals', 'achieved', 'all', 'int')),
      Object.assign({ label: t('kpi_self_share'), sub: t('kpi_self_share_sub') }, K.fig(c, 'overview.kpi', 'self_set_achieved_share', 'all', 'pct')),
      Object.assign({ label: t('kpi_tscore_baseline'), sub: t('kpi_tscore_baseline_sub') }, K.fig(c, 'overview.kpi', 'mean_baseline_t_score', 'all', 'dec1')),
      Object.assign({ label: t('kpi_tscore'), sub: t('kpi_tscore_sub') }, K.fig(c, 'overview.kpi', 'mean_t_score', 'all', 'dec1')),
      Object.assign({ label: t('kpi_tscore_change'), sub: t('kpi_tscore_change_sub') }, K.fig(c, 'overview.kpi', 'mean_t_score_change', 'all', 'dec1')),
    ]);
    main.appendChild(K.el('p', { class: 'note', text: t(K.v(c('overview.kpi', 'gas_abandoned_included', 'all')) === 0 ? 'gas_abandoned_out' : 'gas_abandoned_in') }));
    const g = grid(main);

    const months = c.categories('overview.enrolment').filter(isMonth).sort(byMonth);
    K.card(g, {
      id: 'enrolment', wide: true, title: t('ch_enrolment'), desc: t('ch_enrolment_desc'), csv: ['overview', 'overview.enrolment'],
      chart: {
        type: 'bar',
        data: {
          labels: months.map(K.month),
          datasets: [
            ds(t('s_active'), months.map((m) => K.v(c('overview.active', 'active', m))), K.colors[1], { type: 'line', borderWidth: 2, pointRadius: 2, spanGaps: false, order: 0 }),
            ds(t('s_new'), months.map((m) => K.v(c('overview.enrolment', 'new', m))), K.colors[0], { order: 1 }),
          ],
        },
        options: { scales: { y: { beginAtZero: true, ticks: axisFmt('int') }, x: { grid: { display: false } } }, plugins: { legend: { position: 'bottom' }, tooltip: tooltipFmt('int') } },
      },
      table: {
        head: [t('month'), t('s_new'), t('s_active')],
        rows: months.map((m) => [K.month(m), K.fig(c, 'overview.enrolment', 'new', m, 'int'), K.fig(c, 'overview.active', 'active', m, 'int')]),
      },
    });

    const domains = CORNERS.flatMap((k) => DOMAINS[k]);
    /* A category whose every figure is hidden says so in its label. */
    const catLabel = (prefix, g) => K.label(prefix, g) + (c('overview.goals', 'set', g) && c('overview.goals', 'set', g).suppressed ? ' (' + K.supText() + ')' : '');
    const statusSets = (cats, prefix) => STATUSES.map((s) => ds(t('st_' + s), cats.map((d) => K.v(c('overview.goals', s, d))), K.status[s]));
    const goalRows = (cats, prefix) => cats.map((d) => [K.label(prefix, d), K.fig(c, 'overview.goals', 'set', d, 'int'), ...STATUSES.map((s) => K.fig(c, 'overview.goals', s, d, 'int'))])
      .concat([{ cls: 'total', cells: [t('total'), K.fig(c, 'overview.goals', 'set', 'all', 'int'), ...STATUSES.map((s) => K.fig(c, 'overview.goals', s, 'all', 'int'))] }]);
    K.card(g, {
      id: 'goals-domain', title: t('ch_goals_domain'), desc: t('ch_goals_domain_desc'), csv: ['overview', 'overview.goals'],
      chart: bars(domains.map((d) => catLabel('domain', d)), statusSets(domains), 'int', { horizontal: true, stacked: true }),
      height: 470,
      table: { head: [t('col_domain'), t('col_set'), ...STATUSES.map((s) => t('st_' + s))], rows: goalRows(domains, 'domain') },
    });
    K.card(g, {
      id: 'goals-corner', title: t('ch_goals_corner'), desc: t('ch_goals_corner_desc'), csv: ['overview', 'overview.goals'],
      chart: bars(CORNERS.map((k) => catLabel('corner', k)), statusSets(CORNERS), 'int', { horizontal: true, stacked: true }),
      height: 250,
      table: { head: [t('col_corner'), t('col_set'), ...STATUSES.map((s) => t('st_' + s))], rows: goalRows(CORNERS, 'corner') },
    });
    const setBy = ['participant', 'participant_with_network', 'professional'];
    K.card(g, {
      id: 'goals-set-by', title: t('ch_set_by'), desc: t('ch_set_by_desc'), csv: ['overview', 'overview.goals_set_by'],
      chart: bars(setBy.map((s) => K.label('set_by', s)), [ds(t('kpi_goals_set'), setBy.map((s) => K.v(c('overview.goals_set_by', s, 'all'))), K.colors[2])], 'int', { horizontal: true }),
      height: 200,
      table: {
        head: ['', t('kpi_goals_set')],
        rows: setBy.map((s) => [K.label('set_by', s), K.fig(c, 'overview.goals_set_by', s, 'all', 'int')])
          .concat([{ cls: 'total', cells: [t('total'), K.fig(c, 'overview.goals_set_by', 'set', 'all', 'int')] }]),
      },
    });
  };

  /* ---------------------------------------------------------------- crisis and police */

  /* koers.window_measure_names(), in its order. */
  const MEASURES = ['acute_events', 'acute_days', 'alternative_events', 'alternative_days', 'police_use_calls', 'confused_person_calls', 'police_victim_calls'];
  const EVENTS = MEASURES.filter((m) => !/_days$/.test(m)); /* days would dwarf them */
  const WINDOWS = ['per_protocol', 'intention_to_treat', 'follow_up'];

  K.pages['/crisis'] = async function (main) {
    const q = new URLSearchParams(location.search);
    const win = WINDOWS.includes(q.get('window')) ? q.get('window') : WINDOWS[0];
    const [doc, ev] = await Promise.all([K.api('crisis'), K.api('evidence', { window: win })]);
    const c = K.cells(doc);
    K.kpis(main, [
      Object.assign({ label: t('kpi_crisis_before') }, K.fig(c, 'crisis.bd_rate', 'acute_events', 'before', 'dec2')),
      Object.assign({ label: t('kpi_crisis_during') }, K.fig(c, 'crisis.bd_rate', 'acute_events', 'during', 'dec2')),
      Object.assign({ label: t('kpi_alternative_before') }, K.fig(c, 'crisis.bd_rate', 'alternative_events', 'before', 'dec2')),
      Object.assign({ label: t('kpi_alternative_during') }, K.fig(c, 'crisis.bd_rate', 'alternative_events', 'during', 'dec2')),
      Object.assign({ label: t('kpi_police_before') }, K.fig(c, 'crisis.bd_rate', 'police_use_calls', 'before', 'dec2')),
      Object.assign({ label: t('kpi_police_during') }, K.fig(c, 'crisis.bd_rate', 'police_use_calls', 'during', 'dec2')),
    ]);
    const g = grid(main);
    K.card(g, {
      id: 'bd-rate', title: t('ch_bd_rate'), desc: t('ch_bd_rate_desc'), csv: ['crisis', 'crisis.bd_rate'],
      chart: bars(EVENTS.map((m) => t('m_' + m)), PERIODS.map((p) => ds(t(p), EVENTS.map((m) => K.v(c('crisis.bd_rate', m, p))), p === 'before' ? K.before : K.during)), 'dec2', { horizontal: true }),
      height: 320,
      table: { head: ['', t('before'), t('during')], rows: MEASURES.map((m) => [t('m_' + m), ...PERIODS.map((p) => K.fig(c, 'crisis.bd_rate', m, p, 'dec2'))]) },
    });
    const rel = c.categories('crisis.trend').filter((x) => /^-?\d+$/.test(x)).sort((a, b) => a - b);
    const relLabel = (r) => (Number(r) > 0 ? '+' + r : r);
    K.card(g, {
      id: 'trend', title: t('ch_trend'), desc: t('ch_trend_desc'), csv: ['crisis', 'crisis.trend'],
      chart: {
        type: 'line',
        data: {
          labels: rel.map(relLabel),
          datasets: [
            ds(t('m_acute_events'), rel.map((r) => K.v(c('crisis.trend', 'acute_events', r))), K.colors[1], { borderWidth: 2, pointRadius: 2 }),
            ds(t('m_police_use_calls'), rel.map((r) => K.v(c('crisis.trend', 'police_use_calls', r))), K.colors[0], { borderWidth: 2, pointRadius: 2, borderDash: [6, 3] }),
          ],
        },
        options: {
          scales: { y: { beginAtZero: true, ticks: axisFmt('dec2') }, x: { title: { display: true, text: t('trend_axis') }, grid: { color: (ctx) => (ctx.tick && ctx.tick.label === '0' ? '#1f2933' : 'transparent') } } },
          plugins: { legend: { position: 'bottom' }, tooltip: tooltipFmt('dec2') },
        },
      },
      table: {
        head: [t('trend_axis'), t('m_acute_events'), t('m_police_use_calls')],
        rows: rel.map((r) => [String(relLabel(r)), K.fig(c, 'crisis.trend', 'acute_events', r, 'dec2'), K.fig(c, 'crisis.trend', 'police_use_calls', r, 'dec2')]),
      },
    });
    K.card(g, {
      id: 'bd-count', wide: true, title: t('ch_bd_count'), desc: t('ch_bd_count_desc'), csv: ['crisis', 'crisis.bd_count'],
      table: {
        head: ['', t('before'), t('during')],
        rows: MEASURES.map((m) => [t('m_' + m), ...PERIODS.map((p) => K.fig(c, 'crisis.bd_count', m, p, 'int'))])
          .concat([{ cls: 'total', cells: [t('person_months'), ...PERIODS.map((p) => K.fig(c, 'crisis.person_months', 'person_months', p, 'dec1'))] }]),
      },
    });
    beforeDuring(g, c, 'crisis.kind', ['acute_events', 'alternative_events'], 'crisis', t('ch_crisis_kind'), 'int');
    beforeDuring(g, c, 'crisis.police_kind', ['police_use_calls', 'police_victim_calls'], 'police', t('ch_police_kind'), 'int');
    beforeDuring(g, c, 'crisis.police_caller', ['police_use_calls'], 'caller', t('ch_police_caller'), 'int');
    beforeDuring(g, c, 'crisis.police_outcome', ['police_use_calls'], 'outcome', t('ch_police_outcome'), 'int');
    await evidence(main, win, ev);
  };

  /* ---------------------------------------------------------------- change per participant */

  /* A span for one figure of the evidence (marked with its key, "<k" when hidden). */
  const evSpan = (e, m, fig, kind) => K.cellNode('span', e(ES, m, fig), kind, [ES, m, fig]);
  const ES = 'evidence.stats';
  /* A p-value: 4 decimals, or "< 0,0001" when it rounds to 0. */
  function pNode(e, m) {
    const cell = e(ES, m, 'p_value');
    const node = cell && !cell.suppressed && Number(cell.value) === 0
      ? K.el('span', { text: '< ' + K.fmt(0.0001, 'dec4') }) : evSpan(e, m, 'p_value', 'dec4');
    const exact = K.v(e(ES, m, 'p_exact'));
    return K.el('td', { class: 'num' }, [node, exact === 0 ? K.el('span', { class: 'sub', text: ' (' + t('ev_p_normal') + ')' }) : null]);
  }
  /* median (q1–q3) of a side, in one table cell. */
  const medianIqr = (e, m, side) => K.el('td', { class: 'num' }, [evSpan(e, m, 'median_' + side + '_rate', 'dec2'), ' (',
    evSpan(e, m, 'q1_' + side + '_rate', 'dec2'), '\u2013', evSpan(e, m, 'q3_' + side + '_rate', 'dec2'), ')']);

  /* The section "Change per participant": a window select, the spread and test per measure,
   * and for evaluators the slope chart of every participant's rates. Choosing a window loads
   * its figures again in place. */
  function evidence(main, win, first) {
    const sec = K.el('section', { class: 'card wide evidence', id: 'evidence', 'aria-labelledby': 'h-evidence' });
    sec.appendChild(K.el('h2', { id: 'h-evidence', text: t('ev_title') }));
    sec.appendChild(K.el('p', { class: 'desc', text: t('ev_intro') }));
    const sel = K.el('select', { id: 'ev-window', name: 'window' },
      WINDOWS.map((w) => K.el('option', { value: w, selected: w === win, text: t('ev_window_' + w) })));
    sec.appendChild(K.el('div', { class: 'field' }, [K.el('label', { for: 'ev-window', text: t('ev_window') }), sel]));
    const status = K.el('p', { class: 'visually-hidden', role: 'status', 'aria-live': 'polite' });
    sec.appendChild(status);
    const body = K.el('div', { class: 'evidence-body' });
    sec.appendChild(body);
    sec.appendChild(K.el('p', { class: 'note', text: t('ev_note') }));
    main.appendChild(sec);
    const slopeBox = K.el('div', { class: 'grid' });
    main.appendChild(slopeBox);

    let measure = MEASURES[0];
    let current = null;
    const draw = (doc, paired) => {
      for (const cv of sec.parentNode.querySelectorAll('#evidence canvas, #slope canvas')) {
        const ch = window.Chart && window.Chart.getChart(cv);
        if (ch) ch.destroy();
      }
      body.textContent = '';
      slopeBox.textContent = '';
      const e = K.cells(doc);
      const n = (m) => K.v(e(ES, m, 'n'));
      if (MEASURES.every((m) => n(m) === 0)) {
        body.appendChild(K.el('p', { text: t('ev_none') }));
      } else {
        body.appendChild(K.el('div', { class: 'table-wrap' }, [K.table({
          head: [t('ev_col_measure'), t('ev_col_n'), t('ev_col_full'), t('ev_col_pooled_before'), t('ev_col_median_before'), t('ev_col_pooled_during'), t('ev_col_median_during'), t('ev_col_difference'), t('ev_col_p')],
          rows: MEASURES.map((m) => [t('m_' + m), K.fig(e, ES, m, 'n', 'int'), K.fig(e, ES, m, 'full_coverage', 'int'), K.fig(e, ES, m, 'pooled_before_rate', 'dec2'), medianIqr(e, m, 'before'),
            K.fig(e, ES, m, 'pooled_during_rate', 'dec2'), medianIqr(e, m, 'during'),
            K.el('td', { class: 'num' }, [evSpan(e, m, 'median_difference', 'dec2'), ' [', evSpan(e, m, 'boot_lo', 'dec2'), '; ', evSpan(e, m, 'boot_hi', 'dec2'), ']']),
            pNode(e, m)]),
        }, t('ev_table'))]));
      }
      const notes = [t('ev_n_note')].concat(K.filters().organisation ? [t('ev_org_note')] : []);
      body.appendChild(K.el('p', { class: 'desc' }, notes.join(' ')));
      body.appendChild(K.el('p', { class: 'csv' }, [K.el('a', { href: K.csvHref('evidence', ES, { window: win }), download: '', 'aria-label': K.t('download_csv_of', { t: t('ev_table') }), text: K.t('download_csv') })]));
      if (paired) slope(paired);
    };

    /* Evaluators: one line per participant from "before" to "during" for the chosen measure. */
    const slope = (paired) => {
      const rows = paired.rows.filter((r) => r.measure === measure);
      const med = (xs) => { const v = xs.slice().sort((a, b) => a - b); const h = (v.length - 1) / 2; return v.length ? (v[Math.floor(h)] + v[Math.ceil(h)]) / 2 : null; };
      /* Opaque colours: each line keeps 3:1 against white however many overlap. */
      const colour = (r) => (r.difference < 0 ? K.during : r.difference > 0 ? K.colors[1] : K.colors[7]);
      const datasets = rows.map((r) => ({ label: r.participant.slice(0, 10), data: [Number(r.before_rate), Number(r.during_rate)], borderColor: colour(r), backgroundColor: colour(r), borderWidth: 1, pointRadius: 2 }));
      datasets.push({ label: t('ev_median'), data: [med(rows.map((r) => Number(r.before_rate))), med(rows.map((r) => Number(r.during_rate)))], borderColor: '#000', backgroundColor: '#000', borderWidth: 5, pointRadius: 6 });
      const msel = K.el('select', { id: 'ev-measure', name: 'measure' }, MEASURES.map((m) => K.el('option', { value: m, selected: m === measure, text: t('m_' + m) })));
      const card = K.card(slopeBox, {
        id: 'slope', wide: true, title: t('ev_slope') + ' \u2013 ' + t('m_' + measure), desc: t('ev_slope_desc'), csvHref: '/api/paired.csv' + K.query({ window: win }),
        chart: {
          type: 'line',
          data: { labels: [t('before'), t('during') + ' (' + t('ev_short_' + win) + ')'], datasets },
          options: {
            layout: { padding: { left: 40, right: 40 } },
            scales: { y: { beginAtZero: true, title: { display: true, text: t('per_pm') }, ticks: axisFmt('dec2'), grid: { color: '#e5e7eb' } }, x: { offset: true, grid: { display: false } } },
            plugins: { legend: { display: false }, tooltip: { callbacks: { label: (ctx) => ctx.dataset.label + ': ' + K.fmt(ctx.parsed.y, 'dec2') } } },
          },
        },
        height: 420,
        table: {
          head: [t('ev_participant'), t('before'), t('during'), t('difference')],
          rows: rows.map((r) => [r.participant.slice(0, 10), K.fmt(r.before_rate, 'dec2'), K.fmt(r.during_rate, 'dec2'), K.fmt(r.difference, 'dec2')]),
        },
      });
      card.insertBefore(K.el('div', { class: 'field' }, [K.el('label', { for: 'ev-measure', text: t('ev_measure') }), msel]), card.querySelector('.chart'));
      msel.addEventListener('change', () => {
        measure = msel.value;
        draw(current.doc, current.paired);
        for (const f of K.afterLayout.splice(0)) f();
        document.getElementById('ev-measure').focus();
      });
    };

    const load = async (w, doc) => {
      const [d, paired] = await Promise.all([doc || K.api('evidence', { window: w }), K.me.role === 'evaluator' ? K.api('paired', { window: w }) : null]);
      current = { doc: d, paired };
      draw(d, paired);
    };
    sel.addEventListener('change', async () => {
      win = sel.value;
      const u = new URLSearchParams(location.search);
      u.set('window', win);
      history.replaceState(null, '', '?' + u.toString());
      body.setAttribute('aria-busy', 'true');
      status.textContent = t('ev_loading');
      try {
        await load(win);
        status.textContent = t('ev_loaded', { w: t('ev_window_' + win) });
      } catch (err) {
        K.showError(err);
      }
      body.removeAttribute('aria-busy');
      for (const f of K.afterLayout.splice(0)) f();
    });
    return load(win, first);
  }

  /* ---------------------------------------------------------------- support */

  K.pages['/support'] = async function (main) {
    const c = K.cells(await K.api('support'));
    const kpi = (s, key, kind, sub) => Object.assign({ label: t(key), sub: sub ? t(sub) : null }, K.fig(c, 'support.kpi', s, 'all', kind));
    K.kpis(main, [
      kpi('contacts_per_week', 'kpi_contacts_week', 'dec2'), kpi('minutes_per_week', 'kpi_minutes_week', 'int'),
      kpi('outreach_home_visit_share', 'kpi_outreach_share', 'pct', 'kpi_share_of_contacts'), kpi('participant_initiated_share', 'kpi_initiated_share', 'pct', 'kpi_share_of_contacts'),
      kpi('network_expert_share', 'kpi_network_share', 'pct', 'kpi_share_of_contacts'),
    ]);
    const g = grid(main);
    const months = c.categories('support.month').filter(isMonth).sort(byMonth);
    K.card(g, {
      id: 'support-month', wide: true, title: t('ch_support_month'), desc: t('ch_support_month_desc'), csv: ['support', 'support.month'],
      chart: {
        type: 'line',
        data: { labels: months.map(K.month), datasets: [ds(t('kpi_contacts_week'), months.map((m) => K.v(c('support.month', 'contacts_per_week', m))), K.colors[2], { borderWidth: 2, pointRadius: 2, fill: false })] },
        options: { scales: { y: { beginAtZero: true, ticks: axisFmt('dec2') }, x: { grid: { display: false } } }, plugins: { legend: { display: false }, tooltip: tooltipFmt('dec2') } },
      },
      table: { head: [t('month'), t('kpi_contacts_week')], rows: months.map((m) => [K.month(m), K.fig(c, 'support.month', 'contacts_per_week', m, 'dec2')]) },
    });
    const breakdown = (chart, prefix, title, color) => {
      const kinds = c.series(chart).filter((s) => s !== 'all')
        .sort((a, b) => (K.v(c(chart, b, 'during')) || 0) - (K.v(c(chart, a, 'during')) || 0) || (a < b ? -1 : 1));
      K.card(g, {
        id: chart.replace('.', '-'), title, csv: ['support', chart],
        chart: bars(kinds.map((k) => K.label(prefix, k)), [ds(t('contacts'), kinds.map((k) => K.v(c(chart, k, 'during'))), color)], 'int', { horizontal: true }),
        height: 60 + kinds.length * 30,
        table: {
          head: ['', t('contacts')],
          rows: kinds.map((k) => [K.label(prefix, k), K.fig(c, chart, k, 'during', 'int')]).concat([{ cls: 'total', cells: [t('total'), K.fig(c, chart, 'all', 'during', 'int')] }]),
        },
      });
    };
    breakdown('support.role', 'role', t('ch_support_role'), K.colors[0]);
    breakdown('support.mode', 'mode', t('ch_support_mode'), K.colors[3]);
    breakdown('support.initiated', 'init', t('ch_support_initiated'), K.colors[4]);
    if (c.list('support.own_mode').length) {
      const om = c.categories('support.own_mode').filter(isMonth).sort(byMonth);
      const modes = c.series('support.own_mode').filter((s) => s !== 'all');
      K.card(g, {
        id: 'own-mode', wide: true, title: t('ch_own_mode'), desc: t('ch_own_mode_desc', { org: K.me.organisation }), csv: ['support', 'support.own_mode'],
        chart: bars(om.map(K.month), modes.map((m, i) => ds(K.label('mode', m), om.map((x) => K.v(c('support.own_mode', m, x))), K.colors[i % K.colors.length])), 'int', { stacked: true }),
        table: { head: [t('month'), ...modes.map((m) => K.label('mode', m)), t('total')], rows: om.map((x) => [K.month(x), ...modes.map((m) => K.fig(c, 'support.own_mode', m, x, 'int')), K.fig(c, 'support.own_mode', 'all', x, 'int')]) },
      });
    }
  };

  /* ---------------------------------------------------------------- costs and benefits */

  K.pages['/cost'] = async function (main) {
    const [doc, uc] = await Promise.all([K.api('cost'), K.api('unit_costs', {})]);
    const c = K.cells(doc);
    K.kpis(main, [
      Object.assign({ label: t('kpi_cost_before') }, K.fig(c, 'cost.per_pm', 'crisis_police', 'before', 'eur')),
      Object.assign({ label: t('kpi_cost_during') }, K.fig(c, 'cost.per_pm', 'crisis_police', 'during', 'eur')),
      Object.assign({ label: t('kpi_diff_pm') }, K.fig(c, 'cost.result', 'difference_per_pm', 'all', 'eur')),
      Object.assign({ label: t('kpi_diff_total') }, K.fig(c, 'cost.result', 'difference_total', 'all', 'eur')),
      Object.assign({ label: t('kpi_support_cost') }, K.fig(c, 'cost.total', 'support', 'during', 'eur')),
      Object.assign({ label: t('kpi_net') }, K.fig(c, 'cost.result', 'net_benefit_total', 'all', 'eur')),
    ]);
    const g = grid(main);
    const series = ['acute', 'alternative', 'crisis', 'police', 'crisis_police', 'support'];
    K.card(g, {
      id: 'cost-pm', title: t('ch_cost_pm'), desc: t('ch_cost_pm_desc'), csv: ['cost', 'cost.per_pm'],
      chart: bars(series.map((s) => t('s_' + s)), PERIODS.map((p) => ds(t(p), series.map((s) => K.v(c('cost.per_pm', s, p))), p === 'before' ? K.before : K.during)), 'eur', { horizontal: true }),
      height: 60 + series.length * 46,
      table: { head: [t('per_pm'), t('before'), t('during')], rows: series.map((s) => [t('s_' + s), ...PERIODS.map((p) => (c('cost.per_pm', s, p) ? K.fig(c, 'cost.per_pm', s, p, 'eur') : '\u2013'))]) },
    });
    K.card(g, {
      id: 'cost-total', title: t('ch_cost_total'), csv: ['cost', 'cost.total'],
      table: {
        head: ['', t('before'), t('during')],
        rows: series.map((s) => [t('s_' + s), ...PERIODS.map((p) => (c('cost.total', s, p) ? K.fig(c, 'cost.total', s, p, 'eur') : '\u2013'))])
          .concat([{ cls: 'total', cells: [t('person_months'), ...PERIODS.map((p) => K.fig(c, 'crisis.person_months', 'person_months', p, 'dec1'))] }]),
      },
    });
    const per = { event: t('per_event'), day: t('per_day'), hour: t('per_hour') };
    const sec = K.card(g, {
      id: 'unit-costs', wide: true, title: t('unit_costs'), desc: t('unit_costs_desc'), csvHref: '/api/unit_costs.csv',
      table: {
        head: [t('uc_item'), t('uc_amount'), t('uc_per'), t('uc_year'), t('uc_source'), t('uc_prices')],
        rows: uc.rows.map((r) => ({
          cls: /ASSUMPTION/.test(r.source) ? 'assumption' : null,
          cells: [r.item.replace(/_/g, ' '), K.el('td', { class: 'num', text: K.fmt(r.amount_eur, 'dec2') }), per[r.per] || r.per, String(r.price_year), r.source, (r.prices || '').replace(/_/g, ' ')],
        })),
      },
    });
    const ul = K.el('ul', { class: 'assumptions' }, [1, 2, 3, 4].map((i) => K.el('li', { text: t('assumption_' + i) })));
    sec.appendChild(K.el('h3', { text: t('assumptions') }));
    sec.appendChild(ul);
    const q = new URLSearchParams(location.search);
    await mkba(main, WINDOWS.includes(q.get('mkba_window')) ? q.get('mkba_window') : 'intention_to_treat');
  };

  /* ---------------------------------------------------------------- the MKBA (cost page) */

  const MK = 'mkba.table';
  const MK_COLS = ['support_cost', 'cost_before', 'cost_expected', 'cost_during', 'benefit', 'balance'];
  /* A payer's label in the page's language (koers.payer's labels come with the assumptions). */
  const payerLabel = (p) => (p === 'total' ? t('total') : t('payer_' + p));

  /* The section "Indicatieve MKBA": a window select, the table per stakeholder, the tornado
   * chart of the sensitivity (with its table), who cashes in at a size the user enters, the
   * prices in the price year with their payers, and the consumer price index. */
  async function mkba(main, win) {
    const sec = K.el('section', { class: 'card wide mkba', id: 'mkba', 'aria-labelledby': 'h-mkba' });
    sec.appendChild(K.el('h2', { id: 'h-mkba', text: t('mk_title') }));
    sec.appendChild(K.el('p', { class: 'desc', text: t('mk_intro') }));
    const sel = K.el('select', { id: 'mk-window', name: 'mkba_window' },
      WINDOWS.map((w) => K.el('option', { value: w, selected: w === win, text: t('ev_window_' + w) })));
    sec.appendChild(K.el('div', { class: 'field' }, [K.el('label', { for: 'mk-window', text: t('ev_window') }), sel]));
    const status = K.el('p', { class: 'visually-hidden', role: 'status', 'aria-live': 'polite' });
    sec.appendChild(status);
    const body = K.el('div', { class: 'mkba-body' });
    sec.appendChild(body);
    main.appendChild(sec);
    const more = K.el('div', { class: 'grid' });
    main.appendChild(more);

    const draw = (doc, ua, pi) => {
      for (const cv of main.querySelectorAll('#mkba canvas, #mkba-tornado canvas')) {
        const ch = window.Chart && window.Chart.getChart(cv);
        if (ch) ch.destroy();
      }
      body.textContent = '';
      more.textContent = '';
      const m = K.cells(doc);
      const meta = (k) => K.v(m('mkba.meta', 'setting', k));
      const py = meta('price_year');
      body.appendChild(K.el('p', { class: 'desc', text: t('mk_null', { f: K.fmt(meta('rtm_factor'), 'dec2'), y: String(py), w: t('ev_window_' + win) }) }));
      const payers = m.series(MK).filter((p) => p !== 'total');
      const order = ['municipality', 'health_insurer', 'long_term_care', 'police', 'justice', 'housing_corporation', 'other'];
      payers.sort((a, b) => order.indexOf(a) - order.indexOf(b));
      body.appendChild(K.el('div', { class: 'table-wrap' }, [K.table({
        head: [t('mk_payer')].concat(MK_COLS.map((col) => t('mk_' + col))),
        rows: payers.map((p) => [payerLabel(p), ...MK_COLS.map((col) => K.fig(m, MK, p, col, 'eur'))])
          .concat([{ cls: 'total', cells: [t('total'), ...MK_COLS.map((col) => K.fig(m, MK, 'total', col, 'eur'))] }]),
      }, t('mk_title'))]));
      body.appendChild(K.el('p', { class: 'csv' }, [K.el('a', { href: K.csvHref('mkba', MK, { window: win }), download: '', 'aria-label': K.t('download_csv_of', { t: t('mk_title') }), text: K.t('download_csv') })]));

      /* Tornado: each variation a floating bar from its low to its high balance, widest first;
       * the base case is the line they hang from. */
      const SE = 'mkba.sensitivity';
      const base = K.v(m(SE, 'rtm_factor', 'balance_base'));
      const vars = m.series(SE).map((v) => ({ v, lo: K.v(m(SE, v, 'balance_low')), hi: K.v(m(SE, v, 'balance_high')) }))
        .sort((a, b) => (a.lo === null) - (b.lo === null) || Math.abs(b.hi - b.lo) - Math.abs(a.hi - a.lo));
      const vlabel = (v) => (v === 'rtm_factor' ? t('mk_rtm', { f: K.fmt(meta('rtm_variation'), 'dec2') }) : v.slice('unit_cost:'.length).replace(/_/g, ' '));
      const kind = (v) => (v === 'rtm_factor' ? 'dec2' : 'eur');
      K.card(more, {
        id: 'mkba-tornado', wide: true, title: t('mk_tornado'), desc: t('mk_tornado_desc', { r: K.fmt(meta('default_range'), 'pct') }), csv: ['mkba', SE, { window: win }],
        chart: {
          type: 'bar',
          data: {
            labels: vars.map((x) => vlabel(x.v)),
            datasets: [ds(t('mk_balance_range'), vars.map((x) => (x.lo === null ? null : [Math.min(x.lo, x.hi), Math.max(x.lo, x.hi)])), K.during)],
          },
          options: {
            indexAxis: 'y',
            scales: { x: { ticks: axisFmt('eur'), grid: { color: (ctx) => (base !== null && ctx.tick && ctx.tick.value === 0 ? '#1f2933' : '#e5e7eb') } }, y: { grid: { display: false } } },
            plugins: {
              legend: { display: false },
              tooltip: { callbacks: { label: (ctx) => (ctx.raw === null ? K.supText() : K.fmt(ctx.raw[0], 'eur') + ' – ' + K.fmt(ctx.raw[1], 'eur')) } },
            },
          },
        },
        height: 60 + vars.length * 34,
        table: {
          head: [t('mk_variation'), t('mk_value_low'), t('mk_value_high'), t('mk_balance_low'), t('mk_balance_high'), t('mk_balance_base')],
          rows: vars.map((x) => [vlabel(x.v), K.fig(m, SE, x.v, 'value_low', kind(x.v)), K.fig(m, SE, x.v, 'value_high', kind(x.v)),
            K.fig(m, SE, x.v, 'balance_low', 'eur'), K.fig(m, SE, x.v, 'balance_high', 'eur'), K.fig(m, SE, x.v, 'balance_base', 'eur')]),
        },
      });

      /* Who cashes in: the yearly saving per stakeholder at the current size and at a size
       * the user enters, beside the stakeholder's share of the programme's cost. */
      const YE = 'mkba.yearly';
      const n = meta('participants');
      const size = K.el('input', { id: 'mk-size', type: 'number', min: '1', max: '100000', step: '1', value: String(n || 100), inputmode: 'numeric' });
      const ycell = (p, s) => {
        const c = m(YE, p, 'benefit_per_person_year');
        /* Derived on the page, so no cell key: the page's figures are the database's cells. */
        if (!c || c.suppressed || s === null) return K.cellNode('td', c && c.suppressed ? c : null, 'eur');
        return K.el('td', { class: 'num', text: K.fmt(Number(c.value) * s, 'eur') });
      };
      const ysec = K.card(more, { id: 'mkba-yearly', wide: true, title: t('mk_yearly'), desc: t('mk_yearly_desc'), csv: ['mkba', YE, { window: win }] });
      const ytab = K.el('div', { class: 'table-wrap' });
      const fill = () => {
        const sv = Number(size.value);
        const s = Number.isInteger(sv) && sv > 0 ? sv : null;
        ytab.textContent = '';
        ytab.appendChild(K.table({
          head: [t('mk_payer'), t('mk_ppy'), t('mk_now', { n: n === null ? K.supText() : K.fmt(n, 'int') }), t('mk_at_size', { n: s === null ? '–' : K.fmt(s, 'int') }), t('mk_cost_share')],
          rows: payers.map((p) => [payerLabel(p), K.fig(m, YE, p, 'benefit_per_person_year', 'eur'), ycell(p, n), ycell(p, s), K.fig(m, YE, p, 'cost_share', 'pct')]),
        }, t('mk_yearly')));
      };
      ysec.insertBefore(K.el('div', { class: 'field' }, [K.el('label', { for: 'mk-size', text: t('mk_size') }), size]), ysec.querySelector('.csv'));
      ysec.insertBefore(ytab, ysec.querySelector('.csv'));
      size.addEventListener('input', fill);
      fill();

      /* The prices in the price year, who pays them, and the index. */
      const per = { event: t('per_event'), day: t('per_day'), hour: t('per_hour') };
      K.card(more, {
        id: 'mkba-prices', wide: true, title: t('mk_prices', { y: String(py) }), desc: t('mk_prices_desc'), csvHref: '/api/mkba_assumptions.csv',
        table: {
          head: [t('uc_item'), t('uc_amount'), t('uc_year'), t('mk_price', { y: String(py) }), t('mk_low_high'), t('uc_per'), t('mk_payers'), t('mk_sources')],
          rows: ua.rows.map((r) => ({
            cls: /ASSUMPTION/.test(r.source + r.payer_source) ? 'assumption' : null,
            cells: [r.item.replace(/_/g, ' '), K.el('td', { class: 'num', text: K.fmt(r.amount_eur, 'dec2') }), String(r.price_year),
              K.el('td', { class: 'num', text: K.fmt(r.price, 'dec2') }), K.el('td', { class: 'num', text: K.fmt(r.price_low, 'dec2') + ' – ' + K.fmt(r.price_high, 'dec2') }),
              per[r.per] || r.per, r.payers.replace(/[a-z_]+(?= \d)/g, (p) => t('payer_' + p)), [r.source, r.payer_source, r.range_source].filter(Boolean).join(' · ')],
          })),
        },
      });
      K.card(more, {
        id: 'mkba-cpi', title: t('mk_cpi'), desc: pi.rows.length ? pi.rows[0].source : '', csvHref: '/api/price_index.csv',
        table: { head: [t('uc_year'), t('mk_cpi_figure')], rows: pi.rows.map((r) => [String(r.year), K.el('td', { class: 'num', text: K.fmt(r.cpi, 'dec1') })]) },
      });
      const asum = K.card(more, { id: 'mkba-assumptions', wide: true, title: t('mk_assumptions') });
      asum.appendChild(K.el('ul', { class: 'assumptions' }, [1, 2, 3, 4, 5, 6].map((i) => K.el('li', { text: t('mk_assumption_' + i, { f: K.fmt(meta('rtm_variation'), 'dec2'), r: K.fmt(meta('default_range'), 'pct') }) }))));
    };

    const [ua, pi] = await Promise.all([K.api('mkba_assumptions', {}), K.api('price_index', {})]);
    const load = async (w) => draw(await K.api('mkba', { window: w }), ua, pi);
    sel.addEventListener('change', async () => {
      win = sel.value;
      const u = new URLSearchParams(location.search);
      u.set('mkba_window', win);
      history.replaceState(null, '', '?' + u.toString());
      body.setAttribute('aria-busy', 'true');
      status.textContent = t('ev_loading');
      try {
        await load(win);
        status.textContent = t('ev_loaded', { w: t('ev_window_' + win) });
      } catch (err) {
        K.showError(err);
      }
      body.removeAttribute('aria-busy');
      for (const f of K.afterLayout.splice(0)) f();
    });
    return load(win);
  }

  /* ---------------------------------------------------------------- data quality */

  K.pages['/quality'] = async function (main) {
    const c = K.cells(await K.api('quality'));
    const g = grid(main);
    const sources = c.series('quality.events').sort();
    const months = c.categories('quality.events').filter(isMonth).sort(byMonth);
    K.card(g, {
      id: 'events', wide: true, title: t('ch_events'), csv: ['quality', 'quality.events'],
      chart: bars(months.map(K.month), sources.map((s, i) => ds(s, months.map((m) => K.v(c('quality.events', s, m))), K.colors[i % K.colors.length])), 'int', { stacked: true }),
      height: 320,
      table: { head: [t('month'), ...sources], rows: months.map((m) => [K.month(m), ...sources.map((s) => K.fig(c, 'quality.events', s, m, 'int'))]) },
    });
    const types = ['enrolment', 'contact', 'crisis', 'goal_change', 'police_call', 'correction'];
    const tsrc = c.series('quality.types').sort();
    K.card(g, {
      id: 'types', title: t('ch_types'), csv: ['quality', 'quality.types'],
      chart: bars(tsrc, types.map((ty, i) => ds(K.label('type', ty), tsrc.map((s) => K.v(c('quality.types', s, ty))), K.colors[i])), 'int', { horizontal: true, stacked: true }),
      height: 60 + tsrc.length * 30,
      table: { head: [t('col_source'), ...types.map((ty) => K.label('type', ty))], rows: tsrc.map((s) => [s, ...types.map((ty) => K.fig(c, 'quality.types', s, ty, 'int'))]) },
    });
    const lsrc = c.series('quality.lateness').sort();
    const qs = ['p50_hours', 'p90_hours', 'max_hours'];
    K.card(g, {
      id: 'lateness', title: t('ch_lateness'), csv: ['quality', 'quality.lateness'],
      chart: bars(lsrc, qs.slice(0, 2).map((q, i) => ds(t('q_' + q), lsrc.map((s) => K.v(c('quality.lateness', s, q))), K.colors[i + 5])), 'dec1', { horizontal: true }),
      height: 60 + lsrc.length * 34,
      table: { head: [t('col_source'), ...qs.map((q) => t('q_' + q))], rows: lsrc.map((s) => [s, ...qs.map((q) => K.fig(c, 'quality.lateness', s, q, 'dec1'))]) },
    });
    const rej = c.list('quality.rejected');
    const sec = K.card(g, { id: 'rejected', wide: true, title: t('ch_rejected'), csv: ['quality', 'quality.rejected'], table: rej.length ? {
      head: [t('col_reason'), t('month'), t('messages')],
      rows: rej.map((r) => [r.series, K.month(r.category), K.fig(c, 'quality.rejected', r.series, r.category, 'int')]),
    } : null });
    if (!rej.length) sec.insertBefore(K.el('p', { text: t('no_rejected') }), sec.querySelector('.csv'));
  };

  /* ---------------------------------------------------------------- instruments */

  const ZRM_DOMAINS = ['finances', 'work_and_education', 'time_use', 'housing', 'domestic_relations', 'mental_health',
    'physical_health', 'substance_use', 'basic_adl', 'instrumental_adl', 'social_network', 'community_participation', 'justice', 'parenting'];
  const ZRM_CORNERS = ['participation', 'living_environment', 'continuity_of_support'];
  const SCORES = ['1', '2', '3', '4', '5'];
  const DIRECTIONS = ['up', 'same', 'down'];
  const HOUSING = ['homeless', 'shelter', 'supported_housing', 'with_others', 'independent', 'unknown'];
  const IWINDOWS = ['before', 'per_protocol', 'intention_to_treat', 'follow_up'];
  const EVICTIONS = ['evicted', 'notice'];

  K.pages['/instruments'] = async function (main) {
    const c = K.cells(await K.api('instruments'));
    /* A figure whose cell may not exist (no participant contributes, and the chart has no
     * grid of empty cells): shown as a dash, without a key, rather than as a cell. */
    const fo = (ch, s, g, kind) => (c(ch, s, g) ? K.fig(c, ch, s, g, kind) : { cell: null, kind, key: null });
    K.kpis(main, [
      Object.assign({ label: t('kpi_zrm_up'), sub: t('kpi_zrm_up_sub') }, fo('instruments.kpi', 'zrm_up_share', 'all', 'pct')),
      Object.assign({ label: t('kpi_stressors_enrolment'), sub: t('kpi_stressors_enrolment_sub') }, fo('instruments.stressor_mean', 'mean_present', 'at_enrolment', 'dec2')),
      Object.assign({ label: t('kpi_stressors_now') }, fo('instruments.stressor_mean', 'mean_present', 'now', 'dec2')),
      Object.assign({ label: t('kpi_work_before'), sub: t('kpi_work_sub') }, fo('instruments.work_days', 'paid_or_volunteer', 'before', 'pct')),
      Object.assign({ label: t('kpi_work_during'), sub: t('kpi_work_sub') }, fo('instruments.work_days', 'paid_or_volunteer', 'per_protocol', 'pct')),
    ]);
    main.appendChild(K.el('p', { class: 'note', text: t('in_windows_note') }));
    const g = grid(main);
    const domains = ZRM_DOMAINS.filter((d) => c('instruments.zrm_baseline', 'scored', d));

    K.card(g, {
      id: 'zrm-direction', wide: true, title: t('ch_zrm_direction'), desc: t('ch_zrm_direction_desc'), csv: ['instruments', 'instruments.zrm_direction'],
      chart: bars(domains.map((d) => K.label('zrm', d)), DIRECTIONS.map((r, i) => ds(t('dir_' + r), domains.map((d) => K.v(c('instruments.zrm_direction', r, d))), [K.colors[2], K.before, K.colors[1]][i])), 'int', { horizontal: true, stacked: true }),
      height: 60 + domains.length * 30,
      table: {
        head: [t('col_zrm_domain'), ...DIRECTIONS.map((r) => t('dir_' + r)), t('col_paired')],
        rows: domains.map((d) => [K.label('zrm', d), ...DIRECTIONS.map((r) => K.fig(c, 'instruments.zrm_direction', r, d, 'int')), K.fig(c, 'instruments.zrm_direction', 'paired', d, 'int')]),
      },
    });
    for (const at of ['baseline', 'latest']) {
      const chart = 'instruments.zrm_' + at;
      K.card(g, {
        id: 'zrm-' + at, title: t('ch_zrm_' + at), desc: t('ch_zrm_dist_desc'), csv: ['instruments', chart],
        chart: bars(domains.map((d) => K.label('zrm', d)), SCORES.map((s, i) => ds(t('score_' + s), domains.map((d) => K.v(c(chart, s, d))), ['#b91c1c', '#c2410c', '#a16207', '#0f766e', '#1f5fa8'][i])), 'int', { horizontal: true, stacked: true }),
        height: 60 + domains.length * 30,
        table: {
          head: [t('col_zrm_domain'), ...SCORES, t('total')],
          rows: domains.map((d) => [K.label('zrm', d), ...SCORES.map((s) => K.fig(c, chart, s, d, 'int')), K.fig(c, chart, 'scored', d, 'int')]),
        },
      });
    }
    const ZM = ['baseline_mean', 'latest_mean'];
    K.card(g, {
      id: 'zrm-corner', title: t('ch_zrm_corner'), desc: t('ch_zrm_corner_desc'), csv: ['instruments', 'instruments.zrm_corner'],
      chart: bars(ZRM_CORNERS.map((k) => K.label('corner', k)), ZM.map((m) => ds(t('zm_' + m), ZRM_CORNERS.map((k) => K.v(c('instruments.zrm_corner', m, k))), m === 'baseline_mean' ? K.before : K.during)), 'dec1', { horizontal: true }),
      height: 220,
      table: {
        head: ['', t('zm_baseline_mean'), t('zm_latest_mean'), t('zm_change_mean')],
        rows: ZRM_CORNERS.map((k) => [K.label('corner', k), ...['baseline_mean', 'latest_mean', 'change_mean'].map((m) => K.fig(c, 'instruments.zrm_corner', m, k, 'dec2'))]),
      },
    });
    const kinds = c.series('instruments.stressors').filter((s) => s !== 'all');
    K.card(g, {
      id: 'stressors', title: t('ch_stressors'), desc: t('ch_stressors_desc'), csv: ['instruments', 'instruments.stressors'],
      chart: bars(kinds.map((k) => K.label('stressor', k)), ['at_enrolment', 'now'].map((a) => ds(t('sa_' + a), kinds.map((k) => K.v(c('instruments.stressors', k, a))), a === 'at_enrolment' ? K.before : K.during)), 'int', { horizontal: true }),
      height: 60 + kinds.length * 34,
      table: {
        head: [t('col_kind'), t('sa_at_enrolment'), t('sa_now')],
        rows: kinds.map((k) => [K.label('stressor', k), K.fig(c, 'instruments.stressors', k, 'at_enrolment', 'int'), K.fig(c, 'instruments.stressors', k, 'now', 'int')])
          .concat([{ cls: 'total', cells: [t('total'), K.fig(c, 'instruments.stressors', 'all', 'at_enrolment', 'int'), K.fig(c, 'instruments.stressors', 'all', 'now', 'int')] }]),
      },
    });
    K.card(g, {
      id: 'stressor-resolution', title: t('ch_stressor_resolution'), desc: t('ch_stressor_resolution_desc'), csv: ['instruments', 'instruments.stressor_resolution'],
      chart: bars(kinds.map((k) => K.label('stressor', k)), [ds(t('col_mean_days'), kinds.map((k) => K.v(c('instruments.stressor_resolution', k, 'mean_days'))), K.colors[3])], 'int', { horizontal: true }),
      height: 60 + kinds.length * 30,
      table: {
        head: [t('col_kind'), t('col_resolved'), t('col_mean_days')],
        rows: kinds.map((k) => [K.label('stressor', k), K.fig(c, 'instruments.stressor_resolution', k, 'resolved', 'int'), fo('instruments.stressor_resolution', k, 'mean_days', 'int')]),
      },
    });
    const line = (id, chart, series, kind, title, desc, label, color) => {
      const months = c.categories(chart).filter(isMonth).sort(byMonth);
      K.card(g, {
        id, wide: true, title, desc, csv: ['instruments', chart],
        chart: {
          type: 'line',
          data: { labels: months.map(K.month), datasets: [ds(label, months.map((m) => K.v(c(chart, series, m))), color, { borderWidth: 2, pointRadius: 2, fill: false })] },
          options: { scales: { y: { beginAtZero: true, ticks: axisFmt(kind) }, x: { grid: { display: false } } }, plugins: { legend: { display: false }, tooltip: tooltipFmt(kind) } },
        },
        table: { head: [t('month'), label], rows: months.map((m) => [K.month(m), K.fig(c, chart, series, m, kind)]) },
      });
    };
    line('stressor-trend', 'instruments.stressor_trend', 'mean_present', 'dec2', t('ch_stressor_trend'), t('ch_stressor_trend_desc'), t('stressors_per_participant'), K.colors[1]);
    K.card(g, {
      id: 'housing', wide: true, title: t('ch_housing'), desc: t('ch_housing_desc'), csv: ['instruments', 'instruments.housing'],
      chart: bars(HOUSING.map((h) => K.label('housing', h)), ['before', 'per_protocol'].map((w) => ds(t('iw_' + w), HOUSING.map((h) => K.v(c('instruments.housing', h, w))), w === 'before' ? K.before : K.during)), 'dec1', { horizontal: true }),
      height: 60 + HOUSING.length * 34,
      table: {
        head: ['', ...IWINDOWS.map((w) => t('iw_' + w))],
        rows: HOUSING.map((h) => [K.label('housing', h), ...IWINDOWS.map((w) => K.fig(c, 'instruments.housing', h, w, 'dec1'))])
          .concat([{ cls: 'total', cells: [t('person_months'), ...IWINDOWS.map((w) => K.fig(c, 'instruments.housing', 'all', w, 'dec1'))] }]),
      },
    });
    K.card(g, {
      id: 'evictions', title: t('ch_evictions'), desc: t('ch_evictions_desc'), csv: ['instruments', 'instruments.eviction_rate'],
      chart: bars(EVICTIONS.map((e) => t('ev_' + e)), ['before', 'per_protocol'].map((w) => ds(t('iw_' + w), EVICTIONS.map((e) => K.v(c('instruments.eviction_rate', e, w))), w === 'before' ? K.before : K.during)), 'dec4', { horizontal: true }),
      height: 200,
      table: {
        head: [t('col_window'), ...EVICTIONS.map((e) => t('ev_' + e) + ' (' + t('col_count') + ')'), ...EVICTIONS.map((e) => t('ev_' + e) + ' (' + t('col_rate') + ')')],
        rows: IWINDOWS.map((w) => [t('iw_' + w), ...EVICTIONS.map((e) => K.fig(c, 'instruments.eviction_count', e, w, 'int')), ...EVICTIONS.map((e) => fo('instruments.eviction_rate', e, w, 'dec4'))]),
      },
    });
    K.card(g, {
      id: 'work-days', title: t('ch_work_days'), desc: t('ch_work_days_desc'), csv: ['instruments', 'instruments.work_days'],
      chart: bars(IWINDOWS.map((w) => t('iw_' + w)), [ds(t('share'), IWINDOWS.map((w) => K.v(c('instruments.work_days', 'paid_or_volunteer', w))), K.colors[2])], 'pct', { horizontal: true }),
      height: 220,
      table: { head: [t('col_window'), t('share')], rows: IWINDOWS.map((w) => [t('iw_' + w), fo('instruments.work_days', 'paid_or_volunteer', w, 'pct')]) },
    });
    line('work-share', 'instruments.work_share', 'paid_or_volunteer', 'pct', t('ch_work_share'), t('ch_work_share_desc'), t('share'), K.colors[2]);

    /* The stability model: per corner the share stable, by month. */
    const sm = c.categories('instruments.stability').filter(isMonth).sort(byMonth);
    K.card(g, {
      id: 'stability', wide: true, title: t('ch_stability'), desc: t('ch_stability_desc'), csv: ['instruments', 'instruments.stability'],
      chart: {
        type: 'line',
        data: { labels: sm.map(K.month), datasets: ZRM_CORNERS.map((k, i) => ds(K.label('corner', k), sm.map((m) => K.v(c('instruments.stability', k, m))), K.colors[i], { borderWidth: 2, pointRadius: 2, fill: false, borderDash: [[], [6, 3], [2, 2]][i] })) },
        options: { scales: { y: { beginAtZero: true, max: 1, ticks: axisFmt('pct') }, x: { grid: { display: false } } }, plugins: { legend: { position: 'bottom' }, tooltip: tooltipFmt('pct') } },
      },
      table: { head: [t('month'), ...ZRM_CORNERS.map((k) => K.label('corner', k))], rows: sm.map((m) => [K.month(m), ...ZRM_CORNERS.map((k) => fo('instruments.stability', k, m, 'pct'))]) },
    });

    /* Continuity of support, from the contacts. */
    const quarters = c.categories('instruments.continuity').filter((q) => /^\d{4}-Q[1-4]$/.test(q)).sort(byMonth);
    const CM = ['organisations', 'roles'];
    K.card(g, {
      id: 'continuity', wide: true, title: t('ch_continuity'), desc: t('ch_continuity_desc'), csv: ['instruments', 'instruments.continuity'],
      chart: {
        type: 'line',
        data: { labels: quarters, datasets: CM.map((m, i) => ds(t('cq_' + m), quarters.map((q) => K.v(c('instruments.continuity', m, q))), K.colors[i], { borderWidth: 2, pointRadius: 2, fill: false, borderDash: i ? [6, 3] : [] })) },
        options: { scales: { y: { beginAtZero: true, ticks: axisFmt('dec1') }, x: { grid: { display: false } } }, plugins: { legend: { position: 'bottom' }, tooltip: tooltipFmt('dec1') } },
      },
      table: { head: [t('quarter'), ...['organisations', 'roles', 'contacts'].map((m) => t('cq_' + m))], rows: quarters.map((q) => [q, ...['organisations', 'roles', 'contacts'].map((m) => K.fig(c, 'instruments.continuity', m, q, 'dec1'))]) },
    });
    const FU = ['crisis', 'police_call'];
    K.card(g, {
      id: 'followup', title: t('ch_followup'), desc: t('ch_followup_desc'), csv: ['instruments', 'instruments.followup'],
      chart: bars(FU.map((e) => t('fu_' + e)), [ds(t('share'), FU.map((e) => K.v(c('instruments.followup', e, 'within_3_days'))), K.colors[2])], 'pct', { horizontal: true }),
      height: 180,
      table: {
        head: ['', t('share')],
        rows: FU.map((e) => [t('fu_' + e), fo('instruments.followup', e, 'within_3_days', 'pct')])
          .concat([[t('gap_longest'), fo('instruments.gaps', 'longest_gap_days', 'all', 'dec1')],
                   [t('gap_long_share'), fo('instruments.gaps', 'long_gap_share', 'all', 'pct')]]),
      },
    });
  };

  /* ---------------------------------------------------------------- timelines (evaluators) */

  const ITEM_STYLE = {
    goal_set: { style: 'triangle', color: '#1f5fa8', r: 6 },
    goal_achieved: { style: 'star', color: '#15803d', r: 8 },
    goal_revised: { style: 'rectRot', color: '#a16207', r: 6 },
    goal_abandoned: { style: 'crossRot', color: '#9f1239', r: 7 },
    crisis: { style: 'circle', color: '#c2410c', r: 5 },
    police_call: { style: 'rect', color: '#1f2933', r: 5 },
  };
  const DAY = 86400000;
  /* Ticks on the first day of every month, every 3rd (or 6th) month when the span is long. */
  function monthTicks(min, max) {
    const a = new Date(min), ticks = [];
    const months = (new Date(max).getUTCFullYear() - a.getUTCFullYear()) * 12 + new Date(max).getUTCMonth() - a.getUTCMonth();
    const step = months > 36 ? 6 : months > 12 ? 3 : 1;
    for (let y = a.getUTCFullYear(), m = a.getUTCMonth() + 1; ; m++) {
      const v = Date.UTC(y + Math.floor(m / 12), m % 12, 1);
      if (v > max) break;
      if ((m % 12) % step === 0) ticks.push({ value: v });
    }
    return ticks;
  }
  const dayMs = (d) => Date.parse(d.slice(0, 10) + 'T00:00:00Z');

  K.pages['/timeline'] = async function (main) {
    const q = new URLSearchParams(location.search);
    const limit = 20;
    const offset = Math.max(0, parseInt(q.get('offset') || '0', 10) || 0);
    const doc = await K.api('timeline', { offset: String(offset), limit: String(limit) });
    const rows = doc.rows;
    const lanes = new Map();
    for (const r of rows) lanes.set(r.lane, r.participant);
    const laneNo = [...lanes.keys()].sort((a, b) => a - b);
    const laneY = new Map(laneNo.map((l, i) => [l, i + 1]));
    const short = (p) => p.slice(0, 10);

    const nav = K.el('div', { class: 'pager' });
    const total = doc.lanes_total;
    nav.appendChild(K.el('p', { class: 'pager-info', 'aria-live': 'polite', text: t('tl_lanes', { from: total ? offset + 1 : 0, to: Math.min(offset + limit, total), n: total }) }));
    const link = (label, off, disabled) => {
      const p = new URLSearchParams(location.search);
      p.set('offset', String(off));
      return disabled ? K.el('span', { class: 'button secondary disabled', 'aria-disabled': 'true', text: label }) : K.el('a', { class: 'button secondary', href: '?' + p.toString(), text: label });
    };
    nav.appendChild(link(t('tl_prev'), Math.max(0, offset - limit), offset === 0));
    nav.appendChild(link(t('tl_next'), offset + limit, offset + limit >= total));
    nav.appendChild(K.el('a', { class: 'button secondary', href: K.csvHref('timeline', null, { offset: String(offset), limit: String(limit) }), download: '', text: t('tl_csv') }));
    const pf = K.filters();
    delete pf.from;
    const pq = new URLSearchParams(pf).toString();
    nav.appendChild(K.el('a', { class: 'button secondary', href: '/api/participants.csv' + (pq ? '?' + pq : ''), download: '', text: t('tl_participants_csv') }));
    main.appendChild(nav);

    const datasets = [];
    const spans = [];
    for (const r of rows.filter((x) => x.item === 'enrolled')) {
      spans.push({ x: dayMs(r.start_day), y: laneY.get(r.lane) }, { x: dayMs(r.end_day) - DAY, y: laneY.get(r.lane) }, { x: dayMs(r.end_day) - DAY, y: null });
    }
    datasets.push({ type: 'line', label: t('it_enrolled'), data: spans, borderColor: 'rgba(31,95,168,0.22)', backgroundColor: 'rgba(31,95,168,0.22)', borderWidth: 14, pointRadius: 0, pointStyle: 'rect', spanGaps: false, order: 9 });
    const stays = [];
    for (const r of rows.filter((x) => x.item === 'crisis' && x.days > 0)) {
      stays.push({ x: dayMs(r.start_day), y: laneY.get(r.lane) }, { x: dayMs(r.end_day), y: laneY.get(r.lane) }, { x: dayMs(r.end_day), y: null });
    }
    datasets.push({ type: 'line', label: t('it_crisis') + ' (' + t('m_crisis_days').toLowerCase() + ')', data: stays, borderColor: '#c2410c', backgroundColor: '#c2410c', borderWidth: 4, pointRadius: 0, pointStyle: 'line', spanGaps: false, order: 5 });
    const contacts = rows.filter((x) => x.item === 'contact').map((r) => ({ x: dayMs(r.start_day) + 3 * DAY, y: laneY.get(r.lane) - 0.28, n: r.events }));
    datasets.push({ type: 'scatter', label: t('it_contact'), data: contacts, backgroundColor: 'rgba(15,118,110,0.75)', borderColor: '#0f766e', pointRadius: (ctx) => (ctx.raw ? 1.5 + Math.min(3, ctx.raw.n / 2) : 2), order: 4 });
    for (const [item, st] of Object.entries(ITEM_STYLE)) {
      const data = rows.filter((x) => x.item === item).map((r) => ({ x: dayMs(item === 'crisis' ? r.end_day || r.start_day : r.start_day), y: laneY.get(r.lane) + (item.startsWith('goal') ? 0.28 : 0), detail: r.detail }));
      datasets.push({ type: 'scatter', label: t('it_' + item), data, pointStyle: st.style, pointRadius: st.r, backgroundColor: st.color, borderColor: st.color, borderWidth: item === 'goal_abandoned' ? 2 : 1, order: 1 });
    }
    const xs = rows.flatMap((r) => [r.start_day, r.end_day]).filter(Boolean).map(dayMs);
    const sec = K.card(main, {
      id: 'timeline', wide: true, title: t('tl_title'), csv: null,
      chart: {
        type: 'scatter',
        data: { datasets },
        options: {
          parsing: false,
          normalized: true,
          scales: {
            x: { type: 'linear', min: xs.length ? Math.min(...xs) - 15 * DAY : undefined, max: xs.length ? Math.max(...xs) + 15 * DAY : undefined,
              afterBuildTicks: (ax) => { ax.ticks = monthTicks(ax.min, ax.max); },
              ticks: { autoSkip: false, maxRotation: 0, callback: (v) => K.month(new Date(v).toISOString().slice(0, 7)) }, grid: { color: '#e5e7eb' } },
            y: { type: 'linear', reverse: true, min: 0.4, max: laneNo.length + 0.6, afterBuildTicks: (ax) => { ax.ticks = laneNo.map((l, i) => ({ value: i + 1 })); },
              ticks: { autoSkip: false, font: { family: 'ui-monospace, monospace', size: 11 }, callback: (v) => (Number.isInteger(v) && laneNo[v - 1] ? short(lanes.get(laneNo[v - 1])) : '') }, grid: { color: '#eef0f3' } },
          },
          plugins: {
            legend: { position: 'top', labels: { usePointStyle: true } },
            tooltip: { callbacks: { label: (ctx) => ctx.dataset.label + ' \u00b7 ' + K.date(new Date(ctx.raw.x).toISOString()) + (ctx.raw.detail ? ' \u00b7 ' + ctx.raw.detail.replace(/_/g, ' ') : '') + (ctx.raw.n ? ' \u00b7 ' + ctx.raw.n : '') } },
          },
        },
      },
      height: 110 + laneNo.length * 34,
      table: null,
    });
    const table = K.table({
      head: [t('tl_participant'), t('tl_item'), t('tl_date'), t('tl_end'), t('tl_detail')],
      rows: rows.map((r) => [short(r.participant), t('it_' + r.item), K.date(r.start_day), r.item === 'enrolled' ? K.date(new Date(dayMs(r.end_day) - DAY).toISOString()) : r.item === 'crisis' && r.days ? K.date(r.end_day) : '',
        [r.detail ? r.detail.replace(/_/g, ' ') : '', r.events && r.item === 'contact' ? r.events + ' \u00d7, ' + r.days + ' min' : '', r.item === 'crisis' && r.days ? r.days + ' d' : ''].filter(Boolean).join(', ')]),
    }, t('tl_table'));
    sec.appendChild(K.el('details', { class: 'table' }, [K.el('summary', { text: t('tl_table') }), table]));
  };

  /* ---------------------------------------------------------------- administration */

  K.pages['/admin'] = async function (main) {
    const [users, audit] = await Promise.all([K.api('users', {}), K.api('audit', {})]);
    const g = grid(main);
    K.card(g, {
      id: 'users', wide: true, title: t('ad_users'),
      table: {
        head: [t('ad_name'), t('ad_role'), t('ad_org'), t('ad_created'), t('ad_last_login'), t('ad_state'), t('ad_sessions')],
        rows: users.rows.map((u) => [u.name, t('role_' + u.role), u.organisation || '', K.date(u.created_at), u.last_login_at ? K.date(u.last_login_at) + ' ' + u.last_login_at.slice(11, 16) : '\u2013', u.disabled ? t('ad_disabled') : t('ad_enabled'), String(u.sessions)]),
      },
    });
    K.card(g, {
      id: 'audit', wide: true, title: t('ad_audit'),
      table: {
        head: [t('ad_at'), t('ad_name'), t('ad_role'), t('ad_action'), t('ad_resource'), t('ad_detail'), t('ad_client')],
        rows: audit.rows.map((a) => [a.at.slice(0, 19).replace('T', ' '), a.user_name || '', a.role ? t('role_' + a.role) : '', K.label('action', a.action), a.resource,
          a.detail ? Object.entries(a.detail).filter(([, v]) => v !== null).map(([k, v]) => k + '=' + v).join(', ') : '', a.client || '']),
      },
    });
  };
})();
