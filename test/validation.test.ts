/**
 * Validation and layout (CONTRACT "The construct library", "The manifests repo"): every object
 * is checked before anything is returned, and a failure is one DefinitionError naming the file,
 * construct path and field; the README, the root Application and one Application per group are
 * synthesized with the fields Argo CD needs.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DefinitionError } from '../src/errors.ts';
import type { SynthResult } from '../src/synth/index.ts';
import { definitionsDir, objectAt, stateWith, synthDir } from './helpers/synth.ts';

const HEAD = `
import { ApiObject } from 'cdk8s';
import { Environment } from 'paddock';
`;
const cm = (name: string, id = 'cm') => `new ApiObject(env, '${id}', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: '${name}' }, data: { a: '1' } });`;
/** A definition making group `g` with `body` (which sees `env`). */
const group = (body: string, props = "{ namespace: 'ns1' }", id = 'g') => `${HEAD}
export default (scope) => {
  const env = new Environment(scope, '${id}', ${props});
  ${body}
};`;

/** Synthesizes `files` and returns the error it must throw, with the absolute path of each file. */
async function synthError(files: Record<string, string>): Promise<{ err: DefinitionError; file: (name: string) => string }> {
  const dir = definitionsDir(files);
  let result: SynthResult | undefined;
  try {
    result = await synthDir(dir);
  } catch (err) {
    expect(err).toBeInstanceOf(DefinitionError);
    return { err: err as DefinitionError, file: (name) => path.join(dir, name) };
  }
  throw new Error(`synthesis should have failed, but wrote ${[...result.files.keys()].join(', ')}`);
}

const DEPLOYMENT = (spec: string) => `new ApiObject(env, 'web', {
  apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web' },
  spec: { selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'web', image: 'nginx' }] } }, ${spec} },
});`;

describe('objects that fail the schema', () => {
  it('GIVEN a Deployment with replicas: "three" WHEN synthesized THEN one InvalidObject error names the file, the construct path and spec.replicas', async () => {
    const { err, file } = await synthError({ 'broken.ts': group(`${cm('fine')}\n${DEPLOYMENT("replicas: 'three'")}`) });
    expect(err.code).toBe('InvalidObject');
    expect(err.file).toBe(file('broken.ts'));
    expect(err.message).toBe(`${file('broken.ts')}: g/web: Deployment web: spec.replicas: must be an integer`);
  });

  it('GIVEN a container without a name WHEN synthesized THEN the error names the missing field', async () => {
    const { err, file } = await synthError({ 'env.ts': group(`new ApiObject(env, 'job', {
      apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'job' },
      spec: { template: { spec: { restartPolicy: 'Never', containers: [{ image: 'busybox' }] } } },
    });`) });
    expect(err.code).toBe('InvalidObject');
    expect(err.message).toBe(`${file('env.ts')}: g/job: Job job: spec.template.spec.containers[0].name: is required`);
  });

  it('GIVEN a field no schema defines, deep in a list or in metadata WHEN synthesized THEN the error names its whole path (strict, as kubectl apply --validate=strict)', async () => {
    const job = (container: string, meta = '') => group(`new ApiObject(env, 'job', {
      apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'job'${meta} },
      spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'a', image: 'busybox' }, ${container}] } } },
    });`);
    const deep = await synthError({ 'env.ts': job("{ name: 'b', image: 'busybox', env: [{ name: 'X', value: '1', valu: '2' }] }") });
    // env[2]: paddock's GROUP_ID and GARBAGE_COLLECTOR_URL come first.
    expect(deep.err.message).toBe(`${deep.file('env.ts')}: g/job: Job job: spec.template.spec.containers[1].env[2].valu: is not a field of batch/v1 Job (strict validation, as kubectl apply --validate=strict)`);
    const meta = await synthError({ 'env.ts': job("{ name: 'b', image: 'busybox' }", ", labelz: { a: 'b' }") });
    expect(meta.err.message).toMatch(/: Job job: metadata\.labelz: is not a field of batch\/v1 Job/);
  });

  it('GIVEN an unknown kind in a known apiVersion WHEN synthesized THEN the error names the kind', async () => {
    const { err, file } = await synthError({ 'env.ts': group(`new ApiObject(env, 'x', { apiVersion: 'apps/v1', kind: 'Deploymnet', metadata: { name: 'x' }, spec: {} });`) });
    expect(err.message).toBe(`${file('env.ts')}: g/x: Deploymnet x: kind: apps/v1 has no kind Deploymnet`);
  });

  it('GIVEN an object named Bad_Name WHEN synthesized THEN the error says metadata.name must be a DNS subdomain', async () => {
    const { err, file } = await synthError({ 'env.ts': group(cm('Bad_Name')) });
    expect(err.code).toBe('InvalidObject');
    expect(err.message).toBe(`${file('env.ts')}: g/cm: ConfigMap Bad_Name: metadata.name: "Bad_Name" must be a DNS subdomain: lowercase letters, digits, '-' and '.'`);
  });

  it('GIVEN a Service named with a dot WHEN synthesized THEN the error says a Service name must be a DNS label', async () => {
    const { err } = await synthError({ 'env.ts': group(`new ApiObject(env, 'svc', { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web.v2' }, spec: { ports: [{ port: 80 }] } });`) });
    expect(err.message).toMatch(/g\/svc: Service web\.v2: metadata\.name: "web\.v2" must be a DNS label/);
  });

  it('GIVEN an invalid object in one file and valid groups in others WHEN synthesized THEN the whole synthesis fails, so nothing is written', async () => {
    const { err, file } = await synthError({
      'a-good.ts': group(cm('fine'), "{ namespace: 'ns1' }", 'good'),
      'b-broken.ts': group(DEPLOYMENT("replicas: 'three'"), "{ namespace: 'ns1' }", 'broken'),
    });
    expect(err.file).toBe(file('b-broken.ts'));
  });
});

