// Realized metrics from joined labels, per segment value, following the performance conventions
// (scikit-learn's defaults). ClickHouse computes counts and sums (ROC AUC from the rank sums of a
// score histogram, exact integer arithmetic); TypeScript only divides.
import type { ClickHouseClient } from '@clickhouse/client';
import { queryRows } from '../store/client.js';
import type { SqlSource } from './join.js';

export type Task = 'binary' | 'multiclass' | 'regression';

export interface MetricValue {
  metric: string;
  value: number | null;
  /** Rows the metric was computed on (labelled rows; with a score for log loss, Brier, ROC AUC). */
  rows: number;
  /** True when a denominator was zero and the value was set to 0 (precision, recall, F1). */
  zero_division?: boolean;
}

/** Metrics where a higher value is better; the others (errors, losses) are better lower. */
export const HIGHER_IS_BETTER = new Set([
  'accuracy', 'precision', 'recall', 'f1', 'roc_auc', 'r2',
  'precision_macro', 'recall_macro', 'f1_macro', 'precision_weighted', 'recall_weighted', 'f1_weighted',
]);

export const METRICS: Record<Task, string[]> = {
  binary: [
    'accuracy', 'precision', 'recall', 'f1', 'roc_auc', 'log_loss', 'brier',
    'precision_macro', 'recall_macro', 'f1_macro', 'precision_weighted', 'recall_weighted', 'f1_weighted',
  ],
  multiclass: ['accuracy', 'precision_macro', 'recall_macro', 'f1_macro', 'precision_weighted', 'recall_weighted', 'f1_weighted'],
  regression: ['mae', 'rmse', 'mape', 'r2'],
};

export interface TaskChoice { task: Task; positive: string; source: 'configured' | 'detected'; rule: string; /** Labelled predictions seen by the decision. */ labelled: number }

const num = (v: unknown) => Number(v);

/**
 * The task rule, over the class keys of the predictions and labels in scope:
 * - configured (query parameter or per-model setting) wins;
 * - every prediction sent as a number and every label a number, at least one not an integer -> regression;
 * - values within {0, 1}, or within {false, true}, or at most two values when a positive class is
 *   configured -> binary (positive class "1", "true", or the configured one);
 * - at most 20 distinct values (any strings, or integers) -> multiclass;
 * - otherwise (more than 20 distinct integers) -> regression.
 */
export async function chooseTask(
  client: ClickHouseClient,
  src: SqlSource,
  configured?: { task?: Task; positive?: string },
): Promise<TaskChoice> {
  const positiveOf = (values: string[]) => configured?.positive ?? (values.includes('true') || values.includes('false') ? 'true' : '1');
  // Aggregates that stay cheap on millions of rows: distinct values counted only up to 21, a sample
  // of at most 21 per side, numbers read from the already-parsed pred_num / lbl_num.
  const [r] = await queryRows<{
    p_distinct: string; p_sample: string[]; p_non_numeric: string; p_non_integer: string;
    l_distinct: string; l_sample: string[]; l_non_numeric: string; l_non_integer: string; n_labelled: string;
  }>(
    client,
    `SELECT uniqUpTo(21)(pred) AS p_distinct, groupUniqArray(21)(pred) AS p_sample,
            countIf(NOT isFinite(pred_num)) AS p_non_numeric, countIf(isFinite(pred_num) AND pred_num != round(pred_num)) AS p_non_integer,
            uniqUpToIf(21)(lbl, labelled = 1) AS l_distinct, groupUniqArrayIf(21)(lbl, labelled = 1) AS l_sample,
            countIf(labelled = 1 AND NOT isFinite(lbl_num)) AS l_non_numeric,
            countIf(labelled = 1 AND isFinite(lbl_num) AND lbl_num != round(lbl_num)) AS l_non_integer,
            countIf(labelled = 1) AS n_labelled
     FROM (${src.sql})`,
    src.params,
  );
  const values = [...new Set([...(r?.p_sample ?? []), ...(r?.l_sample ?? [])])];
  const distinct = num(r?.p_distinct ?? 0) > 20 || num(r?.l_distinct ?? 0) > 20 ? 21 : values.length;
  const nonNumeric = num(r?.p_non_numeric ?? 0) + num(r?.l_non_numeric ?? 0);
  const nonInteger = num(r?.p_non_integer ?? 0) + num(r?.l_non_integer ?? 0);
  const labelled = num(r?.n_labelled ?? 0);
  const choice = (task: Task, positive: string, source: TaskChoice['source'], rule: string): TaskChoice => ({ task, positive, source, rule, labelled });
  if (configured?.task) return choice(configured.task, positiveOf(values), 'configured', 'configured');
  const within = (set: string[]) => values.every((v) => set.includes(v));
  if (distinct > 0 && nonNumeric === 0 && nonInteger > 0) {
    return choice('regression', '1', 'detected', 'numeric values, not all integers');
  }
  if (within(['0', '1']) || within(['false', 'true']) || (configured?.positive !== undefined && distinct <= 2)) {
    return choice('binary', positiveOf(values), 'detected', 'two classes {0,1} or {false,true} (or the configured positive class)');
  }
  if (distinct <= 20) {
    return choice('multiclass', positiveOf(values), 'detected', 'at most 20 distinct classes');
  }
  return choice('regression', '1', 'detected', 'more than 20 distinct integers');
}

