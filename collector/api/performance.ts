// GET /api/v1/models/{model}/performance?window=24h[&version=v1][&segment=key][&task=binary|multiclass|regression]
//   [&positive=1][&threshold=0.5][&baseline_from=...&baseline_to=...]
// Realized metrics with label coverage and decay from the baseline window, and CBPE estimates for
// binary classifiers with scores. Times are ISO 8601 or epoch milliseconds.
import { Hono } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { parseDuration } from '../../rules/engine/duration.js';
import type { PerformanceEngine } from '../performance/engine.js';
import type { Task } from '../performance/metrics.js';

const TASKS: Task[] = ['binary', 'multiclass', 'regression'];

function time(name: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const ms = /^\d+$/.test(text) ? Number(text) : Date.parse(text);
  if (!Number.isFinite(ms)) throw new HTTPException(400, { message: `${name}: not a time (ISO 8601 or epoch ms): "${text}"` });
  return ms;
}

export function performanceRoutes(engine: PerformanceEngine): Hono {
  const api = new Hono();
  api.get('/models/:model/performance', async (c) => {
    const model = c.req.param('model');
    const windowText = c.req.query('window') ?? '24h';
    const windowMs = parseDuration(windowText);
    if (windowMs === undefined || windowMs <= 0) throw new HTTPException(400, { message: `window: not a duration: "${windowText}"` });
    const task = c.req.query('task') as Task | undefined;
    if (task !== undefined && !TASKS.includes(task)) throw new HTTPException(400, { message: `task: must be one of ${TASKS.join(', ')}` });
    const thresholdText = c.req.query('threshold');
    const threshold = thresholdText === undefined ? undefined : Number(thresholdText);
    if (threshold !== undefined && !Number.isFinite(threshold)) throw new HTTPException(400, { message: `threshold: not a number: "${thresholdText}"` });
    const bFrom = time('baseline_from', c.req.query('baseline_from'));
    const bTo = time('baseline_to', c.req.query('baseline_to'));
    if ((bFrom === undefined) !== (bTo === undefined)) throw new HTTPException(400, { message: 'baseline_from and baseline_to go together' });
    if (bFrom !== undefined && bTo !== undefined && bTo <= bFrom) throw new HTTPException(400, { message: 'baseline_to must be after baseline_from' });
    const version = c.req.query('version');
    const known = await engine.versions(model);
    if (known.length === 0) {
      // Labels may come first: a model with labels only is known, with nothing to measure yet.
      const unmatched = await engine.unmatchedLabels(model);
      if (unmatched === 0) throw new HTTPException(404, { message: `no predictions for model "${model}"` });
      return c.json({ model, unmatched_labels: unmatched, versions: [], window: windowText });
    }
    if (version !== undefined && !known.some((v) => v.version === version)) {
      throw new HTTPException(404, { message: `no predictions for model "${model}" version "${version}"` });
    }
    const segment = c.req.query('segment');
    const r = await engine.compute({
      model,
      version,
      windowMs,
      segmentKey: segment === undefined || segment === '' ? undefined : segment,
      task,
      positive: c.req.query('positive'),
      threshold,
      baseline: bFrom !== undefined && bTo !== undefined ? { fromMs: bFrom, toMs: bTo } : undefined,
    });
    return c.json({ ...r, window: windowText });
  });
  return api;
}
