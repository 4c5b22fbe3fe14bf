// Inserts decoded rows. JSONEachRow carries NaN and +-Inf only as strings ("nan", "inf"); a bare
// null would silently become 0, so every float goes through `f()`.
import type { ClickHouseClient } from '@clickhouse/client';
import type { LabelRow, PredictionRow } from '../ingest/records.js';

function f(v: number): number | string {
  if (Number.isFinite(v)) return v;
  if (Number.isNaN(v)) return 'nan';
  return v > 0 ? 'inf' : '-inf';
}

function floats(m: Record<string, number>): Record<string, number | string> {
  const out: Record<string, number | string> = {};
  for (const k in m) out[k] = f(m[k]);
  return out;
}

/** Epoch milliseconds as the decimal seconds DateTime64(3) parses exactly. */
export function tsText(ms: number): string {
  return (ms / 1000).toFixed(3);
}

export async function insertPredictions(client: ClickHouseClient, rows: PredictionRow[]): Promise<void> {
  if (rows.length === 0) return;
  await client.insert({
    table: 'predictions',
    format: 'JSONEachRow',
    values: rows.map((r) => ({
      model: r.model,
      version: r.version,
      ts: tsText(r.ts),
      id: r.id,
      prediction: r.prediction,
      prediction_num: f(r.predictionNum),
      score: f(r.score),
      latency_ms: f(r.latencyMs),
      num: floats(r.num),
      cat: r.cat,
      segment: r.segment,
    })),
  });
}

export async function insertLabels(client: ClickHouseClient, rows: LabelRow[]): Promise<void> {
  if (rows.length === 0) return;
  await client.insert({
    table: 'labels',
    format: 'JSONEachRow',
    values: rows.map((r) => ({ model: r.model, id: r.id, ts: tsText(r.ts), label: r.label })),
  });
}
