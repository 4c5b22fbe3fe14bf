// Version 2: model performance results (realized metrics from joined labels, their drop from the
// baseline window, and CBPE estimates before the labels arrive), one row per metric computed.
export const name = "performance";
export const statements: string[] = [
  `-- Every performance computation, one row per (segment, metric, kind). kind = 'realized' (from labels)
-- or 'estimated' (CBPE). value/baseline/drop are NULL when undefined (e.g. ROC AUC with one class).
CREATE TABLE IF NOT EXISTS performance_results
(
    ts DateTime64(3, 'UTC'),
    model LowCardinality(String),
    version LowCardinality(String),
    window_seconds UInt32,
    window_from DateTime64(3, 'UTC'),
    window_to DateTime64(3, 'UTC'),
    segment_key LowCardinality(String),
    segment_value String,
    task LowCardinality(String),
    metric LowCardinality(String),
    kind LowCardinality(String),
    value Nullable(Float64),
    lower Nullable(Float64),
    upper Nullable(Float64),
    baseline_value Nullable(Float64),
    drop Nullable(Float64),
    relative_drop Nullable(Float64),
    predictions UInt64,
    labelled UInt64,
    coverage Float64,
    baseline_from DateTime64(3, 'UTC'),
    baseline_to DateTime64(3, 'UTC')
)
ENGINE = MergeTree
PARTITION BY toDate(ts)
ORDER BY (model, version, metric, ts)
TTL toDateTime(ts) + INTERVAL 400 DAY`,
];
