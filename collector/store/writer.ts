// The ClickHouse writer. Requests hand their rows to `write()`, which resolves only once the rows
// are in ClickHouse or in the fsync'd disk spool: that is when the receiver acknowledges. Rows of
// concurrent requests are coalesced into one insert per table (RowBinary, see rowbinary.ts), flushed
// by size or interval. Failures are classified: a data error splits the batch to isolate and drop
// the bad rows (counted); anything else (connection refused, store closed, timeouts) spools the
// batch, and the spool is replayed in order when ClickHouse answers again.
import type { ClickHouseClient } from '@clickhouse/client';
import type { LabelRow, PredictionRow } from '../ingest/records.js';
import type { RowBinaryInsert, Store } from './client.js';
import { encodeLabels, encodeMetricPoints, encodePredictions, joinBlocks, rowCount, splitRows, TABLES, withEmptyEmbeddings, type Block, type TableName } from './rowbinary.js';
import type { MetricPointRow } from '../ingest/otlp-metrics.js';
import type { Spool } from './spool.js';

/** Epoch milliseconds as the decimal seconds DateTime64(3) parses exactly. */
export function tsText(ms: number): string {
  return (ms / 1000).toFixed(3);
}

/** What one request hands to the writer. */
export interface WriteBatch { predictions?: PredictionRow[]; labels?: LabelRow[]; metrics?: MetricPointRow[] }

/** One insert of encoded rows, as the writer sends them (also used directly by tests and benches). */
export async function insertBlocks(store: Pick<Store, 'insertRowBinary'>, table: TableName, blocks: Block[], settings?: Record<string, string | number>): Promise<void> {
  if (rowCount(blocks) === 0) return;
  await store.insertRowBinary(TABLES[table], blocks.map((b) => b.data), settings);
}

export const insertPredictions = (store: Store, rows: PredictionRow[]) => insertBlocks(store, 'predictions', [encodePredictions(rows)]);
export const insertLabels = (store: Store, rows: LabelRow[]) => insertBlocks(store, 'labels', [encodeLabels(rows)]);

/** Thrown by write() when the writer cannot take more (queue and spool full): answer 503 + Retry-After. */
export class Backpressure extends Error {}

// ClickHouse error codes that mean "this data is bad", not "the store is unavailable".
const DATA_ERRORS = new Set([6, 26, 27, 38, 41, 53, 69, 70, 72, 117, 130, 131, 241]);

function isDataError(e: unknown): boolean {
  const code = Number((e as { code?: unknown }).code);
  return Number.isInteger(code) && DATA_ERRORS.has(code);
}

/** Encoded rows per table. */
type Tables = Record<TableName, Block[]>;
const TABLE_NAMES = Object.keys(TABLES) as TableName[];
const emptyTables = (): Tables => ({ predictions: [], labels: [], metric_points: [] });
interface Waiter { resolve(): void; reject(e: Error): void }

// A spooled batch: this magic line, a JSON header line naming each table's rows and bytes, then per
// table the rows' end offsets (UInt32 LE) and the RowBinary bytes.
// Format 2 added the predictions' `emb` column; a format 1 batch (spooled by an older collector)
// is replayed with an empty `emb` per row.
const SPOOL_MAGIC = 'driftwatch-spool rowbinary 2\n';
const SPOOL_MAGIC_1 = 'driftwatch-spool rowbinary 1\n';

export function spoolPayload(t: Tables): Buffer {
  const parts: Buffer[] = [];
  const header: { table: TableName; rows: number; bytes: number }[] = [];
  for (const k of TABLE_NAMES) {
    if (t[k].length === 0) continue;
    const b = joinBlocks(t[k]);
    header.push({ table: k, rows: b.ends.length, bytes: b.data.length });
    parts.push(Buffer.from(Uint32Array.from(b.ends).buffer), b.data);
  }
  return Buffer.concat([Buffer.from(SPOOL_MAGIC + JSON.stringify(header) + '\n'), ...parts]);
}

