// `driftwatch drift --format html`: the report as one self-contained page. Inline CSS and SVG only:
// no script, no font, no image or style is fetched, so the file can be mailed, archived or opened
// offline. Per column, the reference and current distributions are drawn over each other on the bins
// the statistics use (the reference's decile bins for numbers, one bar per category), beside the
// statistic, its threshold, the p-value, the verdict and the data-quality figures. A vector column
// (embedding) has no distribution to draw: its chart is what its statistic measures, the difference
// of the two centroids per dimension (the distance is the root of the sum of their squares).
import type { ColumnDistribution } from './engine.js';
import type { ColumnDrift, DriftReport } from './report.js';

/** Categories drawn per chart; the rest are summed into one "others" bar. */
export const HTML_MAX_CATEGORIES = 20;
/** Dimensions drawn per embedding chart: the ones with the largest centroid differences. */
export const HTML_MAX_DIMENSIONS = 40;

type BinnedDistribution = Exclude<ColumnDistribution, { type: 'embedding' }>;
type VectorDistribution = Extract<ColumnDistribution, { type: 'embedding' }>;

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

function fmt(x: number | null | undefined): string {
  if (x === null || x === undefined) return '–';
  if (Number.isNaN(x)) return 'NaN';
  if (!Number.isFinite(x)) return x > 0 ? '∞' : '−∞';
  if (x === 0) return '0';
  const a = Math.abs(x);
  return a >= 1e-3 && a < 1e6 ? String(Number(x.toPrecision(4))) : x.toExponential(2);
}

const pct = (x: number | null | undefined, digits = 1) => (x === null || x === undefined ? '–' : `${(100 * x).toFixed(digits)}%`);

function shortLabel(s: string, max = 14): string {
  const chars = [...s];
  return chars.length <= max ? s : chars.slice(0, max - 1).join('') + '…';
}

interface Slot {
  label: string;
  /** Hover text. */
  title: string;
  ref: number;
  cur: number;
}

/** The bars of one chart: shares of each side per bin (and, for many categories, the rest in words). */
function slots(d: BinnedDistribution): { slots: Slot[]; edges?: string[]; rest?: string } {
  const n = d.reference.reduce((s, c) => s + c, 0) || 1;
  const m = d.current.reduce((s, c) => s + c, 0) || 1;
  if (d.type === 'numerical') {
    const e = d.edges;
    const range = (i: number) => {
      if (e.length === 0) return 'all values';
      if (i === 0) return `< ${fmt(e[0])}`;
      if (i === e.length) return `≥ ${fmt(e[e.length - 1])}`;
      return `[${fmt(e[i - 1])}, ${fmt(e[i])})`;
    };
    return {
      slots: d.reference.map((r, i) => ({
        label: range(i),
        title: `${range(i)}: reference ${r} (${pct(r / n)}), current ${d.current[i]} (${pct(d.current[i] / m)})`,
        ref: r / n,
        cur: d.current[i] / m,
      })),
      edges: e.map(fmt),
    };
  }
  const all = d.categories.map((c, i) => ({ c, r: d.reference[i], q: d.current[i] }));
  // The biggest categories first (either side), the tail summed.
  all.sort((a, b) => Math.max(b.r / n, b.q / m) - Math.max(a.r / n, a.q / m));
  const shown = all.slice(0, HTML_MAX_CATEGORIES);
  const rest = all.slice(shown.length);
  const out = shown.map(({ c, r, q }) => ({
    label: shortLabel(c),
    title: `${c}: reference ${r} (${pct(r / n)}), current ${q} (${pct(q / m)})${r === 0 ? ' — not in the reference' : ''}`,
    ref: r / n,
    cur: q / m,
  }));
  if (rest.length === 0) return { slots: out };
  // Summed into one bar, the tail would set the scale and flatten every category shown.
  const r = rest.reduce((s, x) => s + x.r, 0);
  const q = rest.reduce((s, x) => s + x.q, 0);
  return { slots: out, rest: `${rest.length} more categories, not drawn: reference ${pct(r / n)}, current ${pct(q / m)}` };
}

/** A "nice" tick step covering max with about 4 ticks. */
function tickStep(max: number): number {
  const raw = max / 4;
  const p = 10 ** Math.floor(Math.log10(raw));
  for (const k of [1, 2, 2.5, 5, 10]) if (k * p >= raw) return k * p;
  return 10 * p;
}