export interface BinaryCounts { tp: number; fp: number; fn: number; tn: number }

const ratio = (a: number, b: number): { value: number; zero: boolean } => (b === 0 ? { value: 0, zero: true } : { value: a / b, zero: false });

/** accuracy, precision, recall and F1 of the positive class from a confusion matrix (zero division -> 0). */
export function fromConfusion(c: BinaryCounts, rows = c.tp + c.fp + c.fn + c.tn): MetricValue[] {
  const n = c.tp + c.fp + c.fn + c.tn;
  const out: MetricValue[] = [];
  out.push({ metric: 'accuracy', value: n === 0 ? null : (c.tp + c.tn) / n, rows });
  const p = ratio(c.tp, c.tp + c.fp);
  const r = ratio(c.tp, c.tp + c.fn);
  const f = ratio(2 * c.tp, 2 * c.tp + c.fp + c.fn);
  out.push({ metric: 'precision', value: n === 0 ? null : p.value, rows, ...(p.zero && n > 0 ? { zero_division: true } : {}) });
  out.push({ metric: 'recall', value: n === 0 ? null : r.value, rows, ...(r.zero && n > 0 ? { zero_division: true } : {}) });
  out.push({ metric: 'f1', value: n === 0 ? null : f.value, rows, ...(f.zero && n > 0 ? { zero_division: true } : {}) });
  return out;
}

/**
 * Macro and weighted precision/recall/F1 of a binary confusion matrix: the two classes (positive
 * and negative) as in multiclass, over the classes present among labels and predictions.
 */
export function binaryAverages(c: BinaryCounts): MetricValue[] {
  const classes = [
    { tp: c.tp, npred: c.tp + c.fp, ntrue: c.tp + c.fn },
    { tp: c.tn, npred: c.tn + c.fn, ntrue: c.tn + c.fp },
  ].filter((k) => k.npred + k.ntrue > 0);
  return fromClassCounts(classes).filter((m) => m.metric !== 'accuracy');
}

/** Binary classification metrics per segment value. */
export async function binaryMetrics(client: ClickHouseClient, src: SqlSource, positive: string): Promise<Map<string, MetricValue[]>> {
  const params = { ...src.params, pm_pos: positive };
  const labelled = `SELECT seg, toUInt8(lbl = {pm_pos:String}) AS y, toUInt8(pred = {pm_pos:String}) AS yh, score,
                           least(greatest(score, 1e-15), 1 - 1e-15) AS c
                    FROM (${src.sql}) WHERE labelled = 1`;
  const counts = await queryRows<Record<string, string | number>>(
    client,
    `SELECT seg, countIf(y = 1 AND yh = 1) AS tp, countIf(y = 0 AND yh = 1) AS fp, countIf(y = 1 AND yh = 0) AS fn,
            countIf(y = 0 AND yh = 0) AS tn, countIf(isFinite(score)) AS scored,
            sumKahanIf(-(y * log(c) + (1 - y) * log(1 - c)), isFinite(score)) AS ll_sum,
            sumKahanIf((score - y) * (score - y), isFinite(score)) AS brier_sum
     FROM (${labelled}) GROUP BY seg`,
    params,
  );
  const auc = await rocAucByRanks(client, { sql: labelled, params });
  const out = new Map<string, MetricValue[]>();
  for (const r of counts) {
    const c = { tp: num(r.tp), fp: num(r.fp), fn: num(r.fn), tn: num(r.tn) };
    const scored = num(r.scored);
    const a = auc.get(String(r.seg));
    out.set(String(r.seg), [
      ...fromConfusion(c),
      ...binaryAverages(c),
      { metric: 'roc_auc', value: a?.value ?? null, rows: a?.rows ?? 0 },
      { metric: 'log_loss', value: scored === 0 ? null : num(r.ll_sum) / scored, rows: scored },
      { metric: 'brier', value: scored === 0 ? null : num(r.brier_sum) / scored, rows: scored },
    ]);
  }
  return out;
}

