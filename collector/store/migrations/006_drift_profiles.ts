// Version 6: baselines stored as profiles, and live drift from per-minute bin counts.
// - baselines gains profile_id (the profile in use; 0 = a baseline from before profiles, rebuilt
//   from its time range at start) and rollup_from (drift_minutes holds every current minute from
//   there on for this profile; earlier windows read raw rows).
// - drift_profiles: per model/version/profile/feature the reference summary: rows, non-missing n,
//   +-Inf count, capped distinct count, population std, min/max, the conventions' bin edges and
//   reference bin counts (numerical), or the reference category counts (categorical).
// - drift_profile_values: per numerical feature the reference's distinct values with their counts
//   (exact while a feature has at most PROFILE_MAX_VALUES distinct values; otherwise that many
//   quantiles, each counted once, flagged values_exact = false in drift_profiles): what KS and
//   Wasserstein need, so the reference rows are never re-read.
// - drift_minutes, fed by drift_minutes_mv: per model/version/profile/feature/minute the current
//   values' bin counts under the version's baseline edges, binned at insert time by joining the
//   inserted block with the current profile. Keys of `bins`: bin * 2 + (outside the reference's
//   [min, max]) for finite values, 65534 for NaN (missing), 65535 for +-Inf. Numerical features and
//   the outputs @score and @prediction (finite or +-Inf: NaN outputs are left out, as in raw drift).
export const name = 'drift_profiles';
export const statements: string[] = [
  `ALTER TABLE baselines ADD COLUMN IF NOT EXISTS profile_id UInt64 DEFAULT 0`,
  `ALTER TABLE baselines ADD COLUMN IF NOT EXISTS rollup_from DateTime64(3, 'UTC') DEFAULT 0`,
  `CREATE TABLE IF NOT EXISTS drift_profiles
(
    model LowCardinality(String),
    version LowCardinality(String),
    profile_id UInt64,
    feature LowCardinality(String),
    type LowCardinality(String),
    rows UInt64,
    n UInt64,
    nonfinite UInt64,
    distinct_capped UInt64,
    std Float64,
    min Float64,
    max Float64,
    edges Array(Float64),
    ref_bins Array(UInt64),
    categories Array(String),
    category_counts Array(UInt64),
    values_exact Bool,
    created_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = MergeTree
ORDER BY (model, version, profile_id, feature)`,
  `CREATE TABLE IF NOT EXISTS drift_profile_values
(
    model LowCardinality(String),
    version LowCardinality(String),
    profile_id UInt64,
    feature LowCardinality(String),
    value Float64,
    count UInt64
)
ENGINE = MergeTree
ORDER BY (model, version, profile_id, feature, value)`,
  `CREATE TABLE IF NOT EXISTS drift_minutes
(
    model LowCardinality(String),
    version LowCardinality(String),
    profile_id UInt64,
    feature LowCardinality(String),
    minute DateTime('UTC') CODEC(Delta, ZSTD(1)),
    bins SimpleAggregateFunction(sumMap, Map(UInt16, UInt64))
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(minute)
ORDER BY (model, version, profile_id, feature, minute)
TTL minute + INTERVAL 400 DAY`,
  `CREATE MATERIALIZED VIEW IF NOT EXISTS drift_minutes_mv TO drift_minutes AS
SELECT s.model AS model, s.version AS version, p.profile_id AS profile_id, s.feature AS feature,
       toStartOfMinute(s.ts) AS minute,
       sumMap(map(multiIf(isNaN(s.v), toUInt16(65534), isInfinite(s.v), toUInt16(65535),
                          toUInt16(arrayCount(e -> e <= s.v, p.edges) * 2 + (s.v < p.min OR s.v > p.max))), toUInt64(1))) AS bins
FROM (
    SELECT model, version, ts, x.1 AS feature, x.2 AS v FROM predictions
    ARRAY JOIN arrayConcat(
        arrayZip(CAST(mapKeys(num), 'Array(String)'), mapValues(num)),
        arrayFilter(y -> NOT isNaN(y.2), [('@score', score), ('@prediction', prediction_num)])) AS x
) AS s
INNER JOIN (
    SELECT model, version, feature, profile_id, edges, min, max FROM drift_profiles
    WHERE type = 'numerical'
      AND (model, version, profile_id) IN (SELECT model, version, argMax(profile_id, created_at) FROM baselines GROUP BY model, version)
) AS p ON s.model = p.model AND s.version = p.version AND s.feature = p.feature
GROUP BY model, version, profile_id, feature, minute`,
];
