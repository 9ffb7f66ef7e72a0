// Drives Debian's chromium (playwright-core, no browser download) through koers-dash for
// tests/e2e/test_dashboard_browser.py: logs in as each user of the plan, opens every page,
// reads the figures shown (every element with data-chart/data-series/data-category), tries
// the pages the role may not open, and saves a full-page screenshot of each page. Every page
// (the login and refusal pages too) is checked by axe-core for the WCAG 2.1 A and AA rules,
// with every chart's table disclosure opened, so that the tables are checked as well.
//
// usage: node dashboard.js PLAN.json > RESULT.json
// PLAN: {"base": "http://127.0.0.1:PORT", "out": "DIR", "users": [{"name", "password",
//        "role", "pages": ["/", ...], "forbidden": ["/timeline", ...]}], "lang": "nl"}
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const { chromium } = require('playwright-core');
const axe = require('axe-core');

// The rules of WCAG 2.1 levels A and AA (axe-core's tags; 2.0's rules are part of 2.1).
const AXE_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];

// axe-core on the page as it is now, after opening every <details> (the tables behind the
// charts). Returns {rules: how many rules applied, violations: each with the rule, its help
// text and the nodes found}.
async function checkAxe(page) {
  await page.evaluate(() => { for (const d of document.querySelectorAll('details')) d.open = true; });
  // Evaluated through the DevTools protocol: the pages' Content-Security-Policy allows no inline script.
  if (!(await page.evaluate(() => !!window.axe))) await page.evaluate(axe.source);
  return page.evaluate(async (tags) => {
    const r = await window.axe.run(document, { runOnly: { type: 'tag', values: tags }, resultTypes: ['violations'] });
    return {
      rules: r.passes.length + r.violations.length + r.incomplete.length,
      violations: r.violations.map((v) => ({
        id: v.id, impact: v.impact, help: v.help,
        nodes: v.nodes.slice(0, 5).map((n) => ({ target: n.target.join(' '), html: n.html.slice(0, 200), summary: n.failureSummary })),
        count: v.nodes.length,
      })),
    };
  }, AXE_TAGS);
}

async function readPage(page) {
  return page.evaluate(() => {
    const figures = [];
    for (const e of document.querySelectorAll('[data-chart][data-series][data-category]')) {
      figures.push({
        chart: e.dataset.chart, series: e.dataset.series, category: e.dataset.category,
        text: e.textContent.trim(), suppressed: e.classList.contains('suppressed'),
      });
    }
    const canvases = [...document.querySelectorAll('canvas')].map((c) => ({
      label: c.getAttribute('aria-label'), width: c.width, height: c.height,
      drawn: !!(window.Chart && window.Chart.getChart(c)),
    }));
    return {
      ready: document.body.dataset.ready || null,
      lang: document.documentElement.lang,
      title: document.title,
      h1: (document.querySelector('h1') || {}).textContent || '',
      error: (document.getElementById('notice-error') || {}).hidden === false ? document.getElementById('notice-error').textContent : null,
      figures, canvases,
      tables: document.querySelectorAll('table').length,
      csvLinks: [...document.querySelectorAll('a[download]')].map((a) => a.getAttribute('href')),
      landmarks: {
        main: document.querySelectorAll('main').length, nav: document.querySelectorAll('nav').length,
        header: document.querySelectorAll('header').length, footer: document.querySelectorAll('footer').length,
      },
      unlabelled: [...document.querySelectorAll('input, select')].filter((i) => !(i.labels && i.labels.length) && !i.getAttribute('aria-label')).length,
      timelineLanes: document.querySelector('.pager-info') ? document.querySelector('.pager-info').textContent : null,
      mkba: document.getElementById('mkba') ? {
        window: (document.getElementById('mk-window') || {}).value || null,
        heading: (document.getElementById('h-mkba') || {}).textContent || null,
        rows: document.querySelectorAll('#mkba tbody tr').length,
        tornado: !!document.querySelector('#mkba-tornado canvas') && !!(window.Chart && window.Chart.getChart(document.querySelector('#mkba-tornado canvas'))),
        tornadoBars: document.querySelector('#mkba-tornado canvas') && window.Chart && window.Chart.getChart(document.querySelector('#mkba-tornado canvas'))
          ? window.Chart.getChart(document.querySelector('#mkba-tornado canvas')).data.labels.length : 0,
        tornadoRows: document.querySelectorAll('#mkba-tornado tbody tr').length,
        yearlyRows: document.querySelectorAll('#mkba-yearly tbody tr').length,
        priceRows: document.querySelectorAll('#mkba-prices tbody tr').length,
        cpiRows: document.querySelectorAll('#mkba-cpi tbody tr').length,
        text: document.getElementById('mkba').textContent,
      } : null,
      evidence: document.getElementById('evidence') ? {
        window: (document.getElementById('ev-window') || {}).value || null,
        windowLabel: document.querySelector('label[for="ev-window"]') ? document.querySelector('label[for="ev-window"]').textContent : null,
        note: (document.querySelector('#evidence .note') || {}).textContent || null,
        rows: document.querySelectorAll('#evidence tbody tr').length,
        slope: !!document.querySelector('#slope canvas') && !!(window.Chart && window.Chart.getChart(document.querySelector('#slope canvas'))),
        slopeLines: document.querySelector('#slope canvas') && window.Chart && window.Chart.getChart(document.querySelector('#slope canvas'))
          ? window.Chart.getChart(document.querySelector('#slope canvas')).data.datasets.length : 0,
        slopeRows: document.querySelectorAll('#slope tbody tr').length,
        status: (document.querySelector('#evidence [role=status]') || {}).textContent || '',
      } : null,
    };
  });
}

