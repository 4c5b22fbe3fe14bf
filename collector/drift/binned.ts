// Statistics over binned distributions (drift-conventions.md, "Methods"): p = reference bin counts / n,
// q = current bin counts / m, on the same bins. Each function takes the two count vectors.
import { chiSquareTwoSample } from './chisquare.js';
import type { Method } from './report.js';

/** Floor applied to both sides before PSI and KL (and only there). */
export const SMOOTHING_FLOOR = 1e-4;

/** Compensated (Neumaier) sum: the result does not depend on the order of the terms in practice. */
export function fsum(xs: Iterable<number>): number {
  let sum = 0;
  let comp = 0;
  for (const x of xs) {
    const t = sum + x;
    comp += Math.abs(sum) >= Math.abs(x) ? sum - t + x : x - t + sum;
    sum = t;
  }
  return sum + comp;
}

function proportions(counts: readonly number[]): number[] {
  const total = counts.reduce((s, c) => s + c, 0);
  return counts.map((c) => c / total);
}

/** x * ln(x / y) with scipy.special.rel_entr's conventions at zero. */
function relEntr(x: number, y: number): number {
  if (x > 0 && y > 0) return x * Math.log(x / y);
  if (x === 0 && y >= 0) return 0;
  return Infinity;
}

export function psi(ref: readonly number[], cur: readonly number[]): number {
  const p = proportions(ref).map((v) => Math.max(v, SMOOTHING_FLOOR));
  const q = proportions(cur).map((v) => Math.max(v, SMOOTHING_FLOOR));
  return fsum(p.map((pi, i) => (q[i] - pi) * Math.log(q[i] / pi)));
}

/** scipy.stats.entropy(p', q'): both floored, then renormalised; natural log; reference first. */
export function kl(ref: readonly number[], cur: readonly number[]): number {
  const pf = proportions(ref).map((v) => Math.max(v, SMOOTHING_FLOOR));
  const qf = proportions(cur).map((v) => Math.max(v, SMOOTHING_FLOOR));
  const sp = fsum(pf);
  const sq = fsum(qf);
  return fsum(pf.map((pi, i) => relEntr(pi / sp, qf[i] / sq)));
}

/** scipy.spatial.distance.jensenshannon(p, q, base=2). */
export function jensenShannon(ref: readonly number[], cur: readonly number[]): number {
  const p0 = proportions(ref);
  const q0 = proportions(cur);
  // scipy renormalises its inputs; p and q already sum to 1 up to rounding, do the same.
  const sp = fsum(p0);
  const sq = fsum(q0);
  const p = p0.map((v) => v / sp);
  const q = q0.map((v) => v / sq);
  const mid = p.map((pi, i) => (pi + q[i]) / 2);
  const js = fsum(p.map((pi, i) => relEntr(pi, mid[i]))) + fsum(q.map((qi, i) => relEntr(qi, mid[i])));
  return Math.sqrt(js / Math.LN2 / 2);
}

export function hellinger(ref: readonly number[], cur: readonly number[]): number {
  const p = proportions(ref);
  const q = proportions(cur);
  return Math.sqrt(Math.max(0, 1 - fsum(p.map((pi, i) => Math.sqrt(pi * q[i])))));
}

export function tvd(ref: readonly number[], cur: readonly number[]): number {
  const p = proportions(ref);
  const q = proportions(cur);
  return 0.5 * fsum(p.map((pi, i) => Math.abs(pi - q[i])));
}

export function linf(ref: readonly number[], cur: readonly number[]): number {
  const p = proportions(ref);
  const q = proportions(cur);
  return p.reduce((mx, pi, i) => Math.max(mx, Math.abs(pi - q[i])), 0);
}

export type BinnedMethod = Exclude<Method, 'ks' | 'wasserstein'>;

export function isBinnedMethod(m: Method): m is BinnedMethod {
  return m !== 'ks' && m !== 'wasserstein';
}

/** The statistic (and p-value, for chisquare) of a binned method from the two count vectors. */
export function binnedStatistic(
  method: BinnedMethod,
  ref: readonly number[],
  cur: readonly number[],
): { statistic: number; p_value: number | null } {
  if (ref.length !== cur.length) throw new Error(`bin count mismatch: ${ref.length} reference bins, ${cur.length} current bins`);
  switch (method) {
    case 'psi':
      return { statistic: psi(ref, cur), p_value: null };
    case 'kl':
      return { statistic: kl(ref, cur), p_value: null };
    case 'jensenshannon':
      return { statistic: jensenShannon(ref, cur), p_value: null };
    case 'hellinger':
      return { statistic: hellinger(ref, cur), p_value: null };
    case 'tvd':
      return { statistic: tvd(ref, cur), p_value: null };
    case 'linf':
      return { statistic: linf(ref, cur), p_value: null };
    case 'chisquare': {
      const r = chiSquareTwoSample(ref, cur);
      return { statistic: r.statistic, p_value: r.p_value };
    }
  }
}
