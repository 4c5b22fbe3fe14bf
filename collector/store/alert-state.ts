// Alert state persisted in ClickHouse (ReplacingMergeTree by fingerprint), so a restarted collector
// resumes pending/firing alerts instead of paging again or forgetting them.
import type { ClickHouseClient } from '@clickhouse/client';
import type { Alert } from '../../rules/engine/alert.js';
import type { AlertStateStore } from '../../rules/engine/evaluator.js';
import type { Matcher, Silence } from '../../rules/engine/silence.js';
import { queryRows } from './client.js';
import { tsText } from './writer.js';

interface Row {
  fingerprint: string; rule: string; labels: Record<string, string>; annotations: Record<string, string>;
  state: string; value: number; active_ms: string; fired_ms: string | null; resolved_ms: string | null; receivers: string[]; notified: boolean | number;
}

export function clickhouseAlertStore(client: ClickHouseClient): AlertStateStore {
  return {
    async load(): Promise<Alert[]> {
      const rows = await queryRows<Row>(
        client,
        `SELECT fingerprint, rule, labels, annotations, state, value,
                toUnixTimestamp64Milli(active_at) AS active_ms,
                toUnixTimestamp64Milli(fired_at) AS fired_ms,
                toUnixTimestamp64Milli(resolved_at) AS resolved_ms, receivers, notified
         FROM alert_state FINAL WHERE state != 'inactive'`,
      );
      return rows.map((r) => ({
          fingerprint: r.fingerprint,
          rule: r.rule,
          labels: r.labels,
          annotations: r.annotations,
          state: r.state as Alert['state'],
          value: Number(r.value),
          activeAt: Number(r.active_ms),
          firedAt: r.fired_ms === null ? undefined : Number(r.fired_ms),
          resolvedAt: r.resolved_ms === null ? undefined : Number(r.resolved_ms),
          lastSentAt: r.fired_ms === null ? undefined : Number(r.fired_ms),
          // A firing alert restored here was paged before the restart unless a silence held it back.
          notified: Boolean(r.notified),
          receivers: r.receivers,
        }));
    },
    async save(alerts: Alert[]): Promise<void> {
      const now = Date.now();
      await client.insert({
        table: 'alert_state',
        format: 'JSONEachRow',
        values: alerts.map((a) => ({
          fingerprint: a.fingerprint,
          rule: a.rule,
          labels: a.labels,
          annotations: a.annotations,
          receivers: a.receivers,
          state: a.state,
          value: Number.isFinite(a.value) ? a.value : 0,
          active_at: tsText(a.activeAt),
          fired_at: a.firedAt === undefined ? null : tsText(a.firedAt),
          resolved_at: a.resolvedAt === undefined ? null : tsText(a.resolvedAt),
          notified: a.notified ?? false,
          updated_at: tsText(now),
        })),
      });
    },
  };
}

// Silences created through the API, shared by every collector on the same ClickHouse.
export interface SilenceStore {
  list(): Promise<Silence[]>;
  put(s: Silence): Promise<void>;
  delete(s: Silence): Promise<void>;
}

interface SilenceRow { id: string; matchers: string; starts_ms: string; ends_ms: string; comment: string; created_by: string }

export function clickhouseSilenceStore(client: ClickHouseClient): SilenceStore {
  const write = (s: Silence, deleted: boolean) =>
    client.insert({
      table: 'silences',
      format: 'JSONEachRow',
      values: [{
        id: s.id,
        matchers: JSON.stringify(s.matchers),
        starts_at: tsText(s.startsAt),
        ends_at: tsText(s.endsAt),
        comment: s.comment,
        created_by: s.createdBy,
        deleted,
        updated_at: tsText(Date.now()),
      }],
    });
  return {
    async list(): Promise<Silence[]> {
      const rows = await queryRows<SilenceRow>(
        client,
        `SELECT id, matchers, toUnixTimestamp64Milli(starts_at) AS starts_ms, toUnixTimestamp64Milli(ends_at) AS ends_ms, comment, created_by
         FROM silences FINAL WHERE NOT deleted ORDER BY starts_at, id`,
      );
      return rows.map((r) => ({
        id: r.id,
        matchers: JSON.parse(r.matchers) as Matcher[],
        startsAt: Number(r.starts_ms),
        endsAt: Number(r.ends_ms),
        comment: r.comment,
        createdBy: r.created_by,
        source: 'api' as const,
      }));
    },
    put: (s) => write(s, false).then(() => undefined),
    delete: (s) => write(s, true).then(() => undefined),
  };
}
