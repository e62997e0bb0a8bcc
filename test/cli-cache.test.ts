/**
 * The one-shot commands' cached work tree (src/cli/cache.ts): reused from call to call, held by
 * one command at a time, and never a reason to miss what another writer pushed meanwhile.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { claimWorkDir } from '../src/cli/cache.ts';
import { paddock } from './helpers/cli.ts';
import { bareRepo, commitCount, committer, gitOut, groupApp, groupsSource, loadSet, remoteFiles, rid } from './helpers/repo.ts';
import { blobsHashedUnder } from './helpers/git-objects.ts';
import { definitionsDir, tempDir, TEST_SECRET } from './helpers/synth.ts';

// The test writers' secret: the CLI and another writer share the repo.
const env = { PADDOCK_GC_SECRET: TEST_SECRET, PADDOCK_SIDECAR_URL: 'http://127.0.0.1:0' };

describe('the cached work tree', () => {
  const saved = process.env.PADDOCK_CACHE_DIR;
  afterEach(() => {
    process.env.PADDOCK_CACHE_DIR = saved;
  });

  it('GIVEN a claimed work dir THEN a second claim gets none until it is released; a lock left by a process that is gone is taken over', () => {
    process.env.PADDOCK_CACHE_DIR = tempDir('paddock-cache-');
    const first = claimWorkDir('https://git.test/m.git', 'main');
    expect(first).toBeDefined();
    expect(claimWorkDir('https://git.test/m.git', 'main')).toBeUndefined();
    // Another repo or branch has its own.
    const other = claimWorkDir('https://git.test/m.git', 'other');
    expect(other?.dir).not.toBe(first!.dir);
    first!.release();
    const again = claimWorkDir('https://git.test/m.git', 'main');
    expect(again?.dir).toBe(first!.dir);
    again!.release();
    // A lock naming a process that is gone (pid 2^22 + 1 is above Linux's pid_max default).
    writeFileSync(`${first!.dir}.lock`, String(4_194_305));
    const taken = claimWorkDir('https://git.test/m.git', 'main');
    expect(taken?.dir).toBe(first!.dir);
    taken!.release();
    other!.release();
  });

  it('GIVEN a dead process\'s lock WHEN another process is already taking it over THEN a claim gets none; a takeover left by a crash is cleared for the next claim', () => {
    process.env.PADDOCK_CACHE_DIR = tempDir('paddock-cache-');
    const first = claimWorkDir('https://git.test/m.git', 'main')!;
    const lock = `${first.dir}.lock`;
    expect(readFileSync(lock, 'utf8')).toBe(String(process.pid));
    first.release();
    writeFileSync(lock, String(4_194_305));
    // Another process holds the breaker: it may have made its own lock already.
    writeFileSync(`${lock}.break`, '4194306');
    expect(claimWorkDir('https://git.test/m.git', 'main')).toBeUndefined();
    expect(existsSync(`${lock}.break`)).toBe(true);
    // A breaker two minutes old was left by a crash: cleared, and the next claim takes the lock over.
    const old = new Date(Date.now() - 120_000);
    utimesSync(`${lock}.break`, old, old);
    expect(claimWorkDir('https://git.test/m.git', 'main')).toBeUndefined();
    expect(existsSync(`${lock}.break`)).toBe(false);
    const taken = claimWorkDir('https://git.test/m.git', 'main');
    expect(taken?.dir).toBe(first.dir);
    expect(readFileSync(lock, 'utf8')).toBe(String(process.pid));
    taken!.release();
    // An empty lock (a crash between creating and writing it, before this version) is a dead one.
    writeFileSync(lock, '');
    const after = claimWorkDir('https://git.test/m.git', 'main');
    expect(after?.dir).toBe(first.dir);
    after!.release();
    expect(readdirSync(path.dirname(first.dir)).filter((f) => f.includes('.tmp') || f.endsWith('.break'))).toEqual([]);
  });

  it('GIVEN push, demolish and revive in turn WHEN another writer pushes between them THEN each call reuses the cache, sees that commit and builds on it', async () => {
    const cache = tempDir('paddock-cache-');
    const withCache = { ...env, PADDOCK_CACHE_DIR: cache };
    const remote = await bareRepo();
    const dir = definitionsDir({ 'g.ts': groupsSource(5) });
    const pushed = await paddock(['push', '--repo', remote, '--definitions', dir], { env: withCache });
    expect(pushed.code, pushed.stderr).toBe(0);
    const work = path.join(cache, 'work');
    expect(existsSync(work)).toBe(true);

    // Another writer (a sidecar) removes g-0 meanwhile.
    const other = committer(remote, await loadSet({ 'g.ts': groupsSource(5) }));
    await other.submit({ body: { kind: 'remove', group: 'g-0', reason: 'gc' }, requestId: rid('gc'), requestedBy: 'pod in g-0' });
    await other.close();

    const demolished = await paddock(['demolish', '--repo', remote, '--definitions', dir, 'g-1'], { env: withCache });
    expect(demolished.code, demolished.stderr).toBe(0);
    expect(groupApp(remote, 'g-0')).toBe('emptied');
    expect(groupApp(remote, 'g-1')).toBe('emptied');
    const again = await paddock(['demolish', '--repo', remote, '--definitions', dir, 'g-0'], { env: withCache });
    expect(again.stdout).toMatch(/g-0: already removed/);
    const revived = await paddock(['revive', '--repo', remote, '--definitions', dir, 'g-0'], { env: withCache });
    expect(revived.code, revived.stderr).toBe(0);
    expect(remoteFiles(remote)).toContain('groups/g-0/configmap-cm-g-0.yaml');
    expect(commitCount(remote)).toBe(4);
    expect(gitOut(remote, 'log', '--format=%s', '-1', 'main')).toMatch(/^revive\(group\/g-0\)/);
    // One work tree, reused by every call, and released after each: no lock is left.
    expect(readdirSync(work)).toHaveLength(1);
  });

  it('GIVEN a cached work tree past git\'s gc.auto WHEN a call pushes THEN git gc --auto packs it (a process pushes once; the cache outlives it)', async () => {
    const cache = tempDir('paddock-cache-');
    const withCache = { ...env, PADDOCK_CACHE_DIR: cache };
    const remote = await bareRepo();
    const dir = definitionsDir({ 'g.ts': groupsSource(2) });
    expect((await paddock(['push', '--repo', remote, '--definitions', dir], { env: withCache })).code).toBe(0);
    const tree = path.join(cache, 'work', readdirSync(path.join(cache, 'work'))[0]);
    // gc --auto estimates loose objects from objects/17/ alone: with gc.auto 1, two there are past
    // it. And it joins the packs (a commit is one) once there are more than gc.autoPackLimit.
    gitOut(tree, 'config', 'gc.auto', '1');
    gitOut(tree, 'config', 'gc.autoPackLimit', '1');
    for (const text of blobsHashedUnder('17', 2)) execFileSync('git', ['hash-object', '-w', '--stdin'], { cwd: tree, input: text });
    const count = (what: string) => Number(new RegExp(`^${what}: (\\d+)$`, 'm').exec(gitOut(tree, 'count-objects', '-v'))![1]);
    expect([count('packs'), count('count')]).toEqual([1, 2]);
    const demolished = await paddock(['demolish', '--repo', remote, '--definitions', dir, 'g-1'], { env: withCache });
    expect(demolished.code, demolished.stderr).toBe(0);
    // Joined before the call ended (and let go of the cache): the demolish commit's pack and the
    // first one are one; left loose are the two seeded blobs (unreferenced, kept: younger than
    // two weeks).
    expect([count('packs'), count('count')]).toEqual([1, 2]);
    expect(gitOut(tree, 'cat-file', '-t', gitOut(remote, 'rev-parse', 'main'))).toBe('commit');
  });
});
