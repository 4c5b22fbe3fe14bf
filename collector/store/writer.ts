// The ClickHouse writer. Requests hand their rows to `write()`, which resolves only once the rows
// are in ClickHouse or in the fsync'd disk spool: that is when the receiver acknowledges. Rows of
// concurrent requests are coalesced into one insert per table (RowBinary, see rowbinary.ts), flushed
// by size or interval. Failures are classified: a data error splits the batch to isolate and drop
// the bad rows (counted); anything else (connection refused, store closed, timeouts) spools the
// rows not yet inserted, and the spool is replayed in order when ClickHouse answers again. Rows
// already inserted are never sent twice by the writer: the rollups (materialized views) and
// metric_points count every insert, only the raw ReplacingMergeTree tables would collapse a repeat.
import type { ClickHouseClient } from '@clickhouse/client';
import type { LabelRow, PredictionRow } from '../ingest/records.js';
import type { RowBinaryInsert, Store } from './client.js';
import { encodeLabels, encodeMetricPoints, encodePredictions, joinBlocks, rowCount, skipRows, splitRows, TABLES, withEmptyEmbeddings, type Block, type TableName } from './rowbinary.js';
import type { MetricPointRow } from '../ingest/otlp-metrics.js';
import { createHash } from 'node:crypto';
import { basename } from 'node:path';
import type { Spool, SpoolEntry } from './spool.js';

/** Epoch milliseconds as the decimal seconds DateTime64(3) parses exactly. */
export function tsText(ms: number): string {
  return (ms / 1000).toFixed(3);
}

/** What one request hands to the writer. */
export interface WriteBatch {
  predictions?: PredictionRow[];
  /** Predictions already in RowBinary (the receiver's OTLP/protobuf path), instead of `predictions`. */
  encodedPredictions?: Block;
  labels?: LabelRow[];
  metrics?: MetricPointRow[];
}

/** One insert of encoded rows, as the writer sends them (also used directly by tests and benches). */
export async function insertBlocks(store: Pick<Store, 'insertRowBinary'>, table: TableName, blocks: Block[], settings?: Record<string, string | number>): Promise<void> {
  if (rowCount(blocks) === 0) return;
  await store.insertRowBinary(TABLES[table], blocks.map((b) => b.data), settings);
}

export const insertPredictions = (store: Store, rows: PredictionRow[]) => insertBlocks(store, 'predictions', [encodePredictions(rows)]);
export const insertLabels = (store: Store, rows: LabelRow[]) => insertBlocks(store, 'labels', [encodeLabels(rows)]);

/**
 * Settings of every insert the writer makes (the caller's insertSettings are added to them).
 * optimize_on_insert = 0: the engine would otherwise collapse each inserted block by the sorting key
 * before writing it (the raw tables' repeated records, the rollups' states), which the background
 * merges do anyway and every query already allows for (FINAL on raw rows, -Merge and sums on
 * rollups): engine CPU per prediction 6.3-6.7 -> 4.1-4.8 us for 25 000-row inserts (bench/README.md).
 */
export const INSERT_SETTINGS: Readonly<Record<string, string | number>> = { optimize_on_insert: 0 };

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
/** Rows per table. */
type Counts = Record<TableName, number>;
const noRows = (): Counts => ({ predictions: 0, labels: 0, metric_points: 0 });
/** What is left of `t` once the first done[k] rows of each table are stored. */
const rest = (t: Tables, done: Counts): Tables => ({
  predictions: skipRows(t.predictions, done.predictions),
  labels: skipRows(t.labels, done.labels),
  metric_points: skipRows(t.metric_points, done.metric_points),
});
/** Appends the blocks of `from` to those of `into`, table by table (a merged replay's batches, in order). */
const appendTables = (into: Tables, from: Tables): void => {
  for (const k of TABLE_NAMES) for (const block of from[k]) into[k].push(block);
};
interface Waiter { resolve(): void; reject(e: Error): void }

