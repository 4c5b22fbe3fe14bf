// Exact two-sample KS D and Wasserstein-1 distance of numerical columns held in memory, without
// sorting them (the formulas are the conventions'; the method is also described in the README,
// "KS and Wasserstein without a sort").
//
// With n reference and m current values, S(x) = m * #{ref <= x} - n * #{cur <= x} = n m (F - G),
// an exact integer. D = max |S| / (n m) over the values; W = integral of |S| dx / (n m).
// Values are counted into bins that are monotone in the value (a bin is a contiguous run of the
// sorted order, whatever the rounding of the bin's arithmetic). Walking the bins gives S at every
// bin's end exactly, and bounds S inside a bin: it stays within [S - n c_cur, S + m c_ref]. So
// - D is at least the largest |S| at a bin's end, and only bins whose bound exceeds it can hold a
//   larger one;
// - where S keeps one sign over a bin, the integral of |S| over it is |integral of S|, which the
//   bin's counts and sums give in closed form: S_k (e1 - e0) + sum over its values of
//   (+m for reference, -n for current) (e1 - v).
// Only the bins where S may change sign or exceed D are resolved exactly, by the same method on
// their own values (recursively), and small ones by sorting. S is exact, so D is the correctly
// rounded max |S| / (n m) (scipy subtracts two rounded fractions: it can differ in the last ulps).
// W: every integral runs between the same double edges (Level), each value enters through
// v - edge(k), exact when v and the edge are within a factor 2 of each other (Sterbenz), and sums
// round as any sum does: within 2e-13 relative of scipy in the tests, offsets of 2^52 included.

/**
 * Bins of the streamed (top) level; 4 doubles each, 256 KB: stays in a core's L2 cache (bench/drift:
 * 8192 and 16 384 take the same time within the noise, 32 768 is slower).
 */
const TOP_BINS = 8192;
/** At or below this many values, a range is sorted. */
const SORTED_MAX = 256;
/** Deeper than this, a range is sorted (only adversarial spacings recurse this far). */
const MAX_DEPTH = 24;

export interface Distances {
  /** max |F - G| over the values. */
  d: number;
  /** integral of |F - G| dx (unnormalised). */
  w: number;
}

/**
 * max |S| so far (exact) and the integral of |F - G| so far (|S| / (n m) times dx: |S| / (n m) <= 1,
 * so no product overflows unless dx does).
 */
type Acc = [number, number];

/** What one pass over a side's values also gives (the rest of the engine's summary). */
export interface SideStats {
  rows: number;
  /** Finite values (the side's n). */
  n: number;
  /** +-Inf values (NaN is a missing value: rows - n - infinite). */
  infinite: number;
  min: number;
  max: number;
  /** Sums of (v - shift) and its square over the finite values: the variance in one pass (reference only). */
  shift: number;
  sum: number;
  sumSq: number;
}

const sideStats = (): SideStats => ({ rows: 0, n: 0, infinite: 0, min: Infinity, max: -Infinity, shift: NaN, sum: 0, sumSq: 0 });

/**
 * One column's values, added block by block as they arrive, in one pass per block: missing values
 * (NaN, +-Inf) counted and left out, -0 folded into +0 (numpy compares them equal), the side's
 * min, max and moments, and the count into TOP_BINS bins over a range guessed from the first
 * blocks of both sides (bin 0 and the last bin take everything beyond it, and are always resolved
 * from their values). The finite values are kept (the arrays given, unless a missing value had to
 * be left out) for the bins that need resolving: distances() may reorder them.
 */
export class EcdfBins {
  readonly sides: [SideStats, SideStats] = [sideStats(), sideStats()];
  private readonly values: [Float64Array[], Float64Array[]] = [[], []];
  private hist: Float64Array | undefined;
  private level: Level = { lo: 0, scale: 0, width: 0, nb: 0, outer: true };
  private pending: [0 | 1, Float64Array][] = [];

  /** bins: of the top level (and at most of every level); fewer make the tests recurse. */
  constructor(private readonly bins = TOP_BINS) {}

