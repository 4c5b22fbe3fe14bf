// Fleet overview: every model at a glance (traffic, drift status, firing alerts).
import { columnLinks, columnUnit, dashboard, promql, sql, stat, table, timeseries, type Json } from './grafana.js';
import { dsClickHouse, dsPrometheus } from './variables.js';

const MODEL_DASHBOARDS = [
  { title: 'Model drift', uid: 'driftwatch-model-drift' },
  { title: 'Performance', uid: 'driftwatch-performance' },
  { title: 'Latency and SLO', uid: 'driftwatch-latency' },
];

/** The latest verdict per (model, version, feature, window) in the range, as a subquery. */
const LATEST_VERDICTS = `
    SELECT model, version, feature, window_seconds, argMax(drift, ts) AS drifted, max(ts) AS computed_at
    FROM drift_results
    WHERE $__timeFilter(ts)
    GROUP BY model, version, feature, window_seconds`;

export const fleet: Json = dashboard({
  uid: 'driftwatch-fleet',
  title: 'Driftwatch / Fleet overview',
  description: 'Every monitored model: traffic, drift status and active alerts.',
  tags: ['overview'],
  time: 'now-6h',
  variables: [dsClickHouse, dsPrometheus],
  rows: [
    {
      panels: [
        stat({
          title: 'Models',
          description: 'Models with predictions in the time range.',
          field: 'models',
          targets: [sql(`SELECT uniqExact(model) AS models FROM prediction_minutes WHERE $__timeFilter(minute)`)],
        }),
        stat({
          title: 'Predictions',
          description: 'Predictions received in the time range (per-minute rollup).',
          field: 'predictions',
          unit: 'short',
          targets: [sql(`SELECT sum(predictions) AS predictions FROM prediction_minutes WHERE $__timeFilter(minute)`)],
        }),
        stat({
          title: 'Drifting features',
          description: 'Features (per model version) whose latest drift verdict in the time range, for any window, is drift.',
          field: 'drifting',
          thresholds: [{ color: 'green', value: null }, { color: 'orange', value: 1 }],
          targets: [sql(`SELECT uniqExactIf((model, version, feature), drifted) AS drifting FROM (${LATEST_VERDICTS})`)],
        }),
        stat({
          title: 'Firing alerts',
          description: 'Alerts firing now, from the alert state the collector keeps in ClickHouse.',
          field: 'firing',
          thresholds: [{ color: 'green', value: null }, { color: 'red', value: 1 }],
          targets: [sql(`SELECT count() AS firing FROM alert_state FINAL WHERE state = 'firing'`)],
        }),
      ],
    },
    {
      title: 'Models',
      panels: [
        table({
          title: 'Models',
          description: 'Per model version: predictions and last activity in the range, features drifting by their latest verdict, p95 latency.',
          h: 8,
          sortBy: 'predictions',
          columns: ['model', 'version', 'predictions', ['last_seen', 'last seen'], ['drifting_features', 'drifting features'], ['checked_features', 'checked features'], ['latency_p95_ms', 'p95 latency']],
          overrides: [columnUnit('latency_p95_ms', 'ms', 1), columnUnit('last_seen', 'dateTimeAsIso'), columnLinks('model', 'model', MODEL_DASHBOARDS)],
          targets: [
            sql(`
              SELECT p.model AS model, p.version AS version, p.predictions AS predictions, p.last_seen AS last_seen,
                     d.drifting AS drifting_features, d.checked AS checked_features, p.latency_p95_ms AS latency_p95_ms
              FROM
              (
                  SELECT model, version, sum(predictions) AS predictions, max(minute) AS last_seen,
                         quantileTDigestMerge(0.95)(latency_digest) AS latency_p95_ms
                  FROM prediction_minutes
                  WHERE $__timeFilter(minute)
                  GROUP BY model, version
              ) AS p
              LEFT JOIN
              (
                  SELECT model, version, uniqExactIf(feature, drifted) AS drifting, uniqExact(feature) AS checked
                  FROM (${LATEST_VERDICTS})
                  GROUP BY model, version
              ) AS d ON p.model = d.model AND p.version = d.version
              ORDER BY model, version`),
          ],
        }),
      ],
    },
    {
      title: 'Traffic and drift',
      panels: [
        timeseries({
          title: 'Predictions per second by model',
          unit: 'reqps',
          interval: '1m',
          stack: true,
          targets: [
            sql(
              `
              SELECT $__timeInterval(minute) AS time, model, sum(predictions) / $__interval_s AS predictions_per_second
              FROM prediction_minutes
              WHERE $__timeFilter(minute)
              GROUP BY time, model
              ORDER BY time`,
              'timeSeries',
            ),
          ],
        }),
        timeseries({
          title: 'Drifting features by model',
          description: 'Distinct features with a drift verdict in each interval.',
          interval: '1m',
          decimals: 0,
          targets: [
            sql(
              `
              SELECT $__timeInterval(ts) AS time, model, uniqExactIf(feature, drift) AS drifting_features
              FROM drift_results
              WHERE $__timeFilter(ts)
              GROUP BY time, model
              ORDER BY time`,
              'timeSeries',
            ),
          ],
        }),
      ],
    },
    {
      title: 'Alerts',
      panels: [
        table({
          title: 'Active alerts',
          description: 'Pending and firing alerts (the collector\'s rule engine), newest first.',
          h: 8,
          columns: ['state', ['rule', 'alert'], 'model', 'version', 'feature', 'value', ['active_at', 'active since'], ['fired_at', 'firing since'], 'summary'],
          overrides: [columnUnit('active_at', 'dateTimeAsIso'), columnUnit('fired_at', 'dateTimeAsIso'), columnLinks('model', 'model', MODEL_DASHBOARDS.slice(0, 1))],
          targets: [
            sql(`
              SELECT state, rule, labels['model'] AS model, labels['version'] AS version, labels['feature'] AS feature,
                     value, active_at, fired_at, annotations['summary'] AS summary
              FROM alert_state FINAL
              WHERE state IN ('pending', 'firing')
              ORDER BY state = 'firing' DESC, active_at DESC`),
          ],
        }),
        timeseries({
          title: 'Active alerts by rule (Prometheus)',
          description: 'driftwatch_alerts, scraped from the collector\'s /metrics.',
          decimals: 0,
          targets: [promql(`sum by (alertname, state) (driftwatch_alerts)`, '{{alertname}} {{state}}')],
        }),
        timeseries({
          title: 'Records accepted per second (Prometheus)',
          unit: 'reqps',
          targets: [promql(`sum by (kind) (rate(driftwatch_ingest_records_total{outcome="accepted"}[$__rate_interval]))`, '{{kind}}')],
        }),
      ],
    },
  ],
});
