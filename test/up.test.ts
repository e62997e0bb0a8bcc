/**
 * `npm start` = `paddock up`, run as a person would: in a fresh directory holding only
 * environments/, it creates .paddock/, commits, serves and prints a GC curl that works.
 */
import { spawn } from 'node:child_process';
import { cpSync, existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { PADDOCK_BIN, REPO_ROOT, run } from './helpers/cli.ts';
import { freePort } from './helpers/git-daemon.ts';
import { commitCount, gitOut, groupApp, remoteFiles } from './helpers/repo.ts';
import { tempDir } from './helpers/synth.ts';

describe('paddock up (npm start)', () => {
  it('GIVEN a fresh directory with environments/ WHEN paddock up runs THEN it prints the summary and a curl that removes that group, and the watcher does not bring it back', async () => {
    const cwd = tempDir('paddock-up-');
    cpSync(path.join(REPO_ROOT, 'environments'), path.join(cwd, 'environments'), { recursive: true });
    const port = await freePort();
    const child = spawn(process.execPath, [PADDOCK_BIN, 'up', '--listen', `127.0.0.1:${port}`], { cwd, env: { ...process.env, PADDOCK_GC_SECRET: '', PADDOCK_REPO: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    try {
      await new Promise<void>((resolve, reject) => {
        const t = setInterval(() => /Ctrl-C stops/.test(out) && (clearInterval(t), resolve()), 50);
        child.once('exit', (code) => reject(new Error(`up exited ${code}: ${out}${err}`)));
      });
      const repo = path.join(cwd, '.paddock/manifests.git');
      expect(out).toContain(`paddock is up. Manifests repo: ${repo}`);
      expect(existsSync(path.join(cwd, '.paddock/gc-secret'))).toBe(true);
      expect(out).toMatch(/^batch-app\s+batch\s+3\s+6h$/m);
      expect(out).toContain(`sidecar:  http://127.0.0.1:${port}`);
      const curl = /^\s+(curl -X POST http:\/\/127\.0\.0\.1:\d+\/gc\/\S+ .*)$/m.exec(out)?.[1];
      const group = /a pod of group (\S+) ends its group/.exec(out)?.[1];
      expect(curl).toBeDefined();
      expect(remoteFiles(repo)).toContain(`apps/${group}.yaml`);

      const before = commitCount(repo);
      const r = await run('sh', ['-c', curl!]);
      expect(r.code, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ group, status: 'removed' });
      expect(commitCount(repo)).toBe(before + 1);
      expect(groupApp(repo, group!)).toBe('emptied');

      // an edit elsewhere makes the watcher commit again; the removed group stays removed
      const f = path.join(cwd, 'environments/release-web.ts');
      const src = (await import('node:fs')).readFileSync(f, 'utf8');
      writeFileSync(f, src.replace("serviceAttributes: { replicas: '2' }", "serviceAttributes: { replicas: '3' }"));
      const deadline = Date.now() + 30_000;
      while (commitCount(repo) === before + 1 && Date.now() < deadline) await new Promise((res) => setTimeout(res, 100));
      expect(commitCount(repo)).toBe(before + 2);
      expect(gitOut(repo, 'log', '-1', '--format=%s', 'main')).toBe('sync(definitions): environments/release-web.ts changed');
      expect(groupApp(repo, group!)).toBe('emptied');
    } finally {
      child.kill('SIGINT');
      await new Promise((res) => child.once('close', res));
    }
    expect(out).toMatch(/SIGINT: stopping/);
    expect(out).toMatch(/\nstopped\n/);
  }, 120_000);

  it('GIVEN environments/ in a git checkout whose commit the local repo was rendered from is gone (amended) WHEN paddock up starts again THEN it serves at once: it is the only writer of its repo, so it never waits for definitions', async () => {
    const cwd = tempDir('paddock-up-git-');
    cpSync(path.join(REPO_ROOT, 'environments'), path.join(cwd, 'environments'), { recursive: true });
    const git = (...args: string[]) => gitOut(cwd, '-c', 'user.name=t', '-c', 'user.email=t@t', ...args);
    git('init', '-q', '-b', 'main');
    writeFileSync(path.join(cwd, '.gitignore'), '.paddock/\n');
    git('add', '.');
    git('commit', '-qm', 'environments');
    const first = git('rev-parse', 'HEAD');
    const up = async () => {
      const port = await freePort();
      const child = spawn(process.execPath, [PADDOCK_BIN, 'up', '--listen', `127.0.0.1:${port}`], { cwd, env: { ...process.env, PADDOCK_GC_SECRET: '', PADDOCK_REPO: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (d) => (out += d));
      child.stderr.on('data', (d) => (out += d));
      await new Promise<void>((resolve, reject) => {
        const t = setInterval(() => /Ctrl-C stops/.test(out) && (clearInterval(t), resolve()), 50);
        child.once('exit', (code) => reject(new Error(`up exited ${code}: ${out}`)));
      });
      child.kill('SIGINT');
      await new Promise((res) => child.once('close', res));
      return out;
    };
    await up();
    const repo = path.join(cwd, '.paddock/manifests.git');
    expect(gitOut(repo, 'log', '-1', '--format=%(trailers:key=Paddock-Definitions-Commit,valueonly,separator=)', 'main')).toBe(first);
    // The commit is amended away with an edit: the repo's definitions commit is in no history now.
    const f = path.join(cwd, 'environments/release-web.ts');
    writeFileSync(f, (await import('node:fs')).readFileSync(f, 'utf8').replace("serviceAttributes: { replicas: '2' }", "serviceAttributes: { replicas: '3' }"));
    git('commit', '-qa', '--amend', '-m', 'environments, amended');
    const out = await up();
    expect(out).not.toMatch(/waiting for them before writing|still do not contain/);
    expect(gitOut(repo, 'log', '-1', '--format=%(trailers:key=Paddock-Definitions-Commit,valueonly,separator=)', 'main')).toBe(git('rev-parse', 'HEAD'));
  }, 120_000);

  it('GIVEN a KUBECONFIG that cannot be read WHEN paddock up starts THEN it exits 1 naming it, before it makes a repo', async () => {
    const cwd = tempDir('paddock-up-kube-');
    cpSync(path.join(REPO_ROOT, 'environments'), path.join(cwd, 'environments'), { recursive: true });
    const r = await run(process.execPath, [PADDOCK_BIN, 'up', '--listen', `127.0.0.1:${await freePort()}`], { cwd, env: { PADDOCK_GC_SECRET: '', PADDOCK_REPO: '', KUBECONFIG: '/nonexistent-paddock/kubeconfig' } });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/KUBECONFIG "\/nonexistent-paddock\/kubeconfig" cannot be read: ENOENT/);
    expect(existsSync(path.join(cwd, '.paddock/manifests.git'))).toBe(false);
  }, 60_000);
});
