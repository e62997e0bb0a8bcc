/**
 * Release (CONTRACT "The construct library"): a service's manifests rendered from its active
 * release record: the newest one not soft-deleted, attributes merged namespace < release <
 * service < request.
 */
import { describe, expect, it } from 'vitest';
import type { ReleaseRecord } from '../core/records.ts';
import { DefinitionError } from '../src/errors.ts';
import { loadDefinitions, SynthCache, synthesize } from '../src/synth/index.ts';
import { definitionsDir, inputs, objectAt, stateWith, synthSource } from './helpers/synth.ts';

/** A Deployment named after the service, its image and version from the release. */
const TEMPLATE = `
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{service}}
  labels: { app: {{service}}, version: "{{version}}" }
spec:
  replicas: 1
  selector: { matchLabels: { app: {{service}} } }
  template:
    metadata:
      labels: { app: {{service}} }
    spec:
      containers:
        - name: {{service}}
          image: {{image}}
`;

function record(id: string, version: string, createdAt: string, extra: Partial<ReleaseRecord> = {}): ReleaseRecord {
  return { id, service: 'web', version, image: `ghcr.io/example/web:${version}`, attributes: {}, createdAt, ...extra };
}

/** A definition with one Release of `web` in group `store`; `props` is pasted into the Release's props. */
function definition(props = '', extraObjects = ''): string {
  return `
    import { ApiObject } from 'cdk8s';
    import { Environment, Release } from 'paddock';
    export default (scope) => {
      const env = new Environment(scope, 'store', { namespace: 'store' });
      new Release(env, 'web', { service: 'web', template: ${JSON.stringify(TEMPLATE)}, ${props} });
      ${extraObjects}
    };`;
}

const DEPLOYMENT = 'groups/store/deployment-web.yaml';

describe('Release attributes', () => {
  it('GIVEN the same keys set at namespace, release, service and request level WHEN rendered THEN each key takes the value of the latest level that sets it', async () => {
    const template = `
apiVersion: v1
kind: ConfigMap
metadata: { name: "{{service}}-attributes" }
data:
  a: "{{attributes.a}}"
  b: "{{attributes.b}}"
  c: "{{attributes.c}}"
  d: "{{attributes.d}}"
  top: "{{d}}"
`;
    const result = await synthSource(`
      import { Environment, Release } from 'paddock';
      export default (scope) => {
        const env = new Environment(scope, 'store', { namespace: 'store' });
        new Release(env, 'web', {
          service: 'web',
          template: ${JSON.stringify(template)},
          namespaceAttributes: { a: 'namespace', b: 'namespace', c: 'namespace', d: 'namespace' },
          serviceAttributes: { c: 'service', d: 'service' },
          requestAttributes: { d: 'request' },
          records: [{ id: 'r1', service: 'web', version: '1.0.0', attributes: { b: 'release', c: 'release', d: 'release' }, createdAt: '2026-01-01T00:00:00.000Z' }],
        });
      };`);
    expect(objectAt(result, 'groups/store/configmap-web-attributes.yaml').data).toEqual({
      a: 'namespace', b: 'release', c: 'service', d: 'request', top: 'request',
    });
  });
});

