/**
 * Argo CD in the loop: a real Argo CD (scripts/argocd-up: v3.6.1's application controller and
 * repo server, out of cluster, against the tier's kube-apiserver) syncs paddock's manifests
 * repo over `git daemon`, and prunes what paddock removes. Observed in the API server, not in
 * the repo.
 *
 * argocd-up builds Argo CD the first time (several minutes; .ci/run does it as its own step), so
 * this file's setup may take that long. A machine where it cannot build or start fails here with
 * argocd-up's reason.
 */
import { writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { AppsV1Api, CoreV1Api, CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gcUrl } from '../../constructs/private/gc-token.ts';
import { paddock, startServe, startWatch, type ServeProcess } from '../helpers/cli.ts';
import { freePort, GitDaemon } from '../helpers/git-daemon.ts';
import { bareRepo, gitOut } from '../helpers/repo.ts';
import { definitionsDir } from '../helpers/synth.ts';
import { adminKubeConfig, exec, kubectl, ROOT, theCluster, unique } from './helpers.ts';

const cluster = theCluster();
const SECRET = 'argocd-e2e-secret';
const NS = 'argocd';

const groupsSource = (prefix: string, n: number) => `
import { ApiObject } from 'cdk8s';
import { Environment } from 'paddock';
export default (scope) => {
  for (let i = 0; i < ${n}; i++) {
    const env = new Environment(scope, '${prefix}-' + i, { namespace: '${prefix}-' + i });
    new ApiObject(env, 'cm', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'settings' }, data: { i: String(i) } });
    new ApiObject(env, 'app', { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'app' },
      spec: { replicas: 1, selector: { matchLabels: { app: 'a' } }, template: { metadata: { labels: { app: 'a' } }, spec: { containers: [{ name: 'app', image: 'busybox:1.36' }] } } } });
  }
};`;

async function exists(f: () => Promise<unknown>): Promise<boolean> {
  try {
    await f();
    return true;
  } catch (e) {
    if ((e as { code?: number }).code === 404) return false;
    throw e;
  }
}

describe.skipIf(!cluster)('Argo CD syncs and prunes paddock\'s repo', () => {
  let admin: KubeConfig;
  let core: CoreV1Api;
  let apps: AppsV1Api;
  let custom: CustomObjectsApi;
  let daemon: GitDaemon | undefined;
  let serve: ServeProcess | undefined;
  const prefix = unique('e2e');
  const project = unique('p');

  beforeAll(async () => {
    const up = await exec(path.join(ROOT, 'scripts/argocd-up'), [], { timeoutMs: 1_500_000 });
    if (up.code !== 0) throw new Error(`scripts/argocd-up failed (exit ${up.code}); Argo CD is needed for this file:\n${up.stderr.slice(-3000)}`);
    admin = adminKubeConfig();
    core = admin.makeApiClient(CoreV1Api);
    apps = admin.makeApiClient(AppsV1Api);
    custom = admin.makeApiClient(CustomObjectsApi);
  }, 1_600_000);

  afterAll(async () => {
    await serve?.stop();
    await watch?.stop();
    // Tear down: the app of apps stops syncing, the groups' Applications go (their finalizers
    // delete their objects), then the app of apps and, by hand, the projects it leaves.
    await kubectl(['patch', 'application', 'paddock-root', '-n', NS, '--type', 'merge', '-p', '{"spec":{"syncPolicy":null}}']);
    const groups = await kubectl(['delete', 'applications', '-n', NS, '-l', 'app.kubernetes.io/managed-by=paddock,paddock.dev/group', '--wait=true', '--timeout=120s']);
    // The projects carry Delete=false, so the app of apps' own project outlives its deletion.
    const root = groups.code === 0 ? await kubectl(['delete', 'application', 'paddock-root', '-n', NS, '--ignore-not-found', '--wait=true', '--timeout=120s']) : groups;
    // What Argo CD was doing, before anything is forced: a stuck deletion is a finding, and the
    // files after this one must not meet a half-deleted app of apps.
    const stuck = root.code === 0 ? '' : await deletionReport();
    if (stuck) await forceDelete();
    await kubectl(['delete', 'appprojects', project, `${project}-apps`, '-n', NS, '--ignore-not-found']);
    await daemon?.stop();
    expect(root.code, `${root.stderr}\n${stuck}`).toBe(0);
  });

  /** The Applications still there, their finalizers and operation, and the controller's last words on them. */
  async function deletionReport(): Promise<string> {
    const apps = await kubectl(['get', 'applications', '-n', NS, '-o', 'jsonpath={range .items[*]}{.metadata.name} deleting={.metadata.deletionTimestamp} finalizers={.metadata.finalizers} phase={.status.operationState.phase} message={.status.operationState.message} conditions={.status.conditions}{"\\n"}{end}']);
    const log = await readFile(path.join(process.env.PADDOCK_CLUSTER_RUN ?? path.join(ROOT, '.cache/cluster/run'), 'argocd/controller.log'), 'utf8').catch((e) => `(no controller log: ${e})`);
    const lines = log.split('\n').filter((l) => /paddock-root|level=(error|warning)/.test(l)).slice(-40);
    return `Applications left:\n${apps.stdout}${apps.stderr}\nArgo CD controller (last lines on paddock-root, warnings, errors):\n${lines.join('\n')}`;
  }

  /** Clears what a stuck deletion left: the Applications' finalizers, then the Applications. */
  async function forceDelete(): Promise<void> {
    const left = await kubectl(['get', 'applications', '-n', NS, '-l', 'app.kubernetes.io/managed-by=paddock', '-o', 'name']);
    for (const app of left.stdout.split('\n').filter(Boolean)) {
      await kubectl(['patch', app, '-n', NS, '--type', 'merge', '-p', '{"metadata":{"finalizers":null}}']);
      await kubectl(['delete', app, '-n', NS, '--ignore-not-found', '--wait=false']);
    }
  }

  const application = (name: string) => custom.getNamespacedCustomObject({ group: 'argoproj.io', version: 'v1alpha1', namespace: NS, plural: 'applications', name }) as Promise<any>;
  const configMapExists = (g: string) => exists(() => core.readNamespacedConfigMap({ name: 'settings', namespace: g }));
  const deploymentExists = (g: string) => exists(() => apps.readNamespacedDeployment({ name: 'app', namespace: g }));
  const groupObjectsExist = async (g: string) => (await configMapExists(g)) || (await deploymentExists(g));
  const groupObjectsBothExist = async (g: string) => (await configMapExists(g)) && (await deploymentExists(g));

  /** Where the processes of the tests below are, once the first has started them. */
  let repo: { url: string; dir: string; port: number; env: Record<string, string | undefined> } | undefined;
  let watch: ServeProcess | undefined;
  const gc = (group: string) => fetch(gcUrl(`http://127.0.0.1:${repo!.port}`, SECRET, group), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ label: `group_id=${group}` }) });

  it('GIVEN paddock push and the app of apps applied THEN every group is synced into the cluster; a pod\'s GC call removes exactly its group, through its emptied Application, which the leader then deletes; an idle repo is not synced again and again', async () => {
    const remote = await bareRepo();
    daemon = await GitDaemon.start(path.dirname(remote));
    const url = daemon.url(remote);
    const dir = definitionsDir({ 'groups.ts': groupsSource(prefix, 3) });
    const port = await freePort();
    const env = { PADDOCK_GC_SECRET: SECRET, PADDOCK_SIDECAR_URL: `http://127.0.0.1:${port}`, PADDOCK_ARGO_PROJECT: project, KUBECONFIG: undefined };
    repo = { url, dir, port, env };
    const pushed = await paddock(['push', '--repo', url, '--definitions', dir], { env });
    expect(pushed.code, pushed.stderr).toBe(0);

    // Once, as paddock up prints it: the root project and the app of apps.
    for (const f of [`apps/${project}-apps.appproject.yaml`, 'apps/paddock-root.yaml']) {
      const r = await kubectl(['apply', '-n', NS, '-f', '-'], gitOut(remote, 'show', `main:${f}`));
      expect(r.code, r.stderr).toBe(0);
    }
    for (let i = 0; i < 3; i++) {
      await expect.poll(() => groupObjectsExist(`${prefix}-${i}`), { timeout: 90_000, interval: 1_000 }).toBe(true);
    }
    await expect.poll(async () => (await application(`${prefix}-0`)).status?.sync?.status, { timeout: 60_000, interval: 1_000 }).toBe('Synced');
    const cm = await core.readNamespacedConfigMap({ name: 'settings', namespace: `${prefix}-1` });
    expect(cm.metadata?.labels).toMatchObject({ 'paddock.dev/group': `${prefix}-1`, group_id: `${prefix}-1`, 'app.kubernetes.io/managed-by': 'paddock' });

    // Idle and synced: the root app is not synced again (it was, endlessly, with directory: {recurse: false}).
    await expect.poll(async () => (await application('paddock-root')).status?.sync?.status, { timeout: 60_000, interval: 1_000 }).toBe('Synced');
    const before = ((await application('paddock-root')).status?.history ?? []).length;
    await new Promise((r) => setTimeout(r, 30_000));
    const root = await application('paddock-root');
    expect(root.status?.sync?.status).toBe('Synced');
    expect((root.status?.history ?? []).length).toBe(before);

    // The sidecar and the watcher have the cluster (KUBECONFIG), so after each push they ask
    // Argo CD to look now: with its 3-minute poll and revision cache, nothing would happen within
    // these waits otherwise. The watcher leads (its Lease in a namespace of this test's) and
    // deletes an emptied Application 5 s after the removal.
    const ctl = `${prefix}-ctl`;
    expect((await kubectl(['create', 'namespace', ctl])).code).toBe(0);
    const cluster = { PADDOCK_GC_SECRET: SECRET, PADDOCK_SIDECAR_URL: `http://127.0.0.1:${port}`, PADDOCK_ARGO_PROJECT: project, KUBECONFIG: process.env.KUBECONFIG!, POD_NAMESPACE: ctl };
    serve = await startServe(['--repo', url, '--definitions', dir, '--listen', `127.0.0.1:${port}`], cluster);
    watch = await startWatch(['--repo', url, '--definitions', dir, '--retire-after', '5s'], cluster);

    // A pod of group 1 says it is done: its objects go, the others stay.
    const gone = `${prefix}-1`;
    expect((await gc(gone)).status).toBe(202);
    await expect.poll(() => groupObjectsExist(gone), { timeout: 60_000, interval: 1_000 }).toBe(false);
    expect(await groupObjectsExist(`${prefix}-0`)).toBe(true);
    expect(await groupObjectsExist(`${prefix}-2`)).toBe(true);
    // Its Application was emptied, not deleted, by the removal; the leader deletes it later.
    await expect.poll(() => exists(() => application(gone)), { timeout: 90_000, interval: 1_000 }).toBe(false);
    expect(gitOut(remote, 'log', '--format=%s', 'main')).toMatch(new RegExp(`^retire\\(group/${gone}\\): delete its emptied Application$`, 'm'));
    expect(await groupObjectsExist(`${prefix}-0`)).toBe(true);
  }, 600_000);

  it('GIVEN 50 more groups synced WHEN their pods remove them one after another THEN no object of any of them is left in the API server, and their Applications go', async () => {
    expect(repo, 'the test above sets the repo up').toBeDefined();
    const many = unique('orph');
    const names = Array.from({ length: 50 }, (_, i) => `${many}-${i}`);
    writeFileSync(path.join(repo!.dir, 'many.ts'), groupsSource(many, names.length));
    // The watcher commits the new definitions; Argo CD syncs them.
    await expect.poll(async () => (await Promise.all(names.map(groupObjectsBothExist))).filter((x) => !x).length, { timeout: 300_000, interval: 2_000 }).toBe(0);

    for (const g of names) expect((await gc(g)).status, g).toBe(202);
    const left = async () => (await Promise.all(names.map(groupObjectsExist))).map((x, i) => (x ? names[i] : '')).filter(Boolean);
    await expect.poll(left, { timeout: 180_000, interval: 2_000 }).toEqual([]);
    const applications = async () => {
      const list = (await custom.listNamespacedCustomObject({ group: 'argoproj.io', version: 'v1alpha1', namespace: NS, plural: 'applications' })) as { items: Array<{ metadata: { name: string } }> };
      const live = new Set(list.items.map((a) => a.metadata.name));
      return names.filter((n) => live.has(n));
    };
    await expect.poll(applications, { timeout: 180_000, interval: 2_000 }).toEqual([]);
    // Nothing came back after its Application went (an object re-applied by a racing sync would).
    expect(await left()).toEqual([]);
  }, 900_000);
});
