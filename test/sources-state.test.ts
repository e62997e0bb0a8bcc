/**
 * Live clone sources are state (CONTRACT "Records in state/"): the watcher records what a clone
 * needs of each live source in `state/sources/<namespace>/<name>.yaml`, and every writer renders
 * clones from that record, so a writer without a cluster (the sidecar) never deletes a clone.
 * The informer is replaced by recorded events; the cluster tier runs the real one.
 */
import { afterEach, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import type { Committer } from '../src/repo/committer.ts';
import { Definitions } from '../src/watch/definitions.ts';
import { LiveSources, type DeploymentEvent } from '../src/watch/live-sources.ts';
import { Watcher, type SourceFeed } from '../src/watch/watcher.ts';
import { bareRepo, commitCount, committer, gitOut, groupApp, remoteFile, remoteFiles, rid } from './helpers/repo.ts';
import { definitionsDir } from './helpers/synth.ts';

const deployment = (replicas: number, image: string, extra: Record<string, unknown> = {}) => ({
  apiVersion: 'apps/v1', kind: 'Deployment',
  metadata: { name: 'web', namespace: 'prod', uid: 'u-1', resourceVersion: String(Math.random()), generation: 3, labels: { app: 'web' }, annotations: { 'deployment.kubernetes.io/revision': '4', team: 'shop' }, managedFields: [{ manager: 'kubectl' }] },
  spec: { replicas, selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'web', image }] } } },
  status: { readyReplicas: replicas },
  ...extra,
});

const DEFS = {
  'clones.ts': `
import { ApiObject } from 'cdk8s';
import { Clone, Environment } from 'paddock';
export default (scope) => {
  const env = new Environment(scope, 'prod-profiling', { namespace: 'prod' });
  new Clone(env, 'web-profiler', { source: { namespace: 'prod', name: 'web' }, nameSuffix: '-profiler', scaleFactor: 0.5 });
  const other = new Environment(scope, 'other', { namespace: 'other' });
  new ApiObject(other, 'cm', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cm' }, data: { a: '1' } });
};`,
};

/** A SourceFeed over recorded informer events. */
class RecordedFeed implements SourceFeed {
  readonly sources = new LiveSources();
  readonly followed = new Set<string>();
  constructor(private readonly onChange: (src: string) => void) {}
  emit(e: DeploymentEvent): void {
    if (this.sources.apply(e)) this.onChange(`${e.object.metadata.namespace}/${e.object.metadata.name}`);
  }
  live() {
    return this.sources.get();
  }
  synced(ns: string) {
    return this.followed.has(ns);
  }
  async follow(sources: readonly string[]) {
    for (const s of sources) this.followed.add(s.split('/')[0]);
  }
}

