// Runs the built collector (`node dist/bin/driftwatch.js collector`) as a child process, for tests
// that must kill it. `npm test` builds first (pretest), so dist/ is current.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../../dist/bin/driftwatch.js', import.meta.url));

export interface ChildCollector { url: string; child: ChildProcess; output: string[]; exited: Promise<number | null> }

export function spawnCollector(env: Record<string, string>): Promise<ChildCollector> {
  const child = spawn(process.execPath, [BIN, 'collector'], {
    env: { ...process.env, DRIFTWATCH_PORT: '0', DRIFTWATCH_RULES: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`collector did not start:\n${output.join('')}`)), 60_000);
    const onData = (d: Buffer) => {
      output.push(d.toString());
      const m = /"event":"collector_started","url":"([^"]+)"/.exec(output.join(''));
      if (m) {
        clearTimeout(timer);
        resolve({ url: m[1], child, output, exited });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (d: Buffer) => output.push(d.toString()));
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`collector exited with ${code}:\n${output.join('')}`));
    });
  });
}