async function main() {
  const plan = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
  fs.mkdirSync(plan.out, { recursive: true });
  const result = { users: [] };
  const consoleErrors = [];
  for (const u of plan.users) {
    // A fresh browser profile per user: no cookie or storage crosses from one to the next.
    const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'koers-chromium-'));
    const context = await chromium.launchPersistentContext(profile, {
      executablePath: plan.chromium || '/usr/bin/chromium',
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      viewport: { width: 1360, height: 900 },
      locale: plan.lang === 'en' ? 'en-GB' : 'nl-NL',
    });
    try {
      if (plan.lang) await context.addInitScript((l) => localStorage.setItem('koers.lang', l), plan.lang);
      const page = await context.newPage();
      page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(u.name + ': ' + m.text()); });
      page.on('pageerror', (e) => consoleErrors.push(u.name + ': ' + e.message));
      const ur = { name: u.name, role: u.role, pages: {}, forbidden: {} };

      await page.goto(plan.base + '/login');
      if (plan.screenshotLogin && u === plan.users[0]) {
        await page.screenshot({ path: path.join(plan.out, 'login.png'), fullPage: true });
      }
      ur.loginAxe = await checkAxe(page);
      // Keyboard only: type into the labelled fields and press Enter.
      await page.getByLabel(/Gebruikersnaam|User name/).fill(u.name);
      await page.getByLabel(/Wachtwoord|Password/).fill(u.password);
      await Promise.all([page.waitForURL(plan.base + '/'), page.keyboard.press('Enter')]);

      for (const p of u.pages) {
        const url = plan.base + p;
        const resp = await page.goto(url);
        await page.waitForFunction(() => document.body.dataset.ready, null, { timeout: 60000 });
        await page.waitForTimeout(300); // charts draw after the tables
        const data = await readPage(page);
        data.status = resp.status();
        const name = (u.role + (p === '/' ? '-overview' : p.replace(/[/?=&]+/g, '-'))).replace(/-+$/, '');
        const shot = path.join(plan.out, name + '.png');
        await page.screenshot({ path: shot, fullPage: true });
        data.screenshot = shot;
        data.axe = await checkAxe(page);
        ur.pages[p] = data;
        // The window of the evidence, chosen by keyboard: the section loads again in place.
        if (p === '/crisis' && u.switchWindow) {
          // Tab order reaches it; the arrow keys change a closed select (and fire change).
          await page.focus('#ev-window');
          for (let i = 0; i < 3 && (await page.inputValue('#ev-window')) !== u.switchWindow; i++) {
            await page.keyboard.press('ArrowDown');
          }
          await page.waitForFunction(() => {
            const st = document.querySelector('#evidence [role=status]');
            return st && st.textContent && !document.querySelector('.evidence-body[aria-busy]');
          }, null, { timeout: 60000 });
          await page.waitForTimeout(300);
          const again = await readPage(page);
          again.status = 200;
          again.url = page.url();
          const shot2 = path.join(plan.out, name + '-' + u.switchWindow + '.png');
          await page.screenshot({ path: shot2, fullPage: true });
          again.screenshot = shot2;
          again.axe = await checkAxe(page);
          ur.pages[p + '#' + u.switchWindow] = again;
        }
      }
      for (const p of u.forbidden || []) {
        const resp = await page.goto(plan.base + p);
        const text = await page.textContent('body');
        ur.forbidden[p] = { status: resp.status(), text: text.replace(/\s+/g, ' ').trim().slice(0, 300) };
        await page.screenshot({ path: path.join(plan.out, u.role + p.replace(/\//g, '-') + '-refused.png') });
        ur.forbidden[p].axe = await checkAxe(page);
      }
      // The API as this user: same cookies, from the page (what a script on it could do).
      ur.api = await page.evaluate(async (paths) => {
        const out = {};
        for (const p of paths) {
          const r = await fetch(p, { headers: { Accept: 'application/json' } });
          out[p] = r.status;
        }
        return out;
      }, ['/api/timeline', '/api/participants', '/api/users', '/api/audit', '/api/overview', '/api/paired',
        '/api/evidence', '/api/evidence?window=before']);
      result.users.push(ur);
    } finally {
      await context.close();
      fs.rmSync(profile, { recursive: true, force: true });
    }
  }
  result.consoleErrors = consoleErrors;
  process.stdout.write(JSON.stringify(result));
}

main().catch((e) => {
  console.error(e && e.stack ? e.stack : String(e));
  process.exit(1);
});
