// The offline drift CLI as its own process, compiled with the benchmark from the current sources
// (bin/driftwatch.ts does the same for `driftwatch drift`).
import { runDriftCli } from '../../collector/drift/cli.js';

process.exitCode = await runDriftCli(process.argv.slice(2));
