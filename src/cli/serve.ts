/** `paddock serve`: the sidecar HTTP API over a manifests repo. */
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { parseDuration } from '../../core/duration.ts';
import { HTTP_URL, withoutCredentials } from '../../core/urls.ts';
import { DEFAULTS, parseLeaseUsers, parseRange, tokenList } from '../config.ts';
import { logger } from '../log.ts';
import { UserError } from '../errors.ts';
import type { Mailer } from '../sidecar/index.ts';
import { mailerFromEnv } from '../sidecar/mailer.ts';
import { startRuntime, startWriter, type Runtime, type RuntimeConfig, type WriterOptions } from '../runtime.ts';
import type { Definitions } from '../watch/definitions.ts';
import { Watcher } from '../watch/watcher.ts';
import type { Committer } from '../repo/committer.ts';
import { reportCommits } from './argo.ts';
import { Lifecycle } from './lifecycle.ts';
import { apiTokens, envOption, repoOptions, repoSettings, type RepoDefaults, type RepoFlags } from './options.ts';

export interface ServeFlags extends RepoFlags {
  listen?: string;
  apiTokensFile?: string;
  workspaceDomains?: string;
  nodeportRange?: string;
  nodeAddress?: string;
  leaseConfig?: string;
  leaseExpiry?: string;
  cleaningDelay?: string;
}

export function serveOptions(cmd: Command): Command {
  return cmd
    .addOption(envOption('--listen <host:port>', 'sidecar address', 'PADDOCK_LISTEN', DEFAULTS.listen))
    .option('--api-tokens-file <file>', 'bearer tokens for release and workspace writes, one per line (env PADDOCK_API_TOKENS, comma-separated)')
    .addOption(envOption('--workspace-domains <list>', 'email domains allowed to get workspaces, comma-separated; a leading dot allows subdomains (.example.edu) (default any)', 'PADDOCK_WORKSPACE_DOMAINS'))
    .addOption(envOption('--nodeport-range <min-max>', 'workspace ports', 'PADDOCK_NODEPORT_RANGE', DEFAULTS.nodeportRange))
    .addOption(envOption('--node-address <host>', 'address users ssh to for workspaces', 'PADDOCK_NODE_ADDRESS', '127.0.0.1'))
    .option('--lease-config <file>', 'Boskos resources YAML or JSON lines {type,name,state}; reloaded when it changes')
    .addOption(envOption('--lease-expiry <duration>', 'reaper threshold', 'PADDOCK_LEASE_EXPIRY', DEFAULTS.leaseExpiry))
    .addOption(envOption('--cleaning-delay <duration>', 'how long a dirty resource stays removed before the janitor re-provisions it', 'PADDOCK_CLEANING_DELAY', '2m'));
}

export function runtimeConfig(f: ServeFlags, defaults: RepoDefaults & { apiTokens?: string[] } = {}): RuntimeConfig {
  const s = repoSettings(f, defaults);
  const gcSecret = s.writer.gcSecret;
  if (!gcSecret) throw new UserError('GcSecretMissing', 'no GC secret: set PADDOCK_GC_SECRET or give --gc-secret-file');
  const duration = (value: string, what: string) => {
    const ms = parseDuration(value);
    if (ms === undefined) throw new UserError('InvalidConfig', `${what} "${value}" is not a duration such as 30m`);
    return ms;
  };
  const tokens = apiTokens(f.apiTokensFile);
  return {
    repo: s.repo,
    branch: s.branch,
    writer: { ...s.writer, gcSecret },
    definitionsDir: s.definitionsDir,
    apiTokens: tokens.length ? tokens : (defaults.apiTokens ?? []),
    leaseUsers: parseLeaseUsers(process.env.PADDOCK_LEASE_USERS),
    listen: f.listen || DEFAULTS.listen,
    workspaceDomains: tokenList(f.workspaceDomains).map((d) => d.toLowerCase()),
    nodeportRange: parseRange(f.nodeportRange || DEFAULTS.nodeportRange, '--nodeport-range'),
    nodeAddress: f.nodeAddress || '127.0.0.1',
    leaseExpiryMs: duration(f.leaseExpiry || DEFAULTS.leaseExpiry, '--lease-expiry'),
    cleaningDelayMs: duration(f.cleaningDelay || '2m', '--cleaning-delay'),
    leaseConfigFile: f.leaseConfig,
    allowMassRemoval: f.allowMassRemoval,
  };
}

