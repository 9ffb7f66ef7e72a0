/* koers dashboards: the shared part of every page: language, session, navigation, filters,
 * fetching the API, number formats, and cards that hold a chart with its table and CSV. */
'use strict';
(function () {
  const K = (window.K = { pages: {} });
  const I18N = window.KOERS_I18N;
  K.lang = localStorage.getItem('koers.lang') === 'en' ? 'en' : 'nl';

  K.t = function (key, vars) {
    let s = (I18N[K.lang] && I18N[K.lang][key]) || I18N.nl[key] || key;
    if (vars) for (const k of Object.keys(vars)) s = s.split('{' + k + '}').join(vars[k]);
    return s;
  };
  /* The label of an enumeration value, e.g. K.label('domain', 'housing'). */
  K.label = function (prefix, value) {
    const key = prefix + '_' + value;
    const s = K.t(key);
    return s === key ? value : s;
  };

  K.el = function (tag, attrs, children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === 'text') e.textContent = v;
      else if (k === 'class') e.className = v;
      else e.setAttribute(k, v === true ? '' : v);
    }
    for (const c of [].concat(children || [])) {
      if (c === null || c === undefined) continue;
      e.appendChild(typeof c === 'string' ? document.createTextNode(c) : c);
    }
    return e;
  };

  /* ---------------------------------------------------------------- numbers */

  K.fmt = function (v, kind) {
    if (v === null || v === undefined) return '';
    const loc = K.t('locale');
    switch (kind) {
      case 'int': return new Intl.NumberFormat(loc, { maximumFractionDigits: 0 }).format(v);
      case 'eur': return new Intl.NumberFormat(loc, { style: 'currency', currency: 'EUR', maximumFractionDigits: 0 }).format(v);
      case 'pct': return new Intl.NumberFormat(loc, { style: 'percent', maximumFractionDigits: 0 }).format(v);
      case 'dec4': return new Intl.NumberFormat(loc, { minimumFractionDigits: 4, maximumFractionDigits: 4 }).format(v);
      case 'dec1': return new Intl.NumberFormat(loc, { minimumFractionDigits: 1, maximumFractionDigits: 1 }).format(v);
      default: return new Intl.NumberFormat(loc, { minimumFractionDigits: 2, maximumFractionDigits: 2 }).format(v);
    }
  };
  K.month = function (ym) {
    const [y, m] = ym.split('-').map(Number);
    return new Intl.DateTimeFormat(K.t('locale'), { month: 'short', year: 'numeric', timeZone: 'UTC' })
      .format(new Date(Date.UTC(y, m - 1, 1)));
  };
  K.date = function (d) {
    if (!d) return '';
    const [y, m, day] = d.slice(0, 10).split('-').map(Number);
    return new Intl.DateTimeFormat(K.t('locale'), { day: 'numeric', month: 'short', year: 'numeric', timeZone: 'UTC' })
      .format(new Date(Date.UTC(y, m - 1, day)));
  };

  /* Cells of a page response, by chart|series|category. */
  K.cells = function (doc) {
    const idx = new Map();
    for (const r of doc.rows) idx.set(r.chart + '|' + r.series + '|' + r.category, r);
    const get = (c, s, g) => idx.get(c + '|' + s + '|' + g) || null;
    get.rows = doc.rows;
    get.list = (c) => doc.rows.filter((r) => r.chart === c);
    get.categories = (c) => [...new Set(doc.rows.filter((r) => r.chart === c).map((r) => r.category))];
    get.series = (c) => [...new Set(doc.rows.filter((r) => r.chart === c).map((r) => r.series))];
    return get;
  };
  /* A chart value: null when suppressed or missing (a gap in the chart). */
  K.v = (cell) => (cell && !cell.suppressed && cell.value !== null ? cell.value : null);

  K.supText = function () {
    return '<' + (K.me.suppressed_below || 5);
  };
  /* A table cell (or KPI value) for one figure, marked with its key for tests and tools. */
  K.cellNode = function (tag, cell, kind, key) {
    const attrs = key ? { 'data-chart': key[0], 'data-series': key[1], 'data-category': key[2] } : {};
    if (tag === 'td') attrs.class = 'num';
    if (cell && cell.suppressed) {
      attrs.class = (attrs.class || '') + ' suppressed';
      return K.el(tag, attrs, [K.el('abbr', { title: K.t('suppression_short', { k: K.me.suppressed_below }), text: K.supText() })]);
    }
    attrs.text = cell ? K.fmt(cell.value, kind) : '\u2013';
    return K.el(tag, attrs);
  };

  /* ---------------------------------------------------------------- API */

  K.filters = function () {
    const q = new URLSearchParams(location.search);
    const f = {};
    for (const k of ['cohort', 'organisation', 'from', 'to']) {
      const v = q.get(k);
      if (v) f[k] = v;
    }
    return f;
  };
  K.query = function (extra) {
    const q = new URLSearchParams(Object.assign({}, K.filters(), extra || {}));
    const s = q.toString();
    return s ? '?' + s : '';
  };
  K.api = async function (name, extra) {
    const res = await fetch('/api/' + name + K.query(extra), { headers: { Accept: 'application/json' }, credentials: 'same-origin' });
    if (res.status === 401) {
      location.href = '/login';
      throw new Error('no session');
    }
    const doc = await res.json().catch(() => ({}));
    if (!res.ok) {
      const err = new Error(doc.message || res.statusText);
      err.status = res.status;
      err.code = doc.error;
      throw err;
    }
    return doc;
  };
  K.csvHref = (page, chart, extra) =>
    '/api/' + page + '.csv' + K.query(Object.assign(chart ? { chart } : {}, extra || {}));

  /* ---------------------------------------------------------------- charts */

  /* Colours with at least 3:1 contrast on white (WCAG 1.4.11), told apart without colour
   * vision too (Okabe-Ito based). */
  K.colors = ['#1f5fa8', '#c2410c', '#0f766e', '#7c3aed', '#a16207', '#be185d', '#4d7c0f', '#475569', '#0369a1', '#b91c1c', '#6d28d9', '#065f46'];
  K.before = '#6b7280';
  K.during = '#1f5fa8';
  K.status = { open: '#94a3b8', achieved: '#15803d', revised: '#a16207', abandoned: '#9f1239' };

  K.chart = function (canvas, config) {
    if (!window.Chart) return null;
    const Chart = window.Chart;
    Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
    Chart.defaults.font.size = 13;
    Chart.defaults.color = '#1f2933';
    Chart.defaults.animation = false;
    Chart.defaults.maintainAspectRatio = false;
    Chart.defaults.plugins.legend.labels.boxWidth = 14;
    return new Chart(canvas, config);
  };

  /* A card: heading, description, chart (with a text alternative), its table behind a
   * disclosure, and the CSV of its data. spec: {id, title, desc, csv: [page, chart],
   * chart: Chart.js config or null, table: {head: [...], rows: [[th, cells...]]}, height}. */
  K.card = function (parent, spec) {
    const hid = 'h-' + spec.id;
    const sec = K.el('section', { class: 'card' + (spec.wide ? ' wide' : ''), 'aria-labelledby': hid, id: spec.id });
    sec.appendChild(K.el('h2', { id: hid, text: spec.title }));
    if (spec.desc) sec.appendChild(K.el('p', { class: 'desc', text: spec.desc }));
    if (spec.chart) {
      const wrap = K.el('div', { class: 'chart', style: null });
      wrap.dataset.height = spec.height || 280;
      const canvas = K.el('canvas', { role: 'img', 'aria-label': K.t('chart_summary', { t: spec.title }) });
      wrap.appendChild(canvas);
      sec.appendChild(wrap);
      K.afterLayout.push(() => {
        wrap.style.height = wrap.dataset.height + 'px';
        K.chart(canvas, spec.chart);
      });
    }
    if (spec.table) {
      const table = K.table(spec.table, spec.title);
      if (spec.chart) {
        const det = K.el('details', { class: 'table' }, [K.el('summary', { text: K.t('show_table') }), table]);
        sec.appendChild(det);
      } else {
        sec.appendChild(K.el('div', { class: 'table-wrap' }, [table]));
      }
    }
    if (spec.csv || spec.csvHref) {
      sec.appendChild(K.el('p', { class: 'csv' }, [K.el('a', {
        href: spec.csvHref || K.csvHref(spec.csv[0], spec.csv[1], spec.csv[2]), download: '',
        'aria-label': K.t('download_csv_of', { t: spec.title }), text: K.t('download_csv'),
      })]));
    }
    parent.appendChild(sec);
    return sec;
  };
  K.afterLayout = [];

  /* table: {head: [labels], rows: [[rowLabel, node|{cell, kind, key}|string, ...]]} */
  K.table = function (spec, caption) {
    const t = K.el('table');
    if (caption) t.appendChild(K.el('caption', { class: 'visually-hidden', text: caption }));
    const thead = K.el('thead');
    thead.appendChild(K.el('tr', {}, spec.head.map((h) => K.el('th', { scope: 'col', text: h }))));
    t.appendChild(thead);
    const tb = K.el('tbody');
    for (const row of spec.rows) {
      const tr = K.el('tr', row.cls ? { class: row.cls } : {});
      const cells = row.cells || row;
      cells.forEach((c, i) => {
        if (i === 0) tr.appendChild(K.el('th', { scope: 'row', text: c }));
        else if (c instanceof Node) tr.appendChild(c);
        else if (c && typeof c === 'object') tr.appendChild(K.cellNode('td', c.cell, c.kind, c.key));
        else tr.appendChild(K.el('td', { text: c === null || c === undefined ? '' : String(c) }));
      });
      tb.appendChild(tr);
    }
    t.appendChild(tb);
    return t;
  };
  /* {cell, kind, key} of chart c, series s, category g of the cells index. */
  K.fig = (cells, c, s, g, kind) => ({ cell: cells(c, s, g), kind, key: [c, s, g] });

  /* A row of key figures: [{label, sub, cell, kind, key}] */
  K.kpis = function (parent, items) {
    const ul = K.el('ul', { class: 'kpis' });
    for (const it of items) {
      const li = K.el('li', { class: 'kpi' });
      li.appendChild(K.el('span', { class: 'kpi-label', text: it.label }));
      li.appendChild(K.cellNode('span', it.cell, it.kind, it.key));
      li.lastChild.classList.add('kpi-value');
      if (it.sub) li.appendChild(K.el('span', { class: 'kpi-sub', text: it.sub }));
      ul.appendChild(li);
    }
    parent.appendChild(ul);
  };

  /* ---------------------------------------------------------------- the frame */

  const NAV = [
    { path: '/', key: 'nav_overview', title: 'ov_title', intro: 'ov_intro' },
    { path: '/crisis', key: 'nav_crisis', title: 'cr_title', intro: 'cr_intro' },
    { path: '/support', key: 'nav_support', title: 'su_title', intro: 'su_intro' },
    { path: '/cost', key: 'nav_cost', title: 'co_title', intro: 'co_intro' },
    { path: '/instruments', key: 'nav_instruments', title: 'in_title', intro: 'in_intro' },
    { path: '/quality', key: 'nav_quality', title: 'dq_title', intro: 'dq_intro' },
    { path: '/timeline', key: 'nav_timeline', title: 'tl_title', intro: 'tl_intro', role: 'evaluator' },
    { path: '/admin', key: 'nav_admin', title: 'ad_title', intro: 'ad_intro', role: 'admin' },
  ];

  function applyStatic() {
    document.documentElement.lang = K.lang;
    for (const e of document.querySelectorAll('[data-i18n]')) e.textContent = K.t(e.dataset.i18n);
    for (const e of document.querySelectorAll('[data-i18n-label]')) e.setAttribute('aria-label', K.t(e.dataset.i18nLabel));
  }

  function buildNav(me) {
    const ul = document.getElementById('nav-list');
    ul.textContent = '';
    for (const n of NAV) {
      if (n.role && n.role !== me.role) continue;
      const current = location.pathname === n.path;
      ul.appendChild(K.el('li', {}, [K.el('a', { href: n.path + K.query(), 'aria-current': current ? 'page' : null, text: K.t(n.key) })]));
    }
  }

  function buildUser(me) {
    const box = document.getElementById('user');
    box.textContent = '';
    const who = K.t('role_' + me.role) + (me.organisation ? ' \u00b7 ' + me.organisation : '');
    box.appendChild(K.el('span', { class: 'who' }, [K.t('signed_in_as') + ' ', K.el('strong', { text: me.user_name }), ' (' + who + ')']));
    const lang = K.el('button', { type: 'button', class: 'linkish', lang: K.lang === 'nl' ? 'en' : 'nl', 'aria-label': K.t('lang_switch_label'), text: K.t('lang_switch') });
    lang.addEventListener('click', () => {
      localStorage.setItem('koers.lang', K.lang === 'nl' ? 'en' : 'nl');
      location.reload();
    });
    box.appendChild(lang);
    const form = K.el('form', { method: 'post', action: '/logout' }, [K.el('button', { type: 'submit', class: 'secondary', text: K.t('logout') })]);
    box.appendChild(form);
  }

  function buildFilters(me) {
    const f = K.filters();
    const form = document.getElementById('filters');
    form.textContent = '';
    form.appendChild(K.el('h2', { class: 'visually-hidden', text: K.t('filters') }));
    const sel = (name, label, options) => {
      const id = 'f-' + name;
      const s = K.el('select', { id, name });
      s.appendChild(K.el('option', { value: '', text: K.t('f_all') }));
      for (const o of options) s.appendChild(K.el('option', { value: o, selected: f[name] === o, text: o }));
      return K.el('div', { class: 'field' }, [K.el('label', { for: id, text: label }), s]);
    };
    const month = (name, label) => {
      const id = 'f-' + name;
      return K.el('div', { class: 'field' }, [K.el('label', { for: id, text: label }),
        K.el('input', { id, name, type: 'month', value: f[name] || '', min: me.first_month || null, max: me.last_month || null, pattern: '[0-9]{4}-[0-9]{2}', placeholder: 'YYYY-MM' })]);
    };
    form.appendChild(sel('cohort', K.t('f_cohort'), me.cohorts || []));
    form.appendChild(sel('organisation', K.t('f_organisation'), me.organisations || []));
    form.appendChild(month('from', K.t('f_from')));
    form.appendChild(month('to', K.t('f_to')));
    form.appendChild(K.el('div', { class: 'field buttons' }, [
      K.el('button', { type: 'submit', text: K.t('f_apply') }),
      K.el('a', { class: 'button secondary', href: location.pathname, text: K.t('f_reset') }),
    ]));
    /* Empty fields stay out of the address. */
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const q = new URLSearchParams();
      for (const e of form.elements) if (e.name && e.value) q.set(e.name, e.value);
      const s = q.toString();
      location.href = location.pathname + (s ? '?' + s : '');
    });
  }

  K.showError = function (err) {
    const box = document.getElementById('notice-error');
    let msg = K.t('error_generic');
    if (err.status === 422) msg = K.t('error_refused', { msg: err.message });
    else if (err.status === 403) msg = K.t('error_forbidden');
    box.textContent = msg;
    box.hidden = false;
  };

  async function start() {
    applyStatic();
    const nav = NAV.find((n) => n.path === location.pathname) || NAV[0];
    document.title = K.t(nav.title) + ' \u2013 ' + K.t('product');
    document.getElementById('page-title').textContent = K.t(nav.title);
    document.getElementById('page-intro').textContent = K.t(nav.intro);
    const content = document.getElementById('content');
    let me;
    try {
      me = K.me = await K.api('me');
    } catch (err) {
      K.showError(err);
      return;
    }
    buildNav(me);
    buildUser(me);
    buildFilters(me);
    const note = document.getElementById('notice');
    note.textContent = '';
    note.appendChild(K.el('strong', { text: K.t('as_of') + ' ' + K.date(me.as_of) + '. ' }));
    if (me.suppressed_below) note.appendChild(document.createTextNode(K.t('suppression_note', { k: me.suppressed_below })));
    if (K.filters().organisation) note.appendChild(K.el('span', { class: 'org-note', text: ' ' + K.t('f_org_note') }));
    const render = K.pages[location.pathname];
    if (!render) return;
    content.setAttribute('aria-busy', 'true');
    try {
      await render(content);
      document.body.dataset.ready = 'true';
    } catch (err) {
      K.showError(err);
      document.body.dataset.ready = 'error';
    }
    content.removeAttribute('aria-busy');
    const loading = document.getElementById('loading');
    if (loading) loading.remove();
    /* Charts are drawn once their boxes exist, so that they take the box's size. */
    for (const f of K.afterLayout.splice(0)) f();
  }

  document.addEventListener('DOMContentLoaded', start);
})();
