// Multiple-testing correction across the columns of one report, for the p-value methods.

/**
 * Benjamini-Hochberg adjusted p-values (scipy.stats.false_discovery_control(ps, method='bh')):
 * sorted ascending, p_(i) * (k / i), then the running minimum from the largest down, capped at 1.
 * Returned in the input's order.
 */
export function benjaminiHochberg(ps: readonly number[]): number[] {
  const k = ps.length;
  const order = ps.map((p, i) => [p, i] as const).sort((a, b) => a[0] - b[0]);
  const adjusted = new Array<number>(k);
  let running = Infinity;
  for (let r = k - 1; r >= 0; r--) {
    const [p, i] = order[r];
    running = Math.min(running, p * (k / (r + 1)));
    adjusted[i] = Math.min(1, Math.max(0, running));
  }
  return adjusted;
}
