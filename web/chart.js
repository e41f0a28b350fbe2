// A bar chart with 95% error bars, as hand-written SVG. Each bar carries
// data-value, each error bar data-lo and data-hi (the release's figures),
// so what is drawn can be checked against the API's answer.

const NS = 'http://www.w3.org/2000/svg';

function el(name, attrs, text) {
  const e = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

function niceMax(x) {
  if (x <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(x));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= x) return m * p;
  return 10 * p;
}

/** rows: [{label, value, lo, hi, suppressed}] -> an <svg>. */
export function barChart(rows, title) {
  const W = 720, H = 320, left = 70, right = 16, top = 28, bottom = 70;
  const shown = rows.filter((r) => !r.suppressed);
  const max = niceMax(Math.max(0, ...shown.map((r) => Math.max(r.hi, r.value))));
  const min = Math.min(0, ...shown.map((r) => Math.min(r.lo, r.value)));
  const y = (v) => top + (H - top - bottom) * (1 - (v - min) / (max - min || 1));
  const band = (W - left - right) / Math.max(rows.length, 1);
  const svg = el('svg', { viewBox: `0 0 ${W} ${H}`, class: 'chart', role: 'img',
    'aria-label': title });
  svg.appendChild(el('title', {}, title));
  for (let i = 0; i <= 4; i++) {
    const v = min + ((max - min) * i) / 4;
    svg.appendChild(el('line', { x1: left, x2: W - right, y1: y(v), y2: y(v), class: 'grid' }));
    svg.appendChild(el('text', { x: left - 6, y: y(v) + 4, class: 'tick', 'text-anchor': 'end' },
      Number(v.toPrecision(4)).toLocaleString('en-GB')));
  }
  rows.forEach((r, i) => {
    const x = left + i * band, w = band * 0.6, cx = x + band / 2;
    svg.appendChild(el('text', { x: cx, y: H - bottom + 16, class: 'label',
      'text-anchor': 'middle' }, r.label));
    if (r.suppressed) {
      svg.appendChild(el('text', { x: cx, y: y(0) - 6, class: 'suppressed',
        'text-anchor': 'middle' }, 'suppressed'));
      return;
    }
    svg.appendChild(el('rect', { x: cx - w / 2, y: Math.min(y(r.value), y(0)), width: w,
      height: Math.abs(y(0) - y(r.value)), class: 'bar', 'data-label': r.label,
      'data-value': r.value }));
    const g = el('g', { class: 'errorbar', 'data-label': r.label, 'data-lo': r.lo,
      'data-hi': r.hi });
    g.appendChild(el('line', { x1: cx, x2: cx, y1: y(r.lo), y2: y(r.hi) }));
    g.appendChild(el('line', { x1: cx - w / 5, x2: cx + w / 5, y1: y(r.lo), y2: y(r.lo) }));
    g.appendChild(el('line', { x1: cx - w / 5, x2: cx + w / 5, y1: y(r.hi), y2: y(r.hi) }));
    svg.appendChild(g);
  });
  svg.appendChild(el('line', { x1: left, x2: W - right, y1: y(0), y2: y(0), class: 'axis' }));
  return svg;
}
