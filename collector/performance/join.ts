// The label join, inside ClickHouse: predictions of one model version in a time range (decided by
// the prediction's timestamp, never the label's arrival), each with its latest label (a later label
// for the same id replaces the earlier). The result is a SQL source that the metric queries wrap;
// no raw row enters the collector's memory except where CBPE needs score histograms.
//
// Columns of the joined source:
//   id, ts, seg (the segment value, '' when not segmenting), pred (class key), pred_num (Float64,
//   NaN when not numeric), score (NaN when absent), labelled (UInt8), lbl (class key), lbl_num
//   (Float64, NaN when not numeric).
// Class keys normalise numbers: "1", "1.0" and 1 are the same class ("1"); other strings are kept.
import type { ClickHouseClient } from '@clickhouse/client';
import { queryRows } from '../store/client.js';
import { tsText } from '../store/writer.js';

export interface Range { fromMs: number; toMs: number }

export interface JoinScope {
  model: string;
  version: string;
  /** Half-open [fromMs, toMs) on the prediction's timestamp. */
  range: Range;
  /** Segment key: `seg` is `segment[key]` ('' where the prediction has no such key). */
  segmentKey?: string;
}

export interface SqlSource { sql: string; params: Record<string, unknown> }

const LABEL_KEY = `if(isNull(toFloat64OrNull(label_raw)) OR NOT isFinite(toFloat64OrNull(label_raw)), label_raw, toString(toFloat64OrNull(label_raw)))`;

/** The joined source for one scope; `p` prefixes its parameters so two scopes can share a query. */
export function joinedSource(s: JoinScope, p = 'pf'): SqlSource {
  const where = `model = {${p}_model:String} AND version = {${p}_version:String}
      AND ts >= {${p}_from:DateTime64(3)} AND ts < {${p}_to:DateTime64(3)}`;
  const seg = s.segmentKey === undefined ? `''` : `segment[{${p}_seg:String}]`;
  const sql = `
    -- join_use_nulls is 0 (the default): an unlabelled prediction gets has = 0, lbl = ''.
    SELECT pr.id AS id, pr.ts AS ts, pr.seg AS seg, pr.pred AS pred, pr.pred_num AS pred_num, pr.score AS score,
           lb.has AS labelled, lb.lbl AS lbl, if(lb.has = 1, lb.lbl_num, nan) AS lbl_num
    FROM (
      SELECT id, ts, ${seg} AS seg,
             if(isFinite(prediction_num), toString(prediction_num), prediction) AS pred,
             prediction_num AS pred_num, score
      FROM predictions FINAL
      WHERE ${where}
    ) AS pr
    LEFT JOIN (
      SELECT id, ${LABEL_KEY} AS lbl, ifNull(toFloat64OrNull(label_raw), nan) AS lbl_num, toUInt8(1) AS has
      FROM (
        SELECT id, argMax(label, (ts, received_at)) AS label_raw
        FROM labels
        WHERE model = {${p}_model:String} AND id IN (SELECT id FROM predictions WHERE ${where})
        GROUP BY id
      )
    ) AS lb ON pr.id = lb.id`;
  const params: Record<string, unknown> = {
    [`${p}_model`]: s.model,
    [`${p}_version`]: s.version,
    [`${p}_from`]: tsText(s.range.fromMs),
    [`${p}_to`]: tsText(s.range.toMs),
  };
  if (s.segmentKey !== undefined) params[`${p}_seg`] = s.segmentKey;
  return { sql, params };
}

/** Predictions and labelled predictions per segment value. */
export async function coverage(client: ClickHouseClient, src: SqlSource): Promise<Map<string, { predictions: number; labelled: number }>> {
  const rows = await queryRows<{ seg: string; predictions: string; labelled: string }>(
    client,
    `SELECT seg, count() AS predictions, countIf(labelled = 1) AS labelled FROM (${src.sql}) GROUP BY seg ORDER BY seg`,
    src.params,
  );
  return new Map(rows.map((r) => [r.seg, { predictions: Number(r.predictions), labelled: Number(r.labelled) }]));
}

/**
 * Labels of the model whose prediction id is unknown (not stored, or already expired). They stay in
 * the labels table and join when (if) their prediction arrives.
 */
export async function unmatchedLabels(client: ClickHouseClient, model: string): Promise<number> {
  const [r] = await queryRows<{ n: string }>(
    client,
    `SELECT count() AS n FROM (SELECT DISTINCT id FROM labels WHERE model = {m:String})
     WHERE id NOT IN (SELECT id FROM predictions WHERE model = {m:String})`,
    { m: model },
  );
  return Number(r?.n ?? 0);
}

/** The timestamp of the version's first prediction that has a label, or undefined. */
export async function firstLabelledTs(client: ClickHouseClient, model: string, version: string): Promise<number | undefined> {
  const [r] = await queryRows<{ ms: string; n: string }>(
    client,
    `SELECT toUnixTimestamp64Milli(min(ts)) AS ms, count() AS n FROM predictions
     WHERE model = {m:String} AND version = {v:String} AND id IN (SELECT id FROM labels WHERE model = {m:String})`,
    { m: model, v: version },
  );
  return r && Number(r.n) > 0 ? Number(r.ms) : undefined;
}

/** Model versions that have predictions, optionally for one model. */
export async function modelVersions(client: ClickHouseClient, model?: string): Promise<{ model: string; version: string }[]> {
  return queryRows<{ model: string; version: string }>(
    client,
    `SELECT DISTINCT model, version FROM predictions ${model === undefined ? '' : 'WHERE model = {m:String}'} ORDER BY model, version`,
    model === undefined ? {} : { m: model },
  );
}

/**
 * A cheap fingerprint of a scope's inputs: its prediction rows, and the label rows (every version,
 * replaced ones too) and latest label time of those predictions. Unchanged fingerprint, unchanged
 * join. `src` must come from joinedSource with the same prefix.
 */
export async function inputFingerprint(client: ClickHouseClient, src: SqlSource, p = 'pf'): Promise<string> {
  const where = `model = {${p}_model:String} AND version = {${p}_version:String}
      AND ts >= {${p}_from:DateTime64(3)} AND ts < {${p}_to:DateTime64(3)}`;
  const [r] = await queryRows<{ p: string; l: string; lt: string }>(
    client,
    `SELECT (SELECT count() FROM predictions WHERE ${where}) AS p, count() AS l, toString(max(ts)) AS lt
     FROM labels WHERE model = {${p}_model:String} AND id IN (SELECT id FROM predictions WHERE ${where})`,
    src.params,
  );
  return `${r?.p}/${r?.l}/${r?.lt}`;
}
