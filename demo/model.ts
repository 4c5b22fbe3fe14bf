// A simulated credit-risk model: features drawn from fixed distributions, a logistic score, and a
// true outcome drawn from the score (so labels are realistic). `drift` moves income upwards.
export interface DemoPrediction {
  features: { age: number; income: number; tenure_months: number; credit_score: number; country: string; device: string };
  score: number;
  prediction: number;
  outcome: number;
}

export function rng(seed: number): () => number {
  // mulberry32: small, fast and reproducible
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function normal(r: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
}

function pick<T>(r: () => number, items: [T, number][]): T {
  let u = r();
  for (const [v, w] of items) if ((u -= w) < 0) return v;
  return items[items.length - 1][0];
}

export function simulate(r: () => number, drift: boolean): DemoPrediction {
  const age = Math.round(Math.min(90, Math.max(18, 40 + 12 * normal(r))));
  // Drift: incomes rise by 80% (e.g. a new customer segment), the score shifts with them.
  const income = Math.round(Math.exp(10.6 + 0.5 * normal(r)) * (drift ? 1.8 : 1));
  const tenure_months = Math.round(-24 * Math.log(1 - r()));
  const credit_score = Math.round(650 + 60 * normal(r));
  const country = pick(r, [['DE', 0.4], ['FR', 0.25], ['US', 0.2], ['GB', 0.15]]);
  const device = pick(r, [['ios', 0.45], ['android', 0.4], ['web', 0.15]]);
  const z = -1.2 + 0.02 * (age - 40) + 0.8 * Math.log(income / 40000) + 0.01 * (credit_score - 650) + (device === 'web' ? 0.3 : 0);
  const score = 1 / (1 + Math.exp(-z));
  // The true relation does not move with income: a drifted input makes the model wrong.
  const truth = 1 / (1 + Math.exp(-(-1.2 + 0.02 * (age - 40) + 0.01 * (credit_score - 650))));
  return {
    features: { age, income, tenure_months, credit_score, country, device },
    score,
    prediction: score >= 0.5 ? 1 : 0,
    outcome: r() < truth ? 1 : 0,
  };
}
