/**
 * After each pushed commit, ask Argo CD to look at the Applications it changed now, rather than
 * at its next poll (`PADDOCK_ARGO_REFRESH`: `hard`, `normal`, or `off`). On by default (`hard`)
 * when KUBECONFIG names a cluster. In a pod, only when asked for: `PaddockControlPlane` asks its
 * watcher to, and grants it `patch` on Applications; its sidecar has no Kubernetes access, so the
 * watcher also refreshes for the commits other writers made, as it follows the repo. Without a
 * cluster it does nothing.
 */
import { UserError } from '../errors.ts';
import type { CommitInfo, Committer } from '../repo/committer.ts';
import { logger, type Logger } from '../log.ts';
import { applicationsChangedBy } from '../synth/layout.ts';
import type { ArgoRefresher } from '../watch/cluster.ts';
import { hasCluster, loadCluster } from '../watch/cluster-access.ts';
import { pokeWatcher } from '../watch/poke.ts';
import { setting } from '../config.ts';

/** One line per commit, for people: verb, what, files changed, time. */
function commitLine(c: CommitInfo): string {
  return `commit ${c.sha.slice(0, 8)} ${c.subject} (${c.paths.length} files, ${c.intents} requests, ${c.ms} ms${c.retries ? `, ${c.retries} retries` : ''})` +
    ` [sync ${c.phases.sync} synth ${c.phases.synth} write ${c.phases.write} push ${c.phases.push} ms]` +
    c.settingsChanged.map((line) => `\n  settings changed by this writer: ${line}`).join('');
}

/** What a command does with each commit it pushes: print its line, and ask Argo CD to refresh what it changed. */
export interface CommitReporter {
  readonly onCommit: (c: CommitInfo) => void;
  /** Commits of other writers, seen on a fetch (`CommitterOptions.onFollow`): refreshed like this writer's own. */
  readonly onFollow: (paths: readonly string[]) => void;
  /** Waits for the refreshes under way (a one-shot command, before it exits). */
  flush(): Promise<void>;
  /**
   * Loads the Kubernetes client now when refreshes are on (a long-running command, before it
   * serves): loading it holds the main thread a third of a second, which the callers of the
   * first commit would otherwise wait out. A KUBECONFIG that cannot be read stops it here.
   */
  prepare(): Promise<void>;
}

/**
 * `committer`: the committer whose view names Argo CD's namespace (it may not exist yet when this
 * is made). `watcherUrl`: a `paddock watch --listen` told after each push, which asks Argo CD in
 * this writer's stead (the sidecar in a pod has no Kubernetes access).
 */
export function reportCommits(committer: () => Committer | undefined, opts: { readonly watcherUrl?: string; readonly log?: Logger } = {}): CommitReporter {
  const argo = argoRefresh(committer);
  const { watcherUrl, log } = opts;
  const say = (line: string, fields?: object) => (log ? log.info(fields ?? {}, line) : console.log(line));
  return {
    onCommit(c) {
      say(commitLine(c), { commit: c.sha, subject: c.subject, kinds: c.kinds, requests: c.intents, files: c.paths.length, ms: c.ms, retries: c.retries, steps: c.phases });
      argo?.after(c.paths);
      if (watcherUrl && applicationsChangedBy(c.paths).length) {
        pokeWatcher(watcherUrl, (e) => logger.warn({ err: e, watcherUrl }, 'telling the watcher of a push failed; it will see the commit at its next fetch'));
      }
    },
    onFollow(paths) {
      argo?.after(paths, (apps) => say(`asked Argo CD to refresh ${apps.join(', ')} for the commits of other writers`, { applications: apps }));
    },
    async flush() {
      await argo?.flush();
    },
    async prepare() {
      await argo?.prepare();
    },
  };
}

interface AfterCommit {
  /** Starts the refresh for the Applications of these changed paths (errors are logged, never thrown); `done` hears which once asked. */
  after(paths: readonly string[], done?: (applications: readonly string[]) => void): void;
  /** Waits for the refreshes under way (a one-shot command, before it exits). */
  flush(): Promise<void>;
  /** Loads the refresher (and the Kubernetes client) now, not with the first refresh. */
  prepare(): Promise<void>;
}

function argoRefresh(committer: () => Committer | undefined): AfterCommit | undefined {
  const inPodOnly = !!process.env.KUBERNETES_SERVICE_HOST && !process.env.KUBECONFIG;
  const mode = setting(undefined, 'PADDOCK_ARGO_REFRESH', inPodOnly ? 'off' : 'hard');
  if (mode === 'off') return undefined;
  if (mode !== 'hard' && mode !== 'normal') throw new UserError('InvalidConfig', `PADDOCK_ARGO_REFRESH "${mode}" must be hard, normal or off`);
  if (!hasCluster()) return undefined;
  const onError = (e: unknown) => logger.warn({ err: e }, 'asking Argo CD to refresh failed; it will see the commit at its next poll');
  // The Kubernetes client loads with the first refresh (a one-shot command that commits nothing
  // never loads it), or when a long-running command prepares.
  let refresher: Promise<ArgoRefresher | undefined> | undefined;
  const load = () => (refresher ??= loadCluster().then((m) => {
    const kc = m?.clusterConfig();
    if (!m || !kc) return undefined;
    const onServed = (served: boolean) => (served
      ? logger.info('the cluster serves Argo CD\'s Applications now: asking Argo CD to refresh after each commit')
      : logger.warn('the cluster does not serve Argo CD\'s Applications (argoproj.io/v1alpha1): not asking Argo CD to refresh (set PADDOCK_ARGO_REFRESH=off where it never will)'));
    return new m.ArgoRefresher(kc, { mode, onError, onServed });
  }));
  const pending = new Set<Promise<void>>();
  return {
    after(paths, done) {
      const namespace = committer()?.view().state.settings?.argo.namespace;
      const apps = applicationsChangedBy(paths);
      if (!namespace || !apps.length) return;
      const p = load()
        .then(async (r) => {
          if (!r) return;
          if (await r.refresh(namespace, apps)) done?.(apps);
        })
        .catch(onError)
        .finally(() => pending.delete(p));
      pending.add(p);
    },
    async flush() {
      await Promise.all(pending);
    },
    async prepare() {
      await load();
    },
  };
}
