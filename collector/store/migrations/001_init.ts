// Version 1: raw predictions and labels, baselines, drift results, alert state.
// {retention_days} is substituted by the migration runner (a validated integer).
export const name = "init";
export const statements: string[] = [
  `-- Raw predictions: one row per ml.prediction record. Numerical features in \`num\` (NaN marks a
-- missing value, +-Inf is kept as sent), categorical ones in \`cat\`. Resent records (same model,
-- version, timestamp and id) collapse into one row on merge:
-- queries that must count exactly use FINAL.
CREATE TABLE IF NOT EXISTS predictions
(
    model LowCardinality(String),
    version LowCardinality(String),
    ts DateTime64(3, 'UTC') CODEC(Delta, ZSTD(1)),
    id String CODEC(ZSTD(1)),
    prediction String CODEC(ZSTD(1)),
    prediction_num Float64 CODEC(Gorilla, ZSTD(1)),
    score Float64 CODEC(Gorilla, ZSTD(1)),
    latency_ms Float32 CODEC(Gorilla, ZSTD(1)),
    num Map(LowCardinality(String), Float64),
    cat Map(LowCardinality(String), String),
    segment Map(LowCardinality(String), String),
    received_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(received_at)
PARTITION BY toDate(ts)
ORDER BY (model, version, ts, id)
TTL toDateTime(ts) + INTERVAL {retention_days:UInt32} DAY
SETTINGS ttl_only_drop_parts = 1`,
  `-- Ground truth, joined to predictions by (model, id). A later label for the same id replaces the earlier.
CREATE TABLE IF NOT EXISTS labels
(
    model LowCardinality(String),
    id String,
    ts DateTime64(3, 'UTC') CODEC(Delta, ZSTD(1)),
    label String CODEC(ZSTD(1)),
    received_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(ts)
ORDER BY (model, id)
TTL toDateTime(received_at) + INTERVAL {retention_days:UInt32} DAY`,
  `-- Reference windows per model version: drift compares the current window against these rows.
CREATE TABLE IF NOT EXISTS baselines
(
    model LowCardinality(String),
    version LowCardinality(String),
    source LowCardinality(String),
    from_ts DateTime64(3, 'UTC'),
    to_ts DateTime64(3, 'UTC'),
    rows UInt64,
    created_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(created_at)
ORDER BY (model, version)`,
  `-- Every drift computation, one row per feature, for history and dashboards.
CREATE TABLE IF NOT EXISTS drift_results
(
    ts DateTime64(3, 'UTC'),
    model LowCardinality(String),
    version LowCardinality(String),
    window_seconds UInt32,
    feature LowCardinality(String),
    type LowCardinality(String),
    method LowCardinality(String),
    statistic Float64,
    p_value Nullable(Float64),
    threshold Float64,
    drift Bool,
    reference_rows UInt64,
    current_rows UInt64,
    reference_missing UInt64,
    current_missing UInt64
)
ENGINE = MergeTree
PARTITION BY toDate(ts)
ORDER BY (model, version, feature, ts)
TTL toDateTime(ts) + INTERVAL 400 DAY`,
  `-- Alert state per alert identity, so a restart neither re-pages nor forgets a firing alert.
CREATE TABLE IF NOT EXISTS alert_state
(
    fingerprint String,
    rule LowCardinality(String),
    labels Map(String, String),
    annotations Map(String, String),
    receivers Array(String),
    state LowCardinality(String),
    value Float64,
    active_at DateTime64(3, 'UTC'),
    fired_at Nullable(DateTime64(3, 'UTC')),
    resolved_at Nullable(DateTime64(3, 'UTC')),
    updated_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(updated_at)
ORDER BY fingerprint`,
];
