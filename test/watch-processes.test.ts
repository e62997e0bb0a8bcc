/**
 * Two real `paddock watch` processes on one repo, no cluster: the lock file decides which of
 * them commits TTL removals. The leader is killed with SIGKILL; the other takes over.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { messagesOf } from '../src/log.ts';
import { paddock, PADDOCK_BIN } from './helpers/cli.ts';
import { bareRepo, gitOut, remoteFiles } from './helpers/repo.ts';
import { definitionsDir, tempDir } from './helpers/synth.ts';

const ttlGroup = (group: string, ttl: string) => `
import { ApiObject } from 'cdk8s';
import { Environment } from 'paddock';
export default (scope) => {
  const env = new Environment(scope, '${group}', { namespace: '${group}', ttl: '${ttl}' });
  new ApiObject(env, 'cm', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'settings' }, data: { ttl: '${ttl}' } });
};`;

interface Watch {
  readonly child: ChildProcess;
  readonly out: () => string;
}

const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

function startWatch(cwd: string, remote: string, dir: string): Promise<Watch> {
  const env: NodeJS.ProcessEnv = { ...process.env, PADDOCK_GC_SECRET: 'two-watchers-secret' };
  const child = spawn(process.execPath, [PADDOCK_BIN, 'watch', '--repo', remote, '--definitions', dir], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  return new Promise((resolve, reject) => {
    const t = setInterval(() => {
      if (/paddock watch: watching/.test(out)) {
        clearInterval(t);
        resolve({ child, out: () => messagesOf(out) });
      }
    }, 50);
    child.once('exit', (code) => (clearInterval(t), reject(new Error(`paddock watch exited ${code}: ${out}`))));
  });
}

async function until(what: string, ok: () => boolean, timeoutMs: number): Promise<void> {
  for (const end = Date.now() + timeoutMs; !ok(); await new Promise((r) => setTimeout(r, 100))) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
  }
}

/** `Paddock-Requested-By` of the commit that wrote `state/removals/<group>.yaml`. */
const removedBy = (remote: string, group: string) =>
  /Paddock-Requested-By: (.*)/.exec(gitOut(remote, 'log', '-1', '--format=%B', 'main', '--', `state/removals/${group}.yaml`))?.[1];

describe('two watcher processes on one repo (lock file)', () => {
  it('GIVEN two paddock watch processes WHEN TTLs run out THEN only the leader commits the removal; after it is killed -9 the other takes over', async () => {
    const remote = await bareRepo();
    const dir = definitionsDir({ 'first.ts': ttlGroup('first', '12s'), 'second.ts': ttlGroup('second', '30s'), 'stays.ts': ttlGroup('stays', '1h') });
    const cwd = tempDir('paddock-two-watchers-');

    const a = await startWatch(cwd, remote, dir);
    await until('the first commit', () => remoteFiles(remote).includes('apps/first.yaml'), 30_000);
    const expiresAt = Date.parse(gitOut(remote, 'show', 'main:apps/first.yaml').match(/paddock\.dev\/expires-at: "?([^"\n]+)"?/)![1]);
    const b = await startWatch(cwd, remote, dir);
    // Both are up before the first TTL runs out, so either could commit its removal.
    expect(Date.now()).toBeLessThan(expiresAt);

    await until('the removal of "first"', () => remoteFiles(remote).includes('state/removals/first.yaml'), 40_000);
    const pidA = a.child.pid!;
    const pidB = b.child.pid!;
    expect(removedBy(remote, 'first')).toMatch(new RegExp(`^paddock watcher ${pidA}@\\S+ \\(ttl\\)$`));
    // Give b a few ticks as a follower: it never led, and committed nothing.
    await new Promise((r) => setTimeout(r, 3_000));
    expect(a.out()).toMatch(new RegExp(`^leader: ${pidA}@\\S+ now runs TTL removals$`, 'm'));
    expect(b.out()).not.toMatch(/^leader: /m);
    expect(b.out()).not.toMatch(/^commit .*remove\(group\/first\)/m);
    expect(gitOut(remote, 'log', '--format=%s', 'main').split('\n').filter((s) => s.startsWith('remove(group/first)'))).toHaveLength(1);

    // The leader dies without letting go of the lock; the other sees its process gone and takes over.
    a.child.kill('SIGKILL');
    await new Promise((r) => a.child.once('close', r));
    expect(remoteFiles(remote)).toContain('apps/second.yaml');
    await until('the removal of "second"', () => remoteFiles(remote).includes('state/removals/second.yaml'), 60_000);
    expect(b.out()).toMatch(new RegExp(`^leader: ${pidB}@\\S+ now runs TTL removals$`, 'm'));
    expect(removedBy(remote, 'second')).toMatch(new RegExp(`^paddock watcher ${pidB}@\\S+ \\(ttl\\)$`));
    // The push lands before the process prints its commit line: wait for the line, not a fixed time.
    await until('b printing its commit line', () => /^commit \S+ remove\(group\/second\): /m.test(b.out()), 10_000);
    expect(remoteFiles(remote)).toContain('apps/stays.yaml');
    expect(gitOut(remote, 'rev-list', '--merges', 'main')).toBe('');

    b.child.kill('SIGINT');
    await new Promise((r) => b.child.once('close', r));
  }, 150_000);

  it.each([
    [['--follow-every', '500ms'], /--follow-every "500ms" is not a duration of at least 1s/],
    [['--follow-every', 'often'], /--follow-every "often" is not a duration of at least 1s/],
    [['--retire-after', 'later'], /--retire-after "later" is not a duration such as 10m/],
    [['--definitions', '/nonexistent-paddock-defs'], /\/nonexistent-paddock-defs: no such definitions directory/],
  ])('GIVEN paddock watch %j THEN it exits 1 naming the flag, and the repo is untouched', async (flags, message) => {
    const remote = await bareRepo();
    const dir = definitionsDir({ 'g.ts': ttlGroup('g', '1h') });
    const r = await paddock(['watch', '--repo', remote, '--definitions', dir, ...flags], { env: { PADDOCK_GC_SECRET: 's' }, cwd: tempDir('paddock-watch-flags-') });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(message);
    expect(gitOut(remote, 'rev-list', '--all')).toBe('');
  });

  it('GIVEN a KUBECONFIG that cannot be read WHEN paddock watch starts THEN it exits 1 naming it (no stack trace), and the repo is untouched', async () => {
    const remote = await bareRepo();
    const dir = definitionsDir({ 'g.ts': ttlGroup('g', '1h') });
    const r = await paddock(['watch', '--repo', remote, '--definitions', dir], { env: { PADDOCK_GC_SECRET: 's', KUBECONFIG: '/nonexistent-paddock/kubeconfig' }, cwd: tempDir('paddock-watch-kube-') });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/KUBECONFIG "\/nonexistent-paddock\/kubeconfig" cannot be read: ENOENT/);
    expect(r.stderr).not.toMatch(/internal error|    at /);
    expect(gitOut(remote, 'rev-list', '--all')).toBe('');
  });
});
