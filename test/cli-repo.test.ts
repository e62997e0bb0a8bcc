import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { paddock, run, startServe } from './helpers/cli.ts';
import { freePort } from './helpers/git-daemon.ts';
import { bareRepo, commitCount, gitOut, groupApp, groupsSource, remoteFile, remoteFiles } from './helpers/repo.ts';
import { definitionsDir, tempDir } from './helpers/synth.ts';

const env = { PADDOCK_GC_SECRET: 'cli-secret', PADDOCK_SIDECAR_URL: 'http://127.0.0.1:0' };

describe('paddock push / demolish / revive / status', () => {
  it('GIVEN definitions WHEN pushed twice THEN one commit, then "nothing changed"', async () => {
    const remote = await bareRepo();
    const dir = definitionsDir({ 'g.ts': groupsSource(5) });
    const first = await paddock(['push', '--repo', remote, '--definitions', dir], { env });
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/^commit [0-9a-f]{8} sync\(definitions\): push from the CLI \(\d+ files/m);
    const second = await paddock(['push', '--repo', remote, '--definitions', dir], { env });
    expect(second.stdout.trim()).toBe('nothing changed: no commit');
    expect(commitCount(remote)).toBe(1);
  });

  it('GIVEN a pushed repo WHEN groups are demolished and one revived THEN the repo follows, and status shows it', async () => {
    const remote = await bareRepo();
    const dir = definitionsDir({ 'g.ts': groupsSource(5) });
    await paddock(['push', '--repo', remote, '--definitions', dir], { env });
    const d = await paddock(['demolish', '--repo', remote, '--definitions', dir, 'g-1', 'g-2'], { env });
    expect(d.code).toBe(0);
    expect(groupApp(remote, 'g-1')).toBe('emptied');
    expect(groupApp(remote, 'g-2')).toBe('emptied');
    expect(YAML.parse(remoteFile(remote, 'state/removals/g-1.yaml')).reason).toBe('demolish');
    expect(commitCount(remote)).toBe(2); // both removals in one commit

    const r = await paddock(['revive', '--repo', remote, '--definitions', dir, 'g-1'], { env });
    expect(r.code).toBe(0);
    expect(remoteFiles(remote)).toContain('apps/g-1.yaml');

    const s = await paddock(['status', '--repo', remote, '--definitions', dir], { env });
    expect(s.code).toBe(0);
    expect(s.stdout).toMatch(/^g-1\s+active/m);
    expect(s.stdout).toMatch(/^g-2\s+removed \(demolish\) \S+ ago, retiring\s/m);
    expect(s.stdout).toMatch(/LAST COMMIT [0-9a-f]+ revive\(group\/g-1\): undo its removal/);
  });

  it('GIVEN --all WHEN demolished THEN every group goes in one commit; unknown groups and bad usage are one-line errors', async () => {
    const remote = await bareRepo();
    const dir = definitionsDir({ 'g.ts': groupsSource(3) });
    await paddock(['push', '--repo', remote, '--definitions', dir], { env });
    const head = gitOut(remote, 'rev-parse', 'main');
    const bad = await paddock(['demolish', '--repo', remote, '--definitions', dir, 'nope'], { env });
    expect(bad.code).toBe(1);
    expect(bad.stderr.trim()).toBe('paddock: "nope" is not defined; nothing was demolished');
    // All or nothing: a known group named beside unknown ones is not removed either.
    const mixed = await paddock(['demolish', '--repo', remote, '--definitions', dir, 'g-0', 'nope', 'nada'], { env });
    expect(mixed.code).toBe(1);
    expect(mixed.stderr.trim()).toBe('paddock: "nope", "nada" are not defined; nothing was demolished');
    expect(gitOut(remote, 'rev-parse', 'main')).toBe(head);
    const none = await paddock(['demolish', '--repo', remote, '--definitions', dir], { env });
    expect(none.stderr.trim()).toBe('paddock: name the groups to demolish, or give --all');
    const all = await paddock(['demolish', '--repo', remote, '--definitions', dir, '--all'], { env });
    expect(all.code).toBe(0);
    expect([0, 1, 2].map((i) => groupApp(remote, `g-${i}`))).toEqual(['emptied', 'emptied', 'emptied']);
    expect(remoteFiles(remote).filter((f) => f.startsWith('groups/'))).toEqual([]);
  });

  it('GIVEN definitions that are not the ones the repo was last rendered from, in no git checkout WHEN demolishing or reviving THEN refused when they would drop live groups, naming them, HEAD unchanged; newer ones go', async () => {
    const remote = await bareRepo();
    const current = definitionsDir({ 'g.ts': groupsSource(4) });
    expect((await paddock(['push', '--repo', remote, '--definitions', current], { env })).code).toBe(0);
    expect((await paddock(['demolish', '--repo', remote, '--definitions', current, 'g-0'], { env })).code).toBe(0);
    const head = gitOut(remote, 'rev-parse', 'main');
    // A stale copy: it lacks g-3, which another writer added.
    const stale = definitionsDir({ 'g.ts': groupsSource(3) });
    for (const args of [['demolish', 'g-1'], ['revive', 'g-0']]) {
      const r = await paddock([...args, '--repo', remote, '--definitions', stale], { env });
      expect(r.stderr.trim()).toMatch(new RegExp(`^paddock: your definitions are not the ones the repo was last rendered from \\(sha256:[0-9a-f]{64}\\), and would also remove g-3: ${args[0]} from those definitions, or give --allow-definitions-change$`));
      expect(r.code).toBe(1);
    }
    expect(gitOut(remote, 'rev-parse', 'main')).toBe(head);
    // Newer definitions (the watcher has not caught up with g-4 yet) drop nothing: they go.
    const newer = definitionsDir({ 'g.ts': groupsSource(5) });
    const ok = await paddock(['demolish', '--repo', remote, '--definitions', newer, 'g-1'], { env });
    expect(ok.code, ok.stderr).toBe(0);
    expect(['g-1', 'g-3', 'g-4'].map((g) => groupApp(remote, g))).toEqual(['emptied', 'active', 'active']);
    // Forced: the stale render goes, and with it g-3 and g-4.
    const forced = await paddock(['revive', '--repo', remote, '--definitions', stale, '--allow-definitions-change', 'g-0'], { env });
    expect(forced.code, forced.stderr).toBe(0);
    expect(['g-0', 'g-3', 'g-4'].map((g) => groupApp(remote, g))).toEqual(['active', 'emptied', 'emptied']);
  });

  it('GIVEN definitions in a git checkout WHEN demolishing, pushing or setting a setting THEN a checkout that contains the commit the repo was last rendered from goes; an older one or another branch is refused, naming both commits', async () => {
    const remote = await bareRepo();
    const repo = definitionsDir({ 'g.ts': groupsSource(3) });
    const git = (...args: string[]) => gitOut(repo, ...args);
    git('init', '-q', '-b', 'main');
    git('add', '.');
    git('-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-qm', 'three groups');
    const first = git('rev-parse', 'HEAD');
    expect((await paddock(['push', '--repo', remote, '--definitions', repo], { env })).code).toBe(0);
    // Someone deletes g-2 from the definitions and pushes them.
    writeFileSync(path.join(repo, 'g.ts'), groupsSource(2));
    git('-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-qam', 'g-2 goes');
    const second = git('rev-parse', 'HEAD');
    expect((await paddock(['push', '--repo', remote, '--definitions', repo], { env })).code).toBe(0);
    expect(groupApp(remote, 'g-2')).toBe('emptied');
    const head = gitOut(remote, 'rev-parse', 'main');

    // A checkout of the first commit drops no group, but would bring g-2 back: refused.
    const old = path.join(tempDir('paddock-defs-old-'), 'old');
    git('worktree', 'add', '-q', '--detach', old, first);
    const r = await paddock(['demolish', '--repo', remote, '--definitions', old, 'g-0'], { env });
    expect(r.stderr.trim()).toBe(`paddock: the repo was last rendered from definitions commit ${second.slice(0, 12)}, which your checkout (at ${first.slice(0, 12)}) does not contain: demolish from a checkout that contains it, or give --allow-definitions-change`);
    expect(r.code).toBe(1);
    // push too: it would bring g-2 back (git, likewise, refuses a push that is no fast-forward).
    const p = await paddock(['push', '--repo', remote, '--definitions', old], { env });
    expect(p.stderr.trim()).toBe(`paddock: the repo was last rendered from definitions commit ${second.slice(0, 12)}, which your checkout (at ${first.slice(0, 12)}) does not contain: push from a checkout that contains it, or give --allow-definitions-change`);
    // settings set renders the whole tree as well.
    const st = await paddock(['settings', 'set', 'sidecarUrl', 'http://gc.example:8080', '--repo', remote, '--definitions', old], { env });
    expect(st.stderr.trim()).toBe(`paddock: the repo was last rendered from definitions commit ${second.slice(0, 12)}, which your checkout (at ${first.slice(0, 12)}) does not contain: settings set from a checkout that contains it, or give --allow-definitions-change`);
    // Another branch off the first commit, with a group of its own: refused too.
    const branch = path.join(tempDir('paddock-defs-branch-'), 'branch');
    git('worktree', 'add', '-q', '-b', 'other', branch, first);
    writeFileSync(path.join(branch, 'g.ts'), groupsSource(4));
    gitOut(branch, '-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-qam', 'four groups');
    const other = await paddock(['demolish', '--repo', remote, '--definitions', branch, 'g-0'], { env });
    expect(other.stderr.trim()).toBe(`paddock: the repo was last rendered from definitions commit ${second.slice(0, 12)}, which your checkout (at ${gitOut(branch, 'rev-parse', 'HEAD').slice(0, 12)}) does not contain: demolish from a checkout that contains it, or give --allow-definitions-change`);
    expect(other.code).toBe(1);
    expect(gitOut(remote, 'rev-parse', 'main')).toBe(head);

    // A newer commit (the repo not rendered from it yet) goes, and renders it.
    writeFileSync(path.join(repo, 'h.ts'), groupsSource(1, 'h'));
    git('add', 'h.ts');
    git('-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-qm', 'h groups');
    const ok = await paddock(['demolish', '--repo', remote, '--definitions', repo, 'g-0'], { env });
    expect(ok.code, ok.stderr).toBe(0);
    expect(['g-0', 'h-0'].map((g) => groupApp(remote, g))).toEqual(['emptied', 'active']);
  });

  it('GIVEN an unreachable remote WHEN pushed THEN one line says so, exit 1', async () => {
    const r = await paddock(['push', '--repo', 'git://127.0.0.1:9/nothing.git', '--definitions', definitionsDir({ 'g.ts': groupsSource(1) })], { env });
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^paddock: manifests repo unavailable: the remote cannot be reached/);
  });

  it('GIVEN a missing definitions directory and an unreachable remote WHEN pushed, demolished or revived THEN the directory is the one line (the fetch runs while definitions load), exit 1', async () => {
    const dir = path.join(tempDir(), 'no-such-dir');
    for (const args of [['push'], ['demolish', 'g-1'], ['revive', 'g-1']]) {
      const r = await paddock([...args, '--repo', 'git://127.0.0.1:9/nothing.git', '--definitions', dir], { env });
      expect(r.code, args.join(' ')).toBe(1);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(/no-such-dir: no such definitions directory/);
    }
  });
});

