// GET /api/v1/models: every model with its versions and counts.
import type { ClickHouseClient } from '@clickhouse/client';
import { queryRows } from '../store/client.js';

export interface ModelSummary { name: string; versions: string[]; predictions: number; labels: number; last_seen: string | null }

export async function listModels(client: ClickHouseClient): Promise<ModelSummary[]> {
  const rows = await queryRows<{ name: string; versions: string[]; predictions: string; labels: string; last_seen: string | null }>(
    client,
    `SELECT name, versions, predictions, labels, last_seen FROM (
       SELECT model AS name, arraySort(groupUniqArray(version)) AS versions, count() AS predictions,
              formatDateTime(max(ts), '%Y-%m-%dT%H:%i:%S.%fZ', 'UTC') AS last_seen
       FROM predictions FINAL GROUP BY model) AS p
     FULL OUTER JOIN (SELECT model AS name, count() AS labels FROM labels FINAL GROUP BY model) AS l USING (name)
     ORDER BY name`,
  );
  return rows.map((r) => ({
    name: r.name,
    versions: r.versions ?? [],
    predictions: Number(r.predictions ?? 0),
    labels: Number(r.labels ?? 0),
    last_seen: r.last_seen || null,
  }));
}
