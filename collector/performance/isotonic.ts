// Isotonic regression (pool adjacent violators), increasing, as scikit-learn's IsotonicRegression
// with out_of_bounds="clip": equal x values are first pooled into their weighted mean, PAVA fits a
// non-decreasing step sequence over the distinct x, and predictions interpolate linearly between
// the distinct x (clipped to the first/last fitted value outside the fitted range).

export interface Isotonic {
  /** Distinct x, ascending. */
  x: number[];
  /** Fitted value at each x. */
  y: number[];
  predict(v: number): number;
}

/** Fits y on x (weights default to 1). */
export function fitIsotonic(xs: ArrayLike<number>, ys: ArrayLike<number>, ws?: ArrayLike<number>): Isotonic {
  const n = xs.length;
  if (n === 0) throw new Error('isotonic regression needs at least one point');
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => xs[a] - xs[b]);
  // Pool equal x.
  const ux: number[] = [];
  const uy: number[] = [];
  const uw: number[] = [];
  for (const i of order) {
    const w = ws ? ws[i] : 1;
    const last = ux.length - 1;
    if (last >= 0 && ux[last] === xs[i]) {
      uy[last] += w * ys[i];
      uw[last] += w;
    } else {
      ux.push(xs[i]);
      uy.push(w * ys[i]);
      uw.push(w);
    }
  }
  for (let i = 0; i < ux.length; i++) uy[i] /= uw[i];
  // PAVA over blocks: each block has a mean, a weight and the index of its first point.
  const mean: number[] = [];
  const weight: number[] = [];
  const start: number[] = [];
  for (let i = 0; i < ux.length; i++) {
    mean.push(uy[i]);
    weight.push(uw[i]);
    start.push(i);
    while (mean.length > 1 && mean[mean.length - 2] > mean[mean.length - 1]) {
      const w = weight[weight.length - 2] + weight[weight.length - 1];
      const m = (mean[mean.length - 2] * weight[weight.length - 2] + mean[mean.length - 1] * weight[weight.length - 1]) / w;
      mean.pop();
      weight.pop();
      start.pop();
      mean[mean.length - 1] = m;
      weight[weight.length - 1] = w;
    }
  }
  const fitted = new Array<number>(ux.length);
  for (let b = 0; b < mean.length; b++) {
    const end = b + 1 < start.length ? start[b + 1] : ux.length;
    for (let i = start[b]; i < end; i++) fitted[i] = mean[b];
  }
  return {
    x: ux,
    y: fitted,
    predict(v: number): number {
      if (Number.isNaN(v)) return NaN;
      if (v <= ux[0]) return fitted[0];
      const last = ux.length - 1;
      if (v >= ux[last]) return fitted[last];
      // Binary search for ux[lo] <= v < ux[lo + 1].
      let lo = 0;
      let hi = last;
      while (hi - lo > 1) {
        const mid = (lo + hi) >> 1;
        if (ux[mid] <= v) lo = mid;
        else hi = mid;
      }
      if (ux[lo] === v) return fitted[lo];
      // In numpy.interp's order of operations.
      const slope = (fitted[hi] - fitted[lo]) / (ux[hi] - ux[lo]);
      return slope * (v - ux[lo]) + fitted[lo];
    },
  };
}
