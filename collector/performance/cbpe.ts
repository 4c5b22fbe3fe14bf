// Confidence-based performance estimation (CBPE, as in NannyML) for binary classifiers with scores:
// performance of a window before its labels arrive.
//
// 1. Calibrate on a labelled reference: isotonic regression (PAVA) from score to P(y = 1).
// 2. For the window, with p = calibrated score and the predicted class `score >= threshold`, the
//    expected confusion matrix is TP = sum p over predicted positives, FP = sum (1 - p) over them,
//    FN = sum p over predicted negatives, TN = sum (1 - p) over them; accuracy, precision, recall and
//    F1 follow from it (zero division -> 0).
// 3. Estimated ROC AUC: the expected TPR and FPR at every distinct score (as threshold, descending)
//    are cumulative sums of p and (1 - p) over the scores at or above it, divided by their totals;
//    the curve from (0, 0) to (1, 1) is integrated by the trapezoid rule.
// 4. Confidence band, cross-fitted: the reference's labelled rows, in time order, are split into 10
//    consecutive folds (fold f = rows [floor(f R / 10), floor((f + 1) R / 10))), and each fold into
//    consecutive chunks of c = min(n, floor(R / 10)) rows (n = the window's predictions; a fold's
//    leftover rows are unused). Each chunk is estimated with the calibrator fitted on the reference
//    without its fold (an isotonic fit scores its own rows too well) and compared with its realized
//    metric; sigma = the sample standard deviation of (estimate - realized) over all chunks, times
//    sqrt(c / n) when c < n (sampling error shrinks as 1/sqrt(size)). The band is estimate +- 3 sigma,
//    clipped to [0, 1]; none when c < 10. It is the estimator's sampling spread, not a guard against
//    concept drift (a change in P(y | score), which CBPE cannot see by construction).
import { sampleStandardDeviation } from 'simple-statistics';
import { fitIsotonic, type Isotonic } from './isotonic.js';
import { fromConfusion, type MetricValue } from './metrics.js';

export const CBPE_METRICS = ['accuracy', 'precision', 'recall', 'f1', 'roc_auc'] as const;
export const BAND_SIGMAS = 3;
export const FOLDS = 10;

/** A histogram of scores: distinct score and how many predictions have it. */
export interface ScoreCount { score: number; n: number }

export interface Estimate extends MetricValue {
  lower: number | null;
  upper: number | null;
  /** The standard deviation of (estimate - realized) over reference chunks, scaled to the window's size. */
  sigma: number | null;
}

export interface CbpeModel {
  calibrator: Isotonic;
  threshold: number;
  referenceRows: number;
  /** Labelled reference rows (score, y in {0, 1}) in time order, for the band. */
  reference: { score: number; y: number }[];
  /** Calibrator f is fitted on the reference without fold f (computed on first use). */
  foldCalibrators?: Isotonic[];
}

export function fitCbpe(reference: { score: number; y: number }[], threshold = 0.5): CbpeModel {
  const calibrator = fitIsotonic(reference.map((r) => r.score), reference.map((r) => r.y));
  return { calibrator, threshold, referenceRows: reference.length, reference };
}

/** Point estimates of accuracy, precision, recall, F1 and ROC AUC for a score histogram. */
export function estimate(m: CbpeModel, scores: ScoreCount[]): Record<(typeof CBPE_METRICS)[number], number | null> & { rows: number } {
  let tp = 0, fp = 0, fn = 0, tn = 0, rows = 0;
  const cal = scores.map((s) => ({ score: s.score, n: s.n, p: m.calibrator.predict(s.score) }));
  for (const s of cal) {
    rows += s.n;
    if (s.score >= m.threshold) {
      tp += s.n * s.p;
      fp += s.n * (1 - s.p);
    } else {
      fn += s.n * s.p;
      tn += s.n * (1 - s.p);
    }
  }
  const byName = Object.fromEntries(fromConfusion({ tp, fp, fn, tn }, rows).map((v) => [v.metric, v.value]));
  return {
    accuracy: byName.accuracy ?? null,
    precision: byName.precision ?? null,
    recall: byName.recall ?? null,
    f1: byName.f1 ?? null,
    roc_auc: expectedRocAuc(cal),
    rows,
  };
}

function expectedRocAuc(cal: { score: number; n: number; p: number }[]): number | null {
  const desc = [...cal].sort((a, b) => b.score - a.score);
  let posTotal = 0;
  let negTotal = 0;
  for (const s of desc) {
    posTotal += s.n * s.p;
    negTotal += s.n * (1 - s.p);
  }
  if (!(posTotal > 0) || !(negTotal > 0)) return null;
  let tps = 0, fps = 0, prevTpr = 0, prevFpr = 0, area = 0;
  for (let i = 0; i < desc.length; ) {
    // One curve point per distinct score.
    const s = desc[i].score;
    for (; i < desc.length && desc[i].score === s; i++) {
      tps += desc[i].n * desc[i].p;
      fps += desc[i].n * (1 - desc[i].p);
    }
    const tpr = tps / posTotal;
    const fpr = fps / negTotal;
    area += ((fpr - prevFpr) * (tpr + prevTpr)) / 2;
    prevTpr = tpr;
    prevFpr = fpr;
  }
  return area;
}

