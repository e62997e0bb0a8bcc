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
import { readdirSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { AppsV1Api, CoreV1Api, CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { gcUrl } from '../../core/gc-token.ts';
import { paddock, startServe, startWatch, type ServeProcess } from '../helpers/cli.ts';
import { freePorts, GitDaemon } from '../helpers/git-daemon.ts';
import { exists, workloadLeft } from '../helpers/kube.ts';
import { bareRepo, gitOut, workloadGroupsSource } from '../helpers/repo.ts';
import { definitionsDir } from '../helpers/synth.ts';
import { adminKubeConfig, exec, kubectl, ROOT, theCluster, unique } from './helpers.ts';

const cluster = theCluster();
const SECRET = 'argocd-e2e-secret';
const API_TOKEN = 'argocd-e2e-api-token';
const ED25519 = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl e2e@example.com';

/** The release template of the flows below: a Deployment of the service running the release's image. */
const RELEASE_TEMPLATE = `
apiVersion: apps/v1
kind: Deployment
metadata: { name: "{{service}}" }
spec:
  replicas: 1
  selector: { matchLabels: { app: "{{service}}" } }
  template:
    metadata: { labels: { app: "{{service}}" } }
    spec:
      containers: [{ name: app, image: "{{image}}" }]
`;

/** A group with a TTL, a Release, a lease pool of one and the workspaces of the records, all named after `p`. */
const flowsSource = (p: string) => `
import { ApiObject } from 'cdk8s';
import { Environment, LeasePool, Release, Workspace } from 'paddock';
const settings = (env) => new ApiObject(env, 'cm', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'settings' }, data: { a: 'b' } });
export default (scope) => {
  settings(new Environment(scope, '${p}-ttl', { namespace: '${p}-ttl', ttl: '20s' }));
  const store = new Environment(scope, '${p}-store', { namespace: '${p}-store' });
  new Release(store, 'web', { service: '${p}-web', template: ${JSON.stringify(RELEASE_TEMPLATE)} });
  new LeasePool(scope, 'pool', { type: '${p}-res', count: 1, environment: (pool, r) => {
    const env = new Environment(pool, r.name, { namespace: r.name });
    settings(env);
    return env;
  } });
  Workspace.fromRecords(scope, { namespace: '${p}-ws' });
};`;
const NS = 'argocd';

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
    // delete their objects: that is paddock's part), then the app of apps without cascading (it
    // has nothing left to delete but the projects, which carry Delete=false) and, by hand, the
    // projects. A cascading delete of the app of apps hung in CI on an Argo CD that still
    // counted its deleted children ("3 objects remaining for deletion" for minutes, refreshes or
    // not): Argo CD's to look at, not this test's.
    await kubectl(['patch', 'application', 'paddock-root', '-n', NS, '--type', 'merge', '-p', '{"spec":{"syncPolicy":null}}']);
    const groups = await kubectl(['delete', 'applications', '-n', NS, '-l', 'app.kubernetes.io/managed-by=paddock,paddock.dev/group', '--wait=true', '--timeout=180s']);
    // What Argo CD was doing, before anything is forced: a group that cannot go is a finding, and
    // the files after this one must not meet half-deleted Applications.
    const stuck = groups.code === 0 ? '' : await deletionReport();
    if (stuck) await forceDelete();
    await kubectl(['patch', 'application', 'paddock-root', '-n', NS, '--type', 'merge', '-p', '{"metadata":{"finalizers":null}}']);
    const root = await kubectl(['delete', 'application', 'paddock-root', '-n', NS, '--ignore-not-found', '--timeout=60s']);
    await kubectl(['delete', 'appprojects', project, `${project}-apps`, '-n', NS, '--ignore-not-found']);
    await daemon?.stop();
    expect(groups.code, `${groups.stderr}\n${stuck}`).toBe(0);
    expect(root.code, root.stderr).toBe(0);
  }, 600_000);

  /** The Applications still there, their finalizers and operation, and the controller's last words on them. */
  async function deletionReport(): Promise<string> {
    const apps = await kubectl(['get', 'applications', '-n', NS, '-o', 'jsonpath={range .items[*]}{.metadata.name} deleting={.metadata.deletionTimestamp} finalizers={.metadata.finalizers} phase={.status.operationState.phase} message={.status.operationState.message} conditions={.status.conditions}{"\\n"}{end}']);
    const log = await readFile(path.join(process.env.PADDOCK_CLUSTER_RUN ?? path.join(ROOT, '.cache/cluster/run'), 'argocd/controller.log'), 'utf8').catch((e) => `(no controller log: ${e})`);
    const lines = log.split('\n').filter((l) => /level=(error|warning)|remaining for deletion/.test(l)).slice(-40);
    return `Applications left:\n${apps.stdout}${apps.stderr}\nThe app of apps' resources, as Argo CD last saw them, and in the API server:\n${await rootResources()}\nArgo CD controller (last waits, warnings, errors):\n${lines.join('\n')}`;
  }

  /** Each resource in the app of apps' status, and what a quorum read of the API server says of it now. */
  async function rootResources(): Promise<string> {
    const status = await kubectl(['get', 'application', 'paddock-root', '-n', NS, '-o', 'jsonpath={range .status.resources[*]}{.group}{"\\t"}{.kind}{"\\t"}{.namespace}{"\\t"}{.name}{"\\n"}{end}']);
    const rows = status.stdout.split('\n').filter(Boolean).map((l) => l.split('\t'));
    const seen = await Promise.all(rows.map(async ([group, kind, namespace, name]) => {
      const type = group ? `${kind}.${group}` : kind!;
      const live = await kubectl(['get', type, name!, ...(namespace ? ['-n', namespace] : []), '--ignore-not-found', '-o', 'jsonpath={.metadata.deletionTimestamp} {.metadata.finalizers}']);
      return `${type}/${namespace ? `${namespace}/` : ''}${name}: ${live.code !== 0 ? live.stderr.trim() : live.stdout.trim() === '' ? 'not found' : `live deleting=${live.stdout}`}`;
    }));
    return seen.join('\n') || `(none: ${status.stderr.trim()})`;
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
  const groupObjectsExist = (g: string) => workloadLeft(core, apps, g);
  const groupObjectsBothExist = async (g: string) => (await configMapExists(g)) && (await deploymentExists(g));

  /** Where the processes of the tests below are, once the first has started them. */
  let repo: { url: string; remote: string; dir: string; port: number; env: Record<string, string | undefined> } | undefined;
  let watch: ServeProcess | undefined;
  // A failing test shows what the writers said last (CI keeps nothing else of them).
  beforeEach(({ onTestFailed }) => onTestFailed(() => {
    for (const [name, p] of [['watcher', watch], ['sidecar', serve]] as const) {
      if (p) console.log(`--- ${name}, last lines ---\n${p.out().split('\n').slice(-60).join('\n')}`);
    }
    if (repo) console.log(`--- repo log ---\n${gitOut(repo.remote, 'log', '--format=%h %cI %s', '-40', 'main')}`);
  }));
  const gc = (group: string) => fetch(gcUrl(`http://127.0.0.1:${repo!.port}`, SECRET, group), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ label: `group_id=${group}` }) });

  it('GIVEN paddock push and the app of apps applied THEN every group is synced into the cluster; a pod\'s GC call removes exactly its group, through its emptied Application, which the leader then deletes; an idle repo is not synced again and again', async () => {
    const remote = await bareRepo();
    daemon = await GitDaemon.start(path.dirname(remote));
    const url = daemon.url(remote);
    const dir = definitionsDir({ 'groups.ts': workloadGroupsSource(prefix, 3) });
    // Both ports at once: the sidecar's is bound only after the watcher's is taken.
    const [port, watcherPort] = await freePorts(2);
    const env = { PADDOCK_GC_SECRET: SECRET, PADDOCK_SIDECAR_URL: `http://127.0.0.1:${port}`, PADDOCK_ARGO_PROJECT: project, KUBECONFIG: undefined };
    repo = { url, remote, dir, port, env };
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

    // As PaddockControlPlane runs them: the sidecar has no Kubernetes access at all; after each
    // push it tells the watcher (POST /follow on the watcher's port), which fetches and asks
    // Argo CD to look now, as it does after its own commits. With Argo CD's 3-minute poll and
    // revision cache, nothing would happen within these waits otherwise, and the watcher's own
    // periodic fetch is set to 10 minutes here, so only the sidecar's word can make it look. The
    // watcher leads (its Lease in a namespace of this test's) and deletes an emptied
    // Application 20 s after it sees the removal.
    const ctl = `${prefix}-ctl`;
    expect((await kubectl(['create', 'namespace', ctl])).code).toBe(0);
    const common = { PADDOCK_GC_SECRET: SECRET, PADDOCK_SIDECAR_URL: `http://127.0.0.1:${port}`, PADDOCK_ARGO_PROJECT: project };
    watch = await startWatch(['--repo', url, '--definitions', dir, '--retire-after', '20s', '--follow-every', '10m', '--listen', `127.0.0.1:${watcherPort}`], { ...common, KUBECONFIG: process.env.KUBECONFIG!, POD_NAMESPACE: ctl });
    serve = await startServe(['--repo', url, '--definitions', dir, '--listen', `127.0.0.1:${port}`, '--cleaning-delay', '20s', '--watcher-url', `http://127.0.0.1:${watcherPort}`], { ...common, KUBECONFIG: undefined, KUBERNETES_SERVICE_HOST: undefined, PADDOCK_API_TOKENS: API_TOKEN });

    // A pod of group 1 says it is done: its objects go, the others stay.
    const gone = `${prefix}-1`;
    expect((await gc(gone)).status).toBe(202);
    await expect.poll(() => groupObjectsExist(gone), { timeout: 60_000, interval: 1_000 }).toBe(false);
    expect(await groupObjectsExist(`${prefix}-0`)).toBe(true);
    expect(await groupObjectsExist(`${prefix}-2`)).toBe(true);
    // Pruned through its emptied Application, which Argo CD saw because the watcher, told of the
    // sidecar's commit, asked it to look: the leader's own retire commit (which would make Argo CD
    // look too) comes only 20 s later.
    const emptied = await application(gone);
    expect(emptied.metadata?.deletionTimestamp, 'the Application is not being deleted yet').toBeUndefined();
    expect(emptied.spec?.source?.path).toBe('retired');
    expect(watch!.out()).toMatch(new RegExp(`asked Argo CD to refresh .*\\b${gone}\\b.*other writers`));
    // The leader deletes it later.
    await expect.poll(() => exists(() => application(gone)), { timeout: 90_000, interval: 1_000 }).toBe(false);
    expect(gitOut(remote, 'log', '--format=%s', 'main')).toMatch(new RegExp(`^retire\\(group/${gone}\\): delete its emptied Application$`, 'm'));
    expect(await groupObjectsExist(`${prefix}-0`)).toBe(true);
  }, 600_000);

  it('GIVEN 50 more groups synced WHEN their pods remove them one after another THEN no object of any of them is left in the API server, and their Applications go', async () => {
    expect(repo, 'the test above sets the repo up').toBeDefined();
    const many = unique('orph');
    const names = Array.from({ length: 50 }, (_, i) => `${many}-${i}`);
    writeFileSync(path.join(repo!.dir, 'many.ts'), workloadGroupsSource(many, names.length));
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

  it('GIVEN a TTL, a lease pool, a Release and workspaces WHEN the TTL runs out, a lease is released dirty, CI posts and deletes releases and a user asks for and gives back a workspace THEN the API server follows each', async () => {
    expect(repo, 'the first test sets the repo up').toBeDefined();
    const p = unique('fl');
    const sidecar = `http://127.0.0.1:${repo!.port}`;
    const api = (method: string, urlPath: string, body?: unknown) => fetch(`${sidecar}${urlPath}`, {
      method, headers: { authorization: `Bearer ${API_TOKEN}`, ...(body ? { 'content-type': 'application/json' } : {}) }, ...(body ? { body: JSON.stringify(body) } : {}),
    });
    writeFileSync(path.join(repo!.dir, 'flows.ts'), flowsSource(p));
    const lease = `${p}-res-1`;
    await expect.poll(() => configMapExists(lease), { timeout: 120_000, interval: 1_000 }).toBe(true);

    // The TTL (20 s from the group's creation): the watcher's leader removes it.
    await expect.poll(() => configMapExists(`${p}-ttl`), { timeout: 60_000, interval: 1_000 }).toBe(true);
    await expect.poll(() => configMapExists(`${p}-ttl`), { timeout: 120_000, interval: 1_000 }).toBe(false);

    // A lease released dirty: its environment goes; the janitor (20 s on) brings it back.
    const acquired = await fetch(`${sidecar}/acquire?type=${p}-res&state=free&dest=busy&owner=e2e`, { method: 'POST' });
    expect(acquired.status).toBe(200);
    expect((await acquired.json()).name).toBe(lease);
    const released = await fetch(`${sidecar}/release?name=${lease}&dest=dirty&owner=e2e`, { method: 'POST' });
    expect(released.status).toBe(200);
    await expect.poll(() => configMapExists(lease), { timeout: 60_000, interval: 500 }).toBe(false).catch(async (e) => {
      const app = await application(lease).catch((err) => ({ error: String(err) }));
      const log = gitOut(repo!.remote, 'log', '-8', '--format=%h %cI %s', 'main');
      throw new Error(`${(e as Error).message}\nrepo:\n${log}\napps/${lease}.yaml: ${gitOut(repo!.remote, 'show', `main:apps/${lease}.yaml`).slice(0, 800)}\nlive: ${JSON.stringify({ spec: app.spec, status: { sync: app.status?.sync, operationState: app.status?.operationState?.phase, conditions: app.status?.conditions } })}`);
    });
    await expect.poll(() => configMapExists(lease), { timeout: 120_000, interval: 1_000 }).toBe(true);

    // A CI release as a form: the Deployment runs its image; a second one, deleted, rolls it back.
    const image = async () => (await apps.readNamespacedDeployment({ name: `${p}-web`, namespace: `${p}-store` }).catch(() => undefined))?.spec?.template?.spec?.containers?.[0]?.image;
    const release = async (version: string) => {
      const form = new FormData();
      for (const [k, v] of Object.entries({ service: `${p}-web`, version, image: `busybox:${version}` })) form.append(k, v);
      const r = await fetch(`${sidecar}/api/releases`, { method: 'POST', headers: { authorization: `Bearer ${API_TOKEN}` }, body: form });
      expect(r.status, await r.clone().text()).toBe(201);
      return (await r.json()).id as string;
    };
    await release('1.36');
    await expect.poll(image, { timeout: 90_000, interval: 1_000 }).toBe('busybox:1.36');
    const second = await release('1.37');
    await expect.poll(image, { timeout: 60_000, interval: 1_000 }).toBe('busybox:1.37');
    expect((await api('DELETE', `/api/releases/${second}`)).status).toBe(204);
    await expect.poll(image, { timeout: 60_000, interval: 1_000 }).toBe('busybox:1.36');

    // A workspace: Deployment, NodePort Service and PVC; given back, they go.
    const ws = await api('POST', '/api/workspaces', { email: 'e2e.user@example.com', ram: 1, cpu: 1, storage: '1Gi', publicKey: ED25519 });
    expect(ws.status, await ws.clone().text()).toBe(201);
    const { name } = await ws.json();
    const wsObjects = async () => {
      const ns = `${p}-ws`;
      const selector = { namespace: ns, labelSelector: `paddock.dev/group=ws-${name}` };
      return [
        ...(await apps.listNamespacedDeployment(selector)).items.map((o) => `Deployment/${o.metadata!.name}`),
        ...(await core.listNamespacedService(selector)).items.map((o) => `Service/${o.spec!.type}`),
        ...(await core.listNamespacedPersistentVolumeClaim(selector)).items.map((o) => `PersistentVolumeClaim/${o.metadata!.name}`),
      ].sort();
    };
    await expect.poll(wsObjects, { timeout: 90_000, interval: 1_000 }).toEqual([`Deployment/${name}`, `PersistentVolumeClaim/${name}-home`, 'Service/NodePort']);
    // Stopped: Argo CD scales it to zero; the home volume and the port stay. Started: back.
    const replicas = async () => (await apps.readNamespacedDeployment({ name, namespace: `${p}-ws` })).spec?.replicas;
    expect((await api('POST', `/api/workspaces/${name}/stop`)).status).toBe(200);
    await expect.poll(replicas, { timeout: 90_000, interval: 1_000 }).toBe(0);
    expect(await wsObjects()).toEqual([`Deployment/${name}`, `PersistentVolumeClaim/${name}-home`, 'Service/NodePort']);
    expect((await api('POST', `/api/workspaces/${name}/start`)).status).toBe(200);
    await expect.poll(replicas, { timeout: 90_000, interval: 1_000 }).toBe(1);
    // Deleted: everything goes, the volume too, and the answer says so.
    const deleted = await api('DELETE', `/api/workspaces/${name}`);
    expect(deleted.status).toBe(200);
    expect(((await deleted.json()) as { removed: string[] }).removed).toContain(`PersistentVolumeClaim ${name}-home (the 1Gi home volume: its data is gone once the volume is reclaimed)`);
    await expect.poll(wsObjects, { timeout: 60_000, interval: 1_000 }).toEqual([]);
  }, 900_000);

  it('GIVEN a synced group WHEN paddock demolish, then revive THEN its objects go and come back; WHEN every definition file is gone THEN nothing is pruned', async () => {
    expect(repo, 'the first test sets the repo up').toBeDefined();
    const g = `${prefix}-2`;
    expect(await groupObjectsBothExist(g)).toBe(true);
    const cli = { ...repo!.env, KUBECONFIG: process.env.KUBECONFIG! };
    const d = await paddock(['demolish', '--repo', repo!.url, '--definitions', repo!.dir, g], { env: cli });
    expect(d.code, d.stderr).toBe(0);
    await expect.poll(() => groupObjectsExist(g), { timeout: 60_000, interval: 1_000 }).toBe(false);
    const r = await paddock(['revive', '--repo', repo!.url, '--definitions', repo!.dir, g], { env: cli });
    expect(r.code, r.stderr).toBe(0);
    await expect.poll(() => groupObjectsBothExist(g), { timeout: 90_000, interval: 1_000 }).toBe(true);

    // Emptied definitions: the writers refuse, the repo and the cluster stay as they are (the
    // leader may still retire an emptied Application of the tests above: nothing else commits).
    const head = gitOut(repo!.remote, 'rev-parse', 'main');
    for (const f of readdirSync(repo!.dir)) rmSync(path.join(repo!.dir, f), { recursive: true, force: true });
    await new Promise((res) => setTimeout(res, 15_000));
    const since = gitOut(repo!.remote, 'log', '--format=%s', `${head}..main`).split('\n').filter(Boolean);
    expect(since.filter((subject) => !/^retire\(group\/[^)]+\): delete its emptied Application$/.test(subject))).toEqual([]);
    expect(await groupObjectsBothExist(g)).toBe(true);
    expect(await groupObjectsBothExist(`${prefix}-0`)).toBe(true);
  }, 600_000);
});
