// Every metric against the independent numpy/scipy computation in
// test/fixtures/performance/generate.py (cases.json), at 1e-9 relative: rows are stored through the
// collector's writer in a fresh embedded ClickHouse, then the performance engine computes them.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore, type Store } from '../../collector/store/client.js';
import { migrate } from '../../collector/store/migrations/index.js';
import { insertLabels, insertPredictions } from '../../collector/store/writer.js';
import { PerformanceEngine, type VersionPerformance } from '../../collector/performance/engine.js';
import { fitIsotonic } from '../../collector/performance/isotonic.js';
import { queryRows } from '../../collector/store/client.js';
import type { PredictionRow } from '../../collector/ingest/records.js';

type Num = number | null;
interface FxPrediction { t: number; id: string; prediction: number | string; score: Num; segment: Record<string, string> }
interface FxMetric { value: Num; rows?: number; zero_division?: boolean; baseline?: Num; drop?: Num; relative_drop?: Num }
interface FxEstimate { value: Num; sigma: Num; lower: Num; upper: Num; baseline: Num; drop: Num }
interface FxSegment {
  segment: string | null;
  predictions: number;
  labelled: number;
  coverage: number;
  metrics: Record<string, FxMetric>;
  estimated?: Record<string, FxEstimate>;
  band?: { chunk_size: number; chunks: number };
  classes?: { class: string; precision: number; recall: number; f1: number; support: number; predicted: number }[];
}
interface FxQuery {
  name: string;
  range: [number, number];
  baseline: [number, number] | null;
  segment_key: string | null;
  threshold?: number;
  expected: { task: string; baseline_from?: number; segments: FxSegment[] };
}
interface FxCase {
  name: string;
  model: string;
  version: string;
  predictions: FxPrediction[];
  duplicates: FxPrediction[];
  labels: { t: number; id: string; label: string }[];
  unmatched_labels: number;
  queries: FxQuery[];
}
interface Fixtures {
  cases: FxCase[];
  isotonic: { x: number[]; y: number[]; knots: number[]; fitted: number[]; probe: number[]; predicted: number[] };
}

const fx: Fixtures = JSON.parse(readFileSync(new URL('../fixtures/performance/cases.json', import.meta.url), 'utf8'));
// Offsets become timestamps within the last hour (inside the store's retention).
const BASE = Math.floor((Date.now() - 3_600_000) / 1000) * 1000;

function close(actual: Num | undefined, expected: Num | undefined, what: string): void {
  if (expected === null || expected === undefined) {
    expect(actual ?? null, what).toBeNull();
    return;
  }
  expect(actual, what).not.toBeNull();
  const a = actual as number;
  const ok = Math.abs(a - expected) <= 1e-9 * Math.abs(expected) || Math.abs(a - expected) <= 1e-15;
  expect(ok, `${what}: ${a} vs expected ${expected}`).toBe(true);
}

function toRow(c: FxCase, p: FxPrediction): PredictionRow {
  const isNum = typeof p.prediction === 'number';
  return {
    model: c.model,
    version: c.version,
    ts: BASE + p.t,
    id: p.id,
    prediction: String(p.prediction),
    predictionNum: isNum ? (p.prediction as number) : NaN,
    score: p.score ?? NaN,
    latencyMs: NaN,
    num: {},
    cat: {},
    segment: p.segment,
  };
}

