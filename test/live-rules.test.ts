/**
 * Live clone rules (issue: "Live rules, as the cloner's ConfigMap listener did"): a definition
 * follows a ConfigMap of rules in the cluster (`Clone.fromLiveConfigMap`), the watcher records its
 * data in `state/rules/`, and editing the ConfigMap adds, changes or removes clones by a commit.
 * The informer is replaced by a feed the test drives; the cluster tier runs the real one.
 */
import { afterEach, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import type { Committer } from '../src/repo/committer.ts';
import { Definitions } from '../src/watch/definitions.ts';
import { Watcher, type SourceFeed } from '../src/watch/watcher.ts';
import { bareRepo, commitCount, committer, gitOut, remoteFile, remoteFiles } from './helpers/repo.ts';
import { followingSeedRules, SEED_004_RULES } from './helpers/seeds.ts';
import { definitionsDir } from './helpers/synth.ts';


const DEFS = { 'profiling.ts': followingSeedRules('profiler-m') };

/** ConfigMaps as an informer would hold them, set and deleted by the test. */
class ConfigMapFeed implements SourceFeed {
  readonly objects = new Map<string, Record<string, any>>();
  readonly followed = new Set<string>();
  constructor(private readonly onChange: (key: string) => void) {}
  put(data: Record<string, string> | undefined): void {
    const key = 'profiler-m/ddprof-rcconfig';
    if (data) this.objects.set(key, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'ddprof-rcconfig', namespace: 'profiler-m', resourceVersion: String(Math.random()) }, data });
    else this.objects.delete(key);
    this.onChange(key);
  }
  live() {
    return this.objects;
  }
  synced(ns: string) {
    return this.followed.has(ns);
  }
  async follow(keys: readonly string[]) {
    for (const k of keys) this.followed.add(k.split('/')[0]);
  }
}

describe('clone rules from a ConfigMap in the cluster', () => {
  const closers: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const c of closers.splice(0)) await c();
  });

  it('GIVEN a definition following the seed\'s ConfigMap WHEN it appears, is edited, is edited into bad rules and is deleted THEN the clones follow commit by commit, and bad rules change nothing', async () => {
    const remote = await bareRepo();
    let watcher: Watcher | undefined;
    const said: string[] = [];
    const feed = new ConfigMapFeed((key) => watcher?.sourceChanged(key));
    let wc: Committer | undefined;
    const defs = new Definitions(definitionsDir(DEFS), () => wc!.synthInputs());
    wc = committer(remote, defs.current);
    watcher = new Watcher({ definitions: defs, committer: wc, debounceMs: 5, say: (l) => said.push(l), rules: feed });
    closers.push(async () => {
      await watcher!.stop();
      await wc!.close();
    });
    const record = 'state/rules/profiler-m/ddprof-rcconfig.yaml';
    const first = 'groups/profiling/deployment-nginx-deployment-profiler.yaml';
    const second = 'groups/profiling/deployment-nginx-deployment-2-profiler.yaml';
    const replicas = (p: string) => YAML.parse(remoteFile(remote, p)).spec.replicas;

    await watcher.start();
    expect(remoteFiles(remote).filter((p) => p.startsWith('groups/profiling/') || p.startsWith('state/rules/'))).toEqual([]);
    expect(watcher.readiness().reasons).toEqual([]);

    // The ConfigMap appears: one commit records it and renders both clones.
    feed.put({ 'profiler-rc-config': SEED_004_RULES, unrelated: 'x' });
    await expect.poll(() => remoteFiles(remote).includes(first), { timeout: 10_000 }).toBe(true);
    expect(gitOut(remote, 'log', '-1', '--format=%s', 'main')).toBe('rules(configmap/profiler-m/ddprof-rcconfig): changed in the cluster');
    expect(YAML.parse(remoteFile(remote, record))).toEqual({ namespace: 'profiler-m', name: 'ddprof-rcconfig', data: { 'profiler-rc-config': SEED_004_RULES, unrelated: 'x' } });
    expect([replicas(first), replicas(second)]).toEqual([2, 1]);

    // Edited: the clone follows.
    feed.put({ 'profiler-rc-config': SEED_004_RULES.replace('scale_factor: "0.5"', 'scale_factor: "1"') });
    await expect.poll(() => replicas(first), { timeout: 10_000 }).toBe(4);

    // Edited into rules that do not parse: refused, named, nothing changes.
    const before = commitCount(remote);
    feed.put({ 'profiler-rc-config': 'default:\n  deployments:\n    nginx-deployment:\n      scale_factor: lots\n      name_suffix: p\n' });
    await expect.poll(() => said.some((l) => /scale_factor must be a number/.test(l)), { timeout: 10_000 }).toBe(true);
    expect(commitCount(remote)).toBe(before);
    expect(replicas(first)).toBe(4);

    // Deleted: the record and the clones go in one commit.
    feed.put(undefined);
    await expect.poll(() => remoteFiles(remote).includes(record), { timeout: 10_000 }).toBe(false);
    expect(remoteFiles(remote).filter((p) => p.startsWith('groups/profiling/'))).toEqual([]);
    expect(gitOut(remote, 'log', '-1', '--format=%s', 'main')).toBe('rules(configmap/profiler-m/ddprof-rcconfig): gone from the cluster');
  });
});
