/** `paddock watch` and `paddock up`: the reconciler, alone or with the sidecar (the embedded default). */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import { formatDuration, parseDuration } from '../../core/duration.ts';
import { gcUrl } from '../../core/gc-token.ts';
import type { SettingsRecord } from '../../core/records.ts';
import { isRemoteUrl, withoutCredentials } from '../../core/urls.ts';
import { DEFAULTS } from '../config.ts';
import { oneLine, UserError } from '../errors.ts';
import { Committer, type Logger } from '../repo/committer.ts';
import { initBareRepo, PublishedCheckout } from '../repo/git/index.ts';
import { logger } from '../log.ts';
import { startWriter } from '../runtime.ts';
import { projectPath, ROOT_APP, rootProjectName } from '../synth/layout.ts';
import { decideSettings } from '../repo/settings.ts';
import { LockFileElector } from '../watch/lock.ts';
import { DEFAULT_FOLLOW_EVERY_MS, DEFAULT_RETIRE_AFTER_MS, Watcher } from '../watch/watcher.ts';
import type { ConfigMapRules, DeploymentSources } from '../watch/cluster.ts';
import { loadCluster, type ClusterModule } from '../watch/cluster-access.ts';
import { startWatcherServer } from '../watch/http.ts';
import { WatcherMetrics } from '../watch/metrics.ts';
import { reportCommits } from './argo.ts';
import { envOption, repoOptions, repoSettings, type RepoFlags } from './options.ts';
import { Lifecycle } from './lifecycle.ts';
import { definitionsDirOf, runtimeConfig, serveOptions, startServing, type ServeFlags } from './serve.ts';
import { table } from './table.ts';

const STATE_DIR = '.paddock';

/**
 * With a cluster (KUBECONFIG or in-cluster): clones follow their live sources through informers,
 * and the leader is chosen on a Lease. Without one: a lock file, and clones by reference wait.
 */
async function clusterParts(repo: string) {
  const cluster = await loadCluster();
  const kc = cluster?.clusterConfig();
  if (!cluster || !kc) return { elector: new LockFileElector(lockFileFor(repo)), live: undefined };
  const namespace = process.env.POD_NAMESPACE ?? 'default';
  const identity = `${process.env.HOSTNAME ?? 'paddock'}-${process.pid}`;
  return { elector: new cluster.LeaseElector(kc, { namespace, name: 'paddock-watcher', identity }), live: { cluster, kc } };
}

/** Informers on the Deployments clones name and the ConfigMaps of rules they follow, when there is a cluster; each change wakes the watcher. */
function followLive(
  on: { cluster: ClusterModule; kc: NonNullable<ReturnType<ClusterModule['clusterConfig']>> } | undefined, watcher: () => Watcher | undefined,
): { sources?: DeploymentSources; rules?: ConfigMapRules; stop(): Promise<void> } {
  if (!on) return { stop: async () => undefined };
  const sources = new on.cluster.DeploymentSources(on.kc, (src) => watcher()?.sourceChanged(src), (e) => logger.warn({ err: e }, 'deployment informer error'));
  const rules = new on.cluster.ConfigMapRules(on.kc, (key) => watcher()?.sourceChanged(key), (e) => logger.warn({ err: e }, 'configmap informer error'));
  return { sources, rules, stop: async () => void (await Promise.all([sources.stop(), rules.stop()])) };
}

function lockFileFor(repo: string): string {
  const key = Buffer.from(path.resolve(repo)).toString('base64url').slice(-40);
  return path.join(STATE_DIR, 'locks', `watch-${key}.lock`);
}

/** How long a removed group's emptied Application stays in `apps/` (the leader's `retire`). */
function retireOption(c: Command): Command {
  return c.addOption(envOption('--retire-after <duration>', 'how long a removed group\'s emptied Application stays for Argo CD to prune through it', 'PADDOCK_RETIRE_AFTER', formatDuration(DEFAULT_RETIRE_AFTER_MS)));
}

function retireAfterMs(f: { retireAfter?: string }): number {
  const value = f.retireAfter || formatDuration(DEFAULT_RETIRE_AFTER_MS);
  const ms = parseDuration(value);
  if (ms === undefined) throw new UserError('InvalidConfig', `--retire-after "${value}" is not a duration such as 10m`);
  return ms;
}

