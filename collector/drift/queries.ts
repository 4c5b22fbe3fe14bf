// The SQL of the drift engine. Every query reads the caller's source as a subquery and groups by
// column, so one scan serves all columns; only per-column summaries leave ClickHouse.
//
// Numerical source columns: side UInt8 (0 reference, 1 current), column String, value Float64
// (NaN/+-Inf/NULL = missing). Categorical: side, column, value Nullable(String) (NULL or '' = missing).
// Our own query parameters are all named dw_engine_*; sources may use any other names.
import { AUTO_MAX_DISCRETE_VALUES } from './auto.js';
import { QUANTILE_BINS, QUANTILE_LEVELS } from './bins.js';

function body(sql: string): string {
  return sql.trim().replace(/;+\s*$/, '');
}

/** The numerical source normalised to (dw_side, dw_col, dw_v, dw_ok). */
export function numericInput(sql: string): string {
  return `SELECT dw_side, dw_col, dw_v, isFinite(dw_v) AS dw_ok FROM (
    SELECT toUInt8(side) AS dw_side, toString(\`column\`) AS dw_col, ifNull(toFloat64(value), nan) AS dw_v
    FROM (${body(sql)}) WHERE side IN (0, 1))`;
}

/** The categorical source normalised to (dw_side, dw_col, dw_val), dw_val NULL when missing. */
export function categoricalInput(sql: string): string {
  return `SELECT toUInt8(side) AS dw_side, toString(\`column\`) AS dw_col, nullIf(toString(value), '') AS dw_val
    FROM (${body(sql)}) WHERE side IN (0, 1)`;
}

/**
 * One row per numerical column: rows and non-missing counts per side, the reference's quantile
 * edges (as float bits), its number of distinct values capped at AUTO_MAX_DISCRETE_VALUES + 1 (all
 * `auto` needs), its population standard deviation, minimum and maximum.
 *
 * quantileExactInclusive is numpy's "linear" method but interpolates as a + t (b - a) with
 * t = frac(level (n - 1) + 1), where numpy computes b - (b - a)(1 - t) for t >= 0.5: the edges can
 * differ in the last bit. Bins cannot: an edge lies between the consecutive order statistics a <= b,
 * both libraries return exactly a when the position is integral, and for the levels k/10 the
 * rounding of level (n - 1) only ever lands just below an integer, where both edges are >= a's
 * successor or exactly b. Only a value strictly inside that last-bit gap could fall differently.
 */
export function numericSummarySql(sql: string, opts: { quantiles?: boolean } = {}): string {
  const ref = 'dw_side = 0 AND dw_ok';
  const quantiles = opts.quantiles ?? true;
  return `SELECT dw_col AS col,
    countIf(dw_side = 0) AS ref_rows,
    countIf(dw_side = 1) AS cur_rows,
    countIf(${ref}) AS n,
    countIf(dw_side = 1 AND dw_ok) AS m,
    countIf(dw_side = 0 AND isInfinite(dw_v)) AS ref_inf,
    countIf(dw_side = 1 AND isInfinite(dw_v)) AS cur_inf,${quantiles ? `
    ${quantilesExpr(ref)} AS q,` : ''}
    length(groupUniqArrayIf(${AUTO_MAX_DISCRETE_VALUES + 1})(dw_v + 0., ${ref})) AS distinct_capped,
    stddevPopStableIf(dw_v, ${ref}) AS std,
    toString(reinterpretAsUInt64(minIf(dw_v, ${ref}))) AS ref_min,
    toString(reinterpretAsUInt64(maxIf(dw_v, ${ref}))) AS ref_max
  FROM (${numericInput(sql)})
  GROUP BY col`;
}

const quantilesExpr = (cond: string) =>
  `arrayMap(x -> toString(reinterpretAsUInt64(x)), quantilesExactInclusiveIf(${QUANTILE_LEVELS.map(String).join(', ')})(dw_v, ${cond}))`;

/**
 * The reference's quantile edges (as float bits, the `q` of numericSummarySql) of the columns in
 * {dw_engine_q_cols} only: exact quantiles hold every reference value, so they are computed for the
 * columns whose method bins, not for those that only need raw-value distances.
 */