describe('groups and names that clash', () => {
  it('GIVEN the same group in two files WHEN synthesized THEN the error names both files', async () => {
    const { err, file } = await synthError({ 'a.ts': group(cm('one'), "{ namespace: 'ns1' }", 'dup'), 'b.ts': group(cm('two'), "{ namespace: 'ns2' }", 'dup') });
    expect(err.code).toBe('InvalidDefinition');
    expect(err.message).toBe(`${file('b.ts')}: dup: group "dup" is also defined in ${file('a.ts')}`);
  });

  it('GIVEN two objects with the same kind, namespace and name WHEN synthesized THEN the error names both constructs', async () => {
    const { err, file } = await synthError({ 'env.ts': group(`${cm('settings', 'first')}\n${cm('settings', 'second')}`) });
    expect(err.code).toBe('InvalidDefinition');
    expect(err.message).toBe(`${file('env.ts')}: g/second: ConfigMap "settings" in namespace ns1 is also made by g/first`);
  });

  it('GIVEN the same group twice in one file WHEN synthesized THEN the error names both constructs', async () => {
    const { err, file } = await synthError({ 'env.ts': `${HEAD}
export default (scope) => {
  for (const id of ['a', 'b']) {
    const env = new Environment(scope, id, { namespace: id, group: 'dup' });
    ${cm('x')}
  }
};` });
    expect(err.message).toBe(`${file('env.ts')}: b: group "dup" is also defined by a`);
  });

  it('GIVEN the same object in two groups of two files WHEN synthesized THEN the error names both files', async () => {
    const { err, file } = await synthError({
      'a.ts': group(cm('settings'), "{ namespace: 'shared' }", 'one'),
      'b.ts': group(cm('settings'), "{ namespace: 'shared' }", 'two'),
    });
    expect(err.code).toBe('InvalidDefinition');
    expect(err.message).toBe(`${file('b.ts')}: two/cm: ConfigMap "settings" in namespace shared is also made by one/cm (${file('a.ts')})`);
  });

  it('GIVEN the same name in two namespaces of one group WHEN synthesized THEN both are written, the file names told apart by namespace', async () => {
    const result = await synthDir(definitionsDir({ 'env.ts': group(`${cm('settings', 'a')}\nnew ApiObject(env, 'b', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'settings', namespace: 'other' }, data: {} });`, "{ namespace: 'ns1', allowedNamespaces: ['other'] }") }));
    expect([...result.files.keys()].filter((p) => p.startsWith('groups/'))).toEqual(['groups/g/configmap-settings.ns1.yaml', 'groups/g/configmap-settings.other.yaml']);
  });

  it('GIVEN the group name paddock-root WHEN synthesized THEN the error says it is reserved', async () => {
    const { err, file } = await synthError({ 'env.ts': group(cm('x'), "{ namespace: 'ns1' }", 'paddock-root') });
    expect(err.message).toBe(`${file('env.ts')}: paddock-root: group name "paddock-root" is reserved for the app of apps`);
  });
});

describe('groups that are not well formed', () => {
  it('GIVEN a group with no objects WHEN synthesized THEN the error names the group', async () => {
    const { err, file } = await synthError({ 'env.ts': group('', "{ namespace: 'ns1' }", 'empty') });
    expect(err.message).toBe(`${file('env.ts')}: empty: group "empty" has no objects`);
  });

  it.each([
    ['ttl "soon"', "{ namespace: 'ns1', ttl: 'soon' }", 'g: ttl "soon" is not a duration such as 30m, 2h or 7d'],
    ['namespace "Bad_NS"', "{ namespace: 'Bad_NS' }", 'g: namespace "Bad_NS" must be a DNS label'],
    ['group "Bad_Group"', "{ namespace: 'ns1', group: 'Bad_Group' }", 'g: group "Bad_Group" must be a DNS label'],
    ['group of 64 characters', `{ namespace: 'ns1', group: '${'a'.repeat(64)}' }`, `g: group "${'a'.repeat(64)}" must be a DNS label`],
  ])('GIVEN an Environment with %s WHEN synthesized THEN the error names the construct and the prop', async (_what, props, detail) => {
    const { err, file } = await synthError({ 'env.ts': group(cm('x'), props) });
    expect(err.code).toBe('InvalidDefinition');
    expect(err.message.startsWith(`${file('env.ts')}: ${detail}`)).toBe(true);
  });
});

