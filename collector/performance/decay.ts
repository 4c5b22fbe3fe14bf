// Decay: a metric against its baseline value. drop = baseline - current where higher is better,
// current - baseline for errors and losses (so a positive drop is always a degradation);
// relative_drop = drop / baseline (null when the baseline is 0 or unknown).
import { HIGHER_IS_BETTER } from './metrics.js';

export function decay(metric: string, baseline: number | null, current: number | null): { baseline: number | null; drop: number | null; relative_drop: number | null } {
  if (baseline === null || current === null) return { baseline, drop: null, relative_drop: null };
  const drop = HIGHER_IS_BETTER.has(metric) ? baseline - current : current - baseline;
  return { baseline, drop, relative_drop: baseline === 0 ? null : drop / baseline };
}
