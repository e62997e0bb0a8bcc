/**
 * The acceptance cases for the committer and the sidecar, against real git: a bare repo
 * served by `git daemon` on 127.0.0.1, the real HTTP server, and `paddock serve` as a process.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gcUrl } from '../core/gc-token.ts';
import { loadDefinitions } from '../src/synth/index.ts';
import type { DefinitionSet } from '../src/repo/committer.ts';
import { PADDOCK_BIN, paddock } from './helpers/cli.ts';
import { freePort, GitDaemon } from './helpers/git-daemon.ts';
import { bareRepo, committer, gitOut, groupsSource, poolSource, remoteFile, remoteFiles, rid } from './helpers/repo.ts';
import { call, startSidecar, type TestSidecar } from './helpers/sidecar.ts';
import { definitionsDir, TEST_SECRET } from './helpers/synth.ts';

const pushedSource = (n: number) => `
import { ApiObject } from 'cdk8s';
import { Environment } from 'paddock';
export default (scope) => {
  const env = new Environment(scope, 'pushed', { namespace: 'pushed' });
  new ApiObject(env, 'cm', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'pushed' }, data: { n: '${n}' } });
};`;

/** Every update of `main` in the remote's reflog was a fast-forward of the one before. */
function onlyFastForwards(remote: string): boolean {
  const shas = gitOut(remote, 'reflog', 'show', '--format=%H', 'refs/heads/main').split('\n').filter(Boolean).reverse();
  for (let i = 1; i < shas.length; i++) {
    try {
      gitOut(remote, 'merge-base', '--is-ancestor', shas[i - 1], shas[i]);
    } catch {
      return false;
    }
  }
  return shas.length > 1;
}

async function pool<T>(items: readonly T[], concurrency: number, fn: (item: T, i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i], i);
    }
  }));
}

describe('over git daemon on 127.0.0.1', () => {
  let daemon: GitDaemon;
  let remote: string;
  let s: TestSidecar;
  beforeAll(async () => {
    remote = await bareRepo();
    gitOut(remote, 'config', 'core.logAllRefUpdates', 'always');
    daemon = await GitDaemon.start(path.dirname(remote));
    s = await startSidecar({ files: { 'g.ts': groupsSource(4, 'd') }, remote: daemon.url(remote) });
  });
  afterAll(async () => {
    await s.close();
    await daemon.stop();
  });

  it('GIVEN the remote stops WHEN writes arrive THEN 503 with Retry-After and nothing acknowledged; WHEN it is back THEN the sidecar recovers by itself', async () => {
    const ok = await call(gcUrl(s.url, TEST_SECRET, 'd-0'), { body: { label: 'group_id=d-0' } });
    expect(ok.status).toBe(202);
    await daemon.stop();
    const head = gitOut(remote, 'rev-parse', 'main');
    const down = await call(gcUrl(s.url, TEST_SECRET, 'd-1'), { body: { label: 'group_id=d-1' } });
    expect(down.status).toBe(503);
    expect(down.body.code).toBe('RemoteUnavailable');
    expect(Number(down.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await call(`${s.url}/readyz`)).status).toBe(503);
    const lease = await call(`${s.url}/acquire?type=x&state=free&owner=o`, { method: 'POST' });
    expect(lease.status).toBe(404); // no such pool: the lease layer answers without the remote
    expect(gitOut(remote, 'rev-parse', 'main')).toBe(head);
    await daemon.resume();
    const back = await call(gcUrl(s.url, TEST_SECRET, 'd-1'), { body: { label: 'group_id=d-1' } });
    expect(back.status).toBe(202);
    expect((await call(`${s.url}/readyz`)).status).toBe(200);
    expect(remoteFiles(remote)).toContain('state/removals/d-1.yaml');
  });
});

