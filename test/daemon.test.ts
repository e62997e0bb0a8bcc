/**
 * paddock's git:// push and fetch shortcut (src/repo/git/daemon.ts) against a real `git daemon`: what lands is
 * what `git push` would land, every failure is sorted (classifyGitError) the way git's own
 * message for the same failure is, and a server it cannot talk to gets nothing but the request.
 */
import { execFile } from 'node:child_process';
import { chmodSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { DaemonPushUnsupported, pushToGitDaemon, remoteRefs } from '../src/repo/git/daemon.ts';
import { classifyGitError, remoteTip, WorkTree } from '../src/repo/git/index.ts';
import { freePort, GitDaemon } from './helpers/git-daemon.ts';
import { gitOut } from './helpers/repo.ts';
import { tempDir } from './helpers/synth.ts';

const run = promisify(execFile);
const REF = 'refs/heads/main';

let daemon: GitDaemon;
let base: string;
beforeAll(async () => {
  base = tempDir('paddock-daemon-push-');
  daemon = await GitDaemon.start(base);
});
afterAll(async () => {
  await daemon.stop();
});

/** A bare repo under the daemon's base, and a work tree that has pushed one commit to it. */
async function served(name: string) {
  const remote = path.join(base, `${name}.git`);
  await run('git', ['init', '--bare', '--quiet', '--initial-branch=main', remote]);
  const t = new WorkTree(tempDir('paddock-work-'), daemon.url(remote), 'main');
  await t.init();
  const root = await t.commit(undefined, new Map([['a.yaml', 'a: 1\n']]), ['root']);
  await t.push(root);
  const gitDir = path.join(t.dir, '.git');
  return { remote, url: daemon.url(remote), t, root, gitDir };
}

/** How many pushes the daemon took for `remote`: counted once a later request's line is in (its log is written in order). */
async function pushesTaken(remote: string): Promise<number> {
  const looks = daemon.requests('upload-pack', remote);
  await remoteRefs(daemon.url(remote));
  await vi.waitFor(() => expect(daemon.requests('upload-pack', remote)).toBe(looks + 1));
  return daemon.requests('receive-pack', remote);
}

/** The packs in a repository's object store (not the one a running fast-import is writing, tmp_pack_*). */
function packs(gitDir: string): string[] {
  return readdirSync(path.join(gitDir, 'objects', 'pack')).filter((f) => f.startsWith('pack-')).map((f) => path.join(gitDir, 'objects', 'pack', f));
}

/** What `git push` says for the same push, sorted the same way. */
async function gitPushFailure(gitDir: string, url: string, sha: string): Promise<string> {
  try {
    await run('git', ['--git-dir', gitDir, 'push', url, `${sha}:${REF}`], { env: { ...process.env, LC_ALL: 'C' } });
  } catch (e) {
    return classifyGitError(e);
  }
  throw new Error('git push succeeded where it was to fail');
}

async function failure(p: Promise<unknown>): Promise<{ kind: string; message: string }> {
  try {
    await p;
  } catch (e) {
    return { kind: classifyGitError(e), message: String((e as Error).message) };
  }
  throw new Error('the push succeeded where it was to fail');
}

describe('the remote\'s tip over git://', () => {
  it('GIVEN a served repo WHEN its tip is read THEN it is what git ls-remote says; an empty repo has none, and one not served fails as git fails', async () => {
    const { url, root } = await served('tip');
    const lsRemote = async (u: string) => (await run('git', ['ls-remote', '--heads', u, REF])).stdout.split('\t')[0] || undefined;
    expect(await remoteTip(url, 'main')).toBe(root);
    expect(await remoteTip(url, 'main')).toBe(await lsRemote(url));
    expect(await remoteTip(url, 'other')).toBeUndefined();
    const empty = path.join(base, 'empty.git');
    await run('git', ['init', '--bare', '--quiet', '--initial-branch=main', empty]);
    expect(await remoteTip(daemon.url(empty), 'main')).toBeUndefined();
    expect(await lsRemote(daemon.url(empty))).toBeUndefined();
    const missing = daemon.url(path.join(base, 'missing.git'));
    const f = await failure(remoteTip(missing, 'main'));
    expect(f.kind).toBe(classifyGitError(await run('git', ['ls-remote', missing]).then(() => 'listed', (e) => e)));
  });
});

describe('a push over git://', () => {
  it('GIVEN the remote at an older commit than the one written on (it never had the newer) WHEN pushed THEN it lands with every object it needs (the pack is made from what the remote has)', async () => {
    const { remote, t, root, gitDir, url } = await served('behind');
    const one = await t.commit(root, new Map([['b.yaml', 'b: 1\n']]), ['one']);
    const two = await t.commit(one, new Map([['c.yaml', 'c: 1\n']]), ['two']);
    await pushToGitDaemon({ gitDir, url, sha: two, ref: REF, parent: one });
    expect(gitOut(remote, 'rev-parse', 'main')).toBe(two);
    expect(gitOut(remote, 'ls-tree', '-r', '--name-only', 'main').split('\n')).toEqual(['a.yaml', 'b.yaml', 'c.yaml']);
    expect(gitOut(remote, 'fsck', '--strict', '--no-dangling')).toBe('');
  });

  it('GIVEN a pack holding the commit\'s new objects WHEN pushed with it THEN that pack is what is sent: it lands from a repository that could make no pack at all', async () => {
    const { remote, t, root, gitDir, url } = await served('written');
    const next = await t.commit(root, new Map([['b.yaml', 'b: 1\n']]), ['next']);
    const { stdout: pack } = await run('sh', ['-c', `printf '${next}\\n^${root}\\n' | git --git-dir=${gitDir} pack-objects --revs --stdout -q`], { encoding: 'buffer' });
    const empty = tempDir('paddock-empty-');
    await run('git', ['init', '--quiet', '--bare', empty]);
    await pushToGitDaemon({ gitDir: empty, url, sha: next, ref: REF, parent: root, written: async () => pack });
    expect(gitOut(remote, 'rev-parse', 'main')).toBe(next);
    expect(gitOut(remote, 'fsck', '--strict', '--no-dangling')).toBe('');
    // A written pack that cannot be read any more (housekeeping joined it into another) is made again.
    const third = await t.commit(next, new Map([['c.yaml', 'c: 1\n']]), ['third']);
    await pushToGitDaemon({ gitDir, url, sha: third, ref: REF, parent: next, written: () => Promise.reject(new Error('ENOENT: gone')) });
    expect(gitOut(remote, 'ls-tree', '-r', '--name-only', 'main').split('\n')).toEqual(['a.yaml', 'b.yaml', 'c.yaml']);
  });

  it('GIVEN a commit the work tree wrote WHEN pushed THEN the pack fast-import wrote is what is sent, once: it lands though this repository no longer holds the parent\'s objects (pack-objects could make no pack)', async () => {
    const { remote, t, root, gitDir } = await served('fast-import');
    const before = packs(gitDir);
    const next = await t.commit(root, new Map([['b.yaml', 'b: 1\n'], ['c/d.yaml', 'd: 1\n']]), ['next']);
    for (const f of before) rmSync(f);
    await t.push(next, root);
    expect(gitOut(remote, 'rev-parse', 'main')).toBe(next);
    expect(gitOut(remote, 'ls-tree', '-r', '--name-only', 'main').split('\n')).toEqual(['a.yaml', 'b.yaml', 'c/d.yaml']);
    expect(gitOut(remote, 'fsck', '--strict', '--no-dangling')).toBe('');
    expect(await pushesTaken(remote)).toBe(2); // the root's and this one
  });

  it('GIVEN a commit written but never pushed, and the next one reusing its file WHEN the next is pushed THEN the pack fast-import wrote (which lacks that file: a duplicate) is not sent; pack-objects makes one and it lands whole at the first try', async () => {
    const { remote, t, root } = await served('reused');
    await t.commit(root, new Map([['b.yaml', 'shared\n']]), ['never pushed']);
    const two = await t.commit(root, new Map([['c.yaml', 'shared\n']]), ['two']);
    await t.push(two, root);
    expect(gitOut(remote, 'rev-parse', 'main')).toBe(two);
    expect(gitOut(remote, 'show', 'main:c.yaml')).toBe('shared');
    expect(gitOut(remote, 'fsck', '--strict', '--no-dangling')).toBe('');
    expect(await pushesTaken(remote)).toBe(2);
  });

  it('GIVEN a written pack that lacks an object the remote needs WHEN pushed with it, to a server that checks the connection or every object THEN the server refuses it, keeps its ref, and the push is made again from pack-objects: it lands whole', async () => {
    for (const [name, fsck] of [['lacking', false], ['lacking-fsck', true]] as const) {
      const { remote, t, root, gitDir, url } = await served(name);
      if (fsck) await run('git', ['--git-dir', remote, 'config', 'receive.fsckObjects', 'true']);
      const next = await t.commit(root, new Map([['b.yaml', 'only in the repo\n']]), ['next']);
      // The commit and its tree, not the new blob.
      const objects = `${next}\n${gitOut(gitDir, 'rev-parse', `${next}^{tree}`)}\n`;
      const { stdout: lacking } = await run('sh', ['-c', `printf '${objects}' | git --git-dir=${gitDir} pack-objects --stdout -q`], { encoding: 'buffer' });
      await pushToGitDaemon({ gitDir, url, sha: next, ref: REF, parent: root, written: async () => lacking });
      expect(gitOut(remote, 'show', 'main:b.yaml')).toBe('only in the repo');
      expect(gitOut(remote, 'fsck', '--strict', '--no-dangling')).toBe('');
      expect(await pushesTaken(remote)).toBe(3); // the root's, the refused one, and the one made again
    }
  });

  it('GIVEN another writer pushed a commit this repo never saw WHEN a commit on the old tip is pushed THEN it is refused before sending, sorted as git sorts it, and the remote keeps the other commit', async () => {
    const { remote, root, t, gitDir, url } = await served('moved');
    const other = new WorkTree(tempDir('paddock-work-'), url, 'main');
    await other.init();
    await other.fetchTip();
    const theirs = await other.commit(root, new Map([['theirs.yaml', 'x\n']]), ['theirs']);
    await other.push(theirs, root);
    const mine = await t.commit(root, new Map([['mine.yaml', 'y\n']]), ['mine']);
    const f = await failure(pushToGitDaemon({ gitDir, url, sha: mine, ref: REF, parent: root }));
    expect(f.message).toMatch(/\[rejected\].*fetch first/);
    expect(f.kind).toBe('non-fast-forward');
    expect(f.kind).toBe(await gitPushFailure(gitDir, url, mine));
    expect(gitOut(remote, 'rev-parse', 'main')).toBe(theirs);
    // A tip this repository never saw is fetched, not only named.
    expect(await t.fetchTip()).toBe(theirs);
    expect(await t.files(theirs)).toEqual(new Map([['a.yaml', 'a: 1\n'], ['theirs.yaml', 'x\n']]));
  });

  it('GIVEN a pre-receive hook that declines WHEN pushed THEN the server\'s refusal is reported as git reports it', async () => {
    const { remote, root, t, gitDir, url } = await served('hooked');
    const hook = path.join(remote, 'hooks', 'pre-receive');
    writeFileSync(hook, '#!/bin/sh\necho no >&2\nexit 1\n');
    chmodSync(hook, 0o755);
    const next = await t.commit(root, new Map([['b.yaml', 'b\n']]), ['next']);
    const f = await failure(pushToGitDaemon({ gitDir, url, sha: next, ref: REF, parent: root }));
    expect(f.message).toContain('[remote rejected]');
    expect(f.message).toContain('pre-receive hook declined');
    expect(f.kind).toBe(await gitPushFailure(gitDir, url, next));
    expect(gitOut(remote, 'rev-parse', 'main')).toBe(root);
  });

  it('GIVEN a repository the daemon does not serve, and a port nobody listens on WHEN pushed THEN each fails as git fails', async () => {
    const { root, gitDir } = await served('known');
    const missing = daemon.url(path.join(base, 'nope.git'));
    const f1 = await failure(pushToGitDaemon({ gitDir, url: missing, sha: root, ref: REF }));
    expect(f1.message).toMatch(/remote error: .*not exported/);
    expect(f1.kind).toBe(await gitPushFailure(gitDir, missing, root));
    const closed = `git://127.0.0.1:${await freePort()}/x.git`;
    const f2 = await failure(pushToGitDaemon({ gitDir, url: closed, sha: root, ref: REF }));
    expect(f2.kind).toBe('unreachable');
    expect(f2.kind).toBe(await gitPushFailure(gitDir, closed, root));
  });

  describe('against a server that is not git daemon', () => {
    let server: Server;
    let port: number;
    let behave: (socket: import('node:net').Socket, got: Buffer[]) => void;
    const received: Buffer[][] = [];
    beforeAll(async () => {
      port = await freePort();
      server = createServer((socket) => {
        const got: Buffer[] = [];
        received.push(got);
        socket.on('data', (d) => got.push(d));
        socket.on('error', () => undefined);
        behave(socket, got);
      });
      await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
    });
    afterAll(() => new Promise<void>((r) => server.close(() => r())));
    const pkt = (s: string) => `${(s.length + 4).toString(16).padStart(4, '0')}${s}`;
    /** An empty repository's advertisement. */
    const advert = (caps: string) => `${pkt(`${'0'.repeat(40)} capabilities^{}\0${caps}\n`)}0000`;

    it('GIVEN the remote already at the commit WHEN it is pushed again THEN it succeeds having sent the request and a flush only', async () => {
      const { root, gitDir } = await served('again');
      behave = (socket) => socket.once('data', () => socket.write(`${pkt(`${root} ${REF}\0report-status ofs-delta\n`)}0000`));
      await pushToGitDaemon({ gitDir, url: `git://127.0.0.1:${port}/x.git`, sha: root, ref: REF, timeoutMs: 5_000 });
      const got = received.at(-1)!;
      await vi.waitFor(() => expect(Buffer.concat(got).toString('latin1')).toMatch(/^[0-9a-f]{4}git-receive-pack \/x\.git\0host=127\.0\.0\.1:\d+\0/));
      await new Promise((r) => setTimeout(r, 100)); // anything more the client sent has arrived
      expect(Buffer.concat(got).toString('latin1').replace(/^[0-9a-f]{4}git-receive-pack [^\0]*\0host=[^\0]*\0/, '')).toBe('0000');
    });

    it('GIVEN it offers no report-status WHEN pushed THEN DaemonPushUnsupported is thrown and nothing but the request was sent', async () => {
      const { root, gitDir } = await served('caps');
      behave = (socket) => socket.once('data', () => socket.write(advert('ofs-delta agent=old')));
      await expect(pushToGitDaemon({ gitDir, url: `git://127.0.0.1:${port}/x.git`, sha: root, ref: REF })).rejects.toBeInstanceOf(DaemonPushUnsupported);
      const sent = Buffer.concat(received.at(-1)!).toString('latin1');
      expect(sent).toMatch(/^[0-9a-f]{4}git-receive-pack \/x\.git\0host=127\.0\.0\.1:\d+\0$/);

      // The work tree then pushes with git itself: its commands arrive, with git's agent.
      const w = new WorkTree(tempDir('paddock-work-'), `git://127.0.0.1:${port}/x.git`, 'main');
      await w.init();
      const sha = await w.commit(undefined, new Map([['a.yaml', 'a\n']]), ['root']);
      const before = received.length;
      await w.push(sha).catch(() => undefined);
      const later = received.slice(before).map((got) => Buffer.concat(got).toString('latin1'));
      expect(later.some((text) => text.includes(`${sha} refs/heads/main`) && text.includes('agent=git/'))).toBe(true);
    });

    it('GIVEN it hangs up after the pack WHEN pushed THEN the outcome is unclear (unreachable), and when it never answers, a timeout', async () => {
      const { root, t, gitDir } = await served('hangs');
      const next = await t.commit(root, new Map([['b.yaml', 'b\n']]), ['next']);
      behave = (socket, got) => {
        socket.write(advert('report-status ofs-delta'));
        socket.on('data', () => Buffer.concat(got).includes('PACK') && socket.end());
      };
      const url = `git://127.0.0.1:${port}/x.git`;
      const hungUp = await failure(pushToGitDaemon({ gitDir, url, sha: next, ref: REF }));
      expect(hungUp.message).toContain('hung up');
      expect(hungUp.kind).toBe('unreachable');
      behave = () => undefined;
      const silent = await failure(pushToGitDaemon({ gitDir, url, sha: next, ref: REF, timeoutMs: 300 }));
      expect(silent.kind).toBe('timeout');
    });

    /** Answers the advertisement `caps`, then, once the pack has begun, the report `lines`. */
    const reporting = (caps: string, lines: string[]) => (socket: import('node:net').Socket, got: Buffer[]) => {
      socket.once('data', () => socket.write(advert(caps)));
      let answered = false;
      socket.on('data', () => {
        if (answered || !Buffer.concat(got).includes('PACK')) return;
        answered = true;
        socket.end(`${lines.map(pkt).join('')}0000`);
      });
    };

    it('GIVEN the server names its object format and agent WHEN pushed THEN the command echoes the format and names paddock, and not otherwise', async () => {
      const { root, gitDir } = await served('format');
      const url = `git://127.0.0.1:${port}/x.git`;
      const command = () => /[0-9a-f]{40} [0-9a-f]{40} refs\/heads\/main\0([^\n]*?)0000PACK/.exec(Buffer.concat(received.at(-1)!).toString('latin1'))?.[1];
      behave = reporting('report-status ofs-delta object-format=sha1 agent=git/2.39.5', ['unpack ok', `ok ${REF}`]);
      await pushToGitDaemon({ gitDir, url, sha: root, ref: REF });
      expect(command()).toBe('report-status ofs-delta object-format=sha1 agent=paddock');
      behave = reporting('report-status ofs-delta', ['unpack ok', `ok ${REF}`]);
      await pushToGitDaemon({ gitDir, url, sha: root, ref: REF });
      expect(command()).toBe('report-status ofs-delta');
    });

    it('GIVEN the server fails to unpack WHEN pushed THEN the failure is sorted as git sorts the same report', async () => {
      const { root, gitDir } = await served('unpack');
      const url = `git://127.0.0.1:${port}/x.git`;
      behave = reporting('report-status ofs-delta', ['unpack index-pack abnormal exit', `ng ${REF} unpacker error`]);
      const f = await failure(pushToGitDaemon({ gitDir, url, sha: root, ref: REF }));
      expect(f.message).toContain('remote unpack failed: index-pack abnormal exit');
      expect(f.kind).toBe(await gitPushFailure(gitDir, url, root));
    });

    it('GIVEN a git:// URL of a user\'s repository (~user) WHEN its refs are read THEN the path asked for is the one git asks for', async () => {
      const url = `git://127.0.0.1:${port}/~alice/x.git`;
      const asked = () => /^[0-9a-f]{4}git-upload-pack ([^\0]*)\0/.exec(Buffer.concat(received.at(-1)!).toString('latin1'))?.[1];
      behave = (socket) => socket.once('data', () => socket.end(advert('multi_ack')));
      await remoteRefs(url);
      const ours = asked();
      await run('git', ['ls-remote', url], { env: { ...process.env, LC_ALL: 'C' } }).catch(() => undefined);
      expect(ours).toBe('~alice/x.git');
      expect(asked()).toBe(ours);
    });
  });
});

describe('classifyGitError', () => {
  it.each([
    ['unable to connect to 127.0.0.1: Connection refused', 'unreachable'],
    ['fatal: unable to connect to 127.0.0.1:\n127.0.0.1[0: 127.0.0.1]: errno=Connection refused (port 40123)', 'unreachable'],
    ['git:// connection to 127.0.0.1 timed out after 4013 ms', 'timeout'],
    ["fatal: unable to access 'https://h/r.git/': The requested URL returned error: 403", 'auth'],
    ["fatal: unable to access 'https://h/r.git/': The requested URL returned error: 401", 'auth'],
    ['error: RPC failed; HTTP 401 curl 22 The requested URL returned error: 401', 'auth'],
    ["fatal: Authentication failed for 'https://h/r.git/'", 'auth'],
  ])('GIVEN %j THEN it is %s (digits of a port, a time or a sha are not an HTTP status)', (text, kind) => {
    expect(classifyGitError(new Error(text))).toBe(kind);
  });
});
