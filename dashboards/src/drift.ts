// Per-model drift: each feature's statistic over time against its threshold, the latest verdicts,
// distributions (reference = the version's baseline rows, current = the time range) and data quality.
import { chVariable, columnUnit, dashed, dashboard, sql, stat, table, timeseries, type Json } from './grafana.js';
import { dsClickHouse, model, MODEL_VERSION, version } from './variables.js';

const window = chVariable(
  'window',
  'Window (s)',
  `
  SELECT DISTINCT window_seconds
  FROM drift_results
  WHERE ${MODEL_VERSION} AND $__timeFilter(ts)
  ORDER BY window_seconds`,
);

const feature = chVariable(
  'feature',
  'Feature',
  `
  SELECT DISTINCT feature
  FROM drift_results
  WHERE ${MODEL_VERSION} AND $__timeFilter(ts)
  ORDER BY feature`,
  { multi: true, includeAll: true },
);

const SELECTED = `${MODEL_VERSION} AND window_seconds = toUInt32OrZero('\${window}') AND feature IN (\${feature})`;
const QUANTILES = '0.05, 0.25, 0.5, 0.75, 0.95';

// The baseline rows of the selected versions, for the reference side of the distributions.
const BASELINE_ROWS = `
        SELECT p.num AS num, p.cat AS cat
        FROM predictions AS p
        INNER JOIN (SELECT model, version, from_ts, to_ts FROM baselines FINAL WHERE ${MODEL_VERSION}) AS b
            ON p.model = b.model AND p.version = b.version
        WHERE p.model = '\${model}' AND p.version IN (\${version}) AND p.ts >= b.from_ts AND p.ts <= b.to_ts
          -- the same bounds as constants, so ClickHouse reads only the baseline's parts and granules
          AND p.ts >= (SELECT min(from_ts) FROM baselines FINAL WHERE ${MODEL_VERSION})
          AND p.ts <= (SELECT max(to_ts) FROM baselines FINAL WHERE ${MODEL_VERSION})`;

