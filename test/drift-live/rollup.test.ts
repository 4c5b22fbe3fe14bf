// Live drift from profiles and per-minute rollups equals the raw-row engine on the same windows:
// bit for bit for the binned methods (the same edges and the same counts), and for KS/Wasserstein
// read from the profile's stored reference values.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore, queryRows, type Store } from '../../collector/store/client.js';
import { migrate } from '../../collector/store/migrations/index.js';
import { insertPredictions, tsText } from '../../collector/store/writer.js';
import type { PredictionRow } from '../../collector/ingest/records.js';
import { LiveDrift, type Baseline } from '../../collector/drift/live.js';
import { DriftSchedule } from '../../collector/drift/schedule.js';
import { driftFromSources } from '../../collector/drift/engine.js';
import { rawCategoricalSource, rawNumericSource } from '../../collector/drift/sources.js';
import { currentFromRaw, currentFromRollups } from '../../collector/drift/rollup-drift.js';
import type { DriftReport, Method } from '../../collector/drift/report.js';
import { rng } from '../../demo/model.js'; // deterministic pseudo-random numbers (mulberry32)

const MIN = 60_000;
const BINNED: Method[] = ['psi', 'kl', 'jensenshannon', 'hellinger', 'tvd', 'linf', 'chisquare'];


function rows(model: string, version: string, from: number, to: number, count: number, shift: number, seed: number): PredictionRow[] {
  const r = rng(seed);
  const out: PredictionRow[] = [];
  for (let i = 0; i < count; i++) {
    const ts = from + Math.floor(((to - from) * i) / count);
    const u = r();
    const x = i % 53 === 0 ? NaN : i % 211 === 0 ? Infinity : (r() + r() + r() - 1.5) * 10 + shift * 4;
    out.push({
      model, version, ts, id: `${seed}-${i}`,
      prediction: '', predictionNum: u * 100 + shift * 10, score: i % 7 === 0 ? NaN : Math.min(1, u + shift * 0.1),
      latencyMs: 5,
      // y: few distinct values, so auto picks a binned method; z: constant in the reference.
      num: { x, y: Math.floor(r() * (4 + shift)), z: shift > 0 && i % 3 === 0 ? 1 + r() : 1 },
      cat: { c: ['a', 'b', 'c', shift > 0 ? 'd' : 'a'][i % 4], e: i % 17 === 0 ? '' : ['u', 'v'][i % 2] },
      segment: { region: ['eu', 'us'][i % 2] },
    });
  }
  return out;
}

async function insert(s: Store, rs: PredictionRow[]) {
  for (let k = 0; k < rs.length; k += 2000) await insertPredictions(s, rs.slice(k, k + 2000));
}

function rawReport(s: Store, b: Baseline, fromMs: number, toMs: number, method: Method | 'auto'): Promise<DriftReport> {
  const params = { dw_model: b.model, dw_version: b.version, dw_ref_from: tsText(b.fromMs), dw_ref_to: tsText(b.toMs), dw_cur_from: tsText(fromMs), dw_cur_to: tsText(toMs - 1) };
  const sides = [[0, 'dw_ref_from', 'dw_ref_to'], [1, 'dw_cur_from', 'dw_cur_to']] as const;
  return driftFromSources(s.client, { numeric: { sql: rawNumericSource(sides), params }, categorical: { sql: rawCategoricalSource(sides), params }, method, emptyColumns: 'skip', minEffectSize: true });
}