describe('the active release', () => {
  it('GIVEN two release records in state/ WHEN synthesized THEN the newer one renders', async () => {
    const state = stateWith({ releases: new Map([['web', [record('r2', '1.1.0', '2026-01-02T00:00:00.000Z'), record('r1', '1.0.0', '2026-01-01T00:00:00.000Z')]]]) });
    const result = await synthSource(definition(), { state });
    const d = objectAt(result, DEPLOYMENT);
    expect(d.spec.template.spec.containers[0].image).toBe('ghcr.io/example/web:1.1.0');
    expect(d.metadata.labels.version).toBe('1.1.0');
  });

  it('GIVEN the newest release in state/ soft-deleted WHEN synthesized THEN the service rolls back to the one before', async () => {
    const state = stateWith({
      releases: new Map([['web', [
        record('r1', '1.0.0', '2026-01-01T00:00:00.000Z'),
        record('r2', '1.1.0', '2026-01-02T00:00:00.000Z'),
        record('r3', '1.2.0', '2026-01-03T00:00:00.000Z', { deletedAt: '2026-01-03T01:00:00.000Z' }),
      ]]]),
    });
    const result = await synthSource(definition(), { state });
    expect(objectAt(result, DEPLOYMENT).spec.template.spec.containers[0].image).toBe('ghcr.io/example/web:1.1.0');
  });

  it('GIVEN inline records with the newest soft-deleted WHEN synthesized THEN the service rolls back to the one before', async () => {
    const records = [
      record('r1', '1.0.0', '2026-01-01T00:00:00.000Z'),
      record('r2', '1.1.0', '2026-01-02T00:00:00.000Z', { deletedAt: '2026-01-02T01:00:00.000Z' }),
    ];
    const result = await synthSource(definition(`records: ${JSON.stringify(records)}`));
    expect(objectAt(result, DEPLOYMENT).spec.template.spec.containers[0].image).toBe('ghcr.io/example/web:1.0.0');
  });

  it('GIVEN inline records and records in state/ WHEN synthesized THEN the newest of both together renders', async () => {
    const state = stateWith({ releases: new Map([['web', [record('r2', '2.0.0', '2026-02-01T00:00:00.000Z')]]]) });
    const inline = [record('r1', '1.0.0', '2026-01-01T00:00:00.000Z')];
    const result = await synthSource(definition(`records: ${JSON.stringify(inline)}`), { state });
    expect(objectAt(result, DEPLOYMENT).spec.template.spec.containers[0].image).toBe('ghcr.io/example/web:2.0.0');
  });

  it('GIVEN records whose timestamps are written in different offsets WHEN synthesized THEN the newest in time renders, not the greatest string', async () => {
    const records = [
      record('r1', '1.0.0', '2026-01-01T12:00:00+02:00'), // 10:00 UTC
      record('r2', '1.1.0', '2026-01-01T11:00:00Z'),
    ];
    const result = await synthSource(definition(`records: ${JSON.stringify(records)}`));
    expect(objectAt(result, DEPLOYMENT).spec.template.spec.containers[0].image).toBe('ghcr.io/example/web:1.1.0');
  });

  it('GIVEN only soft-deleted records WHEN synthesized THEN nothing renders for the service and the group\'s other objects still do', async () => {
    const state = stateWith({ releases: new Map([['web', [record('r1', '1.0.0', '2026-01-01T00:00:00.000Z', { deletedAt: '2026-01-01T01:00:00.000Z' })]]]) });
    const result = await synthSource(definition('', `new ApiObject(env, 'cm', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'settings' }, data: { a: '1' } });`), { state });
    expect([...result.files.keys()].filter((p) => p.startsWith('groups/store/'))).toEqual(['groups/store/configmap-settings.yaml']);
  });

  it('GIVEN a group holding only a Release whose records are all soft-deleted WHEN synthesized THEN the group is not written and the synthesis still succeeds', async () => {
    const state = stateWith({ releases: new Map([['web', [record('r1', '1.0.0', '2026-01-01T00:00:00.000Z', { deletedAt: '2026-01-01T01:00:00.000Z' })]]]) });
    const result = await synthSource(definition(), { state });
    expect([...result.files.keys()].filter((p) => p.includes('store'))).toEqual([]);
    expect(result.groups.map((g) => [g.name, g.files])).toEqual([['store', []]]);
  });

  it('GIVEN a group holding only a Release of a service never released WHEN synthesized THEN the group is not written yet and the synthesis succeeds', async () => {
    const result = await synthSource(definition());
    expect([...result.files.keys()]).toEqual(['README.md', 'apps/paddock-apps.appproject.yaml', 'apps/paddock-root.yaml', 'apps/paddock.appproject.yaml']);
  });

  it('GIVEN a cached synthesis of a service never released WHEN its first release record arrives THEN the next synthesis renders it', async () => {
    const { definitions } = await loadDefinitions(definitionsDir({ 'env.ts': definition() }));
    const cache = new SynthCache();
    const before = await synthesize(definitions, inputs(), cache);
    expect(before.files.has(DEPLOYMENT)).toBe(false);
    const state = stateWith({ releases: new Map([['web', [record('r1', '1.0.0', '2026-01-01T00:00:00.000Z')]]]) });
    const after = await synthesize(definitions, inputs({ state }), cache);
    expect(objectAt(after, DEPLOYMENT).spec.template.spec.containers[0].image).toBe('ghcr.io/example/web:1.0.0');
    expect(objectAt(after, 'apps/store.yaml').spec.source.path).toBe('groups/store');
  });

  it('GIVEN a record with its own template WHEN synthesized THEN that template renders instead of the Release\'s', async () => {
    const own = 'apiVersion: v1\nkind: ConfigMap\nmetadata: { name: "{{service}}-from-record" }\ndata: { version: "{{version}}" }\n';
    const records = [record('r1', '3.0.0', '2026-01-01T00:00:00.000Z', { template: own })];
    const result = await synthSource(definition(`records: ${JSON.stringify(records)}`));
    expect(objectAt(result, 'groups/store/configmap-web-from-record.yaml').data).toEqual({ version: '3.0.0' });
    expect(result.files.has(DEPLOYMENT)).toBe(false);
  });
});

describe('release templates that do not render', () => {
  it('GIVEN a template that renders invalid YAML WHEN synthesized THEN a DefinitionError names the file, the construct and the release', async () => {
    const records = [record('r1', '1.0.0', '2026-01-01T00:00:00.000Z', { template: 'apiVersion: v1\nkind: ConfigMap\nmetadata: { name: [unclosed\n' })];
    const err = await synthSource(definition(`records: ${JSON.stringify(records)}`)).then(() => undefined, (e) => e);
    expect(err).toBeInstanceOf(DefinitionError);
    expect(err.code).toBe('InvalidDefinition');
    expect(err.message).toMatch(/env\.ts: store\/web: release web@1\.0\.0: template does not render to valid YAML \(document 1\)/);
  });

  it('GIVEN a template document that is not a Kubernetes object WHEN synthesized THEN a DefinitionError names the release and the document', async () => {
    const records = [record('r1', '1.0.0', '2026-01-01T00:00:00.000Z', { template: 'apiVersion: v1\nkind: ConfigMap\nmetadata: { name: ok }\n---\njust: a map\n' })];
    const err = await synthSource(definition(`records: ${JSON.stringify(records)}`)).then(() => undefined, (e) => e);
    expect(err).toBeInstanceOf(DefinitionError);
    expect(err.message).toMatch(/store\/web: release web@1\.0\.0: template document 2 is not a Kubernetes object/);
  });
});
