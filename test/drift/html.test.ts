// `driftwatch drift --format html` rendered by a real browser: headless Chromium (Debian package
// `chromium`, installed by .ci/run) takes a screenshot of the page and dumps the DOM it built, in
// which every column has its chart with a reference and a current bar per bin. The page is checked
// to need no network: no URL anywhere in it.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runDriftCli } from '../../collector/drift/cli.js';
import type { DriftReport } from '../../collector/drift/report.js';
import { rng } from '../../demo/model.js'; // deterministic pseudo-random numbers (mulberry32)

const CHROMIUM = '/usr/bin/chromium';
const dir = mkdtempSync(join(tmpdir(), 'driftwatch-html-'));


const HOSTILE = 'note <b>&"\'</b>';
const PLANS = ['free', 'pro', 'team', 'enterprise'];

/** 3000 rows: age shifts on the current side, plan's mix changes, city has 40 categories, score stays. */
function writeSide(path: string, rows: number, current: boolean, seed: number): string {
  const r = rng(seed);
  const normal = () => Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
  const weights = current ? [0.35, 0.3, 0.2, 0.15] : [0.5, 0.3, 0.15, 0.05];
  const lines = [`age,score,plan,city,"${HOSTILE.replaceAll('"', '""')}"`];
  for (let i = 0; i < rows; i++) {
    const age = Math.round(40 + (current ? 6 : 0) + 10 * normal());
    const score = r() < 0.04 ? '' : Math.exp(0.5 * normal()).toFixed(4);
    let u = r();
    const plan = PLANS.find((_, k) => (u -= weights[k]) < 0) ?? PLANS[3];
    const city = `city-${String(Math.floor(40 * r() ** (current ? 1.3 : 1))).padStart(2, '0')}`;
    const note = r() < 0.5 ? 'a<b' : `x"y`;
    lines.push([age, score, plan, city, `"${note.replaceAll('"', '""')}"`].join(','));
  }
  writeFileSync(path, lines.join('\n') + '\n');
  return path;
}

const ref = writeSide(join(dir, 'ref.csv'), 3000, false, 1);
const cur = writeSide(join(dir, 'cur.csv'), 2500, true, 2);

async function cli(args: string[]) {
  let out = '';
  let err = '';
  const code = await runDriftCli(args, { stdout: { write: (s: string) => (out += s) }, stderr: { write: (s: string) => (err += s) } });
  return { code, out, err };
}

function chromium(args: string[]): { status: number | null; stdout: string; stderr: string } {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} not found: install the Debian package chromium (.ci/run does)`);
  const r = spawnSync(
    CHROMIUM,
    ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', `--user-data-dir=${mkdtempSync(join(dir, 'profile-'))}`, ...args],
    { encoding: 'utf8', timeout: 60_000, maxBuffer: 64 << 20 },
  );
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Width and height from a PNG's IHDR chunk. */
function pngSize(path: string): { width: number; height: number } {
  const b = readFileSync(path);
  expect(b.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])), 'PNG signature').toBe(true);
  return { width: b.readUInt32BE(16), height: b.readUInt32BE(20) };
}

describe('driftwatch drift --format html', () => {
  const html = join(dir, 'report.html');
  let report: DriftReport;

  it('writes one self-contained page, the same verdicts as the JSON report', async () => {
    const j = await cli(['--reference', ref, '--current', cur]);
    expect(j.code, j.err).toBe(0);
    report = JSON.parse(j.out) as DriftReport;
    expect(report.columns.map((c) => c.column).sort()).toEqual(['age', 'city', HOSTILE, 'plan', 'score'].sort());
    expect(report.columns.find((c) => c.column === 'age')?.drift).toBe(true);
    expect(report.columns.find((c) => c.column === 'score')?.drift).toBe(false);

    const h = await cli(['--reference', ref, '--current', cur, '--format', 'html', '--out', html]);
    expect(h.code, h.err).toBe(0);
    const page = readFileSync(html, 'utf8');
    expect(page.startsWith('<!DOCTYPE html>')).toBe(true);
    // Nothing to fetch: no URL, no external stylesheet, script, font or image.
    expect(page).not.toMatch(/https?:\/\//);
    expect(page).not.toMatch(/<script|<link|<img|@import|url\(/i);
    // User data is escaped: the hostile column name appears only as text.
    expect(page).not.toContain('<b>&');
    expect(page).toContain('note &lt;b&gt;&amp;&quot;&#39;&lt;/b&gt;');
    expect(page).toContain(report.dataset_drift ? 'Dataset drift' : 'No dataset drift');
    expect(page).toContain(`<b>${report.drifted_columns}</b> of <b>${report.columns.length}</b> columns drifted`);
  });

  it('renders in headless Chromium: a screenshot, and a chart per column with both sides per bin', () => {
    const png = join(dir, 'report.png');
    const shot = chromium([`--screenshot=${png}`, '--window-size=1200,2000', pathToFileURL(html).href]);
    expect(shot.status, shot.stderr).toBe(0);
    expect(existsSync(png)).toBe(true);
    expect(pngSize(png)).toEqual({ width: 1200, height: 2000 });
    // A blank page compresses to a few kilobytes; charts, badges and text do not.
    expect(statSync(png).size).toBeGreaterThan(40_000);
    expect(statSync(png).size).toBeLessThan(5_000_000);

    const dom = chromium(['--dump-dom', pathToFileURL(html).href]);
    expect(dom.status, dom.stderr).toBe(0);
    const svgs = [...dom.stdout.matchAll(/<svg class="dist" data-column="([^"]*)" data-bins="(\d+)"[^>]*>([\s\S]*?)<\/svg>/g)];
    const unescape = (s: string) => s.replaceAll('&lt;', '<').replaceAll('&gt;', '>').replaceAll('&quot;', '"').replaceAll('&#39;', "'").replaceAll('&amp;', '&');
    expect(svgs.map((m) => unescape(m[1]))).toEqual(report.columns.map((c) => c.column));
    for (const [, column, bins, body] of svgs) {
      const n = Number(bins);
      const c = report.columns.find((x) => x.column === unescape(column))!;
      if (c.type === 'numerical') expect(n, column).toBeGreaterThanOrEqual(2);
      expect(n, column).toBeLessThanOrEqual(c.type === 'numerical' ? 10 : 20);
      expect((body.match(/<rect class="ref"/g) ?? []).length, column).toBe(n);
      expect((body.match(/<rect class="cur"/g) ?? []).length, column).toBe(n);
    }
    // 40 cities: 20 bars, the rest summed in words under the chart.
    expect(svgs.find((m) => m[1] === 'city')?.[2]).toBe('20');
    expect(dom.stdout).toMatch(/20 more categories, not drawn/);
    // Every column card has its verdict badge, and the stats beside the chart.
    for (const c of report.columns) expect(dom.stdout).toContain(`<h2>${c.column.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;')}</h2>`);
    expect((dom.stdout.match(/<table class="stats">/g) ?? []).length).toBe(report.columns.length);
  });
});
