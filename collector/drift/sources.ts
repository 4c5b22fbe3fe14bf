// Long-format drift sources over the raw predictions table: one row per (side, column, value), as
// the engine (engine.ts) and the profile builder (profile.ts) read them. Features come from the
// `num` and `cat` maps; the model outputs are the pseudo-columns @score and @prediction (numerical
// when prediction_num is finite or +-Inf, else categorical; a NaN output is left out).
// A side is [side number, from parameter name, to parameter name]; both bounds are inclusive
// DateTime64(3). Every source filters on {dw_model:String} and {dw_version:String}, and `filter`
// (SQL over the predictions row, e.g. a segment condition) when given.

export type Side = readonly [side: 0 | 1, from: string, to: string];

const where = (from: string, to: string, filter: string | undefined) =>
  `model = {dw_model:String} AND version = {dw_version:String} AND ts >= {${from}:DateTime64(3)} AND ts <= {${to}:DateTime64(3)}${filter ? ` AND (${filter})` : ''}`;

export function rawNumericSource(sides: readonly Side[], filter?: string): string {
  const parts: string[] = [];
  for (const [s, from, to] of sides) {
    parts.push(`
    SELECT ${s} AS side, k AS column, v AS value FROM predictions
    ARRAY JOIN mapKeys(num) AS k, mapValues(num) AS v
    WHERE ${where(from, to, filter)}`);
    parts.push(`
    SELECT ${s} AS side, c.1 AS column, c.2 AS value FROM predictions
    ARRAY JOIN arrayFilter(x -> NOT isNaN(x.2), [('@score', score), ('@prediction', prediction_num)]) AS c
    WHERE ${where(from, to, filter)}`);
  }
  return parts.join('\nUNION ALL\n');
}

export function rawCategoricalSource(sides: readonly Side[], filter?: string): string {
  const parts: string[] = [];
  for (const [s, from, to] of sides) {
    parts.push(`
    SELECT ${s} AS side, k AS column, CAST(v AS Nullable(String)) AS value FROM predictions
    ARRAY JOIN mapKeys(cat) AS k, mapValues(cat) AS v
    WHERE ${where(from, to, filter)}`);
    parts.push(`
    SELECT ${s} AS side, '@prediction' AS column, CAST(prediction AS Nullable(String)) AS value FROM predictions
    WHERE ${where(from, to, filter)} AND NOT isFinite(prediction_num)`);
  }
  return parts.join('\nUNION ALL\n');
}
