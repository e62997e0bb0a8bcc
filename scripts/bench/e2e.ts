/**
 * Bench e2e (BENCHMARKS.md): a real Argo CD (scripts/argocd-up, v3.6.1) syncs paddock's repo into
 * the cluster tier's API server (scripts/cluster-up); GC calls to the real `paddock serve`, one
 * after another; the time from each 2xx to the group's last object gone from the API server.
 * Two paths: the sidecar with a cluster refreshing Argo CD itself after each push (`paddock serve`
 * with KUBECONFIG, as on a laptop), and as PaddockControlPlane deploys it: a sidecar with no
 * Kubernetes access that tells `paddock watch --listen` of each push (`--watcher-url`), and the
 * watcher refreshing for it.
 *
 * Baseline in the same run: Argo CD's plain polling (PADDOCK_ARGO_REFRESH=off, Argo CD's default
 * 3-minute resync and revision cache), on a few groups removed at once, before paddock's path so
 * that paddock's refreshes do not help it. Groups still present after 60 s (paddock) or 8 min
 * (polling) count as not removed.
 *
 * Starts the cluster and Argo CD when they are not running (building them the first time takes
 * minutes) and leaves them running; removes what it synced. Not while the cluster tier's tests run:
 * both use the app of apps `paddock-root`. `--quick` times 5 calls and 1 polled group.
 */
import { randomBytes } from 'node:crypto';
import { AppsV1Api, CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { gcUrl } from '../../core/gc-token.ts';
import { freePorts } from '../../test/helpers/git-daemon.ts';
import { workloadLeft } from '../../test/helpers/kube.ts';
import { workloadGroupsSource } from '../../test/helpers/repo.ts';
import { percentile, printJson, printTable, verdict } from './lib.ts';
import { exportsOf, kubectl as kubectlIn, script } from './cluster-kit.ts';
import { git, Harness, put, sorted } from './serve-kit.ts';

const quick = process.argv.includes('--quick');
const TIMED = quick ? 5 : 20;
const POLLED = quick ? 1 : 3;
const GONE_WITHIN_MS = 60_000;
const POLL_GONE_WITHIN_MS = 8 * 60_000;
const NS = 'argocd';
const TARGET_P50_MS = 5_000;
const TARGET_P99_MS = 15_000;

const h = new Harness('e2e', (quick ? 20 : 30) * 60_000);
const prefix = `b-${randomBytes(2).toString('hex')}`;
let kubectlEnv: Record<string, string> = {};
try {
  // The cluster tier's API server and Argo CD (reused when running).
  const t0 = performance.now();
  kubectlEnv = exportsOf(await script('scripts/cluster-up'));
  Object.assign(kubectlEnv, exportsOf(await script('scripts/argocd-up', kubectlEnv)));
  console.log(`setup: API server and Argo CD up in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  const kc = new KubeConfig();
  kc.loadFromFile(kubectlEnv.KUBECONFIG);
  const core = kc.makeApiClient(CoreV1Api);
  const apps = kc.makeApiClient(AppsV1Api);

  const groups = Array.from({ length: 2 * TIMED + POLLED }, (_, i) => `${prefix}-${i}`);
  const defs = h.dir('defs');
  put(defs, 'groups.ts', workloadGroupsSource(prefix, groups.length));
  const repo = await h.bareRepo('manifests.git');
  const secret = randomBytes(24).toString('base64url');
  // Both ports at once: the sidecar's is bound only after the watcher's is taken.
  const [port, watcherPort] = await freePorts(2);
  const sidecar = `http://127.0.0.1:${port}`;
  const project = `${prefix}-p`;
  const env = { PADDOCK_GC_SECRET: secret, PADDOCK_SIDECAR_URL: sidecar, PADDOCK_ARGO_PROJECT: project };
  await h.paddock(['push', '--repo', repo.url, '--definitions', defs], { ...env, KUBECONFIG: '' });
  for (const f of [`apps/${project}-apps.appproject.yaml`, 'apps/paddock-root.yaml']) {
    await kubectl(['apply', '-n', NS, '-f', '-'], await git(repo.path, 'show', `main:${f}`));
  }
  const t1 = performance.now();
  const groupExists = (g: string) => workloadLeft(core, apps, g);
  await until(async () => (await Promise.all(groups.map(groupExists))).every(Boolean), 300_000, 'every group synced');
  console.log(`setup: ${groups.length} groups synced by Argo CD in ${((performance.now() - t1) / 1000).toFixed(1)} s`);

  const gc = (g: string) => fetch(gcUrl(sidecar, secret, g), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ label: `group_id=${g}` }) });
  /** ms from the 2xx of `g`'s GC call to its last object gone, or undefined past `withinMs`. */
  const timeRemoval = async (g: string, withinMs: number): Promise<number | undefined> => {
    const r = await gc(g);
    if (r.status !== 202) throw new Error(`GC of ${g}: ${r.status} ${await r.text()}`);
    const acked = performance.now();
    while (performance.now() - acked < withinMs) {
      if (!(await groupExists(g))) return performance.now() - acked;
      await sleep(200);
    }
    return undefined;
  };

  // Baseline: Argo CD polling, nothing asks it to refresh.
  let served = await h.serve(['--repo', repo.url, '--definitions', defs, '--listen', `127.0.0.1:${port}`], { ...env, KUBECONFIG: kubectlEnv.KUBECONFIG, PADDOCK_ARGO_REFRESH: 'off' });
  const polled = await Promise.all(groups.slice(2 * TIMED).map((g) => timeRemoval(g, POLL_GONE_WITHIN_MS)));
  await h.stop(served.child);

  // paddock's path: after each push the sidecar hard-refreshes the Applications it changed.
  served = await h.serve(['--repo', repo.url, '--definitions', defs, '--listen', `127.0.0.1:${port}`], { ...env, KUBECONFIG: kubectlEnv.KUBECONFIG });
  const timed: Array<number | undefined> = [];
  for (const g of groups.slice(0, TIMED)) timed.push(await timeRemoval(g, GONE_WITHIN_MS));
  await h.stop(served.child);

  // As deployed: the sidecar cannot reach the API server; it tells the watcher of each push, and
  // the watcher refreshes for it.
  const ctl = `${prefix}-ctl`;
  await kubectl(['create', 'namespace', ctl]);
  const watcher = await h.watch(['--repo', repo.url, '--definitions', defs, '--listen', `127.0.0.1:${watcherPort}`], { ...env, KUBECONFIG: kubectlEnv.KUBECONFIG, POD_NAMESPACE: ctl });
  served = await h.serve(['--repo', repo.url, '--definitions', defs, '--listen', `127.0.0.1:${port}`, '--watcher-url', `http://127.0.0.1:${watcherPort}`], { ...env, KUBECONFIG: '' });
  await until(async () => watcher.stdout.includes('now runs TTL removals') || watcher.stderr.includes('now runs TTL removals'), 60_000, 'the watcher leads');
  const deployed: Array<number | undefined> = [];
  for (const g of groups.slice(TIMED, 2 * TIMED)) deployed.push(await timeRemoval(g, GONE_WITHIN_MS));
  await h.stop(served.child);
  await h.stop(watcher.child);

  const ms = sorted(timed.filter((x): x is number => x !== undefined));
  const deployedMs = sorted(deployed.filter((x): x is number => x !== undefined));
  const pollMs = sorted(polled.filter((x): x is number => x !== undefined));
  const notRemoved = timed.length - ms.length;
  const deployedNotRemoved = deployed.length - deployedMs.length;
  const pollNotRemoved = polled.length - pollMs.length;
  console.log(`\n${TIMED} GC calls one after another on each paddock path and ${POLLED} at once with Argo CD polling; ms from the 2xx to the group's last object gone`);
  printTable(['path', 'calls', 'p50', 'p99', 'max', 'not removed'], [
    ['paddock: the sidecar refreshes', TIMED, percentile(ms, 50), percentile(ms, 99), ms.at(-1) ?? NaN, notRemoved],
    ['paddock as deployed: the watcher refreshes', TIMED, percentile(deployedMs, 50), percentile(deployedMs, 99), deployedMs.at(-1) ?? NaN, deployedNotRemoved],
    ['Argo CD polling', POLLED, percentile(pollMs, 50), percentile(pollMs, 99), pollMs.at(-1) ?? NaN, pollNotRemoved],
  ]);
  const p50 = percentile(ms, 50);
  const p99 = percentile(ms, 99);
  const dp50 = percentile(deployedMs, 50);
  const dp99 = percentile(deployedMs, 99);
  console.log(`targets (sidecar): p50 < ${TARGET_P50_MS} ms ${verdict(p50 < TARGET_P50_MS)}; p99 < ${TARGET_P99_MS} ms ${verdict(p99 < TARGET_P99_MS)}; nothing left behind ${verdict(notRemoved === 0)}; polling p50 / paddock p50 = ${(percentile(pollMs, 50) / p50).toFixed(1)}x`);
  console.log(`targets (as deployed): p50 < ${TARGET_P50_MS} ms ${verdict(dp50 < TARGET_P50_MS)}; p99 < ${TARGET_P99_MS} ms ${verdict(dp99 < TARGET_P99_MS)}; nothing left behind ${verdict(deployedNotRemoved === 0)}`);
  printJson('e2e', {
    calls: TIMED, p50Ms: Math.round(p50), p99Ms: Math.round(p99), maxMs: Math.round(ms.at(-1) ?? NaN), notRemoved,
    deployed: { calls: TIMED, p50Ms: Math.round(dp50), p99Ms: Math.round(dp99), maxMs: Math.round(deployedMs.at(-1) ?? NaN), notRemoved: deployedNotRemoved },
    polling: { calls: POLLED, p50Ms: Math.round(percentile(pollMs, 50)), maxMs: Math.round(pollMs.at(-1) ?? NaN), notRemoved: pollNotRemoved },
  });
} catch (e) {
  console.error(`bench e2e failed: ${(e as Error)?.stack ?? e}`);
  process.exitCode = 1;
} finally {
  await teardown();
  await h.cleanup();
}

