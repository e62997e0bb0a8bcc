/** `paddock verify`: re-synthesizes commits of the manifests repo from the definitions and each commit's `state/`. */
import type { Command } from 'commander';
import { DEFAULTS, secret } from '../config.ts';
import { UserError } from '../errors.ts';
import { verify } from '../repo/verify.ts';
import { envOption } from './options.ts';

interface VerifyFlags {
  repo?: string;
  branch?: string;
  definitions?: string;
  gcSecretFile?: string;
  rev?: string;
  all?: boolean;
  since?: string;
}

export function registerVerify(program: Command): void {
  program
    .command('verify')
    .description("re-synthesize a commit from the definitions and the state/ at that commit; print the files that differ (exit 1) or 'verified <sha>'")
    .addOption(envOption('--repo <url>', 'manifests repo URL or path', 'PADDOCK_REPO'))
    .addOption(envOption('--branch <branch>', 'branch to verify', 'PADDOCK_BRANCH', DEFAULTS.branch))
    .addOption(envOption('--definitions <dir>', "definitions directory; when it is a git checkout, each commit's own definitions commit is used", 'PADDOCK_DEFINITIONS', DEFAULTS.definitions))
    .option('--gc-secret-file <file>', 'the GC secret, to check GC tokens too (env PADDOCK_GC_SECRET; without it they are compared as placeholders)')
    .option('--rev <rev>', 'the commit to verify (default: the branch tip)')
    .option('--all', 'verify every commit of the branch, oldest first; stop at the first that does not reproduce')
    .option('--since <rev>', 'with --all: start after this commit')
    .action(async (f: VerifyFlags) => {
      if (f.rev && f.all) throw new UserError('BadRequest', 'give --rev or --all, not both');
      if (f.since && !f.all) throw new UserError('BadRequest', '--since goes with --all');
      const repo = f.repo || undefined;
      if (!repo) throw new UserError('InvalidConfig', 'no manifests repo: give --repo URL or set PADDOCK_REPO');
      const gcSecret = secret('PADDOCK_GC_SECRET', f.gcSecretFile);
      const report = await verify({
        repo,
        branch: f.branch || DEFAULTS.branch,
        definitionsDir: f.definitions || DEFAULTS.definitions,
        gcSecret,
        rev: f.rev,
        all: f.all,
        since: f.since,
      });
      if (!report.tokensChecked) console.error('paddock verify: no GC secret (PADDOCK_GC_SECRET or --gc-secret-file): GC tokens are compared as placeholders');
      const bad = report.verdicts.find((v) => v.problem || v.differences.length);
      const good = report.verdicts.filter((v) => v !== bad);
      if (f.all) for (const v of good) console.log(`verified ${v.sha.slice(0, 12)} ${v.subject}`);
      else if (!bad && good.length) console.log(`verified ${good[0].sha}`);
      if (!report.verdicts.length) console.log('no commits to verify');
      if (bad) {
        const head = `${bad.sha} (${bad.subject})`;
        if (bad.problem) throw new UserError('NotReproducible', `cannot reproduce ${head}: ${bad.problem}`);
        if (bad.note) console.log(`${bad.sha.slice(0, 12)}: ${bad.note}`);
        for (const d of bad.differences) console.log(d);
        throw new UserError('NotReproducible', `${head} does not reproduce: ${bad.differences.length === 1 ? '1 file differs' : `${bad.differences.length} files differ`} (${bad.differences.slice(0, 3).map((d) => d.slice(2)).join(', ')}${bad.differences.length > 3 ? ', ...' : ''})`);
      }
      if (f.all && good.length) console.log(`verified ${good.length} commits`);
    });
}
