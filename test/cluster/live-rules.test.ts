/**
 * Live clone rules, for real: a definition follows a ConfigMap of the deployment cloner's rules
 * (seed 004) with `Clone.fromLiveConfigMap`; the watcher's ConfigMap informer (ConfigMapRules)
 * against the tier's kube-apiserver records it in `state/rules/`, so creating, editing and
 * deleting the ConfigMap in the cluster adds, changes and removes the clones by commits.
 * In-process, as `paddock watch` runs it; the sources are Deployments of the same synthesis.
 */
import { CoreV1Api, type KubeConfig, type V1ConfigMap } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import type { Committer } from '../../src/repo/committer.ts';
import { ConfigMapRules } from '../../src/watch/cluster.ts';
import { Definitions } from '../../src/watch/definitions.ts';
import { Watcher } from '../../src/watch/watcher.ts';
import { bareRepo, commitCount, committer, gitOut, remoteFile, remoteFiles } from '../helpers/repo.ts';
import { followingSeedRules, SEED_004_RULES } from '../helpers/seeds.ts';
import { definitionsDir } from '../helpers/synth.ts';
import { adminKubeConfig, deleteNamespaces, ensureNamespaces, theCluster, unique } from './helpers.ts';

const cluster = theCluster();


describe.skipIf(!cluster)('clone rules from a ConfigMap in a real API server', () => {
  const ns = unique('profiler-m');
  const record = `state/rules/${ns}/ddprof-rcconfig.yaml`;
  const first = 'groups/profiling/deployment-nginx-deployment-profiler.yaml';
  const second = 'groups/profiling/deployment-nginx-deployment-2-profiler.yaml';
  const created: string[] = [];
  const said: string[] = [];
  const informerErrors: string[] = [];
  let admin: KubeConfig;
  let core: CoreV1Api;
  let remote: string;
  let c: Committer | undefined;
  let w: Watcher | undefined;
  let feed: ConfigMapRules | undefined;

  const configMap = (rules: string): V1ConfigMap => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'ddprof-rcconfig', namespace: ns }, data: { 'profiler-rc-config': rules } });
  const replicas = (p: string) => (remoteFiles(remote).includes(p) ? YAML.parse(remoteFile(remote, p)).spec.replicas : undefined);
  const state = () => `repo has ${commitCount(remote)} commits, last "${gitOut(remote, 'log', '-1', '--format=%s', 'main')}"; watcher said ${JSON.stringify(said)}; informer errors ${JSON.stringify(informerErrors)}`;

  beforeAll(async () => {
    admin = adminKubeConfig();
    core = admin.makeApiClient(CoreV1Api);
    created.push(...(await ensureNamespaces(admin, [ns])));
    remote = await bareRepo();
    const dir = definitionsDir({ 'profiling.ts': followingSeedRules(ns) });
    feed = new ConfigMapRules(admin, (key) => w?.sourceChanged(key), (e) => informerErrors.push(String((e as Error)?.message ?? e)));
    const defs = new Definitions(dir, () => c!.synthInputs());
    c = committer(remote, defs.current);
    w = new Watcher({ definitions: defs, committer: c, debounceMs: 20, say: (l) => said.push(l), rules: feed });
  });

  afterAll(async () => {
    await w?.stop();
    await feed?.stop();
    await c?.close();
    if (cluster && admin) await deleteNamespaces(admin, cluster, created);
  });

  it('GIVEN a definition following a ConfigMap WHEN it is created, edited and deleted in the cluster THEN the record and the clones follow, commit by commit', async () => {
    await w!.start();
    expect(c!.view().synth?.liveRules).toEqual([`${ns}/ddprof-rcconfig`]);
    await expect.poll(() => feed!.synced(ns), { timeout: 30_000 }).toBe(true);
    expect(remoteFiles(remote).filter((p) => p.startsWith('groups/profiling/'))).toEqual([]);

    await core.createNamespacedConfigMap({ namespace: ns, body: configMap(SEED_004_RULES) });
    await expect.poll(() => replicas(first), { timeout: 30_000, message: state() }).toBe(2);
    expect(replicas(second)).toBe(1);
    expect(YAML.parse(remoteFile(remote, record)).data['profiler-rc-config']).toBe(SEED_004_RULES);
    expect(gitOut(remote, 'log', '-1', '--format=%s', 'main')).toBe(`rules(configmap/${ns}/ddprof-rcconfig): changed in the cluster`);

    await core.replaceNamespacedConfigMap({ name: 'ddprof-rcconfig', namespace: ns, body: configMap(SEED_004_RULES.replace('scale_factor: "0.5"', 'scale_factor: "1"')) });
    await expect.poll(() => replicas(first), { timeout: 30_000, message: state() }).toBe(4);

    await core.deleteNamespacedConfigMap({ name: 'ddprof-rcconfig', namespace: ns });
    await expect.poll(() => remoteFiles(remote).includes(record), { timeout: 30_000, message: state() }).toBe(false);
    expect(remoteFiles(remote).filter((p) => p.startsWith('groups/profiling/'))).toEqual([]);
    expect(informerErrors).toEqual([]);
  }, 120_000);
});
