// A release's figures for people: rows for the table, the chart and the
// CSV, and plain words for the privacy cost.

/** The rows of a release (its "cells"). */
export function rowsOf(release) {
  return (release.cells || []).map((c) => {
    const group = c.group || {};
    const label = Object.values(group).join(' · ') || 'everyone';
    const ci = Array.isArray(c.ci95) ? c.ci95 : [null, null];
    return {
      group, label, value: c.value, lo: ci[0], hi: ci[1],
      suppressed: c.suppressed === true || c.value === null,
    };
  });
}

export function fmt(x) {
  if (x === null || x === undefined) return '';
  return Number(x).toLocaleString('en-GB', { maximumFractionDigits: 4 });
}

/** A budget figure for people, never overstating what is left
 * (docs/PRIVACY.md, "Decimals for people"): spent rounded up (dir 1),
 * caps and what remains rounded down (dir -1), to 4 places. The 1e-7 (of
 * a unit in the 4th place) keeps a double's representation error, such as
 * 0.625 * 1e4 = 6250.000000001, from moving a figure a whole place. */
export function budgetFigure(x, dir) {
  if (x === null || x === undefined) return '';
  const r = (dir > 0 ? Math.ceil : Math.floor)(Number(x) * 1e4 - dir * 1e-7) / 1e4;
  return r.toLocaleString('en-GB', { maximumFractionDigits: 4 });
}

/** "± h" where h is half the interval's width. */
export function plusMinus(r) {
  if (r.suppressed || r.lo === null) return '';
  return `± ${fmt((r.hi - r.lo) / 2)}`;
}

export function privacyWords(p) {
  if (!p) return '';
  if (p.mechanism === 'laplace' || p.epsilon !== undefined) {
    return `privacy cost ε = ${p.epsilon_exact || p.epsilon}: each trust's privacy budget ` +
      `for this population goes down by ${p.epsilon_exact || p.epsilon}. A smaller ε adds ` +
      'more noise and uses less of the budget.';
  }
  return `privacy cost ρ = ${p.rho_exact || p.rho} (zCDP): each trust's budget for this ` +
    'population goes down by this much. A smaller ρ adds more noise and uses less of it.';
}

function csvField(x) {
  const s = x === null || x === undefined ? '' : String(x);
  return /[",\n#]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** The CSV of a release: "# " header lines, then one row per figure. */
export function releaseCsv(release) {
  const rows = rowsOf(release);
  const groups = rows.length > 0 ? Object.keys(rows[0].group) : [];
  const p = release.privacy || {};
  const head = [
    `# query_id: ${release.query_id}`,
    `# dataset: ${release.dataset}`,
    `# question: ${release.description || ''}`,
    `# filters: ${(release.filters || []).join(' and ') || 'none'}`,
    `# privacy cost: ${p.epsilon !== undefined ? `epsilon = ${p.epsilon_exact || p.epsilon}`
      : `rho = ${p.rho_exact || p.rho}`} (${p.mechanism})`,
    `# trusts: ${release.contributors} took part` +
      `${(release.dropped || []).length ? `, dropped: ${release.dropped.join(' ')}` : ''}`,
    '# intervals: 95%, including the privacy noise; suppressed: fewer than ' +
      `${(release.sdc || {}).suppress_below || 0}`,
  ];
  const lines = [[...groups, 'value', 'ci95_low', 'ci95_high', 'suppressed'].join(',')];
  for (const r of rows) {
    lines.push([...groups.map((g) => r.group[g]), r.value, r.lo, r.hi, r.suppressed]
      .map(csvField).join(','));
  }
  return `${head.join('\n')}\n${lines.join('\n')}\n`;
}
