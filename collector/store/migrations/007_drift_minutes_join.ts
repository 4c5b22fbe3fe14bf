// Version 7: drift_minutes_mv (version 6) replaced by drift_minutes_bins_mv, the same counts at
// about half the insert-time cost: the inserted block is joined with the current profiles on one
// UInt64 key, cityHash64(model, version, feature), instead of three strings, and a value's bin is
// a sum of nine comparisons with the edges padded with +Inf (QUANTILE_BINS - 1 = 9), not a lambda.
// (Two features of one version whose hashes collide would share edges: with 64-bit hashes, not a
// practical concern.) Keys of `bins` as in version 6.
export const name = 'drift_minutes_join';
const E = Array.from({ length: 9 }, (_, i) => i);
export const statements: string[] = [
  `DROP VIEW IF EXISTS drift_minutes_mv`,
  `CREATE MATERIALIZED VIEW IF NOT EXISTS drift_minutes_bins_mv TO drift_minutes AS
SELECT s.model AS model, s.version AS version, p.profile_id AS profile_id, s.feature AS feature,
       toStartOfMinute(s.ts) AS minute,
       sumMap(map(multiIf(isNaN(s.v), toUInt16(65534), isInfinite(s.v), toUInt16(65535),
                          toUInt16((${E.map((i) => `(p.e${i} <= s.v)`).join(' + ')}) * 2 + (s.v < p.min OR s.v > p.max))), toUInt64(1))) AS bins
FROM (
    SELECT model, version, ts, x.1 AS feature, x.2 AS v, cityHash64(model, version, x.1) AS h FROM predictions
    ARRAY JOIN arrayConcat(
        arrayZip(CAST(mapKeys(num), 'Array(String)'), mapValues(num)),
        arrayFilter(y -> NOT isNaN(y.2), [('@score', score), ('@prediction', prediction_num)])) AS x
) AS s
INNER JOIN (
    SELECT cityHash64(model, version, feature) AS h, profile_id, min, max,
           ${E.map((i) => `if(length(edges) > ${i}, edges[${i + 1}], inf) AS e${i}`).join(', ')}
    FROM drift_profiles
    WHERE type = 'numerical'
      AND (model, version, profile_id) IN (SELECT model, version, argMax(profile_id, created_at) FROM baselines GROUP BY model, version)
) AS p ON s.h = p.h
GROUP BY model, version, profile_id, feature, minute`,
];