/**
 * ROC AUC = U / (n_pos * n_neg), ties counting one half, from a histogram of scores: for each
 * distinct score, positives there times (negatives below + half the negatives at it). `src` must
 * have columns seg, y (0/1) and score.
 */
async function rocAucByRanks(client: ClickHouseClient, src: SqlSource): Promise<Map<string, { value: number | null; rows: number }>> {
  const rows = await queryRows<{ seg: string; u2: string; npos: string; nneg: string }>(
    client,
    `SELECT seg, sum(pos * (2 * neg_below + neg)) AS u2, sum(pos) AS npos, sum(neg) AS nneg FROM (
       SELECT seg, pos, neg,
              sum(neg) OVER (PARTITION BY seg ORDER BY score ASC ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS neg_below
       FROM (SELECT seg, score, toUInt64(countIf(y = 1)) AS pos, toUInt64(countIf(y = 0)) AS neg
             FROM (${src.sql}) WHERE isFinite(score) GROUP BY seg, score))
     GROUP BY seg`,
    src.params,
  );
  const out = new Map<string, { value: number | null; rows: number }>();
  for (const r of rows) {
    const npos = num(r.npos);
    const nneg = num(r.nneg);
    // u2 and the denominator are exact integers (below 2^53 for any window under ~67M rows).
    out.set(r.seg, { value: npos === 0 || nneg === 0 ? null : num(r.u2) / (2 * npos * nneg), rows: npos + nneg });
  }
  return out;
}

/** One class of a multiclass model: its precision, recall and F1 (zero division -> 0), label and prediction counts. */
export interface ClassMetric { class: string; precision: number; recall: number; f1: number; support: number; predicted: number }

/**
 * Multiclass: accuracy, and precision/recall/F1 averaged macro and weighted over the classes present.
 * `classesOut`, when given, receives the per-class values per segment value.
 */
export async function multiclassMetrics(client: ClickHouseClient, src: SqlSource, classesOut?: Map<string, ClassMetric[]>): Promise<Map<string, MetricValue[]>> {
  const rows = await queryRows<{ seg: string; cls: string; tp: string; npred: string; ntrue: string }>(
    client,
    `SELECT seg, cls, countIf(lbl = cls AND pred = cls) AS tp, countIf(pred = cls) AS npred, countIf(lbl = cls) AS ntrue
     FROM (SELECT seg, lbl, pred FROM (${src.sql}) WHERE labelled = 1)
     ARRAY JOIN arrayDistinct([lbl, pred]) AS cls
     GROUP BY seg, cls ORDER BY seg, cls`,
    src.params,
  );
  const bySeg = new Map<string, { cls: string; tp: number; npred: number; ntrue: number }[]>();
  for (const r of rows) {
    const list = bySeg.get(r.seg) ?? [];
    list.push({ cls: r.cls, tp: num(r.tp), npred: num(r.npred), ntrue: num(r.ntrue) });
    bySeg.set(r.seg, list);
  }
  if (classesOut) {
    for (const [seg, classes] of bySeg) {
      classesOut.set(seg, classes.map((c) => ({
        class: c.cls,
        precision: ratio(c.tp, c.npred).value,
        recall: ratio(c.tp, c.ntrue).value,
        f1: ratio(2 * c.tp, c.npred + c.ntrue).value,
        support: c.ntrue,
        predicted: c.npred,
      })));
    }
  }
  const out = new Map<string, MetricValue[]>();
  for (const [seg, classes] of bySeg) out.set(seg, fromClassCounts(classes));
  return out;
}