describe('three writers on one remote', () => {
  it('GIVEN a push loop, GC requests and lease transitions, 300 each WHEN run at once THEN every acknowledged operation is in the remote, history is linear, every update a fast-forward', async () => {
    const remote = await bareRepo();
    gitOut(remote, 'config', 'core.logAllRefUpdates', 'always');
    const daemon = await GitDaemon.start(path.dirname(remote));
    const dir = definitionsDir({ 'g.ts': groupsSource(300, 'w'), 'pool.ts': poolSource('res', 10), 'pushed.ts': pushedSource(0) });
    let version = 1;
    let current: DefinitionSet = { definitions: (await loadDefinitions(dir)).definitions, version };
    const defs = () => current;
    // The contract's retry policy (1 s x 1.5, cap 30 s, 10 tries), not the tests' fast one: under a
    // writer that pushes in a tight loop, that spread is what lets the sidecar win its turn.
    const policy = { retry: { initialMs: 1000, factor: 1.5, capMs: 30_000, tries: 10 } };
    const s = await startSidecar({ files: {}, remote: daemon.url(remote), committer: { definitions: defs, ...policy }, initialSync: false });
    await s.committer.submit({ body: { kind: 'sync', summary: 'sync(definitions): initial' }, requestId: rid(), requestedBy: 't' });
    await s.ranch.syncPools(s.committer.view().synth!.pools);
    try {
      let lastPushed = -1;
      // A CI job pushing definitions in a tight loop: a second writer with its own clone, each
      // push a definitions change. A long-lived writer (its clone follows the remote by diffs)
      // races the sidecar as hard as a fresh `paddock push` per change at a third of the cost;
      // every tenth push is such a fresh one (a new committer with a fresh clone).
      const longLived = committer(daemon.url(remote), defs, policy);
      const pushes = (async () => {
        try {
          for (let i = 1; i <= 300; i++) {
            writeFileSync(path.join(dir, 'pushed.ts'), pushedSource(i));
            const [changed] = (await loadDefinitions(dir, ['pushed.ts'])).definitions;
            current = { definitions: [...current.definitions.filter((d) => !d.absPath.endsWith('pushed.ts')), changed], version: ++version };
            const pusher = i % 10 === 0 ? committer(daemon.url(remote), defs, policy) : longLived;
            try {
              await pusher.submit({ body: { kind: 'sync', summary: `sync(definitions): push ${i}` }, requestId: rid('push'), requestedBy: 'push loop' });
            } finally {
              if (pusher !== longLived) await pusher.close();
            }
            lastPushed = i;
          }
        } finally {
          await longLived.close();
        }
      })();
      const removed: string[] = [];
      const failures: string[] = [];
      const gcs = pool(Array.from({ length: 300 }, (_, i) => `w-${i}`), 10, async (g) => {
        const r = await call(gcUrl(s.url, TEST_SECRET, g), { body: { label: `group_id=${g}` } });
        if (r.status === 202) removed.push(g);
        else failures.push(`${r.status} ${r.body?.code}: ${r.body?.error}`);
      });
      let leaseOps = 0;
      const leases = pool(Array.from({ length: 5 }, (_, i) => `owner-${i}`), 5, async (owner) => {
        for (let k = 0; k < 30; k++) {
          const a = await call(`${s.url}/acquire?type=res&state=free&dest=busy&owner=${owner}`, { method: 'POST' });
          if (a.status !== 200) continue;
          leaseOps++;
          const r = await call(`${s.url}/release?name=${a.body.name}&dest=free&owner=${owner}`, { method: 'POST' });
          if (r.status === 200) leaseOps++;
        }
      });
      await Promise.all([pushes, gcs, leases]);

      expect(failures.slice(0, 3)).toEqual([]);
      expect(removed).toHaveLength(300);
      expect(leaseOps).toBe(300);
      expect(lastPushed).toBe(300);
      const files = remoteFiles(remote);
      for (const g of removed) expect(files, g).toContain(`state/removals/${g}.yaml`);
      // each removed group's objects left the repo; its Application stays, emptied, until the leader retires it
      expect(files.filter((f) => f.startsWith('groups/w-'))).toEqual([]);
      for (const g of removed) expect(files, g).toContain(`state/retiring/${g}.yaml`);
      expect(remoteFile(remote, 'groups/pushed/configmap-pushed.yaml')).toContain('"n": "300"'); // YAML 1.1 reads a bare n as false, so the key is quoted
      for (const r of s.ranch.list('res')) {
        expect(r.state).toBe('free');
        if (files.includes(`state/leases/res/${r.name}.yaml`)) expect(remoteFile(remote, `state/leases/res/${r.name}.yaml`)).toMatch(/state: free/);
      }
      expect(gitOut(remote, 'rev-list', '--merges', 'main')).toBe('');
      expect(onlyFastForwards(remote)).toBe(true);
    } finally {
      await s.close();
      await daemon.stop();
    }
  }, 480_000);
});

