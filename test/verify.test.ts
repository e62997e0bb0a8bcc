/**
 * `paddock verify` (CONTRACT "Commands"): every commit equals synth(definitions, its own state/),
 * and a commit that does not (a hand edit) is named with its files.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { paddock } from './helpers/cli.ts';
import { bareRepo, gitOut } from './helpers/repo.ts';
import { definitionsDir, TEST_SECRET, tempDir } from './helpers/synth.ts';

const app = (image: string, replicas = 1) => `
import { ApiObject } from 'cdk8s';
import { Environment } from 'paddock';
export default (scope) => {
  for (const name of ['shop', 'blog']) {
    const env = new Environment(scope, name, { namespace: name });
    new ApiObject(env, 'web', { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web' },
      spec: { replicas: ${replicas}, selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'web', image: '${image}' }] } } } });
  }
};`;

const git = (cwd: string, ...args: string[]) => execFileSync('git', args, { cwd, encoding: 'utf8', env: { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@t', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@t' } });
const env = { PADDOCK_GC_SECRET: TEST_SECRET };

describe('paddock verify', () => {
  it('GIVEN a history made from definitions that changed in their own git repo THEN verify --all reproduces every commit from each one\'s definitions commit; a hand edit of an image is named and exits 1', async () => {
    const remote = await bareRepo();
    // definitions in a git checkout, in a subdirectory, as a platform repo keeps them
    const checkout = definitionsDir({ 'envs/app.ts': app('web:1') });
    git(checkout, 'init', '-q', '-b', 'main');
    git(checkout, 'add', '.');
    git(checkout, 'commit', '-qm', 'v1');
    const dir = path.join(checkout, 'envs');
    const push = async () => {
      const r = await paddock(['push', '--repo', remote, '--definitions', dir], { env });
      expect(r.code, r.stderr).toBe(0);
    };
    await push();
    const demolish = await paddock(['demolish', '--repo', remote, '--definitions', dir, 'blog'], { env });
    expect(demolish.code, demolish.stderr).toBe(0);
    for (const [image, replicas] of [['web:2', 2], ['web:3', 3]] as const) {
      writeFileSync(path.join(dir, 'app.ts'), app(image, replicas));
      git(checkout, 'commit', '-qam', image);
      await push();
    }
    expect(gitOut(remote, 'log', '-1', '--format=%B', 'main')).toContain(`Paddock-Definitions-Commit: ${git(checkout, 'rev-parse', 'HEAD').trim()}`);

    const all = await paddock(['verify', '--repo', remote, '--definitions', dir, '--all'], { env });
    expect(all.code, all.stdout + all.stderr).toBe(0);
    expect(all.stdout.trim().split('\n').filter((l) => l.startsWith('verified '))).toHaveLength(5);
    expect(all.stdout).toContain('verified 4 commits');

    const tip = await paddock(['verify', '--repo', remote, '--definitions', dir], { env: { PADDOCK_GC_SECRET: undefined } });
    expect(tip.code, tip.stderr).toBe(0);
    expect(tip.stdout.trim()).toBe(`verified ${gitOut(remote, 'rev-parse', 'main')}`);
    expect(tip.stderr).toMatch(/GC tokens are compared as placeholders/);

    const wrong = await paddock(['verify', '--repo', remote, '--definitions', dir], { env: { PADDOCK_GC_SECRET: 'wrong' } });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/the GC secret given is not the one of this commit/);

    // a hand edit: the image of shop's Deployment changed, committed and pushed by someone
    const work = path.join(tempDir(), 'w');
    git(path.dirname(work), 'clone', '-q', '-b', 'main', remote, work);
    const file = 'groups/shop/deployment-web.yaml';
    const text = git(work, 'show', `HEAD:${file}`);
    writeFileSync(path.join(work, file), text.replace('image: web:3', 'image: evil:latest'));
    git(work, 'commit', '-qam', 'quick fix');
    git(work, 'push', '-q', 'origin', 'main');
    const caught = await paddock(['verify', '--repo', remote, '--definitions', dir], { env });
    expect(caught.code).toBe(1);
    expect(caught.stdout).toContain(`M ${file}`);
    expect(caught.stderr).toMatch(new RegExp(`^paddock: ${gitOut(remote, 'rev-parse', 'main')} \\(quick fix\\) does not reproduce: 1 file differs \\(${file}\\)\\n$`));
    const history = await paddock(['verify', '--repo', remote, '--definitions', dir, '--all'], { env });
    expect(history.code).toBe(1);
    expect(history.stdout).toContain(`M ${file}`);
    expect(history.stdout.split('\n').filter((l) => l.startsWith('verified '))).toHaveLength(4);
  });

  it('GIVEN definitions that are not the ones that made a commit and no checkout to find them in THEN verify says so and exits 1', async () => {
    const remote = await bareRepo();
    const dir = definitionsDir({ 'app.ts': app('web:1') });
    const r = await paddock(['push', '--repo', remote, '--definitions', dir], { env });
    expect(r.code, r.stderr).toBe(0);
    writeFileSync(path.join(dir, 'app.ts'), app('web:9'));
    const v = await paddock(['verify', '--repo', remote, '--definitions', dir], { env });
    expect(v.code).toBe(1);
    expect(v.stderr).toMatch(/^paddock: cannot reproduce \S+ \(sync\(definitions\): push from the CLI\): the definitions that made it are not available: its digest is sha256:\S+, \S+ gives sha256:\S+\n$/);
  });
});
