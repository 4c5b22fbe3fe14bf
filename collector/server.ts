// The HTTP surface: routes only; everything they call is passed in.
import { Hono } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { bodyLimit } from 'hono/body-limit';
import { apiRoutes, type ApiDeps } from './api/routes.js';
import { logsReceiver, metricsReceiver, type ReceiverDeps } from './ingest/receiver.js';
import type { Telemetry } from './telemetry.js';

export interface ServerDeps extends ApiDeps {
  logs: ReceiverDeps;
  telemetry: Telemetry;
  ready(): boolean;
  /** Store reachable and nothing waiting in the spool. */
  storeReady(): boolean;
}

export function createApp(d: ServerDeps): Hono {
  const app = new Hono();

  const limit = bodyLimit({
    maxSize: d.logs.maxBodyBytes,
    onError: (c) => c.json({ code: 3, message: `body larger than ${d.logs.maxBodyBytes} bytes` }, 413),
  });
  app.post('/v1/logs', limit, logsReceiver(d.logs));
  app.post('/v1/metrics', limit, metricsReceiver(d.logs));

  // Liveness: the process serves and can accept data (into ClickHouse or the spool).
  app.get('/healthz', (c) => (d.ready() ? c.json({ status: 'ok' }) : c.json({ status: 'starting' }, 503)));
  // Readiness: migrations done and ClickHouse taking inserts directly.
  app.get('/readyz', (c) =>
    d.storeReady() ? c.json({ status: 'ready' }) : c.json({ status: d.ready() ? 'store unavailable, spooling' : 'starting' }, 503),
  );

  app.get('/metrics', async (c) =>
    c.body(await d.telemetry.scrape(), 200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }),
  );

  app.route('/api/v1', apiRoutes(d));

  app.onError((err, c) => {
    if (err instanceof HTTPException) return c.json({ error: err.message }, err.status);
    return c.json({ error: `internal error: ${err.message}` }, 500);
  });
  app.notFound((c) => c.json({ error: `no route for ${c.req.method} ${c.req.path}` }, 404));
  return app;
}