/** Removes what the bench synced: the groups' Applications (emptied or not), the app of apps, the projects. */
async function teardown(): Promise<void> {
  if (!kubectlEnv.KUBECONFIG) return;
  await kubectl(['patch', 'application', 'paddock-root', '-n', NS, '--type', 'merge', '-p', '{"spec":{"syncPolicy":null}}']).catch(() => {});
  await kubectl(['delete', 'applications', '-n', NS, '-l', `app.kubernetes.io/managed-by=paddock,paddock.dev/group`, '--wait=true', '--timeout=180s']).catch((e) => console.error(String(e)));
  await kubectl(['delete', 'application', 'paddock-root', '-n', NS, '--ignore-not-found', '--wait=true', '--timeout=120s']).catch((e) => console.error(String(e)));
  await kubectl(['delete', 'appprojects', `${prefix}-p`, `${prefix}-p-apps`, '-n', NS, '--ignore-not-found']).catch(() => {});
}

function kubectl(args: string[], input?: string): Promise<string> {
  return kubectlIn(kubectlEnv, args, input);
}

async function until(check: () => Promise<boolean>, withinMs: number, what: string): Promise<void> {
  const end = performance.now() + withinMs;
  while (!(await check())) {
    if (performance.now() > end) throw new Error(`${what}: not within ${withinMs / 1000} s`);
    await sleep(1_000);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
