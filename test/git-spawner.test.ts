/**
 * git through the helper process (src/repo/git/spawner.ts): the same answers as git started
 * here, failures with git's own message, and a helper that dies is replaced.
 */
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { gitBytes, gitText } from '../src/repo/git/index.ts';
import { bareRepo } from './helpers/repo.ts';

/** The helper's pid: the only child of this process running `node -e`. */
function helperPids(): number[] {
  const out = execFileSync('ps', ['-o', 'pid=,args=', '--ppid', String(process.pid)], { encoding: 'utf8' });
  return out.split('\n').filter((l) => /\bnode\b.* -e /.test(l) || /-e\s+\n?const \{ spawn \}/.test(l)).map((l) => Number(l.trim().split(/\s+/)[0]));
}

describe('git through the helper process', () => {
  it('GIVEN commands with stdin, binary output and failures THEN the answers are git\'s own, and no process of git is this one\'s child', async () => {
    const repo = await bareRepo();
    const sha = (await gitText(repo, ['hash-object', '-w', '--stdin'], { input: 'hello\n' })).trim();
    expect(sha).toMatch(/^[0-9a-f]{40}$/);
    const blob = await gitBytes(repo, ['cat-file', 'blob', sha]);
    expect(Buffer.isBuffer(blob)).toBe(true);
    expect(blob.toString()).toBe('hello\n');
    await expect(gitText(repo, ['rev-parse', '--verify', 'no-such-ref'])).rejects.toThrow(/Needed a single revision/);
    // git ran in the helper: this process has one child, the helper, and no git.
    const children = execFileSync('ps', ['-o', 'args=', '--ppid', String(process.pid)], { encoding: 'utf8' });
    expect(children).not.toMatch(/^git /m);
    expect(helperPids()).toHaveLength(1);
  });

  it('GIVEN the helper killed THEN the next command starts another and answers', async () => {
    const repo = await bareRepo();
    await gitText(repo, ['rev-parse', '--git-dir']);
    const [pid] = helperPids();
    expect(pid).toBeGreaterThan(0);
    process.kill(pid, 'SIGKILL');
    await expect.poll(() => helperPids().includes(pid), { timeout: 5_000, interval: 20 }).toBe(false);
    // The first command after it answers (here, or through a new helper), and a helper runs again.
    expect((await gitText(repo, ['rev-parse', '--git-dir'])).trim()).toBe('.');
    expect((await gitText(repo, ['rev-parse', '--git-dir'])).trim()).toBe('.');
    expect(helperPids()).toHaveLength(1);
    expect(helperPids()[0]).not.toBe(pid);
  });
});
