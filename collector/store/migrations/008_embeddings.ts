// Version 8: vector features.
// - `emb` on predictions: each record's embeddings (ml.embedding.<name>; one dimension per model
//   version, checked at ingest), stored as Float32.
// - embedding_minutes: per model, version, embedding, dimension and minute: rows, vectors with every
//   component finite (n), and the per-dimension sums and sums of squares of those vectors
//   (sumForEach states), so a window's centroid and per-dimension variance read 1 440 states a day.
// - drift_profile_embeddings: a baseline profile's summary of each embedding (the centroid, the
//   per-dimension sample variance and n), so live centroid drift never re-reads the reference rows.
// Every statement is idempotent (IF NOT EXISTS).
export const name = 'embeddings';
const EMPTY = `CAST([], 'Array(Float64)')`;
export const statements: string[] = [
  `ALTER TABLE predictions ADD COLUMN IF NOT EXISTS emb Map(LowCardinality(String), Array(Float32)) CODEC(ZSTD(1)) AFTER segment`,
  `CREATE TABLE IF NOT EXISTS embedding_minutes
(
    model LowCardinality(String),
    version LowCardinality(String),
    embedding LowCardinality(String),
    dim UInt32,
    minute DateTime('UTC') CODEC(Delta, ZSTD(1)),
    rows SimpleAggregateFunction(sum, UInt64),
    n SimpleAggregateFunction(sum, UInt64),
    sum AggregateFunction(sumForEach, Array(Float64)),
    sum_sq AggregateFunction(sumForEach, Array(Float64))
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(minute)
ORDER BY (model, version, embedding, dim, minute)
TTL minute + INTERVAL 400 DAY`,
  `CREATE MATERIALIZED VIEW IF NOT EXISTS embedding_minutes_mv TO embedding_minutes AS
SELECT model, version, k AS embedding, toUInt32(length(e)) AS dim, toStartOfMinute(ts) AS minute,
       count() AS rows, countIf(ok) AS n,
       sumForEachState(if(ok, v, ${EMPTY})) AS sum,
       sumForEachState(if(ok, arrayMap(x -> x * x, v), ${EMPTY})) AS sum_sq
FROM (
    SELECT model, version, ts, k, e, CAST(e, 'Array(Float64)') AS v, arrayAll(x -> isFinite(x), e) AS ok
    FROM predictions ARRAY JOIN mapKeys(emb) AS k, mapValues(emb) AS e
    WHERE notEmpty(emb)
)
GROUP BY model, version, embedding, dim, minute`,
  `CREATE TABLE IF NOT EXISTS drift_profile_embeddings
(
    model LowCardinality(String),
    version LowCardinality(String),
    profile_id UInt64,
    embedding LowCardinality(String),
    -- reference rows (predictions); vectors with every component finite (n, the ones summarised);
    -- vectors with a non-finite component (left out)
    rows UInt64,
    n UInt64,
    nonfinite UInt64,
    dim UInt32,
    -- per dimension over the n vectors: the mean, and the sample variance (ddof = 1)
    mean Array(Float64),
    var Array(Float64),
    created_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(created_at)
ORDER BY (model, version, profile_id, embedding)`,
];
