// The planners' dashboard: catalogue, query builder with the expected ±,
// results (table, chart, CSV), budgets and history. No framework: the DOM,
// fetch and WebCrypto.

import { ApiError, get, post } from './api.js';
import { barChart } from './chart.js';
import { budgetFigure, fmt, plusMinus, privacyWords, releaseCsv, rowsOf } from './figures.js';
import { importKeyFile } from './sign.js';

const $ = (id) => document.getElementById(id);
const state = { catalogue: null, planner: null, release: null, estimateTimer: 0 };

function h(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') e.className = v;
    else e.setAttribute(k, String(v));
  }
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}

function say(id, text, error = false) {
  $(id).textContent = text;
  $(id).classList.toggle('error', error);
}

function describeError(e) {
  if (e instanceof ApiError) return `${e.message} (HTTP ${e.status}, ${e.code})`;
  return String(e && e.message ? e.message : e);
}

// ---- catalogue ----

function dataset() {
  return state.catalogue.datasets.find((d) => d.name === $('dataset').value);
}

function renderCatalogue() {
  const list = $('catalogue-list');
  list.replaceChildren();
  for (const d of state.catalogue.datasets) {
    const rows = d.columns.map((c) => h('tr', {}, h('td', {}, c.name),
      h('td', {}, c.type === 'integer' ? 'whole number' : 'category'),
      h('td', {}, c.type === 'integer' ? `${c.min} to ${c.max}` : c.domain.join(', '))));
    list.append(h('h3', {}, d.name),
      h('p', {}, `A person may be counted at up to ${d.max_sites_per_person} trust(s).`),
      h('table', {}, h('tr', {}, h('th', {}, 'column'), h('th', {}, 'kind'),
        h('th', {}, 'values')), ...rows));
    $('dataset').append(h('option', { value: d.name }, d.name));
  }
}

// ---- the builder ----

function options(select, columns) {
  select.replaceChildren(...columns.map((c) => h('option', { value: c.name }, c.name)));
}

function onDataset() {
  const d = dataset();
  options($('column'), d.columns.filter((c) => c.type === 'integer'));
  options($('rate-column'), d.columns.filter((c) => c.type === 'categorical'));
  const ages = d.columns.filter((c) => c.type === 'integer');
  options($('age-column'), [...ages.filter((c) => c.name === 'age'),
    ...ages.filter((c) => c.name !== 'age')]);
  $('filters').replaceChildren();
  $('group-by').replaceChildren(...d.columns.filter((c) => c.type === 'categorical').map((c) =>
    h('label', {}, h('input', { type: 'checkbox', value: c.name, name: 'by' }), ` ${c.name}`)));
  onChange();
}

function addFilter() {
  const d = dataset();
  const col = h('select', { class: 'f-col' });
  options(col, d.columns);
  const op = h('select', { class: 'f-op' });
  for (const o of ['=', '!=', '<', '<=', '>', '>=', 'in']) op.append(h('option', { value: o }, o));
  const value = h('input', { class: 'f-value', size: 10, placeholder: 'value' });
  const remove = h('button', { type: 'button', class: 'small' }, 'remove');
  const row = h('div', { class: 'filter' }, col, ' ', op, ' ', value, ' ', remove);
  remove.addEventListener('click', () => {
    row.remove();
    onChange();
  });
  $('filters').append(row);
  return row;
}

function scalar(column, text) {
  const c = dataset().columns.find((x) => x.name === column);
  return c && c.type === 'integer' ? Number(text) : text;
}

function buildSpec() {
  const m = $('measure').value;
  const measure = { op: m };
  if (m === 'sum' || m === 'mean' || m === 'histogram') measure.column = $('column').value;
  if (m === 'histogram') measure.edges = $('edges').value.split(',').map(Number);
  if (m === 'rate' || m === 'dsr') {
    // the numerator: the people of each group who also match this
    const column = $('rate-column').value;
    measure.numerator = [{ column, op: '=', value: scalar(column, $('rate-value').value.trim()) }];
    measure.per = Number($('per').value);
  }
  if (m === 'dsr') {
    measure.age_column = $('age-column').value;
    measure.standard = 'esp2013';
  }
  const spec = { dataset: $('dataset').value, measure };
  const where = [...document.querySelectorAll('#filters .filter')].map((row) => {
    const column = row.querySelector('.f-col').value;
    const op = row.querySelector('.f-op').value;
    const text = row.querySelector('.f-value').value;
    const value = op === 'in' ? text.split(',').map((v) => scalar(column, v.trim()))
      : scalar(column, text.trim());
    return { column, op, value };
  });
  if (where.length) spec.where = where;
  const by = [...document.querySelectorAll('#group-by input:checked')].map((i) => i.value);
  if (by.length) spec.group_by = by;
  const amount = Number($('amount').value);
  spec.privacy = $('mechanism').value === 'laplace'
    ? { mechanism: 'laplace', epsilon: amount } : { mechanism: 'gaussian', rho: amount };
  const suppress = Number($('suppress').value);
  if (suppress > 0) spec.sdc = { suppress_below: suppress };
  return spec;
}

