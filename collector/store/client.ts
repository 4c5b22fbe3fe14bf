// One ClickHouse client API for both stores: a server when CLICKHOUSE_URL is set, otherwise the
// embedded engine (chDB) persisted in a data directory. Everything above this file is identical.
import { createClient, type ClickHouseClient } from '@clickhouse/client';
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, writevSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import type { TableSpec } from './rowbinary.js';
import { literal } from './sql.js';

export interface StoreOptions {
  /** ClickHouse server URL (e.g. http://user:pass@host:8123/db); unset means embedded. */
  url?: string;
  /** Data directory for the embedded engine. */
  dataDir: string;
}

/** Inserts RowBinary rows (see rowbinary.ts) into a table. */
export type RowBinaryInsert = (table: TableSpec, data: Buffer[], settings?: Record<string, string | number>) => Promise<void>;

export interface Store {
  client: ClickHouseClient;
  kind: 'server' | 'embedded';
  insertRowBinary: RowBinaryInsert;
  /**
   * The embedded engine only: a query's result in Native format, streamed as it is computed, in
   * chunks of whole blocks (see native.ts). The caller consumes it before its next query.
   */
  streamNative?: (query: string) => AsyncIterable<Uint8Array>;
  close(): Promise<void>;
}


export async function openStore(opts: StoreOptions): Promise<Store> {
  if (opts.url) {
    const client = createClient({
      url: opts.url,
      clickhouse_settings: { date_time_input_format: 'best_effort' },
    });
    // The rows are the HTTP body of `INSERT ... FORMAT RowBinary`.
    const insertRowBinary: RowBinaryInsert = async (table, data, settings) => {
      const r = await client.exec({
        query: `INSERT INTO ${table.name} (${table.columns.map((c) => c[0]).join(', ')}) FORMAT RowBinary`,
        values: Readable.from(data),
        clickhouse_settings: settings,
      });
      r.stream.resume();
    };
    return { client, kind: 'server', insertRowBinary, close: () => client.close() };
  }
  const dir = resolve(opts.dataDir);
  mkdirSync(dir, { recursive: true });
  // Loaded lazily: a server deployment never pays for the embedded engine's 500 MB library.
  const { createChdbConnection } = await import('chdb/connection');
  const connection = createChdbConnection({ path: dir });
  const client = createClient({ connection } as Parameters<typeof createClient>[0]);
  const streamNative = async function* (query: string): AsyncIterable<Uint8Array> {
    for await (const chunk of connection.chdb.queryStream(query, { format: 'Native' })) yield chunk.raw();
  };
  // The embedded engine takes a statement as text, which cannot carry binary rows: they are written
  // to a staging file the engine reads with file() (page cache; deleted once inserted).
  // file() reads its path as a glob: a data directory whose path has glob characters stages its
  // rows in a private temporary directory instead.
  const globby = (p: string) => /[*?{}[\]]/.test(p);
  let staging = join(dir, 'staging');
  const temporary = globby(staging);
  if (temporary) staging = mkdtempSync(join(tmpdir(), 'driftwatch-staging-'));
  if (globby(staging)) throw new Error(`no staging directory without glob characters (*?{}[]) for the embedded engine: ${staging}`);
  rmSync(staging, { recursive: true, force: true }); // leftovers of a crash were never acknowledged
  mkdirSync(staging, { recursive: true });
  let seq = 0;
  const insertRowBinary: RowBinaryInsert = async (table, data, settings) => {
    const file = join(staging, `${process.pid}-${seq++}.rowbinary`);
    const fd = openSync(file, 'w');
    try {
      writevSync(fd, data);
    } finally {
      closeSync(fd);
    }
    try {
      const structure = table.columns.map(([name, type]) => `${name} ${type}`).join(', ');
      await client.command({
        query: `INSERT INTO ${table.name} (${table.columns.map((c) => c[0]).join(', ')}) SELECT * FROM file(${literal(file)}, 'RowBinary', ${literal(structure)})${settingsClause(settings)}`,
      });
    } finally {
      rmSync(file, { force: true });
    }
  };
  const close = async () => {
    await client.close();
    if (temporary) rmSync(staging, { recursive: true, force: true });
  };
  return { client, kind: 'embedded', insertRowBinary, streamNative, close };
}

/**
 * ` SETTINGS k = v, ...`: settings of one statement, written into it. The embedded engine's
 * connection turns a query's clickhouse_settings into SET statements, which stay in its session for
 * every later query; a SETTINGS clause holds for its statement only, on either store.
 */
export function settingsClause(settings: Record<string, string | number> | undefined): string {
  const entries = Object.entries(settings ?? {});
  if (entries.length === 0) return '';
  return ` SETTINGS ${entries.map(([k, v]) => {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) throw new Error(`not a setting name: ${JSON.stringify(k)}`);
    return `${k} = ${typeof v === 'number' ? String(v) : literal(v)}`;
  }).join(', ')}`;
}

/** Run a SELECT and return its rows as objects. */
export async function queryRows<T>(client: ClickHouseClient, query: string, params: Record<string, unknown> = {}): Promise<T[]> {
  const rs = await client.query({ query, query_params: params, format: 'JSONEachRow' });
  return rs.json<T>();
}
