// bench/drift-live: the live drift computation for 50 numerical features over a 24h window, read
// from the per-minute rollups (drift_minutes) beside the same computation read from raw rows, on the
// same data in the same run (embedded ClickHouse).
//   goal: from rollups, <= 200 ms at 1k predictions/s (86.4M predictions in the window).
//
// Two versions of one model, both with a baseline profiled from 100k reference predictions:
//   v1   24h of raw predictions, 20/s x 50 features = 86.4M feature values, inserted through the
//        real materialized views (so its drift_minutes rows are the pipeline's own), read both ways;
//   v1k  the 1k/s load: its drift_minutes rows (1440 minutes x 50 features, 60 000 values each per
//        minute: 4.32B feature values) generated directly; a raw read at that size is not run.
// Methods: psi (any binned method reads the same counts), and wasserstein, which reads raw values.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore, queryRows } from '../../collector/store/client.js';
import { migrate } from '../../collector/store/migrations/index.js';
import { LiveDrift } from '../../collector/drift/live.js';
import { currentFromRaw, currentFromRollups, profileReport } from '../../collector/drift/rollup-drift.js';
import { driftFromSources } from '../../collector/drift/engine.js';
import { rawCategoricalSource, rawNumericSource } from '../../collector/drift/sources.js';
import { tsText } from '../../collector/store/writer.js';

const FEATURES = 50;
const RATE = Number(process.env.BENCH_DRIFT_LIVE_RAW_RATE ?? 20); // raw predictions per second for v1
const RUNS = Number(process.env.BENCH_DRIFT_LIVE_RUNS ?? 5);
const GOAL_MS = 200;
const MIN = 60_000;
const DAY = 86_400_000;

async function time<T>(fn: () => Promise<T>, runs = RUNS): Promise<{ ms: number; all: number[]; value: T }> {
  let value = await fn(); // warm-up
  const all: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    value = await fn();
    all.push(performance.now() - t);
  }
  const sorted = [...all].sort((a, b) => a - b);
  return { ms: sorted[Math.floor(sorted.length / 2)], all, value };
}