describe('live drift from profiles and rollups', () => {
  let s: Store;
  let drift: LiveDrift;
  let b: Baseline;
  const now = Math.floor(Date.now() / MIN) * MIN + 30_000;
  const refFrom = now - 3 * 3_600_000;
  const refTo = refFrom + 20 * MIN - 1;

  beforeAll(async () => {
    s = await openStore({ dataDir: mkdtempSync(join(tmpdir(), 'dw-live-')) });
    await migrate(s.client, { retentionDays: 30 });
    await insert(s, rows('m', 'v1', refFrom, refTo, 6000, 0, 1));
    // Current traffic before the baseline exists (backfilled into the rollups) ...
    await insert(s, rows('m', 'v1', now - 2 * 3_600_000, now - 3_600_000, 8000, 1, 2));
    drift = new LiveDrift(s.client, { baselineRows: 1000, cacheMs: 0 });
    b = await drift.setBaseline('m', 'v1', { kind: 'range', fromMs: refFrom, toMs: refTo, source: 'test window' }, now);
    // ... and after it (binned at insert time by the materialized view).
    await insert(s, rows('m', 'v1', now - 3_600_000, now, 8000, 1, 3));
  });
  afterAll(async () => s?.close());

  it('stores a profile: the engine edges and reference bin counts, exact values', async () => {
    const p = await drift.profile('m', 'v1');
    expect(p).toBeDefined();
    expect([...p!.features.keys()].sort()).toEqual(['@prediction', '@score', 'c', 'e', 'x', 'y', 'z']);
    const x = p!.features.get('x')!;
    expect(x.type).toBe('numerical');
    if (x.type !== 'numerical') return;
    expect(x.edges).toHaveLength(9);
    expect(x.refBins.reduce((a, c) => a + c, 0)).toBe(x.n);
    expect(x.valuesExact).toBe(true);
    const [v] = await queryRows<{ n: string }>(s.client, `SELECT sum(count) AS n FROM drift_profile_values WHERE feature = 'x' AND profile_id = {p:UInt64}`, { p: b.profileId });
    expect(Number(v.n)).toBe(x.n);
    const z = p!.features.get('z')!;
    expect(z.type === 'numerical' && z.edges).toEqual([1]);
  });

  it('rollup counts equal raw counts (backfilled minutes and materialized-view minutes alike)', async () => {
    const p = (await drift.profile('m', 'v1'))!;
    const w = { fromMs: Math.floor((now - 2 * 3_600_000) / MIN) * MIN, toMs: Math.floor(now / MIN) * MIN + MIN };
    const fromRollups = await currentFromRollups(s.client, p, w);
    const fromRaw = await currentFromRaw(s.client, p, w);
    expect(fromRollups.numeric.get('x')!.rows).toBe(16000);
    expect(fromRollups).toEqual(fromRaw);
  });

  it.each(BINNED)('%s from rollups equals the raw-row engine exactly', async (method) => {
    const r = await drift.compute('m', 'v1', 2 * 3_600_000, method, now);
    expect(r?.read).toBe('rollups');
    const raw = await rawReport(s, b, r!.window!.fromMs, r!.window!.toMs, method);
    expect(r!.report.columns.map((c) => c.column)).toEqual(['@prediction', '@score', 'c', 'e', 'x', 'y', 'z']);
    expect(r!.report).toEqual(raw);
    expect(r!.report.columns.find((c) => c.column === 'x')!.drift).toBe(true);
  });

  it('auto, ks and wasserstein read raw current values against the stored reference values', async () => {
    for (const method of ['auto', 'ks', 'wasserstein'] as const) {
      const cats = method === 'auto' ? undefined : ['c', 'e'];
      const r = await drift.compute('m', 'v1', 2 * 3_600_000, method === 'auto' ? 'auto' : method, now).catch((e: Error) => e);
      if (cats) {
        // Raw-value methods on categorical columns are an error, as in the engine.
        expect(r).toBeInstanceOf(Error);
        continue;
      }
      const live = r as Exclude<typeof r, Error | undefined>;
      const raw = await rawReport(s, b, live.window!.fromMs, live.window!.toMs, method);
      expect(live.report.columns.map((c) => [c.column, c.method])).toEqual(raw.columns.map((c) => [c.column, c.method]));
      for (const [i, c] of live.report.columns.entries()) {
        const e = raw.columns[i];
        expect(c.statistic).toBeCloseTo(e.statistic, 12);
        if (e.p_value !== null) expect(c.p_value).toBeCloseTo(e.p_value, 12);
        expect(c.quality).toEqual(e.quality);
        expect(c.drift).toBe(e.drift);
      }
    }
  });

  it('short windows keep their bounds to the millisecond (whole minutes from rollups, the ends from raw rows); old windows fall back to raw rows', async () => {
    // now is 30 s into a minute: 30 s of raw rows at each end, 4 whole minutes from the rollups.
    for (const method of ['psi', 'chisquare'] as const) {
      const short = await drift.compute('m', 'v1', 5 * MIN, method, now);
      expect(short?.read).toBe('rollups');
      expect(short!.window).toEqual({ fromMs: now - 5 * MIN, toMs: now + 1 });
      expect(short!.report).toEqual(await rawReport(s, b, now - 5 * MIN, now + 1, method));
      expect(short!.report.current_rows).toBeGreaterThan(600);
    }
    // Less than a whole minute inside: raw rows only.
    const tiny = await drift.compute('m', 'v1', 50_000, 'psi', now);
    expect(tiny?.read).toBe('raw');
    expect(tiny!.report).toEqual(await rawReport(s, b, now - 50_000, now + 1, 'psi'));
    // A profile whose rollups start later than the window.
    const d2 = new LiveDrift(s.client, { baselineRows: 1000, cacheMs: 0, backfillMs: 30 * MIN });
    await d2.loadBaselines();
    const b2 = await d2.setBaseline('m', 'v1', { kind: 'range', fromMs: refFrom, toMs: refTo, source: 'again' }, now);
    expect(b2.rollupFromMs).toBe(Math.floor((now - 30 * MIN) / MIN) * MIN);
    const old = await d2.compute('m', 'v1', 2 * 3_600_000, 'hellinger', now);
    expect(old?.read).toBe('raw');
    expect(old!.report).toEqual(await rawReport(s, b, old!.window!.fromMs, old!.window!.toMs, 'hellinger'));
    const recent = await d2.compute('m', 'v1', 20 * MIN, 'hellinger', now);
    expect(recent?.read).toBe('rollups');
    expect(recent!.report).toEqual(await rawReport(s, b, recent!.window!.fromMs, recent!.window!.toMs, 'hellinger'));
  });

  it('a restarted collector reloads the baseline and its profile', async () => {
    const d3 = new LiveDrift(s.client, { baselineRows: 1000, cacheMs: 0 });
    await d3.loadBaselines();
    const b3 = d3.baseline('m', 'v1')!;
    expect(b3.source).toBe('again');
    const r = await d3.compute('m', 'v1', 20 * MIN, 'jensenshannon', now);
    expect(r!.report).toEqual(await rawReport(s, b3, r!.window!.fromMs, r!.window!.toMs, 'jensenshannon'));
  });

  it('per-segment drift compares each segment with its own baseline rows', async () => {
    const segs = await drift.computeSegments('m', 'v1', 3_600_000, 'psi', 'region', now);
    expect(segs.map((x) => x.segment.value)).toEqual(['eu', 'us']);
    for (const x of segs) {
      expect(x.report.columns.length).toBeGreaterThan(0);
      expect(x.report.current_rows).toBeGreaterThan(3000);
      expect(x.report.current_rows).toBeLessThan(5000);
    }
  });

  it('a baseline ending mid-minute: the rest of that minute is read from raw rows, later minutes from rollups', async () => {
    const d4 = new LiveDrift(s.client, { baselineRows: 1000, cacheMs: 0 });
    const b4 = await d4.setBaseline('m', 'v1', { kind: 'range', fromMs: now - 100 * MIN, toMs: now - 90 * MIN + 20_123, source: 'mid-minute' }, now);
    for (const method of ['psi', 'chisquare'] as const) {
      const r = await d4.compute('m', 'v1', 2 * 3_600_000, method, now);
      expect(r?.read).toBe('rollups');
      expect(r!.window!.fromMs).toBe(b4.toMs + 1);
      expect(r!.report).toEqual(await rawReport(s, b4, r!.window!.fromMs, r!.window!.toMs, method));
    }
  });

  it('a baseline from before profiles (profile_id 0) is profiled from its time range at load', async () => {
    await insert(s, rows('m', 'legacy', refFrom, refTo, 3000, 0, 9));
    await s.client.insert({ table: 'baselines', format: 'JSONEachRow', values: [{ model: 'm', version: 'legacy', source: 'first 3000 predictions', from_ts: tsText(refFrom), to_ts: tsText(refTo), rows: 3000 }] });
    const d5 = new LiveDrift(s.client, { baselineRows: 1000, cacheMs: 0 });
    await d5.loadBaselines();
    const b5 = d5.baseline('m', 'legacy')!;
    expect(b5.profileId).toBeGreaterThan(0);
    expect(b5.source).toBe('first 3000 predictions');
    expect((await d5.profile('m', 'legacy'))!.features.get('x')!.n).toBeGreaterThan(2900);
  });

  it("another collector's baseline change is picked up by ensureBaselines", async () => {
    const a = new LiveDrift(s.client, { baselineRows: 1_000_000, cacheMs: 0 });
    const other = new LiveDrift(s.client, { baselineRows: 1_000_000, cacheMs: 0 });
    await a.loadBaselines();
    await other.loadBaselines();
    const nb = await other.setBaseline('m', 'v1', { kind: 'range', fromMs: refFrom, toMs: refTo, source: 'elsewhere' }, now);
    expect(a.baseline('m', 'v1')!.profileId).not.toBe(nb.profileId);
    await a.ensureBaselines();
    expect(a.baseline('m', 'v1')).toEqual(nb);
    const r = await a.compute('m', 'v1', 20 * MIN, 'psi', now);
    expect(r!.report).toEqual(await rawReport(s, nb, r!.window!.fromMs, r!.window!.toMs, 'psi'));
  });

  it('the schedule computes every version for 1h and 24h and stores the results', async () => {
    const seen: string[] = [];
    const d = new LiveDrift(s.client, { baselineRows: 1_000_000, cacheMs: 0, onResult: (r) => seen.push(`${r.version} ${r.windowMs} ${r.read}`) });
    await d.loadBaselines();
    await new DriftSchedule(d, { onError: (e) => { throw e; } }).runOnce(now);
    // 'legacy' has no traffic after its baseline: nothing to compare, no result.
    expect(seen.sort()).toEqual(['v1 3600000 rollups', 'v1 86400000 rollups']);
    const [r] = await queryRows<{ n: string }>(s.client, `SELECT count() AS n FROM drift_results WHERE method = 'jensenshannon' AND window_seconds = 86400 AND version = 'v1' AND ts = {ts:DateTime64(3)}`, { ts: tsText(now) });
    expect(Number(r.n)).toBe(7);
  });
});