describe('performance metrics against numpy/scipy golden values', () => {
  let store: Store;
  let engine: PerformanceEngine;

  beforeAll(async () => {
    store = await openStore({ dataDir: join(mkdtempSync(join(tmpdir(), 'driftwatch-perf-')), 'data') });
    await migrate(store.client, { retentionDays: 30 });
    engine = new PerformanceEngine(store.client);
    for (const c of fx.cases) {
      await insertPredictions(store, c.predictions.map((p) => toRow(c, p)));
      // Labels in two batches, out of order: the correction (later ts) arrives first.
      const labels = c.labels.map((l) => ({ model: c.model, id: l.id, ts: BASE + l.t, label: l.label }));
      await insertLabels(store, labels.filter((_, i) => i % 2 === 1));
      await insertLabels(store, labels.filter((_, i) => i % 2 === 0));
      if (c.duplicates.length > 0) await insertPredictions(store, c.duplicates.map((p) => toRow(c, p)));
    }
  });
  afterAll(async () => {
    await store?.close();
  });

  it('isotonic regression (PAVA with ties, linear interpolation, clipped) matches scipy + numpy.interp', () => {
    const iso = fitIsotonic(fx.isotonic.x, fx.isotonic.y);
    expect(iso.x).toEqual(fx.isotonic.knots);
    iso.y.forEach((v, i) => close(v, fx.isotonic.fitted[i], `fitted[${i}]`));
    fx.isotonic.probe.forEach((p, i) => close(iso.predict(p), fx.isotonic.predicted[i], `predict(${p})`));
  });

  for (const c of fx.cases) {
    describe(c.name, () => {
      it('counts labels for unknown prediction ids as unmatched', async () => {
        const r = await engine.compute({ model: c.model, windowMs: 3_600_000, range: { fromMs: BASE, toMs: BASE + 1 } });
        expect(r.unmatched_labels).toBe(c.unmatched_labels);
      });

      for (const q of c.queries) {
        it(q.name, async () => {
          const r = (await engine.computeVersion({
            model: c.model,
            version: c.version,
            windowMs: q.range[1] - q.range[0],
            range: { fromMs: BASE + q.range[0], toMs: BASE + q.range[1] },
            baseline: q.baseline ? { fromMs: BASE + q.baseline[0], toMs: BASE + q.baseline[1] } : undefined,
            segmentKey: q.segment_key ?? undefined,
            threshold: q.threshold,
          })) as VersionPerformance;
          expect(r.task).toBe(q.expected.task);
          if (q.expected.baseline_from !== undefined) expect(r.baseline?.from).toBe(new Date(BASE + q.expected.baseline_from).toISOString());
          expect(r.segments.map((s) => s.segment)).toEqual(q.expected.segments.map((s) => s.segment));
          for (const [i, e] of q.expected.segments.entries()) {
            const s = r.segments[i];
            const where = `${q.name} segment ${JSON.stringify(e.segment)}`;
            expect({ predictions: s.predictions, labelled: s.labelled }, where).toEqual({ predictions: e.predictions, labelled: e.labelled });
            close(s.coverage, e.coverage, `${where} coverage`);
            expect(s.metrics.map((m) => m.metric).sort(), where).toEqual(Object.keys(e.metrics).sort());
            for (const m of s.metrics) {
              const x = e.metrics[m.metric];
              const w = `${where} ${m.metric}`;
              close(m.value, x.value, w);
              close(m.baseline, x.baseline, `${w} baseline`);
              close(m.drop, x.drop, `${w} drop`);
              close(m.relative_drop, x.relative_drop, `${w} relative_drop`);
              expect(m.rows, `${w} rows`).toBe(x.rows);
              expect(m.zero_division ?? false, `${w} zero_division`).toBe(x.zero_division ?? false);
              expect(m.coverage, `${w} coverage beside the metric`).toBe(s.coverage);
            }
            if (e.classes) {
              expect(s.classes!.map((k) => k.class), where).toEqual(e.classes.map((k) => k.class));
              for (const [j, k] of e.classes.entries()) {
                const a = s.classes![j];
                expect({ support: a.support, predicted: a.predicted }).toEqual({ support: k.support, predicted: k.predicted });
                close(a.precision, k.precision, `${where} class ${k.class} precision`);
                close(a.recall, k.recall, `${where} class ${k.class} recall`);
                close(a.f1, k.f1, `${where} class ${k.class} f1`);
              }
            } else {
              expect(s.classes, where).toBeUndefined();
            }
            if (e.estimated) {
              expect(s.estimated, where).not.toBeNull();
              expect(s.cbpe_band).toMatchObject(e.band!);
              for (const m of s.estimated!) {
                const x = e.estimated[m.metric];
                const w = `${where} estimated ${m.metric}`;
                close(m.value, x.value, w);
                close(m.sigma, x.sigma, `${w} sigma`);
                close(m.lower, x.lower, `${w} lower`);
                close(m.upper, x.upper, `${w} upper`);
                close(m.baseline, x.baseline, `${w} baseline`);
                close(m.drop, x.drop, `${w} drop`);
              }
            }
          }
        });
      }
    });
  }

  it('writes every computation to performance_results', async () => {
    const rows = await queryRows<{ model: string; kind: string; n: string }>(
      store.client,
      `SELECT model, kind, count() AS n FROM performance_results GROUP BY model, kind ORDER BY model, kind`,
    );
    const models = new Set(rows.map((r) => r.model));
    for (const c of fx.cases) expect(models.has(c.model), c.model).toBe(true);
    expect(rows.some((r) => r.model === 'fx-binary' && r.kind === 'estimated')).toBe(true);
  });
});