describe('live clone sources as state', () => {
  const closers: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const c of closers.splice(0)) await c();
  });

  /** A watcher (its own committer and definitions) on a new remote, fed by recorded informer events. */
  async function watching() {
    const remote = await bareRepo();
    let watcher: Watcher | undefined;
    const feed = new RecordedFeed((src) => watcher?.sourceChanged(src));
    let wc: Committer | undefined;
    const defs = new Definitions(definitionsDir(DEFS), () => wc!.synthInputs());
    wc = committer(remote, defs.current);
    watcher = new Watcher({ definitions: defs, committer: wc, debounceMs: 5, say: () => {}, sources: feed });
    closers.push(async () => {
      await watcher!.stop();
      await wc!.close();
    });
    return { remote, feed, watcher, defs };
  }

  it('GIVEN a watcher with live sources and a sidecar without WHEN the source appears, changes, changes status only and goes THEN the record and the clone follow commit by commit, and the sidecar\'s commits never touch the clone', async () => {
    const { remote, feed, watcher } = await watching();
    const sidecarDefs = new Definitions(definitionsDir(DEFS), () => sc.synthInputs());
    const sc: Committer = committer(remote, sidecarDefs.current);
    await sidecarDefs.loadAll();
    closers.push(() => sc.close());

    await watcher.start();
    const record = 'state/sources/prod/web.yaml';
    const clone = 'groups/prod-profiling/deployment-web-profiler.yaml';
    expect(remoteFiles(remote)).not.toContain(record);
    expect(remoteFiles(remote)).not.toContain(clone);

    // the source appears: one commit records it and renders the clone
    feed.emit({ type: 'ADDED', object: deployment(4, 'web:1') });
    await expect.poll(() => remoteFiles(remote).includes(clone), { timeout: 10_000 }).toBe(true);
    expect(gitOut(remote, 'log', '-1', '--format=%s', 'main')).toBe('source(deployment/prod/web): changed in the cluster');
    const rec = YAML.parse(remoteFile(remote, record));
    expect(rec).toEqual({
      namespace: 'prod', name: 'web',
      deployment: {
        apiVersion: 'apps/v1', kind: 'Deployment',
        metadata: { annotations: { team: 'shop' }, labels: { app: 'web' }, name: 'web', namespace: 'prod' },
        spec: { replicas: 4, selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ image: 'web:1', name: 'web' }] } } },
      },
    });
    const cloneText = remoteFile(remote, clone);
    expect(YAML.parse(cloneText).spec.replicas).toBe(2);

    // the sidecar, with no cluster, commits a removal of another group: the clone is untouched
    const gc = await sc.submit({ body: { kind: 'remove', group: 'other', reason: 'gc' }, requestId: rid('gc'), requestedBy: 'test' });
    expect(gc.commit).toBeDefined();
    expect(gitOut(remote, 'show', '--name-only', '--format=', 'main').split('\n')).not.toContain(clone);
    expect(remoteFile(remote, clone)).toBe(cloneText);

    // status and bookkeeping only: no commit
    let n = commitCount(remote);
    feed.emit({ type: 'MODIFIED', object: deployment(4, 'web:1', { status: { readyReplicas: 1 } }) });
    await watcher.recordSources();
    expect(commitCount(remote)).toBe(n);

    // a change a clone sees: one commit with the record and the clone
    feed.emit({ type: 'MODIFIED', object: deployment(8, 'web:2') });
    await expect.poll(() => YAML.parse(remoteFile(remote, clone)).spec.replicas, { timeout: 10_000 }).toBe(4);
    expect(gitOut(remote, 'show', '--name-only', '--format=', 'main').split('\n').filter(Boolean).sort()).toEqual([clone, record]);
    expect(commitCount(remote)).toBe(n + 1);

    // the sidecar syncs its definitions: same clone, no commit
    n = commitCount(remote);
    const sync = await sc.submit({ body: { kind: 'sync', summary: 'sync(definitions): sidecar' }, requestId: rid('sync'), requestedBy: 'test' });
    expect(sync.commit).toBeUndefined();
    expect(commitCount(remote)).toBe(n);

    // the source goes: one commit of its own removes the record and the clone
    feed.emit({ type: 'DELETED', object: deployment(8, 'web:2') });
    await expect.poll(() => remoteFiles(remote).includes(clone), { timeout: 10_000 }).toBe(false);
    expect(gitOut(remote, 'log', '-1', '--format=%s', 'main')).toBe('source(deployment/prod/web): gone from the cluster');
    const last = gitOut(remote, 'show', '--name-status', '--format=', 'main').split('\n').filter(Boolean);
    expect(last.filter((l) => !/^(M\t(README.md|apps\/paddock.appproject.yaml)|A\tretired\/README.md)$/.test(l)).sort()).toEqual([`A\tstate/retiring/prod-profiling.yaml`, `D\t${clone}`, `D\t${record}`, `M\tapps/prod-profiling.yaml`]);
    expect(groupApp(remote, 'prod-profiling')).toBe('emptied');
    expect(commitCount(remote)).toBe(n + 1);
  });

  it('GIVEN a namespace not listed yet WHEN its source is missing THEN its record stays (a missing source is gone only once its namespace is listed)', async () => {
    const { remote, feed, watcher, defs } = await watching();
    await watcher.start();
    feed.emit({ type: 'ADDED', object: deployment(2, 'web:1') });
    await expect.poll(() => remoteFiles(remote).includes('state/sources/prod/web.yaml'), { timeout: 10_000 }).toBe(true);
    // a new watcher whose informer has not listed prod yet
    const fresh = new RecordedFeed(() => {});
    fresh.follow = async () => {};
    const c2 = committer(remote, defs.current);
    closers.push(() => c2.close());
    await c2.refresh();
    const w2 = new Watcher({ definitions: defs, committer: c2, say: () => {}, sources: fresh });
    const n = commitCount(remote);
    await w2.recordSources();
    expect(commitCount(remote)).toBe(n);
    expect(remoteFiles(remote)).toContain('groups/prod-profiling/deployment-web-profiler.yaml');
  });
});
