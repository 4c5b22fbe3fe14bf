// Version 9: the centroid method's null distribution with the covariance (collector/drift/README.md,
// "centroid"). drift_profile_embeddings gains, per baseline profile and embedding:
// - trace_sq: an unbiased estimate of tr(Sigma^2) = ||Sigma||_F^2 of the reference's covariance
//   (off-diagonal terms included; Chen & Qin's U-statistic, computed from the centered Gram matrix
//   of a sample of the reference vectors);
// - trace_sq_n: the number of vectors in that sample (0 for profiles built before this version:
//   their trace_sq is NaN and the centroid p-value falls back to the diagonal approximation).
// Every statement is idempotent (IF NOT EXISTS).
export const name = 'embedding_trace_sq';
export const statements: string[] = [
  `ALTER TABLE drift_profile_embeddings ADD COLUMN IF NOT EXISTS trace_sq Float64 DEFAULT nan AFTER var`,
  `ALTER TABLE drift_profile_embeddings ADD COLUMN IF NOT EXISTS trace_sq_n UInt64 DEFAULT 0 AFTER trace_sq`,
];
