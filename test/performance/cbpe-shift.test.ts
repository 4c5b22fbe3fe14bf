// CBPE under covariate shift: the input x moves away from the reference, P(y | x) does not. The
// model's score is a miscalibrated monotone function of the true probability, so the isotonic
// calibration learnt on the reference stays right and the estimate (computed before labels, from
// scores alone) must track the realized metric computed once the labels are in.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore, type Store } from '../../collector/store/client.js';
import { migrate } from '../../collector/store/migrations/index.js';
import { insertLabels, insertPredictions } from '../../collector/store/writer.js';
import { PerformanceEngine } from '../../collector/performance/engine.js';
import type { LabelRow, PredictionRow } from '../../collector/ingest/records.js';
import { rng } from '../../demo/model.js';

const MODEL = 'shift';
const BASE = Math.floor((Date.now() - 3_600_000) / 1000) * 1000;
const REF_ROWS = 10_000;
const WINDOW_ROWS = 4000;
// x ~ N(mu, sd) per window; the reference is N(0, 1).
const SHIFTS: [number, number][] = [[-1, 1], [-0.5, 0.6], [0, 1], [0.5, 1.5], [1, 0.7], [1.5, 1]];
const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));

function generate() {
  const r = rng(2024);
  const normal = () => Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
  const predictions: PredictionRow[] = [];
  const labels: LabelRow[] = [];
  let i = 0;
  const emit = (t: number, mu: number, sd: number) => {
    const x = mu + sd * normal();
    const z = -0.5 + 2 * x;
    const truth = sigmoid(z);
    const score = sigmoid(1.7 * z + 0.4); // overconfident and biased: needs calibration
    const id = `s${i++}`;
    predictions.push({
      model: MODEL, version: 'v1', ts: BASE + t, id, prediction: score >= 0.5 ? '1' : '0', predictionNum: score >= 0.5 ? 1 : 0,
      score, latencyMs: NaN, num: { x }, cat: {}, segment: {},
    });
    labels.push({ model: MODEL, id, ts: BASE + t + 60_000, label: r() < truth ? '1' : '0' });
  };
  // Reference: [0, 100s), 100 predictions a second, x ~ N(0, 1).
  for (let k = 0; k < REF_ROWS; k++) emit(k * 10, 0, 1);
  // Windows of 40 s each.
  SHIFTS.forEach(([mu, sd], w) => {
    for (let k = 0; k < WINDOW_ROWS; k++) emit(100_000 + w * 40_000 + k * 10, mu, sd);
  });
  return { predictions, labels };
}

describe('CBPE tracks the realized metric under covariate shift', () => {
  let store: Store;
  let engine: PerformanceEngine;

  beforeAll(async () => {
    store = await openStore({ dataDir: join(mkdtempSync(join(tmpdir(), 'driftwatch-cbpe-')), 'data') });
    await migrate(store.client, { retentionDays: 30 });
    engine = new PerformanceEngine(store.client);
    const { predictions, labels } = generate();
    await insertPredictions(store, predictions);
    await insertLabels(store, labels);
  });
  afterAll(async () => {
    await store?.close();
  });

  it('estimates accuracy, precision, recall, F1 and ROC AUC within a few points, and inside the band', async () => {
    const metrics = ['accuracy', 'precision', 'recall', 'f1', 'roc_auc'];
    const errors: Record<string, number[]> = Object.fromEntries(metrics.map((m) => [m, []]));
    const inside: Record<string, number> = Object.fromEntries(metrics.map((m) => [m, 0]));
    const realizedRange: Record<string, [number, number]> = Object.fromEntries(metrics.map((m) => [m, [1, 0]]));
    const lines: string[] = [];
    for (const [w, [mu, sd]] of SHIFTS.entries()) {
      const r = await engine.computeVersion({
        model: MODEL,
        version: 'v1',
        windowMs: 40_000,
        range: { fromMs: BASE + 100_000 + w * 40_000, toMs: BASE + 140_000 + w * 40_000 },
        baseline: { fromMs: BASE, toMs: BASE + 100_000 },
      });
      const s = r!.segments[0];
      expect(s.predictions).toBe(WINDOW_ROWS);
      expect(r!.cbpe?.reference_rows).toBe(REF_ROWS);
      const cells: string[] = [];
      for (const e of s.estimated!) {
        const real = s.metrics.find((m) => m.metric === e.metric)!.value!;
        expect(e.realized).toBe(real);
        const err = e.value! - real;
        errors[e.metric].push(err);
        if (real >= e.lower! && real <= e.upper!) inside[e.metric]++;
        realizedRange[e.metric] = [Math.min(realizedRange[e.metric][0], real), Math.max(realizedRange[e.metric][1], real)];
        cells.push(`${e.metric} ${e.value!.toFixed(3)}/${real.toFixed(3)} [${e.lower!.toFixed(3)}, ${e.upper!.toFixed(3)}]`);
      }
      lines.push(`x ~ N(${mu}, ${sd}): ${cells.join('  ')}`);
    }
    const summary = metrics.map((m) => {
      const abs = errors[m].map(Math.abs);
      return `${m}: mean |err| ${(abs.reduce((a, b) => a + b, 0) / abs.length).toFixed(4)}, max |err| ${Math.max(...abs).toFixed(4)}, realized range ${realizedRange[m][0].toFixed(3)}..${realizedRange[m][1].toFixed(3)}, inside band ${inside[m]}/${SHIFTS.length}`;
    });
    console.log(['CBPE estimate/realized [band] per window:', ...lines, ...summary].join('\n'));
    for (const m of metrics) {
      // The shift moves each realized metric by much more than the estimate's error.
      const spread = realizedRange[m][1] - realizedRange[m][0];
      const maxErr = Math.max(...errors[m].map(Math.abs));
      // Observed (seeded, so fixed): mean |err| 0.007-0.012, max 0.039 (precision at x ~ N(-1, 1), where
      // the few predicted positives sit just above the threshold, inside a wide isotonic block).
      expect(maxErr, `${m} max error`).toBeLessThan(0.05);
      expect(spread, `${m} realized spread`).toBeGreaterThan(3 * maxErr);
      expect(inside[m], `${m} realized inside the band`).toBeGreaterThanOrEqual(SHIFTS.length - 1);
    }
  });
});
