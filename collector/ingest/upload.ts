// Bulk uploads (CSV with a header, JSON lines, Parquet), parsed by ClickHouse itself so large files
// never become JS objects. The body lands in a per-upload staging table with the expected columns,
// is validated there (missing columns and empty ids are named in the error), then copied into the
// target table in one INSERT ... SELECT. Parquet on the embedded engine is read with file() from a
// temporary file, because the embedded connection passes insert bodies as text.
import { randomUUID } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { Store } from '../store/client.js';
import { queryRows } from '../store/client.js';
import { ident } from '../store/sql.js';

export type UploadFormat = 'csv' | 'jsonl' | 'parquet';

const CH_FORMAT: Record<UploadFormat, string> = { csv: 'CSVWithNames', jsonl: 'JSONEachRow', parquet: 'Parquet' };

export class UploadError extends Error {}

/** From ?format=, else the Content-Type. */
export function uploadFormat(contentType: string | undefined, explicit: string | undefined): UploadFormat {
  const f = (explicit ?? '').toLowerCase();
  if (f === 'csv' || f === 'jsonl' || f === 'parquet') return f;
  if (explicit) throw new UploadError(`format: must be csv, jsonl or parquet, got "${explicit}"`);
  const ct = (contentType ?? '').split(';')[0].trim().toLowerCase();
  if (ct === 'text/csv') return 'csv';
  if (ct === 'application/x-ndjson' || ct === 'application/jsonl' || ct === 'application/json-lines') return 'jsonl';
  if (ct === 'application/vnd.apache.parquet' || ct === 'application/x-parquet') return 'parquet';
  throw new UploadError('Content-Type must be text/csv, application/x-ndjson or application/vnd.apache.parquet (or pass ?format=csv|jsonl|parquet)');
}

export interface Column { name: string; type: string; required: boolean }

/**
 * Loads the body into a fresh staging table with `columns`, runs `copy(staging)` (an INSERT ...
 * SELECT from it), and drops the staging table. Returns the number of staged rows.
 */
export async function withStagedUpload(
  store: Store,
  body: Uint8Array,
  format: UploadFormat,
  columns: Column[],
  tmpDir: string,
  copy: (staging: string) => Promise<void>,
): Promise<number> {
  if (body.length === 0) throw new UploadError('the upload is empty');
  const staging = `upload_${randomUUID().replaceAll('-', '')}`;
  const client = store.client;
  // Every column nullable in staging, so a missing column is detected rather than defaulted. Arrays
  // cannot be: a missing one is [] (an empty vector, itself missing).
  const typed = (c: Column) => `${ident(c.name)} ${c.type.startsWith('Array(') ? c.type : `Nullable(${c.type})`}`;
  const ddl = columns.map(typed).join(', ');
  await client.command({ query: `CREATE TABLE ${staging} (${ddl}) ENGINE = Memory` });
  try {
    const settings = { input_format_skip_unknown_fields: 1, input_format_with_names_use_header: 1, input_format_parquet_allow_missing_columns: 1 } as const;
    try {
      if (format === 'parquet' && store.kind === 'embedded') {
        mkdirSync(tmpDir, { recursive: true });
        const file = join(tmpDir, `${staging}.parquet`);
        writeFileSync(file, body);
        try {
          await client.command({
            query: `INSERT INTO ${staging} SELECT ${columns.map((c) => ident(c.name)).join(', ')} FROM file({path:String}, 'Parquet', {structure:String})`,
            query_params: { path: file, structure: ddl },
            clickhouse_settings: settings,
          });
        } finally {
          rmSync(file, { force: true });
        }
      } else if (format !== 'parquet') {
        // Text formats travel inline after the INSERT head (in the HTTP body, for a server).
        await client.command({ query: `INSERT INTO ${staging} FORMAT ${CH_FORMAT[format]}\n${Buffer.from(body).toString('utf8')}`, clickhouse_settings: settings });
      } else {
        // Parquet to a server: a byte stream over HTTP.
        await client.insert({
          table: staging,
          values: Readable.from([Buffer.from(body)], { objectMode: false }),
          format: CH_FORMAT[format] as 'CSVWithNames',
          clickhouse_settings: settings,
        });
      }
    } catch (e) {
      throw new UploadError(`the ${format} upload could not be read: ${firstLine((e as Error).message)}`);
    }
    const checks = columns
      .filter((c) => c.required)
      .map((c) => `countIf(${ident(c.name)} IS NULL OR toString(${ident(c.name)}) = '') AS ${ident(c.name)}`);
    const [stats] = await queryRows<Record<string, string>>(client, `SELECT count() AS __rows${checks.length ? ', ' + checks.join(', ') : ''} FROM ${staging}`);
    const rows = Number(stats.__rows);
    if (rows === 0) throw new UploadError('the upload has no rows');
    for (const c of columns.filter((col) => col.required)) {
      const bad = Number(stats[c.name]);
      if (bad === rows) throw new UploadError(`column "${c.name}" is missing (or empty in every row)`);
      if (bad > 0) throw new UploadError(`column "${c.name}" is empty in ${bad} of ${rows} rows`);
    }
    await copy(staging);
    return rows;
  } finally {
    await client.command({ query: `DROP TABLE IF EXISTS ${staging}` }).catch(() => {});
  }
}

function firstLine(s: string): string {
  return s.split('\n')[0].replace(/^Code: \d+\. DB::Exception: /, '').slice(0, 300);
}
