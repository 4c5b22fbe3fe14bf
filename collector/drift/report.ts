// The drift report: the shape of shared/design/drift-conventions.md ("The report"), plus a
// `quality` object per column and, when a p-value correction is asked for, `p_value_adjusted`.
import type { ColumnQuality } from './quality.js';

export const METHODS = [
  'ks',
  'wasserstein',
  'psi',
  'kl',
  'jensenshannon',
  'hellinger',
  'tvd',
  'linf',
  'chisquare',
] as const;
export type Method = (typeof METHODS)[number];
export type ColumnType = 'numerical' | 'categorical';

/** Methods whose verdict is `p_value < threshold`; every other method drifts when `statistic >= threshold`. */
export const P_VALUE_METHODS: ReadonlySet<Method> = new Set<Method>(['ks', 'chisquare']);

/** Methods computed on raw values, so only defined for numerical columns. */
export const RAW_VALUE_METHODS: ReadonlySet<Method> = new Set<Method>(['ks', 'wasserstein']);

export const DEFAULT_THRESHOLDS: Readonly<Record<Method, number>> = {
  ks: 0.05,
  wasserstein: 0.1,
  psi: 0.1,
  kl: 0.1,
  jensenshannon: 0.1,
  hellinger: 0.1,
  tvd: 0.1,
  linf: 0.1,
  chisquare: 0.05,
};

export function isMethod(x: unknown): x is Method {
  return typeof x === 'string' && (METHODS as readonly string[]).includes(x);
}

export interface ColumnDrift {
  column: string;
  /** `embedding`: a vector feature (ml.embedding.<name>), always compared with `centroid` (embedding.ts). */
  type: ColumnType | 'embedding';
  method: Method | 'centroid';
  statistic: number;
  /** null for methods without a p-value. */
  p_value: number | null;
  threshold: number;
  drift: boolean;
  reference_missing: number;
  current_missing: number;
  /**
   * Only with the effect-size guard (CLI default, engine option minEffectSize): D for ks, Cramér's V
   * for chisquare, null for the other methods (their statistic is an effect size already).
   */
  effect_size?: number | null;
  /** Only with the effect-size guard: the minimum effect_size of a drift verdict (null: no minimum). */
  min_effect_size?: number | null;
  /** Only with a p-value correction: the adjusted p-value (null for methods without one); the verdict uses it. */
  p_value_adjusted?: number | null;
  /** Embeddings only: the vectors' dimension. */
  dimension?: number;
  quality: ColumnQuality;
}

export interface DriftReport {
  reference_rows: number;
  current_rows: number;
  drift_share: number;
  drifted_columns: number;
  dataset_drift: boolean;
  columns: ColumnDrift[];
}

/** Input the statistics cannot be computed from (an empty side, a method that does not fit the column). */
export class DriftInputError extends Error {
  override name = 'DriftInputError';
  constructor(
    message: string,
    readonly column?: string,
  ) {
    super(message);
  }
}
