// One HTTP delivery with retries: network errors, timeouts, 5xx, 408 and 429 are retried with
// exponential backoff and jitter (honouring Retry-After, capped); other 4xx are final, since the
// receiver refused the request and sending it again will not help.
export interface HttpRequest {
  url: string;
  headers: Record<string, string>;
  body: string;
  /** Headers computed for each attempt (e.g. a signature over a fresh timestamp). */
  headersAt?: (now: number) => Record<string, string>;
}

export interface RetryOptions {
  attempts: number;
  /** The first retry waits about this long; each further one twice as long (with +-50% jitter). */
  baseDelayMs?: number;
  maxDelayMs?: number;
  timeoutMs?: number;
}

export class DeliveryError extends Error {
  constructor(message: string, readonly status?: number, readonly attempts = 1) {
    super(message);
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref());

function retryAfterMs(h: string | null): number | undefined {
  if (!h) return undefined;
  const s = Number(h);
  if (Number.isFinite(s)) return s * 1000;
  const t = Date.parse(h);
  return Number.isNaN(t) ? undefined : Math.max(0, t - Date.now());
}

/** POSTs the request; resolves with the response text on 2xx, throws DeliveryError otherwise. */
export async function postWithRetry(req: HttpRequest, o: RetryOptions): Promise<string> {
  const base = o.baseDelayMs ?? 500;
  const max = o.maxDelayMs ?? 30_000;
  let last = '';
  let status: number | undefined;
  let wait = 0;
  for (let i = 0; i < o.attempts; i++) {
    if (i > 0) await sleep(Math.min(max, Math.max(wait, base * 2 ** (i - 1) * (0.5 + Math.random()))));
    wait = 0;
    try {
      const res = await fetch(req.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...req.headers, ...req.headersAt?.(Date.now()) },
        body: req.body,
        signal: AbortSignal.timeout(o.timeoutMs ?? 10_000),
      });
      const text = await res.text();
      if (res.ok) return text;
      status = res.status;
      last = `HTTP ${res.status}${text ? `: ${text.slice(0, 200)}` : ''}`;
      if (res.status < 500 && res.status !== 429 && res.status !== 408) {
        throw new DeliveryError(last, status, i + 1);
      }
      wait = retryAfterMs(res.headers.get('retry-after')) ?? 0;
    } catch (e) {
      if (e instanceof DeliveryError) throw e;
      status = undefined;
      last = (e as Error).message;
    }
  }
  throw new DeliveryError(`${last} (after ${o.attempts} attempts)`, status, o.attempts);
}
