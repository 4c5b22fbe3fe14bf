// Version 4: per-minute rollups fed by materialized views, so quality, volume and latency over any
// window read thousands of aggregate states instead of millions of raw rows.
// - feature_minutes: per numerical feature: rows, missing (NaN), non-finite (+-Inf), min/max/sum/sum
//   of squares over finite values, and a t-digest state for quantiles.
// - category_minutes: per categorical feature and value: rows.
// - prediction_minutes: per model version: predictions, latency and score digests, score sums.
// Rollups count what was inserted: a record re-sent after a crash is counted again here, while the
// raw tables collapse it (ReplacingMergeTree); exact counts read the raw tables with FINAL.
export const name = 'rollups';
export const statements: string[] = [
  `CREATE TABLE IF NOT EXISTS feature_minutes
(
    model LowCardinality(String),
    version LowCardinality(String),
    feature LowCardinality(String),
    minute DateTime('UTC') CODEC(Delta, ZSTD(1)),
    rows SimpleAggregateFunction(sum, UInt64),
    missing SimpleAggregateFunction(sum, UInt64),
    nonfinite SimpleAggregateFunction(sum, UInt64),
    min SimpleAggregateFunction(min, Float64),
    max SimpleAggregateFunction(max, Float64),
    sum SimpleAggregateFunction(sum, Float64),
    sum_sq SimpleAggregateFunction(sum, Float64),
    digest AggregateFunction(quantileTDigest, Float64)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(minute)
ORDER BY (model, version, feature, minute)
TTL minute + INTERVAL 400 DAY`,
  `CREATE MATERIALIZED VIEW IF NOT EXISTS feature_minutes_mv TO feature_minutes AS
SELECT model, version, k AS feature, toStartOfMinute(ts) AS minute,
       count() AS rows,
       countIf(isNaN(v)) AS missing,
       countIf(isInfinite(v)) AS nonfinite,
       if(countIf(isFinite(v)) = 0, inf, minIf(v, isFinite(v))) AS min,
       if(countIf(isFinite(v)) = 0, -inf, maxIf(v, isFinite(v))) AS max,
       sumIf(v, isFinite(v)) AS sum,
       sumIf(v * v, isFinite(v)) AS sum_sq,
       quantileTDigestStateIf(v, isFinite(v)) AS digest
FROM predictions
ARRAY JOIN mapKeys(num) AS k, mapValues(num) AS v
GROUP BY model, version, feature, minute`,
  `CREATE TABLE IF NOT EXISTS category_minutes
(
    model LowCardinality(String),
    version LowCardinality(String),
    feature LowCardinality(String),
    minute DateTime('UTC') CODEC(Delta, ZSTD(1)),
    value String,
    rows UInt64
)
ENGINE = SummingMergeTree(rows)
PARTITION BY toYYYYMM(minute)
ORDER BY (model, version, feature, minute, value)
TTL minute + INTERVAL 400 DAY`,
  `CREATE MATERIALIZED VIEW IF NOT EXISTS category_minutes_mv TO category_minutes AS
SELECT model, version, k AS feature, toStartOfMinute(ts) AS minute, v AS value, count() AS rows
FROM predictions
ARRAY JOIN mapKeys(cat) AS k, mapValues(cat) AS v
GROUP BY model, version, feature, minute, value`,
  `CREATE TABLE IF NOT EXISTS prediction_minutes
(
    model LowCardinality(String),
    version LowCardinality(String),
    minute DateTime('UTC') CODEC(Delta, ZSTD(1)),
    predictions SimpleAggregateFunction(sum, UInt64),
    with_latency SimpleAggregateFunction(sum, UInt64),
    latency_digest AggregateFunction(quantileTDigest, Float32),
    with_score SimpleAggregateFunction(sum, UInt64),
    score_sum SimpleAggregateFunction(sum, Float64),
    score_digest AggregateFunction(quantileTDigest, Float64),
    outputs SimpleAggregateFunction(sumMap, Map(String, UInt64))
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(minute)
ORDER BY (model, version, minute)
TTL minute + INTERVAL 400 DAY`,
  `CREATE MATERIALIZED VIEW IF NOT EXISTS prediction_minutes_mv TO prediction_minutes AS
SELECT model, version, toStartOfMinute(ts) AS minute,
       count() AS predictions,
       countIf(isFinite(latency_ms)) AS with_latency,
       quantileTDigestStateIf(latency_ms, isFinite(latency_ms)) AS latency_digest,
       countIf(isFinite(score)) AS with_score,
       sumIf(score, isFinite(score)) AS score_sum,
       quantileTDigestStateIf(score, isFinite(score)) AS score_digest,
       sumMap(map(prediction, toUInt64(1))) AS outputs
FROM predictions
GROUP BY model, version, minute`,
];