const W = 600;
const H = 250;
const PAD = { left: 44, right: 10, top: 12, bottom: 62 };

function chart(d: BinnedDistribution, idx: number): string {
  const { slots: s, edges, rest } = slots(d);
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const top = Math.max(0.01, ...s.map((x) => Math.max(x.ref, x.cur)));
  const step = tickStep(top);
  const yMax = Math.ceil(top / step - 1e-9) * step;
  const y = (v: number) => PAD.top + plotH - (v / yMax) * plotH;
  const slotW = plotW / Math.max(1, s.length);
  const parts: string[] = [];
  for (let t = 0; t <= yMax + 1e-12; t += step) {
    parts.push(`<line class="grid" x1="${PAD.left}" x2="${W - PAD.right}" y1="${y(t).toFixed(1)}" y2="${y(t).toFixed(1)}"/>`);
    parts.push(`<text class="tick" x="${PAD.left - 6}" y="${(y(t) + 4).toFixed(1)}" text-anchor="end">${(100 * t).toFixed(step < 0.01 ? 1 : 0)}%</text>`);
  }
  s.forEach((b, i) => {
    const x0 = PAD.left + i * slotW;
    const refW = slotW * 0.86;
    const curW = slotW * 0.56;
    parts.push(
      `<g class="bin"><title>${esc(b.title)}</title>` +
        `<rect class="ref" x="${(x0 + (slotW - refW) / 2).toFixed(1)}" y="${y(b.ref).toFixed(1)}" width="${refW.toFixed(1)}" height="${(y(0) - y(b.ref)).toFixed(1)}"/>` +
        `<rect class="cur" x="${(x0 + (slotW - curW) / 2).toFixed(1)}" y="${y(b.cur).toFixed(1)}" width="${curW.toFixed(1)}" height="${(y(0) - y(b.cur)).toFixed(1)}"/></g>`,
    );
  });
  parts.push(`<line class="axis" x1="${PAD.left}" x2="${W - PAD.right}" y1="${y(0)}" y2="${y(0)}"/>`);
  if (edges) {
    // Numerical: the edges between the bins, where they are.
    const every = Math.ceil(edges.length / 10);
    edges.forEach((e, i) => {
      if (i % every) return;
      const x = PAD.left + (i + 1) * slotW;
      parts.push(`<line class="edge" x1="${x.toFixed(1)}" x2="${x.toFixed(1)}" y1="${y(0)}" y2="${y(0) + 5}"/>`);
      parts.push(`<text class="label" transform="translate(${x.toFixed(1)},${y(0) + 16}) rotate(-35)" text-anchor="end">${esc(e)}</text>`);
    });
  } else {
    s.forEach((b, i) => {
      const x = PAD.left + (i + 0.5) * slotW;
      parts.push(`<text class="label" transform="translate(${x.toFixed(1)},${y(0) + 14}) rotate(-35)" text-anchor="end">${esc(b.label)}</text>`);
    });
  }
  const what = d.type === 'numerical' ? `share of values per reference decile bin` : `share of values per category`;
  return `<svg class="dist" data-column="${esc(d.column)}" data-bins="${s.length}" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-labelledby="t${idx}"><title id="t${idx}">${esc(d.column)}: ${what}, reference and current</title>${parts.join('')}</svg>${rest ? `<div class="note">${esc(rest)}</div>` : ''}`;
}

/**
 * An embedding: the centroid difference (current - reference) of each dimension drawn, in the
 * embedding's units, up and down from zero. Wide embeddings show their HTML_MAX_DIMENSIONS largest
 * differences (in dimension order) and say what share of the squared distance those hold.
 */
