// Data quality beside drift, per column (an extra `quality` object; the conventions' fields are
// untouched). Missing = NULL, '' (categorical) or NaN/+-Inf (numerical), as in the conventions.
//
//   reference_missing_share / current_missing_share  missing rows / rows of the column on that side
//   reference_non_finite / current_non_finite        +-Inf values (numerical; NaN is the missing
//                                                    marker and counts only as missing), 0 for categorical;
//                                                    embeddings: vectors with a NaN or +-Inf component
//   out_of_range_share   numerical: share of non-missing current values below the reference minimum
//                        or above its maximum (what binned methods cannot see); null for categorical
//   unseen_share         categorical: share of non-missing current values whose category the
//                        reference never has; null for numerical
//   issues               the checks over their thresholds, in this order:
//                        missing_share  current_missing_share - reference_missing_share > missingShareIncrease
//                        non_finite     current_non_finite / current rows > nonFiniteShare
//                        out_of_range   out_of_range_share > outOfRangeShare
//                        unseen         unseen_share > unseenShare
import { DriftInputError, type ColumnType } from './report.js';

export interface QualityThresholds {
  missingShareIncrease: number;
  nonFiniteShare: number;
  outOfRangeShare: number;
  unseenShare: number;
}

export const DEFAULT_QUALITY_THRESHOLDS: Readonly<QualityThresholds> = {
  missingShareIncrease: 0.05,
  nonFiniteShare: 0,
  outOfRangeShare: 0.05,
  unseenShare: 0.05,
};

export type QualityIssue = 'missing_share' | 'non_finite' | 'out_of_range' | 'unseen';

export interface ColumnQuality {
  reference_missing_share: number;
  current_missing_share: number;
  reference_non_finite: number;
  current_non_finite: number;
  out_of_range_share: number | null;
  unseen_share: number | null;
  issues: QualityIssue[];
}

export interface QualityCounts {
  /** An embedding has neither a range nor categories: both shares are null. */
  type: ColumnType | 'embedding';
  refRows: number;
  curRows: number;
  refMissing: number;
  curMissing: number;
  refNonFinite: number;
  curNonFinite: number;
  /** Non-missing current values outside the reference range (numerical) or unseen in it (categorical). */
  curOutside: number;
  /** Non-missing current values. */
  m: number;
}

export function resolveQualityThresholds(over: Partial<QualityThresholds> | undefined): QualityThresholds {
  const t = { ...DEFAULT_QUALITY_THRESHOLDS };
  for (const [k, v] of Object.entries(over ?? {})) {
    if (!(k in t)) throw new DriftInputError(`unknown quality threshold "${k}": expected one of ${Object.keys(t).join(', ')}`);
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new DriftInputError(`quality threshold ${k} must be a finite number, got ${String(v)}`);
    t[k as keyof QualityThresholds] = v;
  }
  return t;
}

const share = (part: number, whole: number): number => (whole > 0 ? part / whole : 0);

export function columnQuality(c: QualityCounts, t: QualityThresholds): ColumnQuality {
  const refMissingShare = share(c.refMissing, c.refRows);
  const curMissingShare = share(c.curMissing, c.curRows);
  const outside = share(c.curOutside, c.m);
  const q: ColumnQuality = {
    reference_missing_share: refMissingShare,
    current_missing_share: curMissingShare,
    reference_non_finite: c.refNonFinite,
    current_non_finite: c.curNonFinite,
    out_of_range_share: c.type === 'numerical' ? outside : null,
    unseen_share: c.type === 'categorical' ? outside : null,
    issues: [],
  };
  if (curMissingShare - refMissingShare > t.missingShareIncrease) q.issues.push('missing_share');
  if (share(c.curNonFinite, c.curRows) > t.nonFiniteShare) q.issues.push('non_finite');
  if (c.type === 'numerical' && outside > t.outOfRangeShare) q.issues.push('out_of_range');
  if (c.type === 'categorical' && outside > t.unseenShare) q.issues.push('unseen');
  return q;
}