export function numericQuantilesSql(sql: string): string {
  return `SELECT dw_col AS col, ${quantilesExpr('dw_side = 0')} AS q
  FROM (${numericInput(sql)})
  WHERE dw_ok AND dw_col IN {dw_engine_q_cols:Array(String)}
  GROUP BY col`;
}

// Floats as order-preserving unsigned integers: x >= +0 gets its sign bit set, x < 0 all bits
// flipped; -0 is folded into +0 first (v + 0.). Unsigned order then equals numeric order.
const SIGN = 'toUInt64(9223372036854775808)';
const orderBits = (v: string) => `if(bitTest(reinterpretAsUInt64(${v} + 0.), 63), bitNot(reinterpretAsUInt64(${v} + 0.)), bitOr(reinterpretAsUInt64(${v} + 0.), ${SIGN}))`;
const fromOrderBits = (u: string) => `reinterpretAsFloat64(if(bitTest(${u}, 63), bitXor(${u}, ${SIGN}), bitNot(${u})))`;

/**
 * KS D and the (unnormalised) Wasserstein-1 distance on raw values, for the columns in
 * {dw_engine_raw_cols}. Per column both samples are sorted together, each value carried as one
 * UInt128 key (order bits << 1 | side: a plain numeric groupArray and sort, several times faster than
 * an array of tuples or two sorts). With c0 the cumulative count of reference values at a position
 * and c1 = position - c0, F - G = c0/n - c1/m is evaluated only at the last position of each run of
 * equal values (searchsorted side=right, so ties are exact); D = max |F - G| and
 * W = sum |F - G| * (next - value).
 * ClickHouse's kolmogorovSmirnovTest is not used: it treats values closer than 1e-7 as ties and
 * accumulates D in floating point. Also counts the current values outside the reference's range:
 * those sorted before the first reference key (strictly below its minimum: at equal values the
 * reference key sorts first) and those whose key exceeds the last reference key with the side bit
 * set (strictly above its maximum).
 * (Lambdas here capture no arrays: ClickHouse would copy a captured array once per element. Every
 * intermediate array costs a pass over a million elements, so there are as few as the formulas allow.)
 */
export function rawDistanceSql(sql: string): string {
  return `SELECT col, n, m, d, w, oor FROM (
    SELECT dw_col AS col,
      countIf(dw_side = 0) AS n,
      count() - n AS m,
      ${rawArrays('groupArray')}
    FROM (${numericInput(sql)})
    WHERE dw_ok AND dw_col IN {dw_engine_raw_cols:Array(String)}
    GROUP BY col)`;
}

/** The sorted keys and the array formulas of rawDistanceSql, given n and m (aggregate: groupArray or groupArrayIf). */
function rawArrays(aggregate: 'groupArray' | 'groupArrayIf'): string {
  const key = `bitOr(bitShiftLeft(toUInt128(${orderBits('dw_v')}), 1), toUInt128(dw_side))`;
  return `arraySort(${aggregate}(${key}${aggregate === 'groupArrayIf' ? ', dw_ok' : ''})) AS keys,
      arrayCumSum(arrayMap(k -> toUInt64(bitAnd(k, 1) = 0), keys)) AS c0,
      arrayMap(k -> ${fromOrderBits('toUInt64(bitShiftRight(k, 1))')}, keys) AS sv,
      arrayResize(arrayPopFront(sv), length(sv), nan) AS nx,
      arrayMap((c, i, x, y) -> if(x != y, abs(c / n - (i - c) / m), 0.), c0, arrayEnumerate(c0), sv, nx) AS diffs,
      arrayMax(diffs) AS d,
      arraySum(arrayMap((df, x, y) -> if(isFinite(y), df * (y - x), 0.), diffs, sv, nx)) AS w,
      bitOr(keys[arrayLastIndex(k -> bitAnd(k, 1) = 0, keys)], toUInt128(1)) AS top_key,
      arrayFirstIndex(k -> bitAnd(k, 1) = 0, keys) - 1 + arrayCount(k -> k > top_key, keys) AS oor`;
}

/**
 * numericSummarySql (without quantiles) and rawDistanceSql in one scan, for every column: when the
 * methods asked for are raw-value ones or `auto` (which picks one for any numerical column with more
 * than 5 distinct reference values), the summary's scan is the raw distances' scan too. Rows with
 * n = 0 or m = 0 carry meaningless d, w and oor.
 */