function vectorChart(d: VectorDistribution, idx: number): string {
  const dim = d.referenceMean.length;
  const diff = d.currentMean.map((c, j) => c - d.referenceMean[j]);
  const total = diff.reduce((s, x) => s + x * x, 0);
  const shown = diff
    .map((x, j) => ({ x, j }))
    .sort((a, b) => Math.abs(b.x) - Math.abs(a.x) || a.j - b.j)
    .slice(0, HTML_MAX_DIMENSIONS)
    .sort((a, b) => a.j - b.j);
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const top = Math.max(...shown.map((s) => Math.abs(s.x)));
  const step = tickStep(top > 0 ? top : 1);
  const yMax = Math.ceil((top > 0 ? top : 1) / step - 1e-9) * step;
  const y = (v: number) => PAD.top + plotH / 2 - (v / yMax) * (plotH / 2);
  const slotW = plotW / Math.max(1, shown.length);
  const parts: string[] = [];
  for (let k = -Math.round(yMax / step); k <= Math.round(yMax / step); k++) {
    const t = k * step;
    parts.push(`<line class="grid" x1="${PAD.left}" x2="${W - PAD.right}" y1="${y(t).toFixed(1)}" y2="${y(t).toFixed(1)}"/>`);
    parts.push(`<text class="tick" x="${PAD.left - 6}" y="${(y(t) + 4).toFixed(1)}" text-anchor="end">${fmt(t)}</text>`);
  }
  const every = Math.ceil(shown.length / 20);
  shown.forEach(({ x, j }, i) => {
    const x0 = PAD.left + i * slotW;
    const w = slotW * 0.7;
    const [y0, y1] = x >= 0 ? [y(x), y(0)] : [y(0), y(x)];
    const title = `dimension ${j}: reference mean ${fmt(d.referenceMean[j])} (sd ${fmt(Math.sqrt(Math.max(0, d.referenceVar[j])))}), current mean ${fmt(d.currentMean[j])}, difference ${fmt(x)}`;
    parts.push(`<g class="bin"><title>${esc(title)}</title><rect class="cur" x="${(x0 + (slotW - w) / 2).toFixed(1)}" y="${y0.toFixed(1)}" width="${w.toFixed(1)}" height="${(y1 - y0).toFixed(1)}"/></g>`);
    if (i % every === 0) parts.push(`<text class="label" transform="translate(${(x0 + slotW / 2).toFixed(1)},${H - PAD.bottom + 14}) rotate(-35)" text-anchor="end">${j}</text>`);
  });
  parts.push(`<line class="axis" x1="${PAD.left}" x2="${W - PAD.right}" y1="${y(0)}" y2="${y(0)}"/>`);
  const held = total > 0 ? shown.reduce((s, { x }) => s + x * x, 0) / total : 1;
  const note = shown.length < dim
    ? `the ${shown.length} of ${dim} dimensions with the largest differences, holding ${pct(held)} of the squared distance`
    : `all ${dim} dimension${dim === 1 ? '' : 's'}`;
  return `<svg class="dist vec" data-column="${esc(d.column)}" data-bins="${shown.length}" data-dimensions="${dim}" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-labelledby="t${idx}"><title id="t${idx}">${esc(d.column)}: centroid difference per dimension (current − reference)</title>${parts.join('')}</svg><div class="note">centroid difference per dimension (current − reference), ${esc(note)}; x: dimension index</div>`;
}

function verdictBadge(c: ColumnDrift): string {
  return c.drift ? '<span class="badge drift">drift</span>' : '<span class="badge ok">no drift</span>';
}

function statRows(c: ColumnDrift): string {
  const rows: [string, string][] = [
    ['method', `<code>${esc(c.method)}</code>`],
    ['statistic', fmt(c.statistic)],
  ];
  if (c.p_value !== null) {
    rows.push(['p-value', fmt(c.p_value)]);
    if (c.p_value_adjusted != null) rows.push(['p-value (BH)', fmt(c.p_value_adjusted)]);
    const effect = c.method === 'ks' ? 'D' : c.method === 'centroid' ? 'effect' : 'V';
    rows.push(['drift when', `p &lt; ${fmt(c.threshold)}${c.min_effect_size != null ? ` and ${effect} ≥ ${fmt(c.min_effect_size)}` : ''}`]);
    const label = c.method === 'ks' ? 'effect size (D)' : c.method === 'centroid' ? 'effect size (distance / RMS spread)' : "effect size (Cramér's V)";
    if (c.effect_size != null) rows.push([label, fmt(c.effect_size)]);
  } else {
    rows.push(['drift when', `statistic ≥ ${fmt(c.threshold)}`]);
  }
  if (c.dimension !== undefined) rows.push(['dimension', String(c.dimension)]);
  const q = c.quality;
  rows.push(['missing ref / cur', `${pct(q.reference_missing_share)} / ${pct(q.current_missing_share)}`]);
  if (q.reference_non_finite || q.current_non_finite) rows.push([c.type === 'embedding' ? 'vectors with NaN/±∞ ref / cur' : '±∞ ref / cur', `${q.reference_non_finite} / ${q.current_non_finite}`]);
  if (q.out_of_range_share !== null) rows.push(['outside reference range', pct(q.out_of_range_share, 2)]);
  if (q.unseen_share !== null) rows.push(['unseen categories', pct(q.unseen_share, 2)]);
  rows.push(['quality', q.issues.length ? q.issues.map((i) => `<span class="badge warn">${esc(i.replaceAll('_', ' '))}</span>`).join(' ') : '<span class="muted">no issue</span>']);
  return rows.map(([k, v]) => `<tr><th>${k}</th><td>${v}</td></tr>`).join('');
}

