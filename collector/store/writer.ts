// The ClickHouse writer. Requests hand their rows to `write()`, which resolves only once the rows
// are in ClickHouse or in the fsync'd disk spool: that is when the receiver acknowledges. Rows of
// concurrent requests are coalesced into one insert per table (flushed by size or interval).
// Failures are classified: a data error splits the batch to isolate and drop the bad rows
// (counted); anything else (connection refused, store closed, timeouts) spools the batch, and
// the spool is replayed in order when ClickHouse answers again.
import type { ClickHouseClient } from '@clickhouse/client';
import type { LabelRow, PredictionRow } from '../ingest/records.js';
import type { MetricPointRow } from '../ingest/otlp-metrics.js';
import type { Spool } from './spool.js';

function f(v: number): number | string {
  if (Number.isFinite(v)) return v;
  if (Number.isNaN(v)) return 'nan'; // JSONEachRow reads NaN/Inf only as strings; null would become 0
  return v > 0 ? 'inf' : '-inf';
}

/** Epoch milliseconds as the decimal seconds DateTime64(3) parses exactly. */
export function tsText(ms: number): string {
  return (ms / 1000).toFixed(3);
}

type InsertRow = Record<string, unknown>;

// JSON text of a float as JSONEachRow reads it.
function fj(v: number): string {
  if (Number.isFinite(v)) return String(v);
  return Number.isNaN(v) ? '"nan"' : v > 0 ? '"inf"' : '"-inf"';
}

const quoted = new Map<string, string>();
// Feature and model names repeat on every row: their JSON form is computed once.
function q(s: string): string {
  let t = quoted.get(s);
  if (t === undefined) {
    t = JSON.stringify(s);
    if (quoted.size < 100_000) quoted.set(s, t);
  }
  return t;
}

function numMap(m: Record<string, number>): string {
  let out = '{';
  for (const k in m) out += (out.length > 1 ? ',' : '') + q(k) + ':' + fj(m[k]);
  return out + '}';
}

function strMap(m: Record<string, string>): string {
  let out = '{';
  for (const k in m) out += (out.length > 1 ? ',' : '') + q(k) + ':' + JSON.stringify(m[k]);
  return out + '}';
}

/** One JSONEachRow line per prediction, written directly (no intermediate objects). */
export function predictionLines(rows: PredictionRow[]): string[] {
  return rows.map(
    (r) =>
      `{"model":${q(r.model)},"version":${q(r.version)},"ts":"${tsText(r.ts)}","id":${JSON.stringify(r.id)},` +
      `"prediction":${JSON.stringify(r.prediction)},"prediction_num":${fj(r.predictionNum)},"score":${fj(r.score)},` +
      `"latency_ms":${fj(r.latencyMs)},"num":${numMap(r.num)},"cat":${strMap(r.cat)},"segment":${strMap(r.segment)}}`,
  );
}

export function labelValues(rows: LabelRow[]): InsertRow[] {
  return rows.map((r) => ({ model: r.model, id: r.id, ts: tsText(r.ts), label: r.label }));
}

export function metricValues(rows: MetricPointRow[]): InsertRow[] {
  return rows.map((r) => ({
    metric: r.metric, kind: r.kind, model: r.model, version: r.version, ts: tsText(r.ts), start_ts: tsText(r.startTs),
    temporality: r.temporality, monotonic: r.monotonic, value: f(r.value), count: r.count, sum: f(r.sum),
    bounds: r.bounds.map(f), buckets: r.buckets, attributes: r.attributes,
  }));
}

/** What one request hands to the writer. */
export interface WriteBatch { predictions?: PredictionRow[]; labels?: LabelRow[]; metrics?: MetricPointRow[] }

/** One INSERT of JSONEachRow lines, as the writer sends them (also used directly by tests and benches). */
export async function insertLines(client: ClickHouseClient, table: string, lines: string[], settings?: Record<string, string | number>): Promise<void> {
  if (lines.length === 0) return;
  // The lines travel inline after the INSERT head (for a server: in the HTTP body).
  await client.command({ query: `INSERT INTO ${table} FORMAT JSONEachRow\n${lines.join('\n')}`, clickhouse_settings: settings });
}

