// The collector's own health: ingest, rejections, the insert path (queue, spool, latency),
// alert deliveries (Prometheus), and what the store holds (ClickHouse).
import { columnUnit, dashboard, promql, promVariable, sql, stat, table, timeseries, type Json } from './grafana.js';
import { dsClickHouse, dsPrometheus } from './variables.js';

const instance = promVariable('instance', 'Collector', 'driftwatch_store_up', 'instance');
const I = 'instance=~"$instance"';

export const collector: Json = dashboard({
  uid: 'driftwatch-collector',
  title: 'Driftwatch / Collector health',
  description: 'Ingest, rejections, the ClickHouse insert path (queue, spool, latency) and alert deliveries of the Driftwatch collectors.',
  tags: ['collector'],
  time: 'now-3h',
  variables: [dsPrometheus, dsClickHouse, instance],
  rows: [
    {
      panels: [
        stat({
          title: 'Store up',
          description: '1 when ClickHouse takes inserts directly, 0 while the collector spools to disk (lowest across collectors).',
          thresholds: [{ color: 'red', value: null }, { color: 'green', value: 1 }],
          targets: [promql(`min(driftwatch_store_up{${I}})`, 'store up', true)],
        }),
        stat({
          title: 'Rows queued for insert',
          targets: [promql(`sum(driftwatch_ingest_queue_rows{${I}})`, 'queued rows', true)],
        }),
        stat({
          title: 'Spool',
          unit: 'bytes',
          thresholds: [{ color: 'green', value: null }, { color: 'orange', value: 1 }],
          targets: [promql(`sum(driftwatch_spool_bytes{${I}})`, 'spool bytes', true)],
        }),
        stat({
          title: 'Rejected records (range)',
          thresholds: [{ color: 'green', value: null }, { color: 'orange', value: 1 }],
          targets: [promql(`sum(increase(driftwatch_ingest_records_total{${I}, outcome="rejected"}[$__range])) or vector(0)`, 'rejected', true)],
        }),
      ],
    },
    {
      title: 'Ingest',
      panels: [
        timeseries({
          title: 'Records per second by kind and outcome',
          unit: 'reqps',
          targets: [promql(`sum by (kind, outcome) (rate(driftwatch_ingest_records_total{${I}}[$__rate_interval]))`, '{{kind}} {{outcome}}')],
        }),
        timeseries({
          title: 'Rejections per second by reason',
          unit: 'reqps',
          targets: [promql(`sum by (kind, reason) (rate(driftwatch_ingest_records_total{${I}, outcome="rejected"}[$__rate_interval]))`, '{{kind}}: {{reason}}')],
        }),
        timeseries({
          title: 'OTLP requests per second by status',
          unit: 'reqps',
          targets: [promql(`sum by (signal, status) (rate(driftwatch_ingest_requests_total{${I}}[$__rate_interval]))`, '{{signal}} {{status}}')],
        }),
        timeseries({
          title: 'Time to acknowledgement (p50, p99)',
          description: 'OTLP request duration until the collector answers (records stored or spooled), by signal.',
          unit: 's',
          targets: [
            promql(`histogram_quantile(0.5, sum by (le, signal) (rate(driftwatch_ingest_request_duration_bucket{${I}}[$__rate_interval])))`, 'p50 {{signal}}'),
            promql(`histogram_quantile(0.99, sum by (le, signal) (rate(driftwatch_ingest_request_duration_bucket{${I}}[$__rate_interval])))`, 'p99 {{signal}}'),
          ],
        }),
        timeseries({
          title: 'Request error ratio',
          description: 'Non-200 OTLP answers (400 undecodable, 413 too large, 503 store unavailable, ...) / all.',
          unit: 'percentunit',
          targets: [
            promql(
              `
              (sum(rate(driftwatch_ingest_requests_total{${I}, status!="200"}[$__rate_interval])) or vector(0))
                /
              sum(rate(driftwatch_ingest_requests_total{${I}}[$__rate_interval]))`,
              'error ratio',
            ),
          ],
        }),
      ],
    },
    {
      title: 'Store',
      panels: [
        timeseries({
          title: 'Insert latency by table (p50, p99)',
          unit: 's',
          targets: [
            promql(`histogram_quantile(0.5, sum by (le, table) (rate(driftwatch_store_insert_duration_bucket{${I}}[$__rate_interval])))`, 'p50 {{table}}'),
            promql(`histogram_quantile(0.99, sum by (le, table) (rate(driftwatch_store_insert_duration_bucket{${I}}[$__rate_interval])))`, 'p99 {{table}}'),
          ],
        }),
        timeseries({
          title: 'Inserts per second by table',
          unit: 'ops',
          targets: [promql(`sum by (table) (rate(driftwatch_store_insert_duration_count{${I}}[$__rate_interval]))`, '{{table}}')],
        }),
        timeseries({
          title: 'Insert queue and spool',
          description: 'Rows waiting for their insert; batches in the disk spool (non-zero while ClickHouse is unavailable); spool files that could not be read back since the collector started (moved to the spool\'s corrupt/ folder: their records were acknowledged but not stored).',
          targets: [
            promql(`sum by (instance) (driftwatch_ingest_queue_rows{${I}})`, 'queued rows {{instance}}'),
            promql(`sum by (instance) (driftwatch_spool_batches{${I}})`, 'spooled batches {{instance}}'),
            promql(`sum by (instance) (driftwatch_spool_corrupt_total{${I}})`, 'spool files set aside {{instance}}'),
          ],
        }),
        timeseries({
          title: 'Store up',
          min: 0,
          max: 1,
          targets: [promql(`driftwatch_store_up{${I}}`, '{{instance}}')],
        }),
        timeseries({
          title: 'Ingest delay (prediction time to storage), p99',
          description: 'From the ClickHouse rows: received_at - ts per prediction. Large values mean late or replayed (spooled) data.',
          unit: 's',
          interval: '1m',
          targets: [
            sql(
              `
              SELECT $__timeInterval(ts) AS time, quantile(0.99)(dateDiff('millisecond', ts, received_at)) / 1000 AS delay_p99
              FROM predictions
              WHERE $__timeFilter(ts)
              GROUP BY time
              ORDER BY time`,
              'timeSeries',
            ),
          ],
        }),
        table({
          title: 'Stored data by table',
          description: 'Active parts of the Driftwatch database (system.parts).',
          w: 12,
          h: 8,
          sortBy: 'bytes',
          columns: ['table', 'rows', 'bytes', 'parts', ['newest_part', 'newest part']],
          overrides: [columnUnit('bytes', 'bytes'), columnUnit('newest_part', 'dateTimeAsIso')],
          targets: [
            sql(`
              SELECT table, sum(rows) AS rows, sum(bytes_on_disk) AS bytes, count() AS parts, max(modification_time) AS newest_part
              FROM system.parts
              WHERE active AND database = currentDatabase()
              GROUP BY table
              ORDER BY bytes DESC`),
          ],
        }),
      ],
    },
    {
      title: 'Alerting',
      panels: [
        timeseries({
          title: 'Alert deliveries per second by receiver and outcome',
          unit: 'ops',
          targets: [promql(`sum by (receiver, outcome) (rate(driftwatch_alert_deliveries_total{${I}}[$__rate_interval]))`, '{{receiver}} {{outcome}}')],
        }),
        timeseries({
          title: 'Active alerts by state',
          decimals: 0,
          targets: [promql(`sum by (state) (driftwatch_alerts{${I}})`, '{{state}}')],
        }),
      ],
    },
  ],
});
