// Latency and SLO: prediction latency percentiles from the per-minute t-digests in ClickHouse
// (`ml.prediction.latency_ms` on each record) and from the SDK's `ml.prediction.duration`
// histogram in Prometheus, with the share of predictions within a latency objective.
import { dashboard, promql, sql, stat, textboxVariable, timeseries, type Json } from './grafana.js';
import { dsClickHouse, dsPrometheus, model, MODEL_VERSION, version } from './variables.js';

const sloMs = textboxVariable('slo_ms', 'Latency objective (ms)', '50');
const sloLe = textboxVariable('slo_le', 'Objective as a histogram bucket (s)', '0.05');

// Prometheus selectors for the SDK histogram: attributes ml.model.name / ml.model.version.
const SEL = `ml_model_name="$model", ml_model_version=~"\${version:regex}"`;

/**
 * A quantile of explicit-bucket histogram counts (`counts` per bucket, `cum` their running sum,
 * `total` the last of it, `bounds` the upper bounds), interpolated linearly inside the bucket as
 * Prometheus' histogram_quantile does; the +Inf bucket answers the highest bound.
 */
export function bucketQuantile(q: number): string {
  const i = `arrayFirstIndex(c -> c >= ${q} * total, cum)`;
  return `if(total = 0, nan, if(${i} > length(bounds), bounds[-1],
            if(${i} = 1, 0, bounds[${i} - 1])
            + (bounds[${i}] - if(${i} = 1, 0, bounds[${i} - 1]))
              * (${q} * total - if(${i} = 1, 0, cum[${i} - 1])) / counts[${i}]))`;
}

// Latency histograms received over OTLP (POST /v1/metrics) into metric_points. Each point's new
// counts: a delta point's own; a cumulative point's minus the series' previous point (a series
// that started inside the time range counts from zero, one that started before has no known
// previous point and counts from its first point in the range). Summed per interval, then quantiles.
const OTLP_HISTOGRAM_QUANTILES = `
              SELECT time, ${bucketQuantile(0.5)} AS p50,
                     ${bucketQuantile(0.95)} AS p95,
                     ${bucketQuantile(0.99)} AS p99
              FROM
              (
                  SELECT time, bounds, counts, arrayCumSum(counts) AS cum, cum[-1] AS total
                  FROM
                  (
                      SELECT $__timeInterval(ts) AS time, bounds, sumForEach(d) AS counts
                      FROM
                      (
                          SELECT ts, bounds,
                                 if(temporality = 'delta', arrayMap(x -> toInt64(x), buckets),
                                    arrayMap((x, y) -> toInt64(x) - toInt64(y), buckets,
                                             lagInFrame(buckets, 1, if(start_ts >= $__fromTime, arrayMap(x -> toUInt64(0), buckets), buckets))
                                                 OVER (PARTITION BY version, attributes, start_ts ORDER BY ts))) AS d
                          FROM metric_points
                          WHERE metric = 'ml.prediction.duration' AND kind = 'histogram' AND ${MODEL_VERSION}
                            AND length(buckets) = length(bounds) + 1 AND $__timeFilter(ts)
                      )
                      GROUP BY time, bounds
                  )
              )
              ORDER BY time`;

const percentiles = (p: number) =>
  stat({
    title: `p${Math.round(p * 100)} latency`,
    description: 'Over the time range, from the per-minute latency t-digests.',
    field: 'latency_ms',
    unit: 'ms',
    decimals: 1,
    targets: [sql(`SELECT quantileTDigestMerge(${p})(latency_digest) AS latency_ms FROM prediction_minutes WHERE ${MODEL_VERSION} AND $__timeFilter(minute)`)],
  });

