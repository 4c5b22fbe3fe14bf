// Slack incoming webhook: a message with Block Kit blocks and a plain `text` fallback (what
// notifications and old clients show). One message per status per batch, at most 10 alerts each
// (well under Slack's 50 blocks); texts are cut to Slack's limits (header 150, section 3000,
// field 2000 characters) and &, <, > escaped so label values cannot inject mentions or links.
import type { Notification } from '../engine/evaluator.js';
import type { HttpRequest } from './http.js';

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const cut = (s: string, n: number) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);

const FIELD_LABELS = ['model', 'version', 'feature', 'output', 'method', 'severity'];

export function slackMessage(ns: Notification[]) {
  const status = ns[0].status;
  const rules = [...new Set(ns.map((n) => n.alert.rule))].join(', ');
  const title = `${status === 'firing' ? 'Firing' : 'Resolved'}: ${rules}${ns.length > 1 ? ` (${ns.length} alerts)` : ''}`;
  const blocks: unknown[] = [{ type: 'header', text: { type: 'plain_text', text: cut(`${status === 'firing' ? ':rotating_light:' : ':white_check_mark:'} ${title}`, 150), emoji: true } }];
  for (const [i, n] of ns.entries()) {
    const a = n.alert;
    if (i > 0) blocks.push({ type: 'divider' });
    const summary = a.annotations.summary ?? a.rule;
    const description = a.annotations.description ? `\n${a.annotations.description}` : '';
    const fields = FIELD_LABELS.filter((k) => a.labels[k]).map((k) => ({ type: 'mrkdwn', text: cut(`*${k}*\n${esc(a.labels[k])}`, 2000) }));
    fields.push({ type: 'mrkdwn', text: `*value*\n${Number.isInteger(a.value) ? a.value : a.value.toPrecision(4)}` });
    blocks.push({ type: 'section', text: { type: 'mrkdwn', text: cut(`*${esc(summary)}*${esc(description)}`, 3000) }, fields: fields.slice(0, 10) });
    const since = a.firedAt ?? a.activeAt;
    const when = status === 'resolved' && a.resolvedAt !== undefined
      ? `resolved <!date^${Math.floor(a.resolvedAt / 1000)}^{date_short_pretty} {time}|${new Date(a.resolvedAt).toISOString()}>`
      : `firing since <!date^${Math.floor(since / 1000)}^{date_short_pretty} {time}|${new Date(since).toISOString()}>`;
    blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: `${when} · fingerprint \`${a.fingerprint}\`` }] });
  }
  const text = cut(`[${status.toUpperCase()}${ns.length > 1 ? `:${ns.length}` : ''}] ${ns.map((n) => n.alert.annotations.summary ?? n.alert.rule).join('; ')}`, 3000);
  return { text, blocks };
}

export function slackRequests(webhookUrl: string, ns: Notification[]): { request: HttpRequest; notifications: Notification[] }[] {
  const out: { request: HttpRequest; notifications: Notification[] }[] = [];
  for (const status of ['firing', 'resolved'] as const) {
    const list = ns.filter((n) => n.status === status);
    for (let i = 0; i < list.length; i += 10) {
      const chunk = list.slice(i, i + 10);
      out.push({ request: { url: webhookUrl, headers: {}, body: JSON.stringify(slackMessage(chunk)) }, notifications: chunk });
    }
  }
  return out;
}
