// Baselines of a model's versions, stored as drift profiles.
//   GET  /api/v1/models/{model}/baseline[?version=v]  the baselines and their profiles
//   PUT|POST /api/v1/models/{model}/baseline
//     JSON {"version": "v2", "from": "2026-01-01T00:00:00Z", "to": "...", "source"?: "..."}
//       (from/to: ISO 8601 or unix seconds): that past window of the version's predictions.
//     CSV with a header, JSON lines or Parquet (Content-Type or ?format=, as for labels) with
//       ?version=v2: an uploaded reference, one column per feature (`@prediction`, `@score` for the
//       outputs; `id` and `ts` columns are ignored). A column is numerical when every non-missing
//       value parses as a number; a vector column (an embedding named as the column, as
//       ml.embedding.<name> live) when it is a Parquet array of numbers or every non-missing value
//       is a bracketed list of numbers (a JSON array in JSON lines, "[0.1, 2]" in CSV), detected
//       as the drift CLI does (drift/vector-input.ts); else categorical. Missing = empty, null,
//       none, NaN (and +-inf in a numerical column, counted as non-finite); an empty vector or one
//       with a non-finite element is missing too.
//   Answers the baseline: {"model","version","source","from","to","rows","profile_id","features":N,"embeddings":N}.
import { Hono, type Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { bodyLimit } from 'hono/body-limit';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { queryRows, type Store } from '../store/client.js';
import { requireScope, type Principal } from '../auth.js';
import { uploadFormat, UploadError, withStagedUpload, type UploadFormat } from '../ingest/upload.js';
import type { Baseline, LiveDrift } from '../drift/live.js';
import { DriftInputError } from '../drift/report.js';
import { isVectorText, VECTOR_TYPE, vectorExpr } from '../drift/vector-input.js';
import { ident, literal } from '../store/sql.js';
import type { EmbeddingDims } from '../ingest/embeddings.js';

export interface BaselineDeps { drift: LiveDrift; store?: Store; tmpDir?: string; maxBytes?: number; embeddingDims?: EmbeddingDims }

type Env = { Variables: { principal: Principal } };

const iso = (ms: number) => new Date(ms).toISOString();
const IGNORED = new Set(['id', 'ts']);
const MISSING = `('', 'nan', 'null', 'none')`;

export function baselineJson(b: Baseline, features?: number, embeddings?: number) {
  const uploaded = b.fromMs === 0 && b.toMs === 0;
  return {
    model: b.model,
    version: b.version,
    source: b.source,
    from: uploaded ? null : iso(b.fromMs),
    to: uploaded ? null : iso(b.toMs),
    rows: b.rows,
    profile_id: b.profileId,
    ...(features === undefined ? {} : { features }),
    ...(embeddings === undefined ? {} : { embeddings }),
  };
}

/** `from`/`to` of a window baseline: ISO 8601 text or unix seconds. */
function instant(v: unknown, name: string): number {
  if (typeof v === 'number' && Number.isFinite(v)) return Math.round(v * 1000);
  if (typeof v === 'string' && v.trim() !== '') {
    const t = /^\d+(\.\d+)?$/.test(v.trim()) ? Number(v) * 1000 : Date.parse(v);
    if (Number.isFinite(t)) return Math.round(t);
  }
  throw new HTTPException(400, { message: `${name}: expected an ISO 8601 time or unix seconds, got ${JSON.stringify(v)}` });
}

/** A column of an upload; `type` only where the file has types (Parquet). */
interface UploadColumn { name: string; type?: string }

/** Columns of an upload, from the CSV header, the first JSON lines, or the Parquet schema. */
async function uploadColumns(store: Store, body: Uint8Array, format: UploadFormat, tmpDir: string): Promise<UploadColumn[]> {
  if (format === 'csv') {
    const text = Buffer.from(body.subarray(0, Math.min(body.length, 1 << 20))).toString('utf8');
    const line = text.split(/\r?\n/, 1)[0] ?? '';
    const cols: string[] = [];
    let cur = '';
    let quoted = false;
    for (let i = 0; i < line.length; i++) {
      const ch = line[i];
      if (quoted) {
        if (ch === '"' && line[i + 1] === '"') { cur += '"'; i++; } else if (ch === '"') quoted = false;
        else cur += ch;
      } else if (ch === '"') quoted = true;
      else if (ch === ',') { cols.push(cur); cur = ''; } else cur += ch;
    }
    cols.push(cur);
    return cols.filter((c) => c !== '').map((name) => ({ name }));
  }
  if (format === 'jsonl') {
    const names = new Set<string>();
    const lines = Buffer.from(body).toString('utf8').split('\n');
    for (const l of lines.slice(0, 1000)) {
      if (l.trim() === '') continue;
      try {
        const o = JSON.parse(l) as unknown;
        if (o && typeof o === 'object' && !Array.isArray(o)) for (const k of Object.keys(o)) names.add(k);
      } catch {
        throw new UploadError('the jsonl upload could not be read: a line is not JSON');
      }
    }
    return [...names].map((name) => ({ name }));
  }
  if (store.kind !== 'embedded') throw new UploadError('a Parquet reference needs the embedded store here; send CSV or JSON lines');
  mkdirSync(tmpDir, { recursive: true });
  const file = join(tmpDir, `describe_${randomUUID().replaceAll('-', '')}.parquet`);
  writeFileSync(file, body);
  try {
    return (await queryRows<{ name: string; type: string }>(store.client, `DESCRIBE TABLE file({path:String}, 'Parquet')`, { path: file })).map((r) => ({ name: r.name, type: r.type }));
  } catch (e) {
    throw new UploadError(`the parquet upload could not be read: ${(e as Error).message.split('\n')[0].slice(0, 200)}`);
  } finally {
    rmSync(file, { force: true });
  }
}

export function baselineRoutes(d: BaselineDeps): Hono<Env> {
  const r = new Hono<Env>();
  const maxBytes = d.maxBytes ?? 256 * 1024 ** 2;
  const limit = bodyLimit({ maxSize: maxBytes, onError: (c) => c.json({ error: `upload larger than ${maxBytes} bytes` }, 413) });

  r.get('/models/:model/baseline', async (c) => {
    const model = c.req.param('model');
    const version = c.req.query('version');
    const list = d.drift.versions().filter((b) => b.model === model && (version === undefined || b.version === version));
    if (list.length === 0) throw new HTTPException(404, { message: `no baseline for model "${model}"${version ? ` version "${version}"` : ''}` });
    const out = [];
    for (const b of list.sort((x, y) => (x.version < y.version ? -1 : 1))) {
      const p = await d.drift.profile(b.model, b.version);
      out.push({
        ...baselineJson(b),
        features: [...(p?.features.values() ?? [])].map((f) =>
          f.type === 'numerical'
            ? { feature: f.feature, type: f.type, rows: f.rows, n: f.n, non_finite: f.nonfinite, min: f.n ? f.min : null, max: f.n ? f.max : null, std: f.n ? f.std : null, edges: f.edges, counts: f.refBins, values_exact: f.valuesExact }
            : { feature: f.feature, type: f.type, rows: f.rows, n: f.n, categories: f.categories, counts: f.counts },
        ),
        // Per-dimension centroid and sample variance; tr(Sigma^2) and its Gram sample's size (null, 0: none).
        embeddings: (await d.drift.embeddingProfiles(b.model, b.version)).map((e) => ({
          embedding: e.embedding, dimension: e.dim, rows: e.rows, n: e.n, non_finite: e.nonfinite, mean: Array.from(e.mean), var: Array.from(e.var),
          trace_sq: e.traceSq ?? null, trace_sq_n: e.traceSq === undefined ? 0 : e.traceSqN,
        })),
      });
    }
    return c.json({ model, baselines: out });
  });

  const set = async (c: Context<Env>) => {
    const model = c.req.param('model') ?? '';
    const ct = (c.req.header('content-type') ?? '').split(';')[0].trim().toLowerCase();
    try {
      let b: Baseline;
      if (ct === 'application/json' && c.req.query('format') === undefined) {
        const body = (await c.req.json().catch(() => undefined)) as Record<string, unknown> | undefined;
        if (!body || typeof body !== 'object') throw new HTTPException(400, { message: 'body: expected a JSON object {"version","from","to"}' });
        const version = body.version;
        if (typeof version !== 'string' || version === '') throw new HTTPException(400, { message: 'version: required' });
        const fromMs = instant(body.from, 'from');
        const toMs = instant(body.to, 'to');
        if (toMs < fromMs) throw new HTTPException(400, { message: 'to: must not be before from' });
        const source = typeof body.source === 'string' && body.source !== '' ? body.source : `window ${iso(fromMs)} to ${iso(toMs)}`;
        b = await d.drift.setBaseline(model, version, { kind: 'range', fromMs, toMs, source });
      } else {
        if (!d.store) throw new HTTPException(501, { message: 'reference uploads are not enabled' });
        const version = c.req.query('version');
        if (!version) throw new HTTPException(400, { message: 'version: required (?version=) for an uploaded reference' });
        const format = uploadFormat(c.req.header('content-type'), c.req.query('format'));
        const body = new Uint8Array(await c.req.arrayBuffer());
        if (body.length === 0) throw new UploadError('the upload is empty');
        const tmp = join(d.tmpDir ?? '.', 'uploads');
        const columns = (await uploadColumns(d.store, body, format, tmp)).filter((col) => !IGNORED.has(col.name));
        if (columns.length === 0) throw new UploadError('the upload has no feature columns');
        // Parquet arrays of numbers are staged as arrays (vectors); everything else as text, typed below.
        const arrays = columns.filter((col) => col.type !== undefined && VECTOR_TYPE.test(col.type)).map((col) => col.name);
        const names = columns.map((col) => col.name).filter((n) => !arrays.includes(n));
        const STAGED_ARRAY = 'Array(Nullable(Float64))';
        let baseline: Baseline | undefined;
        const store = d.store;
        const staged = columns.map(({ name }) => ({ name, type: arrays.includes(name) ? STAGED_ARRAY : 'String', required: false }));
        const dims = new Map<string, number>(); // the uploaded embeddings' dimensions
        await withStagedUpload(store, body, format, staged, tmp, async (staging) => {
          const text = (n: string) => `nullIf(trimBoth(${ident(n)}), '')`;
          const missing = (n: string) => `(${ident(n)} IS NULL OR lower(trimBoth(${ident(n)})) IN ${MISSING})`;
          // Numerical: every non-missing value a number; +-inf counts as missing there. Else a vector
          // column: every non-missing value a list of numbers (the CLI's test). Else categorical.
          const [counts] = await queryRows<Record<string, string>>(store.client,
            `SELECT count() AS dw_rows${names.map((n, i) => `, countIf(NOT ${missing(n)} AND toFloat64OrNull(${text(n)}) IS NULL) AS c${i}, countIf(NOT ${missing(n)}) AS v${i}, countIf(NOT ${missing(n)} AND NOT ${isVectorText(ident(n))}) AS l${i}`).join('')} FROM ${staging}`);
          const present = (i: number) => Number(counts[`v${i}`]) > 0;
          const numerical = names.filter((_, i) => Number(counts[`c${i}`]) === 0 && present(i));
          const vectors = [...arrays, ...names.filter((n, i) => !numerical.includes(n) && present(i) && Number(counts[`l${i}`]) === 0)];
          const categorical = names.filter((n) => !numerical.includes(n) && !vectors.includes(n));
          const cell = (cols: string[], expr: (n: string) => string) =>
            `SELECT 0 AS side, dw_cell.1 AS column, dw_cell.2 AS value FROM ${staging} ARRAY JOIN [${cols.map((n) => `(${literal(n)}, ${expr(n)})`).join(', ')}] AS dw_cell`;
          // Vectors through Float32, as ingest stores live ones: a file and the same vectors sent live give one profile.
          const vector = (n: string) => `CAST(CAST(${vectorExpr(n, arrays.includes(n) ? STAGED_ARRAY : 'Nullable(String)')} AS Array(Float32)) AS Array(Float64))`;
          baseline = await d.drift.setBaseline(model, version, {
            kind: 'sources',
            // An embedding keeps one dimension per model version, live records and reference alike: a
            // reference of another dimension than the predictions sent would drop out of every report.
            checkEmbeddings: (profiles) => {
              for (const { embedding: n, dim } of profiles) {
                const known = d.embeddingDims?.get(model, version, n);
                if (known !== undefined && dim !== known) {
                  throw new UploadError(`column "${n}": vectors of dimension ${dim}, but embedding "${n}" of model "${model}" version "${version}" has dimension ${known}`);
                }
                dims.set(n, dim);
              }
            },
            rows: Number(counts.dw_rows),
            source: `upload (${format})`,
            sources: {
              ...(numerical.length ? { numeric: { sql: cell(numerical, (n) => `if(${missing(n)}, nan, ifNull(toFloat64OrNull(${text(n)}), nan))`) } } : {}),
              ...(categorical.length ? { categorical: { sql: cell(categorical, (n) => `CAST(if(${missing(n)}, NULL, ${ident(n)}) AS Nullable(String))`) } } : {}),
              ...(vectors.length ? { embedding: { sql: cell(vectors, vector) } } : {}),
            },
          });
        });
        b = baseline!;
        // Live records of these embeddings now have to match the reference's dimension.
        for (const [n, dim] of dims) if (d.embeddingDims?.get(model, version, n) === undefined) d.embeddingDims?.set(model, version, n, dim);
      }
      const p = await d.drift.profile(b.model, b.version);
      return c.json(baselineJson(b, p?.features.size ?? 0, (await d.drift.embeddingProfiles(b.model, b.version)).length));
    } catch (e) {
      if (e instanceof UploadError || e instanceof DriftInputError) throw new HTTPException(400, { message: e.message });
      throw e;
    }
  };
  const write = requireScope('write', (c) => c.req.param('model') ?? '');
  r.put('/models/:model/baseline', write, limit, set);
  r.post('/models/:model/baseline', write, limit, set);
  return r;
}
