#!/usr/bin/env node
// The `driftwatch` command: parses the subcommand and delegates; no logic lives here.
const USAGE = `usage: driftwatch <command>

commands:
  collector   run the collector (env: DRIFTWATCH_PORT, DRIFTWATCH_DATA_DIR, DRIFTWATCH_RULES, CLICKHOUSE_URL, ...)
  demo        run a simulated model service that sends predictions through the SDK (env: DRIFTWATCH_ENDPOINT)
  drift --reference REF --current CUR [--method M] [--columns a,b] [--format json|text|html] [--out FILE]
              offline drift report of two CSV/JSONL/Parquet files (driftwatch drift --help)
  rules check FILES...   validate rule files (exit 0 when valid, 1 otherwise)
  rules test FILE...     run rule unit tests (promtool-style)
  rules schema           print the JSON Schema of rule files`;

const [cmd, ...rest] = process.argv.slice(2);

async function main(): Promise<number> {
  switch (cmd) {
    case 'collector':
      return (await import('../collector/cli.js')).runCollectorCli();
    case 'demo':
      return (await import('../demo/cli.js')).runDemoCli(rest);
    case 'drift':
      return (await import('../collector/drift/cli.js')).runDriftCli(rest);
    case 'rules':
      return (await import('../rules/cli.js')).runRulesCli(rest);
    case undefined:
    case '-h':
    case '--help':
    case 'help':
      console.log(USAGE);
      return cmd === undefined ? 2 : 0;
    default:
      console.error(`driftwatch: unknown command "${cmd}"\n${USAGE}`);
      return 2;
  }
}

main().then(
  (code) => {
    if (code !== -1) process.exitCode = code;
  },
  (e: Error) => {
    console.error(`driftwatch: ${e.message}`);
    process.exitCode = 1;
  },
);
