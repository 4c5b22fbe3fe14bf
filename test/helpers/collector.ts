// Starts a real collector in-process on the embedded store, in a fresh data directory, on a free
// loopback port. Tests talk to it over HTTP like any client.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startCollector, type Collector } from '../../collector/main.js';
import type { Config } from '../../collector/config.js';

export interface TestCollector extends Collector { logs: Record<string, unknown>[]; dir: string }

export async function startTestCollector(opts: Partial<Config> & { rulesYaml?: string } = {}): Promise<TestCollector> {
  const dir = mkdtempSync(join(tmpdir(), 'driftwatch-test-'));
  let rulesPath = '';
  if (opts.rulesYaml) {
    rulesPath = join(dir, 'rules.yaml');
    writeFileSync(rulesPath, opts.rulesYaml);
  }
  const logs: Record<string, unknown>[] = [];
  const { rulesYaml: _ignored, ...config } = opts;
  const c = await startCollector(
    {
      port: 0,
      host: '127.0.0.1',
      dataDir: join(dir, 'data'),
      rulesPath,
      retentionDays: 30,
      baselineRows: 1000,
      maxBodyBytes: 32 * 1024 * 1024,
      ...config,
    },
    (event, fields = {}) => logs.push({ event, ...fields }),
  );
  return Object.assign(c, { logs, dir });
}

/** Polls until `fn` returns a truthy value or the deadline passes. */
export async function waitFor<T>(fn: () => Promise<T> | T, timeoutMs: number, intervalMs = 250): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v as NonNullable<T>;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
