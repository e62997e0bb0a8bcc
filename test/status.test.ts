/**
 * `paddock status` as people and scripts read it: every section (groups in each state, leases,
 * workspaces, releases, the last commit), as tables and as `-o json` / `-o yaml` data, read from
 * a cache copy of the branch (no committer, no work tree).
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { paddock } from './helpers/cli.ts';
import { bareRepo, groupsSource, poolSource } from './helpers/repo.ts';
import { API_TOKEN, call, startSidecar } from './helpers/sidecar.ts';
import { definitionsDir, TEST_SECRET, tempDir } from './helpers/synth.ts';

const ED25519 = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl ada@example.com';
const RELEASE = `
import { Environment, Release } from 'paddock';
export default (scope) => {
  const env = new Environment(scope, 'store', { namespace: 'store', ttl: '2h', owner: 'team-store' });
  new Release(env, 'web', { service: 'web', template: 'apiVersion: apps/v1\\nkind: Deployment\\nmetadata: { name: web }\\nspec:\\n  selector: { matchLabels: { app: web } }\\n  template:\\n    metadata: { labels: { app: web } }\\n    spec: { containers: [{ name: web, image: "{{image}}" }] }\\n' });
};`;

describe('paddock status', () => {
  it('GIVEN a repo with groups active, retiring and removed, a held lease, a workspace and two releases (one deleted) THEN -o json, -o yaml and the tables say each', async () => {
    const s = await startSidecar({ files: { 'g.ts': groupsSource(3, 'st'), 'pool.ts': poolSource('proj', 2), 'store.ts': RELEASE } });
    const env = { PADDOCK_GC_SECRET: TEST_SECRET, PADDOCK_CACHE_DIR: tempDir() };
    try {
      const auth = { authorization: `Bearer ${API_TOKEN}` };
      expect((await call(`${s.url}/acquire?type=proj&state=free&dest=busy&owner=ci-job-7`, { method: 'POST' })).status).toBe(200);
      expect((await call(`${s.url}/api/workspaces`, { body: { email: 'ada.lovelace@example.com', ram: 2, cpu: 1, storage: '5Gi', publicKey: ED25519 }, headers: auth })).status).toBe(201);
      expect((await call(`${s.url}/api/workspaces`, { body: { email: 'bob@example.com', ram: 1, cpu: 1, publicKey: ED25519 }, headers: auth })).status).toBe(201);
      expect((await call(`${s.url}/api/workspaces/bob/stop`, { method: 'POST', headers: auth })).status).toBe(200);
      const first = await call(`${s.url}/api/releases`, { body: { service: 'web', version: '1.0', image: 'web:1.0' }, headers: auth });
      const second = await call(`${s.url}/api/releases`, { body: { service: 'web', version: '1.1', image: 'web:1.1' }, headers: auth });
      expect([first.status, second.status]).toEqual([201, 201]);
      expect((await call(`${s.url}/api/releases/${second.body.id}`, { method: 'DELETE', headers: auth })).status).toBe(204);
      // st-1 removed by its pod (its emptied Application stays: retiring); st-2 removed and retired.
      await s.committer.submit({ body: { kind: 'remove', group: 'st-1', reason: 'gc' }, requestId: 'rm-1', requestedBy: 'gc token of st-1' });
      await s.committer.submit({ body: { kind: 'remove', group: 'st-2', reason: 'demolish' }, requestId: 'rm-2', requestedBy: 'paddock demolish' });
      await s.committer.submit({ body: { kind: 'retire', group: 'st-2' }, requestId: 'rt-2', requestedBy: 'leader' });

      const json = await paddock(['status', '--repo', s.remote, '--definitions', tempDir(), '-o', 'json'], { env });
      expect(json.code, json.stderr).toBe(0);
      const status = JSON.parse(json.stdout);
      const group = (name: string) => status.groups.find((g: { name: string }) => g.name === name);
      expect(group('st-0')).toMatchObject({ state: 'active' });
      expect(group('st-1')).toMatchObject({ state: 'retiring', removal: { reason: 'gc', requestedBy: 'gc token of st-1' } });
      expect(group('st-2')).toMatchObject({ state: 'removed', removal: { reason: 'demolish' } });
      expect(group('store')).toMatchObject({ state: 'active', ttl: '2h', owner: 'team-store', expiresAt: expect.any(String), createdAt: expect.any(String) });
      expect(status.leases.filter((l: { owner: string }) => l.owner)).toEqual([{ type: 'proj', name: expect.stringMatching(/^proj-/), state: 'busy', owner: 'ci-job-7' }]);
      expect(status.workspaces).toEqual([
        expect.objectContaining({ name: 'ada-lovelace', state: 'running', email: 'ada.lovelace@example.com', ram: 2, cpu: 1, storage: '5Gi', port: expect.any(Number) }),
        expect.objectContaining({ name: 'bob', state: 'stopped' }),
      ]);
      expect(status.releases).toEqual([{ service: 'web', active: { id: first.body.id, version: '1.0', image: 'web:1.0', createdAt: expect.any(String) }, count: 2, deleted: 1 }]);
      expect(status.lastCommit).toMatchObject({ subject: expect.stringMatching(/^retire\(group\/st-2\)/) });
      expect(status).toMatchObject({ repo: s.remote, branch: 'main', waitingClones: [] });

      const yaml = await paddock(['status', '--repo', s.remote, '--output', 'yaml'], { env });
      expect(YAML.parse(yaml.stdout)).toEqual(status);

      const tables = await paddock(['status', '--repo', s.remote], { env });
      expect(tables.stdout).toMatch(/^GROUPS \(\d+\)$/m);
      expect(tables.stdout).toMatch(/^st-1\s+removed \(gc\) \S+ ago, retiring\s/m);
      expect(tables.stdout).toMatch(/^store\s+active\s+\S+\s+2h\s+-?\S+\s+team-store$/m);
      expect(tables.stdout).toMatch(/^proj\s+proj-\d+\s+busy\s+ci-job-7$/m);
      expect(tables.stdout).toMatch(/^ada-lovelace\s+running\s+ada.lovelace@example.com\s+\d+\s+2Gi\s+1\s+5Gi\s/m);
      expect(tables.stdout).toMatch(/^bob\s+stopped\s+bob@example.com\s/m);
      expect(tables.stdout).toMatch(/^web\s+1\.0\s+web:1\.0\s+\S+\s+\S+\s+2 \(1 deleted\)$/m);
      expect(tables.stdout).toMatch(/^LAST COMMIT [0-9a-f]+ retire\(group\/st-2\)/m);

      const bad = await paddock(['status', '--repo', s.remote, '-o', 'xml'], { env });
      expect([bad.code, bad.stderr.trim()]).toEqual([1, 'paddock: --output "xml" is not one of table, json, yaml']);
    } finally {
      await s.close();
    }
  }, 120_000);

  it('GIVEN an empty repo THEN an empty status; GIVEN a missing or unreachable one THEN one line saying which, exit 1; GIVEN four at once on one cache copy THEN all answer', async () => {
    const env = { PADDOCK_GC_SECRET: TEST_SECRET, PADDOCK_CACHE_DIR: tempDir() };
    const empty = await bareRepo();
    const r = await paddock(['status', '--repo', empty, '-o', 'json'], { env });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ groups: [], leases: [], releases: [] });
    expect(JSON.parse(r.stdout).lastCommit).toBeUndefined();

    const missing = await paddock(['status', '--repo', path.join(tempDir(), 'nothing.git')], { env });
    expect(missing.code).toBe(1);
    expect(missing.stderr.trim().split('\n')).toHaveLength(1);
    expect(missing.stderr).toMatch(/^paddock: manifests repo unavailable: the repository does not exist/);
    const unreachable = await paddock(['status', '--repo', 'git://127.0.0.1:9/nothing.git'], { env });
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr).toMatch(/^paddock: manifests repo unavailable: the remote cannot be reached/);

    const dir = definitionsDir({ 'g.ts': groupsSource(2) });
    expect((await paddock(['push', '--repo', empty, '--definitions', dir], { env })).code).toBe(0);
    const fresh = { ...env, PADDOCK_CACHE_DIR: tempDir() };
    const runs = await Promise.all([0, 1, 2, 3].map(() => paddock(['status', '--repo', empty, '-o', 'json'], { env: fresh })));
    for (const run of runs) {
      expect(run.code, run.stderr).toBe(0);
      expect(JSON.parse(run.stdout).groups.map((g: { name: string }) => g.name)).toEqual(['g-0', 'g-1']);
    }
  }, 120_000);
});
