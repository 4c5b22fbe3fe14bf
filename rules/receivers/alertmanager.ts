// Prometheus Alertmanager, API v2: POST {url}/api/v2/alerts with a list of postable alerts, the
// way Prometheus sends them. A firing alert's endsAt lies 4 x max(resend interval, evaluation
// interval) ahead and is pushed forward by the re-sends, so Alertmanager times out an alert whose
// sender died; a resolved alert is sent once with endsAt = the time it resolved.
import type { Notification } from '../engine/evaluator.js';
import type { HttpRequest } from './http.js';

export interface AlertmanagerTarget { url: string; headers: Record<string, string>; resendIntervalMs: number; generatorURL?: string }

const iso = (ms: number) => new Date(ms).toISOString();

export function alertmanagerAlerts(t: AlertmanagerTarget, ns: Notification[]) {
  return ns.map((n) => {
    const a = n.alert;
    // Prometheus leaves out empty label values; Alertmanager treats absent and empty alike.
    const labels = Object.fromEntries(Object.entries(a.labels).filter(([, v]) => v !== ''));
    return {
      labels,
      annotations: a.annotations,
      startsAt: iso(a.firedAt ?? a.activeAt),
      endsAt: n.status === 'resolved' ? iso(a.resolvedAt ?? n.at) : iso(n.at + 4 * Math.max(t.resendIntervalMs, n.intervalMs)),
      ...(t.generatorURL ? { generatorURL: t.generatorURL } : {}),
    };
  });
}

export function alertmanagerRequest(t: AlertmanagerTarget, ns: Notification[]): HttpRequest {
  return { url: `${t.url.replace(/\/+$/, '')}/api/v2/alerts`, headers: t.headers, body: JSON.stringify(alertmanagerAlerts(t, ns)) };
}