/** Realized metrics of labelled rows (for the reference chunks). */
export function realized(rows: { score: number; y: number }[], threshold: number): Record<(typeof CBPE_METRICS)[number], number | null> {
  let tp = 0, fp = 0, fn = 0, tn = 0;
  for (const r of rows) {
    const yh = r.score >= threshold;
    if (yh && r.y === 1) tp++;
    else if (yh) fp++;
    else if (r.y === 1) fn++;
    else tn++;
  }
  const byName = Object.fromEntries(fromConfusion({ tp, fp, fn, tn }).map((v) => [v.metric, v.value]));
  return { accuracy: byName.accuracy, precision: byName.precision, recall: byName.recall, f1: byName.f1, roc_auc: rankAuc(rows) };
}

/** Mann-Whitney AUC with ties counting one half. */
export function rankAuc(rows: { score: number; y: number }[]): number | null {
  const sorted = [...rows].sort((a, b) => a.score - b.score);
  let negBelow = 0, u2 = 0, npos = 0, nneg = 0;
  for (let i = 0; i < sorted.length; ) {
    const s = sorted[i].score;
    let pos = 0, neg = 0;
    for (; i < sorted.length && sorted[i].score === s; i++) {
      if (sorted[i].y === 1) pos++;
      else neg++;
    }
    u2 += pos * (2 * negBelow + neg);
    negBelow += neg;
    npos += pos;
    nneg += neg;
  }
  return npos === 0 || nneg === 0 ? null : u2 / (2 * npos * nneg);
}

function histogram(rows: { score: number }[]): ScoreCount[] {
  const m = new Map<number, number>();
  for (const r of rows) m.set(r.score, (m.get(r.score) ?? 0) + 1);
  return [...m].map(([score, n]) => ({ score, n }));
}

export interface Band { sigma: Record<string, number | null>; chunkSize: number; chunks: number; scaled: boolean }

/** The spread of (estimate - realized) over reference chunks, for a window of n predictions. */
export function referenceBand(m: CbpeModel, n: number): Band {
  const R = m.reference.length;
  const foldStart = (f: number) => Math.floor((f * R) / FOLDS);
  const size = Math.min(n, Math.floor(R / FOLDS));
  const scaled = size < n;
  const sigma: Record<string, number | null> = Object.fromEntries(CBPE_METRICS.map((k) => [k, null]));
  if (size < 10 || n <= 0) return { sigma, chunkSize: size, chunks: 0, scaled };
  // One calibrator per fold, fitted without it (cached on the model: every window size shares them).
  m.foldCalibrators ??= Array.from({ length: FOLDS }, (_, f) => {
    const train = [...m.reference.slice(0, foldStart(f)), ...m.reference.slice(foldStart(f + 1))];
    return fitIsotonic(train.map((r) => r.score), train.map((r) => r.y));
  });
  const errors: Record<string, number[]> = Object.fromEntries(CBPE_METRICS.map((k) => [k, []]));
  let chunks = 0;
  for (let f = 0; f < FOLDS; f++) {
    const foldModel: CbpeModel = { ...m, calibrator: m.foldCalibrators[f] };
    for (let start = foldStart(f); start + size <= foldStart(f + 1); start += size) {
      const chunk = m.reference.slice(start, start + size);
      const est = estimate(foldModel, histogram(chunk));
      const real = realized(chunk, m.threshold);
      chunks++;
      for (const k of CBPE_METRICS) {
        const e = est[k];
        const r = real[k];
        if (e !== null && r !== null) errors[k].push(e - r);
      }
    }
  }
  for (const k of CBPE_METRICS) {
    const es = errors[k];
    if (es.length >= 2) sigma[k] = sampleStandardDeviation(es) * (scaled ? Math.sqrt(size / n) : 1);
  }
  return { sigma, chunkSize: size, chunks, scaled };
}

/** Estimates with their band for one window's score histogram. */
export function estimateWithBand(m: CbpeModel, scores: ScoreCount[]): { estimates: Estimate[]; band: Band } {
  const est = estimate(m, scores);
  const band = referenceBand(m, est.rows);
  const clip = (v: number) => Math.min(1, Math.max(0, v));
  const estimates = CBPE_METRICS.map((k): Estimate => {
    const v = est[k];
    const s = band.sigma[k];
    return {
      metric: k,
      value: v,
      rows: est.rows,
      sigma: s,
      lower: v === null || s === null ? null : clip(v - BAND_SIGMAS * s),
      upper: v === null || s === null ? null : clip(v + BAND_SIGMAS * s),
    };
  });
  return { estimates, band };
}