export const insertPredictions = (client: ClickHouseClient, rows: PredictionRow[]) => insertLines(client, 'predictions', predictionLines(rows));
export const insertLabels = (client: ClickHouseClient, rows: LabelRow[]) => insertLines(client, 'labels', labelValues(rows).map((r) => JSON.stringify(r)));

/** Thrown by write() when the writer cannot take more (queue and spool full): answer 503 + Retry-After. */
export class Backpressure extends Error {}

// ClickHouse error codes that mean "this data is bad", not "the store is unavailable".
const DATA_ERRORS = new Set([6, 26, 27, 38, 41, 53, 69, 70, 72, 117, 130, 131, 241]);

function isDataError(e: unknown): boolean {
  const code = Number((e as { code?: unknown }).code);
  return Number.isInteger(code) && DATA_ERRORS.has(code);
}

/** JSONEachRow lines per table. */
interface Tables { predictions: string[]; labels: string[]; metric_points: string[] }
const emptyTables = (): Tables => ({ predictions: [], labels: [], metric_points: [] });
interface Waiter { resolve(): void; reject(e: Error): void }

export interface WriterOptions {
  spool: Spool;
  /** Rows buffered in memory before write() refuses (backpressure). */
  maxQueueRows?: number;
  /** Rows per insert. */
  maxBatchRows?: number;
  /** How long the first row of a batch may wait for company. */
  flushIntervalMs?: number;
  /** Settings sent with every insert (on a server: async inserts, waited for before the ack). */
  insertSettings?: Record<string, string | number>;
  /** Inserts in flight at once while ClickHouse is healthy (default 3). */
  maxInFlight?: number;
  /** How often the spool is retried while ClickHouse is unavailable. */
  replayIntervalMs?: number;
  log?: (event: string, fields: Record<string, unknown>) => void;
  onInsert?: (table: string, rows: number, ms: number) => void;
  onDrop?: (table: string, rows: number, reason: string) => void;
}

export class Writer {
  private queue: Tables = emptyTables();
  private waiters: Waiter[] = [];
  private timer: NodeJS.Timeout | undefined;
  private inflight = new Set<Promise<void>>();
  private replayTimer: NodeJS.Timeout;
  private replaying = false;
  private closed = false;
  /** True while ClickHouse is failing and batches go to the spool. */
  degraded = false;
  spooledBatches = 0;
  replayedBatches = 0;

  constructor(private client: ClickHouseClient, private readonly o: WriterOptions) {
    this.degraded = o.spool.length > 0;
    this.replayTimer = setInterval(() => void this.replay(), o.replayIntervalMs ?? 1000);
    this.replayTimer.unref();
  }

  /** Replaces the client (after a reconnect); the spool replays through the new one. */
  setClient(client: ClickHouseClient): void {
    this.client = client;
  }

  get queuedRows(): number {
    return this.queue.predictions.length + this.queue.labels.length + this.queue.metric_points.length;
  }

  write(batch: WriteBatch): Promise<void> {
    const rows = (batch.predictions?.length ?? 0) + (batch.labels?.length ?? 0) + (batch.metrics?.length ?? 0);
    if (rows === 0) return Promise.resolve();
    if (this.closed) return Promise.reject(new Backpressure('collector is shutting down'));
    if (this.queuedRows + rows > (this.o.maxQueueRows ?? 200_000)) {
      return Promise.reject(new Backpressure('ingest queue is full'));
    }
    if (this.degraded && !this.o.spool.hasRoomFor(rows * 200)) {
      return Promise.reject(new Backpressure('ClickHouse is unavailable and the spool is full'));
    }
    // Converted now, so a spooled batch is stored exactly as it would have been inserted.
    const append = (into: string[], lines: string[]) => {
      for (const l of lines) into.push(l); // not push(...lines): large batches would overflow the stack
    };
    if (batch.predictions) append(this.queue.predictions, predictionLines(batch.predictions));
    if (batch.labels) append(this.queue.labels, labelValues(batch.labels).map((r) => JSON.stringify(r)));
    if (batch.metrics) append(this.queue.metric_points, metricValues(batch.metrics).map((r) => JSON.stringify(r)));
    const p = new Promise<void>((resolve, reject) => this.waiters.push({ resolve, reject }));
    if (this.queuedRows >= (this.o.maxBatchRows ?? 50_000)) void this.flush();
    else this.timer ??= setTimeout(() => {
      this.timer = undefined;
      this.pump();
    }, this.o.flushIntervalMs ?? 20);
    return p;
  }