/** The tables of a spooled batch; `legacy` for a batch spooled by 0.1.0 (JSONEachRow lines). */
export function readSpoolPayload(payload: Buffer): { tables: Tables } | { legacy: Record<string, string[]> } {
  const v1 = payload.subarray(0, SPOOL_MAGIC_1.length).equals(Buffer.from(SPOOL_MAGIC_1));
  if (!v1 && !payload.subarray(0, SPOOL_MAGIC.length).equals(Buffer.from(SPOOL_MAGIC))) {
    return { legacy: JSON.parse(payload.toString()) as Record<string, string[]> };
  }
  const nl = payload.indexOf(10, SPOOL_MAGIC.length);
  const header = JSON.parse(payload.subarray(SPOOL_MAGIC.length, nl).toString()) as { table: TableName; rows: number; bytes: number }[];
  const tables = emptyTables();
  let at = nl + 1;
  for (const h of header) {
    const ends = Array.from({ length: h.rows }, (_, i) => payload.readUInt32LE(at + 4 * i));
    at += 4 * h.rows;
    const block = { data: payload.subarray(at, at + h.bytes), ends };
    tables[h.table] = [v1 && h.table === 'predictions' ? withEmptyEmbeddings(block) : block];
    at += h.bytes;
  }
  return { tables };
}

export interface WriterOptions {
  spool: Spool;
  /** Rows buffered in memory before write() refuses (backpressure). */
  maxQueueRows?: number;
  /** Encoded bytes buffered in memory before write() refuses (default 256 MB). */
  maxQueueBytes?: number;
  /** Rows per insert. */
  maxBatchRows?: number;
  /** How long the first row of a batch may wait for company. */
  flushIntervalMs?: number;
  /** Settings sent with every insert (on a server: async inserts, waited for before the ack). */
  insertSettings?: Record<string, string | number>;
  /**
   * Inserts in flight at once while ClickHouse is healthy (default 3). The embedded engine runs one
   * statement at a time, so there 1 is right: rows queue up meanwhile and go in one larger insert.
   */
  maxInFlight?: number;
  /** How often the spool is retried while ClickHouse is unavailable. */
  replayIntervalMs?: number;
  /** After this long without a successful insert, the store is pinged (default 5000 ms). */
  probeIntervalMs?: number;
  log?: (event: string, fields: Record<string, unknown>) => void;
  onInsert?: (table: string, rows: number, ms: number) => void;
  onDrop?: (table: string, rows: number, reason: string) => void;
}

/** The writer's view of the store: where rows go, and the client for a 0.1.0 spool's replay. */
export type WriterStore = { insertRowBinary: RowBinaryInsert; client: ClickHouseClient };

export class Writer {
  private queue: Tables = emptyTables();
  private queued = 0;
  private queuedBytes = 0;
  private waiters: Waiter[] = [];
  private timer: NodeJS.Timeout | undefined;
  private inflight = new Set<Promise<void>>();
  private replayTimer: NodeJS.Timeout;
  private replaying = false;
  private probing = false;
  private lastOk = performance.now();
  private probeTimer: NodeJS.Timeout;
  private closed = false;
  /** True while ClickHouse is failing and batches go to the spool. */
  degraded = false;
  spooledBatches = 0;
  replayedBatches = 0;

  constructor(private store: WriterStore, private readonly o: WriterOptions) {
    this.degraded = o.spool.length > 0;
    this.replayTimer = setInterval(() => void this.replay(), o.replayIntervalMs ?? 1000);
    this.replayTimer.unref();
    const probeMs = o.probeIntervalMs ?? 5000;
    this.probeTimer = setInterval(() => void this.probe(), Math.max(100, probeMs / 2));
    this.probeTimer.unref();
  }

