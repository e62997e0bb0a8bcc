/**
 * A group leaving apps/ keeps its Application, emptied, while Argo CD prunes its objects through
 * it (`state/retiring/<group>.yaml`); a later `retire` deletes it. The removal itself never
 * deletes a live Application, whose finalizer could race its own self-heal and orphan objects.
 */
import { describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { EMPTY_STATE } from '../core/records.ts';
import { retiringChanges } from '../src/repo/retiring.ts';
import { decideSettings } from '../src/repo/settings.ts';
import { synthesize, synthInputs } from '../src/synth/synthesize.ts';
import { bareRepo, commitCount, committer, gitOut, groupApp, groupsSource, loadSet, remoteFile, remoteFiles, rid, testWriter, workloadGroupsSource } from './helpers/repo.ts';

const at = new Date('2026-11-23T12:00:00.000Z');

describe('retiring a group\'s Application', () => {
  it('GIVEN a GC removal THEN the same commit empties the group\'s Application (no manifests, prune with allowEmpty, no self-heal) and records it; retire deletes it; the project keeps reaching the namespace', async () => {
    const remote = await bareRepo();
    const c = committer(remote, await loadSet({ 'g.ts': groupsSource(3) }));
    await c.submit({ body: { kind: 'sync', summary: 'sync(definitions): initial' }, requestId: rid(), requestedBy: 'test' });
    const live = YAML.parse(remoteFile(remote, 'apps/g-1.yaml'));
    await c.submit({ body: { kind: 'remove', group: 'g-1', reason: 'gc' }, requestId: rid(), requestedBy: 'pod' });

    expect(groupApp(remote, 'g-1')).toBe('emptied');
    const emptied = YAML.parse(remoteFile(remote, 'apps/g-1.yaml'));
    expect(emptied.metadata).toMatchObject({ name: 'g-1', namespace: live.metadata.namespace, labels: live.metadata.labels, finalizers: ['resources-finalizer.argocd.argoproj.io'] });
    expect(emptied.spec).toEqual({
      project: live.spec.project,
      source: { repoURL: live.spec.source.repoURL, targetRevision: live.spec.source.targetRevision, path: 'retired' },
      destination: live.spec.destination,
      syncPolicy: { automated: { prune: true, allowEmpty: true } },
    });
    expect(YAML.parse(remoteFile(remote, 'state/retiring/g-1.yaml'))).toEqual({ group: 'g-1', since: at.toISOString(), namespace: 'ns-1', destination: { server: 'https://kubernetes.default.svc' } });
    expect(remoteFiles(remote).filter((f) => f.startsWith('retired/'))).toEqual(['retired/README.md']);
    expect(remoteFile(remote, 'retired/README.md')).not.toMatch(/^(apiVersion|kind):/m);
    const changed = gitOut(remote, 'show', '--name-only', '--format=', 'main').split('\n').filter(Boolean).sort();
    expect(changed).toEqual(['README.md', 'apps/g-1.yaml', 'groups/g-1/configmap-cm-g-1.yaml', 'retired/README.md', 'state/removals/g-1.yaml', 'state/retiring/g-1.yaml']);

    // retire: the Application goes, and retired/ with the last one; the record stays, retired, and
    // the project still lists ns-1 (a finalizer deletes only what the project permits)
    const n = commitCount(remote);
    const r = await c.submit({ body: { kind: 'retire', group: 'g-1' }, requestId: rid(), requestedBy: 'leader' });
    expect(r.outcome.status).toBe('applied');
    expect(commitCount(remote)).toBe(n + 1);
    expect(gitOut(remote, 'log', '-1', '--format=%s', 'main')).toBe('retire(group/g-1): delete its emptied Application');
    expect(groupApp(remote, 'g-1')).toBe('absent');
    expect(remoteFiles(remote).filter((f) => f.startsWith('retired/') || f.startsWith('state/retiring/'))).toEqual(['state/retiring/g-1.yaml']);
    expect(YAML.parse(remoteFile(remote, 'state/retiring/g-1.yaml'))).toMatchObject({ group: 'g-1', retiredAt: at.toISOString() });
    expect(YAML.parse(remoteFile(remote, 'apps/paddock.appproject.yaml')).spec.destinations).toContainEqual({ server: 'https://kubernetes.default.svc', namespace: 'ns-1' });
    // the removal stands: a sync does not bring the group back, nor its Application
    await c.submit({ body: { kind: 'sync', summary: 'sync(definitions): again' }, requestId: rid(), requestedBy: 'test' });
    expect(commitCount(remote)).toBe(n + 1);
    expect((await c.submit({ body: { kind: 'retire', group: 'g-1' }, requestId: rid(), requestedBy: 'leader' })).outcome.status).toBe('unchanged');
    await c.close();
  });

  it('GIVEN a retiring group WHEN revived THEN its record goes in the same commit and its live Application is back', async () => {
    const remote = await bareRepo();
    const c = committer(remote, await loadSet({ 'g.ts': groupsSource(2) }));
    await c.submit({ body: { kind: 'sync', summary: 'sync(definitions): initial' }, requestId: rid(), requestedBy: 'test' });
    const live = remoteFile(remote, 'apps/g-0.yaml');
    await c.submit({ body: { kind: 'remove', group: 'g-0', reason: 'demolish' }, requestId: rid(), requestedBy: 'test' });
    await c.submit({ body: { kind: 'revive', group: 'g-0' }, requestId: rid(), requestedBy: 'test' });
    expect(groupApp(remote, 'g-0')).toBe('active');
    expect(remoteFile(remote, 'apps/g-0.yaml')).toBe(live);
    expect(remoteFiles(remote).filter((f) => f.startsWith('retired/') || f.startsWith('state/retiring/'))).toEqual([]);
    await c.close();
  });

  it('GIVEN a definition file deleted THEN its groups retire the same way (no removal record), the project keeps their namespace after the retire, and a group defined again is live again', async () => {
    const remote = await bareRepo();
    const both = await loadSet({ 'g.ts': groupsSource(2), 'h.ts': workloadGroupsSource('h', 1) });
    const onlyG = await loadSet({ 'g.ts': groupsSource(2) });
    let set = both;
    const c = committer(remote, () => set);
    await c.submit({ body: { kind: 'sync', summary: 'sync(definitions): initial' }, requestId: rid(), requestedBy: 'test' });
    set = onlyG;
    await c.submit({ body: { kind: 'sync', summary: 'sync(definitions): h.ts deleted' }, requestId: rid(), requestedBy: 'test' });
    expect(groupApp(remote, 'h-0')).toBe('emptied');
    expect(remoteFiles(remote)).not.toContain('state/removals/h-0.yaml');
    const project = () => YAML.parse(remoteFile(remote, 'apps/paddock.appproject.yaml')).spec.destinations;
    expect(project()).toContainEqual({ server: 'https://kubernetes.default.svc', namespace: 'h-0' });
    await c.submit({ body: { kind: 'retire', group: 'h-0' }, requestId: rid(), requestedBy: 'leader' });
    expect(groupApp(remote, 'h-0')).toBe('absent');
    expect(project()).toContainEqual({ server: 'https://kubernetes.default.svc', namespace: 'h-0' });
    set = both;
    await c.submit({ body: { kind: 'sync', summary: 'sync(definitions): h.ts back' }, requestId: rid(), requestedBy: 'test' });
    expect(groupApp(remote, 'h-0')).toBe('active');
    expect(remoteFiles(remote)).not.toContain('state/retiring/h-0.yaml');
    await c.close();
  });

  it('GIVEN most of a pool\'s environments gone dirty (emptied Applications) WHEN a writer commits THEN the mass-removal guard does not count them as groups to lose', async () => {
    const remote = await bareRepo();
    const pool = `
import { ApiObject } from 'cdk8s';
import { Environment, LeasePool } from 'paddock';
export default (scope) => {
  new LeasePool(scope, 'pool', { type: 'res', count: 6, environment: (p, r) => {
    const env = new Environment(p, r.name, { namespace: r.name });
    new ApiObject(env, 'cm', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x' }, data: { a: 'b' } });
    return env;
  } });
};`;
    const c = committer(remote, await loadSet({ 'pool.ts': pool }));
    await c.submit({ body: { kind: 'sync', summary: 'sync(definitions): initial' }, requestId: rid(), requestedBy: 'test' });
    const dirty = [1, 2, 3, 4, 5].map((i) => ({ type: 'res', name: `res-${i}`, state: 'dirty', owner: '', generation: 0, userdata: null }));
    await c.submit({ body: { kind: 'leases', records: dirty, summary: 'lease(res): 5 dirty' }, requestId: rid(), requestedBy: 'test' });
    expect([1, 2, 3, 4, 5, 6].map((i) => groupApp(remote, `res-${i}`))).toEqual(['emptied', 'emptied', 'emptied', 'emptied', 'emptied', 'active']);
    await c.close();
    // a new writer (a CLI command) checks its definitions against the repo: refused before, as if they removed 5 of 6 groups
    const cli = committer(remote, await loadSet({ 'pool.ts': pool }));
    const r = await cli.submit({ body: { kind: 'remove', group: 'res-6', reason: 'demolish' }, requestId: rid(), requestedBy: 'test' });
    expect(r.outcome.status).toBe('applied');
    expect(groupApp(remote, 'res-6')).toBe('emptied');
    await cli.close();
  });

  it('GIVEN the synthesis that rendered the tree WHEN groups leave THEN their records are what the files say: taken from the synthesis while the files are its own, read from the YAML where they are not', async () => {
    const source = `
import { ApiObject } from 'cdk8s';
import { Environment } from 'paddock';
export default (scope) => {
  const a = new Environment(scope, 'a', { namespace: 'ns-a', destination: { name: 'edge' }, allowedClusterKinds: ['ClusterRole'] });
  new ApiObject(a, 'cr', { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: 'reader' }, rules: [] });
  new ApiObject(a, 'cm', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x' } });
  for (const g of ['b', 'c']) new ApiObject(new Environment(scope, g, { namespace: 'ns-' + g }), 'cm', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x' } });
};`;
    const defs = await loadSet({ 'g.ts': source });
    const known = await synthesize(defs.definitions, synthInputs(decideSettings(undefined, testWriter('https://git.test/m.git')).record, EMPTY_STATE, undefined));
    const before = new Map(known.files);
    const read = retiringChanges(before, new Map(), new Set(), new Set(), at);
    expect(read.start.map((r) => r.group)).toEqual(['a', 'b', 'c']);
    expect(read.start[0]).toEqual({ group: 'a', since: at.toISOString(), namespace: 'ns-a', destination: { name: 'edge' }, clusterKinds: [{ group: 'rbac.authorization.k8s.io', kind: 'ClusterRole' }] });
    expect(retiringChanges(before, new Map(), new Set(), new Set(), at, known)).toEqual(read);

    // The synthesis's facts are used while the files are its own (here made to differ, to see which is read)...
    const marked = { ...known, groups: known.groups.map((g) => (g.leaving ? { ...g, leaving: { ...g.leaving, namespace: `seen-${g.name}` } } : g)) };
    expect(retiringChanges(before, new Map(), new Set(), new Set(), at, marked).start.map((r) => r.namespace)).toEqual(['seen-a', 'seen-b', 'seen-c']);
    // ...not for a group whose Application, object file or directory in the tree is not what it rendered.
    const edited = new Map(before);
    edited.set('apps/a.yaml', before.get('apps/a.yaml')!.replace('name: edge', 'name: other'));
    edited.set('groups/b/configmap-x.yaml', before.get('groups/b/configmap-x.yaml')!.replace(/\n  namespace: ns-b/, ''));
    edited.set('groups/c/clusterrole-extra.yaml', YAML.stringify({ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: 'extra' } }));
    const change = retiringChanges(edited, new Map(), new Set(), new Set(), at, marked);
    expect(change).toEqual(retiringChanges(edited, new Map(), new Set(), new Set(), at));
    expect(change.start.map((r) => [r.namespace, r.destination, r.clusterKinds?.map((k) => k.kind)])).toEqual([
      ['ns-a', { name: 'other' }, ['ClusterRole']],
      ['ns-b', { server: 'https://kubernetes.default.svc' }, ['ConfigMap']],
      ['ns-c', { server: 'https://kubernetes.default.svc' }, ['ClusterRole']],
    ]);
  });

  it('GIVEN a leaving group with cluster-scoped objects THEN its record keeps their kinds (the project must still allow them); an emptied Application or a kept group does not start retiring', () => {
    const app = (group: string, path: string) => YAML.stringify({ kind: 'Application', spec: { source: { path }, destination: { name: 'edge', namespace: group } } });
    const before = new Map([
      ['apps/a.yaml', app('a', 'groups/a')],
      ['groups/a/clusterrole-reader.yaml', YAML.stringify({ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: 'reader' } })],
      ['groups/a/configmap-x.yaml', YAML.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x', namespace: 'a' } })],
      ['apps/b.yaml', app('b', 'retired')],
      ['apps/c.yaml', app('c', 'groups/c')],
      ['apps/paddock-root.yaml', app('paddock-root', 'apps')],
    ]);
    const change = retiringChanges(before, new Map(), new Set(), new Set(['c']), at);
    expect(change.start).toEqual([{ group: 'a', since: at.toISOString(), namespace: 'a', destination: { name: 'edge' }, clusterKinds: [{ group: 'rbac.authorization.k8s.io', kind: 'ClusterRole' }] }]);
    expect(change.stop).toEqual([]);
  });
});
