// The rule file format, validated with zod. Unknown keys are errors (strict objects), so a typo
// never silently disables a rule.
import { z } from 'zod';
import { parseDuration } from './duration.js';

const duration = z.string().refine((s) => parseDuration(s) !== undefined, {
  message: 'not a duration (use e.g. 30s, 5m, 1h30m)',
});

export const CONDITION_RE = /^\s*(>=|<=|>|<|==|!=)\s*(-?\d+(?:\.\d+)?(?:e-?\d+)?)\s*$/i;

const condition = z.string().regex(CONDITION_RE, 'a condition is an operator and a number, e.g. "> 0.2"');

export const SIGNALS = ['feature_drift'] as const;
export const METHODS = ['ks', 'wasserstein', 'psi', 'kl', 'jensenshannon', 'hellinger', 'tvd', 'linf', 'chisquare', 'auto'] as const;

const name = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'letters, digits and _ only, not starting with a digit');

export const RuleSchema = z.strictObject({
  alert: name,
  models: z.array(z.string().min(1)).min(1).default(['*']),
  signal: z.enum(SIGNALS),
  /** feature_drift: the statistic compared with the condition (its `drift` verdict is not used). */
  method: z.enum(METHODS).default('auto'),
  /** Only these features (default: every feature, one alert each). */
  features: z.array(z.string().min(1)).optional(),
  window: duration.default('1h'),
  condition,
  for: duration.default('0s'),
  keep_firing_for: duration.default('0s'),
  severity: z.enum(['critical', 'warning', 'info']).default('warning'),
  labels: z.record(z.string(), z.string()).default({}),
  annotations: z.record(z.string(), z.string()).default({}),
  receivers: z.array(z.string().min(1)).default([]),
});

export const GroupSchema = z.strictObject({
  name: z.string().min(1),
  interval: duration.default('30s'),
  rules: z.array(RuleSchema).min(1),
});

export const WebhookSchema = z.strictObject({
  url: z.string(),
  headers: z.record(z.string(), z.string()).default({}),
});

export const ReceiverSchema = z.strictObject({
  name: z.string().min(1),
  webhook: WebhookSchema,
});

export const RuleFileSchema = z.strictObject({
  receivers: z.array(ReceiverSchema).default([]),
  groups: z.array(GroupSchema).default([]),
});

export type RuleSpec = z.infer<typeof RuleSchema>;
export type GroupSpec = z.infer<typeof GroupSchema>;
export type ReceiverSpec = z.infer<typeof ReceiverSchema>;
export type RuleFile = z.infer<typeof RuleFileSchema>;
