// The page's figures for people (web/figures.js), without a browser:
// suppressed cells, ± from the interval, CSV quoting and header lines.
//   node tests/browser/figures.test.mjs

import assert from 'node:assert/strict';
import { budgetFigure, plusMinus, privacyWords, releaseCsv, rowsOf } from '../../web/figures.js';

const release = {
  query_id: '00112233445566778899aabbccddeeff', dataset: 'patients',
  description: 'count of people in dataset "patients" where sex = "F", by ethnicity',
  filters: ['sex = "F"', 'age >= 65'], contributors: 5, dropped: [4],
  privacy: { mechanism: 'laplace', epsilon: 0.5, epsilon_exact: '1/2' },
  sdc: { suppress_below: 8, round_to: 0 },
  cells: [
    { group: { ethnicity: 'white' }, value: 120, ci95: [113, 127] },
    { group: { ethnicity: 'other, "mixed"' }, value: null, ci95: null, suppressed: true },
  ],
};

const rows = rowsOf(release);
assert.equal(rows.length, 2);
assert.deepEqual([rows[0].value, rows[0].lo, rows[0].hi, rows[0].suppressed], [120, 113, 127,
  false]);
assert.equal(rows[1].suppressed, true);
assert.equal(plusMinus(rows[0]), '± 7');
assert.equal(plusMinus(rows[1]), '');
assert.match(privacyWords(release.privacy), /^privacy cost ε = 1\/2: /);
assert.match(privacyWords({ mechanism: 'gaussian', rho: 0.1 }), /^privacy cost ρ = 0.1 \(zCDP\)/);

// Budgets never overstated: spent up, caps and what is left down.
assert.equal(budgetFigure(1 / 3, 1), '0.3334');
assert.equal(budgetFigure(1 / 3, -1), '0.3333');
assert.equal(budgetFigure(0.625, 1), '0.625');
assert.equal(budgetFigure(0.625, -1), '0.625');
assert.equal(budgetFigure(100 * (1 - 1.5 / 20), -1), '92.5');
assert.equal(budgetFigure(4.78941, -1), '4.7894');
assert.equal(budgetFigure(4.78941, 1), '4.7895');

const csv = releaseCsv(release).trimEnd().split('\n');
assert.deepEqual(csv.slice(0, 7), [
  '# query_id: 00112233445566778899aabbccddeeff',
  '# dataset: patients',
  '# question: count of people in dataset "patients" where sex = "F", by ethnicity',
  '# filters: sex = "F" and age >= 65',
  '# privacy cost: epsilon = 1/2 (laplace)',
  '# trusts: 5 took part, dropped: 4',
  '# intervals: 95%, including the privacy noise; suppressed: fewer than 8',
]);
assert.equal(csv[7], 'ethnicity,value,ci95_low,ci95_high,suppressed');
assert.equal(csv[8], 'white,120,113,127,false');
assert.equal(csv[9], '"other, ""mixed""",,,,true');
assert.equal(csv.length, 10);
console.log('figures test: ok');
