// `driftwatch rules check FILES...`
import { loadRules, RuleFileError } from './engine/load.js';

export async function runRulesCli(args: string[]): Promise<number> {
  const [sub, ...files] = args;
  if (sub !== 'check' || files.length === 0) {
    console.error('usage: driftwatch rules check FILE_OR_DIR...');
    return 2;
  }
  let bad = 0;
  for (const f of files) {
    try {
      const rs = loadRules(f);
      const n = rs.groups.reduce((k, g) => k + g.rules.length, 0);
      console.log(`${f}: ok (${rs.groups.length} group(s), ${n} rule(s))`);
    } catch (e) {
      bad++;
      console.error(e instanceof RuleFileError ? e.message : `${f}: ${(e as Error).message}`);
    }
  }
  return bad === 0 ? 0 : 1;
}