export const drift: Json = dashboard({
  uid: 'driftwatch-model-drift',
  title: 'Driftwatch / Model drift',
  description: 'Drift per feature for one model: statistics against thresholds, verdicts, distributions and data quality.',
  tags: ['drift'],
  time: 'now-6h',
  variables: [dsClickHouse, model, version, window, feature],
  rows: [
    {
      panels: [
        stat({
          title: 'Drifting features',
          description: 'Selected features whose latest verdict in the range is drift.',
          field: 'drifting',
          thresholds: [{ color: 'green', value: null }, { color: 'orange', value: 1 }],
          targets: [
            sql(`
              SELECT countIf(drifted) AS drifting
              FROM (SELECT version, feature, argMax(drift, ts) AS drifted FROM drift_results WHERE ${SELECTED} AND $__timeFilter(ts) GROUP BY version, feature)`),
          ],
        }),
        stat({
          title: 'Drift share',
          description: 'Share of the selected features (and outputs) drifting by their latest verdict.',
          field: 'drift_share',
          unit: 'percentunit',
          targets: [
            sql(`
              SELECT avg(drifted) AS drift_share
              FROM (SELECT version, feature, toFloat64(argMax(drift, ts)) AS drifted FROM drift_results WHERE ${SELECTED} AND $__timeFilter(ts) GROUP BY version, feature)`),
          ],
        }),
        stat({
          title: 'Drift computations',
          description: 'Per-feature drift results stored in the range for this selection.',
          field: 'computations',
          targets: [sql(`SELECT count() AS computations FROM drift_results WHERE ${SELECTED} AND $__timeFilter(ts)`)],
        }),
        stat({
          title: 'Current window rows',
          description: 'Rows in the current window of the latest computation.',
          field: 'current_rows',
          targets: [sql(`SELECT argMax(current_rows, ts) AS current_rows FROM drift_results WHERE ${SELECTED} AND $__timeFilter(ts)`)],
        }),
      ],
    },
    {
      title: 'Statistics against thresholds',
      panels: [
        timeseries({
          title: 'Distance statistics (drift when statistic >= threshold)',
          description: 'PSI, KL, Jensen-Shannon, Hellinger, TVD, L-inf and normalised Wasserstein per feature; dashed: the threshold.',
          overrides: [dashed('^threshold.*')],
          targets: [
            sql(
              `
              SELECT ts AS time, concat(version, ' ', feature, ' ', method) AS series, statistic, threshold
              FROM drift_results
              WHERE ${SELECTED} AND p_value IS NULL AND $__timeFilter(ts)
              ORDER BY time`,
              'timeSeries',
            ),
          ],
        }),
        timeseries({
          title: 'Test p-values (drift when p-value < threshold)',
          description: 'Kolmogorov-Smirnov and chi-square p-values per feature; dashed: the significance threshold.',
          overrides: [dashed('^threshold.*')],
          targets: [
            sql(
              `
              SELECT ts AS time, concat(version, ' ', feature, ' ', method) AS series, p_value, threshold
              FROM drift_results
              WHERE ${SELECTED} AND p_value IS NOT NULL AND $__timeFilter(ts)
              ORDER BY time`,
              'timeSeries',
            ),
          ],
        }),
        {
          ...timeseries({
            title: 'Verdicts over time',
            description: '1 = drift, 0 = no drift, per feature and method.',
            w: 24,
            h: 7,
            targets: [
              sql(
                `
                SELECT ts AS time, concat(version, ' ', feature, ' ', method) AS series, toUInt8(drift) AS drift
                FROM drift_results
                WHERE ${SELECTED} AND $__timeFilter(ts)
                ORDER BY time`,
                'timeSeries',
              ),
            ],
          }),
          type: 'state-timeline',
          options: { showValue: 'never', mergeValues: true, rowHeight: 0.8, legend: { showLegend: false } },
        },
        table({
          title: 'Latest verdict per feature',
          h: 9,
          sortBy: 'statistic',
          columns: ['version', 'feature', 'type', 'method', 'statistic', ['p_value', 'p-value'], 'threshold', 'drift', ['reference_rows', 'reference rows'], ['current_rows', 'current rows'], ['current_missing', 'current missing'], ['computed_at', 'computed at']],
          overrides: [columnUnit('computed_at', 'dateTimeAsIso'), columnUnit('statistic', 'none', 4), columnUnit('p_value', 'sci', 2)],
          targets: [
            sql(`
              SELECT version, feature, any(type) AS type, argMax(method, ts) AS method, argMax(statistic, ts) AS statistic,
                     argMax(p_value, ts) AS p_value, argMax(threshold, ts) AS threshold, argMax(drift, ts) AS drift,
                     argMax(reference_rows, ts) AS reference_rows, argMax(current_rows, ts) AS current_rows,
                     argMax(current_missing, ts) AS current_missing, max(ts) AS computed_at
              FROM drift_results
              WHERE ${SELECTED} AND $__timeFilter(ts)
              GROUP BY version, feature
              ORDER BY drift DESC, version, feature`),
          ],
        }),
      ],
    },
    {
      title: 'Distributions: reference (baseline) vs current (time range)',
      panels: [
        table({
          title: 'Numerical features: quantiles',
          description: 'Reference: the baseline rows of the selected versions. Current: the time range, from the per-minute t-digests.',
          h: 9,
          columns: ['feature', 'side', 'rows', 'p05', 'p25', 'p50', 'p75', 'p95', 'mean'],
          targets: [
            sql(`
              SELECT feature, side, rows, q[1] AS p05, q[2] AS p25, q[3] AS p50, q[4] AS p75, q[5] AS p95, mean
              FROM
              (
                  SELECT feature, 'reference' AS side, toUInt64(count()) AS rows, quantilesTDigest(${QUANTILES})(v) AS q, avg(v) AS mean
                  FROM (${BASELINE_ROWS}
                  )
                  ARRAY JOIN mapKeys(num) AS feature, mapValues(num) AS v
                  WHERE isFinite(v) AND feature IN (\${feature})
                  GROUP BY feature
                  UNION ALL
                  SELECT feature, 'current' AS side, toUInt64(sum(rows) - sum(missing) - sum(nonfinite)) AS rows,
                         quantilesTDigestMerge(${QUANTILES})(digest) AS q, sum(sum) / greatest(rows, 1) AS mean
                  FROM feature_minutes
                  WHERE ${MODEL_VERSION} AND feature IN (\${feature}) AND $__timeFilter(minute)
                  GROUP BY feature
              )
              ORDER BY feature, side DESC`),
          ],
        }),
        table({
          title: 'Categorical features: shares',
          description: 'Share of each value among the rows with a value, reference vs current.',
          h: 9,
          columns: ['feature', 'value', ['reference_share', 'reference'], ['current_share', 'current'], ['change', 'change']],
          overrides: [columnUnit('reference_share', 'percentunit', 1), columnUnit('current_share', 'percentunit', 1), columnUnit('change', 'percentunit', 1)],
          targets: [
            sql(`
              SELECT feature, value, reference_share, current_share, current_share - reference_share AS change
              FROM
              (
                  SELECT feature, value, sum(r) / sum(sum(r)) OVER (PARTITION BY feature) AS reference_share,
                         sum(c) / sum(sum(c)) OVER (PARTITION BY feature) AS current_share
                  FROM
                  (
                      SELECT feature, value, toFloat64(count()) AS r, 0. AS c
                      FROM (${BASELINE_ROWS}
                      )
                      ARRAY JOIN mapKeys(cat) AS feature, mapValues(cat) AS value
                      WHERE feature IN (\${feature})
                      GROUP BY feature, value
                      UNION ALL
                      SELECT feature, value, 0. AS r, toFloat64(sum(rows)) AS c
                      FROM category_minutes
                      WHERE ${MODEL_VERSION} AND feature IN (\${feature}) AND $__timeFilter(minute)
                      GROUP BY feature, value
                  )
                  GROUP BY feature, value
              )
              ORDER BY feature, abs(change) DESC`),
          ],
        }),
        timeseries({
          title: 'Numerical features: median over time',
          interval: '1m',
          targets: [
            sql(
              `
              SELECT $__timeInterval(minute) AS time, feature, quantileTDigestMerge(0.5)(digest) AS p50
              FROM feature_minutes
              WHERE ${MODEL_VERSION} AND feature IN (\${feature}) AND $__timeFilter(minute)
              GROUP BY time, feature
              ORDER BY time`,
              'timeSeries',
            ),
          ],
        }),
        timeseries({
          title: 'Categorical features: share of each value over time',
          interval: '1m',
          unit: 'percentunit',
          targets: [
            sql(
              `
              SELECT time, concat(feature, '=', value) AS series, n / sum(n) OVER (PARTITION BY time, feature) AS share
              FROM
              (
                  SELECT $__timeInterval(minute) AS time, feature, value, toFloat64(sum(rows)) AS n
                  FROM category_minutes
                  WHERE ${MODEL_VERSION} AND feature IN (\${feature}) AND $__timeFilter(minute)
                  GROUP BY time, feature, value
              )
              ORDER BY time`,
              'timeSeries',
            ),
          ],
        }),
      ],
    },
    {
      title: 'Data quality',
      panels: [
        timeseries({
          title: 'Missing values (numerical features)',
          description: 'Share of rows where the feature was sent without a value (NaN), per interval.',
          interval: '1m',
          unit: 'percentunit',
          targets: [
            sql(
              `
              SELECT $__timeInterval(minute) AS time, feature, sum(missing) / sum(rows) AS missing_share
              FROM feature_minutes
              WHERE ${MODEL_VERSION} AND feature IN (\${feature}) AND $__timeFilter(minute)
              GROUP BY time, feature
              ORDER BY time`,
              'timeSeries',
            ),
          ],
        }),
        table({
          title: 'Numerical features: quality in the range',
          h: 8,
          w: 12,
          columns: ['feature', 'rows', ['missing_share', 'missing'], ['nonfinite', '±Inf'], 'min', 'max', 'mean', 'stddev'],
          overrides: [columnUnit('missing_share', 'percentunit', 2)],
          targets: [
            sql(`
              SELECT feature, rows, missing / rows AS missing_share, nonfinite, lo AS min, hi AS max,
                     s / greatest(finite, 1) AS mean, sqrt(greatest(s2 / greatest(finite, 1) - pow(mean, 2), 0)) AS stddev
              FROM
              (
                  SELECT feature, sum(rows) AS rows, sum(missing) AS missing, sum(nonfinite) AS nonfinite,
                         rows - missing - nonfinite AS finite, min(min) AS lo, max(max) AS hi, sum(sum) AS s, sum(sum_sq) AS s2
                  FROM feature_minutes
                  WHERE ${MODEL_VERSION} AND feature IN (\${feature}) AND $__timeFilter(minute)
                  GROUP BY feature
              )
              ORDER BY feature`),
          ],
        }),
      ],
    },
  ],
});
