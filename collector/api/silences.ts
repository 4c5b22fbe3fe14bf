// Silences: /api/v1/silences (POST, GET, GET /:id, DELETE /:id) plus the rule files' `silences:`.
// API silences are stored in ClickHouse and re-read periodically, so every collector on the same
// store applies the same silences. Bodies follow Alertmanager's API v2 silence shape.
import { Hono } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ClickHouseClient } from '@clickhouse/client';
import { z } from 'zod';
import {
  checkMatchers, formatMatcher, newSilenceId, parseMatcher, SilenceSet, validateMatcher, type Matcher, type Silence,
} from '../../rules/engine/silence.js';
import { clickhouseSilenceStore } from '../store/alert-state.js';

const MatcherBody = z.union([
  z.string().min(1),
  z.strictObject({ name: z.string().min(1), value: z.string(), isRegex: z.boolean().default(false), isEqual: z.boolean().default(true) }),
]);

const time = z.string().refine((s) => !Number.isNaN(Date.parse(s)), { message: 'not a timestamp (RFC 3339)' });

const SilenceBody = z.strictObject({
  matchers: z.array(MatcherBody).min(1),
  startsAt: time.optional(),
  endsAt: time,
  comment: z.string().default(''),
  createdBy: z.string().default('api'),
});

const iso = (ms: number) => new Date(ms).toISOString();

function state(s: Silence, now: number): 'pending' | 'active' | 'expired' {
  return now < s.startsAt ? 'pending' : now < s.endsAt ? 'active' : 'expired';
}

export function silenceJson(s: Silence, now = Date.now()) {
  return {
    id: s.id,
    matchers: s.matchers,
    matchersText: s.matchers.map(formatMatcher),
    startsAt: iso(s.startsAt),
    endsAt: iso(s.endsAt),
    comment: s.comment,
    createdBy: s.createdBy,
    source: s.source,
    status: { state: state(s, now) },
  };
}

export interface Silences {
  set: SilenceSet;
  /** The active silence matching these labels (the evaluator's `silenced` option). */
  match(labels: Record<string, string>, now: number): Silence | undefined;
  refresh(): Promise<void>;
  routes(): Hono;
  stop(): void;
}

export async function createSilences(
  client: ClickHouseClient,
  fromFiles: Silence[],
  o: { refreshMs?: number; log?: (event: string, fields: Record<string, unknown>) => void } = {},
): Promise<Silences> {
  const store = clickhouseSilenceStore(client);
  const set = new SilenceSet(fromFiles);
  const refresh = async () => set.setApi(await store.list());
  await refresh();
  const timer = setInterval(() => {
    refresh().catch((e: Error) => o.log?.('silences_refresh_failed', { error: e.message }));
  }, o.refreshMs ?? 15_000);
  timer.unref();

  function routes(): Hono {
    const api = new Hono();
    api.get('/', (c) => {
      const now = Date.now();
      return c.json({ silences: set.list().map((s) => silenceJson(s, now)) });
    });
    api.get('/:id', (c) => {
      const s = set.get(c.req.param('id'));
      if (!s) throw new HTTPException(404, { message: `no silence "${c.req.param('id')}"` });
      return c.json(silenceJson(s));
    });
    api.post('/', async (c) => {
      let raw: unknown;
      try {
        raw = await c.req.json();
      } catch {
        throw new HTTPException(400, { message: 'body: not JSON' });
      }
      const parsed = SilenceBody.safeParse(raw);
      if (!parsed.success) {
        throw new HTTPException(400, { message: parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ') });
      }
      const b = parsed.data;
      let matchers: Matcher[];
      try {
        matchers = b.matchers.map((m) => {
          if (typeof m === 'string') return parseMatcher(m);
          validateMatcher(m);
          return m;
        });
        checkMatchers(matchers);
      } catch (e) {
        throw new HTTPException(400, { message: `matchers: ${(e as Error).message}` });
      }
      const startsAt = b.startsAt === undefined ? Date.now() : Date.parse(b.startsAt);
      const endsAt = Date.parse(b.endsAt);
      if (endsAt <= startsAt) throw new HTTPException(400, { message: 'endsAt: must be after startsAt' });
      const s: Silence = { id: newSilenceId(), matchers, startsAt, endsAt, comment: b.comment, createdBy: b.createdBy, source: 'api' };
      await store.put(s);
      set.putApi(s);
      o.log?.('silence_created', { id: s.id, matchers: matchers.map(formatMatcher), starts_at: iso(startsAt), ends_at: iso(endsAt) });
      return c.json({ silenceID: s.id, silence: silenceJson(s) });
    });
    api.delete('/:id', async (c) => {
      const id = c.req.param('id');
      const s = set.get(id);
      if (!s) throw new HTTPException(404, { message: `no silence "${id}"` });
      if (s.source === 'file') throw new HTTPException(409, { message: `silence "${id}" comes from a rule file: remove it there` });
      await store.delete(s);
      set.deleteApi(id);
      o.log?.('silence_deleted', { id });
      return c.json({ deleted: id });
    });
    return api;
  }

  return {
    set,
    match: (labels, now) => set.match(labels, now),
    refresh,
    routes,
    stop: () => clearInterval(timer),
  };
}
