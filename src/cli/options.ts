/** Flags shared by the commands that talk to a manifests repo, and their resolution (flag > env > default). */
import { readFileSync } from 'node:fs';
import { Option, type Command } from 'commander';
import { DEFAULTS, secret, setting, tokenList } from '../config.ts';
import { UserError } from '../errors.ts';
import type { DefinitionSet } from '../repo/committer.ts';
import { loadDefinitions } from '../synth/index.ts';

export interface RepoFlags {
  repo?: string;
  branch?: string;
  definitions?: string;
  argoRepoUrl?: string;
  sidecarUrl?: string;
  gcSecretFile?: string;
  allowMassRemoval?: boolean;
}

export function repoOptions(cmd: Command, opts: { repoDefault?: string } = {}): Command {
  return cmd
    .addOption(new Option('--repo <url>', `manifests repo URL or path (env PADDOCK_REPO)${opts.repoDefault ? `; default ${opts.repoDefault}` : ''}`))
    .option('--branch <branch>', 'branch written and synced (env PADDOCK_BRANCH; default main)')
    .option('--definitions <dir>', 'definitions directory (env PADDOCK_DEFINITIONS; default environments)')
    .option('--argo-repo-url <url>', 'the URL Argo CD reads the repo from, when not --repo (env PADDOCK_ARGO_REPO_URL)')
    .option('--sidecar-url <url>', 'base of every GARBAGE_COLLECTOR_URL (env PADDOCK_SIDECAR_URL)')
    .option('--gc-secret-file <file>', 'file holding the GC HMAC secret (env PADDOCK_GC_SECRET)')
    .option('--allow-mass-removal', 'allow a definitions change that removes more than half of the groups');
}

export interface RepoSettings {
  readonly repo: string;
  readonly branch: string;
  readonly definitionsDir: string;
  readonly argoRepoUrl: string;
  readonly sidecarUrl: string;
  readonly gcSecret?: string;
}

export function repoSettings(f: RepoFlags, defaults: { repo?: string; sidecarUrl?: string; gcSecret?: string } = {}): RepoSettings {
  const repo = setting(f.repo, 'PADDOCK_REPO', defaults.repo);
  if (!repo) throw new UserError('InvalidConfig', 'no manifests repo: give --repo URL or set PADDOCK_REPO');
  return {
    repo,
    branch: setting(f.branch, 'PADDOCK_BRANCH', DEFAULTS.branch),
    definitionsDir: setting(f.definitions, 'PADDOCK_DEFINITIONS', DEFAULTS.definitions),
    argoRepoUrl: setting(f.argoRepoUrl, 'PADDOCK_ARGO_REPO_URL', repo),
    sidecarUrl: setting(f.sidecarUrl, 'PADDOCK_SIDECAR_URL', defaults.sidecarUrl ?? DEFAULTS.sidecarUrl),
    gcSecret: secret('PADDOCK_GC_SECRET', f.gcSecretFile) ?? defaults.gcSecret,
  };
}

/** Loads a definitions directory for a one-shot command: any broken file is an error. */
export async function loadDefinitionSet(dir: string): Promise<DefinitionSet> {
  const loaded = await loadDefinitions(dir).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT' || e.code === 'ENOTDIR') throw new UserError('InvalidConfig', `${dir}: no such definitions directory`);
    throw e;
  });
  if (loaded.errors.length) {
    for (const e of loaded.errors.slice(1)) console.error(`paddock: ${e.message}`);
    throw loaded.errors[0];
  }
  return { definitions: loaded.definitions, version: 1 };
}

export function apiTokens(file: string | undefined): string[] {
  if (file) {
    try {
      return tokenList(readFileSync(file, 'utf8'));
    } catch (e) {
      throw new UserError('InvalidConfig', `${file}: cannot read the API tokens file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
  }
  return tokenList(process.env.PADDOCK_API_TOKENS);
}

/** An id for one CLI invocation's requests. */
export function cliRequestId(verb: string): string {
  return `cli-${verb}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}

export function requester(): string {
  return `${process.env.USER ?? 'someone'} via paddock CLI`;
}
