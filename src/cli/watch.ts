/** `paddock watch` and `paddock up`: the reconciler, alone or with the sidecar (the embedded default). */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { gcUrl } from '../../constructs/private/gc-token.ts';
import { argoOptions, DEFAULTS, setting } from '../config.ts';
import { UserError } from '../errors.ts';
import { Committer } from '../repo/committer.ts';
import { initBareRepo } from '../repo/git.ts';
import { commitLine, logger, type Runtime } from '../runtime.ts';
import { projectPath, ROOT_APP, rootProjectName } from '../synth/layout.ts';
import { SynthCache } from '../synth/synthesize.ts';
import { Definitions } from '../watch/definitions.ts';
import { LockFileElector } from '../watch/lock.ts';
import { Watcher } from '../watch/watcher.ts';
import { clusterConfig, DeploymentSources, LeaseElector } from '../watch/cluster.ts';
import { repoOptions, repoSettings, type RepoFlags } from './options.ts';
import { runtimeConfig, serveOptions, startWithDefinitions, untilSignal, type ServeFlags } from './serve.ts';
import { table } from './table.ts';

const STATE_DIR = '.paddock';

/**
 * With a cluster (KUBECONFIG or in-cluster): clones follow their live sources through informers,
 * and the leader is chosen on a Lease. Without one: a lock file, and clones by reference wait.
 */
function clusterParts(repo: string) {
  const kc = clusterConfig();
  if (!kc) return { elector: new LockFileElector(lockFileFor(repo)), sources: undefined };
  const namespace = process.env.POD_NAMESPACE ?? 'default';
  const identity = `${process.env.HOSTNAME ?? 'paddock'}-${process.pid}`;
  return { elector: new LeaseElector(kc, { namespace, name: 'paddock-watcher', identity }), sources: kc };
}

/** Starts informers for the clone sources of the latest synthesis, after every commit. */
function followSources(kc: ReturnType<typeof clusterConfig>, watcher: () => Watcher | undefined): DeploymentSources | undefined {
  if (!kc) return undefined;
  return new DeploymentSources(kc, (src) => watcher()?.sourceChanged(src), (e) => logger.warn({ err: String((e as Error)?.message ?? e) }, 'deployment informer error'));
}

function lockFileFor(repo: string): string {
  const key = Buffer.from(path.resolve(repo)).toString('base64url').slice(-40);
  return path.join(STATE_DIR, 'locks', `watch-${key}.lock`);
}

