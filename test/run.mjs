// `npm test`: runs vitest, then prints the plain closing line CI reads ("N passed, N failed"),
// derived from vitest's JSON report rather than its human summary.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const out = join(mkdtempSync(join(tmpdir(), 'driftwatch-test-')), 'vitest.json');
// vitest runs on the Node that runs this script, so `npx -y node@24 test/run.mjs` tests on Node 24.
const vitest = fileURLToPath(new URL('../node_modules/vitest/vitest.mjs', import.meta.url));
const args = [vitest, 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${out}`, ...process.argv.slice(2)];
const r = spawnSync(process.execPath, args, { stdio: 'inherit' });

let passed = 0;
let failed = 0;
if (existsSync(out)) {
  const report = JSON.parse(readFileSync(out, 'utf8'));
  passed = report.numPassedTests ?? 0;
  failed = report.numFailedTests ?? 0;
  // A file that fails before running any test (import error, failing hook) counts as one failure.
  for (const file of report.testResults ?? []) {
    const failedHere = (file.assertionResults ?? []).filter((a) => a.status === 'failed').length;
    if (file.status === 'failed' && failedHere === 0) failed++;
  }
} else {
  failed = 1; // vitest did not even produce a report
}
console.log(`(Node ${process.versions.node})`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(r.status === 0 && failed === 0 ? 0 : 1);
