// Embedding dimensions: every vector of one embedding name must keep one dimension per model
// version (a centroid of vectors of different lengths means nothing). The first dimension accepted
// for (model, version, name) is the one; a record with another is rejected by name, with the field
// path. Known dimensions are loaded from the store at start, so a restart keeps them. A dimension is
// accepted once its record is stored: a request refused after decoding (a key not allowed to write
// that model, the cardinality guard, a full queue) fixes nothing for later requests.
import type { ClickHouseClient } from '@clickhouse/client';
import { queryRows } from '../store/client.js';

/** Longest embedding accepted (elements of an arrayValue). */
export const MAX_EMBEDDING_DIMS = 4096;
/** Embeddings per record. */
export const MAX_EMBEDDINGS_PER_RECORD = 32;
/** Names remembered; beyond this, new names are checked within their request only. */
const MAX_KNOWN = 100_000;

const key = (model: string, version: string, name: string) => `${model}\u0000${version}\u0000${name}`;

/** What the decoder needs: the dimension known for a name, and remembering one. */
export interface EmbeddingDimsView {
  get(model: string, version: string, name: string): number | undefined;
  set(model: string, version: string, name: string, dim: number): void;
}

/** One request's view (EmbeddingDims.request): done() once the request is answered. */
export interface RequestDims extends EmbeddingDimsView {
  /** Accepts the dimensions of the rows stored (none when refused) and releases the request's claims. */
  done(stored?: readonly StoredRow[]): void;
}

type StoredRow = { model: string; version: string; emb?: Record<string, ArrayLike<number>> };

export class EmbeddingDims implements EmbeddingDimsView {
  private dims = new Map<string, number>();
  /** Dimensions claimed by requests in flight, not stored yet: concurrent requests must agree. */
  private pending = new Map<string, { dim: number; holders: number }>();

  /** The dimension of (model, version, name), if one has been accepted. */
  get(model: string, version: string, name: string): number | undefined {
    return this.dims.get(key(model, version, name));
  }

  set(model: string, version: string, name: string, dim: number): void {
    if (this.dims.size < MAX_KNOWN) this.dims.set(key(model, version, name), dim);
  }

  /**
   * One request's view: the accepted dimensions, then those claimed by requests in flight (its own
   * included). A new name's dimension is claimed while the request runs, so two concurrent requests
   * cannot store two dimensions; it is accepted only for rows stored, so a refused request fixes
   * nothing for later ones.
   */
  request(): RequestDims {
    const claimed = new Set<string>();
    let finished = false;
    return {
      get: (model, version, name) => {
        const k = key(model, version, name);
        return this.dims.get(k) ?? this.pending.get(k)?.dim;
      },
      set: (model, version, name, dim) => {
        const k = key(model, version, name);
        if (this.dims.has(k) || claimed.has(k)) return;
        const p = this.pending.get(k);
        if (p) p.holders++;
        else this.pending.set(k, { dim, holders: 1 });
        claimed.add(k);
      },
      done: (stored) => {
        if (finished) return;
        finished = true;
        if (claimed.size === 0) return; // every name already accepted: nothing to do per row
        if (stored) this.accept(stored);
        for (const k of claimed) {
          const p = this.pending.get(k)!;
          if (--p.holders === 0) this.pending.delete(k);
        }
      },
    };
  }

  /** Accepts the dimensions of rows now stored (the first one seen stays). */
  accept(rows: readonly StoredRow[]): void {
    for (const r of rows) {
      if (r.emb === undefined) continue;
      for (const name in r.emb) if (this.get(r.model, r.version, name) === undefined) this.set(r.model, r.version, name, r.emb[name].length);
    }
  }

  /** The dimensions already stored (reads only the `emb` column's keys and sizes). */
  async load(client: ClickHouseClient): Promise<void> {
    const rows = await queryRows<{ model: string; version: string; name: string; dim: number }>(
      client,
      `SELECT model, version, name, any(dim) AS dim FROM (
         SELECT model, version, k AS name, length(v) AS dim FROM predictions
         ARRAY JOIN mapKeys(emb) AS k, mapValues(emb) AS v WHERE notEmpty(emb))
       GROUP BY model, version, name LIMIT ${MAX_KNOWN}`,
    );
    for (const r of rows) this.set(r.model, r.version, r.name, Number(r.dim));
  }
}
