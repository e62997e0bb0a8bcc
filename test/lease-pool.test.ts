/**
 * LeasePool (CONTRACT "The construct library", "Records in state/"): one Environment per pooled
 * resource while its lease record says it exists; released dirty, its group is not rendered.
 */
import { describe, expect, it } from 'vitest';
import type { LeaseRecord } from '../core/records.ts';
import { DefinitionError } from '../src/errors.ts';
import { definitionsDir, objectAt, stateWith, synthDir, synthSource } from './helpers/synth.ts';
import path from 'node:path';

/** A pool of `count` e2e environments, each with a ConfigMap naming its resource and lease state. */
const pool = (sizing: string) => `
  import { ApiObject } from 'cdk8s';
  import { Environment, LeasePool } from 'paddock';
  export default (scope) => {
    new LeasePool(scope, 'e2e', {
      type: 'e2e',
      ${sizing},
      environment: (p, resource) => {
        const env = new Environment(p, resource.name, { namespace: resource.name });
        new ApiObject(env, 'info', {
          apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'lease-info' },
          data: { name: resource.name, index: String(resource.index), state: resource.state, owner: resource.owner },
        });
        return env;
      },
    });
  };`;
const POOL_OF_3 = pool('count: 3');

function lease(name: string, state: string, owner = ''): [string, LeaseRecord] {
  return [`e2e/${name}`, { type: 'e2e', name, state, owner, generation: 1, userdata: null }];
}

describe('LeasePool', () => {
  it('GIVEN a pool with count 3 and no lease records WHEN synthesized THEN groups <type>-1 to <type>-3 each render, free', async () => {
    const result = await synthSource(POOL_OF_3);
    expect(result.groups.map((g) => g.name)).toEqual(['e2e-1', 'e2e-2', 'e2e-3']);
    for (const [i, name] of ['e2e-1', 'e2e-2', 'e2e-3'].entries()) {
      expect(objectAt(result, `groups/${name}/configmap-lease-info.yaml`).data).toEqual({ name, index: String(i), state: 'free', owner: '' });
      expect(objectAt(result, `apps/${name}.yaml`).spec.destination.namespace).toBe(name);
    }
  });

  it('GIVEN a pool WHEN synthesized THEN result.pools lists its type, resource names and file', async () => {
    const dir = definitionsDir({ 'pool.ts': POOL_OF_3 });
    const result = await synthDir(dir);
    expect(result.pools).toEqual([{ type: 'e2e', names: ['e2e-1', 'e2e-2', 'e2e-3'], file: path.join(dir, 'pool.ts') }]);
  });

  it('GIVEN a pool WHEN synthesized THEN each resource\'s group info says which lease it belongs to', async () => {
    const result = await synthSource(POOL_OF_3);
    expect(result.groups.map((g) => [g.name, g.lease])).toEqual([
      ['e2e-1', { type: 'e2e', name: 'e2e-1' }],
      ['e2e-2', { type: 'e2e', name: 'e2e-2' }],
      ['e2e-3', { type: 'e2e', name: 'e2e-3' }],
    ]);
  });

  it('GIVEN a lease record in state dirty WHEN synthesized THEN that resource\'s group is not rendered and the others are', async () => {
    const result = await synthSource(POOL_OF_3, { state: stateWith({ leases: new Map([lease('e2e-2', 'dirty')]) }) });
    expect(result.groups.map((g) => g.name)).toEqual(['e2e-1', 'e2e-3']);
    expect([...result.files.keys()].filter((p) => p.includes('e2e-2'))).toEqual([]);
    expect(result.files.has('apps/e2e-1.yaml')).toBe(true);
    expect(result.pools[0].names).toEqual(['e2e-1', 'e2e-2', 'e2e-3']);
  });

  it('GIVEN a lease record in state busy WHEN synthesized THEN that resource\'s group renders, its factory seeing state and owner', async () => {
    const result = await synthSource(POOL_OF_3, { state: stateWith({ leases: new Map([lease('e2e-2', 'busy', 'ci-job-42')]) }) });
    expect(result.groups.map((g) => g.name)).toEqual(['e2e-1', 'e2e-2', 'e2e-3']);
    expect(objectAt(result, 'groups/e2e-2/configmap-lease-info.yaml').data).toEqual({ name: 'e2e-2', index: '1', state: 'busy', owner: 'ci-job-42' });
  });

  it('GIVEN a pool given by names WHEN synthesized THEN one group per name', async () => {
    const result = await synthSource(pool("names: ['alpha', 'beta']"));
    expect(result.groups.map((g) => [g.name, g.lease])).toEqual([['alpha', { type: 'e2e', name: 'alpha' }], ['beta', { type: 'e2e', name: 'beta' }]]);
  });

  it('GIVEN two pools of the same type in two files WHEN synthesized THEN a DefinitionError names both files', async () => {
    const dir = definitionsDir({ 'a.ts': POOL_OF_3, 'b.ts': pool("names: ['other-1']") });
    const err = await synthDir(dir).then(() => undefined, (e) => e);
    expect(err).toBeInstanceOf(DefinitionError);
    expect(err.message).toBe(`${path.join(dir, 'b.ts')}: lease pool type "e2e" is also defined in ${path.join(dir, 'a.ts')}`);
  });
});
