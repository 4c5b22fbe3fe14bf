// `npm run bench`: runs every benchmark, bench/<name>/index.{mjs,js,cjs,ts}, one process each.
// TypeScript benchmarks are compiled first (tsc, the project's compiler options) into
// node_modules/.cache/driftwatch-bench, next to the dependencies they import.
// `npm run bench -- agent` runs only the named ones. Exits non-zero when a benchmark fails.
// bench/soak is long and runs only when named (`npm run soak` = `node bench/run.mjs soak`).
// Every benchmark's TypeScript is compiled whichever run, since one may start another's script.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const benchDir = join(root, 'bench');
const only = process.argv.slice(2);
const EXT = ['mjs', 'js', 'cjs', 'ts'];

const ON_REQUEST = ['soak'];
const all = readdirSync(benchDir, { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .map((d) => {
    const ext = EXT.find((e) => existsSync(join(benchDir, d.name, `index.${e}`)));
    return ext ? { name: d.name, file: join(benchDir, d.name, `index.${ext}`), ext } : undefined;
  })
  .filter(Boolean)
  .sort((a, b) => a.name.localeCompare(b.name));
const benches = all.filter((b) => (only.length === 0 ? !ON_REQUEST.includes(b.name) : only.includes(b.name)));

if (benches.length === 0) {
  console.error(`no benchmark found (bench/*/index.{${EXT.join(',')}})${only.length ? ` named ${only.join(', ')}` : ''}`);
  process.exit(1);
}

const out = join(root, 'node_modules', '.cache', 'driftwatch-bench');
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
// Outside the package, Node would not know these files are ES modules.
writeFileSync(join(out, 'package.json'), '{"type":"module"}\n');

/** Compiles one TypeScript benchmark (every .ts file of its folder, and what they import). */
function compile(b) {
  const files = readdirSync(dirname(b.file))
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))
    .map((f) => join(dirname(b.file), f));
  const tsc = spawnSync(
    process.execPath,
    [
      join(root, 'node_modules', 'typescript', 'bin', 'tsc'),
      '--outDir', out, '--rootDir', root,
      '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022',
      '--strict', '--esModuleInterop', '--skipLibCheck', '--types', 'node', '--sourceMap', 'false',
      ...files,
    ],
    { stdio: 'inherit', cwd: root },
  );
  return tsc.status === 0;
}

// Benchmarks that run a collector in their own process run it with the collector's Node flags
// (package.json `start`); the SDK processes they fork get none.
const COLLECTOR_FLAGS = ['--max-semi-space-size=64'];
const NODE_FLAGS = { ingest: COLLECTOR_FLAGS, soak: COLLECTOR_FLAGS };

let failed = 0;
for (const b of benches) {
  console.log(`\n=== bench/${b.name} ===`);
  // Each benchmark is compiled on its own: one that does not compile does not stop the others.
  if (b.ext === 'ts' && !compile(b)) {
    failed++;
    console.error(`bench/${b.name}: TypeScript compilation failed`);
    continue;
  }
  const entry = b.ext === 'ts' ? join(out, relative(root, b.file)).replace(/\.ts$/, '.js') : b.file;
  const r = spawnSync(process.execPath, ['--expose-gc', ...(NODE_FLAGS[b.name] ?? []), entry], { stdio: 'inherit', cwd: root });
  if (r.status !== 0) {
    failed++;
    console.error(`bench/${b.name} failed (exit ${r.status ?? r.signal})`);
  }
}
process.exit(failed > 0 ? 1 : 0);
