// OTLP/HTTP export of one encoded batch: gzip, timeout, retries with exponential backoff and jitter
// on 429/5xx and network errors (honouring Retry-After), none on other 4xx. Never throws.
import { gzip } from 'node:zlib';
import { promisify } from 'node:util';
import { diag } from '@opentelemetry/api';
import { ExportLogsServiceResponse, TO_JSON_SHAPE } from '../otlp/schema.js';

const gzipAsync = promisify(gzip);

export interface ExportTarget {
  url: string;
  encoding: 'protobuf' | 'json';
  apiKey?: string;
  gzip: boolean;
  timeoutMs: number;
  maxRetries: number;
  /** Base delay of the backoff. */
  retryBaseMs: number;
}

export type ExportOutcome =
  | { ok: true; rejected: number; message?: string; retries: number }
  | { ok: false; retryable: boolean; reason: string; retries: number };

const logged = new Set<string>();
/** Logs a problem once per kind through OTel's diag logger, never per record. */
export function warnOnce(kind: string, message: string): void {
  if (logged.has(kind)) return;
  logged.add(kind);
  diag.warn(`driftwatch agent: ${message}`);
}

function retryAfterMs(header: string | null): number | undefined {
  if (!header) return undefined;
  const secs = Number(header);
  if (Number.isFinite(secs)) return Math.max(0, secs * 1000);
  const at = Date.parse(header);
  return Number.isFinite(at) ? Math.max(0, at - Date.now()) : undefined;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref());

export async function exportBatch(body: Uint8Array, t: ExportTarget, signal?: AbortSignal): Promise<ExportOutcome> {
  const headers: Record<string, string> = {
    'content-type': t.encoding === 'json' ? 'application/json' : 'application/x-protobuf',
  };
  if (t.apiKey) headers.authorization = `Bearer ${t.apiKey}`;
  let payload: Uint8Array = body;
  if (t.gzip) {
    payload = await gzipAsync(body);
    headers['content-encoding'] = 'gzip';
  }
  let retries = 0;
  for (;;) {
    let wait: number | undefined;
    let reason: string;
    try {
      const res = await fetch(t.url, {
        method: 'POST',
        headers,
        body: payload as Uint8Array<ArrayBuffer>,
        signal: signal ? AbortSignal.any([signal, AbortSignal.timeout(t.timeoutMs)]) : AbortSignal.timeout(t.timeoutMs),
      });
      const bytes = new Uint8Array(await res.arrayBuffer());
      const text = Buffer.from(bytes).toString('utf8');
      if (res.ok) {
        const partial = parsePartial(bytes, res.headers.get('content-type'));
        if (partial.rejected > 0) warnOnce('partial', `collector rejected ${partial.rejected} record(s): ${partial.message}`);
        return { ok: true, rejected: partial.rejected, message: partial.message, retries };
      }
      reason = `HTTP ${res.status}: ${text.slice(0, 200)}`;
      if (res.status !== 429 && res.status !== 502 && res.status !== 503 && res.status !== 504 && res.status < 500) {
        warnOnce(`http-${res.status}`, `collector answered ${reason}; batch dropped (not retryable)`);
        return { ok: false, retryable: false, reason, retries };
      }
      wait = retryAfterMs(res.headers.get('retry-after'));
    } catch (e) {
      reason = (e as Error).message;
      if (signal?.aborted) return { ok: false, retryable: true, reason: 'aborted', retries };
    }
    if (retries >= t.maxRetries) {
      warnOnce('give-up', `export failed after ${retries} retries: ${reason}`);
      return { ok: false, retryable: true, reason, retries };
    }
    const backoff = t.retryBaseMs * 2 ** retries;
    await sleep(wait ?? backoff / 2 + Math.random() * backoff);
    retries++;
  }
}

interface PartialSuccess { partialSuccess?: { rejectedLogRecords?: string | number; errorMessage?: string } }

function parsePartial(bytes: Uint8Array, contentType: string | null): { rejected: number; message?: string } {
  if (bytes.length === 0) return { rejected: 0 };
  try {
    const body: PartialSuccess = contentType?.includes('json')
      ? JSON.parse(Buffer.from(bytes).toString('utf8'))
      : ExportLogsServiceResponse.toObject(ExportLogsServiceResponse.decode(bytes), TO_JSON_SHAPE);
    const rejected = Number(body.partialSuccess?.rejectedLogRecords ?? 0);
    return { rejected: Number.isFinite(rejected) ? rejected : 0, message: body.partialSuccess?.errorMessage };
  } catch {
    return { rejected: 0 };
  }
}