  /** Adds a block of one side's values (0 reference, 1 current); writes +0 over -0 in it. */
  add(side: 0 | 1, v: Float64Array): void {
    const st = this.sides[side];
    st.rows += v.length;
    let i = 0;
    if (st.shift !== st.shift) {
      while (i < v.length && v[i] - v[i] !== 0) i++;
      if (i < v.length) st.shift = v[i] + 0;
      i = 0;
    }
    const c = st.shift;
    const h = this.hist;
    const { lo, scale, width } = this.level;
    const top = this.bins - 1;
    const o = 2 * side;
    const counting = h !== undefined && scale !== 0;
    const moments = side === 0; // only the reference's standard deviation is reported
    let min = st.min;
    let max = st.max;
    let sum = 0;
    let sumSq = 0;
    let bad = 0;
    let infinite = 0;
    for (; i < v.length; i++) {
      const x = v[i];
      if (x - x === 0) {
        if (x === 0) v[i] = 0;
        if (x < min) min = x;
        if (x > max) max = x;
        if (moments) {
          const d = x - c;
          sum += d;
          sumSq += d * d;
        }
        if (counting) {
          // (countInto's arithmetic, inlined into this pass)
          const k = bin((x - lo) * scale, top);
          h[4 * k + o] += 1;
          h[4 * k + o + 1] += x - (lo + k * width);
        }
      } else {
        bad++;
        if (x === x) infinite++;
      }
    }
    st.min = min;
    st.max = max;
    st.sum += sum;
    st.sumSq += sumSq;
    st.infinite += infinite;
    st.n += v.length - bad;
    const finite = bad === 0 ? v : v.filter((x) => x - x === 0);
    if (finite.length === 0) return;
    this.values[side].push(finite);
    // A range of zero width (one value so far) or beyond the doubles: one bin, resolved later.
    if (h && scale === 0) h[o] += finite.length;
    if (h) return;
    this.pending.push([side, finite]);
    // Both sides seen (or many blocks of one): the range is the union so far, widened by 5% each way.
    if ((this.sides[0].n > 0 && this.sides[1].n > 0) || this.pending.length >= 64) this.start();
  }

  private start(): void {
    let lo = Math.min(this.sides[0].min, this.sides[1].min);
    let hi = Math.max(this.sides[0].max, this.sides[1].max);
    const margin = (hi - lo) * 0.05;
    if (Number.isFinite(lo - margin) && Number.isFinite(hi + margin)) [lo, hi] = [lo - margin, hi + margin];
    const span = hi - lo;
    const scale = this.bins / span;
    // One value so far, or a span the doubles cannot cut: one bin, resolved from its values.
    const cut = span > 0 && span < Infinity && scale < Infinity && span / this.bins > 0;
    this.level = { lo, scale: cut ? scale : 0, width: cut ? span / this.bins : 0, nb: this.bins, outer: true };
    this.hist = new Float64Array(4 * this.bins);
    for (const [side, v] of this.pending) countInto(this.hist, this.level, side, v);
    this.pending = [];
  }

  /** Current values below lo or above hi (the reference's range). */
  outside(lo: number, hi: number): number {
    let k = 0;
    for (const v of this.values[1]) {
      for (let i = 0; i < v.length; i++) {
        const x = v[i];
        if (x < lo || x > hi) k++;
      }
    }
    return k;
  }

  /** D and W of everything added (both sides non-empty; n m below 2^53, so S is exact). */
  distances(): Distances {
    const [n, m] = [this.sides[0].n, this.sides[1].n];
    const z: Sizes = { n, m, inv: 1 / (n * m) };
    const acc: Acc = [0, 0];
    const [a, b] = this.values;
    // (S is 0 before the first value and after the last: the integral's ends do not matter.)
    if (n + m <= SORTED_MAX) exact(concat(a, n), concat(b, m), 0, 0, 0, z, acc);
    else {
      if (!this.hist) this.start();
      walk(a, b, 0, this.hist!, this.level, z, acc, 0, this.bins);
    }
    return { d: acc[0] / (n * m), w: acc[1] };
  }
}

/**
 * The bin of position t (the value's offset from the level's start in bin widths): the same
 * arithmetic for counting and for gathering, so both put a value in the same bin. Monotone in t;
 * beyond the bins (and for t overflowing to +-Infinity, or NaN) the outer bins.
 */
const bin = (t: number, top: number): number => (t > 0 ? (t < top ? t | 0 : top) : 0);

