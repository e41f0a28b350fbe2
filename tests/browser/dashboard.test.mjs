// The dashboard in a real browser (issue 15 section 2): Debian's chromium,
// driven by playwright-core with chromium's own executable (nothing
// downloads a browser). Run by `make test` (make browser-test):
//
//   TALLY_BIN=build/bin OUT=build/browser node tests/browser/dashboard.test.mjs
//
// It starts a `tally demo --serve` federation, opens the dashboard with
// the planner's client certificate, loads the planner's key file into the
// page, builds a query (count by age_band where sex = F), waits for the
// chart, checks that the table and the chart show the API's figures for
// the same release, downloads the CSV and checks it, saves a screenshot,
// and checks two refusals: no client certificate, a tampered signature.
// If chromium cannot start, it says so and fails.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';

const BIN = path.resolve(process.env.TALLY_BIN || 'build/bin');
const OUT = path.resolve(process.env.OUT || 'build/browser');
const CHROMIUM = process.env.CHROMIUM || '/usr/lib/chromium/chromium';
const WAIT = 120000;

function tally(...args) {
  return execFileSync(path.join(BIN, 'tally'), args, { encoding: 'utf8', timeout: 300000 });
}

// GET from the API as the planner, outside the browser (node's TLS).
function apiGet(base, dir, rel) {
  return new Promise((resolve, reject) => {
    const req = https.get(`${base}${rel}`, {
      cert: readFileSync(`${dir}/pki/planner.crt`), key: readFileSync(`${dir}/pki/planner.key`),
      ca: readFileSync(`${dir}/pki/coordinator-ca.crt`), headers: { Connection: 'close' },
    }, (res) => {
      let text = '';
      res.on('data', (c) => { text += c; });
      res.on('end', () => resolve({ status: res.statusCode, body: JSON.parse(text) }));
    });
    req.on('error', reject);
  });
}

async function launch() {
  try {
    return await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  } catch (err) {
    console.error(`browser test: chromium cannot start (${CHROMIUM}): ${err.message}\n` +
      'Install it with `make deps` (Debian package chromium); CI must run this test.');
    process.exit(1);
  }
}

function near(a, b, what) {
  assert.ok(Math.abs(Number(a) - Number(b)) < 1e-9, `${what}: page ${a}, API ${b}`);
}

async function refusedWithoutCertificate(browser, base) {
  const context = await browser.newContext({ ignoreHTTPSErrors: true });
  const page = await context.newPage();
  let refused = false;
  try {
    const res = await page.goto(`${base}/`, { timeout: 30000 });
    refused = res === null || res.status() >= 400;
  } catch (err) {
    refused = true;
    console.log(`  without a client certificate: refused (${err.message.split('\n')[0]})`);
  }
  assert.ok(refused, 'the dashboard opened without a client certificate');
  await context.close();
}

async function tamperedSignatureRefused(page, dir) {
  const keyText = readFileSync(`${dir}/pki/planner.sign`, 'utf8');
  const status = await page.evaluate(async (text) => {
    const { importKeyFile, signRequest } = await import('/web/sign.js');
    const key = await importKeyFile(text);
    const body = new TextEncoder().encode(
      '{"dataset":"patients","measure":{"op":"count"},' +
      '"privacy":{"mechanism":"laplace","epsilon":0.1}}');
    const auth = await signRequest(key, 'planner', 'POST', '/v1/queries', body);
    const last = auth.slice(-1) === '0' ? '1' : '0';
    const res = await fetch('/v1/queries', { method: 'POST', body,
      headers: { 'Tally-Signature': auth.slice(0, -1) + last } });
    return res.status;
  }, keyText);
  assert.equal(status, 403, 'a tampered signature was not refused');
  console.log('  tampered signature: 403');
}

async function checkFigures(page, release) {
  const cells = release.cells;
  const rows = await page.$$eval('#result-table tr.figure', (trs) => trs.map((tr) => ({
    label: tr.dataset.label,
    value: tr.querySelector('.value') && tr.querySelector('.value').dataset.value,
    lo: tr.querySelector('.interval') && tr.querySelector('.interval').dataset.lo,
    hi: tr.querySelector('.interval') && tr.querySelector('.interval').dataset.hi,
  })));
  const bars = await page.$$eval('#chart .bar', (rs) => rs.map((r) => r.dataset.value));
  const errs = await page.$$eval('#chart .errorbar', (gs) => gs.map((g) => [g.dataset.lo,
    g.dataset.hi]));
  assert.equal(rows.length, cells.length, 'table rows');
  const shown = cells.filter((c) => c.value !== null);
  assert.equal(bars.length, shown.length, 'chart bars');
  cells.forEach((c, i) => {
    assert.equal(rows[i].label, Object.values(c.group).join(' · '));
    if (c.value === null) return;
    near(rows[i].value, c.value, `table value ${i}`);
    near(rows[i].lo, c.ci95[0], `table low ${i}`);
    near(rows[i].hi, c.ci95[1], `table high ${i}`);
  });
  shown.forEach((c, i) => {
    near(bars[i], c.value, `bar ${i}`);
    near(errs[i][0], c.ci95[0], `error bar low ${i}`);
    near(errs[i][1], c.ci95[1], `error bar high ${i}`);
  });
  console.log(`  ${cells.length} figures: the table and the chart equal the API's release`);
}