export function numericSummaryRawSql(sql: string): string {
  const ref = 'dw_side = 0 AND dw_ok';
  return `SELECT col, ref_rows, cur_rows, n, m, ref_inf, cur_inf, distinct_capped, std, ref_min, ref_max, d, w, oor FROM (
    SELECT dw_col AS col,
      countIf(dw_side = 0) AS ref_rows,
      countIf(dw_side = 1) AS cur_rows,
      countIf(${ref}) AS n,
      countIf(dw_side = 1 AND dw_ok) AS m,
      countIf(dw_side = 0 AND isInfinite(dw_v)) AS ref_inf,
      countIf(dw_side = 1 AND isInfinite(dw_v)) AS cur_inf,
      length(groupUniqArrayIf(${AUTO_MAX_DISCRETE_VALUES + 1})(dw_v + 0., ${ref})) AS distinct_capped,
      stddevPopStableIf(dw_v, ${ref}) AS std,
      toString(reinterpretAsUInt64(minIf(dw_v, ${ref}))) AS ref_min,
      toString(reinterpretAsUInt64(maxIf(dw_v, ${ref}))) AS ref_max,
      ${rawArrays('groupArrayIf')}
    FROM (${numericInput(sql)})
    GROUP BY col)`;
}

/**
 * Bin counts of numerical columns: per (column, side, bin, oor) where bin = #{edges <= v} and oor
 * marks values outside the reference's [min, max]. Column {dw_engine_bin_cols}[i] has the bounds
 * {dw_engine_bin_edges}[i] = [min, max, edges..., +Inf padding to QUANTILE_BINS - 1 edges], as float bits.
 */
export function numericBinCountsSql(sql: string): string {
  const e = Array.from({ length: QUANTILE_BINS - 1 }, (_, k) => k);
  const at = (i: number) => `reinterpretAsFloat64(toUInt64(tupleElement(dw_t, 2)[${i}]))`;
  return `SELECT dw_col AS col, dw_side AS side, (${e.map((k) => `(dw_e${k} <= dw_v)`).join(' + ')}) AS bin,
    (dw_v < dw_min OR dw_v > dw_max) AS oor, count() AS c
  FROM (SELECT dw_side, dw_col, dw_v FROM (${numericInput(sql)}) WHERE dw_ok) AS s
  INNER JOIN (
    SELECT tupleElement(dw_t, 1) AS dw_col, ${at(1)} AS dw_min, ${at(2)} AS dw_max, ${e.map((k) => `${at(k + 3)} AS dw_e${k}`).join(', ')}
    FROM (SELECT arrayJoin(arrayZip({dw_engine_bin_cols:Array(String)}, {dw_engine_bin_edges:Array(Array(String))})) AS dw_t)
  ) AS e USING dw_col
  GROUP BY col, side, bin, oor`;
}

/**
 * numericBinCountsSql for one column whose bounds are known: [min, max, edges..., +Inf padding], as
 * float bits, inlined as constants. A source yielding only that column needs no join.
 */
export function numericColumnBinCountsSql(sql: string, column: string, bounds: readonly string[]): string {
  for (const b of bounds) if (!/^[0-9]{1,20}$/.test(b)) throw new Error(`not the bits of a 64-bit float: ${JSON.stringify(b)}`);
  const at = (i: number) => `reinterpretAsFloat64(toUInt64(${bounds[i]}))`;
  const edges = bounds.slice(2).map((_, k) => `(${at(k + 2)} <= dw_v)`);
  const name = "'" + column.replaceAll('\\', '\\\\').replaceAll("'", "\\'") + "'";
  return `SELECT dw_col AS col, dw_side AS side, (${edges.join(' + ')}) AS bin, (dw_v < ${at(0)} OR dw_v > ${at(1)}) AS oor, count() AS c
  FROM (${numericInput(sql)})
  WHERE dw_ok AND dw_col = ${name}
  GROUP BY col, side, bin, oor`;
}

/** Category counts per side, NULL (missing) included as its own row. */
export function categoryCountsSql(sql: string): string {
  return `SELECT dw_col AS col, dw_val AS val, countIf(dw_side = 0) AS c0, countIf(dw_side = 1) AS c1
  FROM (${categoricalInput(sql)})
  GROUP BY col, val`;
}