  /** Replaces the store (after a reconnect); the spool replays through the new one. */
  setStore(store: WriterStore): void {
    this.store = store;
  }

  get queuedRows(): number {
    return this.queued;
  }

  write(batch: WriteBatch): Promise<void> {
    const rows = (batch.predictions?.length ?? 0) + (batch.labels?.length ?? 0) + (batch.metrics?.length ?? 0);
    if (rows === 0) return Promise.resolve();
    if (this.closed) return Promise.reject(new Backpressure('collector is shutting down'));
    if (this.queued + rows > (this.o.maxQueueRows ?? 200_000)) {
      return Promise.reject(new Backpressure('ingest queue is full'));
    }
    // Encoded now, so a spooled batch is stored exactly as it would have been inserted. The queue
    // is bounded in bytes too: rows with large embeddings weigh far more than a row count says.
    const p1 = batch.predictions?.length ? encodePredictions(batch.predictions) : undefined;
    const l1 = batch.labels?.length ? encodeLabels(batch.labels) : undefined;
    const m1 = batch.metrics?.length ? encodeMetricPoints(batch.metrics) : undefined;
    const bytes = (p1?.data.length ?? 0) + (l1?.data.length ?? 0) + (m1?.data.length ?? 0);
    if (this.queuedBytes + bytes > (this.o.maxQueueBytes ?? 256 * 1024 * 1024)) {
      return Promise.reject(new Backpressure('ingest queue is full'));
    }
    if (this.degraded && !this.o.spool.hasRoomFor(this.queuedBytes + bytes)) {
      return Promise.reject(new Backpressure('ClickHouse is unavailable and the spool is full'));
    }
    if (p1) this.queue.predictions.push(p1);
    if (l1) this.queue.labels.push(l1);
    if (m1) this.queue.metric_points.push(m1);
    this.queuedBytes += bytes;
    this.queued += rows;
    const p = new Promise<void>((resolve, reject) => this.waiters.push({ resolve, reject }));
    if (this.queued >= (this.o.maxBatchRows ?? 50_000)) void this.flush();
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
    while (this.inflight.size > 0 || this.queued > 0) {
      await Promise.race(this.inflight);
      this.pump();
    }
  }

  // While ClickHouse is healthy several inserts may be in flight (each takes whatever queued up
  // meanwhile, so batches grow with load); while degraded, one at a time keeps the spool in order.
  private pump(): void {
    const max = this.degraded ? 1 : (this.o.maxInFlight ?? 3);
    while (this.queued > 0 && this.inflight.size < max) {
      const tables = this.queue;
      const waiters = this.waiters;
      this.queue = emptyTables();
      this.queued = 0;
      this.queuedBytes = 0;
      this.waiters = [];
      const p: Promise<void> = this.storeTables(tables)
        .then(
          () => waiters.forEach((w) => w.resolve()),
          (e: Error) => waiters.forEach((w) => w.reject(e)),
        )
        .finally(() => {
          this.inflight.delete(p);
          if (this.queued > 0 && !this.timer) this.pump();
        });
      this.inflight.add(p);
    }
  }

  private async storeTables(t: Tables): Promise<void> {
    if (!this.degraded) {
      try {
        await this.insertTables(t);
        return;
      } catch (e) {
        this.degraded = true;
        this.o.log?.('store_unavailable', { error: (e as Error).message, action: 'spooling' });
      }
    }
    if (!this.o.spool.append(spoolPayload(t))) throw new Backpressure('ClickHouse is unavailable and the spool is full');
    this.spooledBatches++;
  }

  private async insertTables(t: Tables): Promise<void> {
    for (const k of TABLE_NAMES) await this.insertRows(k, t[k]);
  }

