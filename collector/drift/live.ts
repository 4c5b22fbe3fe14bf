// Live drift: each model version's first N predictions become its baseline; the current window is
// the last W of traffic after the baseline. Both sides are read by ClickHouse from the raw table
// and handed to the engine as SQL sources, so no row enters the JS heap.
import type { ClickHouseClient } from '@clickhouse/client';
import { queryRows } from '../store/client.js';
import { tsText } from '../store/writer.js';
import { driftFromSources } from './engine.js';
import type { DriftReport, Method } from './report.js';

export interface Baseline { model: string; version: string; fromMs: number; toMs: number; rows: number; source: string }

export interface LiveDriftResult {
  model: string;
  version: string;
  windowMs: number;
  computedAt: number;
  baseline: Baseline;
  report: DriftReport;
}

export interface LiveDriftOptions {
  baselineRows: number;
  /** Results younger than this are served from memory (several rules share one computation). */
  cacheMs?: number;
  onResult?: (r: LiveDriftResult) => void;
}

const PARAMS = '{dw_model:String} AND version = {dw_version:String}';

// Long-format sources over the raw predictions table: one row per (side, column, value).
function numericSource(includeOutputs: boolean): string {
  const side = (s: number, from: string, to: string) => `
    SELECT ${s} AS side, k AS column, v AS value FROM predictions
    ARRAY JOIN mapKeys(num) AS k, mapValues(num) AS v
    WHERE model = ${PARAMS} AND ts >= {${from}:DateTime64(3)} AND ts <= {${to}:DateTime64(3)}`;
  const outputs = (s: number, from: string, to: string) => `
    SELECT ${s} AS side, c.1 AS column, c.2 AS value FROM predictions
    ARRAY JOIN arrayFilter(x -> NOT isNaN(x.2), [('@score', score), ('@prediction', prediction_num)]) AS c
    WHERE model = ${PARAMS} AND ts >= {${from}:DateTime64(3)} AND ts <= {${to}:DateTime64(3)}`;
  const parts = [side(0, 'dw_ref_from', 'dw_ref_to'), side(1, 'dw_cur_from', 'dw_cur_to')];
  if (includeOutputs) parts.push(outputs(0, 'dw_ref_from', 'dw_ref_to'), outputs(1, 'dw_cur_from', 'dw_cur_to'));
  return parts.join('\nUNION ALL\n');
}

function categoricalSource(): string {
  const side = (s: number, from: string, to: string) => `
    SELECT ${s} AS side, k AS column, CAST(v AS Nullable(String)) AS value FROM predictions
    ARRAY JOIN mapKeys(cat) AS k, mapValues(cat) AS v
    WHERE model = ${PARAMS} AND ts >= {${from}:DateTime64(3)} AND ts <= {${to}:DateTime64(3)}`;
  const outputs = (s: number, from: string, to: string) => `
    SELECT ${s} AS side, '@prediction' AS column, CAST(prediction AS Nullable(String)) AS value FROM predictions
    WHERE model = ${PARAMS} AND ts >= {${from}:DateTime64(3)} AND ts <= {${to}:DateTime64(3)}
      AND NOT isFinite(prediction_num)`;
  return [side(0, 'dw_ref_from', 'dw_ref_to'), side(1, 'dw_cur_from', 'dw_cur_to'), outputs(0, 'dw_ref_from', 'dw_ref_to'), outputs(1, 'dw_cur_from', 'dw_cur_to')].join('\nUNION ALL\n');
}

export class LiveDrift {
  private baselines = new Map<string, Baseline>();
  private cache = new Map<string, LiveDriftResult>();
  private computing = new Map<string, Promise<LiveDriftResult | undefined>>();

  constructor(private readonly client: ClickHouseClient, private readonly o: LiveDriftOptions) {}

  async loadBaselines(): Promise<void> {
    const rows = await queryRows<{ model: string; version: string; source: string; from_ms: string; to_ms: string; rows: string }>(
      this.client,
      `SELECT model, version, source, toUnixTimestamp64Milli(from_ts) AS from_ms, toUnixTimestamp64Milli(to_ts) AS to_ms, rows
       FROM baselines FINAL`,
    );
    for (const r of rows) {
      this.baselines.set(`${r.model}\u0000${r.version}`, {
        model: r.model, version: r.version, source: r.source, fromMs: Number(r.from_ms), toMs: Number(r.to_ms), rows: Number(r.rows),
      });
    }
  }

