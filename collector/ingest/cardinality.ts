// Cardinality limits: a client that invents a new model name or feature name per record (a bug or
// an attack) would bloat every LowCardinality dictionary and rollup. Beyond the limits, records that
// introduce new names are rejected by name and counted; records using known names, and every other
// model, are unaffected. Known names are loaded from the store at start.
import type { ClickHouseClient } from '@clickhouse/client';
import { queryRows } from '../store/client.js';
import type { PredictionRow, Rejection } from './records.js';

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
    const out: PredictionRow[] = [];
    for (const r of rows) {
      let known = this.models.get(r.model);
      if (!known) {
        if (this.models.size >= this.limits.maxModels) {
          rejected.push({ path: `prediction "${r.id}" of model "${r.model}"`, reason: `too many models (limit ${this.limits.maxModels})` });
          continue;
        }
        known = new Set();
        this.models.set(r.model, known);
      }
      const fresh: string[] = [];
      for (const name in r.num) if (!known.has(name)) fresh.push(name);
      for (const name in r.cat) if (!known.has(name)) fresh.push(name);
      if (r.emb !== undefined) for (const name in r.emb) if (!known.has(name)) fresh.push(name);
      if (fresh.length > 0 && known.size + fresh.length > this.limits.maxFeaturesPerModel) {
        rejected.push({
          path: `prediction "${r.id}" of model "${r.model}"`,
          reason: `feature "${fresh[0]}" would exceed the model's limit of ${this.limits.maxFeaturesPerModel} distinct features`,
        });
        continue;
      }
      for (const name of fresh) known.add(name);
      out.push(r);
    }
    return out;
  }
}