/** Multiclass metrics from per-class (tp, predicted count, true count). */
export function fromClassCounts(classes: { tp: number; npred: number; ntrue: number }[]): MetricValue[] {
  const n = classes.reduce((s, c) => s + c.ntrue, 0);
  const k = classes.length;
  let zeroP = false;
  let zeroR = false;
  let zeroF = false;
  const per = classes.map((c) => {
    const p = ratio(c.tp, c.npred);
    const r = ratio(c.tp, c.ntrue);
    // F1 = 2PR / (P + R) = 2 tp / (npred + ntrue); 0 when both are 0.
    const f = ratio(2 * c.tp, c.npred + c.ntrue);
    zeroP ||= p.zero;
    zeroR ||= r.zero;
    zeroF ||= f.zero;
    return { p: p.value, r: r.value, f: f.value, w: c.ntrue };
  });
  const macro = (pick: (x: (typeof per)[number]) => number) => per.reduce((s, x) => s + pick(x), 0) / k;
  const weighted = (pick: (x: (typeof per)[number]) => number) => per.reduce((s, x) => s + pick(x) * x.w, 0) / n;
  const zd = (z: boolean) => (z ? { zero_division: true } : {});
  if (n === 0) return METRICS.multiclass.map((metric) => ({ metric, value: null, rows: 0 }));
  return [
    { metric: 'accuracy', value: classes.reduce((s, c) => s + c.tp, 0) / n, rows: n },
    { metric: 'precision_macro', value: macro((x) => x.p), rows: n, ...zd(zeroP) },
    { metric: 'recall_macro', value: macro((x) => x.r), rows: n, ...zd(zeroR) },
    { metric: 'f1_macro', value: macro((x) => x.f), rows: n, ...zd(zeroF) },
    { metric: 'precision_weighted', value: weighted((x) => x.p), rows: n, ...zd(zeroP) },
    { metric: 'recall_weighted', value: weighted((x) => x.r), rows: n, ...zd(zeroR) },
    { metric: 'f1_weighted', value: weighted((x) => x.f), rows: n, ...zd(zeroF) },
  ];
}

/**
 * Regression: MAE, RMSE, MAPE (a fraction, |y| floored at machine epsilon) and R2 (null when the
 * labels have no variance). Rows whose label or prediction is not a finite number are left out.
 */
export async function regressionMetrics(client: ClickHouseClient, src: SqlSource): Promise<Map<string, MetricValue[]>> {
  const rows = await queryRows<{ seg: string; n: string; sae: number; sse: number; sape: number; sst: number }>(
    client,
    `SELECT seg, count() AS n, sumKahan(abs(e)) AS sae, sumKahan(e * e) AS sse,
            sumKahan(abs(e) / greatest(abs(y), 2.220446049250313e-16)) AS sape, sumKahan((y - ybar) * (y - ybar)) AS sst
     FROM (SELECT seg, y, y - yh AS e, avg(y) OVER (PARTITION BY seg) AS ybar
           FROM (SELECT seg, lbl_num AS y, pred_num AS yh FROM (${src.sql})
                 WHERE labelled = 1 AND isFinite(lbl_num) AND isFinite(pred_num)))
     GROUP BY seg`,
    src.params,
  );
  const out = new Map<string, MetricValue[]>();
  for (const r of rows) {
    const n = num(r.n);
    const sst = num(r.sst);
    out.set(r.seg, [
      { metric: 'mae', value: num(r.sae) / n, rows: n },
      { metric: 'rmse', value: Math.sqrt(num(r.sse) / n), rows: n },
      { metric: 'mape', value: num(r.sape) / n, rows: n },
      { metric: 'r2', value: sst === 0 ? null : 1 - num(r.sse) / sst, rows: n },
    ]);
  }
  return out;
}

export async function realizedMetrics(
  client: ClickHouseClient,
  src: SqlSource,
  task: TaskChoice,
  classesOut?: Map<string, ClassMetric[]>,
): Promise<Map<string, MetricValue[]>> {
  switch (task.task) {
    case 'binary':
      return binaryMetrics(client, src, task.positive);
    case 'multiclass':
      return multiclassMetrics(client, src, classesOut);
    case 'regression':
      return regressionMetrics(client, src);
  }
}
