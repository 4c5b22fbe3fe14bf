// Performance: realized metrics (from labels) and CBPE estimates (before labels arrive), label
// coverage, and the decay from the baseline window, from the performance_results table.
import { chVariable, columnUnit, dashed, dashboard, sql, stat, table, timeseries, type Json } from './grafana.js';
import { dsClickHouse, model, MODEL_VERSION, version } from './variables.js';

const window = chVariable(
  'window',
  'Window (s)',
  `
  SELECT DISTINCT window_seconds
  FROM performance_results
  WHERE ${MODEL_VERSION} AND $__timeFilter(ts)
  ORDER BY window_seconds`,
);

const metric = chVariable(
  'metric',
  'Metric',
  `
  SELECT DISTINCT metric
  FROM performance_results
  WHERE ${MODEL_VERSION} AND $__timeFilter(ts)
  ORDER BY metric`,
  { multi: true, includeAll: true },
);

// Whole-population rows (segment_key = '') of the selection.
const SELECTED = `${MODEL_VERSION} AND window_seconds = toUInt32OrZero('\${window}') AND segment_key = ''`;
const METRICS = `metric IN (\${metric})`;

export const performance: Json = dashboard({
  uid: 'driftwatch-performance',
  title: 'Driftwatch / Performance',
  description: 'Realized and estimated (CBPE) model performance, label coverage and decay from the baseline window.',
  tags: ['performance'],
  time: 'now-24h',
  variables: [dsClickHouse, model, version, window, metric],
  rows: [
    {
      panels: [
        stat({
          title: 'Label coverage',
          description: 'Labelled predictions / predictions in the window of the latest computation.',
          field: 'coverage',
          unit: 'percentunit',
          targets: [sql(`SELECT argMax(coverage, ts) AS coverage FROM performance_results WHERE ${SELECTED} AND $__timeFilter(ts)`)],
        }),
        stat({
          title: 'Predictions in the window',
          field: 'predictions',
          targets: [sql(`SELECT argMax(predictions, ts) AS predictions FROM performance_results WHERE ${SELECTED} AND $__timeFilter(ts)`)],
        }),
        stat({
          title: 'Worst relative drop (realized)',
          description: 'Largest relative degradation from the baseline among the selected realized metrics (positive = worse).',
          field: 'worst_relative_drop',
          unit: 'percentunit',
          thresholds: [{ color: 'green', value: null }, { color: 'orange', value: 0.05 }, { color: 'red', value: 0.1 }],
          targets: [
            sql(`
              SELECT max(d) AS worst_relative_drop
              FROM (SELECT version, metric, argMax(relative_drop, ts) AS d FROM performance_results
                    WHERE ${SELECTED} AND ${METRICS} AND kind = 'realized' AND $__timeFilter(ts) GROUP BY version, metric)`),
          ],
        }),
        stat({
          title: 'Worst relative drop (estimated)',
          description: 'The same for CBPE estimates, available before labels arrive.',
          field: 'worst_relative_drop',
          unit: 'percentunit',
          thresholds: [{ color: 'green', value: null }, { color: 'orange', value: 0.05 }, { color: 'red', value: 0.1 }],
          targets: [
            sql(`
              SELECT max(d) AS worst_relative_drop
              FROM (SELECT version, metric, argMax(relative_drop, ts) AS d FROM performance_results
                    WHERE ${SELECTED} AND ${METRICS} AND kind = 'estimated' AND $__timeFilter(ts) GROUP BY version, metric)`),
          ],
        }),
      ],
    },
    {
      title: 'Metrics',
      panels: [
        timeseries({
          title: 'Realized metrics',
          description: 'From joined labels, per computation.',
          targets: [
            sql(
              `
              SELECT ts AS time, concat(version, ' ', metric) AS series, value
              FROM performance_results
              WHERE ${SELECTED} AND ${METRICS} AND kind = 'realized' AND value IS NOT NULL AND $__timeFilter(ts)
              ORDER BY time`,
              'timeSeries',
            ),
          ],
        }),
        timeseries({
          title: 'Estimated metrics (CBPE) with their band',
          description: 'Confidence-based performance estimation; dashed: the lower and upper band.',
          overrides: [dashed('^(lower|upper).*')],
          targets: [
            sql(
              `
              SELECT ts AS time, concat(version, ' ', metric) AS series, value AS estimate, lower, upper
              FROM performance_results
              WHERE ${SELECTED} AND ${METRICS} AND kind = 'estimated' AND value IS NOT NULL AND $__timeFilter(ts)
              ORDER BY time`,
              'timeSeries',
            ),
          ],
        }),
        timeseries({
          title: 'Decay from the baseline (relative drop, positive = worse)',
          unit: 'percentunit',
          targets: [
            sql(
              `
              SELECT ts AS time, concat(version, ' ', metric, ' ', kind) AS series, relative_drop
              FROM performance_results
              WHERE ${SELECTED} AND ${METRICS} AND relative_drop IS NOT NULL AND $__timeFilter(ts)
              ORDER BY time`,
              'timeSeries',
            ),
          ],
        }),
        timeseries({
          title: 'Label coverage',
          description: 'Labelled / all predictions in each computation\'s window.',
          unit: 'percentunit',
          min: 0,
          max: 1,
          targets: [
            sql(
              `
              SELECT ts AS time, version, max(coverage) AS coverage
              FROM performance_results
              WHERE ${SELECTED} AND $__timeFilter(ts)
              GROUP BY time, version
              ORDER BY time`,
              'timeSeries',
            ),
          ],
        }),
      ],
    },
    {
      title: 'Latest',
      panels: [
        table({
          title: 'Latest value per metric',
          h: 9,
          columns: ['version', 'metric', 'kind', 'value', 'lower', 'upper', ['baseline_value', 'baseline'], 'drop', ['relative_drop', 'relative drop'], 'labelled', 'predictions', 'coverage', ['computed_at', 'computed at']],
          overrides: [columnUnit('relative_drop', 'percentunit', 1), columnUnit('coverage', 'percentunit', 1), columnUnit('computed_at', 'dateTimeAsIso')],
          targets: [
            sql(`
              SELECT version, metric, kind, argMax(value, ts) AS value, argMax(lower, ts) AS lower, argMax(upper, ts) AS upper,
                     argMax(baseline_value, ts) AS baseline_value, argMax(drop, ts) AS drop, argMax(relative_drop, ts) AS relative_drop,
                     argMax(labelled, ts) AS labelled, argMax(predictions, ts) AS predictions, argMax(coverage, ts) AS coverage,
                     max(ts) AS computed_at
              FROM performance_results
              WHERE ${SELECTED} AND ${METRICS} AND $__timeFilter(ts)
              GROUP BY version, metric, kind
              ORDER BY version, metric, kind`),
          ],
        }),
        table({
          title: 'Latest value per segment',
          description: 'Computations sliced by a segment key (e.g. GET /api/v1/models/{model}/performance?segment=channel).',
          h: 9,
          columns: ['version', ['segment_key', 'segment'], ['segment_value', 'value'], 'metric', 'kind', ['metric_value', 'metric value'], ['relative_drop', 'relative drop'], 'coverage', 'predictions'],
          overrides: [columnUnit('relative_drop', 'percentunit', 1), columnUnit('coverage', 'percentunit', 1)],
          targets: [
            sql(`
              SELECT version, segment_key, segment_value, metric, kind, argMax(value, ts) AS metric_value,
                     argMax(relative_drop, ts) AS relative_drop, argMax(coverage, ts) AS coverage, argMax(predictions, ts) AS predictions
              FROM performance_results
              WHERE ${MODEL_VERSION} AND window_seconds = toUInt32OrZero('\${window}') AND segment_key != '' AND ${METRICS} AND $__timeFilter(ts)
              GROUP BY version, segment_key, segment_value, metric, kind
              ORDER BY version, segment_key, segment_value, metric, kind`),
          ],
        }),
      ],
    },
  ],
});