describe('paddock serve and the seed curl', () => {
  it('GIVEN a running paddock serve WHEN a pod runs the contract\'s curl THEN exactly its group is removed in one commit, synth does not bring it back, revive does', async () => {
    const remote = await bareRepo();
    const dir = definitionsDir({ 'g.ts': groupsSource(3) });
    const port = await freePort();
    // The first commit records the sidecar URL every writer then agrees on.
    const here = { ...env, PADDOCK_SIDECAR_URL: `http://127.0.0.1:${port}` };
    await paddock(['push', '--repo', remote, '--definitions', dir], { env: here });
    const before = commitCount(remote);
    const serve = await startServe(['--repo', remote, '--definitions', dir, '--listen', `127.0.0.1:${port}`], { ...env, PADDOCK_SIDECAR_URL: `http://127.0.0.1:${port}` });
    try {
      // The pod's environment, as the synthesized manifests give it.
      const deployment = YAML.parse(remoteFile(remote, 'groups/g-1/configmap-cm-g-1.yaml'));
      expect(deployment.metadata.labels.group_id).toBe('g-1');
      const synthOut = tempDir();
      await paddock(['synth', '--definitions', dir, '--out', synthOut, '--quiet'], { env: { ...env, PADDOCK_SIDECAR_URL: `http://127.0.0.1:${port}` } });
      const script = path.join(tempDir(), 'gc.sh');
      writeFileSync(script, 'curl -fsS -X POST $GARBAGE_COLLECTOR_URL -H \'content-type: application/json\' -d "{ \\"label\\": \\"group_id=$GROUP_ID\\" }"\n');
      const app = YAML.parse(remoteFile(remote, 'apps/g-1.yaml'));
      expect(app.spec.source.path).toBe('groups/g-1');
      const { gcUrl } = await import('../core/gc-token.ts');
      const r = await run('sh', [script], { env: { GROUP_ID: 'g-1', GARBAGE_COLLECTOR_URL: gcUrl(`http://127.0.0.1:${port}`, 'cli-secret', 'g-1') } });
      expect(r.code).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ group: 'g-1', status: 'removed' });
      expect(commitCount(remote)).toBe(before + 1);
      const files = remoteFiles(remote);
      expect(groupApp(remote, 'g-1')).toBe('emptied');
      expect(files.some((f) => f.startsWith('groups/g-1/'))).toBe(false);
      expect(files).toContain('apps/g-0.yaml');
      expect(files).toContain('apps/g-2.yaml');
      expect(gitOut(remote, 'log', '-1', '--format=%s', 'main')).toBe('remove(group/g-1): garbage collected at the request of its pod');

      const again = await paddock(['push', '--repo', remote, '--definitions', dir], { env: here });
      expect(again.stdout.trim(), again.stderr).toBe('nothing changed: no commit');
      expect(groupApp(remote, 'g-1')).toBe('emptied');
      await paddock(['revive', '--repo', remote, '--definitions', dir, 'g-1'], { env: here });
      expect(groupApp(remote, 'g-1')).toBe('active');
    } finally {
      await serve.stop();
    }
  });

  it('GIVEN a running paddock serve WHEN a definition is edited THEN serve follows it, and its next commit (a GC) keeps the edit', async () => {
    const remote = await bareRepo();
    const cm = (v: string) => `import { ApiObject } from 'cdk8s';\nimport { Environment } from 'paddock';\nexport default (scope) => {\n  const env = new Environment(scope, 'edited', { namespace: 'edited' });\n  new ApiObject(env, 'cm', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cm' }, data: { v: '${v}' } });\n};\n`;
    const dir = definitionsDir({ 'g.ts': groupsSource(2), 'edited.ts': cm('one') });
    const port = await freePort();
    const serve = await startServe(['--repo', remote, '--definitions', dir, '--listen', `127.0.0.1:${port}`], env);
    const value = () => YAML.parse(remoteFile(remote, 'groups/edited/configmap-cm.yaml')).data.v;
    try {
      expect(value()).toBe('one');
      writeFileSync(path.join(dir, 'edited.ts'), cm('two'));
      await expect.poll(value, { timeout: 20_000, interval: 100 }).toBe('two');
      expect(gitOut(remote, 'log', '-1', '--format=%s', 'main')).toMatch(/^sync\(definitions\): .*edited\.ts changed$/);
      const { gcUrl } = await import('../core/gc-token.ts');
      const r = await fetch(gcUrl(`http://127.0.0.1:${port}`, 'cli-secret', 'g-0'), { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"group":"g-0"}' });
      expect(r.status).toBe(202);
      expect(groupApp(remote, 'g-0')).toBe('emptied');
      expect(value()).toBe('two');
    } finally {
      await serve.stop();
    }
  }, 60_000);
});
