// The rule file format, validated with zod. Unknown keys are errors (strict objects), so a typo
// never silently disables a rule. The JSON Schema editors use (rules/rule-file.schema.json) is
// generated from these definitions by `npm run rules:schema`; a test fails when it is stale.
import { z } from 'zod';
import { parseDuration } from './duration.js';

const duration = z.string().refine((s) => parseDuration(s) !== undefined, {
  message: 'not a duration (use e.g. 30s, 5m, 1h30m)',
});

export const CONDITION_RE = /^\s*(>=|<=|>|<|==|!=)\s*(-?\d+(?:\.\d+)?(?:e-?\d+)?)\s*$/i;

const condition = z
  .string()
  .regex(CONDITION_RE, 'a condition is an operator and a number, e.g. "> 0.2"')
  .meta({ description: 'Compared with the signal value: an operator (>, >=, <, <=, ==, !=) and a number, e.g. "> 0.2".' });

/** Every signal of the rule language. */
export const SIGNALS = [
  'feature_drift',
  'dataset_drift_share',
  'prediction_drift',
  'data_quality',
  'metric',
  'metric_drop',
  'estimated_metric',
  'latency_percentile',
  'volume',
  'no_data',
] as const;
export type Signal = (typeof SIGNALS)[number];

/**
 * The signals the collector computes today (collector/signals.ts). A rule on any other signal is
 * rejected when its file is loaded, rather than accepted and silently never firing.
 */
export const LIVE_SIGNALS: readonly Signal[] = [
  'feature_drift', 'dataset_drift_share', 'prediction_drift', 'data_quality',
  'metric', 'metric_drop', 'estimated_metric', 'latency_percentile', 'volume', 'no_data',
];

export const METHODS = ['ks', 'wasserstein', 'psi', 'kl', 'jensenshannon', 'hellinger', 'tvd', 'linf', 'chisquare', 'auto'] as const;
export const QUALITY_CHECKS = ['missing_share', 'out_of_range_share', 'new_category_share'] as const;
export const METRICS = [
  'accuracy', 'precision', 'recall', 'f1', 'roc_auc', 'log_loss', 'brier',
  'precision_macro', 'recall_macro', 'f1_macro', 'precision_weighted', 'recall_weighted', 'f1_weighted',
  'mae', 'rmse', 'mape', 'r2',
] as const;
export const OUTPUTS = ['prediction', 'score'] as const;

/** Which signal parameters each signal takes (others are errors), and which it requires. */
export const SIGNAL_PARAMS: Record<Signal, { allowed: string[]; required: string[]; labels: string[] }> = {
  feature_drift: { allowed: ['method', 'features'], required: [], labels: ['model', 'version', 'feature', 'method'] },
  dataset_drift_share: { allowed: ['method', 'features'], required: [], labels: ['model', 'version', 'method'] },
  prediction_drift: { allowed: ['method', 'outputs'], required: [], labels: ['model', 'version', 'output', 'method'] },
  data_quality: { allowed: ['check', 'features'], required: ['check'], labels: ['model', 'version', 'feature', 'check'] },
  metric: { allowed: ['metric'], required: ['metric'], labels: ['model', 'version', 'metric'] },
  metric_drop: { allowed: ['metric', 'drop'], required: ['metric'], labels: ['model', 'version', 'metric'] },
  estimated_metric: { allowed: ['metric'], required: ['metric'], labels: ['model', 'version', 'metric'] },
  latency_percentile: { allowed: ['percentile'], required: ['percentile'], labels: ['model', 'version', 'percentile'] },
  volume: { allowed: ['lookback'], required: [], labels: ['model', 'version'] },
  no_data: { allowed: ['lookback'], required: [], labels: ['model'] },
};
const ALL_PARAMS = ['method', 'features', 'outputs', 'check', 'metric', 'drop', 'percentile', 'lookback'] as const;

const name = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'letters, digits and _ only, not starting with a digit');
const labelName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'a label name is letters, digits and _, not starting with a digit');

