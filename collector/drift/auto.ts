// The automatic method choice (drift-conventions.md, "Automatic choice"): reference only.
import type { ColumnType, Method } from './report.js';

/** Reference sizes above this use the large-sample branch. */
export const AUTO_SMALL_SAMPLE_MAX = 1000;
/** A numerical column with more distinct reference values than this is treated as continuous. */
export const AUTO_MAX_DISCRETE_VALUES = 5;

/**
 * @param n non-missing reference values
 * @param distinct distinct reference values; any number above AUTO_MAX_DISCRETE_VALUES means "many"
 */
export function autoMethod(type: ColumnType, n: number, distinct: number): Method {
  const continuous = type === 'numerical' && distinct > AUTO_MAX_DISCRETE_VALUES;
  if (n <= AUTO_SMALL_SAMPLE_MAX) return continuous ? 'ks' : 'chisquare';
  return continuous ? 'wasserstein' : 'jensenshannon';
}