function columnCard(c: ColumnDrift, d: ColumnDistribution | undefined, idx: number): string {
  return `<section class="card${c.drift ? ' drifted' : ''}" id="col-${idx}" data-column="${esc(c.column)}">
  <header><h2>${esc(c.column)}</h2><span class="type">${c.type}</span>${verdictBadge(c)}</header>
  <div class="body">
    <div class="chart">${!d ? '<p class="muted">no distribution</p>' : d.type === 'embedding' ? vectorChart(d, idx) : chart(d, idx)}</div>
    <table class="stats">${statRows(c)}</table>
  </div>
</section>`;
}

const CSS = `
:root { --ref: #8da9c4; --cur: #e8833a; --drift: #c0392b; --ok: #1e8449; --warn: #b9770e; --ink: #1f2933; --muted: #6b7785; --line: #e3e8ee; }
* { box-sizing: border-box; }
body { margin: 0; padding: 28px 32px 48px; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; color: var(--ink); background: #f5f7fa; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 17px; margin: 0; word-break: break-all; }
.files { color: var(--muted); font-size: 12.5px; margin-bottom: 18px; word-break: break-all; }
.summary { display: flex; gap: 28px; align-items: center; background: #fff; border: 1px solid var(--line); border-left: 8px solid var(--ok); border-radius: 10px; padding: 18px 22px; margin-bottom: 14px; }
.summary.drifted { border-left-color: var(--drift); }
.verdict { font-size: 24px; font-weight: 700; color: var(--ok); }
.summary.drifted .verdict { color: var(--drift); }
.meter { position: relative; width: 320px; height: 14px; background: var(--line); border-radius: 7px; overflow: visible; margin: 6px 0 4px; }
.meter .fill { height: 100%; border-radius: 7px; background: var(--ok); }
.summary.drifted .meter .fill { background: var(--drift); }
.meter .mark { position: absolute; top: -4px; width: 2px; height: 22px; background: var(--ink); }
.figures { color: var(--muted); }
.figures b { color: var(--ink); }
.legend { display: flex; gap: 18px; align-items: center; margin: 0 0 14px 2px; color: var(--muted); }
.swatch { display: inline-block; width: 14px; height: 14px; border-radius: 3px; vertical-align: -2px; margin-right: 6px; }
.overview { border-collapse: collapse; background: #fff; border: 1px solid var(--line); border-radius: 10px; margin-bottom: 18px; font-size: 13px; }
.overview th, .overview td { padding: 5px 12px; text-align: left; border-bottom: 1px solid var(--line); }
.overview td.num { text-align: right; font-variant-numeric: tabular-nums; }
.overview a { color: inherit; }
.card { background: #fff; border: 1px solid var(--line); border-left: 6px solid var(--ok); border-radius: 10px; padding: 14px 18px; margin-bottom: 14px; break-inside: avoid; }
.card.drifted { border-left-color: var(--drift); }
.card header { display: flex; gap: 12px; align-items: baseline; margin-bottom: 8px; }
.type { color: var(--muted); font-size: 12.5px; }
.badge { display: inline-block; padding: 1px 9px; border-radius: 10px; font-size: 12px; font-weight: 600; color: #fff; }
.badge.drift { background: var(--drift); }
.badge.ok { background: var(--ok); }
.badge.warn { background: var(--warn); }
.body { display: flex; gap: 22px; align-items: flex-start; flex-wrap: wrap; }
.chart { max-width: 600px; }
.stats { border-collapse: collapse; font-size: 13px; min-width: 300px; }
.stats th { text-align: left; font-weight: 500; color: var(--muted); padding: 3px 14px 3px 0; white-space: nowrap; }
.stats td { font-variant-numeric: tabular-nums; padding: 3px 0; }
.muted { color: var(--muted); }
.note { color: var(--muted); font-size: 12px; margin: -4px 0 0 44px; }
code { font: 12.5px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
svg.dist rect.ref { fill: var(--ref); }
svg.dist rect.cur { fill: var(--cur); fill-opacity: 0.72; stroke: #b85c1b; stroke-width: 1; }
svg.dist .bin:hover rect { filter: brightness(0.9); }
svg.dist .grid { stroke: var(--line); }
svg.dist .axis, svg.dist .edge { stroke: #9aa5b1; }
svg.dist text { font-size: 11px; fill: var(--muted); }
footer { color: var(--muted); font-size: 12px; margin-top: 24px; }
@media print { body { background: #fff; } }
`;