export const RuleSchema = z
  .strictObject({
    alert: name.meta({ description: 'The alert name (label `alertname`); unique within its group.' }),
    models: z.array(z.string().min(1)).min(1).default(['*'])
      .meta({ description: 'Model names watched: exact names or globs with * (e.g. "fraud-*"). Default: every model.' }),
    signal: z.enum(SIGNALS).meta({
      description: `What is measured. Computed by the collector today: ${LIVE_SIGNALS.join(', ')}; the others are part of the language but rejected at load time until the collector computes them.`,
    }),
    method: z.enum(METHODS).optional()
      .meta({ description: 'feature_drift, dataset_drift_share, prediction_drift: the drift method (default auto).' }),
    features: z.array(z.string().min(1)).min(1).optional()
      .meta({ description: 'feature_drift, dataset_drift_share, data_quality: only these features (default: all; feature_drift fans out one alert per feature).' }),
    outputs: z.array(z.enum(OUTPUTS)).min(1).optional()
      .meta({ description: 'prediction_drift: which outputs (the pseudo-columns @prediction, @score); default both.' }),
    check: z.enum(QUALITY_CHECKS).optional().meta({ description: 'data_quality: the check whose share is compared.' }),
    metric: z.enum(METRICS).optional().meta({
      description: 'metric, metric_drop, estimated_metric: the performance metric (scikit-learn definitions; precision/recall/f1 of a multiclass model are the macro averages; estimated_metric: accuracy, precision, recall, f1, roc_auc of binary classifiers with scores, by CBPE).',
    }),
    drop: z.enum(['absolute', 'relative']).optional()
      .meta({ description: 'metric_drop: baseline - current (absolute) or that divided by the baseline (relative, default).' }),
    percentile: z.number().gt(0).lt(100).optional().meta({ description: 'latency_percentile: e.g. 99 for p99 (the value is in milliseconds).' }),
    lookback: duration.optional()
      .meta({ description: 'volume, no_data: model versions seen within this long count (as 0 when silent in the window). Default 24h.' }),
    window: duration.default('1h').meta({ description: 'The window of traffic the signal is computed over (drift: against the baseline).' }),
    condition,
    for: duration.default('0s').meta({ description: 'How long the condition must hold (pending) before the alert fires.' }),
    keep_firing_for: duration.default('0s').meta({ description: 'How long a firing alert keeps firing after the condition stops holding.' }),
    severity: z.enum(['critical', 'warning', 'info']).default('warning'),
    labels: z.record(labelName, z.string()).default({}).meta({ description: 'Extra labels on every alert of the rule (part of its identity).' }),
    annotations: z.record(z.string(), z.string()).default({})
      .meta({ description: 'Templated texts: {{ $labels.NAME }}, {{ $value }}, {{ $value | printf "%.3f" }}.' }),
    receivers: z.array(z.string().min(1)).default([]).meta({ description: 'Names of receivers (top-level `receivers`) notified.' }),
  })
  .superRefine((r, ctx) => {
    const p = SIGNAL_PARAMS[r.signal];
    for (const k of ALL_PARAMS) {
      if (r[k] !== undefined && !p.allowed.includes(k)) {
        ctx.addIssue({ code: 'custom', path: [k], message: `"${k}" does not apply to signal ${r.signal}${p.allowed.length ? ` (it takes: ${p.allowed.join(', ')})` : ''}` });
      }
    }
    for (const k of p.required) {
      if (r[k as (typeof ALL_PARAMS)[number]] === undefined) ctx.addIssue({ code: 'custom', path: ['signal'], message: `signal ${r.signal} needs "${k}"` });
    }
  });

export const GroupSchema = z.strictObject({
  name: z.string().min(1),
  interval: duration.default('30s').meta({ description: 'How often the group\'s rules are evaluated.' }),
  rules: z.array(RuleSchema).min(1),
});

const headers = z.record(z.string(), z.string()).default({});

export const WebhookSchema = z.strictObject({
  url: z.string().meta({ description: 'Where the JSON is POSTed. ${VAR} comes from the environment; empty = receiver off.' }),
  headers,
  repeat_interval: duration.optional().meta({
    description: 'Re-send a still-firing alert this often (default: never; the firing and the resolve are each sent once).',
  }),
  hmac_secret: z.string().optional().meta({
    description: 'When set (and not empty), each request carries X-Driftwatch-Timestamp and X-Driftwatch-Signature: sha256=HEX(HMAC-SHA256(secret, timestamp + "." + body)).',
  }),
});

export const AlertmanagerSchema = z.strictObject({
  url: z.string().meta({ description: 'Alertmanager base URL (e.g. http://127.0.0.1:9093); alerts go to {url}/api/v2/alerts.' }),
  headers,
  resend_interval: duration.default('1m').meta({ description: 'Firing alerts are re-sent this often (Prometheus\' resend delay), so Alertmanager never times them out.' }),
});

