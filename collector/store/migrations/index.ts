// Versioned schema migrations. Each is a list of idempotent statements (IF NOT EXISTS), applied in
// order and recorded in `schema_migrations`, so running them twice (or from two collectors at once)
// converges on the same schema.
import type { ClickHouseClient } from '@clickhouse/client';
import * as m001 from './001_init.js';
import * as m002 from './002_performance.js';
import * as m003 from './003_alerting.js';
import * as m004 from './004_rollups.js';
import * as m005 from './005_metrics.js';
import { queryRows } from '../client.js';

export interface Migration { version: number; name: string; statements: string[] }

export const MIGRATIONS: Migration[] = [{ version: 1, ...m001 }, { version: 2, ...m002 }, { version: 3, ...m003 }, { version: 4, ...m004 }, { version: 5, ...m005 }];

export interface MigrateOptions { retentionDays: number }

export async function migrate(client: ClickHouseClient, opts: MigrateOptions): Promise<number[]> {
  if (!Number.isInteger(opts.retentionDays) || opts.retentionDays < 1) {
    throw new Error(`retention must be a whole number of days >= 1, got ${opts.retentionDays}`);
  }
  await client.command({
    query: `CREATE TABLE IF NOT EXISTS schema_migrations
      (version UInt32, name String, applied_at DateTime64(3, 'UTC') DEFAULT now64(3))
      ENGINE = ReplacingMergeTree ORDER BY version`,
  });
  const done = new Set(
    (await queryRows<{ version: number }>(client, 'SELECT version FROM schema_migrations FINAL')).map((r) => Number(r.version)),
  );
  const applied: number[] = [];
  for (const m of MIGRATIONS) {
    if (done.has(m.version)) continue;
    for (const s of m.statements) {
      await client.command({ query: s.replaceAll('{retention_days:UInt32}', String(opts.retentionDays)) });
    }
    await client.insert({ table: 'schema_migrations', values: [{ version: m.version, name: m.name }], format: 'JSONEachRow' });
    applied.push(m.version);
  }
  return applied;
}
