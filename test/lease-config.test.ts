/**
 * Lease pools from a file (`--lease-config`, CONTRACT "Leases"): Boskos's YAML and the seed's
 * JSON lines; a type or name becomes a path under `state/leases/`, so it is held to path-safe
 * words.
 */
import { mkdirSync, renameSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { UserError } from '../src/errors.ts';
import { parseLeaseConfig } from '../src/leases/config.ts';
import { startRuntime, startWriter, type RuntimeConfig } from '../src/runtime.ts';
import { bareRepo, remoteFile, remoteFiles, testWriter } from './helpers/repo.ts';
import { call } from './helpers/sidecar.ts';
import { tempDir, TEST_SECRET } from './helpers/synth.ts';

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

describe('the lease config as a ConfigMap volume, edited while the sidecar runs', () => {
  /** A directory laid out as the kubelet lays out a ConfigMap volume: `resources.yaml -> ..data/resources.yaml`, `..data -> ..<version>`. */
  function configMapVolume(): { dir: string; publish(text: string, mtime?: Date): void } {
    const dir = tempDir('paddock-cm-');
    let version = 0;
    const publish = (text: string, mtime?: Date) => {
      const target = `..v${++version}`;
      mkdirSync(path.join(dir, target));
      writeFileSync(path.join(dir, target, 'resources.yaml'), text);
      // The kubelet writes each version anew: within one tick, two can have the same size and time.
      if (mtime) utimesSync(path.join(dir, target, 'resources.yaml'), mtime, mtime);
      // The kubelet's swap: a new symlink renamed over ..data, atomically.
      symlinkSync(target, path.join(dir, '..data_tmp'));
      renameSync(path.join(dir, '..data_tmp'), path.join(dir, '..data'));
      if (version === 1) symlinkSync('..data/resources.yaml', path.join(dir, 'resources.yaml'));
    };
    return { dir, publish };
  }

  const TICK = new Date('2026-11-30T12:00:00.000Z');

  it('GIVEN a running sidecar WHEN the config adds a type, grows one and shrinks one under a held resource THEN new resources appear free, and the held one stays held until released, then is retired', async () => {
    const volume = configMapVolume();
    volume.publish('resources:\n- type: a\n  state: free\n  names: [a-1, a-2]\n- type: c\n  state: free\n  min-count: 1\n  max-count: 1\n');
    const remote = await bareRepo();
    const definitionsDir = tempDir('paddock-defs-');
    const cfg: RuntimeConfig = {
      repo: remote, branch: 'main', writer: { ...testWriter(remote), gcSecret: TEST_SECRET }, definitionsDir, apiTokens: [], listen: '127.0.0.1:0',
      workspaceDomains: [], nodeportRange: { min: 30000, max: 30009 }, nodeAddress: '127.0.0.1', leaseExpiryMs: 3_600_000, cleaningDelayMs: 120_000,
      leaseConfigFile: path.join(volume.dir, 'resources.yaml'),
    };
    const writer = startWriter(cfg);
    await writer.start();
    const runtime = await startRuntime(cfg, writer.committer);
    const names = async () => ((await call(`${runtime.url}/api/leases`)).body.items as Array<{ name: string; state: string; owner: string }>)
      .map((r) => `${r.name}:${r.state}${r.owner ? `:${r.owner}` : ''}`);
    try {
      expect(await names()).toEqual(['a-1:free', 'a-2:free', 'c-0:free']);
      expect((await call(`${runtime.url}/acquirebystate?state=free&dest=busy&owner=ci&names=a-2`, { method: 'POST' })).status).toBe(200);

      volume.publish('resources:\n- type: a\n  state: free\n  names: [a-1]\n- type: b\n  state: free\n  names: [b-1]\n- type: c\n  state: free\n  min-count: 3\n  max-count: 3\n', TICK);
      await runtime.reloadPools();
      // Never yanked: a-2 is still ci's; it is no longer offered.
      expect(await names()).toEqual(['a-1:free', 'a-2:busy:ci', 'b-1:free', 'c-0:free', 'c-1:free', 'c-2:free']);
      expect((await call(`${runtime.url}/acquire?type=a&state=free&dest=busy&owner=job`, { method: 'POST' })).body.name).toBe('a-1');
      expect((await call(`${runtime.url}/acquire?type=a&state=free&dest=busy&owner=job`, { method: 'POST' })).status).toBe(404);
      expect(remoteFile(remote, 'state/leases/a/a-2.yaml')).toMatch(/state: busy\nowner: ci\n/);

      // An edit of the same size, published at the same time as the one before: seen all the same.
      volume.publish('resources:\n- type: a\n  state: free\n  names: [a-1]\n- type: b\n  state: free\n  names: [b-2]\n- type: c\n  state: free\n  min-count: 3\n  max-count: 3\n', TICK);
      await runtime.reloadPools();
      expect(await names()).toEqual(['a-1:busy:job', 'a-2:busy:ci', 'b-2:free', 'c-0:free', 'c-1:free', 'c-2:free']);

      // Released: retired, its record gone from the repo.
      expect((await call(`${runtime.url}/release?name=a-2&dest=free&owner=ci`, { method: 'POST' })).status).toBe(200);
      expect(await names()).toEqual(['a-1:busy:job', 'b-2:free', 'c-0:free', 'c-1:free', 'c-2:free']);
      expect(remoteFiles(remote)).not.toContain('state/leases/a/a-2.yaml');
    } finally {
      await runtime.stop();
    }
  });
});
