// Where the export pipeline runs: on a worker thread by default (encoding, gzip and HTTP then cost
// the serving thread only a postMessage per batch, whose column buffers are transferred, not
// copied), or in-thread when workers are unavailable or `worker: false` is asked for.
//
// The worker evaluates the source text of `createPipeline` (a self-contained function), so it needs
// no separate file: it works the same from the compiled package, from TypeScript under a test
// runner, and from a bundle.
import { Worker } from 'node:worker_threads';
import { createHash } from 'node:crypto';
import { gzip } from 'node:zlib';
import { chunkTransfer, type Batch, type PipelineConfig, type PipelineMessage } from './batch.js';
import { createPipeline, type HttpAnswer, type HttpPost } from './pipeline.js';
import http from 'node:http';
import https from 'node:https';

export interface ExportThread {
  readonly kind: 'worker' | 'in-thread';
  send(batch: Batch): void;
  setDeadline(deadline: number): void;
  /** Keeps the process alive while a flush waits for the worker. */
  ref(): void;
  unref(): void;
  close(): Promise<void>;
}

const GZIP_LEVEL = 1; // fastest: the payload is repetitive, level 1 already shrinks it ~5x

/**
 * The export's POST over node:http(s) (keep-alive, the global agents). Self-contained like
 * createPipeline: the worker evaluates its source. fetch copies a typed-array body and runs it
 * through web streams; this hands the bytes to the socket: in bench/ingest the SDK processes spent
 * about 10% of their CPU in fetch's body handling.
 */
export function httpPost(http: typeof import('node:http'), https: typeof import('node:https')): HttpPost {
  return (url, body, headers, timeoutMs, signal) =>
    new Promise<HttpAnswer>((resolve, reject) => {
      if (signal.aborted) return reject(signal.reason);
      const u = new URL(url);
      // A signal of its own per request: the deadline's, shared by every request in flight, would
      // collect an abort listener per request (Node warns past 10).
      const req = (u.protocol === 'https:' ? https : http).request(u, { method: 'POST', headers: { ...headers, 'content-length': String(body.byteLength) }, signal: AbortSignal.any([signal]) });
      const timer = setTimeout(() => req.destroy(Object.assign(new Error(`no answer within ${timeoutMs} ms`), { code: 'ETIMEDOUT' })), timeoutMs);
      req.once('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
      req.once('response', (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.once('error', (e) => {
          clearTimeout(timer);
          reject(e);
        });
        res.once('end', () => {
          clearTimeout(timer);
          const h = (name: string) => {
            const v = res.headers[name];
            return v === undefined ? null : Array.isArray(v) ? v.join(', ') : v;
          };
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks), ct: h('content-type'), retryAfter: h('retry-after') });
        });
      });
      req.end(body);
    });
}

const WORKER_SOURCE = (pipelineSource: string) => `
'use strict';
const { parentPort, workerData } = require('node:worker_threads');
const zlib = require('node:zlib');
const crypto = require('node:crypto');
const createPipeline = (${pipelineSource});
const httpPost = (${httpPost.toString()});
const pipeline = createPipeline(workerData, {
  request: httpPost(require('node:http'), require('node:https')),
  gzip: (data) => Promise.resolve(zlib.gzipSync(data, { level: ${GZIP_LEVEL} })),
  hash: (text) => crypto.createHash('sha256').update(text).digest('hex'),
  post: (msg) => parentPort.postMessage(msg),
});
parentPort.on('message', (m) => {
  if (m.type === 'batch') pipeline.send(m.batch);
  else if (m.type === 'deadline') pipeline.setDeadline(m.deadline);
});
`;

function inThread(cfg: PipelineConfig, onMessage: (m: PipelineMessage) => void): ExportThread {
  const pipeline = createPipeline(cfg, {
    request: httpPost(http, https),
    gzip: (data) =>
      new Promise((resolve, reject) => gzip(data, { level: GZIP_LEVEL }, (err, out) => (err ? reject(err) : resolve(out)))),
    hash: (text) => createHash('sha256').update(text).digest('hex'),
    post: (msg) => queueMicrotask(() => onMessage(msg)),
  });
  return {
    kind: 'in-thread',
    send: (batch) => void pipeline.send(batch),
    setDeadline: (d) => pipeline.setDeadline(d),
    ref() {},
    unref() {},
    close: async () => {},
  };
}

export function startExportThread(
  cfg: PipelineConfig,
  onMessage: (m: PipelineMessage) => void,
  opts: { worker: boolean; onWorkerError(e: Error): void },
): ExportThread {
  if (!opts.worker) return inThread(cfg, onMessage);
  let worker: Worker;
  try {
    worker = new Worker(WORKER_SOURCE(createPipeline.toString()), { eval: true, workerData: cfg, name: 'driftwatch-export' });
  } catch (e) {
    opts.onWorkerError(e as Error);
    return inThread(cfg, onMessage);
  }
  let fallback: ExportThread | undefined;
  const pending = new Map<number, number>(); // seq -> records, to report them if the worker dies
  worker.on('message', (m: PipelineMessage) => {
    if (m.type === 'done') pending.delete(m.seq);
    onMessage(m);
  });
  worker.on('error', (e) => {
    // The worker died: continue in-thread. Batches it held are reported failed.
    opts.onWorkerError(e);
    if (!fallback) fallback = inThread(cfg, onMessage);
    for (const [seq, records] of pending) {
      onMessage({ type: 'done', seq, records, exported: 0, failed: records, retries: 0 });
    }
    pending.clear();
  });
  // After the listeners: adding a 'message' listener refs the worker again. Unref'd, the worker
  // never keeps the application alive (flush() refs it while it waits; see exitHook).
  worker.unref();
  let refs = 0;
  return {
    get kind() {
      return fallback ? fallback.kind : 'worker';
    },
    send(batch) {
      if (fallback) return fallback.send(batch);
      let records = batch.labels.length;
      for (const c of batch.chunks) records += c.n;
      pending.set(batch.seq, records);
      const transfer = batch.chunks.flatMap(chunkTransfer);
      worker.postMessage({ type: 'batch', batch }, transfer);
    },
    setDeadline(deadline) {
      if (fallback) return fallback.setDeadline(deadline);
      worker.postMessage({ type: 'deadline', deadline });
    },
    ref() {
      if (refs++ === 0) worker.ref();
    },
    unref() {
      if (--refs === 0) worker.unref();
    },
    async close() {
      await worker.terminate();
    },
  };
}