export function registerWatch(program: Command): void {
  repoOptions(program.command('watch').description('the watcher: re-synthesize and commit on definition changes and TTL expiry'))
    .action(async (f: RepoFlags) => {
      const s = repoSettings(f);
      if (!s.gcSecret) throw new UserError('InvalidConfig', 'no GC secret: set PADDOCK_GC_SECRET or give --gc-secret-file');
      const synth = { sidecarUrl: s.sidecarUrl, gcSecret: s.gcSecret, argo: argoOptions(s.argoRepoUrl, s.branch) };
      let committer: Committer | undefined;
      let watcher: Watcher | undefined;
      const cluster = clusterParts(s.repo);
      const sources = followSources(cluster.sources, () => watcher);
      const cache = new SynthCache();
      const definitions = new Definitions(path.resolve(s.definitionsDir), () => ({ ...synth, state: committer!.view().state, liveDeployments: sources?.live.get() }), cache);
      committer = new Committer({
        cache,
        repo: s.repo, branch: s.branch, definitions: definitions.current, synth, allowMassRemoval: f.allowMassRemoval, log: logger,
        liveDeployments: sources?.live.get,
        onCommit: (c) => {
          console.log(commitLine(c));
          void sources?.follow(committer!.view().synth?.sources ?? []).catch(() => {});
        },
      });
      await committer.refresh();
      watcher = new Watcher({ definitions, committer, elector: cluster.elector });
      await watcher.start();
      await sources?.follow(committer.view().synth?.sources ?? []);
      watcher.watch();
      watcher.startTicking();
      console.log(`paddock watch: watching ${s.definitionsDir}, committing to ${s.repo} (branch ${s.branch})`);
      const sig = await untilSignal();
      console.log(`${sig}: stopping after the current commit`);
      await watcher.stop();
      await sources?.stop();
      await committer.close();
    });

  serveOptions(repoOptions(program.command('up').description('the embedded default: a local bare repo, the watcher on environments/ and the sidecar on 127.0.0.1:8080; no cluster needed'), { repoDefault: DEFAULTS.upRepo }))
    .action(async (f: ServeFlags) => {
      mkdirSync(STATE_DIR, { recursive: true });
      const gcSecret = fileSecret(path.join(STATE_DIR, 'gc-secret'));
      const apiToken = fileSecret(path.join(STATE_DIR, 'api-tokens'));
      // Under `up` the sidecar is here: GC URLs point at the address it listens on.
      const listen = setting(f.listen, 'PADDOCK_LISTEN', DEFAULTS.listen);
      const cfg = runtimeConfig(f, { repo: DEFAULTS.upRepo, sidecarUrl: `http://${listen}`, gcSecret, apiTokens: [apiToken] });
      const local = !/^[a-z][a-z0-9+.-]*:\/\//i.test(cfg.repo) && !/^[^/]+@[^:]+:/.test(cfg.repo);
      if (local && !existsSync(path.join(cfg.repo, 'HEAD'))) {
        await initBareRepo(cfg.repo, cfg.branch);
        console.log(`created ${path.resolve(cfg.repo)} (bare git repo, branch ${cfg.branch})`);
      }
      let watcher: Watcher | undefined;
      let runtime: Runtime | undefined;
      const cluster = clusterParts(cfg.repo);
      const sources = followSources(cluster.sources, () => watcher);
      const started = await startWithDefinitions(cfg, {
        liveDeployments: sources?.live.get,
        onCommit: (c) => {
          console.log(commitLine(c));
          void sources?.follow(runtime?.committer.view().synth?.sources ?? []).catch(() => {});
        },
      });
      runtime = started.runtime;
      const definitions = started.definitions;
      await sources?.follow(runtime.committer.view().synth?.sources ?? []);
      watcher = new Watcher({ definitions, committer: runtime.committer, elector: cluster.elector });
      watcher.watch();
      watcher.startTicking();
      const view = await runtime.committer.refresh();
      console.log(summary(cfg, view.synth?.groups ?? [], runtime.url, view.synth?.pools[0]?.type));
      const sig = await untilSignal();
      console.log(`${sig}: stopping; letting the current commit finish`);
      await watcher.stop();
      await sources?.stop();
      await runtime.stop();
      console.log('stopped');
    });
}

/** A secret kept in a file under .paddock/, made on first use. */
function fileSecret(file: string): string {
  if (!existsSync(file)) writeFileSync(file, `${randomBytes(24).toString('base64url')}\n`, { mode: 0o600 });
  return readFileSync(file, 'utf8').trim();
}

function summary(cfg: ReturnType<typeof runtimeConfig>, groups: readonly { name: string; namespace: string; files: readonly string[]; ttl?: string; removed: boolean }[], url: string, poolType: string | undefined): string {
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
      `          curl -X POST ${gcUrl(cfg.sidecarUrl, cfg.gcSecret, sample.name)} -H 'content-type: application/json' -d '{ "label": "group_id=${sample.name}" }'`,
    );
  }
  lines.push(
    `leases:   curl -X POST '${url}/acquire?type=${poolType ?? '<pool type>'}&state=free&dest=busy&owner=me'`,
    `API:      releases and workspaces need Authorization: Bearer $(cat ${path.join(STATE_DIR, 'api-tokens')})`,
    `Argo CD:  serve the repo where Argo CD can read it, e.g. git daemon --reuseaddr --export-all --base-path=${path.dirname(repo)} ${path.dirname(repo)},`,
    `          run up with --argo-repo-url git://<this host>/${path.basename(repo)} so the Applications point there, then apply the app of apps and its project once:`,
    `          for f in ${projectPath(rootProjectName(argoOptions(cfg.argoRepoUrl, cfg.branch)))} apps/${ROOT_APP}.yaml; do git --git-dir=${repo} show ${cfg.branch}:$f; echo ---; done | kubectl apply -n argocd -f -`,
    `watching: ${path.resolve(cfg.definitionsDir)} (edit a file and a commit follows)   Ctrl-C stops`,
  );
  return lines.join('\n');
}
