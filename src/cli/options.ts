/** Flags shared by the commands that talk to a manifests repo, and their resolution (flag > env > default). */
import { readFileSync } from 'node:fs';
import { Option, type Command } from 'commander';
import { withoutCredentials } from '../../core/urls.ts';
import { DEFAULTS, secret, tokenList } from '../config.ts';
import { UserError } from '../errors.ts';
import type { DefinitionSet } from '../repo/committer.ts';
import type { Claim, SettingKey, WriterSettings } from '../repo/settings.ts';

/**
 * A flag that falls back to an environment variable, then to `fallback` (commander's
 * `Option.env()`: `--help` shows both). An empty variable counts as unset where it is read.
 */
export function envOption(flags: string, description: string, env: string, fallback?: string): Option {
  const option = new Option(flags, description).env(env);
  return fallback === undefined ? option : option.default(fallback);
}

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
    .addOption(envOption('--repo <url>', 'manifests repo URL or path', 'PADDOCK_REPO', opts.repoDefault))
    .addOption(envOption('--branch <branch>', 'branch written and synced', 'PADDOCK_BRANCH', DEFAULTS.branch))
    .addOption(envOption('--definitions <dir>', 'definitions directory', 'PADDOCK_DEFINITIONS', DEFAULTS.definitions))
    // These two are claims held against the repo's settings: resolved below, to name which of flag or variable disagrees.
    .option('--argo-repo-url <url>', 'the URL Argo CD reads the repo from, when not --repo (env PADDOCK_ARGO_REPO_URL)')
    .option('--sidecar-url <url>', 'base of every GARBAGE_COLLECTOR_URL (env PADDOCK_SIDECAR_URL)')
    .option('--gc-secret-file <file>', 'file holding the GC HMAC secret (env PADDOCK_GC_SECRET)')
    .option('--allow-mass-removal', 'allow a definitions change that removes more than half of the groups');
}

export interface RepoSettings {
  readonly repo: string;
  readonly branch: string;
  readonly definitionsDir: string;
  /** What this writer holds against the repo's `state/settings.yaml`: its explicit settings and GC secret. */
  readonly writer: WriterSettings;
}

export interface RepoDefaults {
  readonly repo?: string;
  readonly gcSecret?: string;
  /** A sidecar URL this process knows to be right (`paddock up`: the address it listens on). */
  readonly sidecarUrl?: Claim;
  /** Commit claims that differ from the repo's settings instead of refusing (`paddock up` on its own repo). */
  readonly adopt?: boolean;
}

export function repoSettings(f: RepoFlags, defaults: RepoDefaults = {}): RepoSettings {
  const repo = f.repo || defaults.repo;
  if (!repo) throw new UserError('InvalidConfig', 'no manifests repo: give --repo URL or set PADDOCK_REPO');
  const branch = f.branch || DEFAULTS.branch;
  const claims: Partial<Record<SettingKey, Claim>> = {};
  const sidecarUrl = claimOf(f.sidecarUrl, '--sidecar-url', 'PADDOCK_SIDECAR_URL') ?? defaults.sidecarUrl;
  if (sidecarUrl) claims.sidecarUrl = sidecarUrl;
  const argoRepoUrl = claimOf(f.argoRepoUrl, '--argo-repo-url', 'PADDOCK_ARGO_REPO_URL');
  if (argoRepoUrl) claims['argo.repoURL'] = { ...argoRepoUrl, value: withoutCredentials(argoRepoUrl.value) };
  const namespace = claimOf(undefined, '', 'PADDOCK_ARGO_NAMESPACE');
  if (namespace) claims['argo.namespace'] = namespace;
  const project = claimOf(undefined, '', 'PADDOCK_ARGO_PROJECT');
  if (project) claims['argo.project'] = project;
  return {
    repo,
    branch,
    definitionsDir: f.definitions || DEFAULTS.definitions,
    writer: {
      claims,
      defaults: {
        sidecarUrl: DEFAULTS.sidecarUrl,
        argo: { repoURL: withoutCredentials(repo), targetRevision: branch, namespace: DEFAULTS.argoNamespace, project: DEFAULTS.argoProject },
      },
      gcSecret: secret('PADDOCK_GC_SECRET', f.gcSecretFile) ?? defaults.gcSecret,
      adopt: defaults.adopt,
    },
  };
}

/** A value given by flag or environment variable, and which one; undefined when neither was given. */
function claimOf(flag: string | undefined, flagName: string, envName: string): Claim | undefined {
  if (flag !== undefined && flag !== '') return { value: flag, from: flagName };
  const env = process.env[envName];
  return env !== undefined && env !== '' ? { value: env, from: envName } : undefined;
}

/** Loads a definitions directory for a one-shot command: any broken file is an error. */
export async function loadDefinitionSet(dir: string): Promise<DefinitionSet> {
  const { checkoutCommit } = await import('../repo/git/index.ts');
  const { loadDefinitions } = await import('../synth/index.ts');
  // The checkout's commit before and after reading: when it moved meanwhile (a git-sync swap),
  // read again, so the set is one commit's and the commit it makes can name it.
  let after = await checkoutCommit(dir);
  for (let tries = 0; ; tries++) {
    const before = after;
    const loaded = await loadDefinitions(dir).catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT' || e.code === 'ENOTDIR') throw new UserError('InvalidConfig', `${dir}: no such definitions directory`);
      throw e;
    });
    after = await checkoutCommit(dir);
    if (before !== after && tries < 3) continue;
    if (loaded.errors.length) {
      for (const e of loaded.errors.slice(1)) console.error(`paddock: ${e.message}`);
      throw loaded.errors[0];
    }
    return { definitions: loaded.definitions, version: 1, commit: before === after ? after : undefined, dir };
  }
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
