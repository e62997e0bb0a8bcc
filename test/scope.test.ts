/**
 * Where a group's objects may be (CONTRACT "Safety": least privilege in Argo CD): a group
 * holds objects in its own namespace and no cluster-scoped object unless its definition says
 * so, and paddock's own AppProjects let Argo CD apply nothing else.
 */
import { describe, expect, it } from 'vitest';
import { DefinitionError } from '../src/errors.ts';
import { applicationsChangedBy } from '../src/synth/layout.ts';
import { prepareValidators, validateObject } from '../src/synth/validate.ts';
import { definitionsDir, objectAt, stateWith, synthDir } from './helpers/synth.ts';

const HEAD = `
import { ApiObject } from 'cdk8s';
import { Environment, Release } from 'paddock';
`;
const CLUSTER_ROLE = `new ApiObject(env, 'cr', { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: 'reader' }, rules: [] });`;
const CM = (ns?: string) => `new ApiObject(env, 'cm${ns ?? ''}', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c'${ns ? `, namespace: '${ns}'` : ''} }, data: {} });`;
const def = (props: string, body: string, group = 'g') => `${HEAD}
export default (scope) => {
  const env = new Environment(scope, '${group}', ${props});
  ${body}
};`;

async function synthFails(files: Record<string, string>, state?: Parameters<typeof synthDir>[1]): Promise<DefinitionError> {
  try {
    const r = await synthDir(definitionsDir(files), state);
    throw new Error(`synthesis should have failed, but wrote ${[...r.files.keys()].join(', ')}`);
  } catch (e) {
    expect(e).toBeInstanceOf(DefinitionError);
    return e as DefinitionError;
  }
}

describe('a group holds what its definition allows, and nothing else', () => {
  it('GIVEN a ClusterRole in a group that does not allow it WHEN synthesized THEN an InvalidObject error names it and allowedClusterKinds', async () => {
    const err = await synthFails({ 'g.ts': def("{ namespace: 'ns1' }", `${CM()}\n${CLUSTER_ROLE}`) });
    expect(err.code).toBe('InvalidObject');
    expect(err.message).toContain('g/cr: ClusterRole reader: ClusterRole is cluster-scoped; a group holds one only when its Environment lists the kind in allowedClusterKinds');
  });

  it('GIVEN a Namespace object in a group WHEN synthesized THEN it is refused like any cluster-scoped kind', async () => {
    const err = await synthFails({ 'g.ts': def("{ namespace: 'ns1' }", `new ApiObject(env, 'ns', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'other' } });`) });
    expect(err.message).toContain('Namespace is cluster-scoped');
  });

  it('GIVEN an object in another namespace WHEN synthesized THEN the error names the namespace and allowedNamespaces', async () => {
    const err = await synthFails({ 'g.ts': def("{ namespace: 'ns1' }", CM('kube-system')) });
    expect(err.message).toContain('ConfigMap c: namespace "kube-system" is not the group\'s (ns1); list it in the Environment\'s allowedNamespaces');
  });

  it('GIVEN allowedClusterKinds and allowedNamespaces WHEN synthesized THEN the objects are written and the project allows exactly them', async () => {
    const result = await synthDir(definitionsDir({
      'g.ts': def("{ namespace: 'ns1', allowedClusterKinds: ['ClusterRole'], allowedNamespaces: ['ns2'] }", `${CLUSTER_ROLE}\n${CM('ns2')}`),
      'h.ts': def("{ namespace: 'ns3', destination: { name: 'edge' } }", CM(), 'h'),
    }));
    expect(objectAt(result, 'groups/g/clusterrole-reader.yaml').metadata.namespace).toBeUndefined();
    expect(objectAt(result, 'groups/g/configmap-c.yaml').metadata.namespace).toBe('ns2');
    const project = objectAt(result, 'apps/paddock.appproject.yaml');
    expect(project.spec.sourceRepos).toEqual(['https://git.test/manifests.git']);
    expect(project.spec.destinations).toEqual([
      { name: 'edge', namespace: 'ns3' },
      { server: 'https://kubernetes.default.svc', namespace: 'ns1' },
      { server: 'https://kubernetes.default.svc', namespace: 'ns2' },
    ]);
    expect(project.spec.clusterResourceWhitelist).toEqual([{ group: '', kind: 'Namespace' }, { group: 'rbac.authorization.k8s.io', kind: 'ClusterRole' }]);
    expect(project.spec.namespaceResourceWhitelist).toBeUndefined();
  });

  it('GIVEN a removed group WHEN synthesized THEN its Application and files are gone but the project still reaches its namespaces and kinds, so Argo CD can delete its objects', async () => {
    const dir = definitionsDir({ 'g.ts': def("{ namespace: 'ns1', allowedClusterKinds: ['ClusterRole'], allowedNamespaces: ['ns2'] }", `${CLUSTER_ROLE}\n${CM('ns2')}`) });
    const removals = new Map([['g', { group: 'g', removedAt: '2026-11-30T00:00:00Z', reason: 'gc' as const, requestId: 'r', requestedBy: 't' }]]);
    const result = await synthDir(dir, { state: stateWith({ removals }) });
    expect([...result.files.keys()].filter((f) => f.startsWith('groups/') || f === 'apps/g.yaml')).toEqual([]);
    const project = objectAt(result, 'apps/paddock.appproject.yaml');
    expect(project.spec.destinations.map((d: { namespace: string }) => d.namespace)).toEqual(['ns1', 'ns2']);
    expect(project.spec.clusterResourceWhitelist).toContainEqual({ group: 'rbac.authorization.k8s.io', kind: 'ClusterRole' });
    // synced before the Applications that name them, and kept when the app of apps is deleted
    expect(project.metadata.annotations).toEqual({ 'argocd.argoproj.io/sync-wave': '-1', 'argocd.argoproj.io/sync-options': 'Delete=false' });
  });

  it('GIVEN a commit\'s paths THEN the Applications to refresh are the app of apps for apps/ and each group whose directory changed', () => {
    expect(applicationsChangedBy(['README.md', 'apps/g-1.yaml', 'groups/g-1/configmap-a.yaml', 'groups/g-3/x.yaml', 'state/removals/g-1.yaml'])).toEqual(['paddock-root', 'g-1', 'g-3']);
    expect(applicationsChangedBy(['state/leases/res/r-1.yaml'])).toEqual([]);
  });

  it('GIVEN groups WHEN synthesized THEN every Application uses paddock\'s projects, never default, and both projects pass Argo CD\'s schema', async () => {
    const result = await synthDir(definitionsDir({ 'g.ts': def("{ namespace: 'ns1' }", CM()) }));
    expect(objectAt(result, 'apps/g.yaml').spec.project).toBe('paddock');
    expect(objectAt(result, 'apps/paddock-root.yaml').spec.project).toBe('paddock-apps');
    const root = objectAt(result, 'apps/paddock-apps.appproject.yaml');
    expect(root.spec.destinations).toEqual([{ server: 'https://kubernetes.default.svc', namespace: 'argocd' }]);
    expect(root.spec.clusterResourceWhitelist).toEqual([]);
    expect(root.spec.namespaceResourceWhitelist).toEqual([{ group: 'argoproj.io', kind: 'Application' }, { group: 'argoproj.io', kind: 'AppProject' }]);
    const projects = [root, objectAt(result, 'apps/paddock.appproject.yaml')];
    await prepareValidators(projects);
    for (const p of projects) expect(validateObject(p)).toBeUndefined();
    // The project lists only Namespace among cluster-scoped kinds when no group holds one.
    expect(projects[1].spec.clusterResourceWhitelist).toEqual([{ group: '', kind: 'Namespace' }]);
  });
});

