// The JSON API (/api/v1/...), one handler per resource.
import { Hono } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ClickHouseClient } from '@clickhouse/client';
import type { Evaluator } from '../../rules/engine/evaluator.js';
import type { LiveDrift } from '../drift/live.js';
import { parseDuration } from '../../rules/engine/duration.js';
import { METHODS } from '../../rules/engine/schema.js';
import { listModels } from './models.js';
import type { Silences } from './silences.js';
import type { PerformanceEngine } from '../performance/engine.js';
import { performanceRoutes } from './performance.js';
import { can, requireScope, type Principal } from '../auth.js';
import { uploadRoutes, type UploadDeps } from './uploads.js';
import { baselineRoutes } from './baselines.js';
import { DriftInputError } from '../drift/report.js';

export interface ApiDeps { uploads?: UploadDeps; client: ClickHouseClient; evaluator?: Evaluator; drift: LiveDrift; silences?: Silences; performance?: PerformanceEngine }

const iso = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString());

type Env = { Variables: { principal: Principal } };

export function apiRoutes(d: ApiDeps): Hono<Env> {
  const api = new Hono<Env>();

  // Uploads need write access to the model (checked in their routes, before the read check below).
  if (d.uploads) api.route('/', uploadRoutes(d.uploads));
  // Reading a model's data needs a key that may read that model; lists show only those models.
  api.use('/models/:model/*', async (c, next) => (c.req.method === 'GET' ? requireScope('read', (cc) => cc.req.param('model') ?? '')(c, next) : next()));
  api.use('/silences/*', async (c, next) => requireScope(c.req.method === 'GET' ? 'read' : 'write', c.req.method === 'GET' ? 'some' : 'all')(c, next));
  api.use('/silences', async (c, next) => requireScope(c.req.method === 'GET' ? 'read' : 'write', c.req.method === 'GET' ? 'some' : 'all')(c, next));
  api.use('/alerts', requireScope('read', 'some'));
  api.use('/models', requireScope('read', 'some'));

  api.get('/models', async (c) => {
    const p = c.get('principal');
    return c.json({ models: (await listModels(d.client)).filter((m) => can(p, 'read', m.name)) });
  });
  if (d.silences) api.route('/silences', d.silences.routes());
  if (d.performance) api.route('/', performanceRoutes(d.performance));
  api.route('/', baselineRoutes({ drift: d.drift, store: d.uploads?.store, tmpDir: d.uploads?.tmpDir, maxBytes: d.uploads?.maxBytes, embeddingDims: d.uploads?.embeddingDims }));

  api.get('/alerts', (c) =>
    c.json({
      alerts: (d.evaluator?.active() ?? []).filter((a) => can(c.get('principal'), 'read', a.labels.model ?? '')).map((a) => ({
        name: a.rule,
        state: a.state,
        labels: a.labels,
        annotations: a.annotations,
        value: a.value,
        active_at: iso(a.activeAt),
        fired_at: iso(a.firedAt),
        fingerprint: a.fingerprint,
      })),
    }),
  );

  // The drift report of the conventions, for each version with a baseline (or the one asked for);
  // with ?segment=key, one report per value of that segment key instead.
  api.get('/models/:model/drift', async (c) => {
    const model = c.req.param('model');
    const windowText = c.req.query('window') ?? '1h';
    const windowMs = parseDuration(windowText);
    if (windowMs === undefined || windowMs <= 0) throw new HTTPException(400, { message: `window: not a duration: "${windowText}"` });
    const method = (c.req.query('method') ?? 'auto') as (typeof METHODS)[number];
    if (!METHODS.includes(method)) throw new HTTPException(400, { message: `method: must be one of ${METHODS.join(', ')}` });
    const version = c.req.query('version');
    const segment = c.req.query('segment');
    await d.drift.ensureBaselines();
    const versions = d.drift.versions().filter((b) => b.model === model && (version === undefined || b.version === version));
    if (versions.length === 0) throw new HTTPException(404, { message: `no baseline yet for model "${model}"${version ? ` version "${version}"` : ''}` });
    const results = [];
    try {
      for (const b of versions) {
        const baseline = { source: b.source, from: b.fromMs === 0 && b.toMs === 0 ? null : iso(b.fromMs), to: b.fromMs === 0 && b.toMs === 0 ? null : iso(b.toMs), rows: b.rows };
        if (segment !== undefined && segment !== '') {
          const segs = await d.drift.computeSegments(b.model, b.version, windowMs, method, segment);
          results.push({
            version: b.version,
            window: windowText,
            baseline,
            segment_key: segment,
            segments: segs.map((r) => ({ segment: r.segment.value, computed_at: iso(r.computedAt), ...r.report })),
          });
          continue;
        }
        const r = await d.drift.compute(b.model, b.version, windowMs, method);
        results.push({
          version: b.version,
          window: windowText,
          baseline,
          computed_at: iso(r?.computedAt),
          current: r?.window ? { from: iso(r.window.fromMs), to: iso(r.window.toMs), read: r.read } : null,
          ...(r?.report ?? { reference_rows: b.rows, current_rows: 0, columns: [] }),
        });
      }
    } catch (e) {
      if (e instanceof DriftInputError) throw new HTTPException(400, { message: e.message });
      throw e;
    }
    return c.json({ model, versions: results });
  });

  return api;
}
