// Pearson chi-square for the 2 x k contingency table [reference counts; current counts], as
// scipy.stats.chi2_contingency(table, correction=False), and the chi-square survival function.
import { gammaln } from 'simple-statistics';

const EPS = 1e-16;
const TINY = 1e-300;

/** Regularized upper incomplete gamma Q(a, x) = Gamma(a, x) / Gamma(a), a > 0, x >= 0. */
export function gammaQ(a: number, x: number): number {
  if (!(a > 0) || !(x >= 0) || Number.isNaN(x)) return NaN;
  if (x === 0) return 1;
  if (x === Infinity) return 0;
  const logPrefactor = -x + a * Math.log(x) - gammaln(a);
  const maxIter = 1000 + Math.ceil(10 * Math.sqrt(a));
  if (x < a + 1) {
    // Series for P(a, x): e^{-x} x^a / Gamma(a+1) * sum_n x^n / ((a+1)...(a+n)); Q = 1 - P.
    let ap = a;
    let del = 1 / a;
    let sum = del;
    for (let i = 0; i < maxIter; i++) {
      ap += 1;
      del *= x / ap;
      sum += del;
      if (Math.abs(del) < Math.abs(sum) * EPS) break;
    }
    return 1 - sum * Math.exp(logPrefactor);
  }
  // Continued fraction for Q(a, x) (modified Lentz).
  let b = x + 1 - a;
  let c = 1 / TINY;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i <= maxIter; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < TINY) d = TINY;
    c = b + an / c;
    if (Math.abs(c) < TINY) c = TINY;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < EPS) break;
  }
  return Math.exp(logPrefactor) * h;
}

/** P(X > x) for X ~ chi-square with `df` degrees of freedom (scipy.stats.chi2.sf). */
export function chi2Sf(x: number, df: number): number {
  if (x <= 0) return 1;
  return gammaQ(df / 2, x / 2);
}

export interface ChiSquareResult {
  statistic: number;
  p_value: number;
  dof: number;
}

/**
 * Chi-square test of homogeneity of two count vectors over the same bins; bins empty on both sides
 * are dropped first. A single remaining bin gives statistic 0 and p-value 1 (zero degrees of freedom).
 */
export function chiSquareTwoSample(ref: readonly number[], cur: readonly number[]): ChiSquareResult {
  const r: number[] = [];
  const c: number[] = [];
  for (let i = 0; i < ref.length; i++) {
    if (ref[i] + cur[i] > 0) {
      r.push(ref[i]);
      c.push(cur[i]);
    }
  }
  const k = r.length;
  if (k <= 1) return { statistic: 0, p_value: 1, dof: 0 };
  const n = r.reduce((s, v) => s + v, 0);
  const m = c.reduce((s, v) => s + v, 0);
  const total = n + m;
  let stat = 0;
  for (let i = 0; i < k; i++) {
    const col = r[i] + c[i];
    const er = (n * col) / total;
    const ec = (m * col) / total;
    stat += ((r[i] - er) * (r[i] - er)) / er + ((c[i] - ec) * (c[i] - ec)) / ec;
  }
  const dof = k - 1;
  return { statistic: stat, p_value: chi2Sf(stat, dof), dof };
}
