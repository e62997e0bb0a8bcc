/** `paddock synth`: definitions -> manifests-repo layout in a directory. */
import path from 'node:path';
import type { Command } from 'commander';
import { gcUrl } from '../../core/gc-token.ts';
import { DEFAULTS, setting } from '../config.ts';
import { decideSettings } from '../repo/settings.ts';
import { UserError } from '../errors.ts';
import { readStateDir, synthesize, writeOwnedFiles, type SynthResult } from '../synth/index.ts';
import { synthInputs } from '../synth/synthesize.ts';
import { envOption, loadDefinitionSet, repoSettings } from './options.ts';
import { EMPTY_STATE } from '../../core/records.ts';
import { table } from './table.ts';

export interface SynthOptions {
  definitions?: string;
  state?: string;
  out?: string;
  repo?: string;
  argoRepoUrl?: string;
  branch?: string;
  sidecarUrl?: string;
  gcSecretFile?: string;
  cdk8s?: boolean;
  quiet?: boolean;
}

export function registerSynth(program: Command): void {
  program
    .command('synth')
    .description('synthesize the definitions into DIR in the manifests-repo layout (validates every object; deterministic)')
    .addOption(envOption('--definitions <dir>', 'definitions directory', 'PADDOCK_DEFINITIONS', DEFAULTS.definitions))
    .option('--state <dir>', "a manifests repo's state/ directory to read records from (default: none)")
    .option('--out <dir>', 'output directory; only README.md, apps/ and groups/ in it are replaced', 'dist')
    .addOption(envOption('--repo <url>', 'manifests repo URL written into the Argo CD Applications', 'PADDOCK_REPO'))
    .option('--argo-repo-url <url>', 'the URL Argo CD reads the repo from, when not --repo (env PADDOCK_ARGO_REPO_URL)')
    .addOption(envOption('--branch <branch>', 'branch Argo CD syncs', 'PADDOCK_BRANCH', DEFAULTS.branch))
    .option('--sidecar-url <url>', 'base of every GARBAGE_COLLECTOR_URL (env PADDOCK_SIDECAR_URL)')
    .option('--gc-secret-file <file>', 'file holding the GC HMAC secret (env PADDOCK_GC_SECRET)')
    .option('--cdk8s', 'run as the cdk8s.yaml app: write into $CDK8S_OUTDIR')
    .option('-q, --quiet', 'print only errors')
    .action(async (opts: SynthOptions) => {
      const out = opts.cdk8s ? (process.env.CDK8S_OUTDIR ?? 'dist') : opts.out!;
      const { result, stats } = await runSynth({ ...opts, out });
      if (!opts.quiet) {
        console.log(summary(result));
        console.log(`wrote ${path.resolve(out)}: ${stats.written} written, ${stats.removed} removed, ${stats.unchanged} unchanged`);
      }
    });
}

export async function runSynth(opts: SynthOptions & { out: string }) {
  const dir = setting(opts.definitions, 'PADDOCK_DEFINITIONS', DEFAULTS.definitions);
  const loaded = await loadDefinitionSet(dir);
  if (!loaded.definitions.length) throw new UserError('InvalidDefinition', `${dir}: no definition files (*.ts) found`);
  const state = opts.state ? await readStateDir(opts.state) : EMPTY_STATE;
  // The settings of the repo whose state/ is given, held against the flags as a writer's are;
  // without a state dir, the flags and defaults.
  const { writer } = repoSettings({ ...opts, repo: setting(opts.repo, 'PADDOCK_REPO', DEFAULTS.upRepo), definitions: dir });
  const settings = decideSettings(state.settings, writer, { secret: 'optional' }).record;
  const result = await synthesize(loaded.definitions, synthInputs(settings, state, writer.gcSecret));
  if (!writer.gcSecret) {
    console.error(`paddock synth: no GC secret (PADDOCK_GC_SECRET or --gc-secret-file): every GARBAGE_COLLECTOR_URL is a placeholder (${gcUrl(settings.sidecarUrl, undefined, '')}) that the sidecar refuses`);
  }
  const stats = await writeOwnedFiles(opts.out, result.files);
  return { result, stats };
}

export function summary(result: SynthResult): string {
  const rows = result.groups.map((g) => [
    g.name,
    g.namespace,
    g.removed ? 'removed' : String(g.files.length),
    g.ttl ?? '',
    g.lease ? `${g.lease.type}/${g.lease.name}` : '',
    g.file,
  ]);
  const lines = [table(['GROUP', 'NAMESPACE', 'OBJECTS', 'TTL', 'LEASE', 'DEFINED IN'], rows)];
  for (const w of result.waiting) lines.push(`clone ${w.clone} (group ${w.group}) waits for its source ${w.source}`);
  const objects = result.groups.reduce((n, g) => n + g.files.length, 0);
  lines.push(`${result.groups.length} groups, ${objects} objects, ${result.pools.length} lease pools`);
  return lines.join('\n');
}
