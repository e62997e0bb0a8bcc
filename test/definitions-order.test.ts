/**
 * Writers that run on (watcher, sidecar), each with its own checkout of the definitions repo
 * (git-sync per pod): one whose checkout is behind the definitions the repo was last rendered
 * from waits for them before it writes, instead of undoing them.
 */
import { chownSync, readdirSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { refuseBehind } from '../src/cli/stale-definitions.ts';
import { loadDefinitionSet } from '../src/cli/options.ts';
import { Committer, type Logger } from '../src/repo/committer.ts';
import { DefinitionsGate } from '../src/repo/definitions-order.ts';
import { checkoutCommit, containsCommit } from '../src/repo/git/index.ts';
import { startWriter, type Writer } from '../src/runtime.ts';
import { sourceRecordOf } from '../src/watch/live-sources.ts';
import { Watcher, type SourceFeed } from '../src/watch/watcher.ts';
import { bareRepo, gitOut, groupApp, groupsSource, rid, testWriter } from './helpers/repo.ts';
import { tempDir, TEST_SECRET } from './helpers/synth.ts';

const git = (cwd: string, ...args: string[]) => gitOut(cwd, '-c', 'user.name=t', '-c', 'user.email=t@t', ...args);

/** A definitions repo with one commit of `groups` groups, and `n` full clones of it. */
function definitionsRepo(groups: number, n: number): { origin: string; clones: string[] } {
  const origin = path.join(tempDir('paddock-defs-origin-'), 'defs');
  git(tempDir('paddock-defs-init-'), 'init', '-q', '-b', 'main', origin);
  writeFileSync(path.join(origin, 'g.ts'), groupsSource(groups));
  git(origin, 'add', '.');
  git(origin, 'commit', '-qm', `${groups} groups`);
  const clones = Array.from({ length: n }, (_, i) => {
    const dir = path.join(tempDir('paddock-defs-clone-'), `clone-${i}`);
    git(origin, 'clone', '-q', origin, dir);
    return dir;
  });
  return { origin, clones };
}

/** Commits `groups` groups to the definitions repo at `origin`; returns the commit. */
function commitGroups(origin: string, groups: number): string {
  writeFileSync(path.join(origin, 'g.ts'), groupsSource(groups));
  git(origin, 'commit', '-qam', `${groups} groups`);
  return gitOut(origin, 'rev-parse', 'HEAD');
}

/** The definitions commit each commit of `range` in the manifests repo was rendered from, newest first. */
const renderedFrom = (remote: string, range = 'main') =>
  gitOut(remote, 'log', '--format=%(trailers:key=Paddock-Definitions-Commit,valueonly,separator=)', range).split('\n').filter(Boolean);

async function stopAll(...parts: Array<Writer | Watcher | Committer>): Promise<void> {
  for (const p of parts) await (p instanceof Watcher ? p.stop() : p instanceof Committer ? p.close() : p.committer.close());
}

const quiet: Logger = { info() {}, warn() {}, error() {} };

function writer(remote: string, dir: string, definitionsWaitMs: number, log?: Logger): Writer {
  return startWriter({ repo: remote, branch: 'main', writer: { ...testWriter(remote), gcSecret: TEST_SECRET }, definitionsDir: dir, definitionsWaitMs }, log ? { log } : {});
}

const sync = (w: Writer, who: string) => w.committer.submit({ body: { kind: 'sync', summary: `sync(definitions): ${who}` }, requestId: rid(who), requestedBy: who });
const gc = (w: Writer, group: string) => w.committer.submit({ body: { kind: 'remove', group, reason: 'gc' }, requestId: rid('gc'), requestedBy: 'pod' });

describe('a writer behind the definitions the repo was rendered from', () => {
  it('GIVEN another writer rendered newer definitions WHEN a GC call comes to a writer whose checkout lacks them THEN nothing is written until its checkout has them, and the commit keeps the new group', async () => {
    const remote = await bareRepo();
    const { origin, clones: [first, second] } = definitionsRepo(2, 2);
    const a = writer(remote, first, 60_000);
    const b = writer(remote, second, 60_000);
    try {
      await a.start();
      await sync(a, 'a');
      // g-2 is added to the definitions; a's checkout has it first, and a renders it.
      commitGroups(origin, 3);
      git(first, 'pull', '-q');
      await a.definitions.refresh([first]);
      await sync(a, 'a');
      expect(groupApp(remote, 'g-2')).toBe('active');
      const head = gitOut(remote, 'rev-parse', 'main');

      await b.start();
      let answered = false;
      const removal = gc(b, 'g-0').finally(() => (answered = true));
      await new Promise((r) => setTimeout(r, 2_500));
      expect(answered).toBe(false);
      expect(gitOut(remote, 'rev-parse', 'main')).toBe(head);

      git(second, 'pull', '-q');
      await b.definitions.refresh([second]);
      expect((await removal).commit).toBe(gitOut(remote, 'rev-parse', 'main'));
      expect(['g-0', 'g-1', 'g-2'].map((g) => groupApp(remote, g))).toEqual(['emptied', 'active', 'active']);
    } finally {
      await stopAll(a, b);
    }
  });

  it('GIVEN a tip rendered from definitions the writer never gets WHEN it has waited its limit THEN it writes with its own, saying so once', async () => {
    const remote = await bareRepo();
    const { clones: [first, second] } = definitionsRepo(2, 2);
    const warnings: string[] = [];
    const log: Logger = { info() {}, error() {}, warn: (_o: unknown, msg?: string) => void warnings.push(msg ?? '') };
    const a = writer(remote, first, 60_000);
    const b = writer(remote, second, 1_500, log);
    try {
      await a.start();
      // a renders a commit of another branch, which b's checkout never fetches.
      git(first, 'checkout', '-qb', 'elsewhere');
      writeFileSync(path.join(first, 'g.ts'), groupsSource(3));
      git(first, 'commit', '-qam', 'g-2, elsewhere');
      await a.definitions.loadAll();
      await sync(a, 'a');
      const elsewhere = gitOut(first, 'rev-parse', 'HEAD');
      expect(groupApp(remote, 'g-2')).toBe('active');

      await b.start();
      const t0 = performance.now();
      const removal = await gc(b, 'g-0');
      expect(performance.now() - t0).toBeGreaterThanOrEqual(1_400);
      expect(removal.commit).toBe(gitOut(remote, 'rev-parse', 'main'));
      expect(['g-0', 'g-1', 'g-2'].map((g) => groupApp(remote, g))).toEqual(['emptied', 'active', 'emptied']);
      expect(warnings.filter((w) => w.includes('still do not contain'))).toEqual([
        `the repo was rendered from definitions commit ${elsewhere.slice(0, 12)}, which ours (${gitOut(second, 'rev-parse', 'HEAD').slice(0, 12)}) still do not contain after ${/after (\d+\.\d) s/.exec(warnings[0])?.[1]} s: writing with ours`,
      ]);
    } finally {
      await stopAll(a, b);
    }
  });

  it('GIVEN a watcher whose sync waits WHEN its checkout then gets the newer definitions THEN it reads them and writes with them, never with the older ones', async () => {
    const remote = await bareRepo();
    const { origin, clones: [first, second] } = definitionsRepo(2, 2);
    const x1 = commitGroups(origin, 3);
    const x2 = commitGroups(origin, 4);
    git(first, 'pull', '-q');
    const a = writer(remote, first, 60_000);
    const b = writer(remote, second, 60_000);
    const w = new Watcher({ definitions: b.definitions, committer: b.committer, log: quiet, debounceMs: 5 });
    try {
      await a.start();
      await sync(a, 'a'); // rendered from x2
      await b.start();
      git(second, 'fetch', '-q');
      // b's checkout moves to x1, still behind x2: its sync waits...
      git(second, 'checkout', '-q', x1);
      w.changed(path.join(second, 'g.ts'));
      const older = w.flush();
      await new Promise((r) => setTimeout(r, 1_500));
      // ...and its checkout reaches x2: read at once, though the first sync still waits.
      git(second, 'checkout', '-q', x2);
      w.changed(path.join(second, 'g.ts'));
      await Promise.all([older, w.flush()]);
      expect(renderedFrom(remote)).not.toContain(x1);
      expect(groupApp(remote, 'g-3')).toBe('active');
    } finally {
      await stopAll(w, a, b);
    }
  });

  it('GIVEN a batch waiting for newer definitions WHEN the process stops THEN it is refused 503 at once and nothing is written', async () => {
    const remote = await bareRepo();
    const { origin, clones: [first, second] } = definitionsRepo(2, 2);
    commitGroups(origin, 3);
    git(first, 'pull', '-q');
    const a = writer(remote, first, 60_000);
    const b = writer(remote, second, 60_000);
    try {
      await a.start();
      await sync(a, 'a');
      const head = gitOut(remote, 'rev-parse', 'main');
      await b.start();
      const removal = gc(b, 'g-0');
      const refused = removal.then(() => undefined, (e: unknown) => e as Error & { code?: string });
      await new Promise((r) => setTimeout(r, 1_500));
      const t0 = performance.now();
      b.committer.stopWaiting();
      const e = await refused;
      expect(performance.now() - t0).toBeLessThan(5_000); // the next look, not the 60 s limit
      expect(e?.message).toBe('paddock is stopping, and its definitions are behind the ones the repo was rendered from');
      expect(e?.code).toBe('NotReady');
      expect(gitOut(remote, 'rev-parse', 'main')).toBe(head);
    } finally {
      await stopAll(a, b);
    }
  });

  it('GIVEN the CLI passed its first look WHEN a newer render lands before its push THEN the retry is refused too, and the newer render stays', async () => {
    const remote = await bareRepo();
    const { origin, clones: [first, second] } = definitionsRepo(3, 2);
    const a = writer(remote, first, 60_000);
    const defs = await loadDefinitionSet(second);
    const cli = new Committer({ repo: remote, branch: 'main', definitions: () => defs, writer: testWriter(remote), whenBehind: refuseBehind('push') });
    try {
      await a.start();
      await sync(a, 'a');
      await cli.refresh(); // the CLI's view: rendered from its own definitions' commit
      commitGroups(origin, 4);
      git(first, 'pull', '-q');
      await a.definitions.refresh([first]);
      await sync(a, 'a');
      const head = gitOut(remote, 'rev-parse', 'main');
      // Its optimistic push is rejected; the try from a fetch sees the newer render.
      await expect(cli.submit({ body: { kind: 'sync', summary: 'sync(definitions): push from the CLI' }, requestId: rid('cli'), requestedBy: 'cli' }))
        .rejects.toThrow(`the repo was last rendered from definitions commit ${gitOut(first, 'rev-parse', 'HEAD').slice(0, 12)}, which your checkout (at ${gitOut(second, 'rev-parse', 'HEAD').slice(0, 12)}) does not contain: push from a checkout that contains it, or give --allow-definitions-change`);
      expect(gitOut(remote, 'rev-parse', 'main')).toBe(head);
      expect(groupApp(remote, 'g-3')).toBe('active');
    } finally {
      await stopAll(cli, a);
    }
  });

  it('GIVEN a writer behind tip after tip WHEN its clock passes the limit from when it fell behind THEN it writes with its own, said once; once written, a new wait starts', async () => {
    const { clones: [dir] } = definitionsRepo(1, 1);
    const defs = await loadDefinitionSet(dir);
    const unknown = (n: number) => `${String(n).repeat(40)}`;
    const tip = (n: number) => `sync\n\nPaddock-Definitions: sha256:other\nPaddock-Definitions-Commit: ${unknown(n)}\n`;
    const warnings: string[] = [];
    let now = 0;
    const gate = new DefinitionsGate({ waitMs: 45_000 }, async (sha) => tip(Number(sha)), { info() {}, error() {}, warn: (_o: unknown, m?: string) => void warnings.push(m ?? '') }, () => now);
    expect(await gate.check('1', defs)).toBe('wait');
    now = 30_000;
    expect(await gate.check('2', defs)).toBe('wait'); // another tip, still behind: the limit counts from the first
    now = 45_000;
    expect(await gate.check('3', defs)).toBe('go');
    expect(await gate.check('3', defs)).toBe('go');
    expect(warnings).toEqual([`the repo was rendered from definitions commit ${unknown(3).slice(0, 12)}, which ours (${defs.commit!.slice(0, 12)}) still do not contain after 45.0 s: writing with ours`]);
    gate.wrote('4', defs);
    expect(await gate.check('4', defs)).toBe('go');
    now = 50_000;
    expect(await gate.check('5', defs)).toBe('wait');
  });

  it.skipIf(process.getuid?.() !== 0)('GIVEN a definitions checkout another user owns (git-sync, uid 65533) THEN its commit is read and ordered (skipped unless root: only root can give files away)', async () => {
    const { origin, clones: [dir] } = definitionsRepo(1, 1);
    const older = gitOut(dir, 'rev-parse', 'HEAD');
    commitGroups(origin, 2);
    git(dir, 'pull', '-q');
    const newer = gitOut(dir, 'rev-parse', 'HEAD');
    const chownAll = (p: string): void => {
      chownSync(p, 65533, 65533);
      for (const e of readdirSync(p, { withFileTypes: true })) e.isDirectory() ? chownAll(path.join(p, e.name)) : chownSync(path.join(p, e.name), 65533, 65533);
    };
    chownAll(dir);
    expect(await checkoutCommit(dir)).toBe(newer);
    expect(await containsCommit(dir, newer, older)).toBe(true);
    expect(await containsCommit(dir, older, newer)).toBe(false);
    expect(await containsCommit(dir, newer, '1'.repeat(40))).toBe('missing');
  });

  it('GIVEN a git-sync link swapped to the newer definitions while the first commit waits THEN that commit is rendered from them, and the watch starts on them', async () => {
    const remote = await bareRepo();
    const { origin, clones: [first] } = definitionsRepo(2, 1);
    const root = tempDir('paddock-git-sync-');
    git(origin, 'clone', '-q', origin, path.join(root, 'older'));
    const newer = commitGroups(origin, 3);
    git(first, 'pull', '-q');
    git(origin, 'clone', '-q', origin, path.join(root, 'newer'));
    symlinkSync('older', path.join(root, 'current'));
    const a = writer(remote, first, 60_000);
    const b = writer(remote, path.join(root, 'current'), 60_000);
    const w = new Watcher({ definitions: b.definitions, committer: b.committer, log: quiet, debounceMs: 5 });
    try {
      await a.start();
      await sync(a, 'a');
      await b.start();
      const started = w.start(); // its first commit waits: b has the older definitions
      await new Promise((r) => setTimeout(r, 1_000));
      symlinkSync('newer', path.join(root, 'next'));
      renameSync(path.join(root, 'next'), path.join(root, 'current'));
      await started;
      await w.watch();
      expect(renderedFrom(remote)).toEqual([newer]);
      expect(groupApp(remote, 'g-2')).toBe('active');
      expect(b.definitions.current().commit).toBe(newer);
    } finally {
      await stopAll(w, a, b);
    }
  });

  it('GIVEN a live-source commit waiting for newer definitions WHEN the checkout gets them THEN they are read at once, and no commit is rendered from the older ones', async () => {
    const remote = await bareRepo();
    const { origin, clones: [first, second] } = definitionsRepo(2, 2);
    const newer = commitGroups(origin, 3);
    git(first, 'pull', '-q');
    const a = writer(remote, first, 60_000);
    const b = writer(remote, second, 60_000);
    const feed: SourceFeed = { live: () => new Map(), synced: () => true, follow: async () => undefined };
    const w = new Watcher({ definitions: b.definitions, committer: b.committer, sources: feed, log: quiet, debounceMs: 5 });
    try {
      await a.start();
      const record = sourceRecordOf({ metadata: { namespace: 'ns', name: 'web' }, spec: { replicas: 1 } });
      await a.committer.submit({ body: { kind: 'sources', records: [record], gone: [] }, requestId: rid('src'), requestedBy: 'a' });
      await sync(a, 'a');
      const before = gitOut(remote, 'rev-parse', 'main');
      await b.start();
      w.sourceChanged('ns/web'); // gone from the cluster: a commit, which waits (b is behind)
      await new Promise((r) => setTimeout(r, 1_000));
      git(second, 'pull', '-q');
      w.changed(path.join(second, 'g.ts'));
      await w.flush();
      await expect.poll(() => gitOut(remote, 'ls-tree', '-r', '--name-only', 'main', 'state/sources/'), { timeout: 20_000 }).toBe('');
      expect(renderedFrom(remote, `${before}..main`).every((c) => c === newer)).toBe(true);
      expect(groupApp(remote, 'g-2')).toBe('active');
    } finally {
      await stopAll(w, a, b);
    }
  });

  it('GIVEN the mass-removal guard renders the last trusted definitions WHEN those are behind the tip\'s THEN the commit waits, though the given ones are newer', async () => {
    const remote = await bareRepo();
    const { origin, clones: [first, second] } = definitionsRepo(8, 2);
    const a = writer(remote, first, 60_000);
    const b = writer(remote, second, 60_000);
    try {
      await b.start();
      await sync(b, 'b'); // 8 groups: b's trusted set
      commitGroups(origin, 9);
      git(first, 'pull', '-q');
      await a.start();
      await sync(a, 'a');
      commitGroups(origin, 1);
      git(second, 'pull', '-q'); // b jumps to a set the guard refuses
      await b.definitions.refresh([second]);
      const head = gitOut(remote, 'rev-parse', 'main');
      const removal = gc(b, 'g-1').then(() => 'committed', (e: Error) => e.message);
      await new Promise((r) => setTimeout(r, 1_500));
      b.committer.stopWaiting();
      expect(await removal).toBe('paddock is stopping, and its definitions are behind the ones the repo was rendered from');
      expect(gitOut(remote, 'rev-parse', 'main')).toBe(head);
      expect(groupApp(remote, 'g-8')).toBe('active');
    } finally {
      await stopAll(a, b);
    }
  });

  it('GIVEN the git-sync link swapped between the first reading and the start of the watch THEN the watch reads the newer definitions and commits them', async () => {
    const remote = await bareRepo();
    const { origin } = definitionsRepo(2, 0);
    const root = tempDir('paddock-git-sync-');
    git(origin, 'clone', '-q', origin, path.join(root, 'older'));
    const newer = commitGroups(origin, 3);
    git(origin, 'clone', '-q', origin, path.join(root, 'newer'));
    symlinkSync('older', path.join(root, 'current'));
    const b = writer(remote, path.join(root, 'current'), 60_000);
    const w = new Watcher({ definitions: b.definitions, committer: b.committer, log: quiet, debounceMs: 5 });
    try {
      await b.start();
      await w.start();
      symlinkSync('newer', path.join(root, 'next'));
      renameSync(path.join(root, 'next'), path.join(root, 'current'));
      await w.watch();
      await expect.poll(() => renderedFrom(remote)[0], { timeout: 20_000 }).toBe(newer);
      expect(groupApp(remote, 'g-2')).toBe('active');
    } finally {
      await stopAll(w, b);
    }
  });
});
