// Cardinality limits: a client that invents a new model name or feature name per record (a bug or
// an attack) would bloat every LowCardinality dictionary and rollup. Beyond the limits, records that
// introduce new names are rejected by name and counted; records using known names, and every other
// model, are unaffected. Known names are loaded from the store at start.
import type { ClickHouseClient } from '@clickhouse/client';
import { queryRows } from '../store/client.js';
import type { PredictionRow, Rejection } from './records.js';
import { selectPredictions, type EncodedPredictions } from './encoded.js';

export interface CardinalityLimits { maxModels: number; maxFeaturesPerModel: number }

export class CardinalityGuard {
  private models = new Map<string, Set<string>>();

  constructor(readonly limits: CardinalityLimits) {}

  async load(client: ClickHouseClient): Promise<void> {
    const rows = await queryRows<{ model: string; features: string[] }>(
      client,
      `SELECT model, groupUniqArray(feature) AS features FROM (
         SELECT model, feature FROM feature_minutes GROUP BY model, feature
         UNION ALL SELECT model, feature FROM category_minutes GROUP BY model, feature)
       GROUP BY model`,
    );
    for (const r of rows) this.models.set(r.model, new Set(r.features));
  }

  /** Keeps the rows within the limits; the others become rejections (path says which record). */
  admit(rows: PredictionRow[], rejected: Rejection[]): PredictionRow[] {
    return rows.filter((r) => this.admitOne(r.model, r.id, names(r), rejected));
  }

  /**
   * admit() for rows already encoded. Consecutive rows of one model with the same names (one shared
   * array) are admitted by the first one's check.
   */
  admitEncoded(e: EncodedPredictions, rejected: Rejection[]): EncodedPredictions {
    let lastModel: string | undefined;
    let lastNames: readonly string[] | undefined;
    const keep = e.models.map((model, i) => {
      if (model === lastModel && e.names[i] === lastNames) return true;
      const ok = this.admitOne(model, e.ids[i], e.names[i], rejected);
      [lastModel, lastNames] = ok ? [model, e.names[i]] : [undefined, undefined];
      return ok;
    });
    return selectPredictions(e, (i) => keep[i]);
  }

  private admitOne(model: string, id: string, rowNames: Iterable<string>, rejected: Rejection[]): boolean {
    let known = this.models.get(model);
    if (!known) {
      if (this.models.size >= this.limits.maxModels) {
        rejected.push({ path: `prediction "${id}" of model "${model}"`, reason: `too many models (limit ${this.limits.maxModels})` });
        return false;
      }
      known = new Set();
      this.models.set(model, known);
    }
    const fresh: string[] = [];
    for (const name of rowNames) if (!known.has(name)) fresh.push(name);
    if (fresh.length > 0 && known.size + fresh.length > this.limits.maxFeaturesPerModel) {
      rejected.push({
        path: `prediction "${id}" of model "${model}"`,
        // The least name, whatever order the row lists its names in (rows and encoded rows differ).
        reason: `feature "${fresh.reduce((a, b) => (b < a ? b : a))}" would exceed the model's limit of ${this.limits.maxFeaturesPerModel} distinct features`,
      });
      return false;
    }
    for (const name of fresh) known.add(name);
    return true;
  }
}

function* names(r: PredictionRow): Iterable<string> {
  for (const name in r.num) yield name;
  for (const name in r.cat) yield name;
  if (r.emb !== undefined) for (const name in r.emb) yield name;
}
