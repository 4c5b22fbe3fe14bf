// The task rule (binary / multiclass / regression) on small hand-made cases, and its overrides.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore, type Store } from '../../collector/store/client.js';
import { migrate } from '../../collector/store/migrations/index.js';
import { insertLabels, insertPredictions } from '../../collector/store/writer.js';
import { PerformanceEngine } from '../../collector/performance/engine.js';
import type { PredictionRow } from '../../collector/ingest/records.js';

const NOW = Math.floor(Date.now() / 1000) * 1000 - 60_000;

// model -> [prediction, label] pairs
const CASES: Record<string, [number | string, string][]> = {
  zero_one: [[1, '1'], [0, '0'], [1, '0'], [0, '1']],
  only_ones: [[1, '1'], [1, '1']],
  booleans: [['true', 'true'], ['false', 'true'], ['false', 'false']],
  strings: [['cat', 'cat'], ['dog', 'cat'], ['bird', 'bird']],
  small_integers: [[1, '1'], [2, '2'], [3, '1'], [0, '2']],
  floats: [[1.5, '1.25'], [2, '2.5'], [3.75, '3']],
  many_integers: Array.from({ length: 30 }, (_, i): [number, string] => [i, String(i + 1)]),
  yes_no: [['yes', 'yes'], ['no', 'yes'], ['no', 'no'], ['yes', 'no']],
};

describe('task rule', () => {
  let store: Store;
  let engine: PerformanceEngine;

  beforeAll(async () => {
    store = await openStore({ dataDir: join(mkdtempSync(join(tmpdir(), 'driftwatch-task-')), 'data') });
    await migrate(store.client, { retentionDays: 30 });
    engine = new PerformanceEngine(store.client, { models: { yes_no: { positive: 'yes' } } });
    for (const [model, pairs] of Object.entries(CASES)) {
      const rows: PredictionRow[] = pairs.map(([p], i) => ({
        model, version: 'v1', ts: NOW + i, id: `${model}-${i}`, prediction: String(p), predictionNum: typeof p === 'number' ? p : NaN,
        score: NaN, latencyMs: NaN, num: {}, cat: {}, segment: {},
      }));
      await insertPredictions(store, rows);
      await insertLabels(store, pairs.map(([, l], i) => ({ model, id: `${model}-${i}`, ts: NOW + 1000 + i, label: l })));
    }
  });
  afterAll(async () => {
    await store?.close();
  });

  const run = (model: string, extra: { task?: 'binary' | 'multiclass' | 'regression'; positive?: string } = {}) =>
    engine.computeVersion({ model, version: 'v1', windowMs: 60_000, range: { fromMs: NOW, toMs: NOW + 1000 }, ...extra });

  it.each([
    ['zero_one', 'binary', '1'],
    ['only_ones', 'binary', '1'],
    ['booleans', 'binary', 'true'],
    ['strings', 'multiclass', null],
    ['small_integers', 'multiclass', null],
    ['floats', 'regression', null],
    ['many_integers', 'regression', null],
    ['yes_no', 'binary', 'yes'], // positive class from the per-model setting
  ])('%s -> %s', async (model, task, positive) => {
    const r = (await run(model))!;
    expect(r.task).toBe(task);
    expect(r.positive_class).toBe(positive);
    expect(r.task_source).toBe('detected');
  });

  it('a configured task or positive class wins', async () => {
    const r = (await run('small_integers', { task: 'regression' }))!;
    expect(r).toMatchObject({ task: 'regression', task_source: 'configured' });
    // MAE of |1-1|, |2-2|, |1-3|, |2-0| = 1
    expect(r.segments[0].metrics.find((m) => m.metric === 'mae')!.value).toBe(1);
    const b = (await run('strings', { task: 'binary', positive: 'cat' }))!;
    expect(b).toMatchObject({ task: 'binary', positive_class: 'cat' });
    // y = [1, 1, 0], yhat = [1, 0, 0]: precision 1, recall 1/2
    const m = Object.fromEntries(b.segments[0].metrics.map((x) => [x.metric, x.value]));
    expect(m).toMatchObject({ accuracy: 2 / 3, precision: 1, recall: 0.5, f1: 2 / 3, roc_auc: null, log_loss: null, brier: null });
  });

  it('the schedule computes every version and reports each result', async () => {
    const seen = new Set<string>();
    const scheduled = new PerformanceEngine(store.client, { onResult: (r) => seen.add(r.model) });
    scheduled.start(3_600_000, 100);
    try {
      const deadline = Date.now() + 30_000;
      while (seen.size < Object.keys(CASES).length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    } finally {
      await scheduled.stop();
    }
    expect([...seen].sort()).toEqual(Object.keys(CASES).sort());
  });

  it('a version without any label: coverage 0, every metric null, no baseline, stored', async () => {
    await insertPredictions(store, [{
      model: 'unlabelled', version: 'v1', ts: Date.now() - 1000, id: 'u1', prediction: '1', predictionNum: 1,
      score: 0.9, latencyMs: NaN, num: {}, cat: {}, segment: {},
    }]);
    const r = (await engine.computeVersion({ model: 'unlabelled', version: 'v1', windowMs: 60_000 }))!;
    expect(r.baseline).toBeNull();
    expect(r.cbpe).toBeNull();
    expect(r.segments[0]).toMatchObject({ predictions: 1, labelled: 0, coverage: 0, estimated: null });
    expect(r.segments[0].metrics.every((m) => m.value === null && m.drop === null)).toBe(true);
  });

  it('a late label for the baseline window is seen at once (the reused baseline side is invalidated)', async () => {
    const t = Date.now() - 10_000;
    await insertPredictions(store, [0, 1, 2, 3].map((i) => ({
      model: 'late-baseline', version: 'v1', ts: t + i, id: `lb${i}`, prediction: String(i % 2), predictionNum: i % 2,
      score: i % 2 ? 0.8 : 0.2, latencyMs: NaN, num: {}, cat: {}, segment: {},
    })));
    await insertLabels(store, [{ model: 'late-baseline', id: 'lb0', ts: t + 100, label: '0' }]);
    const q = { model: 'late-baseline', version: 'v1', windowMs: 60_000, range: { fromMs: t, toMs: t + 10 }, baseline: { fromMs: t, toMs: t + 10 } };
    const before = (await engine.computeVersion(q))!;
    expect(before.baseline!.labelled).toBe(1);
    await insertLabels(store, [{ model: 'late-baseline', id: 'lb1', ts: t + 200, label: '0' }]);
    const after = (await engine.computeVersion(q))!;
    expect(after.baseline!.labelled).toBe(2);
    expect(after.segments[0].metrics.find((m) => m.metric === 'accuracy')).toMatchObject({ value: 0.5, baseline: 0.5, drop: 0 });
    // A replaced label is a new label row too.
    await insertLabels(store, [{ model: 'late-baseline', id: 'lb1', ts: t + 300, label: '1' }]);
    expect((await engine.computeVersion(q))!.segments[0].metrics.find((m) => m.metric === 'accuracy')!.baseline).toBe(1);
  });

  it('booleans: accuracy by hand', async () => {
    const m = Object.fromEntries((await run('booleans'))!.segments[0].metrics.map((x) => [x.metric, x.value]));
    // y = [1, 1, 0], yhat = [1, 0, 0]
    expect(m).toMatchObject({ accuracy: 2 / 3, precision: 1, recall: 0.5 });
  });
});
