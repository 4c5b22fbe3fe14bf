// Embedding drift of a SQL source (the offline CLI's vector columns), the source-agnostic twin of the
// live profile in embedding.ts and built from its SQL: per column and side, inside ClickHouse, the
// row count, the usable vectors' count, per-dimension means and sample variances (avgForEach /
// varSampStableForEach), and tr(Sigma^2) from the Gram matrix of a sample of the reference's vectors.
// Only d numbers per side and column reach JS; centroidDrift does the rest (embeddingColumn). The
// same summaries of an uploaded reference file become a baseline's embedding profiles
// (referenceEmbeddingProfiles).
import type { ClickHouseClient } from '@clickhouse/client';
import { queryRows } from '../store/client.js';
import { MAX_EMBEDDING_DIMS } from '../ingest/embeddings.js';
import { finiteVectorSql, gramSampleSize, momentsSide, traceSqSql, vectorMomentsSql, type EmbeddingProfile, type VectorSide } from './embedding.js';
import type { SqlSource } from './engine.js';
import { DriftInputError } from './report.js';

/** One vector column: its dimension (0 when no side has a non-empty vector) and both sides. */
export interface VectorSummary {
  column: string;
  dim: number;
  ref: VectorSide;
  cur: VectorSide;
}

/**
 * The sample behind tr(Sigma^2) when a column has more finite reference vectors than
 * gramSampleSize(d, n): the first by the MD5 of each vector's Float64 bytes (little-endian), ties
 * (equal keys, i.e. equal vectors) by the vector. Files have no row id and are read in parallel, so
 * the key is the content: the same file, in any row order, gives the same sample, and numpy
 * reproduces it (hashlib.md5(v.astype('<f8').tobytes())).
 */
export const VECTOR_SAMPLE_KEY = (v: string) => `MD5(unhex(arrayStringConcat(arrayMap(x -> hex(x), ${v}))))`;

const num = (v: unknown): number => (v === null || v === undefined ? NaN : Number(v));

/**
 * Per-column summaries of a source yielding side UInt8, column String, value Array(Float64): an
 * empty array is a missing row, a vector with a NaN or +-Inf component a missing, non-finite one.
 * Vectors of different lengths in one column (both sides together) are a DriftInputError.
 */
export async function vectorSummaries(client: ClickHouseClient, src: SqlSource): Promise<VectorSummary[]> {
  type Row = { side: number; col: string; dim: number; rows: string; nonfinite: string; n: string; mean: number[]; var: (number | null)[] };
  const rows = await queryRows<Row>(
    client,
    `SELECT side, column AS col, toUInt32(length(value)) AS dim, count() AS rows, countIf(dim > 0 AND NOT ok) AS nonfinite, ${vectorMomentsSql('value', 'ok')}
     FROM (SELECT side, column, value, notEmpty(value) AND ${finiteVectorSql('value')} AS ok FROM (${src.sql}))
     GROUP BY side, col, dim ORDER BY col, side, dim`,
    src.params ?? {},
  );
  const byCol = new Map<string, Row[]>();
  for (const r of rows) byCol.set(r.col, [...(byCol.get(r.col) ?? []), r]);
  return [...byCol].map(([column, list]) => {
    const dims = [...new Set(list.map((r) => Number(r.dim)).filter((d) => d > 0))].sort((a, b) => a - b);
    if (dims.length > 1) {
      const shown = dims.length > 5 ? `${dims.slice(0, 5).join(', ')}, ...` : dims.join(', ');
      throw new DriftInputError(`column "${column}" has vectors of ${dims.length} different lengths (${shown}): every vector of a column needs the same dimension`, column);
    }
    const dim = dims[0] ?? 0;
    const side = (s: number): VectorSide => {
      const mine = list.filter((r) => Number(r.side) === s);
      return momentsSide(mine.find((r) => Number(r.dim) === dim && dim > 0), mine.reduce((sum, r) => sum + num(r.rows), 0));
    };
    return { column, dim, ref: side(0), cur: side(1) };
  });
}

/**
 * tr(Sigma^2) of a column's finite reference vectors (embedding.ts's traceSqSql), on a sample of
 * gramSampleSize(dim, n) of them chosen by VECTOR_SAMPLE_KEY. undefined with fewer than 4 vectors
 * (centroidDrift then takes the diagonal approximation, as for a live profile without one).
 */
export async function vectorTraceSq(client: ClickHouseClient, src: SqlSource, column: string, dim: number, n: number): Promise<{ traceSq: number; ns: number } | undefined> {
  const ns = gramSampleSize(dim, n);
  if (ns < 4) return undefined;
  const vectors = `SELECT value AS v, ${VECTOR_SAMPLE_KEY('value')} AS k FROM (${src.sql})
    WHERE side = 0 AND column = {dw_engine_vec_col:String} AND length(value) = ${dim} AND ${finiteVectorSql('value')}`;
  const rs = await client.query({
    query: traceSqSql(vectors, 'k, v', ns),
    query_params: { ...src.params, dw_engine_vec_col: column },
    format: 'JSONEachRow',
  });
  const [r] = await rs.json<{ ns: number; trace_sq: number | null }>();
  const w = r ? num(r.trace_sq) : NaN;
  return Number.isFinite(w) ? { traceSq: w, ns: num(r.ns) } : undefined;
}

/**
 * The embedding profiles of a reference source (side 0 only: an uploaded reference file), each
 * vector column one embedding of its name: the rows a live baseline's profile holds (rows, usable
 * vectors, non-finite ones, dimension, per-dimension mean and variance), and tr(Sigma^2) from the
 * Gram matrix of the sample vectorTraceSq picks (by content: a file has no prediction id). Computed,
 * not stored, so a bad column fails the baseline before anything is written: vectors of different
 * lengths, or longer than ingest accepts (MAX_EMBEDDING_DIMS; such a baseline could never match a
 * live vector), are a DriftInputError naming the column. A column without any non-empty vector is
 * left out.
 */
export async function referenceEmbeddingProfiles(client: ClickHouseClient, src: SqlSource): Promise<EmbeddingProfile[]> {
  const out: EmbeddingProfile[] = [];
  for (const { column, dim, ref } of await vectorSummaries(client, src)) {
    if (dim === 0) continue;
    if (dim > MAX_EMBEDDING_DIMS) throw new DriftInputError(`column "${column}" has vectors of ${dim} numbers: an embedding has at most ${MAX_EMBEDDING_DIMS}`, column);
    const w = await vectorTraceSq(client, src, column, dim, ref.n);
    out.push({
      embedding: column, rows: ref.rows, n: ref.n, nonfinite: ref.nonfinite, dim, mean: ref.mean, var: ref.var,
      traceSqN: w ? w.ns : 0, ...(w ? { traceSq: w.traceSq } : {}),
    });
  }
  return out;
}