/** How often the leader looks at the remote for other writers' commits (`--follow-every`). */
function followEveryMs(f: { followEvery?: string }): number {
  const value = f.followEvery || formatDuration(DEFAULT_FOLLOW_EVERY_MS);
  const ms = parseDuration(value);
  if (ms === undefined || ms < 1_000) throw new UserError('InvalidConfig', `--follow-every "${value}" is not a duration of at least 1s, such as 10s`);
  return ms;
}

export function registerWatch(program: Command): void {
  retireOption(repoOptions(program.command('watch').description('the watcher: re-synthesize and commit on definition changes and TTL expiry')))
    .addOption(envOption('--listen <host:port>', 'serve POST /follow ("I pushed": fetch now and ask Argo CD to refresh), /healthz, /readyz and /metrics here (default none)', 'PADDOCK_WATCH_LISTEN'))
    .addOption(envOption('--follow-every <duration>', 'how often the leader fetches the repo for other writers\' commits: their TTLs and removals, and Argo CD refreshes for them', 'PADDOCK_FOLLOW_EVERY', formatDuration(DEFAULT_FOLLOW_EVERY_MS)))
    .addOption(envOption('--definitions-repo <url>', 'fetch the definitions from this git repo (as often as --follow-every) instead of a directory kept fresh by others; --definitions is then the path inside it', 'PADDOCK_DEFINITIONS_REPO'))
    .addOption(envOption('--definitions-branch <name>', 'the branch of --definitions-repo (default its HEAD)', 'PADDOCK_DEFINITIONS_BRANCH'))
    .action(async (f: RepoFlags & { retireAfter?: string; followEvery?: string; listen?: string; definitionsRepo?: string; definitionsBranch?: string }) => {
      const retireAfter = retireAfterMs(f);
      const followEvery = followEveryMs(f);
      const listen = f.listen || undefined;
      const s = repoSettings(f);
      const gcSecret = s.writer.gcSecret;
      if (!gcSecret) throw new UserError('GcSecretMissing', 'no GC secret: set PADDOCK_GC_SECRET or give --gc-secret-file');
      let watcher: Watcher | undefined;
      const log = logger.child({ component: 'watcher' });
      const life = new Lifecycle((line) => log.info(line));
      // The cluster first: a KUBECONFIG that cannot be read stops watch before it fetches anything.
      const cluster = await clusterParts(s.repo);
      const definitionsDir = await definitionsSource(f, s.definitionsDir, followEvery, life, log);
      const live = followLive(cluster.live, () => watcher);
      life.onStop(() => live.stop());
      let reported: Committer | undefined;
      // The sidecar and the CLI commit too: Argo CD is told of their commits as this watcher follows them.
      const report = reportCommits(() => reported, { log });
      const writer = startWriter({ ...s, writer: { ...s.writer, gcSecret }, definitionsDir, allowMassRemoval: f.allowMassRemoval }, { log, ...report });
      const { definitions, committer } = writer;
      reported = committer;
      life.onStop(() => committer.close());
      life.onStopping(() => committer.stopWaiting());
      const metrics = new WatcherMetrics({ committer, watcher: () => watcher, definitions, elector: cluster.elector });
      const w = new Watcher({
        definitions, committer, elector: cluster.elector, sources: live.sources, rules: live.rules, retireAfterMs: retireAfter, followEveryMs: followEvery,
        log,
        onSynced: (ms) => metrics.lag.observe(ms / 1000),
      });
      watcher = w;
      life.onStop(() => w.stop());
      const started = await life.start(async () => {
        // The port first, so that probes answer (not ready) while the definitions load.
        const server = listen ? await startWatcherServer(listen, { follow: () => w.follow(), readiness: () => w.readiness(), registry: metrics.registry, logger: log }) : undefined;
        if (server) life.onStop(() => server.close());
        if (server) log.info(`paddock watch: follow requests, probes and metrics on ${server.url}`);
        await writer.start();
        if (committer.settingsProblem) throw committer.settingsProblem;
        await runWatcher(w, false);
      });
      if (!started) return;
      log.info(`paddock watch: watching ${f.definitionsRepo ? `${withoutCredentials(f.definitionsRepo)} (${s.definitionsDir} in it)` : s.definitionsDir}, committing to ${withoutCredentials(s.repo)} (branch ${s.branch})`);
      const sig = await life.signalled;
      log.info(`${sig}: stopping after the current commit`);
      await life.stop();
    });

  retireOption(serveOptions(repoOptions(program.command('up').description('the embedded default: a local bare repo, the watcher on environments/ and the sidecar on 127.0.0.1:8080; no cluster needed'), { repoDefault: DEFAULTS.upRepo })))
    .action(async (f: ServeFlags & { retireAfter?: string }) => {
      const retireAfter = retireAfterMs(f);
      mkdirSync(STATE_DIR, { recursive: true });
      const gcSecret = fileSecret(path.join(STATE_DIR, 'gc-secret'));
      const apiToken = fileSecret(path.join(STATE_DIR, 'api-tokens'));
      // Under `up` the sidecar is here: GC URLs point at the address it listens on.
      const listen = f.listen || DEFAULTS.listen;
      const repo = f.repo || DEFAULTS.upRepo;
      const local = !isRemoteUrl(repo);
      // `up` owns a local repo: where its flags (or the address it listens on) changed since the
      // repo's settings were recorded, it commits the new ones and says so.
      const cfg = runtimeConfig(f, { repo: DEFAULTS.upRepo, sidecarUrl: { value: `http://${listen}`, from: '--listen' }, gcSecret, apiTokens: [apiToken], adopt: local });
      // The cluster before the repo: a KUBECONFIG that cannot be read stops `up` before it makes one.
      const cluster = await clusterParts(cfg.repo);
      if (local && !existsSync(path.join(cfg.repo, 'HEAD'))) {
        await initBareRepo(cfg.repo, cfg.branch);
        console.log(`created ${path.resolve(cfg.repo)} (bare git repo, branch ${cfg.branch})`);
      }
      let watcher: Watcher | undefined;
      let committer: Committer | undefined;
      const life = new Lifecycle((line) => console.log(line));
      const live = followLive(cluster.live, () => watcher);
      life.onStop(() => live.stop());
      let url = '';
      const started = await life.start(async () => {
        // Its local repo has no other writer: the definitions it last rendered from may be a
        // branch checked out no more, and nothing will bring them, so it never waits for them.
        const { runtime, definitions } = await startServing({ ...cfg, definitionsWaitMs: local ? 0 : undefined }, life, reportCommits(() => committer, { log: logger }));
        committer = runtime.committer;
        url = runtime.url;
        if (committer.settingsProblem) throw committer.settingsProblem;
        const w = new Watcher({ definitions, committer, elector: cluster.elector, sources: live.sources, rules: live.rules, retireAfterMs: retireAfter, log: logger });
        watcher = w;
        life.onStop(() => w.stop());
        // The runtime's first cycle committed the definitions already.
        await runWatcher(w, true);
      });
      if (!started || !committer) return;
      const view = await committer.refresh();
      console.log(summary(cfg, view.state.settings ?? decideSettings(undefined, cfg.writer).record, view.synth?.groups ?? [], url, view.synth?.pools[0]?.type));
      const sig = await life.signalled;
      console.log(`${sig}: stopping; letting the current commit finish`);
      await life.stop();
      console.log('stopped');
    });
}

