/**
 * Writers that run on (watcher, sidecar), each with its own checkout of the definitions repo
 * (git-sync per pod): one whose checkout is behind the definitions the repo was last rendered
 * from waits for them before it writes, instead of undoing them.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { startWriter, type Writer } from '../src/runtime.ts';
import type { Logger } from '../src/repo/committer.ts';
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
      writeFileSync(path.join(origin, 'g.ts'), groupsSource(3));
      git(origin, 'commit', '-qam', 'g-2');
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
      await a.committer.close();
      await b.committer.close();
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
        `the repo was rendered from definitions commit ${elsewhere.slice(0, 12)}, which ours (${gitOut(second, 'rev-parse', 'HEAD').slice(0, 12)}) still do not contain after 2 s: writing with ours`,
      ]);
    } finally {
      await a.committer.close();
      await b.committer.close();
    }
  });
});
