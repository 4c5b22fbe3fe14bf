// Versioned schema migrations. Each is a list of idempotent statements (IF NOT EXISTS), applied in
// order and recorded in `schema_migrations`, so running them twice (or from two collectors at once)
// converges on the same schema.
import type { ClickHouseClient } from '@clickhouse/client';
import * as m001 from './001_init.js';
import * as m002 from './002_performance.js';
import * as m003 from './003_alerting.js';
import * as m004 from './004_rollups.js';
import * as m005 from './005_metrics.js';
import * as m006 from './006_drift_profiles.js';
import * as m007 from './007_drift_minutes_join.js';
import * as m008 from './008_embeddings.js';
import * as m009 from './009_embedding_trace_sq.js';
import * as m010 from './010_replay_dedup.js';
import * as m011 from './011_vertical_merges.js';
import { queryRows } from '../client.js';

export interface Migration { version: number; name: string; statements: string[] }

export const MIGRATIONS: Migration[] = [{ version: 1, ...m001 }, { version: 2, ...m002 }, { version: 3, ...m003 }, { version: 4, ...m004 }, { version: 5, ...m005 }, { version: 6, ...m006 }, { version: 7, ...m007 }, { version: 8, ...m008 }, { version: 9, ...m009 }, { version: 10, ...m010 }, { version: 11, ...m011 }];

export interface MigrateOptions {
  retentionDays: number;
  /** A ClickHouse cluster name: DDL runs ON CLUSTER and MergeTree engines become Replicated. */
  cluster?: string;
}

/**
 * The statement as it runs on a cluster: `ON CLUSTER` after the object name, and every
 * *MergeTree engine replaced by its Replicated form (ZooKeeper path and replica from the
 * server's {shard}/{replica} macros). Without a cluster the statement is unchanged.
 */
export function forCluster(statement: string, cluster: string | undefined): string {
  if (!cluster) return statement;
  if (!/^[A-Za-z0-9_.-]+$/.test(cluster)) throw new Error(`cluster name "${cluster}": letters, digits, _ . - only`);
  const on = `ON CLUSTER '${cluster}'`;
  return statement
    .replace(/^(\s*(?:--[^\n]*\n\s*)*)(CREATE (?:TABLE|MATERIALIZED VIEW|DICTIONARY|VIEW) IF NOT EXISTS \S+)/, `$1$2 ${on}`)
    .replace(/^(\s*(?:--[^\n]*\n\s*)*)(ALTER TABLE \S+)/, `$1$2 ${on}`)
    .replace(/^(\s*(?:--[^\n]*\n\s*)*)(DROP (?:VIEW|TABLE) IF EXISTS \S+)/, `$1$2 ${on}`)
    .replace(/ENGINE = (Replacing|Aggregating|Summing|Collapsing|)MergeTree(?:\(([^)]*)\))?/g, (_m, kind: string, args: string | undefined) =>
      `ENGINE = Replicated${kind}MergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}'${args ? `, ${args}` : ''})`);
}

export async function migrate(client: ClickHouseClient, opts: MigrateOptions): Promise<number[]> {
  if (!Number.isInteger(opts.retentionDays) || opts.retentionDays < 1) {
    throw new Error(`retention must be a whole number of days >= 1, got ${opts.retentionDays}`);
  }
  await client.command({
    query: forCluster(`CREATE TABLE IF NOT EXISTS schema_migrations
      (version UInt32, name String, applied_at DateTime64(3, 'UTC') DEFAULT now64(3))
      ENGINE = ReplacingMergeTree ORDER BY version`, opts.cluster),
  });
  const done = new Set(
    (await queryRows<{ version: number }>(client, 'SELECT version FROM schema_migrations FINAL')).map((r) => Number(r.version)),
  );
  const applied: number[] = [];
  for (const m of MIGRATIONS) {
    if (done.has(m.version)) continue;
    for (const s of m.statements) {
      await client.command({ query: forCluster(s.replaceAll('{retention_days:UInt32}', String(opts.retentionDays)), opts.cluster) });
    }
    await client.insert({ table: 'schema_migrations', values: [{ version: m.version, name: m.name }], format: 'JSONEachRow' });
    applied.push(m.version);
  }
  return applied;
}
