// POST /v1/logs: the OTLP/HTTP logs receiver. Answers in the request's encoding; a record that
// fails validation is rejected alone (partial success names it and the reason), a body that
// cannot be decoded at all is a 400 with a google.rpc.Status message.
import type { Context } from 'hono';
import { ExportLogsServiceResponse, Status } from '../../otlp/schema.js';
import { BadRequest, decompress, encodingOf, type Encoding } from './body.js';
import { decodeLogs, parseLogsRequest, type Limits } from './otlp-logs.js';
import type { DecodedBatch } from './records.js';
import { Backpressure } from '../store/writer.js';

export interface LogsReceiverDeps {
  limits: Limits;
  maxBodyBytes: number;
  store(batch: DecodedBatch): Promise<void>;
  onRequest?(status: number, batch?: DecodedBatch): void;
}

const MAX_MESSAGES = 20;

export function summarize(batch: DecodedBatch): string {
  const shown = batch.rejected.slice(0, MAX_MESSAGES).map((r) => `${r.path}: ${r.reason}`);
  const more = batch.rejected.length - shown.length;
  return shown.join('; ') + (more > 0 ? `; and ${more} more` : '');
}

function respond(c: Context, status: 200 | 400 | 413 | 415 | 429 | 503, enc: Encoding, body: { partial?: { rejected: number; message: string }; error?: string }) {
  if (enc === 'protobuf') {
    const bytes =
      body.error !== undefined
        ? Status.encode({ code: status >= 429 ? 14 : 3, message: body.error }).finish()
        : ExportLogsServiceResponse.encode(
            body.partial ? { partialSuccess: { rejectedLogRecords: body.partial.rejected, errorMessage: body.partial.message } } : {},
          ).finish();
    return c.body(bytes as Uint8Array<ArrayBuffer>, status, { 'content-type': 'application/x-protobuf' });
  }
  const json =
    body.error !== undefined
      ? { code: status >= 429 ? 14 : 3, message: body.error }
      : body.partial
        ? { partialSuccess: { rejectedLogRecords: String(body.partial.rejected), errorMessage: body.partial.message } }
        : {};
  return c.json(json, status);
}

export function logsReceiver(deps: LogsReceiverDeps) {
  return async function receiveLogs(c: Context) {
    const enc = encodingOf(c.req.header('content-type'));
    if (!enc) {
      deps.onRequest?.(415);
      return c.json({ code: 3, message: 'Content-Type must be application/json or application/x-protobuf' }, 415);
    }
    let batch: DecodedBatch;
    try {
      const raw = new Uint8Array(await c.req.arrayBuffer());
      const body = decompress(raw, c.req.header('content-encoding'), deps.maxBodyBytes);
      batch = decodeLogs(parseLogsRequest(body, enc), deps.limits);
    } catch (e) {
      if (e instanceof BadRequest || e instanceof RangeError) {
        deps.onRequest?.(400);
        return respond(c, 400, enc, { error: (e as Error).message });
      }
      throw e;
    }
    const accepted = batch.predictions.length + batch.labels.length;
    if (accepted === 0 && batch.rejected.length > 0) {
      // Nothing in the request is usable: a plain, non-retryable client error.
      deps.onRequest?.(400, batch);
      return respond(c, 400, enc, { error: `all ${batch.rejected.length} record(s) rejected: ${summarize(batch)}` });
    }
    try {
      await deps.store(batch);
    } catch (e) {
      // Retryable by OTLP clients: 429 when the queue is full, 503 when storage cannot take it.
      const status = e instanceof Backpressure && /queue/.test(e.message) ? 429 : 503;
      deps.onRequest?.(status, batch);
      c.header('retry-after', '5');
      return respond(c, status, enc, { error: `not stored, retry later: ${(e as Error).message}` });
    }
    deps.onRequest?.(200, batch);
    if (batch.rejected.length > 0) {
      return respond(c, 200, enc, { partial: { rejected: batch.rejected.length, message: summarize(batch) } });
    }
    return respond(c, 200, enc, {});
  };
}