/** The mailer `PADDOCK_SMTP_URL` configures, if set; a URL it cannot use is a configuration error. */
export function loadMailer(): Mailer | undefined {
  try {
    return mailerFromEnv();
  } catch (e) {
    throw new UserError('InvalidConfig', `PADDOCK_SMTP_URL cannot be used: ${(e as Error).message}`);
  }
}

/** `dir` resolved; InvalidConfig when there is no such directory (a writer must never take a typo for "no definitions"). */
export function definitionsDirOf(dir: string): string {
  const abs = path.resolve(dir);
  if (!existsSync(abs)) throw new UserError('InvalidConfig', `${dir}: no such definitions directory`);
  return abs;
}

/**
 * A writer on `cfg` (the definitions of `cfg.definitionsDir`, kept in force as files change, and
 * its committer), started, and on it the lease ranch and the sidecar: `serve` and `up`. Each part
 * is stopped by `life`, also when a later one fails to start.
 */
export async function startServing(cfg: RuntimeConfig, life: Lifecycle, opts: WriterOptions = {}): Promise<{ runtime: Runtime; definitions: Definitions }> {
  const writer = startWriter({ ...cfg, definitionsDir: definitionsDirOf(cfg.definitionsDir) }, opts);
  life.onStop(() => writer.committer.close());
  life.onStopping(() => writer.committer.stopWaiting());
  await writer.start();
  const runtime = await startRuntime({ ...cfg, mailer: loadMailer() }, writer.committer, opts);
  life.onStop(() => runtime.stop());
  return { runtime, definitions: writer.definitions };
}

export function registerServe(program: Command): void {
  serveOptions(repoOptions(program.command('serve').description('the sidecar: GC, leases, releases and workspaces as commits (HTTP API)')))
    .addOption(envOption('--watcher-url <url>', 'a paddock watch --listen to tell after each push, so that it asks Argo CD to refresh (default none)', 'PADDOCK_WATCHER_URL'))
    .action(async (f: ServeFlags & { watcherUrl?: string }) => {
      const cfg = runtimeConfig(f);
      let committer: Committer | undefined;
      const watcherUrl = f.watcherUrl || undefined;
      if (watcherUrl && !HTTP_URL.test(watcherUrl)) throw new UserError('InvalidConfig', `--watcher-url "${watcherUrl}" is not an http(s) URL`);
      const life = new Lifecycle((line) => logger.info(line));
      let url = '';
      const started = await life.start(async () => {
        const report = reportCommits(() => committer, { watcherUrl, log: logger.child({ component: 'sidecar' }) });
        await report.prepare();
        const { runtime: rt, definitions } = await startServing(cfg, life, { onCommit: report.onCommit });
        committer = rt.committer;
        url = rt.url;
        // The sidecar commits too, so it follows the definitions as the watcher does: with stale
        // ones, its commits would regenerate groups as they were. TTLs stay the watcher's.
        const watcher = new Watcher({ definitions, committer: rt.committer, log: logger });
        life.onStop(() => watcher.stop());
        // Listening is said once an edit to the definitions would be seen, and last: whoever waits
        // for that line has the warnings before it.
        await watcher.watch();
      });
      if (!started || !committer) return;
      if (!cfg.apiTokens.length) logger.warn('note: no API tokens (PADDOCK_API_TOKENS); release and workspace writes will be refused');
      const problem = committer.settingsProblem;
      if (problem) logger.error(`not ready: ${problem.message}; every write gets 503 ${problem.code} until this is fixed`);
      logger.info(`paddock serve: listening on ${url}, manifests repo ${withoutCredentials(cfg.repo)} (branch ${cfg.branch})`);
      const sig = await life.signalled;
      logger.info(`${sig}: stopping after the current commit`);
      await life.stop();
    });
}
