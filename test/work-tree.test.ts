/**
 * The committer's work tree over real repositories: commits written with fast-import (no file
 * on disk), read back from the object store, pushed by sha. Each case runs against a bare repo
 * reached by its path (git's own push) and over `git daemon` (paddock's git:// push).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PushUnclear, RepoReader, WorkTree } from '../src/repo/git/index.ts';
import { GitDaemon } from './helpers/git-daemon.ts';
import { bareRepo, gitOut, remoteFiles } from './helpers/repo.ts';
import { blobsHashedUnder } from './helpers/git-objects.ts';
import { tempDir } from './helpers/synth.ts';

const daemons: GitDaemon[] = [];
afterAll(async () => {
  await Promise.all(daemons.map((d) => d.stop()));
});

/** A bare repo (`remote`, its path) and the URL a work tree reaches it by. */
const reach = {
  'a local path': async (remote: string) => remote,
  'git daemon': async (remote: string) => {
    const d = await GitDaemon.start(path.dirname(remote));
    daemons.push(d);
    return d.url(remote);
  },
};

describe.each(Object.entries(reach))('the work tree, the remote reached by %s', (_, urlOf) => {
  async function tree() {
    const remote = await bareRepo();
    const t = new WorkTree(tempDir('paddock-work-'), await urlOf(remote), 'main');
    await t.init();
    return { remote, t };
  }

  it('GIVEN an empty remote WHEN a root commit and a second one are written and pushed THEN the remote holds exactly their files and messages, and no file was written to disk', async () => {
    const { remote, t } = await tree();
    expect(await t.fetchTip()).toBeUndefined();
    const first = new Map<string, string | null>([
      ['apps/a.yaml', 'kind: Application\n'],
      ['groups/a/configmap-x.yaml', 'data: {}\n'],
      ['groups/a/a file with spaces.yaml', 'x: 1\n'],
      ['README.md', 'héllo, ünïcode\n'],
    ]);
    const one = await t.commit(undefined, first, ['sync(definitions): start', 'Paddock-Request-Id: r1']);
    await t.push(one);
    expect(gitOut(remote, 'rev-parse', 'main')).toBe(one);
    expect(gitOut(remote, 'log', '-1', '--format=%P|%an <%ae>|%B', 'main')).toBe('|paddock <paddock@paddock.invalid>|sync(definitions): start\n\nPaddock-Request-Id: r1');
    expect(remoteFiles(remote).sort()).toEqual([...first.keys()].sort());
    expect(gitOut(remote, 'show', 'main:README.md')).toBe('héllo, ünïcode');

    const second = new Map<string, string | null>([['groups/a/configmap-x.yaml', 'data: {a: b}\n'], ['apps/a.yaml', null], ['groups/b/new.yaml', 'b: 2\n']]);
    const two = await t.commit(one, second, ['edit']);
    await t.push(two, one);
    expect(gitOut(remote, 'log', '-1', '--format=%P', 'main')).toBe(one);
    expect(remoteFiles(remote).sort()).toEqual(['README.md', 'groups/a/a file with spaces.yaml', 'groups/a/configmap-x.yaml', 'groups/b/new.yaml']);

    // Read back from the object store: what changed, and a whole commit.
    expect(await t.fetchTip()).toBe(two);
    expect(await t.changes(one, two)).toEqual(new Map([['apps/a.yaml', null], ['groups/a/configmap-x.yaml', 'data: {a: b}\n'], ['groups/b/new.yaml', 'b: 2\n']]));
    const files = await t.files(two);
    expect(files.get('groups/a/a file with spaces.yaml')).toBe('x: 1\n');
    expect(files.get('README.md')).toBe('héllo, ünïcode\n');
    expect(files.size).toBe(4);
    // Nothing is checked out: the work dir holds git's own directory only.
    expect(readdirSync(t.dir)).toEqual(['.git']);
    expect(existsSync(path.join(t.dir, 'README.md'))).toBe(false);
  });

  it('GIVEN a commit written before WHEN another root commit is written THEN it has no parent (the last written commit is no ancestor)', async () => {
    const { remote, t } = await tree();
    await t.commit(undefined, new Map([['a.yaml', 'a\n']]), ['first']);
    const root = await t.commit(undefined, new Map([['b.yaml', 'b\n']]), ['second']);
    await t.push(root);
    expect(gitOut(remote, 'log', '--format=%s', 'main')).toBe('second');
    expect(remoteFiles(remote)).toEqual(['b.yaml']);
  });

  it('GIVEN a commit on a parent that is no longer the tip WHEN pushed THEN git rejects it as non-fast-forward (the push is a compare-and-swap)', async () => {
    const { t } = await tree();
    const base = await t.commit(undefined, new Map([['a.yaml', 'a\n']]), ['base']);
    await t.push(base);
    await t.push(await t.commit(base, new Map([['a.yaml', 'b\n']]), ['one']));
    const stale = await t.commit(base, new Map([['a.yaml', 'c\n']]), ['two']);
    await expect(t.push(stale)).rejects.toThrow(/rejected|non-fast-forward|fetch first/);
  });

  it('GIVEN the remote dies mid-push WHEN the commit did not land THEN the push is unclear, though an older commit carries the same request id; WHEN it landed THEN the push is done', async () => {
    const { remote, t } = await tree();
    const base = await t.commit(undefined, new Map([['a.yaml', 'a\n']]), ['base', 'Paddock-Request-Id: ci-build']);
    await t.push(base);
    const next = await t.commit(base, new Map([['a.yaml', 'b\n']]), ['next', 'Paddock-Request-Id: ci-build']);
    // receive-pack killed before it moves the branch, then after it moved it and before it reports
    const hook = (name: string, script: string) => writeFileSync(path.join(remote, 'hooks', name), `#!/bin/sh\n${script}\n`, { mode: 0o755 });
    hook('pre-receive', 'kill -9 $PPID; exit 1');
    const lost = await t.push(next, base).catch((e: unknown) => e);
    expect(lost).toBeInstanceOf(PushUnclear);
    expect(gitOut(remote, 'rev-parse', 'main')).toBe(base);
    rmSync(path.join(remote, 'hooks', 'pre-receive'));
    hook('reference-transaction', '[ "$1" = committed ] && kill -9 $PPID; exit 0');
    await t.push(next, base);
    expect(gitOut(remote, 'rev-parse', 'main')).toBe(next);
  });

  it('GIVEN a remote WHEN probed THEN it answers while the repository is served, and fails once it is gone', async () => {
    const { remote, t } = await tree();
    await expect(t.probe()).resolves.toBeUndefined();
    rmSync(remote, { recursive: true, force: true });
    await expect(t.probe()).rejects.toThrow(/does not appear to be a git repository|not exported|not found/);
  });
});

