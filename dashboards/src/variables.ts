// Template variables shared by the dashboards.
import { chVariable, CLICKHOUSE, datasourceVariable, PROMETHEUS, type Json } from './grafana.js';

export const dsClickHouse: Json = datasourceVariable('ds_clickhouse', CLICKHOUSE, 'ClickHouse');
export const dsPrometheus: Json = datasourceVariable('ds_prometheus', PROMETHEUS, 'Prometheus');

/** Models with predictions in the time range (read from the per-minute rollup). */
export const model: Json = chVariable(
  'model',
  'Model',
  `
  SELECT DISTINCT model
  FROM prediction_minutes
  WHERE $__timeFilter(minute)
  ORDER BY model`,
);

/** The model's versions with predictions in the time range; several or all may be selected. */
export const version: Json = chVariable(
  'version',
  'Version',
  `
  SELECT DISTINCT version
  FROM prediction_minutes
  WHERE model = '\${model}' AND $__timeFilter(minute)
  ORDER BY version`,
  { multi: true, includeAll: true },
);

/** Where the queries below filter on the variables: `model = '${model}' AND version IN (${version})`. */
export const MODEL_VERSION = `model = '\${model}' AND version IN (\${version})`;