describe('a release stays inside its Release', () => {
  const TEMPLATE = 'apiVersion: v1\nkind: ConfigMap\nmetadata: { name: "{{service}}" }\ndata: { v: "{{version}}" }';
  const release = (extra = '') => def("{ namespace: 'shop' }", `new Release(env, 'r', { service: 'svc', template: ${JSON.stringify(TEMPLATE)}${extra} });`, 'shop');

  it('GIVEN a Release whose allowedKinds names a cluster-scoped kind WHEN synthesized THEN the prop is refused', async () => {
    const err = await synthFails({ 'r.ts': release(", allowedKinds: ['rbac.authorization.k8s.io/ClusterRoleBinding']") });
    expect(err.message).toContain('shop/r: allowedKinds: rbac.authorization.k8s.io/ClusterRoleBinding is cluster-scoped');
  });

  it('GIVEN a Release whose allowedKinds names an unknown kind without its group WHEN synthesized THEN the error asks for group/Kind', async () => {
    const err = await synthFails({ 'r.ts': release(", allowedKinds: ['Widget']") });
    expect(err.message).toContain('kind "Widget" is not a built-in namespaced kind paddock knows; name it with its API group, as group/Kind');
  });

  it('GIVEN a release record in state/ whose template holds a ClusterRoleBinding WHEN synthesized THEN nothing is written and the error names it', async () => {
    const template = `${TEMPLATE}\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: { name: pwn }\nroleRef: { apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin }`;
    const state = stateWith({ releases: new Map([['svc', [{ id: 'r1', service: 'svc', version: '1', attributes: {}, template, createdAt: '2026-11-30T00:00:00.000Z' }]]]) });
    const err = await synthFails({ 'r.ts': release() }, { state });
    expect(err.message).toContain('release svc@1: template document 2 (ClusterRoleBinding pwn) is cluster-scoped');
  });

  it('GIVEN allowedKinds with a custom resource WHEN a release renders one THEN it is written', async () => {
    const template = 'apiVersion: example.com/v1\nkind: Widget\nmetadata: { name: "{{service}}" }\nspec: { size: "{{version}}" }';
    const state = stateWith({ releases: new Map([['svc', [{ id: 'r1', service: 'svc', version: '1', attributes: {}, template, createdAt: '2026-11-30T00:00:00.000Z' }]]]) });
    const result = await synthDir(definitionsDir({ 'r.ts': release(", allowedKinds: ['example.com/Widget']") }), { state });
    expect(objectAt(result, 'groups/shop/widget-svc.yaml').spec.size).toBe('1');
  });
});
