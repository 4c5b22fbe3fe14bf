// `driftwatch rules check FILES...`, `driftwatch rules test FILES...`, `driftwatch rules schema`.
import { loadRules, RuleFileError } from './engine/load.js';
import { ruleFileJsonSchema } from './engine/schema.js';
import { runRuleTestFile } from './engine/unittest.js';

const USAGE = `usage: driftwatch rules <command>

  check FILE_OR_DIR...   validate rule files (exit 0 when all are valid, 1 otherwise)
  test FILE...           run rule unit tests (promtool-style *.test.yaml; exit 0 when all pass)
  schema                 print the JSON Schema of rule files (rules/rule-file.schema.json)`;

export async function runRulesCli(args: string[]): Promise<number> {
  const [sub, ...files] = args;
  if (sub === 'schema' && files.length === 0) {
    process.stdout.write(JSON.stringify(ruleFileJsonSchema(), null, 2) + '\n');
    return 0;
  }
  if ((sub !== 'check' && sub !== 'test') || files.length === 0) {
    console.error(USAGE);
    return 2;
  }
  let bad = 0;
  for (const f of files) {
    try {
      if (sub === 'check') {
        const rs = loadRules(f);
        const n = rs.groups.reduce((k, g) => k + g.rules.length, 0);
        console.log(`${f}: ok (${rs.groups.length} group(s), ${n} rule(s))`);
      } else {
        const r = await runRuleTestFile(f);
        if (r.failures.length === 0) {
          console.log(`${f}: SUCCESS (${r.tests} test(s), ${r.assertions} assertion(s))`);
        } else {
          bad++;
          console.error(`${f}: FAILED\n${r.failures.map((x) => `  ${x}`).join('\n')}`);
        }
      }
    } catch (e) {
      bad++;
      console.error(e instanceof RuleFileError ? e.message : `${f}: ${(e as Error).message}`);
    }
  }
  return bad === 0 ? 0 : 1;
}