// A spooled batch: a magic line naming its format, a JSON header line, then its body: per table
// the rows' end offsets (UInt32 LE) and the RowBinary bytes.
// Format 3 (header {"tables": [{table, rows, bytes}...], "sha256": hex of the body}) added the
// checksum. The structural checks below cannot see a damaged byte inside a row: ClickHouse then
// refuses the insert with 32/33 (read after EOF), which it also answers for a body cut in transfer
// (an outage, so retried), and the file would block the spool for good; a damaged number would
// even be stored as is. Cost, measured on Node 20 (AMD EPYC): sha256 of a 16 MB body takes 8 ms
// (22 ms with the CPU's SHA extensions masked; md5 19 ms either way), which makes spoolPayload 10 ms
// instead of 2, beside 9 ms for the file's write+fsync. Synchronous, like that fsync; paid when a
// batch is spooled (during an outage only) and each time a spooled file is read back.
// Format 2 (header: the list of tables alone) added the predictions' `emb` column; a format 1 batch
// (spooled by an older collector) is replayed with an empty `emb` per row.
const SPOOL_MAGIC = 'driftwatch-spool rowbinary 3\n';
const SPOOL_MAGICS = ['driftwatch-spool rowbinary 1\n', 'driftwatch-spool rowbinary 2\n', SPOOL_MAGIC].map((m) => Buffer.from(m));

export function spoolPayload(t: Tables): Buffer {
  const parts: Buffer[] = [];
  const tables: { table: TableName; rows: number; bytes: number }[] = [];
  const sha256 = createHash('sha256');
  for (const k of TABLE_NAMES) {
    if (t[k].length === 0) continue;
    const b = joinBlocks(t[k]);
    tables.push({ table: k, rows: b.ends.length, bytes: b.data.length });
    const ends = Buffer.from(Uint32Array.from(b.ends).buffer);
    sha256.update(ends).update(b.data);
    parts.push(ends, b.data);
  }
  const header = JSON.stringify({ tables, sha256: sha256.digest('hex') });
  return Buffer.concat([Buffer.from(SPOOL_MAGIC + header + '\n'), ...parts]);
}

/** A spool file that cannot be what the writer wrote (truncated, bad magic, bad header, bad checksum). */
export class CorruptSpoolFile extends Error {}

/** A spool file's read failed with an I/O error (too many open files, EIO...), not for its content. */
const readFailedForNow = (e: unknown): boolean => {
  const err = e as NodeJS.ErrnoException | undefined;
  return !(e instanceof CorruptSpoolFile) && typeof err?.syscall === 'string' && err.code !== 'ENOENT';
};

/**
 * The tables of a spooled batch; `legacy` for a batch spooled by 0.1.0 (JSONEachRow lines). Throws
 * CorruptSpoolFile unless the file is whole: the header must account for every byte, each table's
 * row ends must be increasing and end at its bytes, and (format 3) the body must match its checksum.
 */
export function readSpoolPayload(payload: Buffer): { tables: Tables } | { legacy: Record<string, string[]> } {
  const format = 1 + SPOOL_MAGICS.findIndex((m) => payload.subarray(0, m.length).equals(m));
  if (format === 0) return { legacy: readLegacy(payload) };
  const corrupt = (why: string) => new CorruptSpoolFile(`corrupt spool file: ${why}`);
  const nl = payload.indexOf(10, SPOOL_MAGIC.length);
  if (nl < 0) throw corrupt('no header line');
  let header: unknown;
  try {
    header = JSON.parse(payload.subarray(SPOOL_MAGIC.length, nl).toString());
  } catch (e) {
    throw corrupt(`header: ${(e as Error).message}`);
  }
  let sum: unknown;
  if (format >= 3) {
    if (typeof header !== 'object' || header === null) throw corrupt('header is not an object');
    sum = (header as { sha256?: unknown }).sha256;
    if (typeof sum !== 'string' || !/^[0-9a-f]{64}$/.test(sum)) throw corrupt('header has no sha256');
    header = (header as { tables?: unknown }).tables;
  }
  const count = (v: unknown) => Number.isSafeInteger(v) && (v as number) >= 0;
  if (!Array.isArray(header)) throw corrupt('header is not a list');
  const tables = emptyTables();
  const seen = new Set<string>();
  let at = nl + 1;
  for (const h of header as { table: unknown; rows: unknown; bytes: unknown }[]) {
    if (typeof h !== 'object' || h === null || typeof h.table !== 'string' || !Object.hasOwn(TABLES, h.table) || seen.has(h.table)) {
      throw corrupt(`header names no known table: ${JSON.stringify(h)?.slice(0, 100)}`);
    }
    if (!count(h.rows) || !count(h.bytes)) throw corrupt(`bad row or byte count for ${h.table}`);
    const table = h.table as TableName;
    const rows = h.rows as number;
    const bytes = h.bytes as number;
    seen.add(table);
    if (at + 4 * rows + bytes > payload.length) throw corrupt(`truncated: ${payload.length} bytes, the header needs more (${table})`);
    const ends = new Array<number>(rows);
    for (let i = 0, prev = 0; i < rows; i++) {
      const e = payload.readUInt32LE(at + 4 * i);
      if (e <= prev || e > bytes) throw corrupt(`row ends of ${table} out of order`);
      ends[i] = prev = e;
    }
    if ((rows === 0 ? 0 : ends[rows - 1]) !== bytes) throw corrupt(`row ends of ${table} do not reach its bytes`);
    at += 4 * rows;
    const block = { data: payload.subarray(at, at + bytes), ends };
    if (rows > 0) tables[table] = [format === 1 && table === 'predictions' ? withEmptyEmbeddings(block) : block];
    at += bytes;
  }
  if (at !== payload.length) throw corrupt(`${payload.length - at} bytes beyond what the header names`);
  if (sum !== undefined && createHash('sha256').update(payload.subarray(nl + 1)).digest('hex') !== sum) {
    throw corrupt('the body does not match its sha256 (damaged on disk)');
  }
  return { tables };
}

