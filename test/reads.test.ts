/**
 * Reads never queue behind writes (Committer.latest): GET /api/releases answers while a push
 * hangs in the remote's hook, sees another writer's commit that this sidecar never fetched
 * into its work tree, sees a write once it is acknowledged, and serves the last view, marked
 * stale, when the remote is gone. Real sidecars on loopback, a real bare repo and its hook.
 */
import { chmodSync, existsSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readCopyOf } from '../src/repo/reads.ts';
import { bareRepo, committer, gitOut, groupsSource, loadSet, rid } from './helpers/repo.ts';
import { API_TOKEN, call, startSidecar, type TestSidecar } from './helpers/sidecar.ts';
import { tempDir } from './helpers/synth.ts';

const DEFINITION = `
import { Environment, Release } from 'paddock';
export default (scope) => {
  const env = new Environment(scope, 'store', { namespace: 'store' });
  new Release(env, 'api', { service: 'api', template: 'apiVersion: v1\\nkind: ConfigMap\\nmetadata: { name: api }\\ndata: { image: "{{image}}" }\\n' });
};`;

const AUTH = { authorization: `Bearer ${API_TOKEN}` };

/** Polls `check` every 20 ms until it holds (at most `tries` times). */
async function until(check: () => boolean, what: string, tries = 500): Promise<void> {
  for (let i = 0; i < tries; i++) {
    if (check()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('reads do not wait for writes', () => {
  let s: TestSidecar;
  let other: TestSidecar;
  const dir = tempDir('paddock-reads-');
  const started = path.join(dir, 'push-started');
  const gate = path.join(dir, 'gate');
  const post = (sidecar: TestSidecar, version: string) =>
    call(`${sidecar.url}/api/releases`, { headers: AUTH, body: { service: 'api', version, image: `ghcr.io/x/api:${version}` } });
  const versions = async (sidecar: TestSidecar) => {
    const r = await call(`${sidecar.url}/api/releases?service=api`, { headers: AUTH });
    expect(r.status).toBe(200);
    return { versions: r.body.items.map((i: { version: string }) => i.version).sort(), stale: r.headers.get('x-paddock-stale') };
  };

  beforeAll(async () => {
    s = await startSidecar({ files: { 'store.ts': DEFINITION } });
    other = await startSidecar({ files: { 'store.ts': DEFINITION }, remote: s.remote, initialSync: false });
  });
  afterAll(async () => {
    writeFileSync(gate, '');
    await other?.close();
    await s?.close();
  });

  it('GIVEN a push held in the remote\'s pre-receive hook WHEN releases are read THEN the read answers before the write, and once the write is acknowledged a read sees it', async () => {
    expect((await post(s, '1')).status).toBe(201);
    const hook = path.join(s.remote, 'hooks', 'pre-receive');
    writeFileSync(hook, `#!/bin/sh\ntouch '${started}'\nwhile [ ! -f '${gate}' ]; do sleep 0.05; done\n`);
    chmodSync(hook, 0o755);
    try {
      let settled = false;
      const write = post(s, '2').finally(() => (settled = true));
      await until(() => existsSync(started), 'the push to reach the hook');

      const during = await versions(s);
      expect(settled).toBe(false);
      expect(during).toEqual({ versions: ['1'], stale: null });

      writeFileSync(gate, '');
      expect((await write).status).toBe(201);
      expect((await versions(s)).versions).toEqual(['1', '2']);
    } finally {
      rmSync(hook, { force: true });
    }
  });

  it('GIVEN another writer pushed a release WHEN this sidecar reads THEN it answers from the remote\'s tip, and the committer\'s view stays where it was', async () => {
    const mine = s.committer.view().head;
    expect((await post(other, '3')).status).toBe(201);
    expect((await versions(s)).versions).toEqual(['1', '2', '3']);
    expect(s.committer.view().head).toBe(mine);
    // The release record read from the read copy is whole, and found by id.
    const list = await call(`${s.url}/api/releases?service=api&version=3`, { headers: AUTH });
    const one = await call(`${s.url}/api/releases/${list.body.items[0].id}`, { headers: AUTH });
    expect([one.status, one.body.version, one.body.active]).toEqual([200, '3', true]);
  });

  it('GIVEN the remote is gone WHEN releases are read THEN the last view answers, and x-paddock-stale says why', async () => {
    const moved = `${s.remote}.away`;
    renameSync(s.remote, moved);
    try {
      const r = await versions(s);
      expect(r.versions).toEqual(['1', '2', '3']);
      expect(r.stale).toMatch(/did not answer/);
    } finally {
      renameSync(moved, s.remote);
    }
    expect((await versions(s)).stale).toBeNull();
  });
});

describe('the read copy', () => {
  it('GIVEN a work tree that holds the repo WHEN another writer\'s commit is first read THEN the read copy fetches only that commit\'s objects, and reads the rest from the work tree', async () => {
    const remote = await bareRepo();
    const set = await loadSet({ 'g.ts': groupsSource(20) });
    const workDir = tempDir('paddock-work-');
    const mine = committer(remote, set, { workDir });
    await mine.submit({ body: { kind: 'sync', summary: 'sync' }, requestId: rid('s'), requestedBy: 't' });
    const other = committer(remote, set);
    await other.submit({ body: { kind: 'remove', group: 'g-3', reason: 'gc' }, requestId: rid('gc'), requestedBy: 'pod' });
    await other.close();

    const view = await mine.latest();
    expect(view.head).toBe(gitOut(remote, 'rev-parse', 'main'));
    expect(view.files.has('groups/g-3/configmap-cm-g-3.yaml')).toBe(false);
    expect(view.files.has('groups/g-4/configmap-cm-g-4.yaml')).toBe(true);
    const copy = readCopyOf(workDir).dir;
    const objects = (dir: string) => {
      const c = gitOut(dir, 'count-objects', '-v');
      return Number(/^count: (\d+)$/m.exec(c)![1]) + Number(/^in-pack: (\d+)$/m.exec(c)![1]);
    };
    // The other writer's commit: a commit, a few trees and a handful of record files; the first
    // commit's ~80 objects stay the work tree's alone.
    expect(objects(copy)).toBeLessThan(20);
    expect(objects(path.join(workDir, '.git'))).toBeGreaterThan(60);
    expect(gitOut(copy, 'fsck', '--connectivity-only', '--no-dangling')).toBe('');
    await mine.close();
  });
});