async function checkCsv(page, release) {
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#csv')]);
  const file = path.join(OUT, 'dashboard.csv');
  await download.saveAs(file);
  const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
  const head = lines.filter((l) => l.startsWith('#'));
  const table = lines.filter((l) => !l.startsWith('#'));
  assert.ok(head.includes(`# query_id: ${release.query_id}`), 'CSV query id');
  assert.ok(head.includes('# filters: sex = "F"'), `CSV filters: ${head.join(' | ')}`);
  assert.ok(head.some((l) => l.startsWith('# privacy cost: epsilon = 0.5')), 'CSV cost');
  assert.ok(head.includes('# trusts: 3 took part'), 'CSV trusts');
  assert.equal(table[0], 'age_band,value,ci95_low,ci95_high,suppressed');
  assert.equal(table.length - 1, release.cells.length, 'CSV rows');
  release.cells.forEach((c, i) => {
    const f = table[i + 1].split(',');
    assert.equal(f[0], c.group.age_band);
    if (c.value !== null) {
      near(f[1], c.value, `CSV value ${i}`);
      near(f[2], c.ci95[0], `CSV low ${i}`);
      near(f[3], c.ci95[1], `CSV high ${i}`);
    }
  });
  console.log(`  CSV: ${table.length - 1} rows and its header lines check (${file})`);
}

async function checkHeaders(page, base) {
  const res = await page.request.get(`${base}/web/app.js`);
  const hd = res.headers();
  assert.equal(res.status(), 200);
  assert.match(hd['content-type'], /^text\/javascript/);
  assert.match(hd['content-security-policy'], /default-src 'self'; frame-ancestors 'none'/);
  assert.equal(hd['x-content-type-options'], 'nosniff');
  assert.ok(hd['cache-control'], 'Cache-Control');
  const bad = await page.request.get(`${base}/web/..%2f..%2fpki%2fplanner.key`);
  assert.equal(bad.status(), 404);
}

// The estimate charges and logs nothing: no receipt, no log entry yet.
async function nothingCharged(base, dir) {
  const budgets = await apiGet(base, dir, '/v1/budgets');
  const releases = await apiGet(base, dir, '/v1/releases');
  assert.deepEqual(budgets.body.budgets, [], 'the estimate charged a trust');
  assert.deepEqual(releases.body.releases, [], 'the estimate was logged');
}

async function askInPage(page, base, dir) {
  await page.selectOption('#measure', 'count');
  await page.click('#add-filter');
  await page.selectOption('#filters .filter:last-child .f-col', 'sex');
  await page.selectOption('#filters .filter:last-child .f-op', '=');
  await page.fill('#filters .filter:last-child .f-value', 'F');
  await page.locator('#filters .filter:last-child .f-value').dispatchEvent('change');
  await page.check('#group-by input[value="age_band"]');
  await page.fill('#amount', '0.5');
  await page.locator('#amount').dispatchEvent('change');
  // The expected ± (POST /v1/queries/estimate), asked once the key is in.
  await page.waitForFunction(() => {
    const t = document.getElementById('estimate').textContent;
    return t !== '' && !/Load your key/.test(t);
  });
  console.log(`  estimate: ${await page.textContent('#estimate')}`);
  await nothingCharged(base, dir);
  await page.click('#ask-button');
  await page.waitForSelector('#chart svg .bar', { timeout: WAIT });
  return JSON.parse(await page.textContent('#release-json'));
}

