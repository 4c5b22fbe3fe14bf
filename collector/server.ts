// The HTTP surface: routes only; everything they call is passed in.
import { Hono } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { apiRoutes, type ApiDeps } from './api/routes.js';
import { logsReceiver, metricsReceiver, type ReceiverDeps } from './ingest/receiver.js';
import type { Telemetry } from './telemetry.js';
import { authenticate, can, requireScope, type ApiKey, type Principal } from './auth.js';

export interface ServerDeps extends ApiDeps {
  logs: ReceiverDeps;
  telemetry: Telemetry;
  ready(): boolean;
  /** Store reachable and nothing waiting in the spool. */
  storeReady(): boolean;
  /** The API keys, or a function returning the current ones (called per request: reloads apply at once). */
  keys: readonly ApiKey[] | (() => readonly ApiKey[]);
}

type Env = { Variables: { principal: Principal } };

export function createApp(d: ServerDeps): Hono<Env> {
  const app = new Hono<Env>();
  const auth = authenticate(d.keys);

  // Ingest: a key needs the write scope; each record is then checked against the key's models. The
  // receivers apply the body size limit themselves as they read (ingest/read-body.ts: 413).
  const ingest: ReceiverDeps = { ...d.logs, authorize: (c, model) => can(c.get('principal') as Principal, 'write', model) };
  app.post('/v1/logs', auth, requireScope('write', 'some'), logsReceiver(ingest));
  app.post('/v1/metrics', auth, requireScope('write', 'some'), metricsReceiver(ingest));

  // Liveness: the process serves and can accept data (into ClickHouse or the spool).
  app.get('/healthz', (c) => (d.ready() ? c.json({ status: 'ok' }) : c.json({ status: 'starting' }, 503)));
  // Readiness: migrations done and ClickHouse taking inserts directly.
  app.get('/readyz', (c) =>
    d.storeReady() ? c.json({ status: 'ready' }) : c.json({ status: d.ready() ? 'store unavailable, spooling' : 'starting' }, 503),
  );

  // Prometheus scrapes with a key that may read every model (bearer_token in the scrape config).
  app.get('/metrics', auth, requireScope('read', 'all'), async (c) =>
    c.body(await d.telemetry.scrape(), 200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }),
  );

  app.use('/api/*', auth);
  app.route('/api/v1', apiRoutes(d));

  app.onError((err, c) => {
    if (err instanceof HTTPException) return c.json({ error: err.message }, err.status);
    return c.json({ error: `internal error: ${err.message}` }, 500);
  });
  app.notFound((c) => c.json({ error: `no route for ${c.req.method} ${c.req.path}` }, 404));
  return app;
}