  baseline(model: string, version: string): Baseline | undefined {
    return this.baselines.get(`${model}\u0000${version}`);
  }

  /** Creates baselines for versions that have reached N predictions and have none yet. */
  async ensureBaselines(): Promise<void> {
    const n = this.o.baselineRows;
    const candidates = await queryRows<{ model: string; version: string; rows: string; from_ms: string; to_ms: string }>(
      this.client,
      `SELECT model, version, count() AS rows,
              toUnixTimestamp64Milli(min(ts)) AS from_ms, toUnixTimestamp64Milli(max(ts)) AS to_ms
       FROM (
         SELECT model, version, ts FROM predictions
         WHERE (model, version) NOT IN (SELECT model, version FROM baselines)
         ORDER BY model, version, ts LIMIT {n:UInt64} BY model, version)
       GROUP BY model, version HAVING rows >= {n:UInt64}`,
      { n },
    );
    for (const c of candidates) {
      if (this.baseline(c.model, c.version)) continue;
      const b: Baseline = { model: c.model, version: c.version, source: `first ${n} predictions`, fromMs: Number(c.from_ms), toMs: Number(c.to_ms), rows: n };
      await this.client.insert({
        table: 'baselines',
        format: 'JSONEachRow',
        values: [{ model: b.model, version: b.version, source: b.source, from_ts: tsText(b.fromMs), to_ts: tsText(b.toMs), rows: b.rows }],
      });
      this.baselines.set(`${b.model}\u0000${b.version}`, b);
    }
  }

  /** Model versions that have a baseline. */
  versions(): Baseline[] {
    return [...this.baselines.values()];
  }

  /** Drift of one model version over the window ending now; undefined when the window is empty. */
  async compute(model: string, version: string, windowMs: number, method: Method | 'auto', now = Date.now()): Promise<LiveDriftResult | undefined> {
    const key = `${model}\u0000${version}\u0000${windowMs}\u0000${method}`;
    const hit = this.cache.get(key);
    if (hit && now - hit.computedAt < (this.o.cacheMs ?? 5000)) return hit;
    const running = this.computing.get(key);
    if (running) return running;
    const p = this.run(model, version, windowMs, method, now).finally(() => this.computing.delete(key));
    this.computing.set(key, p);
    return p;
  }

  private async run(model: string, version: string, windowMs: number, method: Method | 'auto', now: number): Promise<LiveDriftResult | undefined> {
    const baseline = this.baseline(model, version);
    if (!baseline) return undefined;
    // The current window never overlaps the baseline.
    const curFrom = Math.max(now - windowMs, baseline.toMs + 1);
    if (curFrom > now) return undefined;
    const params = {
      dw_model: model,
      dw_version: version,
      dw_ref_from: tsText(baseline.fromMs),
      dw_ref_to: tsText(baseline.toMs),
      dw_cur_from: tsText(curFrom),
      dw_cur_to: tsText(now),
    };
    const report = await driftFromSources(this.client, {
      numeric: { sql: numericSource(true), params },
      categorical: { sql: categoricalSource(), params },
      method,
      // A feature absent from one side of a live window is not an error: it is left out.
      emptyColumns: 'skip',
    });
    if (report.current_rows === 0) return undefined;
    const result: LiveDriftResult = { model, version, windowMs, computedAt: now, baseline, report };
    this.cache.set(`${model}\u0000${version}\u0000${windowMs}\u0000${method}`, result);
    await this.save(result);
    this.o.onResult?.(result);
    return result;
  }

  private async save(r: LiveDriftResult): Promise<void> {
    await this.client.insert({
      table: 'drift_results',
      format: 'JSONEachRow',
      values: r.report.columns.map((c) => ({
        ts: tsText(r.computedAt),
        model: r.model,
        version: r.version,
        window_seconds: Math.round(r.windowMs / 1000),
        feature: c.column,
        type: c.type,
        method: c.method,
        statistic: c.statistic,
        p_value: c.p_value,
        threshold: c.threshold,
        drift: c.drift,
        reference_rows: r.report.reference_rows,
        current_rows: r.report.current_rows,
        reference_missing: c.reference_missing,
        current_missing: c.current_missing,
      })),
    });
  }
}