// The example, built in the page: diabetes prevalence per 1,000 by
// IMD decile, age-standardised to ESP 2013, with 95% intervals.
async function askStandardisedInPage(page) {
  await page.click('#filters .filter:last-child button');
  await page.uncheck('#group-by input[value="age_band"]');
  await page.check('#group-by input[value="imd_decile"]');
  await page.selectOption('#measure', 'dsr');
  await page.selectOption('#rate-column', 'has_diabetes');
  await page.fill('#rate-value', '1');
  await page.selectOption('#per', '1000');
  await page.selectOption('#age-column', 'age');
  await page.fill('#amount', '1');
  await page.locator('#amount').dispatchEvent('change');
  const spec = JSON.parse(await page.inputValue('#spec'));
  assert.deepEqual(spec.measure, { op: 'dsr', numerator: [{ column: 'has_diabetes', op: '=',
    value: '1' }], per: 1000, age_column: 'age', standard: 'esp2013' }, 'the dsr spec');
  assert.deepEqual(spec.group_by, ['imd_decile']);
  assert.equal(spec.where, undefined);
  const before = await page.textContent('#release-json');
  await page.click('#ask-button');
  await page.waitForFunction((old) => {
    const t = document.getElementById('release-json').textContent;
    return t !== old && /"dsr"/.test(t) && document.querySelector('#chart svg .bar');
  }, before, { timeout: WAIT });
  const shown = JSON.parse(await page.textContent('#release-json'));
  assert.equal(shown.cells.length, 10, 'ten IMD deciles');
  console.log(`  age-standardised prevalence per 1,000, decile 1: ${shown.cells[0].value} ` +
    `[${shown.cells[0].ci95}]`);
  return shown;
}

async function main() {
  mkdirSync(OUT, { recursive: true });
  const dir = mkdtempSync(path.join(tmpdir(), 'tally-browser-'));
  rmSync(dir, { recursive: true });
  const browser = await launch();
  let ok = false;
  try {
    tally('demo', '--serve', '--dir', dir, '--sites', '3', '--people', '20000');
    const base = readFileSync(`${dir}/planner.conf`, 'utf8').match(/^api = (\S+)$/m)[1];
    await refusedWithoutCertificate(browser, base);
    const context = await browser.newContext({
      ignoreHTTPSErrors: true, // the demo's own coordinator CA, not the browser's
      acceptDownloads: true,
      viewport: { width: 1100, height: 900 },
      clientCertificates: [{ origin: base, certPath: `${dir}/pki/planner.crt`,
        keyPath: `${dir}/pki/planner.key` }],
    });
    const page = await context.newPage();
    const problems = [];
    page.on('pageerror', (e) => problems.push(String(e)));
    page.on('console', (m) => { if (m.type() === 'error') problems.push(m.text()); });
    await page.goto(`${base}/`, { timeout: WAIT });
    await page.waitForSelector('body[data-ready="true"]', { timeout: WAIT });
    await checkHeaders(page, base);
    await page.setInputFiles('#key-file', `${dir}/pki/planner.sign`);
    await page.waitForFunction(() => /loaded/.test(document.getElementById('key-status').textContent));
    const shown = await askInPage(page, base, dir);
    const { body } = await apiGet(base, dir, '/v1/releases?limit=1000');
    const entry = body.releases.find((e) => e.query_id === shown.query_id && e.release);
    assert.ok(entry, `release ${shown.query_id} is not in GET /v1/releases`);
    await checkFigures(page, entry.release);
    await checkCsv(page, entry.release);
    const dsr = await askStandardisedInPage(page);
    const all = (await apiGet(base, dir, '/v1/releases?limit=1000')).body.releases;
    const dsrEntry = all.find((e) => e.query_id === dsr.query_id && e.release);
    assert.ok(dsrEntry, `release ${dsr.query_id} is not in GET /v1/releases`);
    await checkFigures(page, dsrEntry.release);
    await page.waitForSelector('#history-table tr.release');
    await page.waitForSelector('#budget-table tr.budget');
    await page.screenshot({ path: path.join(OUT, 'dashboard.png'), fullPage: true });
    console.log(`  screenshot: ${path.join(OUT, 'dashboard.png')}`);
    await tamperedSignatureRefused(page, dir);
    const csp = problems.filter((p) => /Content Security Policy|Refused/.test(p));
    assert.deepEqual(csp, [], 'the page broke its own CSP');
    await context.close();
    ok = true;
  } finally {
    await browser.close();
    try {
      tally('demo', '--stop', '--dir', dir);
    } catch (err) {
      console.error(`browser test: could not stop the demo in ${dir}: ${err.message}`);
    }
    if (ok) rmSync(dir, { recursive: true, force: true });
  }
  console.log('browser test: ok');
}

main().catch((err) => {
  console.error(`browser test: FAILED: ${err.stack || err}`);
  process.exit(1);
});
