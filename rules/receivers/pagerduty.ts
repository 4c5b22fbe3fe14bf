// PagerDuty Events API v2: one event per alert, POSTed to /v2/enqueue. A firing alert is a
// `trigger`, a resolved one a `resolve`, both with dedup_key = the alert's fingerprint. The
// fingerprint is a hash of the alert's labels, identical in every collector evaluating the same
// rules, so two collectors paging the same alert open one incident and resolve it once.
import type { Notification } from '../engine/evaluator.js';
import type { HttpRequest } from './http.js';

export interface PagerDutyTarget { routingKey: string; url: string; source?: string; client: string; clientUrl?: string }

const SEVERITIES = new Set(['critical', 'error', 'warning', 'info']);

function summaryOf(n: Notification): string {
  const a = n.alert;
  const s = a.annotations.summary
    || `${a.rule}: ${Object.entries(a.labels).filter(([k]) => k !== 'alertname' && k !== 'severity').map(([k, v]) => `${k}=${v}`).join(', ')}`;
  return s.length > 1024 ? `${s.slice(0, 1023)}…` : s;
}

export function pagerdutyEvent(t: PagerDutyTarget, n: Notification) {
  const a = n.alert;
  if (n.status === 'resolved') return { routing_key: t.routingKey, event_action: 'resolve', dedup_key: a.fingerprint };
  const severity = SEVERITIES.has(a.labels.severity) ? a.labels.severity : 'warning';
  return {
    routing_key: t.routingKey,
    event_action: 'trigger',
    dedup_key: a.fingerprint,
    payload: {
      summary: summaryOf(n),
      source: t.source || a.labels.model || 'driftwatch',
      severity,
      timestamp: new Date(a.firedAt ?? a.activeAt).toISOString(),
      ...(a.labels.feature ? { component: a.labels.feature } : {}),
      ...(a.labels.model ? { group: a.labels.model } : {}),
      class: a.rule,
      custom_details: { labels: a.labels, annotations: a.annotations, value: a.value, fingerprint: a.fingerprint },
    },
    client: t.client,
    ...(t.clientUrl ? { client_url: t.clientUrl } : {}),
  };
}

export function pagerdutyRequest(t: PagerDutyTarget, n: Notification): HttpRequest {
  return { url: t.url, headers: {}, body: JSON.stringify(pagerdutyEvent(t, n)) };
}
