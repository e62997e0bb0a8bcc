/**
 * Live clone source, for real: a Clone names a Deployment in the cluster; the watcher's informer
 * (DeploymentSources) feeds it to the synthesis, so creating the source writes the clone to the
 * repo, changing the source's image, env and replicas changes the clone, deleting it removes the
 * clone's group in a commit, and recreating it brings the clone back.
 *
 * In-process, as `paddock watch` runs it: a committer on a real bare repo, Definitions on a temp
 * definitions dir, a Watcher, and DeploymentSources with the admin client against the tier's
 * kube-apiserver. No controller-manager runs, so the Deployments just sit there: only the objects
 * matter.
 */
import path from 'node:path';
import { AppsV1Api, type KubeConfig, type V1Deployment } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import type { Committer } from '../../src/repo/committer.ts';
import { DeploymentSources } from '../../src/watch/cluster.ts';
import { Definitions } from '../../src/watch/definitions.ts';
import { LockFileElector } from '../../src/watch/lock.ts';
import { Watcher } from '../../src/watch/watcher.ts';
import { bareRepo, commitCount, committer, gitOut, groupApp, remoteFile, remoteFiles } from '../helpers/repo.ts';
import { definitionsDir, tempDir } from '../helpers/synth.ts';
import { adminKubeConfig, deleteNamespaces, ensureNamespaces, theCluster, unique } from './helpers.ts';

const cluster = theCluster();

const WAIT_MS = 30_000;
const POLL_MS = 100;

/** Polls `probe` until it returns something other than undefined; fails after WAIT_MS with `what` and the last state. */
async function until<T>(what: string, probe: () => T | undefined, state: () => string): Promise<T> {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const v = probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`waited ${WAIT_MS / 1000}s for ${what}; ${state()}`);
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

function source(ns: string, replicas: number, image: string, env: Record<string, string>): V1Deployment {
  const labels = { app: 'web' };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web', namespace: ns, labels },
    spec: {
      replicas,
      selector: { matchLabels: labels },
      template: { metadata: { labels }, spec: { containers: [{ name: 'web', image, env: Object.entries(env).map(([name, value]) => ({ name, value })) }] } },
    },
  };
}

