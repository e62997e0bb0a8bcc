/**
 * Lease pools from a file (`--lease-config`, CONTRACT "Leases"): Boskos's YAML and the seed's
 * JSON lines; a type or name becomes a path under `state/leases/`, so it is held to path-safe
 * words.
 */
import { describe, expect, it } from 'vitest';
import { UserError } from '../src/errors.ts';
import { parseLeaseConfig } from '../src/leases/config.ts';

describe('the lease config file', () => {
  it('GIVEN Boskos\'s resources format WHEN parsed THEN each type lists its names, dynamic counts named <type>-<n>', () => {
    const pools = parseLeaseConfig('resources:\n  - type: gce-project\n    state: free\n    names: [p-1, p.2_x]\n  - type: vm\n    min-count: 2\n    max-count: 2\n', 'boskos.yaml');
    expect(pools).toEqual([{ type: 'gce-project', names: ['p-1', 'p.2_x'] }, { type: 'vm', names: ['vm-0', 'vm-1'] }]);
  });

  it('GIVEN the seed\'s JSON lines WHEN parsed THEN the same pools', () => {
    expect(parseLeaseConfig('{"type":"project","name":"a","state":"free"}\n{"type":"project","name":"b","state":"free"}', 'r.json')).toEqual([{ type: 'project', names: ['a', 'b'] }]);
  });

  it.each([
    ['a name that climbs out of state/', '{"type":"x","name":"../../apps/evil"}', 'name "../../apps/evil"'],
    ['a type of ..', '{"type":"..","name":"a"}', 'type ".."'],
    ['a name with a slash', 'resources:\n  - type: t\n    names: [a/b]\n', 'name "a/b"'],
    ['a name with a newline', '{"type":"t","name":"a\\nb"}', 'name "a\nb"'],
  ])('GIVEN %s WHEN parsed THEN InvalidConfig names the file, the entry and the value', (_what, text, detail) => {
    let err: unknown;
    try {
      parseLeaseConfig(text, 'pools.conf');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UserError);
    expect((err as UserError).code).toBe('InvalidConfig');
    expect((err as UserError).message).toContain('pools.conf: ');
    expect((err as UserError).message).toContain(detail);
  });
});
