// The KS p-value of the conventions: the asymptotic Kolmogorov distribution with Stephens'
// small-sample correction. kolmogorovSf(x) is scipy.special.kolmogorov(x) = P(K > x).

const SQRT_2PI = Math.sqrt(2 * Math.PI);
const PI2_8 = (Math.PI * Math.PI) / 8;
// Below this the theta-function form of the CDF converges fastest and 1 - CDF keeps full relative
// precision (the survival function is >= 0.5 there); above it the alternating series gives the
// survival function directly, accurate down to underflow. scipy switches at the same place.
const CUTOVER = 0.82;

/** Survival function of the Kolmogorov distribution: 2 * sum_{k>=1} (-1)^(k-1) exp(-2 k^2 x^2). */
export function kolmogorovSf(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (x <= 0) return 1;
  if (x < CUTOVER) {
    // CDF = sqrt(2 pi) / x * sum_{k>=1} exp(-(2k-1)^2 pi^2 / (8 x^2))
    const w = PI2_8 / (x * x);
    let sum = 0;
    for (let k = 1; k < 100; k++) {
      const term = Math.exp(-(2 * k - 1) * (2 * k - 1) * w);
      sum += term;
      if (term <= sum * 1e-17) break;
    }
    return 1 - (SQRT_2PI / x) * sum;
  }
  const x2 = x * x;
  let sum = 0;
  let sign = 1;
  for (let k = 1; k < 100; k++) {
    const term = Math.exp(-2 * k * k * x2);
    sum += sign * term;
    if (term <= Math.abs(sum) * 1e-17 || term === 0) break;
    sign = -sign;
  }
  return Math.min(1, Math.max(0, 2 * sum));
}

/** p = kolmogorov((sqrt(en) + 0.12 + 0.11 / sqrt(en)) * D), en = n m / (n + m). */
export function ksPValue(d: number, n: number, m: number): number {
  const en = (n * m) / (n + m);
  const s = Math.sqrt(en);
  return kolmogorovSf((s + 0.12 + 0.11 / s) * d);
}
