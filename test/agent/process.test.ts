// The SDK inside a real Node.js process: it never keeps the process alive on its own, and with
// `exitHook` what is buffered is delivered on a natural exit and on SIGTERM (which still ends the
// process). The agent is compiled with tsc for the child processes (Node 20 runs no TypeScript).
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOtlpSink, type OtlpSink } from './sink.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const out = join(root, 'node_modules', '.cache', 'driftwatch-agent-process-test');

function run(script: string, env: Record<string, string>): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> {
  const file = join(out, `script-${Math.random().toString(36).slice(2)}.mjs`);
  writeFileSync(file, script);
  const p = spawn(process.execPath, [file], { env: { ...process.env, ...env }, stdio: ['ignore', 'inherit', 'pipe'] });
  let stderr = '';
  p.stderr.on('data', (d) => (stderr += d));
  // A guard against a process that never ends (the bug this file is about), not a timing check.
  const guard = setTimeout(() => p.kill('SIGKILL'), 30_000);
  return new Promise((resolve) =>
    p.on('exit', (code, signal) => {
      clearTimeout(guard);
      resolve({ code, signal, stderr });
    }),
  );
}

const header = `import { createMonitor } from './agent/index.js';
const m = createMonitor({ model: 'proc', endpoint: process.env.ENDPOINT, exitHook: process.env.HOOK === '1', flushIntervalMs: 60000 });
for (let i = 0; i < 1500; i++) m.record({ id: 'p' + i, features: { a: i, b: 'x' }, prediction: 1 });
`;

describe('in a real process', () => {
  let sink: OtlpSink;
  beforeAll(async () => {
    rmSync(out, { recursive: true, force: true });
    mkdirSync(out, { recursive: true });
    writeFileSync(join(out, 'package.json'), '{"type":"module"}\n');
    const tsc = spawnSync(
      process.execPath,
      [join(root, 'node_modules/typescript/bin/tsc'), '--outDir', out, '--rootDir', root, '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022', '--strict', '--esModuleInterop', '--skipLibCheck', '--types', 'node', join(root, 'agent/index.ts')],
      { encoding: 'utf8' },
    );
    expect(tsc.status, tsc.stdout + tsc.stderr).toBe(0);
    sink = await startOtlpSink();
  });
  afterAll(async () => {
    await sink?.close();
    rmSync(out, { recursive: true, force: true });
  });
  const delivered = () => sink.accepted().predictions.filter((p) => p.model === 'proc').length;

  it('does not keep the process alive (no exitHook: what is still buffered is lost, like any unflushed SDK)', async () => {
    const r = await run(header, { ENDPOINT: 'http://127.0.0.1:9', HOOK: '0' });
    expect(r).toMatchObject({ code: 0, signal: null });
  });

  it('exitHook: a natural exit flushes first', async () => {
    const before = delivered();
    const r = await run(header + `setTimeout(() => {}, 50);\n`, { ENDPOINT: sink.url, HOOK: '1' });
    expect(r).toMatchObject({ code: 0, signal: null });
    expect(delivered() - before).toBe(1500);
  });

  it('exitHook: SIGTERM flushes, then the process still ends by SIGTERM', async () => {
    const before = delivered();
    const r = await run(header + `setTimeout(() => process.kill(process.pid, 'SIGTERM'), 10);\nsetInterval(() => {}, 1000);\n`, { ENDPOINT: sink.url, HOOK: '1' });
    expect(r.signal).toBe('SIGTERM');
    expect(delivered() - before).toBe(1500);
  });
});