/**
 * How one level cuts its range into nb bins. Bin k holds the values whose position
 * (v - lo) * scale falls in [k, k + 1) and spans [edge(k), edge(k + 1)], edge(k) = lo + k * width
 * as a double: the closed forms (through each value's v - edge(k)) and the resolved bins integrate
 * between the same doubles, so the integrals of neighbouring bins meet exactly whatever the
 * rounding of the edges. At the top level (outer), bin 0 and the last bin also hold everything
 * beyond the guessed range and are always resolved.
 */
interface Level {
  lo: number;
  scale: number;
  width: number;
  nb: number;
  outer: boolean;
}

const edge = (l: Level, k: number): number => l.lo + k * l.width;

/** The samples' sizes and 1 / (n m), for every level. */
interface Sizes {
  n: number;
  m: number;
  inv: number;
}

/**
 * Counts values into a level's histogram h: per bin the reference count, the sum of its values'
 * v - edge(k), the current count and its sum.
 */
function countInto(h: Float64Array, l: Level, side: 0 | 1, v: Float64Array): void {
  const { lo, scale, width } = l;
  const top = l.nb - 1;
  const o = 2 * side;
  if (scale === 0) {
    h[o] += v.length; // one bin, always resolved from its values
    return;
  }
  for (let i = 0; i < v.length; i++) {
    const x = v[i];
    const k = bin((x - lo) * scale, top);
    h[4 * k + o] += 1;
    h[4 * k + o + 1] += x - (lo + k * width);
  }
}

function concat(parts: Float64Array[], total: number): Float64Array {
  if (parts.length === 1) return parts[0];
  const out = new Float64Array(total);
  let p = 0;
  for (const v of parts) {
    out.set(v, p);
    p += v.length;
  }
  return out;
}

/**
 * Resolves a range exactly by sorting: S starts at s at elo; the integral runs from elo to ehi.
 * Sorts a and b in place (they are the caller's copies, or values no one reads again).
 */
function exact(a: Float64Array, b: Float64Array, s: number, elo: number, ehi: number, z: Sizes, acc: Acc): void {
  const { n, m, inv } = z;
  a.sort();
  b.sort();
  let prev = elo;
  let i = 0;
  let j = 0;
  let w = 0;
  let d = acc[0];
  while (i < a.length || j < b.length) {
    const v = i < a.length && (j >= b.length || a[i] <= b[j]) ? a[i] : b[j];
    // (Gaps count only where S is not 0: one may be infinite where S is 0, beyond the data.)
    if (s !== 0) w += Math.abs(s) * inv * (v - prev);
    while (i < a.length && a[i] === v) {
      s += m;
      i++;
    }
    while (j < b.length && b[j] === v) {
      s -= n;
      j++;
    }
    if (Math.abs(s) > d) d = Math.abs(s);
    prev = v;
  }
  acc[0] = d;
  acc[1] += w + (s !== 0 ? Math.abs(s) * inv * (ehi - prev) : 0);
}

/** Resolves the values of one bin (a range [elo, ehi] where S starts at s) by binning them again. */
function refine(a: Float64Array, b: Float64Array, s: number, elo: number, ehi: number, z: Sizes, acc: Acc, depth: number, bins: number): void {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of [a, b]) {
    for (let i = 0; i < v.length; i++) {
      const x = v[i];
      if (x < lo) lo = x;
      if (x > hi) hi = x;
    }
  }
  const { n, m, inv } = z;
  if (lo === hi) {
    // One value: a single step of S.
    if (s !== 0) acc[1] += Math.abs(s) * inv * (lo - elo);
    s += m * a.length - n * b.length;
    if (Math.abs(s) > acc[0]) acc[0] = Math.abs(s);
    if (s !== 0) acc[1] += Math.abs(s) * inv * (ehi - lo);
    return;
  }
  const len = a.length + b.length;
  const nb = Math.min(bins, Math.max(16, len >>> 3));
  const span = hi - lo;
  const level: Level = { lo, scale: nb / span, width: span / nb, nb, outer: false };
  // Small, too deep, or a span the doubles cannot cut (beyond them, or so narrow that nb / span
  // overflows): sorted.
  if (len <= SORTED_MAX || depth >= MAX_DEPTH || !(span < Infinity) || !(level.scale < Infinity) || !(level.width > 0)) {
    return exact(a, b, s, elo, ehi, z, acc);
  }
  const h = new Float64Array(4 * nb);
  countInto(h, level, 0, a);
  countInto(h, level, 1, b);
  if (s !== 0) acc[1] += Math.abs(s) * inv * (lo - elo);
  const end = walk([a], [b], s, h, level, z, acc, depth + 1, bins);
  if (end !== 0) acc[1] += Math.abs(end) * inv * (ehi - edge(level, nb));
}

