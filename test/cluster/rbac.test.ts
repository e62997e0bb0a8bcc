/**
 * PaddockControlPlane's RBAC, for real: the synthesized ServiceAccounts, Roles and RoleBindings
 * (and the whole control plane with them) are created in a real API server, a token is minted for
 * the watcher's ServiceAccount through the TokenRequest API, and that token alone must be enough
 * for what the watcher does (a Deployment informer: list + watch; leader election: get, create,
 * update a Lease in its own namespace; patch on Applications in Argo CD's namespace, through the
 * Role paddock renders into apps/) and for nothing more: every other request is denied.
 *
 * Definitions are written to a temp directory and synthesized by `paddock synth --definitions`,
 * as a user's would be, with unique namespaces (namespaces never finish deleting in the local
 * cluster, and an external cluster must not be disturbed).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  AppsV1Api, AuthenticationV1Api, AuthorizationV1Api, CoordinationV1Api, CoreV1Api, CustomObjectsApi, KubeConfig, makeInformer,
  RbacAuthorizationV1Api, V1MicroTime, Watch, type V1Deployment,
} from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ArgoRefresher, DeploymentSources, LeaseElector, REFRESH_ANNOTATION } from '../../src/watch/cluster.ts';
import { adminKubeConfig, deleteNamespaces, ensureArgoCrds, ensureNamespaces, ensurePodMonitorCrd, kubectl, FIELD_MANAGER, synth, theCluster, tokenKubeConfig, unique } from './helpers.ts';

const cluster = theCluster();

/** The status code of a failed client-node call (ApiException.code, or a watch's statusCode). */
async function statusOf(p: Promise<unknown>): Promise<number> {
  try {
    await p;
    return 200;
  } catch (e) {
    const err = e as { code?: unknown; statusCode?: unknown };
    const code = typeof err.code === 'number' ? err.code : typeof err.statusCode === 'number' ? err.statusCode : undefined;
    if (code === undefined) throw e;
    return code;
  }
}

/** Opens a watch on `path` and closes it again; rejects with the status when the server refuses it. */
async function watchRequest(kc: KubeConfig, path: string): Promise<void> {
  let failure: unknown;
  const ctl = await new Watch(kc).watch(path, {}, () => undefined, (err) => {
    failure ??= err;
  });
  if (failure) throw failure;
  ctl.abort();
}

/** A Deployment for the admin to create; nothing ever runs it (no controller-manager). */
function deployment(name: string): V1Deployment {
  const labels = { app: name };
  return {
    metadata: { name, labels },
    spec: { replicas: 1, selector: { matchLabels: labels }, template: { metadata: { labels }, spec: { containers: [{ name: 'c', image: 'example.invalid/app:1' }] } } },
  };
}

/**
 * Runs a Deployment informer with `kc` as client-node's informer does (list, then watch from the
 * list's resourceVersion), then makes the admin create `name` in `namespace` and resolves once the
 * informer hears of it: proof that list and watch are both allowed.
 */
async function informerSeesNewDeployment(kc: KubeConfig, admin: KubeConfig, scope: string | undefined, namespace: string, name: string): Promise<string[]> {
  const apps = kc.makeApiClient(AppsV1Api);
  const informer = scope
    ? makeInformer(kc, `/apis/apps/v1/namespaces/${scope}/deployments`, () => apps.listNamespacedDeployment({ namespace: scope }))
    : makeInformer(kc, '/apis/apps/v1/deployments', () => apps.listDeploymentForAllNamespaces());
  try {
    const heard = new Promise<void>((resolve, reject) => {
      informer.on('error', (err) => reject(new Error(`the informer failed: ${err?.message ?? err} (status ${err?.code ?? err?.statusCode})`)));
      informer.on('add', (d) => {
        if (d.metadata?.name === name && d.metadata?.namespace === namespace) resolve();
      });
    });
    heard.catch(() => undefined); // observed below; keeps an early error from being "unhandled"
    await informer.start();
    await admin.makeApiClient(AppsV1Api).createNamespacedDeployment({ namespace, body: deployment(name) });
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`the informer did not see deployment ${namespace}/${name} within 20s`)), 20_000);
    });
    await Promise.race([heard, timeout]).finally(() => clearTimeout(timer));
    return informer.list().map((d) => `${d.metadata?.namespace}/${d.metadata?.name}`);
  } finally {
    await informer.stop();
  }
}