function readLegacy(payload: Buffer): Record<string, string[]> {
  // A newer collector's format is not corrupt, but this one cannot replay it either.
  if (payload.subarray(0, 17).toString('latin1') === 'driftwatch-spool ') {
    throw new CorruptSpoolFile(`unknown spool format: ${JSON.stringify(payload.subarray(0, 40).toString('latin1').split('\n')[0])}`);
  }
  let v: unknown;
  try {
    v = JSON.parse(payload.toString());
  } catch (e) {
    throw new CorruptSpoolFile(`corrupt spool file: neither a batch nor JSON (${(e as Error).message})`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new CorruptSpoolFile('corrupt spool file: JSON, but not a batch');
  for (const [k, lines] of Object.entries(v)) {
    if (!Object.hasOwn(TABLES, k) || !Array.isArray(lines) || lines.some((l) => typeof l !== 'string')) {
      throw new CorruptSpoolFile(`corrupt spool file: JSON, but not a batch (${k.slice(0, 40)})`);
    }
  }
  return v as Record<string, string[]>;
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

type SpoolBatch = ReturnType<typeof readSpoolPayload>;
const countRows = (b: SpoolBatch, k: TableName): number => ('tables' in b ? rowCount(b.tables[k]) : (b.legacy[k]?.length ?? 0));

/** A merged replay: its spool files (the oldest), their rows and the rows stored so far, per table. */
interface ReplayGroup { entries: SpoolEntry[]; rows: Counts; done: Counts; stamps?: string[] }

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
  private replayError = '';
  private replayErrorAt = 0;
  private probing = false;
  private lastOk = performance.now();
  private probeTimer: NodeJS.Timeout;
  private closed = false;
  /** The merged replay in progress (see replay()). */
  private group: ReplayGroup | undefined;
  /** True while ClickHouse is failing and batches go to the spool. */
  degraded = false;
  spooledBatches = 0;
  replayedBatches = 0;
  /** Rows inserted into ClickHouse since start, per table (live and replayed). */
  readonly storedRows: Counts = noRows();

  constructor(private store: WriterStore, private readonly o: WriterOptions) {
    this.group = this.recoverProgress();
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
    if (batch.predictions?.length && batch.encodedPredictions) return Promise.reject(new Error('a batch has its predictions as rows or encoded, not both'));
    const rows = (batch.predictions?.length ?? 0) + (batch.encodedPredictions?.ends.length ?? 0) + (batch.labels?.length ?? 0) + (batch.metrics?.length ?? 0);
    if (rows === 0) return Promise.resolve();
    if (this.closed) return Promise.reject(new Backpressure('collector is shutting down'));
    if (this.queued + rows > (this.o.maxQueueRows ?? 200_000)) {
      return Promise.reject(new Backpressure('ingest queue is full'));
    }
    // Encoded now, so a spooled batch is stored exactly as it would have been inserted. The queue
    // is bounded in bytes too: rows with large embeddings weigh far more than a row count says.
    const p1 = batch.predictions?.length ? encodePredictions(batch.predictions) : batch.encodedPredictions?.ends.length ? batch.encodedPredictions : undefined;
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
      const done = noRows();
      try {
        await this.insertTables(t, done);
        return;
      } catch (e) {
        this.degraded = true;
        this.o.log?.('store_unavailable', { error: (e as Error).message, action: 'spooling' });
        // Tables (or halves of a split table) already inserted stay out of the spool: replayed,
        // they would be inserted twice.
        t = rest(t, done);
        if (TABLE_NAMES.every((k) => t[k].length === 0)) return;
      }
    }
    if (!this.o.spool.append(spoolPayload(t))) throw new Backpressure('ClickHouse is unavailable and the spool is full');
    this.spooledBatches++;
  }

  /**
   * Inserts what is left of `t` after done[k] rows of each table, counting into `done` the rows
   * stored or dropped as it goes (always a prefix of each table: tables and split halves go in
   * order), and calling `saved` after each step. When the store fails, `done` says what to retry.
   */
  private async insertTables(t: Tables, done: Counts, saved?: () => void, token?: string): Promise<void> {
    for (const k of TABLE_NAMES) await this.insertRows(k, skipRows(t[k], done[k]), done, saved, token);
  }

  // Data errors split the rows in halves until the bad ones are isolated and dropped (counted).
  // With a token (a replay), each insert carries one that names its rows: the group, the table, the
  // offset and the count, the same in a process that resumes the group from its progress note, so
  // ClickHouse drops an insert it already committed (raw table and rollups; see migration 10). Sync,
  // as async inserts do not deduplicate by token.
  private async insertRows(table: TableName, blocks: Block[], done: Counts, saved?: () => void, token?: string): Promise<void> {
    const rows = rowCount(blocks);
    if (rows === 0) return;
    const start = performance.now();
    const settings = token === undefined
      ? { ...INSERT_SETTINGS, ...this.o.insertSettings }
      : { ...INSERT_SETTINGS, ...this.o.insertSettings, ...(this.o.insertSettings?.async_insert ? { async_insert: 0 } : {}), insert_deduplication_token: `${token}:${table}:${done[table]}:${rows}` };
    try {
      await insertBlocks(this.store, table, blocks, settings);
    } catch (e) {
      if (!isDataError(e)) throw e;
      if (rows === 1) {
        done[table] += 1;
        saved?.();
        this.o.onDrop?.(table, 1, (e as Error).message);
        this.o.log?.('row_dropped', { table, error: (e as Error).message.slice(0, 300) });
        return;
      }
      const [first, second] = splitRows(blocks);
      await this.insertRows(table, first, done, saved, token);
      await this.insertRows(table, second, done, saved, token);
      return;
    }
    // Counted before anything else can throw: these rows are in ClickHouse.
    done[table] += rows;
    this.storedRows[table] += rows;
    this.lastOk = performance.now();
    saved?.();
    this.o.onInsert?.(table, rows, performance.now() - start);
  }

  /**
   * Replays spooled batches in order; leaves degraded mode once the spool is empty and the store
   * answers. Consecutive batches go in one insert per table (up to maxBatchRows rows or 16 MB): one
   * insert per spooled request made recovery time grow with the number of requests, not rows.
   *
   * Such a group is retried as it was (same files) and only where it is not done: the rows stored
   * so far are counted per table and skipped on the next attempt. That count is also kept on disk
   * (the spool's progress note, fsync'd before the first insert and after each, and removed with the group's files), so
   * a collector killed mid-group resumes where it was. A process that dies between an insert's
   * success and the note's fsync repeats that insert, with the same deduplication token (see
   * insertRows), so ClickHouse drops it. What remains: a live insert whose answer was lost (a
   * timeout after ClickHouse committed it) is replayed under another token and counted twice by
   * the rollups and metric_points (the raw tables collapse it).
   */
  async replay(): Promise<void> {
    if (this.replaying || !this.degraded) return;
    this.replaying = true;
    try {
      // Nothing is read from the spool (a merged replay holds up to 16 MB) until the store answers.
      if (!(await this.store.client.ping()).success) return;
      for (;;) {
        const before = this.group;
        const open = this.openGroup();
        if (!open) break;
        const { group: g, batch } = open;
        // A new group's files are noted before its first insert: a process killed right after that
        // insert then resumes the very same group (its token names them), where rebuilding it from
        // the spool could take in files spooled since, under another token.
        if (g !== before) this.saveProgress(g);
        this.group = g;
        const saved = () => this.saveProgress(g);
        if ('legacy' in batch) {
          for (const k of TABLE_NAMES) {
            const lines = batch.legacy[k] ?? [];
            if (lines.length === 0 || g.done[k] >= lines.length) continue;
            await this.store.client.command({ query: `INSERT INTO ${TABLES[k].name} FORMAT JSONEachRow\n${lines.join('\n')}` });
            g.done[k] = lines.length;
            saved();
          }
        } else {
          await this.insertTables(batch.tables, g.done, saved, this.groupToken(g));
        }
        for (const e of g.entries) this.o.spool.remove(e);
        this.group = undefined;
        this.clearProgress();
        this.replayedBatches += g.entries.length;
      }
      // Batches queued behind the spool keep their order: new writes went to the spool too.
      while (this.inflight.size > 0) await Promise.race(this.inflight);
      if (this.o.spool.length === 0) {
        this.degraded = false;
        this.lastOk = performance.now();
        this.replayError = '';
        this.o.log?.('store_recovered', { replayed_batches: this.replayedBatches });
      }
    } catch (e) {
      // Tried again on the next tick. Said once per distinct reason (and once a minute while it
      // lasts), so a replay stuck on one cause (a file that cannot be moved, a refused insert) shows.
      const error = (e as Error).message.slice(0, 300);
      // The embedded engine names a new staging file in each error: the same reason otherwise.
      const reason = error.replace(/\S*\.rowbinary\b/g, '<staged rows>');
      const now = performance.now();
      if (reason !== this.replayError || now - this.replayErrorAt >= 60_000) {
        this.replayError = reason;
        this.replayErrorAt = now;
        this.o.log?.('replay_failed', { error, spooled_files: this.o.spool.length });
      }
    } finally {
      this.replaying = false;
    }
  }

  /**
   * The group to replay next with its rows: the one begun earlier (same files, its progress), or a
   * new one from the oldest files. A file that cannot be read back is moved to the spool's
   * corrupt/ folder (retrying it would block everything behind it for good) and the next one taken.
   */
  private openGroup(): { group: ReplayGroup; batch: SpoolBatch } | undefined {
    const spool = this.o.spool;
    const g = this.group;
    if (g) {
      try {
        if (!g.entries.every((e, i) => spool.at(i) === e)) throw new Error('the spool no longer starts with its files');
        const batch = this.readGroup(g.entries);
        if (TABLE_NAMES.some((k) => countRows(batch, k) !== g.rows[k])) throw new Error('its files hold other rows than when it began');
        return { group: g, batch };
      } catch (e) {
        // A read that failed for now (EMFILE, EIO...): the group and its progress stay, tried again.
        if (readFailedForNow(e)) throw e;
        // Only if a file of the group became unreadable since: replayed whole, its stored rows
        // would be inserted twice, but nothing is lost.
        this.o.log?.('spool_progress_discarded', { files: g.entries.length, done: g.done, reason: (e as Error).message });
        this.group = undefined;
        this.clearProgress();
      }
    }
    for (;;) {
      const first = spool.at(0);
      if (!first) return undefined;
      let batch: SpoolBatch;
      try {
        batch = readSpoolPayload(spool.read(first));
      } catch (e) {
        // Only a file that is not what the writer wrote (or is gone) is set aside: a read that
        // failed for now is retried on the next tick, not moved out of the replay for good.
        if (readFailedForNow(e)) throw e;
        const to = spool.moveToCorrupt(first);
        this.o.log?.('spool_corrupt', { file: first.file, bytes: first.bytes, moved_to: to ?? null, error: (e as Error).message.slice(0, 300) });
        continue;
      }
      const entries = [first];
      if ('tables' in batch) {
        const merged = batch.tables;
        let rows = TABLE_NAMES.reduce((n, k) => n + rowCount(merged[k]), 0);
        let bytes = first.bytes;
        for (let i = 1; rows < (this.o.maxBatchRows ?? 50_000) && bytes < 16 * 1024 * 1024; i++) {
          const next = spool.at(i);
          if (!next) break;
          let b: SpoolBatch;
          try {
            b = readSpoolPayload(spool.read(next));
          } catch {
            break; // moved aside once it is the oldest
          }
          if (!('tables' in b)) break;
          appendTables(merged, b.tables);
          entries.push(next);
          rows += TABLE_NAMES.reduce((n, k) => n + rowCount(b.tables[k]), 0);
          bytes += next.bytes;
        }
      }
      const rows = noRows();
      for (const k of TABLE_NAMES) rows[k] = countRows(batch, k);
      return { group: { entries, rows, done: noRows() }, batch };
    }
  }

  private readGroup(entries: SpoolEntry[]): SpoolBatch {
    const batches = entries.map((e) => readSpoolPayload(this.o.spool.read(e)));
    if (batches.length === 1) return batches[0];
    const merged = emptyTables();
    for (const b of batches) {
      if (!('tables' in b)) throw new Error('a 0.1.0 batch in a merged group');
      appendTables(merged, b.tables);
    }
    return { tables: merged };
  }

  /** The group's files: name and identity (inode, size, mtime), taken once. */
  private groupFiles(g: ReplayGroup): { name: string; stamp: string }[] {
    g.stamps ??= g.entries.map((e) => this.o.spool.stamp(e));
    return g.entries.map((e, i) => ({ name: basename(e.file), stamp: g.stamps![i] }));
  }

  /** The group's identity for deduplication: its files, as its progress note names them. */
  private groupToken(g: ReplayGroup): string {
    return `dw-replay-${createHash('sha256').update(JSON.stringify(this.groupFiles(g))).digest('hex').slice(0, 32)}`;
  }

  // The progress note: the group's files, its rows and the rows done, per table.
  private saveProgress(g: ReplayGroup): void {
    try {
      this.o.spool.saveProgress(JSON.stringify({ v: 1, files: this.groupFiles(g), rows: g.rows, done: g.done }));
    } catch (e) {
      // Not worth stopping the replay for: without the note only a crash now would repeat rows.
      this.o.log?.('spool_progress_unsaved', { error: (e as Error).message });
    }
  }

  private clearProgress(): void {
    try {
      this.o.spool.clearProgress();
    } catch (e) {
      this.o.log?.('spool_progress_unsaved', { error: (e as Error).message });
    }
  }

  /**
   * At start: the progress note a previous process left. A group it finished but had not removed
   * yet loses its remaining files now; a group it began resumes if the spool still starts with the
   * very same files (name and identity). Anything else is stale (its files are gone, or newer ones
   * took their names) and is dropped: dropping a note can only make stored rows go in again, while
   * honouring a wrong one would skip rows never stored.
   */
  private recoverProgress(): ReplayGroup | undefined {
    const spool = this.o.spool;
    let note: { files: { name: string; stamp: string }[]; rows: Counts; done: Counts };
    try {
      const text = spool.loadProgress();
      if (text === undefined) return undefined;
      note = JSON.parse(text) as typeof note;
      const counts = (c: unknown) => typeof c === 'object' && c !== null && TABLE_NAMES.every((k) => Number.isSafeInteger((c as Counts)[k]));
      if (!Array.isArray(note.files) || note.files.length === 0 || !counts(note.rows) || !counts(note.done)) throw new Error('not a progress note');
    } catch (e) {
      this.o.log?.('spool_progress_discarded', { reason: (e as Error).message });
      this.clearProgress();
      return undefined;
    }
    const same = (e: SpoolEntry | undefined, f: { name: string; stamp: string }) => {
      try {
        return e !== undefined && basename(e.file) === f.name && spool.stamp(e) === f.stamp;
      } catch {
        return false;
      }
    };
    if (TABLE_NAMES.every((k) => note.done[k] >= note.rows[k])) {
      // Stored in full; the files left are the group's last ones, at the head of the spool.
      const from = note.files.findIndex((f) => same(spool.at(0), f));
      if (from >= 0) {
        const left = note.files.slice(from);
        if (left.every((f, i) => same(spool.at(i), f))) {
          const entries = left.map((_, i) => spool.at(i)!);
          for (const e of entries) spool.remove(e);
          this.replayedBatches += entries.length;
          this.o.log?.('spool_progress_resumed', { files: entries.length, action: 'removed stored files' });
        }
      }
      this.clearProgress();
      return undefined;
    }
    if (note.files.every((f, i) => same(spool.at(i), f))) {
      const entries = note.files.map((_, i) => spool.at(i)!);
      this.o.log?.('spool_progress_resumed', { files: entries.length, done: note.done });
      return { entries, rows: note.rows, done: note.done, stamps: note.files.map((f) => f.stamp) };
    }
    this.o.log?.('spool_progress_discarded', { reason: 'the spool does not start with its files' });
    this.clearProgress();
    return undefined;
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