const fmt = (ms: number) => (ms >= 100 ? ms.toFixed(0) : ms.toFixed(1));

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'dw-bench-drift-live-'));
  const store = await openStore({ dataDir: dir });
  const c = store.client;
  try {
    await migrate(c, { retentionDays: 30 });
    const now = Math.floor(Date.now() / MIN) * MIN - 1;
    const dayStart = now + 1 - DAY;
    const refStart = dayStart - 3_600_000;
    // f00..f09 drift slowly over the day; the others do not.
    const names = `arrayMap(i -> concat('f', leftPad(toString(i), 2, '0')), range(${FEATURES}))`;
    const value = (progress: string) => `arrayMap(i -> (cityHash64(number, i) % 100000) / 1000. + if(i < 10, 20 * ${progress}, 0), range(${FEATURES}))`;
    const insert = (version: string, start: number, stepMs: number, from: number, count: number, progress: string) =>
      c.command({
        query: `INSERT INTO predictions (model, version, ts, id, prediction, prediction_num, score, latency_ms, num, cat, segment)
          SELECT 'bench', '${version}', fromUnixTimestamp64Milli(toInt64(${start} + number * ${stepMs})), toString(number), '', nan,
                 (cityHash64(number) % 1000) / 1000., 1, mapFromArrays(${names}, ${value(progress)}), map(), map()
          FROM numbers(${from}, ${count})`,
      });

    console.log(`reference: 100 000 predictions x ${FEATURES} features; profiling it ...`);
    let t = performance.now();
    await insert('v1', refStart, 36, 0, 100_000, '0');
    const drift = new LiveDrift(c, { baselineRows: 1_000_000, cacheMs: 0 });
    const b = await drift.setBaseline('bench', 'v1', { kind: 'range', fromMs: refStart, toMs: refStart + 36 * 99_999, source: 'bench reference' }, dayStart);
    console.log(`  baseline profile stored in ${fmt(performance.now() - t)} ms`);

    const total = RATE * 86_400;
    const stepMs = Math.round(1000 / RATE);
    console.log(`v1: ${total.toLocaleString('en')} predictions over 24h (${RATE}/s) x ${FEATURES} features = ${(total * FEATURES / 1e6).toFixed(1)}M feature values, through the materialized views ...`);
    t = performance.now();
    const chunk = 200_000;
    for (let from = 0; from < total; from += chunk) await insert('v1', dayStart, stepMs, from, Math.min(chunk, total - from), `number / ${total}`);
    console.log(`  inserted in ${(performance.now() - t) / 1000 | 0} s`);

    // v1k: the 1k/s day as rollup rows; its profile is v1's (same reference).
    const profile = (await drift.profile('bench', 'v1'))!;
    t = performance.now();
    const keys = 2 * ((profile.features.get('f00') as { edges: number[] }).edges.length + 1); // bin * 2 + outside
    await c.command({
      query: `INSERT INTO drift_minutes (model, version, profile_id, feature, minute, bins)
        SELECT 'bench', 'v1k', {pid:UInt64}, concat('f', leftPad(toString(f), 2, '0')), toDateTime(intDiv({start:UInt64}, 1000) + number * 60, 'UTC'),
               mapFromArrays(arrayMap(k -> toUInt16(k), range(${keys})),
                             arrayMap(k -> toUInt64(if(k % 2 = 0, 5500 + cityHash64(number, f, k) % 1000, cityHash64(number, f, k) % 50)), range(${keys})))
        FROM numbers(1440) ARRAY JOIN range(${FEATURES}) AS f`,
      query_params: { pid: b.profileId, start: dayStart },
    });
    const [v1kRows] = await queryRows<{ r: string; v: string }>(c, `SELECT count() AS r, sum(arraySum(mapValues(bins))) AS v FROM drift_minutes WHERE version = 'v1k'`);
    console.log(`v1k: ${Number(v1kRows.r).toLocaleString('en')} drift_minutes rows standing for ${(Number(v1kRows.v) / 1e9).toFixed(2)}B feature values (${(Number(v1kRows.v) / FEATURES / 86_400).toFixed(0)} predictions/s), generated in ${fmt(performance.now() - t)} ms`);
    const [parts] = await queryRows<{ p: string; r: string }>(c, `SELECT count() AS p, sum(rows) AS r FROM system.parts WHERE active AND table = 'drift_minutes'`);
    console.log(`drift_minutes: ${Number(parts.r).toLocaleString('en')} rows in ${parts.p} parts`);

    const window = drift.window(b, DAY, now)!;
    const w = window.w;
    console.log(`window: ${new Date(w.fromMs).toISOString()} .. ${new Date(w.toMs).toISOString()} (rollups from ${window.rollupsFrom ? new Date(window.rollupsFrom).toISOString() : '-'})\n`);
    const v1k = { ...profile, version: 'v1k' };
    const rawSides = [[0, 'dw_ref_from', 'dw_ref_to'], [1, 'dw_cur_from', 'dw_cur_to']] as const;
    const rawParams = { dw_model: 'bench', dw_version: 'v1', dw_ref_from: tsText(b.fromMs), dw_ref_to: tsText(b.toMs), dw_cur_from: tsText(w.fromMs), dw_cur_to: tsText(w.toMs - 1) };

    const results: { what: string; ms: number; all: number[] }[] = [];
    const run = async (what: string, fn: () => Promise<unknown>, runs = RUNS) => {
      const r = await time(fn, runs);
      results.push({ what, ms: r.ms, all: r.all });
      console.log(`${what.padEnd(92)} ${fmt(r.ms).padStart(8)} ms   (runs: ${r.all.map(fmt).join(', ')})`);
      return r.value;
    };
    const viaRollups = await run('v1  psi, LiveDrift.compute (rollups)', () => drift.compute('bench', 'v1', DAY, 'psi', now));
    const rollupReport = await run('v1  psi, profile + current counts from rollups', async () => profileReport(c, profile, await currentFromRollups(c, profile, w), w, { method: 'psi', minEffectSize: true }));
    const rawReport = await run('v1  psi, profile + current counts from raw rows (same computation)', async () => profileReport(c, profile, await currentFromRaw(c, profile, w), w, { method: 'psi', minEffectSize: true }));
    await run('v1  psi, raw-row engine on both sides (reference re-read; live drift before profiles)', () =>
      driftFromSources(c, { numeric: { sql: rawNumericSource(rawSides), params: rawParams }, categorical: { sql: rawCategoricalSource(rawSides), params: rawParams }, method: 'psi', emptyColumns: 'skip' }), 1);
    await run('v1  wasserstein, profile reference values + raw current values', async () => profileReport(c, profile, await currentFromRollups(c, profile, w), w, { method: 'wasserstein', maxRawValues: Infinity }), 1);
    const k = await run('v1k psi, profile + current counts from rollups (1k predictions/s)', async () => profileReport(c, v1k, await currentFromRollups(c, v1k, w), w, { method: 'psi', minEffectSize: true }));
    await c.command({ query: 'OPTIMIZE TABLE drift_minutes FINAL' });
    const [merged] = await queryRows<{ p: string; r: string }>(c, `SELECT count() AS p, sum(rows) AS r FROM system.parts WHERE active AND table = 'drift_minutes'`);
    console.log(`after OPTIMIZE: drift_minutes ${Number(merged.r).toLocaleString('en')} rows in ${merged.p} parts`);
    const kMerged = await run('v1k psi, from rollups, merged parts', async () => profileReport(c, v1k, await currentFromRollups(c, v1k, w), w, { method: 'psi', minEffectSize: true }));

    const same = JSON.stringify((viaRollups as { report: unknown }).report) === JSON.stringify(rollupReport) && JSON.stringify(rollupReport) === JSON.stringify(rawReport);
    const rows = (rollupReport as { current_rows: number }).current_rows;
    console.log(`\nv1 report from rollups identical to the report from raw rows: ${same} (current_rows ${rows.toLocaleString('en')}, drifted columns ${(rollupReport as { drifted_columns: number }).drifted_columns})`);
    console.log(`v1k current_rows ${(k as { current_rows: number }).current_rows.toLocaleString('en')}, ${(kMerged as { columns: unknown[] }).columns.length} columns`);
    const goal = results.find((r) => r.what.startsWith('v1k psi, profile'))!.ms;
    const speedup = results.find((r) => r.what.includes('from raw rows (same'))!.ms / results.find((r) => r.what.startsWith('v1  psi, profile'))!.ms;
    console.log(`goal (1k/s, 50 features, 24h, from rollups <= ${GOAL_MS} ms): ${fmt(goal)} ms -> ${goal <= GOAL_MS ? 'met' : 'MISSED'}; rollups vs raw rows on v1: ${speedup.toFixed(0)}x faster`);
    if (!same || goal > GOAL_MS) process.exitCode = 1;
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
