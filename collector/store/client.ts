// One ClickHouse client API for both stores: a server when CLICKHOUSE_URL is set, otherwise the
// embedded engine (chDB) persisted in a data directory. Everything above this file is identical.
import { createClient, type ClickHouseClient } from '@clickhouse/client';
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';

export interface StoreOptions {
  /** ClickHouse server URL (e.g. http://user:pass@host:8123/db); unset means embedded. */
  url?: string;
  /** Data directory for the embedded engine. */
  dataDir: string;
}

export interface Store {
  client: ClickHouseClient;
  kind: 'server' | 'embedded';
  close(): Promise<void>;
}

export async function openStore(opts: StoreOptions): Promise<Store> {
  if (opts.url) {
    const client = createClient({
      url: opts.url,
      clickhouse_settings: { date_time_input_format: 'best_effort' },
    });
    return { client, kind: 'server', close: () => client.close() };
  }
  const dir = resolve(opts.dataDir);
  mkdirSync(dir, { recursive: true });
  // Loaded lazily: a server deployment never pays for the embedded engine's 500 MB library.
  const { createChdbConnection } = await import('chdb/connection');
  const client = createClient({ connection: createChdbConnection({ path: dir }) } as Parameters<typeof createClient>[0]);
  return { client, kind: 'embedded', close: () => client.close() };
}

/** Run a SELECT and return its rows as objects. */
export async function queryRows<T>(client: ClickHouseClient, query: string, params: Record<string, unknown> = {}): Promise<T[]> {
  const rs = await client.query({ query, query_params: params, format: 'JSONEachRow' });
  return rs.json<T>();
}