describe('the work tree over a long run', () => {
  it('GIVEN a pack a commit WHEN the Nth push lands THEN git gc --auto joins them, and not before, at the lowest CPU priority', async () => {
    const every = 12;
    const remote = await bareRepo();
    const t = new WorkTree(tempDir('paddock-work-'), remote, 'main', every);
    await t.init();
    // gc --auto joins the packs once there are more than gc.autoPackLimit (50 by default).
    gitOut(t.dir, 'config', 'gc.autoPackLimit', '4');
    // Where the system has nice (paddock's image and CI do), the hook git runs only when gc --auto
    // goes ahead writes the priority it runs at.
    const hasNice = ['/usr/bin/nice', '/bin/nice'].some((f) => existsSync(f));
    const gitDir = gitOut(t.dir, 'rev-parse', '--absolute-git-dir');
    const niceness = path.join(gitDir, 'gc-niceness');
    if (hasNice) writeFileSync(path.join(gitDir, 'hooks', 'pre-auto-gc'), `#!/bin/sh\nnice > '${niceness}'\n`, { mode: 0o755 });
    const count = (what: string) => Number(new RegExp(`^${what}: (\\d+)$`, 'm').exec(gitOut(t.dir, 'count-objects', '-v'))![1]);
    let head: string | undefined;
    for (let i = 0; i < every; i++) {
      // A commit's blob, tree and commit are a pack of their own, however small; none joined yet.
      expect([count('packs'), count('count')]).toEqual([i, 0]);
      const sha = await t.commit(head, new Map([[`r${i % 5}.yaml`, `n: ${i}\n`]]), [`c${i}`]);
      await t.push(sha, head);
      head = sha;
    }
    await t.settled();
    expect([count('packs'), count('count'), count('in-pack')]).toEqual([1, 0, every * 3]);
    expect(gitOut(remote, 'rev-parse', 'main')).toBe(head);
    // It ran at the lowest CPU priority.
    if (hasNice) expect(readFileSync(niceness, 'utf8').trim()).toBe('19');
  });

  it('GIVEN no read copy yet WHEN sixteen readers make it at once THEN every one fetches the branch into the one copy, and no half-made copy is left beside it', async () => {
    const remote = await bareRepo();
    const w = new WorkTree(tempDir('paddock-work-'), remote, 'main');
    await w.init();
    const head = await w.commit(undefined, new Map([['a.yaml', 'a: 1\n']]), ['one']);
    await w.push(head);
    const copy = path.join(tempDir('paddock-copy-'), 'copy.git');
    const readers = await Promise.all(Array.from({ length: 16 }, () => RepoReader.fetch(remote, copy, 'main')));
    for (const r of readers) expect(await r.resolve('refs/heads/main')).toBe(head);
    await Promise.all(readers.map((r) => r.housekeeping));
    expect(readdirSync(path.dirname(copy))).toEqual(['copy.git']);
  });

  it('GIVEN a read copy with loose objects past git\'s own gc.auto WHEN it fetches THEN git gc --auto packs what it fetched', async () => {
    const remote = await bareRepo();
    const w = new WorkTree(tempDir('paddock-work-'), remote, 'main');
    await w.init();
    const first = await w.commit(undefined, new Map([['a.yaml', 'a: 1\n']]), ['one']);
    await w.push(first);
    const copy = path.join(tempDir('paddock-copy-'), 'copy.git');
    await RepoReader.fetch(remote, copy, 'main');
    // gc --auto estimates loose objects from objects/17/ alone: past 6,700 is more than 27 there.
    for (const text of blobsHashedUnder('17', 28)) execFileSync('git', ['hash-object', '-w', '--stdin'], { cwd: copy, input: text });
    const loose = () => Number(/^count: (\d+)$/m.exec(gitOut(copy, 'count-objects', '-v'))![1]);
    const before = loose();
    await w.push(await w.commit(first, new Map([['b.yaml', 'b: 2\n']]), ['two']), first);
    await (await RepoReader.fetch(remote, copy, 'main')).housekeeping;
    // Packed: left loose are the 28 seeded blobs (unreferenced, kept: younger than two weeks).
    expect(loose()).toBe(28);
    expect(before).toBeGreaterThan(28);
    expect(gitOut(copy, 'count-objects', '-v')).toMatch(/^packs: 1$/m);
  });
});