export const PagerDutySchema = z.strictObject({
  routing_key: z.string().meta({ description: 'The Events API v2 integration (routing) key; use ${PAGERDUTY_ROUTING_KEY}. Empty = receiver off.' }),
  url: z.string().default('https://events.pagerduty.com/v2/enqueue'),
  source: z.string().optional().meta({ description: 'payload.source (default: the model label, else "driftwatch").' }),
  client: z.string().default('Driftwatch'),
  client_url: z.string().optional(),
  repeat_interval: duration.optional().meta({
    description: 'Re-send a still-firing alert this often (default: never; PagerDuty keeps one incident per dedup_key, so a re-send re-opens one resolved by hand).',
  }),
});

export const SlackSchema = z.strictObject({
  webhook_url: z.string().meta({ description: 'The Slack incoming webhook URL; use ${SLACK_WEBHOOK_URL}. Empty = receiver off.' }),
  repeat_interval: duration.optional().meta({
    description: 'Re-send a still-firing alert this often (default: never; the firing and the resolve are each sent once).',
  }),
});

const RECEIVER_KINDS = ['webhook', 'alertmanager', 'pagerduty', 'slack'] as const;

export const ReceiverSchema = z
  .strictObject({
    name: z.string().min(1),
    webhook: WebhookSchema.optional(),
    alertmanager: AlertmanagerSchema.optional(),
    pagerduty: PagerDutySchema.optional(),
    slack: SlackSchema.optional(),
    max_attempts: z.number().int().min(1).max(20).default(5)
      .meta({ description: 'Delivery attempts (network errors, 5xx, 408, 429 are retried with exponential backoff and jitter).' }),
  })
  .superRefine((r, ctx) => {
    const kinds = RECEIVER_KINDS.filter((k) => r[k] !== undefined);
    if (kinds.length !== 1) {
      ctx.addIssue({ code: 'custom', path: kinds.length > 1 ? [kinds[1]] : ['name'], message: `a receiver has exactly one of ${RECEIVER_KINDS.join(', ')}${kinds.length > 1 ? ` (found ${kinds.join(' and ')})` : ''}` });
    }
  });

const timestamp = z.string().refine((s) => !Number.isNaN(Date.parse(s)), { message: 'not a timestamp (use RFC 3339, e.g. 2026-11-24T22:00:00Z)' });

export const SilenceSchema = z
  .strictObject({
    matchers: z.array(z.string().min(1)).min(1).meta({
      description: 'Label matchers, all of which must match: name="value", name!="value", name=~"regex", name!~"regex".',
    }),
    starts_at: timestamp,
    ends_at: timestamp,
    comment: z.string().default(''),
    created_by: z.string().default('file'),
  })
  .refine((s) => Date.parse(s.ends_at) > Date.parse(s.starts_at), { path: ['ends_at'], message: 'ends_at must be after starts_at' });

export const RuleFileSchema = z
  .strictObject({
    receivers: z.array(ReceiverSchema).default([]),
    groups: z.array(GroupSchema).default([]),
    silences: z.array(SilenceSchema).default([])
      .meta({ description: 'Maintenance windows: matching alerts keep their state but are not notified between starts_at and ends_at.' }),
  })
  .meta({ title: 'Driftwatch rule file', description: 'Alert rules, receivers and silences evaluated by the Driftwatch collector.' });

export type RuleSpec = z.infer<typeof RuleSchema>;
export type GroupSpec = z.infer<typeof GroupSchema>;
export type ReceiverSpec = z.infer<typeof ReceiverSchema>;
export type SilenceSpec = z.infer<typeof SilenceSchema>;
export type RuleFile = z.infer<typeof RuleFileSchema>;

/** The JSON Schema of rule files (draft 2020-12), for editors (yaml-language-server). */
export function ruleFileJsonSchema(): Record<string, unknown> {
  type Obj = { properties: Record<string, Obj>; items: Obj } & Record<string, unknown>;
  const s = z.toJSONSchema(RuleFileSchema, { io: 'input', unrepresentable: 'any' }) as Obj;
  // What the zod refinements check, spelled in JSON Schema so editors know it too: a receiver has
  // exactly one kind; each signal takes its own parameters and requires some.
  s.properties.receivers.items.oneOf = RECEIVER_KINDS.map((k) => ({ required: [k] }));
  s.properties.groups.items.properties.rules.items.allOf = SIGNALS.map((signal) => {
    const p = SIGNAL_PARAMS[signal];
    const then: Record<string, unknown> = {
      properties: Object.fromEntries(ALL_PARAMS.filter((k) => !p.allowed.includes(k)).map((k) => [k, false])),
    };
    if (p.required.length > 0) then.required = p.required;
    return { if: { properties: { signal: { const: signal } }, required: ['signal'] }, then };
  });
  return s;
}
