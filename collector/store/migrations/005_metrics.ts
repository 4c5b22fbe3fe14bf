// Version 5: OTLP metric data points (latency histograms, counters, gauges from any SDK).
export const name = 'metrics';
export const statements: string[] = [
  `CREATE TABLE IF NOT EXISTS metric_points
(
    metric LowCardinality(String),
    kind LowCardinality(String),
    model LowCardinality(String),
    version LowCardinality(String),
    ts DateTime64(3, 'UTC') CODEC(Delta, ZSTD(1)),
    start_ts DateTime64(3, 'UTC') CODEC(Delta, ZSTD(1)),
    temporality LowCardinality(String),
    monotonic Bool,
    value Float64 CODEC(Gorilla, ZSTD(1)),
    count UInt64 CODEC(T64, ZSTD(1)),
    sum Float64 CODEC(Gorilla, ZSTD(1)),
    bounds Array(Float64),
    buckets Array(UInt64),
    attributes Map(LowCardinality(String), String)
)
ENGINE = MergeTree
PARTITION BY toDate(ts)
ORDER BY (metric, model, version, ts)
TTL toDateTime(ts) + INTERVAL {retention_days:UInt32} DAY
SETTINGS ttl_only_drop_parts = 1`,
];