function onChange() {
  const m = $('measure').value;
  $('column-label').hidden = !['sum', 'mean', 'histogram'].includes(m);
  $('edges-label').hidden = m !== 'histogram';
  $('rate-label').hidden = !['rate', 'dsr'].includes(m);
  $('per-label').hidden = !['rate', 'dsr'].includes(m);
  $('age-label').hidden = m !== 'dsr';
  const spec = buildSpec();
  $('spec').value = JSON.stringify(spec, null, 1);
  $('cost').textContent = privacyWords(spec.privacy);
  scheduleEstimate();
}

function scheduleEstimate() {
  clearTimeout(state.estimateTimer);
  state.estimateTimer = setTimeout(estimate, 400);
}

// The expected ± before asking: POST /v1/queries/estimate, signed like a
// query, charges nothing.
async function estimate() {
  if (!state.planner) {
    say('estimate', 'Load your key to see the expected ± before asking.');
    return;
  }
  try {
    const e = await post('/v1/queries/estimate', $('spec').value, state.planner);
    const figures = (e.figures || []).map((f) => `${f.figure} ± ${fmt(f.half_width95)}`);
    say('estimate', `Expected 95% margin: ${figures.join(', ') || 'none'}; ` +
      `${e.contributors} trusts would take part. Nothing has been charged.`);
  } catch (err) {
    say('estimate', err.status === 404 ? 'This coordinator cannot estimate the ± in advance.'
      : `No estimate: ${describeError(err)}`, err.status !== 404);
  }
}

async function onKey() {
  const file = $('key-file').files[0];
  if (!file) return;
  try {
    const key = await importKeyFile(await file.text());
    if (!$('planner-name').value) $('planner-name').value = file.name.replace(/\.sign$/, '');
    state.planner = { name: $('planner-name').value, key };
    $('key-file').value = '';
    say('key-status', `Key for ${state.planner.name} loaded into this page (not readable, ` +
      'not stored, not sent).');
    $('ask-button').disabled = false;
    scheduleEstimate();
  } catch (err) {
    say('key-status', describeError(err), true);
  }
}

// ---- results ----

function renderRelease(release) {
  state.release = release;
  const rows = rowsOf(release);
  const groups = rows.length ? Object.keys(rows[0].group) : [];
  $('result-words').textContent = `${release.description}. ${release.contributors} trusts took ` +
    `part. ${privacyWords(release.privacy)} Each figure is shown with its 95% interval, which ` +
    'includes the privacy noise.';
  $('chart').replaceChildren(barChart(rows, release.description));
  const sup = (release.sdc || {}).suppress_below;
  const head = h('tr', {}, ...groups.map((g) => h('th', {}, g)), h('th', { class: 'num' }, 'figure'),
    h('th', { class: 'num' }, '±'), h('th', { class: 'num' }, '95% interval'));
  const body = rows.map((r) => h('tr', { class: 'figure', 'data-label': r.label },
    ...groups.map((g) => h('td', {}, r.group[g])),
    r.suppressed
      ? h('td', { class: 'suppressed', colspan: 3 }, `suppressed because fewer than ${sup}`)
      : h('td', { class: 'num value', 'data-value': r.value }, fmt(r.value)),
    ...(r.suppressed ? [] : [h('td', { class: 'num' }, plusMinus(r)),
      h('td', { class: 'num interval', 'data-lo': r.lo, 'data-hi': r.hi },
        `${fmt(r.lo)} to ${fmt(r.hi)}`)])));
  $('result-table').replaceChildren(head, ...body);
  const p = release.privacy || {};
  $('mechanism-list').replaceChildren(...Object.entries({
    'query id': release.query_id, mechanism: p.mechanism, 'ε or ρ (exact)':
      p.epsilon_exact || p.rho_exact || p.epsilon || p.rho, δ: p.delta,
    'noise standard deviation (the total)': p.noise_sd,
    '95% half-width of a count': p.ci95_half_width,
    'honest trusts assumed (h)': p.min_honest,
  }).flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v === undefined ? '' : v)]));
  $('release-json').textContent = JSON.stringify(release, null, 1);
  $('csv').disabled = false;
}

