/**
 * The construct library checks itself as cdk8s does (node.addValidation): a user who
 * synthesizes with cdk8s alone (`Testing.synth`, `app.synth()`) meets the same clashes and empty
 * groups that `paddock synth` reports. Real cdk8s Apps, no paddock synthesis.
 */
import { ApiObject, Testing } from 'cdk8s';
import { describe, expect, it } from 'vitest';
import { Environment, LeasePool, Release } from '../constructs/index.ts';
import { DefinitionError } from '../src/errors.ts';
import { definitionsDir, synthDir } from './helpers/synth.ts';

const configMap = (scope: Environment, id: string, name: string, namespace?: string) =>
  new ApiObject(scope, id, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, ...(namespace ? { namespace } : {}) }, data: {} });

describe('constructs check each other on synth', () => {
  it('GIVEN two Environments of one group in one App WHEN synthesized THEN validation fails naming both', () => {
    const app = Testing.app();
    const a = new Environment(app, 'a', { namespace: 'a', group: 'shop' });
    configMap(a, 'cm', 'one');
    const b = new Environment(app, 'b', { namespace: 'b', group: 'shop' });
    configMap(b, 'cm', 'two');
    expect(() => Testing.synth(a)).toThrow(/b: group "shop" is also defined by a/);
    expect(() => app.synthYaml()).toThrow(/b: group "shop" is also defined by a/);
  });

  it('GIVEN two objects of one kind, name and namespace in two groups WHEN synthesized THEN validation fails naming both; in two namespaces THEN both are fine', () => {
    const app = Testing.app();
    const one = new Environment(app, 'one', { namespace: 'shared' });
    configMap(one, 'cm', 'settings');
    const two = new Environment(app, 'two', { namespace: 'other', allowedNamespaces: ['shared'] });
    configMap(two, 'mine', 'settings');
    expect(Testing.synth(two)).toHaveLength(1);
    configMap(two, 'theirs', 'settings', 'shared');
    expect(() => Testing.synth(two)).toThrow(/two\/theirs: ConfigMap "settings" in namespace shared is also made by one\/cm/);
  });

  it('GIVEN a group with no objects WHEN synthesized THEN validation fails; GIVEN only a Release with no release yet THEN it is fine', () => {
    const app = Testing.app();
    const empty = new Environment(app, 'empty', { namespace: 'ns' });
    expect(() => Testing.synth(empty)).toThrow(/^empty: group "empty" has no objects$/);

    const waiting = Testing.app();
    const env = new Environment(waiting, 'store', { namespace: 'store' });
    new Release(env, 'api', { service: 'api', template: 'apiVersion: v1\nkind: ConfigMap\nmetadata: { name: api }\n' });
    expect(Testing.synth(env)).toEqual([]);
  });

  it('GIVEN two LeasePools of one type WHEN synthesized THEN validation fails naming both', () => {
    const app = Testing.app();
    const pool = (id: string) => new LeasePool(app, id, {
      type: 'e2e', names: [`${id}-1`],
      environment: (scope, r) => {
        const env = new Environment(scope, r.name, { namespace: r.name });
        configMap(env, 'cm', 'lease');
        return env;
      },
    });
    pool('first');
    const second = pool('second');
    expect(() => Testing.synth(second.environments.get('second-1')!)).toThrow(/second: lease pool type "e2e" is also defined by first/);
  });

  it('GIVEN two Releases of one service in one context WHEN synthesized THEN validation fails naming both; in two contexts THEN both are fine', () => {
    const app = Testing.app();
    const template = 'apiVersion: v1\nkind: ConfigMap\nmetadata: { name: api }\n';
    const a = new Environment(app, 'a', { namespace: 'a' });
    new Release(a, 'api', { service: 'api', template, follows: 'deployed', context: 'staging' });
    const b = new Environment(app, 'b', { namespace: 'b' });
    new Release(b, 'api', { service: 'api', template, follows: 'deployed', context: 'production' });
    expect(Testing.synth(b)).toEqual([]);
    const c = new Environment(app, 'c', { namespace: 'c' });
    new Release(c, 'api', { service: 'api', template, follows: 'deployed', context: 'staging' });
    expect(() => Testing.synth(c)).toThrow(/c\/api: service api's context "staging" is also rendered by a\/api/);
  });

  it('GIVEN the app of apps\' name as a group WHEN constructed THEN it is refused at once', () => {
    expect(() => new Environment(Testing.app(), 'paddock-root', { namespace: 'ns' })).toThrow(/^paddock-root: group name "paddock-root" is reserved for the app of apps$/);
  });

  it('GIVEN two files rendering one service in one context WHEN paddock synthesizes them THEN the error names the other group and file', async () => {
    const release = (group: string) => `
import { Environment, Release } from 'paddock';
export default (scope) => {
  const env = new Environment(scope, '${group}', { namespace: '${group}' });
  new Release(env, 'api', { service: 'api', template: 'apiVersion: v1\\nkind: ConfigMap\\nmetadata: { name: api }\\n', follows: 'deployed', context: 'staging' });
};`;
    const dir = definitionsDir({ 'a.ts': release('a'), 'b.ts': release('b') });
    const err = await synthDir(dir).then(() => undefined, (e) => e);
    expect(err).toBeInstanceOf(DefinitionError);
    expect(err.message).toMatch(/b\.ts: b: service api's context "staging" is also rendered by group a \(.*a\.ts\)$/);
  });
});
