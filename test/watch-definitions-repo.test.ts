/**
 * `paddock watch --definitions-repo URL`: paddock keeps the definitions repo checked out itself
 * (as git-sync would beside it), commits what it holds, and follows its new commits.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { paddock, startWatch } from './helpers/cli.ts';
import { bareRepo, gitOut, groupsSource, remoteFiles } from './helpers/repo.ts';
import { definitionsDir, TEST_SECRET, tempDir } from './helpers/synth.ts';

/** A work repo holding `files` under environments/, committed; its path and a commit function. */
function definitionsRepo(files: Record<string, string>) {
  const dir = definitionsDir(Object.fromEntries(Object.entries(files).map(([f, src]) => [`environments/${f}`, src])));
  const git = (...args: string[]) => execFileSync('git', args, { cwd: dir, encoding: 'utf8' }).trim();
  git('init', '-q', '--initial-branch=main');
  const commit = (message: string) => {
    git('add', '-A');
    git('-c', 'user.name=dev', '-c', 'user.email=dev@example.com', 'commit', '-q', '-m', message);
    return git('rev-parse', 'HEAD');
  };
  return { dir, commit };
}

describe('paddock watch --definitions-repo', () => {
  it('GIVEN a definitions repo WHEN watch fetches it itself THEN its groups are committed with its commit named, and a new commit there is followed', async () => {
    const defs = definitionsRepo({ 'g.ts': groupsSource(2) });
    const first = defs.commit('two groups');
    const remote = await bareRepo();
    const tmp = tempDir();
    const w = await startWatch(['--repo', remote, '--definitions-repo', defs.dir, '--definitions', 'environments', '--follow-every', '1s'], { PADDOCK_GC_SECRET: TEST_SECRET, TMPDIR: tmp });
    try {
      expect(remoteFiles(remote)).toEqual(expect.arrayContaining(['apps/g-0.yaml', 'apps/g-1.yaml']));
      expect(gitOut(remote, 'log', '-1', '--format=%B', 'main')).toContain(`Paddock-Definitions-Commit: ${first}`);

      writeFileSync(path.join(defs.dir, 'environments/g.ts'), groupsSource(3));
      const second = defs.commit('three groups');
      const deadline = Date.now() + 30_000;
      while (!remoteFiles(remote).includes('apps/g-2.yaml') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
      expect(remoteFiles(remote)).toContain('apps/g-2.yaml');
      expect(gitOut(remote, 'log', '-1', '--format=%B', 'main')).toContain(`Paddock-Definitions-Commit: ${second}`);
    } finally {
      await w.stop();
    }
    // Its checkout goes with it.
    expect(readdirSync(tmp).filter((f) => f.startsWith('paddock-definitions-'))).toEqual([]);
  }, 90_000);

  it('GIVEN a definitions repo that cannot be fetched, or lacks the directory THEN one line says which, exit 1', async () => {
    const env = { PADDOCK_GC_SECRET: TEST_SECRET };
    const remote = await bareRepo();
    const missing = path.join(tempDir(), 'no-such-defs.git');
    const r = await paddock(['watch', '--repo', remote, '--definitions-repo', missing], { env });
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toMatch(new RegExp(`^paddock: --definitions-repo ${missing}: cannot fetch it \\(.*\\)$`));
    const defs = definitionsRepo({ 'g.ts': groupsSource(1) });
    defs.commit('one group');
    const lacking = await paddock(['watch', '--repo', remote, '--definitions-repo', defs.dir, '--definitions', 'elsewhere'], { env });
    expect([lacking.code, lacking.stderr.trim()]).toEqual([1, `paddock: --definitions-repo ${defs.dir} has no directory elsewhere`]);
    expect(existsSync(path.join(remote, 'refs/heads/main'))).toBe(false);

    // A KUBECONFIG that cannot be read ends it before anything is fetched: nothing left running or on disk.
    const tmp = tempDir();
    const kube = await paddock(['watch', '--repo', remote, '--definitions-repo', defs.dir], { env: { ...env, TMPDIR: tmp, KUBECONFIG: path.join(tmp, 'no-kubeconfig') }, timeoutMs: 30_000 });
    expect([kube.code, kube.stderr]).toEqual([1, expect.stringMatching(/^paddock: KUBECONFIG ".*no-kubeconfig" cannot be read/)]);
    expect(readdirSync(tmp).filter((f) => f.startsWith('paddock-definitions-'))).toEqual([]);
  }, 90_000);
});