/**
 * The definitions directory `watch` reads: `dir` itself, or with --definitions-repo, `dir` inside
 * a checkout of that repo that paddock keeps fresh itself (fetched every `everyMs`, published as
 * git-sync publishes: the watcher sees the tree swapped). The checkout goes when `life` stops.
 */
async function definitionsSource(f: { definitionsRepo?: string; definitionsBranch?: string }, dir: string, everyMs: number, life: Lifecycle, log: Logger): Promise<string> {
  if (!f.definitionsRepo) return definitionsDirOf(dir);
  if (path.isAbsolute(dir)) throw new UserError('InvalidConfig', `--definitions "${dir}" must be a path inside --definitions-repo`);
  const checkout = new PublishedCheckout(mkdtempSync(path.join(tmpdir(), 'paddock-definitions-')), f.definitionsRepo, f.definitionsBranch || undefined);
  const repo = withoutCredentials(f.definitionsRepo);
  life.onStop(() => rmSync(checkout.root, { recursive: true, force: true }));
  const inside = path.join(checkout.current, dir);
  try {
    await checkout.update().catch((e: unknown) => {
      throw new UserError('InvalidConfig', `--definitions-repo ${repo}: cannot fetch it (${oneLine(e)})`);
    });
    if (!existsSync(inside)) throw new UserError('InvalidConfig', `--definitions-repo ${repo} has no directory ${dir}`);
  } catch (e) {
    rmSync(checkout.root, { recursive: true, force: true });
    throw e;
  }
  let fetching = false;
  const timer = setInterval(() => {
    if (fetching) return;
    fetching = true;
    checkout.update()
      .then(({ tip, moved }) => moved && log.info(`definitions: ${repo} is at ${tip.slice(0, 12)} now`))
      .catch((e: unknown) => log.warn(`definitions: cannot fetch ${repo}, keeping the tree at hand (${oneLine(e)})`))
      .finally(() => (fetching = false));
  }, everyMs);
  // Never what keeps the process alive: an error before the lifecycle starts must still end it.
  timer.unref();
  life.onStop(() => clearInterval(timer));
  return inside;
}

