// Bulk uploads: POST /api/v1/models/{model}/labels (ground truth for predictions, by id).
// Body: CSV with a header, JSON lines or Parquet, with columns id, label and optionally ts
// (ISO 8601 or unix seconds; default: now). Answers {"model", "labels": N}.
import { Hono } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { bodyLimit } from 'hono/body-limit';
import { join } from 'node:path';
import type { EmbeddingDims } from '../ingest/embeddings.js';
import type { Store } from '../store/client.js';
import { requireScope, type Principal } from '../auth.js';
import { uploadFormat, UploadError, withStagedUpload } from '../ingest/upload.js';

export interface UploadDeps {
  store: Store;
  tmpDir: string;
  maxBytes: number;
  onLabels?(rows: number): void;
  /** The embeddings' dimensions the collector holds live records to (an uploaded reference too). */
  embeddingDims?: EmbeddingDims;
}

export function uploadRoutes(d: UploadDeps): Hono<{ Variables: { principal: Principal } }> {
  const r = new Hono<{ Variables: { principal: Principal } }>();
  const limit = bodyLimit({ maxSize: d.maxBytes, onError: (c) => c.json({ error: `upload larger than ${d.maxBytes} bytes` }, 413) });
  r.post('/models/:model/labels', requireScope('write', (c) => c.req.param('model') ?? ''), limit, async (c) => {
    const model = c.req.param('model');
    try {
      const format = uploadFormat(c.req.header('content-type'), c.req.query('format'));
      const body = new Uint8Array(await c.req.arrayBuffer());
      const n = await withStagedUpload(
        d.store,
        body,
        format,
        [
          { name: 'id', type: 'String', required: true },
          { name: 'label', type: 'String', required: true },
          { name: 'ts', type: 'String', required: false },
        ],
        join(d.tmpDir, 'uploads'),
        (staging) =>
          d.store.client.command({
            query: `INSERT INTO labels (model, id, ts, label)
                    SELECT {model:String}, id, coalesce(parseDateTime64BestEffortOrNull(ts, 3, 'UTC'), now64(3)), label FROM ${staging}`,
            query_params: { model },
          }).then(() => undefined),
      );
      d.onLabels?.(n);
      return c.json({ model, labels: n });
    } catch (e) {
      if (e instanceof UploadError) throw new HTTPException(400, { message: e.message });
      throw e;
    }
  });
  return r;
}