describe('paddock serve killed mid-burst', () => {
  it('GIVEN a 500-request GC burst WHEN paddock serve is killed -9 and restarted THEN every removal that got a 2xx is in the remote', async () => {
    const remote = await bareRepo();
    const dir = definitionsDir({ 'g.ts': groupsSource(500, 'k') });
    const env = { PADDOCK_GC_SECRET: TEST_SECRET };
    expect((await paddock(['push', '--repo', remote, '--definitions', dir], { env })).code).toBe(0);
    const port = await freePort();
    const start = () => new Promise<ChildProcess>((resolve, reject) => {
      const child = spawn(process.execPath, [PADDOCK_BIN, 'serve', '--repo', remote, '--definitions', dir, '--listen', `127.0.0.1:${port}`], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      const read = (d: Buffer) => {
        out += d;
        if (out.includes('listening on')) resolve(child);
      };
      child.stdout!.on('data', read);
      child.stderr!.on('data', read);
      child.once('exit', (code) => reject(new Error(`serve exited ${code}: ${out}`)));
    });
    let child = await start();
    const base = `http://127.0.0.1:${port}`;
    const acked: string[] = [];
    let killed = false;
    try {
      await pool(Array.from({ length: 500 }, (_, i) => `k-${i}`), 50, async (g) => {
        if (killed) return;
        try {
          const r = await call(gcUrl(base, TEST_SECRET, g), { body: { label: `group_id=${g}` } });
          if (r.status >= 200 && r.status < 300) acked.push(g);
          if (acked.length >= 120 && !killed) {
            killed = true;
            child.kill('SIGKILL');
          }
        } catch {
          // the connection died with the process: not acknowledged
        }
      });
      expect(killed).toBe(true);
      expect(acked.length).toBeGreaterThanOrEqual(120);
      await new Promise((r) => (child.exitCode !== null || child.signalCode ? r(null) : child.once('exit', r)));
      child = await start();
      const files = new Set(remoteFiles(remote));
      const rendered = new Set([...files].filter((f) => f.startsWith('groups/')).map((f) => f.split('/')[1]));
      const lost = acked.filter((g) => !files.has(`state/removals/${g}.yaml`) || rendered.has(g));
      expect(lost).toEqual([]);
      // after the restart the rest still works
      const more = await call(gcUrl(base, TEST_SECRET, 'k-499'), { body: { label: 'group_id=k-499' } });
      expect([200, 202]).toContain(more.status);
    } finally {
      child.kill('SIGTERM');
    }
  }, 240_000);
});

describe('acquires under contention', () => {
  it('GIVEN a pool of 50 WHEN 8 clients fire 200 acquires each THEN exactly 50 succeed and no resource has two owners', async () => {
    const s = await startSidecar({ files: { 'pool.ts': poolSource('big', 50) } });
    try {
      const got: Array<{ name: string; owner: string }> = [];
      let otherStatus = 0;
      await Promise.all(Array.from({ length: 8 }, (_, c) => pool(Array.from({ length: 200 }, (_, i) => i), 10, async () => {
        const r = await call(`${s.url}/acquire?type=big&state=free&dest=busy&owner=c${c}`, { method: 'POST' });
        if (r.status === 200) got.push({ name: r.body.name, owner: r.body.owner });
        else if (r.status !== 404) otherStatus++;
      })));
      expect(otherStatus).toBe(0);
      expect(got).toHaveLength(50);
      expect(new Set(got.map((g) => g.name)).size).toBe(50);
      for (const g of got) expect(s.ranch.get(g.name)?.owner).toBe(g.owner);
    } finally {
      await s.close();
    }
  }, 120_000);
});