/** The resource rules `kc` holds in `namespace`, as sorted `group/resource:verb` strings, minus the self-review rules every user has. */
async function rulesIn(kc: KubeConfig, namespace: string): Promise<string[]> {
  const review = await kc.makeApiClient(AuthorizationV1Api).createSelfSubjectRulesReview({ body: { spec: { namespace } } });
  expect(review.status?.incomplete, `rules review in ${namespace} is incomplete: ${review.status?.evaluationError}`).toBeFalsy();
  const out = new Set<string>();
  for (const r of review.status?.resourceRules ?? []) {
    for (const g of r.apiGroups ?? []) {
      if (g === 'authorization.k8s.io' || g === 'authentication.k8s.io') continue; // system:basic-user's self reviews
      for (const res of r.resources ?? []) for (const v of r.verbs) out.add(`${g || 'core'}/${res}${r.resourceNames?.length ? `[${r.resourceNames.join(',')}]` : ''}:${v}`);
    }
  }
  return [...out].sort();
}

const DEPLOYMENT_READ = ['apps/deployments:get', 'apps/deployments:list', 'apps/deployments:watch'];
const CONFIGMAP_READ = ['core/configmaps:get', 'core/configmaps:list', 'core/configmaps:watch'];
const LEADER_LEASE = ['create', 'get', 'list', 'patch', 'update', 'watch'].map((v) => `coordination.k8s.io/leases:${v}`);