/** The watcher at work: its first commit (unless `committed` already) and live inputs, then file events and the leader's ticks. */
async function runWatcher(watcher: Watcher, committed: boolean): Promise<void> {
  await watcher.start({ committed });
  await watcher.watch();
  watcher.startTicking();
}

/** A secret kept in a file under .paddock/, made on first use. */
function fileSecret(file: string): string {
  if (!existsSync(file)) writeFileSync(file, `${randomBytes(24).toString('base64url')}\n`, { mode: 0o600 });
  return readFileSync(file, 'utf8').trim();
}

function summary(cfg: ReturnType<typeof runtimeConfig>, settings: SettingsRecord, groups: readonly { name: string; namespace: string; files: readonly string[]; ttl?: string; removed: boolean }[], url: string, poolType: string | undefined): string {
  const repo = path.resolve(cfg.repo);
  const live = groups.filter((g) => !g.removed && g.files.length);
  const sample = live.find((g) => !g.name.startsWith('ws-')) ?? live[0];
  const lines = [
    '',
    `paddock is up. Manifests repo: ${repo} (branch ${cfg.branch})`,
    table(['GROUP', 'NAMESPACE', 'OBJECTS', 'TTL'], live.map((g) => [g.name, g.namespace, String(g.files.length), g.ttl ?? ''])),
    '',
    `sidecar:  ${url}   (GET ${url}/healthz, ${url}/metrics)`,
  ];
  if (sample) {
    lines.push(
      `GC:       a pod of group ${sample.name} ends its group with`,
      `          curl -X POST ${gcUrl(settings.sidecarUrl, cfg.writer.gcSecret, sample.name)} -H 'content-type: application/json' -d '{ "label": "group_id=${sample.name}" }'`,
    );
  }
  lines.push(
    `leases:   curl -X POST '${url}/acquire?type=${poolType ?? '<pool type>'}&state=free&dest=busy&owner=me'`,
    `API:      releases and workspaces need Authorization: Bearer $(cat ${path.join(STATE_DIR, 'api-tokens')})`,
    `Argo CD:  serve the repo where Argo CD can read it, e.g. git daemon --reuseaddr --export-all --base-path=${path.dirname(repo)} ${path.dirname(repo)},`,
    `          run up with --argo-repo-url git://<this host>/${path.basename(repo)} so the Applications point there, then apply the app of apps and its project once:`,
    `          for f in ${projectPath(rootProjectName(settings.argo))} apps/${ROOT_APP}.yaml; do git --git-dir=${repo} show ${cfg.branch}:$f; echo ---; done | kubectl apply -n argocd -f -`,
    `watching: ${path.resolve(cfg.definitionsDir)} (edit a file and a commit follows)   Ctrl-C stops`,
  );
  return lines.join('\n');
}
