import { renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { TransientError } from '../src/errors.ts';
import type { Committer, CommitterOptions } from '../src/repo/committer.ts';
import { startWatcherServer } from '../src/watch/http.ts';
import { Definitions } from '../src/watch/definitions.ts';
import { LockFileElector } from '../src/watch/lock.ts';
import { WatcherMetrics } from '../src/watch/metrics.ts';
import { Watcher } from '../src/watch/watcher.ts';
import { bareRepo, commitCount, committer, gitOut, groupApp, remoteFile, remoteFiles, rid } from './helpers/repo.ts';
import { definitionsDir, inputs, tempDir } from './helpers/synth.ts';

const cm = (group: string, value: string, extra = '') => `
import { ApiObject } from 'cdk8s';
import { Environment } from 'paddock';
export default (scope) => {
  const env = new Environment(scope, '${group}', { namespace: '${group}'${extra} });
  new ApiObject(env, 'cm', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'settings' }, data: { value: '${value}' } });
};`;
const badReplicas = `
import { ApiObject } from 'cdk8s';
import { Environment } from 'paddock';
export default (scope) => {
  const env = new Environment(scope, 'a', { namespace: 'a' });
  new ApiObject(env, 'web', { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web' },
    spec: { replicas: 'two', selector: { matchLabels: { x: 'y' } }, template: { metadata: { labels: { x: 'y' } }, spec: { containers: [{ name: 'c', image: 'i' }] } } } });
};`;

async function setup(files: Record<string, string>, clock: () => Date, extra: Partial<CommitterOptions> = {}) {
  const remote = await bareRepo();
  const dir = definitionsDir(files);
  let c: Committer | undefined;
  const base = inputs();
  const defs = new Definitions(dir, () => ({ ...base, argo: { ...base.argo, repoURL: remote }, state: c!.view().state }));
  c = committer(remote, defs.current, { clock, ...extra });
  const said: string[] = [];
  const lock = path.join(tempDir(), 'watch.lock');
  const w = new Watcher({ definitions: defs, committer: c, elector: new LockFileElector(lock, { now: () => clock().getTime() }), clock, say: (l) => said.push(l) });
  return { remote, dir, c, w, said, defs, lock };
}

const changedIn = (remote: string) => gitOut(remote, 'show', '--name-only', '--format=', 'main').split('\n').filter(Boolean).sort();

describe('the watcher', () => {
  it('GIVEN the definitions committed by the runtime\'s first cycle (paddock up) WHEN the watcher starts with committed THEN it runs no second cycle, and is ready', async () => {
    const t = new Date('2026-11-23T12:00:00.000Z');
    const { c, w, defs } = await setup({ 'a.ts': cm('a', 'one') }, () => t);
    await defs.loadAll();
    await c.submit({ body: { kind: 'sync', summary: 'sync(definitions): start' }, requestId: rid('start'), requestedBy: 'runtime' });
    const cycles = c.stats.cycles;
    await w.start({ committed: true });
    expect(c.stats.cycles).toBe(cycles);
    expect(w.readiness()).toEqual({ ready: true, reasons: [] });
    await w.stop();
    await c.close();
  });

  it('GIVEN a watched definitions dir WHEN it cannot be read (a file in its place) THEN the watcher says so, commits nothing and goes on; once it is back, edits commit', async () => {
    const t = new Date('2026-11-23T12:00:00.000Z');
    const { remote, dir, c, w, said } = await setup({ 'a.ts': cm('a', 'one') }, () => t);
    await w.start();
    const n = commitCount(remote);
    const aside = `${dir}.aside`;
    renameSync(dir, aside);
    writeFileSync(dir, 'not a directory\n');
    w.changed(dir);
    await expect(w.flush()).resolves.toBeUndefined();
    expect(said.at(-1)).toMatch(/^the definitions cannot be read, so nothing changes: ENOTDIR/);
    expect(commitCount(remote)).toBe(n);
    expect(remoteFiles(remote)).toContain('apps/a.yaml');

    rmSync(dir);
    renameSync(aside, dir);
    writeFileSync(path.join(dir, 'a.ts'), cm('a', 'two'));
    w.changed(path.join(dir, 'a.ts'));
    await w.flush();
    expect(commitCount(remote)).toBe(n + 1);
    expect(YAML.parse(remoteFile(remote, 'groups/a/configmap-settings.yaml')).data.value).toBe('two');
    await w.stop();
    await c.close();
  });

  it('GIVEN a watched definitions dir WHEN a file is edited, broken, fixed and deleted THEN commits follow, a broken file changes nothing', async () => {
    const t = new Date('2026-11-23T12:00:00.000Z');
    const { remote, dir, c, w, said } = await setup({ 'a.ts': cm('a', 'one'), 'b.ts': cm('b', 'one') }, () => t);
    await w.start();
    expect(remoteFiles(remote)).toEqual(expect.arrayContaining(['apps/a.yaml', 'apps/b.yaml', 'groups/a/configmap-settings.yaml']));

    // edit: one commit touching only a's files
    writeFileSync(path.join(dir, 'a.ts'), cm('a', 'two'));
    let n = commitCount(remote);
    w.changed(path.join(dir, 'a.ts'));
    await w.flush();
    expect(commitCount(remote)).toBe(n + 1);
    expect(changedIn(remote)).toEqual(['groups/a/configmap-settings.yaml']);
    expect(YAML.parse(remoteFile(remote, 'groups/a/configmap-settings.yaml')).data.value).toBe('two');

    // break it (syntax): an error line, no commit, the manifests as they were
    writeFileSync(path.join(dir, 'a.ts'), 'export default (scope) => { const = ; }');
    n = commitCount(remote);
    w.changed(path.join(dir, 'a.ts'));
    await w.flush();
    expect(commitCount(remote)).toBe(n);
    expect(said.at(-1)).toMatch(/^definition error: .*a\.ts: line 1:\d+: /);
    expect(YAML.parse(remoteFile(remote, 'groups/a/configmap-settings.yaml')).data.value).toBe('two');

    // break it (schema): same
    writeFileSync(path.join(dir, 'a.ts'), badReplicas);
    w.changed(path.join(dir, 'a.ts'));
    await w.flush();
    expect(commitCount(remote)).toBe(n);
    expect(said.at(-1)).toMatch(/a\.ts: a\/web: Deployment web: spec\.replicas: must be an integer$/);
    expect(remoteFiles(remote)).toContain('apps/a.yaml');

    // fix it: a commit
    writeFileSync(path.join(dir, 'a.ts'), cm('a', 'three'));
    w.changed(path.join(dir, 'a.ts'));
    await w.flush();
    expect(commitCount(remote)).toBe(n + 1);
    expect(YAML.parse(remoteFile(remote, 'groups/a/configmap-settings.yaml')).data.value).toBe('three');

    // delete b: its group goes in one commit
    rmSync(path.join(dir, 'b.ts'));
    w.changed(path.join(dir, 'b.ts'));
    await w.flush();
    expect(commitCount(remote)).toBe(n + 2);
    expect(groupApp(remote, 'b')).toBe('emptied');
    expect(remoteFiles(remote).some((f) => f.startsWith('groups/b/'))).toBe(false);
    expect(remoteFiles(remote)).toContain('apps/a.yaml');
    await w.stop();
    await c.close();
  });

  it('GIVEN a file that is already broken when the watcher starts THEN its committed groups stay as they are', async () => {
    const t = new Date('2026-11-23T12:00:00.000Z');
    const first = await setup({ 'a.ts': cm('a', 'one'), 'b.ts': cm('b', 'one') }, () => t);
    await first.w.start();
    await first.w.stop();
    await first.c.close();
    writeFileSync(path.join(first.dir, 'b.ts'), 'export default (scope) => { const = ; }');
    // a new process: b.ts has no good version in memory
    let c2: Committer | undefined;
    const base = inputs();
    const defs = new Definitions(first.dir, () => ({ ...base, argo: { ...base.argo, repoURL: first.remote }, state: c2!.view().state }));
    c2 = committer(first.remote, defs.current, { clock: () => t });
    const w2 = new Watcher({ definitions: defs, committer: c2, elector: new LockFileElector(first.lock), say: () => {} });
    await w2.start();
    expect(remoteFiles(first.remote)).toContain('apps/b.yaml');
    expect(remoteFiles(first.remote)).toContain('groups/b/configmap-settings.yaml');
    await w2.stop();
    await c2.close();
  });

  it('GIVEN another writer removes a group WHEN the leader ticks after the retire delay THEN it has fetched that commit and deletes the emptied Application', async () => {
    let now = new Date('2026-11-23T12:00:00.000Z');
    const clock = () => now;
    const s = await setup({ 'a.ts': cm('a', 'x'), 'b.ts': cm('b', 'x') }, clock);
    await s.w.start();
    expect(await s.w.tick()).toEqual([]);
    const sidecar = committer(s.remote, s.defs.current, { clock });
    await sidecar.submit({ body: { kind: 'remove', group: 'a', reason: 'gc' }, requestId: 'gc-a', requestedBy: 'pod in a' });
    expect(groupApp(s.remote, 'a')).toBe('emptied');
    now = new Date('2026-11-23T12:10:00.000Z');
    expect(await s.w.tick()).toEqual(['a']);
    expect(groupApp(s.remote, 'a')).toBe('absent');
    expect(groupApp(s.remote, 'b')).toBe('active');
    await sidecar.close();
    await s.w.stop();
    await s.c.close();
  });

  it('GIVEN ticks slower than their interval (a slow API server) THEN they never overlap: a tick racing the next for the Lease would lose it with a 409', async () => {
    const t = new Date('2026-11-23T12:00:00.000Z');
    const s = await setup({ 'a.ts': cm('a', 'x') }, () => t);
    let running = 0;
    let most = 0;
    let ticks = 0;
    const slow = { leading: true, identity: 'slow', release() {}, async tick() {
      most = Math.max(most, ++running);
      await new Promise((r) => setTimeout(r, 20));
      running--;
      ticks++;
      return true;
    } };
    const w = new Watcher({ definitions: s.defs, committer: s.c, elector: slow, clock: () => t, say: () => {} });
    await w.start();
    w.startTicking(1);
    await expect.poll(() => ticks, { timeout: 10_000, interval: 10 }).toBeGreaterThanOrEqual(10);
    await w.stop();
    const after = ticks;
    await new Promise((r) => setTimeout(r, 50));
    expect(most).toBe(1);
    expect(ticks, 'no tick after stop').toBe(after);
    await s.c.close();
  });

  it('GIVEN the leader\'s duties held up (a slow commit) THEN leadership is still renewed every period, and the duties never run twice at once', async () => {
    const t = new Date('2026-11-23T12:00:00.000Z');
    const s = await setup({ 'a.ts': cm('a', 'x') }, () => t);
    let renewals = 0;
    const elector = { leading: true, identity: 'held', release() {}, tick: () => (renewals++, true) };
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let synths = 0;
    const slow = Object.create(s.c) as typeof s.c;
    slow.synthesis = async () => {
      synths++;
      await held;
      return s.c.synthesis();
    };
    const w = new Watcher({ definitions: s.defs, committer: slow, elector, clock: () => t, say: () => {} });
    await w.start();
    w.startTicking(1);
    // The duties fetch first, then reach the held synthesis: from then on, renewals must go on.
    await expect.poll(() => synths, { timeout: 10_000, interval: 5 }).toBe(1);
    const before = renewals;
    await expect.poll(() => renewals - before, { timeout: 10_000, interval: 10 }).toBeGreaterThanOrEqual(20);
    expect(synths).toBe(1);
    release();
    await w.stop();
    await s.c.close();
  });

  it('GIVEN a group with a ttl WHEN the clock passes its expiry THEN the leader removes it with reason ttl, and the expiry survives a restart', async () => {
    let now = new Date('2026-11-23T12:00:00.000Z');
    const clock = () => now;
    const s = await setup({ 'a.ts': cm('a', 'x', ", ttl: '1h'"), 'b.ts': cm('b', 'x') }, clock);
    await s.w.start();
    expect(YAML.parse(remoteFile(s.remote, 'apps/a.yaml')).metadata.annotations['paddock.dev/expires-at']).toBe('2026-11-23T13:00:00.000Z');
    now = new Date('2026-11-23T12:30:00.000Z');
    expect(await s.w.tick()).toEqual([]);
    await s.w.stop();
    await s.c.close();

    // restart: a new committer and watcher, nothing carried over in memory
    now = new Date('2026-11-23T13:00:01.000Z');
    let c2: Committer | undefined;
    const base = inputs();
    const defs = new Definitions(s.dir, () => ({ ...base, argo: { ...base.argo, repoURL: s.remote }, state: c2!.view().state }));
    c2 = committer(s.remote, defs.current, { clock });
    const w2 = new Watcher({ definitions: defs, committer: c2, elector: new LockFileElector(s.lock, { now: () => now.getTime() }), clock, say: () => {} });
    await w2.start();
    expect(await w2.tick()).toEqual(['a']);
    expect(YAML.parse(remoteFile(s.remote, 'state/removals/a.yaml'))).toMatchObject({ group: 'a', reason: 'ttl' });
    expect(groupApp(s.remote, 'a')).toBe('emptied');
    expect(groupApp(s.remote, 'b')).toBe('active');
    expect(await w2.tick()).toEqual([]);
    // Ten minutes on (the default), Argo CD has pruned through the emptied Application: the leader deletes it.
    now = new Date('2026-11-23T13:10:00.000Z');
    expect(await w2.tick()).toEqual([]);
    now = new Date('2026-11-23T13:10:01.000Z');
    expect(await w2.tick()).toEqual(['a']);
    expect(gitOut(s.remote, 'log', '-1', '--format=%s%n%b', 'main')).toMatch(/^retire\(group\/a\): delete its emptied Application\n[^]*Paddock-Requested-By: paddock watcher \S+ \(retire\)/);
    expect(groupApp(s.remote, 'a')).toBe('absent');
    expect(await w2.tick()).toEqual([]);
    await w2.stop();
    await c2.close();
  });
});

describe('a definitions directory published by a symlink swap (git-sync)', () => {
  it('GIVEN --definitions naming a symlink WHEN the link is swapped to a new tree THEN the watcher re-reads it and commits the difference', async () => {
    const t = new Date('2026-11-23T12:00:00.000Z');
    const v1 = definitionsDir({ 'a.ts': cm('a', 'one'), 'b.ts': cm('b', 'one') });
    const v2 = definitionsDir({ 'a.ts': cm('a', 'two'), 'c.ts': cm('c', 'one') });
    const link = path.join(tempDir(), 'current');
    symlinkSync(v1, link);
    const remote = await bareRepo();
    let c: Committer | undefined;
    const base = inputs();
    const defs = new Definitions(link, () => ({ ...base, argo: { ...base.argo, repoURL: remote }, state: c!.view().state }));
    c = committer(remote, defs.current, { clock: () => t });
    const said: string[] = [];
    const w = new Watcher({ definitions: defs, committer: c, clock: () => t, say: (l) => said.push(l), linkPollMs: 3_600_000 });
    await w.start();
    await w.watch();
    expect(await w.followLink()).toBe(false);
    const n = commitCount(remote);

    // git-sync publishes a new tree: a new link renamed over the old one
    symlinkSync(v2, `${link}.tmp`);
    renameSync(`${link}.tmp`, link);
    expect(await w.followLink()).toBe(true);
    expect(commitCount(remote)).toBe(n + 1);
    expect(YAML.parse(remoteFile(remote, 'groups/a/configmap-settings.yaml')).data.value).toBe('two');
    expect(remoteFiles(remote)).toContain('apps/c.yaml');
    expect(groupApp(remote, 'b')).toBe('emptied');
    expect(said.some((l) => l.startsWith(`definitions: ${link} now resolves to `))).toBe(true);
    await w.stop();
    await c.close();
  });
});

describe('leadership by lock file', () => {
  it('GIVEN two electors on one lock THEN one leads; when it lets go (or its process dies) the other takes over', () => {
    const lock = path.join(tempDir(), 'l.lock');
    let now = 1_000_000;
    const a = new LockFileElector(lock, { id: 'a', now: () => now, staleMs: 10_000 });
    const b = new LockFileElector(lock, { id: 'b', now: () => now, staleMs: 10_000 });
    expect(a.tick()).toBe(true);
    expect(b.tick()).toBe(false);
    now += 5_000;
    expect(a.tick()).toBe(true);
    expect(b.tick()).toBe(false);
    // a stops refreshing: once the lock is stale, b takes it, and a steps down
    now += 11_000;
    expect(b.tick()).toBe(true);
    expect(a.tick()).toBe(false);
    b.release();
    expect(a.tick()).toBe(true);
    // a lock held by a process that no longer exists is free at once
    writeFileSync(lock, JSON.stringify({ id: 'gone', pid: 2 ** 22 + 12345, at: now }));
    expect(b.tick()).toBe(true);
  });

  it('GIVEN the watcher\'s port WHEN another writer pushes and then posts /follow twenty times at once THEN each answer names the new tip, the watcher fetched at most twice, and its onFollow saw what the push changed', async () => {
    const t = new Date('2026-11-23T12:00:00.000Z');
    const followed: string[][] = [];
    const { remote, c, w, defs } = await setup({ 'a.ts': cm('a', 'one'), 'b.ts': cm('b', 'one') }, () => t, { onFollow: (paths) => void followed.push([...paths]) });
    await w.start();
    const refresh = c.refresh.bind(c);
    let fetches = 0;
    c.refresh = () => {
      fetches++;
      return refresh();
    };
    const server = await startWatcherServer('127.0.0.1:0', { follow: () => w.follow() });
    const other = committer(remote, defs.current);
    try {
      expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
      await other.submit({ body: { kind: 'remove', group: 'a', reason: 'gc' }, requestId: rid(), requestedBy: 'the sidecar' });
      const tip = gitOut(remote, 'rev-parse', 'main');
      const answers = await Promise.all(Array.from({ length: 20 }, () => fetch(`${server.url}/follow`, { method: 'POST' }).then(async (r) => [r.status, (await r.json()).head])));
      expect(answers).toEqual(Array.from({ length: 20 }, () => [200, tip]));
      expect(fetches).toBeGreaterThanOrEqual(1);
      expect(fetches).toBeLessThanOrEqual(2);
      expect(followed).toHaveLength(1);
      expect(followed[0]).toEqual(expect.arrayContaining(['apps/a.yaml', 'state/removals/a.yaml']));
      expect(c.view().head).toBe(tip);
    } finally {
      await server.close();
      await other.close();
      await c.close();
    }
  });

  it('GIVEN the watcher\'s port WHEN it starts, commits an edit and its remote goes away THEN /readyz says why it is not ready, /metrics counts the commit by kind, its steps and the lag, and the broken definitions', async () => {
    const t = new Date('2026-11-23T12:00:00.000Z');
    const { remote, dir, c, defs } = await setup({ 'a.ts': cm('a', 'one') }, () => t);
    let lags = 0;
    const metrics = new WatcherMetrics({ committer: c, watcher: () => watcher, definitions: defs });
    const watcher: Watcher = new Watcher({ definitions: defs, committer: c, say: () => {}, onSynced: (ms) => (lags++, metrics.lag.observe(ms / 1000)) });
    const server = await startWatcherServer('127.0.0.1:0', { follow: () => watcher.follow(), readiness: () => watcher.readiness(), registry: metrics.registry });
    const get = async (p: string) => {
      const r = await fetch(`${server.url}${p}`);
      return { status: r.status, text: await r.text() };
    };
    try {
      const before = await get('/readyz');
      expect(before.status).toBe(503);
      expect(JSON.parse(before.text)).toMatchObject({ code: 'NotReady', reasons: ['the definitions are not loaded and committed yet'] });
      await watcher.start();
      expect(await get('/readyz')).toEqual({ status: 200, text: JSON.stringify({ status: 'ready' }) });

      writeFileSync(path.join(dir, 'a.ts'), cm('a', 'two'));
      writeFileSync(path.join(dir, 'b.ts'), 'export default (scope) => { throw new Error("b is broken"); };');
      watcher.changed(path.join(dir, 'a.ts'));
      watcher.changed(path.join(dir, 'b.ts'));
      await watcher.flush();
      expect(lags).toBe(1);
      const m = (await get('/metrics')).text;
      expect(m).toMatch(/^paddock_commits_total\{kind="sync"\} 2$/m);
      expect(m).toMatch(/^paddock_committed_requests_total\{kind="sync"\} 2$/m);
      for (const step of ['sync', 'synth', 'write', 'push']) expect(m).toMatch(new RegExp(`^paddock_commit_step_seconds_count\\{step="${step}"\\} 2$`, 'm'));
      expect(m).toMatch(/^paddock_watcher_lag_seconds_count 1$/m);
      expect(m).toMatch(/^paddock_definition_errors 1$/m);
      expect(m).toMatch(/^paddock_groups\{state="active",reason=""\} 1$/m);
      expect(m).toMatch(/^paddock_failed_cycles_total 0$/m);

      // The remote goes: the next commit fails, and the watcher says so until one succeeds.
      rmSync(remote, { recursive: true, force: true });
      writeFileSync(path.join(dir, 'a.ts'), cm('a', 'three'));
      watcher.changed(path.join(dir, 'a.ts'));
      await watcher.flush();
      const after = await get('/readyz');
      expect(after.status).toBe(503);
      expect(JSON.parse(after.text).reasons).toEqual(['the last commit failed', 'the manifests repo did not answer last time']);
      expect((await get('/metrics')).text).toMatch(/^paddock_failed_cycles_total 1$/m);
    } finally {
      await server.close();
      await watcher.stop();
      await c.close();
    }
  });
});

describe("the watcher's port", () => {
  it('GIVEN /follow failing as the remote, or with a bug, and /readyz not ready THEN each answers as errors.ts maps it: 503 with Retry-After, 500 naming the request, 503 NotReady', async () => {
    let fail: Error = new TransientError('RemoteUnavailable', 'manifests repo unavailable: the remote cannot be reached (x)', 5);
    const server = await startWatcherServer('127.0.0.1:0', { follow: () => Promise.reject(fail), readiness: () => ({ ready: false, reasons: ['the definitions are not loaded and committed yet'] }) });
    try {
      const remote = await fetch(`${server.url}/follow`, { method: 'POST' });
      expect([remote.status, remote.headers.get('retry-after'), (await remote.json()).code]).toEqual([503, '5', 'RemoteUnavailable']);
      fail = new Error('a bug');
      const bug = await fetch(`${server.url}/follow`, { method: 'POST' });
      expect([bug.status, await bug.json()]).toEqual([500, { error: `internal error; its cause is in paddock's log under request ${bug.headers.get('x-request-id')}`, code: 'Internal' }]);
      const ready = await fetch(`${server.url}/readyz`);
      expect([ready.status, await ready.json()]).toEqual([503, { error: 'not ready: the definitions are not loaded and committed yet', code: 'NotReady', reasons: ['the definitions are not loaded and committed yet'] }]);
    } finally {
      await server.close();
    }
  });
});