function downloadCsv() {
  const blob = new Blob([releaseCsv(state.release)], { type: 'text/csv' });
  const a = h('a', { href: URL.createObjectURL(blob),
    download: `tally-${state.release.query_id}.csv` });
  document.body.append(a);
  a.click();
  a.remove();
}

async function ask(ev) {
  ev.preventDefault();
  say('ask-status', 'Asking the trusts…');
  $('ask-button').disabled = true;
  try {
    const release = await post('/v1/queries', $('spec').value, state.planner);
    renderRelease(release);
    say('ask-status', `Released: query ${release.query_id}.`);
    location.hash = '#results';
    await Promise.all([loadBudgets(), loadHistory()]);
  } catch (err) {
    say('ask-status', `Not answered: ${describeError(err)}`, true);
  } finally {
    $('ask-button').disabled = !state.planner;
  }
}

// ---- budgets and history ----

async function loadBudgets() {
  const { budgets } = await get('/v1/budgets');
  const head = h('tr', {}, h('th', {}, 'trust'), h('th', {}, 'population'),
    h('th', {}, 'left'), h('th', { class: 'num' }, 'ε spent of total'),
    h('th', { class: 'num' }, 'ρ used of cap'));
  const rows = budgets.map((b) => h('tr', { class: 'budget' },
    h('td', {}, `trust ${b.node}`), h('td', {}, b.population),
    h('td', {}, h('progress', { max: 1, value: b.remaining }),
      ` ${budgetFigure(100 * b.remaining, -1)}%`),
    h('td', { class: 'num', title: `${b.epsilon_spent} of ${b.epsilon_total}` },
      `${budgetFigure(b.epsilon_spent_decimal, 1)} of ${budgetFigure(b.epsilon_total_decimal, -1)}`),
    h('td', { class: 'num', title: `exact cap ${b.rho_total}` },
      `${budgetFigure(b.rho_used_decimal, 1)} of ${budgetFigure(b.rho_total_decimal, -1)}`)));
  $('budget-table').replaceChildren(head,
    ...(rows.length ? rows : [h('tr', {}, h('td', { colspan: 5 }, 'No trust has answered yet.'))]));
}

async function loadHistory() {
  const entries = [];
  for (let since = 0, more = true; more && entries.length < 10000;) {
    const page = await get(`/v1/releases?since=${since}&limit=1000`);
    entries.push(...page.releases);
    since = page.next_since;
    more = page.more;
  }
  const planners = new Map(entries.filter((e) => e.planner).map((e) => [e.query_id, e.planner]));
  const done = entries.filter((e) => e.outcome !== 'committed').reverse();
  const head = h('tr', {}, h('th', {}, 'when (UTC)'), h('th', {}, 'planner'),
    h('th', {}, 'question'), h('th', {}, 'filters'), h('th', {}, 'privacy cost'),
    h('th', {}, 'outcome'));
  const rows = done.map((e) => {
    const r = e.release || {};
    const p = r.privacy || {};
    return h('tr', { class: 'release', 'data-query-id': e.query_id },
      h('td', {}, e.time.replace('T', ' ').replace('Z', '')),
      h('td', {}, planners.get(e.query_id) || ''), h('td', {}, r.description || ''),
      h('td', {}, (r.filters || []).join(' and ') || (e.release ? 'none' : '')),
      h('td', {}, p.epsilon !== undefined ? `ε = ${p.epsilon_exact || p.epsilon}`
        : p.rho !== undefined ? `ρ = ${p.rho_exact || p.rho}` : ''),
      h('td', {}, e.outcome === 'released' ? 'released' : `${e.outcome}: ${e.reason || ''}`));
  });
  $('history-table').replaceChildren(head, ...rows);
}

// ---- start ----

async function start() {
  $('key-file').addEventListener('change', onKey);
  $('dataset').addEventListener('change', onDataset);
  $('add-filter').addEventListener('click', () => {
    addFilter();
    onChange();
  });
  $('builder').addEventListener('change', (ev) => {
    if (ev.target.id !== 'spec' && ev.target.id !== 'key-file') onChange();
  });
  $('builder').addEventListener('input', (ev) => {
    if (ev.target.id === 'spec') scheduleEstimate();
  });
  $('builder').addEventListener('submit', ask);
  $('csv').addEventListener('click', downloadCsv);
  try {
    state.catalogue = await get('/v1/catalogue');
    renderCatalogue();
    onDataset();
    await Promise.all([loadBudgets(), loadHistory()]);
    document.body.dataset.ready = 'true';
  } catch (err) {
    say('ask-status', `Cannot reach the coordinator's API: ${describeError(err)}`, true);
  }
}

start();