export const latency: Json = dashboard({
  uid: 'driftwatch-latency',
  title: 'Driftwatch / Latency and SLO',
  description: 'Prediction latency percentiles and the share of predictions within the latency objective.',
  tags: ['latency', 'slo'],
  time: 'now-6h',
  variables: [dsClickHouse, dsPrometheus, model, version, sloMs, sloLe],
  rows: [
    {
      panels: [
        percentiles(0.5),
        percentiles(0.95),
        percentiles(0.99),
        stat({
          title: 'Within objective',
          description: 'Predictions with latency <= $slo_ms ms, among those that reported a latency (raw rows).',
          field: 'within_slo',
          unit: 'percentunit',
          decimals: 2,
          thresholds: [{ color: 'red', value: null }, { color: 'orange', value: 0.99 }, { color: 'green', value: 0.999 }],
          targets: [
            sql(`
              SELECT countIf(latency_ms <= \${slo_ms}) / greatest(countIf(isFinite(latency_ms)), 1) AS within_slo
              FROM predictions
              WHERE ${MODEL_VERSION} AND $__timeFilter(ts)`),
          ],
        }),
      ],
    },
    {
      title: 'ClickHouse (per-record latency_ms)',
      panels: [
        timeseries({
          title: 'Latency percentiles',
          unit: 'ms',
          interval: '1m',
          targets: [
            sql(
              `
              SELECT time, q[1] AS p50, q[2] AS p95, q[3] AS p99
              FROM
              (
                  SELECT $__timeInterval(minute) AS time, quantilesTDigestMerge(0.5, 0.95, 0.99)(latency_digest) AS q
                  FROM prediction_minutes
                  WHERE ${MODEL_VERSION} AND $__timeFilter(minute)
                  GROUP BY time
              )
              ORDER BY time`,
              'timeSeries',
            ),
          ],
        }),
        timeseries({
          title: 'Share within objective',
          unit: 'percentunit',
          interval: '1m',
          max: 1,
          targets: [
            sql(
              `
              SELECT $__timeInterval(ts) AS time, countIf(latency_ms <= \${slo_ms}) / greatest(countIf(isFinite(latency_ms)), 1) AS within_slo
              FROM predictions
              WHERE ${MODEL_VERSION} AND $__timeFilter(ts)
              GROUP BY time
              ORDER BY time`,
              'timeSeries',
            ),
          ],
        }),
        timeseries({
          title: 'p95 latency by version',
          unit: 'ms',
          interval: '1m',
          targets: [
            sql(
              `
              SELECT $__timeInterval(minute) AS time, version, quantileTDigestMerge(0.95)(latency_digest) AS p95
              FROM prediction_minutes
              WHERE ${MODEL_VERSION} AND $__timeFilter(minute)
              GROUP BY time, version
              ORDER BY time`,
              'timeSeries',
            ),
          ],
        }),
        timeseries({
          title: 'Latency percentiles from OTLP histograms',
          description:
            'The ml.prediction.duration histogram sent to the collector over OTLP (POST /v1/metrics, any OpenTelemetry SDK), interpolated inside its buckets like histogram_quantile: only as precise as the bucket boundaries.',
          unit: 's',
          interval: '1m',
          targets: [sql(OTLP_HISTOGRAM_QUANTILES, 'timeSeries')],
        }),
        timeseries({
          title: 'Predictions per second by version',
          unit: 'reqps',
          interval: '1m',
          targets: [
            sql(
              `
              SELECT $__timeInterval(minute) AS time, version, sum(predictions) / $__interval_s AS predictions_per_second
              FROM prediction_minutes
              WHERE ${MODEL_VERSION} AND $__timeFilter(minute)
              GROUP BY time, version
              ORDER BY time`,
              'timeSeries',
            ),
          ],
        }),
      ],
    },
    {
      title: 'Prometheus (SDK histogram ml.prediction.duration)',
      panels: [
        timeseries({
          title: 'Latency percentiles (histogram)',
          description: 'histogram_quantile over the SDK\'s ml_prediction_duration histogram, scraped from the serving application. Only as precise as the histogram\'s bucket boundaries.',
          unit: 's',
          targets: [
            promql(`histogram_quantile(0.5, sum by (le) (rate(ml_prediction_duration_bucket{${SEL}}[$__rate_interval])))`, 'p50'),
            promql(`histogram_quantile(0.95, sum by (le) (rate(ml_prediction_duration_bucket{${SEL}}[$__rate_interval])))`, 'p95'),
            promql(`histogram_quantile(0.99, sum by (le) (rate(ml_prediction_duration_bucket{${SEL}}[$__rate_interval])))`, 'p99'),
          ],
        }),
        timeseries({
          title: 'Share within objective (histogram)',
          description: 'Observations in the bucket le="$slo_le" / all observations. $slo_le must be one of the histogram\'s bucket boundaries.',
          unit: 'percentunit',
          max: 1,
          targets: [
            promql(
              `
              sum(rate(ml_prediction_duration_bucket{${SEL}, le="$slo_le"}[$__rate_interval]))
                /
              sum(rate(ml_prediction_duration_count{${SEL}}[$__rate_interval]))`,
              'within objective',
            ),
          ],
        }),
        timeseries({
          title: 'Mean latency by version (histogram)',
          unit: 's',
          targets: [
            promql(
              `
              sum by (ml_model_version) (rate(ml_prediction_duration_sum{${SEL}}[$__rate_interval]))
                /
              sum by (ml_model_version) (rate(ml_prediction_duration_count{${SEL}}[$__rate_interval]))`,
              '{{ml_model_version}}',
            ),
          ],
        }),
        timeseries({
          title: 'Predictions per second (histogram count)',
          unit: 'reqps',
          targets: [promql(`sum by (ml_model_version) (rate(ml_prediction_duration_count{${SEL}}[$__rate_interval]))`, '{{ml_model_version}}')],
        }),
      ],
    },
  ],
});
