import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { isUserError } from '../src/errors.ts';
import { bareRepo, commitCount, committer, gitOut, groupApp, groupsSource, loadSet, remoteFile, remoteFiles, rid } from './helpers/repo.ts';
import { tempDir } from './helpers/synth.ts';

describe('the committer', () => {
  it('GIVEN an empty remote WHEN definitions are synced THEN one commit holds apps/, groups/, README and creation records; syncing again makes no commit', async () => {
    const remote = await bareRepo();
    const set = await loadSet({ 'g.ts': groupsSource(3) });
    const c = committer(remote, set);
    const a = await c.submit({ body: { kind: 'sync', summary: 'sync(definitions): initial' }, requestId: rid(), requestedBy: 'test' });
    expect(a.commit).toMatch(/^[0-9a-f]{40}$/);
    const files = remoteFiles(remote);
    expect(files).toContain('apps/g-0.yaml');
    expect(files).toContain('apps/paddock-root.yaml');
    expect(files).toContain('groups/g-2/configmap-cm-g-2.yaml');
    expect(files).toContain('state/groups/g-1.yaml');
    expect(files).toContain('README.md');
    expect(remoteFile(remote, 'state/groups/g-1.yaml')).toContain('createdAt: "2026-11-23T12:00:00.000Z"');

    const again = await c.submit({ body: { kind: 'sync', summary: 'sync(definitions): again' }, requestId: rid(), requestedBy: 'test' });
    expect(again.commit).toBeUndefined();
    expect(commitCount(remote)).toBe(1);
    await c.close();
  });

  it('GIVEN a synced repo WHEN a group is removed THEN one commit deletes its Application and directory, records why, and carries the trailers', async () => {
    const remote = await bareRepo();
    const set = await loadSet({ 'g.ts': groupsSource(3) });
    const c = committer(remote, set);
    await c.submit({ body: { kind: 'sync', summary: 'sync(definitions): initial' }, requestId: rid(), requestedBy: 'test' });
    const id = rid('gc');
    const a = await c.submit({ body: { kind: 'remove', group: 'g-1', reason: 'gc' }, requestId: id, requestedBy: 'pod in g-1' });
    expect(a.outcome.status).toBe('applied');
    const files = remoteFiles(remote);
    expect(groupApp(remote, 'g-1')).toBe('emptied');
    expect(files).toContain('retired/README.md');
    expect(groupApp(remote, 'g-0')).toBe('active');
    expect(remoteFile(remote, 'state/removals/g-1.yaml')).toMatch(/reason: gc/);
    const msg = gitOut(remote, 'log', '-1', '--format=%B', 'main');
    expect(msg.split('\n')[0]).toBe('remove(group/g-1): garbage collected at the request of its pod');
    expect(msg).toContain('apps/g-1.yaml');
    expect(msg).toContain(`Paddock-Request-Id: ${id}`);
    expect(msg).toContain('Paddock-Requested-By: pod in g-1');

    // idempotent: no second commit; a later sync does not bring it back; revive does
    const before = commitCount(remote);
    const again = await c.submit({ body: { kind: 'remove', group: 'g-1', reason: 'gc' }, requestId: rid(), requestedBy: 'x' });
    expect(again.outcome.status).toBe('unchanged');
    await c.submit({ body: { kind: 'sync', summary: 'sync(definitions): resync' }, requestId: rid(), requestedBy: 'x' });
    expect(commitCount(remote)).toBe(before);
    expect(groupApp(remote, 'g-1')).toBe('emptied');
    await c.submit({ body: { kind: 'revive', group: 'g-1' }, requestId: rid(), requestedBy: 'x' });
    expect(groupApp(remote, 'g-1')).toBe('active');
    expect(remoteFiles(remote)).not.toContain('retired/README.md');
    expect(remoteFiles(remote)).not.toContain('state/removals/g-1.yaml');
    await c.close();
  });

  it('GIVEN an unknown group WHEN removal is asked THEN UnknownGroup and the remote is unchanged', async () => {
    const remote = await bareRepo();
    const c = committer(remote, await loadSet({ 'g.ts': groupsSource(1) }));
    await c.submit({ body: { kind: 'sync', summary: 'sync(definitions): initial' }, requestId: rid(), requestedBy: 'test' });
    const head = gitOut(remote, 'rev-parse', 'main');
    const err = await c.submit({ body: { kind: 'remove', group: 'nope', reason: 'gc' }, requestId: rid(), requestedBy: 't' }).catch((e) => e);
    expect(isUserError(err) && err.code).toBe('UnknownGroup');
    expect(gitOut(remote, 'rev-parse', 'main')).toBe(head);
    await c.close();
  });

  it('GIVEN a view fetched and no cycle since WHEN many requests ask for its synthesis THEN one synthesis answers them all, until the view moves', async () => {
    const remote = await bareRepo();
    const set = await loadSet({ 'g.ts': groupsSource(3) });
    await committer(remote, set).submit({ body: { kind: 'sync', summary: 'sync(definitions): initial' }, requestId: rid(), requestedBy: 'test' });
    const c = committer(remote, set);
    await c.refresh();
    const asked = await Promise.all(Array.from({ length: 5 }, () => c.synthesis()));
    expect(new Set(asked).size).toBe(1);
    expect(asked[0].groups.map((g) => g.name)).toEqual(['g-0', 'g-1', 'g-2']);
    expect(await c.synthesis()).toBe(asked[0]);
    await c.submit({ body: { kind: 'remove', group: 'g-1', reason: 'gc' }, requestId: rid(), requestedBy: 't' });
    expect((await c.synthesis()).groups.find((g) => g.name === 'g-1')?.removed).toBe(true);
    await c.close();
  });

  it('GIVEN a remote whose pre-receive hook declines WHEN a removal is pushed THEN it fails at once as refused there, not retried as a race, and the remote is unchanged', async () => {
    const remote = await bareRepo();
    const c = committer(remote, await loadSet({ 'g.ts': groupsSource(2) }));
    await c.submit({ body: { kind: 'sync', summary: 'sync(definitions): initial' }, requestId: rid(), requestedBy: 'test' });
    const head = gitOut(remote, 'rev-parse', 'main');
    writeFileSync(path.join(remote, 'hooks', 'pre-receive'), '#!/bin/sh\necho "main is frozen" >&2\nexit 1\n', { mode: 0o755 });
    const err = await c.submit({ body: { kind: 'remove', group: 'g-1', reason: 'gc' }, requestId: rid(), requestedBy: 't' }).catch((e) => e);
    expect(err).toMatchObject({ code: 'RemoteUnavailable', message: expect.stringMatching(/^manifests repo unavailable: the remote refused the push .*pre-receive hook declined/) });
    expect(c.stats.pushRetries).toBe(0);
    expect(gitOut(remote, 'rev-parse', 'main')).toBe(head);
    await c.close();
  });

  it('GIVEN two committers on one remote WHEN each removes 15 groups concurrently THEN every removal lands, history is linear, and coalescing kept commits few', async () => {
    const remote = await bareRepo();
    const set = await loadSet({ 'g.ts': groupsSource(30) });
    const a = committer(remote, set);
    const b = committer(remote, set);
    await a.submit({ body: { kind: 'sync', summary: 'sync(definitions): initial' }, requestId: rid(), requestedBy: 'test' });
    const asks = Array.from({ length: 30 }, (_, i) => (i % 2 ? a : b).submit({ body: { kind: 'remove', group: `g-${i}`, reason: 'gc' }, requestId: rid(), requestedBy: 't' }));
    const answers = await Promise.all(asks);
    expect(answers.every((x) => x.outcome.status === 'applied' && x.commit)).toBe(true);
    const files = remoteFiles(remote);
    for (let i = 0; i < 30; i++) expect(files).toContain(`state/removals/g-${i}.yaml`);
    for (let i = 0; i < 30; i++) expect(groupApp(remote, `g-${i}`)).toBe('emptied');
    expect(files.filter((f) => f.startsWith('groups/'))).toEqual([]);
    expect(gitOut(remote, 'rev-list', '--merges', 'main')).toBe('');
    expect(commitCount(remote)).toBeLessThan(30);
    await Promise.all([a.close(), b.close()]);
  });

  it('GIVEN 40 removals in one batch WHEN its commit is pushed THEN their callers are answered in order, a few to a turn of the event loop, so other work runs before the last answer', async () => {
    const remote = await bareRepo();
    const set = await loadSet({ 'g.ts': groupsSource(40) });
    const c = committer(remote, set);
    await c.submit({ body: { kind: 'sync', summary: 'sync(definitions): initial' }, requestId: rid(), requestedBy: 'test' });
    const before = commitCount(remote);
    const order: number[] = [];
    let answeredWhenOtherWorkRan: number | undefined;
    const asks = Array.from({ length: 40 }, (_, i) => c.submit({ body: { kind: 'remove', group: `g-${i}`, reason: 'gc' }, requestId: rid(), requestedBy: 't' }).then((a) => {
      // Another request's work, as the sidecar's next turn would run it.
      if (!order.length) setImmediate(() => (answeredWhenOtherWorkRan = order.length));
      order.push(i);
      return a;
    }));
    const answers = await Promise.all(asks);
    expect(commitCount(remote)).toBe(before + 1);
    expect(new Set(answers.map((a) => a.commit)).size).toBe(1);
    expect(order).toEqual(Array.from({ length: 40 }, (_, i) => i));
    expect(answeredWhenOtherWorkRan).toBeGreaterThan(0);
    expect(answeredWhenOtherWorkRan).toBeLessThanOrEqual(16);
    await c.close();
  });

  it('GIVEN a committer that pushed last WHEN another writer moves the remote THEN its next push is redone from a fetch at once, and "already removed" is never answered from the stale tip', async () => {
    const remote = await bareRepo();
    const set = await loadSet({ 'g.ts': groupsSource(4) });
    const slept: number[] = [];
    const a = committer(remote, set, { sleep: async (ms) => void slept.push(ms) });
    const b = committer(remote, set);
    await a.submit({ body: { kind: 'sync', summary: 'sync(definitions): initial' }, requestId: rid(), requestedBy: 'test' });
    await a.submit({ body: { kind: 'remove', group: 'g-1', reason: 'gc' }, requestId: rid(), requestedBy: 'a' });
    expect(a.stats.staleSkips).toBe(0);

    // b revives g-1 and removes g-2 behind a's back; a's view still says g-1 is removed.
    await b.submit({ body: { kind: 'revive', group: 'g-1' }, requestId: rid(), requestedBy: 'b' });
    await b.submit({ body: { kind: 'remove', group: 'g-2', reason: 'demolish' }, requestId: rid(), requestedBy: 'b' });

    // a's optimistic view would answer "unchanged": it must look at the real tip and remove g-1 again.
    const again = await a.submit({ body: { kind: 'remove', group: 'g-1', reason: 'gc' }, requestId: rid(), requestedBy: 'a' });
    expect(again.outcome.status).toBe('applied');
    expect(again.commit).toBe(gitOut(remote, 'rev-parse', 'main'));
    // a's next removal pushes without a fetch; the remote has not moved, so it lands first time.
    const g3 = await a.submit({ body: { kind: 'remove', group: 'g-3', reason: 'gc' }, requestId: rid(), requestedBy: 'a' });
    expect(g3.commit).toBe(gitOut(remote, 'rev-parse', 'main'));
    expect(a.stats.staleSkips).toBe(0);

    // b writes again; a's optimistic push is rejected and redone from a fetch without a backoff sleep.
    await b.submit({ body: { kind: 'revive', group: 'g-2' }, requestId: rid(), requestedBy: 'b' });
    const g0 = await a.submit({ body: { kind: 'remove', group: 'g-0', reason: 'gc' }, requestId: rid(), requestedBy: 'a' });
    expect(g0.outcome.status).toBe('applied');
    expect(a.stats.staleSkips).toBe(1);
    expect(a.stats.pushRetries).toBe(0);
    expect(slept).toEqual([]);

    const files = remoteFiles(remote);
    for (const g of ['g-0', 'g-1', 'g-3']) expect(files).toContain(`state/removals/${g}.yaml`);
    expect(files).toContain('apps/g-2.yaml');
    expect(files).not.toContain('state/removals/g-2.yaml');
    expect(gitOut(remote, 'rev-list', '--merges', 'main')).toBe('');
    await Promise.all([a.close(), b.close()]);
  });

  it("GIVEN a committer following the remote WHEN other writers commit THEN onFollow gets the paths their commits changed since the tip it knew, and nothing for its own commits", async () => {
    const remote = await bareRepo();
    const set = await loadSet({ 'g.ts': groupsSource(3) });
    const followed: string[][] = [];
    const a = committer(remote, set, { onFollow: (paths) => void followed.push([...paths]) });
    const b = committer(remote, set);
    await a.submit({ body: { kind: 'sync', summary: 'sync(definitions): initial' }, requestId: rid(), requestedBy: 'a' });
    await a.submit({ body: { kind: 'remove', group: 'g-0', reason: 'gc' }, requestId: rid(), requestedBy: 'a' });
    await a.refresh();
    expect(followed).toEqual([]); // the first fetch and its own commits: nothing to follow

    await b.submit({ body: { kind: 'remove', group: 'g-1', reason: 'gc' }, requestId: rid(), requestedBy: 'b' });
    await b.submit({ body: { kind: 'remove', group: 'g-2', reason: 'demolish' }, requestId: rid(), requestedBy: 'b' });
    await a.refresh();
    expect(followed).toHaveLength(1);
    const changed = gitOut(remote, 'diff', '--name-only', 'main~2', 'main').split('\n').sort();
    expect(followed[0]).toEqual(changed);
    expect(followed[0]).toEqual(expect.arrayContaining(['apps/g-1.yaml', 'apps/g-2.yaml', 'state/removals/g-1.yaml', 'state/removals/g-2.yaml']));
    await a.refresh();
    expect(followed).toHaveLength(1); // nothing new
    await Promise.all([a.close(), b.close()]);
  });

  it('GIVEN a slow cycle WHEN another writer pushes while it builds THEN it looks again before committing and goes on at once, without a rejected push or a backoff sleep', async () => {
    const remote = await bareRepo();
    const set = await loadSet({ 'g.ts': groupsSource(3) });
    await committer(remote, set).submit({ body: { kind: 'sync', summary: 'sync(definitions): initial' }, requestId: rid(), requestedBy: 'test' });
    const other = path.join(tempDir(), 'other');
    gitOut(tempDir(), 'clone', '--quiet', remote, other);
    let interfere = true;
    const slept: number[] = [];
    // A fresh committer (as `paddock push` makes); while it builds its first cycle, someone pushes,
    // and the build takes longer than the late-check threshold.
    const c = committer(remote, () => {
      if (interfere) {
        interfere = false;
        writeFileSync(path.join(other, 'NOTES.md'), 'someone else\n');
        gitOut(other, 'add', 'NOTES.md');
        gitOut(other, '-c', 'user.name=x', '-c', 'user.email=x@x', 'commit', '--quiet', '-m', 'notes');
        gitOut(other, 'push', '--quiet', 'origin', 'HEAD:main');
        const until = Date.now() + 400;
        while (Date.now() < until); // a slow synth
      }
      return set;
    }, { sleep: async (ms) => void slept.push(ms) });
    const a = await c.submit({ body: { kind: 'remove', group: 'g-2', reason: 'demolish' }, requestId: rid(), requestedBy: 't' });
    expect(a.outcome.status).toBe('applied');
    expect(c.stats.pushRetries).toBe(0);
    expect(slept).toEqual([]);
    expect(remoteFiles(remote)).toEqual(expect.arrayContaining(['NOTES.md', 'state/removals/g-2.yaml']));
    await c.close();
  });

  it('GIVEN definitions that drop most groups WHEN synced THEN the change is refused with MassRemovalRefused and nothing is removed', async () => {
    const remote = await bareRepo();
    const full = await loadSet({ 'g.ts': groupsSource(10) }, 1);
    const small = await loadSet({ 'g.ts': groupsSource(2) }, 2);
    let current = full;
    const c = committer(remote, () => current);
    await c.submit({ body: { kind: 'sync', summary: 'sync(definitions): initial' }, requestId: rid(), requestedBy: 'test' });
    current = small;
    const err = await c.submit({ body: { kind: 'sync', summary: 'sync(definitions): shrink' }, requestId: rid(), requestedBy: 'test' }).catch((e) => e);
    expect(err.code).toBe('MassRemovalRefused');
    expect(err.message).toMatch(/would remove 8 of 10 groups/);
    expect(remoteFiles(remote)).toContain('apps/g-9.yaml');
    // other intents still go through, synthesized with the trusted definitions
    const ok = await c.submit({ body: { kind: 'remove', group: 'g-9', reason: 'gc' }, requestId: rid(), requestedBy: 't' });
    expect(ok.outcome.status).toBe('applied');
    expect(remoteFiles(remote)).toContain('apps/g-8.yaml');
    await c.close();
  });

  it('GIVEN empty definitions WHEN synced against a repo with groups THEN nothing is removed', async () => {
    const remote = await bareRepo();
    const full = await loadSet({ 'g.ts': groupsSource(2) }, 1);
    await committer(remote, full).submit({ body: { kind: 'sync', summary: 'sync(definitions): initial' }, requestId: rid(), requestedBy: 'test' });
    const empty = committer(remote, { definitions: [], version: 1 });
    const err = await empty.submit({ body: { kind: 'sync', summary: 'sync(definitions): empty' }, requestId: rid(), requestedBy: 'test' }).catch((e) => e);
    expect(err.code).toBe('MassRemovalRefused');
    expect(remoteFiles(remote)).toContain('apps/g-1.yaml');
  });

  it('GIVEN a remote that does not exist WHEN an intent is submitted THEN it fails at once as RemoteUnavailable with a reason', async () => {
    const c = committer('/nonexistent/paddock/remote.git', await loadSet({ 'g.ts': groupsSource(1) }));
    const err = await c.submit({ body: { kind: 'sync', summary: 's' }, requestId: rid(), requestedBy: 't' }).catch((e) => e);
    expect(err.code).toBe('RemoteUnavailable');
    expect(err.message).toMatch(/manifests repo unavailable: the repository does not exist/);
    expect(c.ready).toBe(false);
  });
});