export interface HtmlSources {
  reference: string;
  current: string;
}

/** The report as a self-contained HTML page. */
export function driftHtml(r: DriftReport, distributions: readonly ColumnDistribution[], files: HtmlSources): string {
  const byColumn = new Map(distributions.map((d) => [d.column, d]));
  const share = r.columns.length ? r.drifted_columns / r.columns.length : 0;
  const drifted = r.dataset_drift;
  // Embeddings always carry their effect minimum (part of centroid): the guard is the scalar columns'.
  const guard = r.columns.some((c) => c.type !== 'embedding' && 'min_effect_size' in c);
  const vectors = r.columns.some((c) => c.type === 'embedding');
  const overview = r.columns
    .map(
      (c, i) =>
        `<tr><td><a href="#col-${i}">${esc(c.column)}</a></td><td>${c.type}</td><td><code>${c.method}</code></td><td class="num">${fmt(c.statistic)}</td><td class="num">${fmt(c.p_value_adjusted ?? c.p_value)}</td><td>${verdictBadge(c)}</td><td>${c.quality.issues.map((q) => `<span class="badge warn">${esc(q.replaceAll('_', ' '))}</span>`).join(' ')}</td></tr>`,
    )
    .join('');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Drift report: ${drifted ? 'dataset drift' : 'no dataset drift'} (${r.drifted_columns}/${r.columns.length} columns)</title>
<style>${CSS}</style>
</head>
<body>
<h1>Drift report</h1>
<div class="files">reference: ${esc(files.reference)} (${r.reference_rows} rows) · current: ${esc(files.current)} (${r.current_rows} rows)</div>
<div class="summary${drifted ? ' drifted' : ''}" id="summary">
  <div class="verdict">${drifted ? 'Dataset drift' : 'No dataset drift'}</div>
  <div>
    <div class="figures"><b>${r.drifted_columns}</b> of <b>${r.columns.length}</b> columns drifted (<b>${pct(share, 0)}</b>); the dataset drifts at ${pct(r.drift_share, 0)}</div>
    <div class="meter" title="drifted share ${pct(share, 0)}, threshold ${pct(r.drift_share, 0)}"><div class="fill" style="width:${(100 * share).toFixed(1)}%"></div><div class="mark" style="left:calc(${(100 * r.drift_share).toFixed(1)}% - 1px)"></div></div>
    <div class="figures">${guard ? 'effect-size guard on: ks and chisquare also need a minimum effect size to drift' : 'verdicts exactly as the drift conventions (effect-size guard off)'}${vectors ? '; embeddings (centroid) drift when p &lt; threshold and the distance is at least 0.1 of the reference’s RMS spread' : ''}</div>
  </div>
</div>
<div class="legend"><span><span class="swatch" style="background:var(--ref)"></span>reference</span><span><span class="swatch" style="background:var(--cur);opacity:.8"></span>current</span><span>bars: share of each side's non-missing values${vectors ? ' (embeddings: centroid difference per dimension)' : ''}</span></div>
<table class="overview"><thead><tr><th>column</th><th>type</th><th>method</th><th>statistic</th><th>p-value</th><th>verdict</th><th>quality</th></tr></thead><tbody>${overview}</tbody></table>
${r.columns.map((c, i) => columnCard(c, byColumn.get(c.column), i)).join('\n')}
<footer>driftwatch drift · statistics as in the drift conventions (binning, smoothing, p-values) · self-contained page: no network</footer>
</body>
</html>
`;
}