/**
 * The bins of one level: D's lower bound and the closed-form integrals of the bins where S keeps its
 * sign, then each bin that may change sign or exceed D, resolved on its own values (gathered from a
 * and b by the same bin arithmetic). Returns S after the last bin.
 */
function walk(a: Float64Array[], b: Float64Array[], s0: number, h: Float64Array, l: Level, z: Sizes, acc: Acc, depth: number, bins: number): number {
  const { n, m, inv } = z;
  const nb = l.nb;
  // flag: 1 = S may change sign in the bin (integral and D resolved), 2 = D only.
  const flag = new Uint8Array(nb);
  const start = new Float64Array(nb);
  let s = s0;
  let dlow = acc[0];
  let w = 0;
  for (let k = 0; k < nb; k++) {
    const ca = h[4 * k];
    const cb = h[4 * k + 2];
    const low = s - n * cb;
    const high = s + m * ca;
    const next = high - n * cb;
    start[k] = s;
    if (ca + cb > 0 && Math.abs(next) > dlow) dlow = Math.abs(next);
    if ((low < 0 && high > 0) || (l.outer && (k === 0 || k === nb - 1) && ca + cb > 0)) flag[k] = 1;
    else {
      // integral over [e0, e1] of S = s (e1 - e0) + the sum of the steps (+m, -n) times (e1 - v),
      // e1 - v = (e1 - e0) - (v - e0)
      const dw = edge(l, k + 1) - edge(l, k);
      w += Math.abs(s * dw + m * (ca * dw - h[4 * k + 1]) - n * (cb * dw - h[4 * k + 3])) * inv;
    }
    s = next;
  }
  acc[0] = dlow;
  acc[1] += w;
  let fa = 0;
  let fb = 0;
  for (let k = 0; k < nb; k++) {
    const ca = h[4 * k];
    const cb = h[4 * k + 2];
    if (flag[k] === 0 && ca + cb > 0 && Math.max(Math.abs(start[k] - n * cb), Math.abs(start[k] + m * ca)) > dlow) flag[k] = 2;
    if (flag[k] !== 0) {
      fa += ca;
      fb += cb;
    }
  }
  if (fa + fb === 0) return s;
  // Where each flagged bin's values go in the gathered arrays.
  const offA = new Int32Array(nb + 1);
  const offB = new Int32Array(nb + 1);
  for (let k = 0, pa = 0, pb = 0; k < nb; k++) {
    offA[k] = pa;
    offB[k] = pb;
    if (flag[k] !== 0) {
      pa += h[4 * k];
      pb += h[4 * k + 2];
    }
    offA[k + 1] = pa;
    offB[k + 1] = pb;
  }
  const ga = gather(a, fa, offA, flag, l);
  const gb = gather(b, fb, offB, flag, l);
  for (let k = 0; k < nb; k++) {
    if (flag[k] === 0) continue;
    // (The top level's outer bins hold values beyond their edges too: S is 0 where they reach past
    // them, before the first value and after the last, so those gaps count for nothing.)
    const sub: Acc = [acc[0], 0];
    refine(ga.subarray(offA[k], offA[k + 1]), gb.subarray(offB[k], offB[k + 1]), start[k], edge(l, k), edge(l, k + 1), z, sub, depth, bins);
    acc[0] = sub[0];
    if (flag[k] === 1) acc[1] += sub[1];
  }
  return s;
}

/** The values of the flagged bins, grouped by bin (offsets from off). */
function gather(parts: Float64Array[], total: number, off: Int32Array, flag: Uint8Array, l: Level): Float64Array {
  const out = new Float64Array(total);
  const pos = off.slice(0, l.nb);
  const { lo, scale } = l;
  const top = l.nb - 1;
  for (const v of parts) {
    for (let i = 0; i < v.length; i++) {
      const x = v[i];
      const k = bin((x - lo) * scale, top); // (scale 0: bin 0)
      if (flag[k] !== 0) out[pos[k]++] = x;
    }
  }
  return out;
}