describe.skipIf(!cluster)('a live clone source in a real API server', () => {
  const ns = unique('live-src');
  const group = unique('live-clone');
  const cloneFile = `groups/${group}/deployment-web-profiler.yaml`;
  const appFile = `apps/${group}.yaml`;
  const sourceRecord = `state/sources/${ns}/web.yaml`;
  const created: string[] = [];
  const said: string[] = [];
  const informerErrors: string[] = [];
  let admin: KubeConfig;
  let apps: AppsV1Api;
  let remote: string;
  let c: Committer | undefined;
  let w: Watcher | undefined;
  let ds: DeploymentSources | undefined;

  const groupFiles = () => remoteFiles(remote).filter((f) => f.startsWith(`groups/${group}/`));
  const clone = (): any => (remoteFiles(remote).includes(cloneFile) ? YAML.parse(remoteFile(remote, cloneFile)) : undefined);
  const state = () =>
    `repo has ${commitCount(remote)} commits, last "${gitOut(remote, 'log', '-1', '--format=%s', 'main')}"; group files: [${groupFiles().join(', ')}]; ` +
    `live sources: [${[...(ds?.live().keys() ?? [])].join(', ')}]; watcher said: ${JSON.stringify(said)}; informer errors: ${JSON.stringify(informerErrors)}`;
  const container = (d: any) => d.spec.template.spec.containers[0];
  const envNames = (d: any): string[] => (container(d).env ?? []).map((e: any) => e.name);

  beforeAll(async () => {
    admin = adminKubeConfig();
    apps = admin.makeApiClient(AppsV1Api);
    created.push(...(await ensureNamespaces(admin, [ns])));
    remote = await bareRepo();
    const dir = definitionsDir({
      'live-clone.ts': `
import { Clone, Environment } from 'paddock';
export default (scope) => {
  const env = new Environment(scope, ${JSON.stringify(group)}, { namespace: ${JSON.stringify(ns)} });
  new Clone(env, 'web-profiler', { source: { namespace: ${JSON.stringify(ns)}, name: 'web' }, nameSuffix: '-profiler', scaleFactor: 0.5 });
};`,
    });
    ds = new DeploymentSources(admin, (src) => w?.sourceChanged(src), (e) => informerErrors.push(String((e as Error)?.message ?? e)));
    const defs = new Definitions(dir, () => c!.synthInputs());
    c = committer(remote, defs.current, { onCommit: () => {} });
    w = new Watcher({ definitions: defs, committer: c, elector: new LockFileElector(path.join(tempDir(), 'watch.lock')), debounceMs: 20, say: (l) => said.push(l), sources: ds });
  });

  afterAll(async () => {
    await w?.stop();
    await ds?.stop();
    await c?.close();
    if (cluster && admin) await deleteNamespaces(admin, cluster, created);
  });

  it(
    'GIVEN a Clone of a Deployment WHEN the source is created, changed, deleted and recreated THEN the clone in the repo follows, commit by commit',
    async () => {
      await w!.start();
      expect(c!.view().synth?.sources).toEqual([`${ns}/web`]);
      await ds!.follow(c!.view().synth!.sources);
      // no source yet: the clone waits, nothing of its group is in the repo
      expect(groupFiles()).toEqual([]);
      expect(remoteFiles(remote)).not.toContain(appFile);

      // created: the informer hears of it and the clone is committed
      await apps.createNamespacedDeployment({ namespace: ns, body: source(ns, 4, 'nginx:1.25', { A: '1' }) });
      let d = await until('the clone to appear', clone, state);
      expect(d.metadata.name).toBe('web-profiler');
      expect(d.spec.replicas).toBe(2);
      expect(container(d).image).toBe('nginx:1.25');
      expect(envNames(d)).toContain('A');
      expect(container(d).env.find((e: any) => e.name === 'A').value).toBe('1');
      expect(remoteFiles(remote)).toContain(appFile);
      expect(gitOut(remote, 'log', '-1', '--format=%s', 'main')).toContain(`${ns}/web`);
      // what the clone was made from is in the repo, so every writer renders the same clone
      const record = YAML.parse(remoteFile(remote, sourceRecord));
      expect(record).toMatchObject({ namespace: ns, name: 'web', deployment: { spec: { replicas: 4 } } });
      expect(record.deployment.status).toBeUndefined();
      expect(record.deployment.metadata.resourceVersion).toBeUndefined();

      // changed: image, env (A out, B in) and replicas
      const cur = await apps.readNamespacedDeployment({ name: 'web', namespace: ns });
      const next = source(ns, 7, 'nginx:1.27', { B: '2' });
      next.metadata!.resourceVersion = cur.metadata!.resourceVersion;
      await apps.replaceNamespacedDeployment({ name: 'web', namespace: ns, body: next });
      d = await until('the clone to follow the new image and replicas', () => {
        const x = clone();
        return x && container(x).image === 'nginx:1.27' && x.spec.replicas === 4 ? x : undefined;
      }, state);
      expect(envNames(d)).toContain('B');
      expect(envNames(d)).not.toContain('A');
      expect(container(d).env.find((e: any) => e.name === 'B').value).toBe('2');

      // status only: heard by the informer, not a reason to commit
      const n = commitCount(remote);
      const now = await apps.readNamespacedDeployment({ name: 'web', namespace: ns });
      now.status = { observedGeneration: now.metadata!.generation, replicas: 7, updatedReplicas: 7, readyReplicas: 3, availableReplicas: 3 };
      await apps.replaceNamespacedDeploymentStatus({ name: 'web', namespace: ns, body: now });
      await until('the informer to see the status update', () => (ds!.live().get(`${ns}/web`)?.status?.readyReplicas === 3 ? true : undefined), state);
      // What the informer's event leads to, run now: it finds nothing to record.
      await w!.recordSources();
      expect(commitCount(remote), state()).toBe(n);

      // deleted: a commit removes the group's objects and empties its Application
      await apps.deleteNamespacedDeployment({ name: 'web', namespace: ns });
      await until('the clone group to be removed', () => (groupApp(remote, group) === 'emptied' ? true : undefined), state);
      const removedIn = gitOut(remote, 'show', '--name-status', '--format=', 'main').split('\n').filter(Boolean);
      expect(removedIn).toEqual(expect.arrayContaining([`M\t${appFile}`, `D\t${cloneFile}`, `D\t${sourceRecord}`, `A\tstate/retiring/${group}.yaml`]));
      expect(commitCount(remote)).toBe(n + 1);

      // recreated: the clone is back
      await apps.createNamespacedDeployment({ namespace: ns, body: source(ns, 2, 'nginx:1.27', { C: '3' }) });
      d = await until('the clone to come back', clone, state);
      expect(d.spec.replicas).toBe(1);
      expect(container(d).image).toBe('nginx:1.27');
      expect(envNames(d)).toContain('C');
      expect(remoteFiles(remote)).toContain(appFile);
      expect(informerErrors).toEqual([]);
    },
    120_000,
  );
});