describe.skipIf(!cluster)('PaddockControlPlane RBAC in a real API server', () => {
  const ns = unique('paddock-cp'); // paddock's own namespace (the Environment's)
  const src = unique('clone-src'); // in watchNamespaces: live clone sources are read here
  const other = unique('elsewhere'); // a namespace the watcher has no business in
  const allNs = unique('paddock-all'); // a second control plane, with watchAllNamespaces
  const argoNs = unique('argocd'); // Argo CD's namespace for this run (PADDOCK_ARGO_NAMESPACE)
  const probeApp = 'refresh-probe';
  const created: string[] = [];
  let admin: KubeConfig;
  let core: CoreV1Api;
  let applied: Record<string, string[]> = {};
  const temp: string[] = [];

  const tokenFor = async (namespace: string, serviceAccount: string) => {
    const tr = await core.createNamespacedServiceAccountToken({
      name: serviceAccount,
      namespace,
      body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { audiences: [], expirationSeconds: 600 } },
    });
    expect(tr.status?.token, `TokenRequest for ${namespace}/${serviceAccount}`).toBeTruthy();
    return tokenKubeConfig(admin, tr.status!.token);
  };
  let watcher: KubeConfig;
  let watcherAll: KubeConfig;
  let sidecar: KubeConfig;

  beforeAll(async () => {
    admin = adminKubeConfig();
    core = admin.makeApiClient(CoreV1Api);
    const defs = await mkdtemp(path.join(tmpdir(), 'paddock-cluster-defs-'));
    // As environments/control-plane.ts, with this run's namespaces.
    await writeFile(
      path.join(defs, 'control-plane.ts'),
      `import { Environment, PaddockControlPlane } from 'paddock';
export default (scope) => {
  const common = {
    repo: 'git@git.example.com:platform/manifests.git',
    definitionsRepo: 'https://git.example.com/platform/environments.git',
  };
  const system = new Environment(scope, 'paddock-system', { group: ${JSON.stringify(ns)}, namespace: ${JSON.stringify(ns)}, owner: 'platform' });
  new PaddockControlPlane(system, 'paddock', { ...common, watchNamespaces: [${JSON.stringify(src)}], rulesNamespaces: [${JSON.stringify(src)}] });
  const all = new Environment(scope, 'paddock-all', { group: ${JSON.stringify(allNs)}, namespace: ${JSON.stringify(allNs)}, owner: 'platform' });
  new PaddockControlPlane(all, 'paddock', { ...common, watchAllNamespaces: true, podMonitor: true });
};
`,
    );
    temp.push(defs);
    const out = await synth(['--definitions', defs], { PADDOCK_ARGO_NAMESPACE: argoNs });
    temp.push(out);
    await ensureArgoCrds(admin, cluster!);
    await ensurePodMonitorCrd(admin, cluster!);
    created.push(...(await ensureNamespaces(admin, [ns, src, other, allNs, argoNs])));
    applied = {};
    // For real, as Argo CD would: server-side apply of each group's directory, and of the refresh
    // Role the app of apps syncs from apps/.
    const refreshRbac = ['role', 'rolebinding'].map((k) => path.join(out, 'apps', `paddock-argo-refresh.${k}.yaml`));
    for (const [key, files] of [[ns, [path.join(out, 'groups', ns)]], [allNs, [path.join(out, 'groups', allNs)]], [argoNs, refreshRbac]] as const) {
      const r = await kubectl(['apply', '--server-side', `--field-manager=${FIELD_MANAGER}`, '-R', ...files.flatMap((f) => ['-f', f]), '-o', 'name']);
      if (r.code !== 0) throw new Error(`kubectl apply of ${files.join(', ')} failed (exit ${r.code}):\n${r.stderr}${r.stdout}`);
      applied[key] = r.stdout.trim().split('\n').sort();
    }
    // An Application to refresh (nothing syncs it: no Argo CD needed for RBAC).
    await admin.makeApiClient(CustomObjectsApi).createNamespacedCustomObject({
      group: 'argoproj.io', version: 'v1alpha1', namespace: argoNs, plural: 'applications',
      body: {
        apiVersion: 'argoproj.io/v1alpha1', kind: 'Application', metadata: { name: probeApp },
        spec: { project: 'paddock', source: { repoURL: 'https://git.example.com/m.git', path: 'groups/x', targetRevision: 'main' }, destination: { server: 'https://kubernetes.default.svc', namespace: ns } },
      },
    });
    watcher = await tokenFor(ns, 'paddock-watcher');
    watcherAll = await tokenFor(allNs, 'paddock-watcher');
    sidecar = await tokenFor(ns, 'paddock-sidecar');
  });

  afterAll(async () => {
    await Promise.all(temp.map((d) => rm(d, { recursive: true, force: true })));
    if (!cluster || cluster.mode !== 'external' || !admin) return;
    const rbac = admin.makeApiClient(RbacAuthorizationV1Api);
    const name = `paddock-watcher-${allNs}`;
    await rbac.deleteClusterRoleBinding({ name }).catch(() => undefined);
    await rbac.deleteClusterRole({ name }).catch(() => undefined);
    await deleteNamespaces(admin, cluster, created);
  });

  it('GIVEN the synthesized control plane WHEN applied for real THEN the API server stores every object, RBAC, the dashboard ConfigMap and (when asked) the PodMonitor included', () => {
    expect(applied[ns]).toEqual([
      'configmap/paddock-dashboard',
      'deployment.apps/paddock-sidecar',
      'deployment.apps/paddock-watcher',
      'role.rbac.authorization.k8s.io/paddock-watcher',
      'role.rbac.authorization.k8s.io/paddock-watcher',
      'rolebinding.rbac.authorization.k8s.io/paddock-watcher',
      'rolebinding.rbac.authorization.k8s.io/paddock-watcher',
      'service/paddock-sidecar',
      'service/paddock-watcher',
      'serviceaccount/paddock-sidecar',
      'serviceaccount/paddock-watcher',
    ]);
    expect(applied[allNs]).toEqual([
      `clusterrole.rbac.authorization.k8s.io/paddock-watcher-${allNs}`,
      `clusterrolebinding.rbac.authorization.k8s.io/paddock-watcher-${allNs}`,
      'configmap/paddock-dashboard',
      'deployment.apps/paddock-sidecar',
      'deployment.apps/paddock-watcher',
      'podmonitor.monitoring.coreos.com/paddock',
      'role.rbac.authorization.k8s.io/paddock-watcher',
      'rolebinding.rbac.authorization.k8s.io/paddock-watcher',
      'service/paddock-sidecar',
      'service/paddock-watcher',
      'serviceaccount/paddock-sidecar',
      'serviceaccount/paddock-watcher',
    ]);
    expect(applied[argoNs]).toEqual(['role.rbac.authorization.k8s.io/paddock-argo-refresh', 'rolebinding.rbac.authorization.k8s.io/paddock-argo-refresh']);
  });

  it("GIVEN a TokenRequest token for the watcher's ServiceAccount THEN the API server knows it as that ServiceAccount", async () => {
    const review = await watcher.makeApiClient(AuthenticationV1Api).createSelfSubjectReview({ body: {} });
    expect(review.status?.userInfo?.username).toBe(`system:serviceaccount:${ns}:paddock-watcher`);
    expect(review.status?.userInfo?.groups).toEqual(expect.arrayContaining(['system:serviceaccounts', `system:serviceaccounts:${ns}`]));
  });

  it("GIVEN the watcher's token WHEN its Deployment informer runs in its own namespace THEN it lists and watches", async () => {
    const seen = await informerSeesNewDeployment(watcher, admin, ns, ns, 'informer-probe');
    expect(seen).toEqual(expect.arrayContaining([`${ns}/paddock-watcher`, `${ns}/paddock-sidecar`, `${ns}/informer-probe`]));
  });

  it("GIVEN the watcher's token WHEN its Deployment informer runs in a watchNamespaces namespace THEN it lists and watches there too", async () => {
    const seen = await informerSeesNewDeployment(watcher, admin, src, src, 'clone-source');
    expect(seen).toEqual([`${src}/clone-source`]);
    const d = await watcher.makeApiClient(AppsV1Api).readNamespacedDeployment({ name: 'clone-source', namespace: src });
    expect(d.spec?.replicas).toBe(1);
  });

  it("GIVEN the watcher's token WHEN it elects a leader THEN it creates, gets, updates and patches a Lease in its namespace", async () => {
    const coord = watcher.makeApiClient(CoordinationV1Api);
    const name = 'paddock-watcher-leader';
    // Lease times are MicroTime: the API server wants six fractional digits, which client-node's
    // V1MicroTime writes (a plain Date's three are refused with 400).
    const now = new V1MicroTime();
    await coord.createNamespacedLease({
      namespace: ns,
      body: { metadata: { name }, spec: { holderIdentity: 'paddock-watcher-a', leaseDurationSeconds: 15, acquireTime: now, renewTime: now, leaseTransitions: 0 } },
    });
    const got = await coord.readNamespacedLease({ name, namespace: ns });
    expect(got.spec?.holderIdentity).toBe('paddock-watcher-a');
    got.spec!.renewTime = new V1MicroTime(now.getTime() + 5_000);
    const renewed = await coord.replaceNamespacedLease({ name, namespace: ns, body: got });
    expect(renewed.metadata?.resourceVersion).not.toBe(got.metadata?.resourceVersion);
    // A standby taking over after expiry, as a JSON patch.
    const taken = await coord.patchNamespacedLease({
      name,
      namespace: ns,
      body: [
        { op: 'test', path: '/metadata/resourceVersion', value: renewed.metadata!.resourceVersion },
        { op: 'replace', path: '/spec/holderIdentity', value: 'paddock-watcher-b' },
        { op: 'replace', path: '/spec/leaseTransitions', value: 1 },
      ],
    });
    expect(taken.spec?.holderIdentity).toBe('paddock-watcher-b');
    // Also as the watcher's own (standby) identity would do, a watch on the lease: allowed.
    await watchRequest(watcher, `/apis/coordination.k8s.io/v1/namespaces/${ns}/leases`);
    // A stale update loses, as leader election relies on.
    await expect(coord.replaceNamespacedLease({ name, namespace: ns, body: renewed })).rejects.toMatchObject({ code: 409 });
    expect((await coord.listNamespacedLease({ namespace: ns })).items.map((l) => l.metadata?.name)).toContain(name);
  });

  it("GIVEN the watcher's token WHEN paddock's own LeaseElector runs as two replicas THEN one leads and renews, the other stands by and takes over once the lease runs out", async () => {
    // As `paddock watch` sets it up in a pod: Lease "paddock-watcher" in POD_NAMESPACE.
    const t0 = Date.now();
    const elector = (identity: string, at: () => number) => new LeaseElector(watcher, { namespace: ns, name: 'paddock-watcher', identity, durationSeconds: 15, now: () => new Date(at()) });
    const a = elector('paddock-watcher-a', () => t0);
    let bNow = t0 + 1_000;
    const b = elector('paddock-watcher-b', () => bNow);
    expect(await a.tick()).toBe(true); // creates the Lease
    expect(await b.tick()).toBe(false); // reads it: held and fresh
    expect(await a.tick()).toBe(true); // renews it (update)
    bNow = t0 + 20_000; // a's renewal is now older than the 15 s lease
    expect(await b.tick()).toBe(true); // takes it over (update)
    expect(await a.tick()).toBe(false);
    const lease = await admin.makeApiClient(CoordinationV1Api).readNamespacedLease({ name: 'paddock-watcher', namespace: ns });
    expect(lease.spec).toMatchObject({ holderIdentity: 'paddock-watcher-b', leaseTransitions: 1 });
  });

  it("GIVEN the watcher's token WHEN paddock's own DeploymentSources follows clone sources in its namespace and a watchNamespaces namespace THEN it sees them and their changes", async () => {
    const adminApps = admin.makeApiClient(AppsV1Api);
    await adminApps.createNamespacedDeployment({ namespace: src, body: deployment('live-source') });
    const changed: string[] = [];
    const errors: unknown[] = [];
    const sources = new DeploymentSources(watcher, (source) => changed.push(source), (e) => errors.push(e));
    try {
      await sources.follow([`${src}/live-source`, `${ns}/paddock-watcher`]);
      expect(errors).toEqual([]);
      expect([...sources.live().keys()]).toEqual(expect.arrayContaining([`${src}/live-source`, `${ns}/paddock-watcher`]));
      changed.length = 0;
      await adminApps.patchNamespacedDeployment({ name: 'live-source', namespace: src, body: [{ op: 'replace', path: '/spec/replicas', value: 3 }] });
      await expect.poll(() => changed, { timeout: 20_000 }).toContain(`${src}/live-source`);
      expect(sources.live().get(`${src}/live-source`)?.spec?.replicas).toBe(3);
      expect(errors).toEqual([]);
    } finally {
      await sources.stop();
    }
  });

  it("GIVEN the watcher's token WHEN it asks for anything else THEN the API server denies it (403)", async () => {
    const apps = watcher.makeApiClient(AppsV1Api);
    const v1 = watcher.makeApiClient(CoreV1Api);
    const coord = watcher.makeApiClient(CoordinationV1Api);
    const denied = {
      'list secrets in its namespace': v1.listNamespacedSecret({ namespace: ns }),
      'get a secret in its namespace': v1.readNamespacedSecret({ name: 'paddock-secrets', namespace: ns }),
      'list secrets cluster-wide': v1.listSecretForAllNamespaces(),
      'list deployments cluster-wide': apps.listDeploymentForAllNamespaces(),
      'watch deployments cluster-wide': watchRequest(watcher, '/apis/apps/v1/deployments'),
      'list deployments in an unrelated namespace': apps.listNamespacedDeployment({ namespace: other }),
      'delete a deployment in its namespace': apps.deleteNamespacedDeployment({ name: 'paddock-watcher', namespace: ns }),
      'delete a deployment in a watchNamespaces namespace': apps.deleteNamespacedDeployment({ name: 'clone-source', namespace: src }),
      'create a deployment in its namespace': apps.createNamespacedDeployment({ namespace: ns, body: deployment('intruder') }),
      'scale a deployment in its namespace': apps.patchNamespacedDeploymentScale({ name: 'paddock-watcher', namespace: ns, body: [{ op: 'replace', path: '/spec/replicas', value: 9 }] }),
      'delete a lease in its namespace': coord.deleteNamespacedLease({ name: 'paddock-watcher-leader', namespace: ns }),
      'create a lease in a watchNamespaces namespace': coord.createNamespacedLease({ namespace: src, body: { metadata: { name: 'x' }, spec: {} } }),
      'list leases cluster-wide': coord.listLeaseForAllNamespaces(),
      'list pods in its namespace': v1.listNamespacedPod({ namespace: ns }),
      'list configmaps in its namespace': v1.listNamespacedConfigMap({ namespace: ns }),
      'list namespaces': v1.listNamespace(),
      'create a token for the sidecar': v1.createNamespacedServiceAccountToken({ name: 'paddock-sidecar', namespace: ns, body: { spec: { audiences: [], expirationSeconds: 600 } } }),
      'read its own Role': watcher.makeApiClient(RbacAuthorizationV1Api).readNamespacedRole({ name: 'paddock-watcher', namespace: ns }),
    };
    const codes = Object.fromEntries(await Promise.all(Object.entries(denied).map(async ([what, p]) => [what, await statusOf(p)] as const)));
    expect(codes).toEqual(Object.fromEntries(Object.keys(denied).map((what) => [what, 403])));
    // The denied delete really did nothing.
    await admin.makeApiClient(AppsV1Api).readNamespacedDeployment({ name: 'paddock-watcher', namespace: ns });
  });

  it("GIVEN the watcher's token THEN its rules are exactly the Deployment reads, the leader Lease, and ConfigMap reads where clone rules are, per namespace", async () => {
    expect(await rulesIn(watcher, ns)).toEqual([...DEPLOYMENT_READ, ...LEADER_LEASE].sort());
    expect(await rulesIn(watcher, src)).toEqual([...DEPLOYMENT_READ, ...CONFIGMAP_READ].sort());
    expect(await rulesIn(watcher, other)).toEqual([]);
  });

  it("GIVEN the watchers' tokens WHEN paddock's ArgoRefresher asks Argo CD to refresh an Application THEN the annotation is set; and patch on Applications in Argo CD's namespace is all they hold there", async () => {
    const custom = admin.makeApiClient(CustomObjectsApi);
    const apps = { group: 'argoproj.io', version: 'v1alpha1', namespace: argoNs, plural: 'applications' };
    const annotation = async () => ((await custom.getNamespacedCustomObject({ ...apps, name: probeApp })) as any).metadata.annotations?.[REFRESH_ANNOTATION];
    for (const [kc, mode] of [[watcher, 'normal'], [watcherAll, 'hard']] as const) {
      const errors: unknown[] = [];
      await new ArgoRefresher(kc, { mode, onError: (e) => errors.push(e) }).refresh(argoNs, [probeApp, 'no-such-app']);
      expect(errors).toEqual([]); // a missing Application is skipped, not an error
      expect(await annotation()).toBe(mode);
    }
    const patchOnly = ['argoproj.io/applications:patch'];
    expect(await rulesIn(watcher, argoNs)).toEqual(patchOnly);
    expect(await rulesIn(watcherAll, argoNs)).toEqual([...DEPLOYMENT_READ, ...patchOnly].sort()); // its ClusterRole reads Deployments everywhere
    expect(await rulesIn(sidecar, argoNs)).toEqual([]);
    const w = watcher.makeApiClient(CustomObjectsApi);
    const denied = {
      'get an Application': w.getNamespacedCustomObject({ ...apps, name: probeApp }),
      'list Applications': w.listNamespacedCustomObject(apps),
      'delete an Application': w.deleteNamespacedCustomObject({ ...apps, name: probeApp }),
      'create an Application': w.createNamespacedCustomObject({ ...apps, body: { apiVersion: 'argoproj.io/v1alpha1', kind: 'Application', metadata: { name: 'intruder' }, spec: {} } }),
      'patch an AppProject': w.patchNamespacedCustomObject({ ...apps, plural: 'appprojects', name: 'paddock', body: { metadata: { labels: { x: 'y' } } } }),
      'patch an Application in another namespace': w.patchNamespacedCustomObject({ ...apps, namespace: ns, name: probeApp, body: { metadata: { labels: { x: 'y' } } } }),
      "list secrets in Argo CD's namespace": watcher.makeApiClient(CoreV1Api).listNamespacedSecret({ namespace: argoNs }),
      'read its refresh Role': watcher.makeApiClient(RbacAuthorizationV1Api).readNamespacedRole({ name: 'paddock-argo-refresh', namespace: argoNs }),
    };
    const codes = Object.fromEntries(await Promise.all(Object.entries(denied).map(async ([what, p]) => [what, await statusOf(p)] as const)));
    expect(codes).toEqual(Object.fromEntries(Object.keys(denied).map((what) => [what, 403])));
  });

  it("GIVEN the sidecar's token THEN it has no Kubernetes API access at all", async () => {
    const apps = sidecar.makeApiClient(AppsV1Api);
    const coord = sidecar.makeApiClient(CoordinationV1Api);
    expect(await statusOf(apps.listNamespacedDeployment({ namespace: ns }))).toBe(403);
    expect(await statusOf(coord.listNamespacedLease({ namespace: ns }))).toBe(403);
    expect(await statusOf(sidecar.makeApiClient(CoreV1Api).listNamespacedSecret({ namespace: ns }))).toBe(403);
    expect(await rulesIn(sidecar, ns)).toEqual([]);
  });

  it('GIVEN watchAllNamespaces WHEN the watcher informs on Deployments cluster-wide THEN it may, but still only reads them and leases only its own namespace', async () => {
    const seen = await informerSeesNewDeployment(watcherAll, admin, undefined, other, 'anywhere');
    expect(seen).toEqual(expect.arrayContaining([`${other}/anywhere`, `${ns}/paddock-watcher`, `${allNs}/paddock-watcher`]));
    const coord = watcherAll.makeApiClient(CoordinationV1Api);
    await coord.createNamespacedLease({ namespace: allNs, body: { metadata: { name: 'paddock-watcher-leader' }, spec: { holderIdentity: 'a', leaseDurationSeconds: 15 } } });
    const apps = watcherAll.makeApiClient(AppsV1Api);
    const v1 = watcherAll.makeApiClient(CoreV1Api);
    const denied = {
      'create a lease in another namespace': coord.createNamespacedLease({ namespace: other, body: { metadata: { name: 'x' }, spec: {} } }),
      'list leases cluster-wide': coord.listLeaseForAllNamespaces(),
      'list secrets cluster-wide': v1.listSecretForAllNamespaces(),
      'list secrets in its namespace': v1.listNamespacedSecret({ namespace: allNs }),
      'delete a deployment elsewhere': apps.deleteNamespacedDeployment({ name: 'anywhere', namespace: other }),
      'create a deployment in its namespace': apps.createNamespacedDeployment({ namespace: allNs, body: deployment('intruder') }),
    };
    const codes = Object.fromEntries(await Promise.all(Object.entries(denied).map(async ([what, p]) => [what, await statusOf(p)] as const)));
    expect(codes).toEqual(Object.fromEntries(Object.keys(denied).map((what) => [what, 403])));
    expect(await rulesIn(watcherAll, allNs)).toEqual([...DEPLOYMENT_READ, ...LEADER_LEASE].sort());
    expect(await rulesIn(watcherAll, other)).toEqual(DEPLOYMENT_READ);
  });
});