  // Data errors split the rows in halves until the bad ones are isolated and dropped (counted).
  private async insertRows(table: TableName, blocks: Block[]): Promise<void> {
    const rows = rowCount(blocks);
    if (rows === 0) return;
    const start = performance.now();
    try {
      await insertBlocks(this.store, table, blocks, this.o.insertSettings);
      this.lastOk = performance.now();
      this.o.onInsert?.(table, rows, performance.now() - start);
    } catch (e) {
      if (!isDataError(e)) throw e;
      if (rows === 1) {
        this.o.onDrop?.(table, 1, (e as Error).message);
        this.o.log?.('row_dropped', { table, error: (e as Error).message.slice(0, 300) });
        return;
      }
      const [first, second] = splitRows(blocks);
      await this.insertRows(table, first);
      await this.insertRows(table, second);
    }
  }

  /**
   * Replays spooled batches in order; leaves degraded mode once the spool is empty and the store
   * answers. Consecutive batches go in one insert per table (up to maxBatchRows rows or 16 MB): one
   * insert per spooled request made recovery time grow with the number of requests, not rows.
   */
  async replay(): Promise<void> {
    if (this.replaying || !this.degraded) return;
    this.replaying = true;
    try {
      // Nothing is read from the spool (a merged replay holds up to 16 MB) until the store answers.
      if (!(await this.store.client.ping()).success) return;
      for (;;) {
        const first = this.o.spool.peek();
        if (!first) break;
        const batch = readSpoolPayload(first.payload);
        if (!('tables' in batch)) {
          for (const [table, lines] of Object.entries(batch.legacy)) {
            if (lines.length > 0) await this.store.client.command({ query: `INSERT INTO ${TABLES[table as TableName].name} FORMAT JSONEachRow\n${lines.join('\n')}` });
          }
          this.o.spool.remove(first.entry);
          this.replayedBatches++;
          continue;
        }
        const merged = batch.tables;
        const entries = [first.entry];
        let rows = TABLE_NAMES.reduce((n, k) => n + rowCount(merged[k]), 0);
        let bytes = first.payload.length;
        for (let i = 1; rows < (this.o.maxBatchRows ?? 50_000) && bytes < 16 * 1024 * 1024; i++) {
          const next = this.o.spool.peek(i);
          if (!next) break;
          const b = readSpoolPayload(next.payload);
          if (!('tables' in b)) break;
          for (const k of TABLE_NAMES) for (const block of b.tables[k]) merged[k].push(block);
          entries.push(next.entry);
          rows += TABLE_NAMES.reduce((n, k) => n + rowCount(b.tables[k]), 0);
          bytes += next.payload.length;
        }
        await this.insertTables(merged);
        for (const e of entries) this.o.spool.remove(e);
        this.replayedBatches += entries.length;
      }
      // Batches queued behind the spool keep their order: new writes went to the spool too.
      while (this.inflight.size > 0) await Promise.race(this.inflight);
      if (this.o.spool.length === 0) {
        this.degraded = false;
        this.lastOk = performance.now();
        this.o.log?.('store_recovered', { replayed_batches: this.replayedBatches });
      }
    } catch {
      /* still unavailable: try again on the next tick */
    } finally {
      this.replaying = false;
    }
  }

  /**
   * While nothing is being written, asks the store whether it is there (so /readyz and
   * driftwatch_store_up notice an outage before the next request does); a failed ping degrades
   * the writer as a failed insert would.
   */
  async probe(): Promise<void> {
    if (this.degraded || this.closed || this.probing || this.inflight.size > 0) return;
    if (performance.now() - this.lastOk < (this.o.probeIntervalMs ?? 5000)) return;
    this.probing = true;
    try {
      const r = await this.store.client.ping();
      if (r.success) this.lastOk = performance.now();
      else if (!this.degraded) {
        this.degraded = true;
        this.o.log?.('store_unavailable', { error: r.error.message, action: 'probe' });
      }
    } finally {
      this.probing = false;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.flush();
    clearInterval(this.replayTimer);
    clearInterval(this.probeTimer);
    await this.replay();
  }
}