  /** Writes everything queued; resolves when those rows (and all in flight) are acknowledged. */
  async flush(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    this.pump();
    while (this.inflight.size > 0 || this.queuedRows > 0) {
      await Promise.race(this.inflight);
      this.pump();
    }
  }

  // While ClickHouse is healthy several inserts may be in flight (each takes whatever queued up
  // meanwhile, so batches grow with load); while degraded, one at a time keeps the spool in order.
  private pump(): void {
    const max = this.degraded ? 1 : (this.o.maxInFlight ?? 3);
    while (this.queuedRows > 0 && this.inflight.size < max) {
      const tables = this.queue;
      const waiters = this.waiters;
      this.queue = emptyTables();
      this.waiters = [];
      const p: Promise<void> = this.store(tables)
        .then(
          () => waiters.forEach((w) => w.resolve()),
          (e: Error) => waiters.forEach((w) => w.reject(e)),
        )
        .finally(() => {
          this.inflight.delete(p);
          if (this.queuedRows > 0 && !this.timer) this.pump();
        });
      this.inflight.add(p);
    }
  }

  private async store(t: Tables): Promise<void> {
    if (!this.degraded) {
      try {
        await this.insertTables(t);
        return;
      } catch (e) {
        this.degraded = true;
        this.o.log?.('store_unavailable', { error: (e as Error).message, action: 'spooling' });
      }
    }
    const payload = Buffer.from(JSON.stringify(t));
    if (!this.o.spool.append(payload)) throw new Backpressure('ClickHouse is unavailable and the spool is full');
    this.spooledBatches++;
  }

  private async insertTables(t: Tables): Promise<void> {
    await this.insertRows('predictions', t.predictions);
    await this.insertRows('labels', t.labels);
    await this.insertRows('metric_points', t.metric_points ?? []);
  }

  // Data errors split the rows in halves until the bad ones are isolated and dropped (counted).
  private async insertRows(table: string, rows: string[]): Promise<void> {
    if (rows.length === 0) return;
    const start = performance.now();
    try {
      await insertLines(this.client, table, rows, this.o.insertSettings);
      this.o.onInsert?.(table, rows.length, performance.now() - start);
    } catch (e) {
      if (!isDataError(e)) throw e;
      if (rows.length === 1) {
        this.o.onDrop?.(table, 1, (e as Error).message);
        this.o.log?.('row_dropped', { table, error: (e as Error).message.slice(0, 300) });
        return;
      }
      const half = rows.length >> 1;
      await this.insertRows(table, rows.slice(0, half));
      await this.insertRows(table, rows.slice(half));
    }
  }

  /** Replays spooled batches in order; leaves degraded mode once the spool is empty. */
  async replay(): Promise<void> {
    if (this.replaying || !this.degraded) return;
    this.replaying = true;
    try {
      for (;;) {
        const next = this.o.spool.peek();
        if (!next) break;
        await this.insertTables(JSON.parse(next.payload.toString()) as Tables);
        this.o.spool.remove(next.entry);
        this.replayedBatches++;
      }
      // Batches queued behind the spool keep their order: new writes went to the spool too.
      while (this.inflight.size > 0) await Promise.race(this.inflight);
      if (this.o.spool.length === 0) {
        this.degraded = false;
        this.o.log?.('store_recovered', { replayed_batches: this.replayedBatches });
      }
    } catch {
      /* still unavailable: try again on the next tick */
    } finally {
      this.replaying = false;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.flush();
    clearInterval(this.replayTimer);
    await this.replay();
  }
}