/** What every synthesis writes besides the groups: README, the app of apps and the two Argo CD projects. */
const LAYOUT = ['README.md', 'apps/paddock-apps.appproject.yaml', 'apps/paddock-root.yaml', 'apps/paddock.appproject.yaml'];

describe('the manifests-repo layout', () => {
  const TTL_GROUP = group(cm('settings'), "{ namespace: 'preview', ttl: '2h', owner: 'team-a' }", 'preview');

  it('GIVEN one group WHEN synthesized THEN README.md, the root Application and the group\'s files are produced, and nothing else', async () => {
    const result = await synthDir(definitionsDir({ 'env.ts': TTL_GROUP }));
    expect([...result.files.keys()]).toEqual([...LAYOUT, 'apps/preview.yaml', 'groups/preview/configmap-settings.yaml']);
    expect(result.files.get('README.md')).toContain('| preview | preview | 1 | 2h |');
    const root = objectAt(result, 'apps/paddock-root.yaml');
    expect(root.spec.source.path).toBe('apps');
    expect(root.spec.syncPolicy.automated.prune).toBe(true);
    expect(root.metadata.finalizers).toEqual(['resources-finalizer.argocd.argoproj.io']);
  });

  it('GIVEN a group WHEN synthesized THEN its Application prunes, cascades deletion, creates the namespace and reads groups/<group> only', async () => {
    const result = await synthDir(definitionsDir({ 'env.ts': TTL_GROUP }));
    const app = objectAt(result, 'apps/preview.yaml');
    expect(app.kind).toBe('Application');
    expect(app.metadata.name).toBe('preview');
    expect(app.metadata.namespace).toBe('argocd');
    expect(app.metadata.finalizers).toEqual(['resources-finalizer.argocd.argoproj.io']);
    expect(app.spec.syncPolicy.automated.prune).toBe(true);
    expect(app.spec.syncPolicy.syncOptions).toContain('CreateNamespace=true');
    expect(app.spec.source).toEqual({ repoURL: 'https://git.test/manifests.git', targetRevision: 'main', path: 'groups/preview' });
    expect(app.spec.destination).toEqual({ server: 'https://kubernetes.default.svc', namespace: 'preview' });
  });

  it('GIVEN a group with a ttl and a creation record WHEN synthesized THEN its Application carries ttl and expires-at = createdAt + ttl', async () => {
    const state = stateWith({ groups: new Map([['preview', { group: 'preview', createdAt: '2026-03-01T10:30:00.000Z' }]]) });
    const result = await synthDir(definitionsDir({ 'env.ts': TTL_GROUP }), { state });
    expect(objectAt(result, 'apps/preview.yaml').metadata.annotations).toEqual({
      'paddock.dev/owner': 'team-a',
      'paddock.dev/ttl': '2h',
      'paddock.dev/expires-at': '2026-03-01T12:30:00.000Z',
      'paddock.dev/definition': 'env.ts',
    });
    expect(result.groups[0]).toMatchObject({ name: 'preview', ttl: '2h', ttlMs: 7_200_000, expiresAt: '2026-03-01T12:30:00.000Z' });
  });

  it('GIVEN a group with a ttl but no creation record yet WHEN synthesized THEN its Application carries the ttl and no expires-at', async () => {
    const result = await synthDir(definitionsDir({ 'env.ts': TTL_GROUP }));
    expect(objectAt(result, 'apps/preview.yaml').metadata.annotations).toEqual({ 'paddock.dev/owner': 'team-a', 'paddock.dev/ttl': '2h', 'paddock.dev/definition': 'env.ts' });
    expect(result.groups[0].expiresAt).toBeUndefined();
  });

  it('GIVEN a group with a removal record WHEN synthesized THEN neither its Application nor its files are produced', async () => {
    const state = stateWith({ removals: new Map([['preview', { group: 'preview', removedAt: '2026-03-01T11:00:00.000Z', reason: 'gc' as const, requestId: 'r1', requestedBy: 'test' }]]) });
    const result = await synthDir(definitionsDir({ 'env.ts': TTL_GROUP }), { state });
    expect([...result.files.keys()]).toEqual(LAYOUT);
    expect(result.groups).toMatchObject([{ name: 'preview', removed: true, files: [] }]);
  });
});
