/**
 * The work tree's writer, one `git fast-import` kept running, over real repositories: commits
 * written through one process, its end after so many, a stream git refuses and one that never
 * completes (each fails alone, and the next commit starts another process), and a node process
 * that exits while its writer is idle.
 */
import { execFile, execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { FastImport } from '../src/repo/git/fast-import.ts';
import { gitOut } from './helpers/repo.ts';
import { tempDir } from './helpers/synth.ts';

const run = promisify(execFile);
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

async function repo(): Promise<string> {
  const gitDir = path.join(tempDir('paddock-fast-import-'), 'r.git');
  await run('git', ['init', '--quiet', '--bare', gitDir]);
  return gitDir;
}

function writer(gitDir: string, opts: { maxCommits?: number; timeoutMs?: number } = {}): FastImport {
  return new FastImport(gitDir, {
    config: ['-c', 'fastimport.unpackLimit=0', 'fast-import', '--quiet', '--force'],
    edges: path.join(gitDir, 'edges'), maxCommits: opts.maxCommits ?? 100, timeoutMs: opts.timeoutMs ?? 60_000,
  });
}

/** fast-import's commit command: `file` set to `text` on `parent` (none: a root commit). */
function commit(parent: string | undefined, file: string, text: string): Buffer {
  const who = 'paddock <paddock@paddock.invalid> 1700000000 +0000';
  return Buffer.from([
    ...(parent ? [] : ['reset refs/paddock/written']),
    'commit refs/paddock/written', 'mark :1', `author ${who}`, `committer ${who}`, `data ${file.length}`, file,
    ...(parent ? [`from ${parent}`] : []), `M 100644 inline ${file}`, `data ${Buffer.byteLength(text)}`, text, '', '',
  ].join('\n'));
}

/** The object ids a pack holds, from its index. */
function objectsIn(pack: string): string[] {
  const idx = readFileSync(pack.replace(/\.pack$/, '.idx'));
  return execFileSync('git', ['show-index'], { input: idx, encoding: 'utf8' }).trim().split('\n').map((l) => l.split(' ')[1]);
}

async function history(gitDir: string, w: FastImport, count: number, head?: string): Promise<string> {
  for (let i = 0; i < count; i++) head = (await w.write(commit(head, `f${i}.yaml`, `n: ${i} ${head}\n`), ':1')).sha;
  return head!;
}

/** Two more commits on `head` are written, the writer closed: `processes` wrote them all, and `head` had `before` commits. */
async function goesOn(gitDir: string, w: FastImport, head: string | undefined, expected: { processes: number; before: number }): Promise<void> {
  const next = await history(gitDir, w, 2, head);
  await w.close();
  expect(w.processes).toBe(expected.processes);
  expect(gitOut(gitDir, 'rev-list', '--count', next)).toBe(String(expected.before + 2));
}

/** A module for a node process of its own: `w`, a writer on `gitDir`, and `commit`, a root commit to write, then `body`. */
function writerScript(gitDir: string, body: string): string {
  return `
    import { FastImport } from ${JSON.stringify(path.join(ROOT, 'src/repo/git/fast-import.ts'))};
    const w = new FastImport(${JSON.stringify(gitDir)}, { config: ['fast-import', '--quiet', '--force'], edges: ${JSON.stringify(path.join(gitDir, 'edges'))}, maxCommits: 100, timeoutMs: 60000 });
    const commit = Buffer.from(${JSON.stringify(commit(undefined, 'a', 'a\n').toString())});
    ${body}`;
}

describe('the work tree\'s fast-import', () => {
  it('GIVEN five commits, each on the last WHEN written THEN one process writes them all, each in a pack of its own that holds it, its tree and its blob', async () => {
    const gitDir = await repo();
    const w = writer(gitDir);
    let head: string | undefined;
    for (let i = 0; i < 5; i++) {
      const { sha, pack } = await w.write(commit(head, `f${i}.yaml`, `n: ${i}\n`), ':1');
      expect(gitOut(gitDir, 'rev-parse', 'refs/paddock/written')).toBe(sha);
      expect(objectsIn(pack!).sort()).toEqual([sha, gitOut(gitDir, 'rev-parse', `${sha}^{tree}`), gitOut(gitDir, 'rev-parse', `${sha}:f${i}.yaml`)].sort());
      head = sha;
    }
    await w.close();
    expect(w.processes).toBe(1);
    expect(gitOut(gitDir, 'ls-tree', '--name-only', head!).split('\n')).toEqual(['f0.yaml', 'f1.yaml', 'f2.yaml', 'f3.yaml', 'f4.yaml']);
    expect(gitOut(gitDir, 'rev-list', '--count', head!)).toBe('5');
    expect(gitOut(gitDir, 'fsck', '--strict', '--no-dangling')).toBe('');
  });

  it('GIVEN a process that may write 3 commits WHEN 7 are written THEN 3 processes wrote them, and the history is whole', async () => {
    const gitDir = await repo();
    const w = writer(gitDir, { maxCommits: 3 });
    const head = await history(gitDir, w, 7);
    await w.close();
    expect(w.processes).toBe(3);
    expect(gitOut(gitDir, 'rev-list', '--count', head)).toBe('7');
    expect(gitOut(gitDir, 'fsck', '--strict', '--no-dangling')).toBe('');
  });

  it('GIVEN a commit asked to be its process\'s last, and a commit on a parent that is not the last one written WHEN written THEN the next commit has a process of its own, and each commit has its parent\'s files and its own, no others', async () => {
    const gitDir = await repo();
    const w = writer(gitDir);
    const root = (await w.write(commit(undefined, 'root.yaml', 'r\n'), ':1', true)).sha;
    const a = (await w.write(commit(root, 'a.yaml', 'a\n'), ':1')).sha;
    const b = (await w.write(commit(root, 'b.yaml', 'b\n'), ':1')).sha;
    const c = (await w.write(commit(a, 'c.yaml', 'c\n'), ':1')).sha;
    await w.close();
    expect(w.processes).toBe(2);
    const files = (sha: string) => gitOut(gitDir, 'ls-tree', '--name-only', sha).split('\n');
    expect([files(a), files(b), files(c)]).toEqual([['a.yaml', 'root.yaml'], ['b.yaml', 'root.yaml'], ['a.yaml', 'c.yaml', 'root.yaml']]);
    expect(gitOut(gitDir, 'rev-parse', `${b}^`, `${c}^`)).toBe(`${root}\n${a}`);
  });

  it('GIVEN a commit the same as one written before WHEN written again THEN its sha comes back with no pack: nothing new was stored', async () => {
    const gitDir = await repo();
    const w = writer(gitDir);
    const first = await w.write(commit(undefined, 'a.yaml', 'a\n'), ':1');
    const again = await w.write(commit(undefined, 'a.yaml', 'a\n'), ':1');
    await w.close();
    expect(again).toEqual({ sha: first.sha, pack: undefined });
  });

  it('GIVEN a stream git refuses WHEN written THEN that write fails with git\'s words, and the next commit is written by a new process', async () => {
    const gitDir = await repo();
    const w = writer(gitDir);
    const root = await history(gitDir, w, 1);
    await expect(w.write(Buffer.from('bogus\n'), ':1')).rejects.toThrow(/git fast-import exited \(128\): fatal: Unsupported command: bogus/);
    await expect(w.write(Buffer.alloc(0), ':7')).rejects.toThrow(/git fast-import exited \(128\): fatal: mark :7 not declared/);
    // The first refused stream is tried twice: its process had written a commit, and might have ended before it came.
    await goesOn(gitDir, w, root, { processes: 4, before: 1 });
  });

  it('GIVEN a process that ended while it waited (killed) WHEN the next commit is written THEN a new process writes it, and the history is whole', async () => {
    const gitDir = await repo();
    const w = writer(gitDir);
    const head = await history(gitDir, w, 2);
    execFileSync('pkill', ['-KILL', '-f', `fast-import .*${path.join(gitDir, 'edges')}`]);
    await goesOn(gitDir, w, head, { processes: 2, before: 2 });
  });

  it('GIVEN a stream that stops halfway through a commit WHEN written THEN the process is killed after the timeout, that write fails saying so, the packs it wrote are not left kept from git gc, and the next commit is written', async () => {
    const gitDir = await repo();
    const w = writer(gitDir, { timeoutMs: 300 });
    // The file's text is said to be 100,000 bytes long and is not: fast-import waits for the rest.
    const half = Buffer.from(commit(undefined, 'a.yaml', 'a\n').toString().replace('data 2\na\n\n', 'data 100000\na'));
    const before = await history(gitDir, w, 2);
    await expect(w.write(half, ':1')).rejects.toThrow('git fast-import timed out after 300 ms');
    await goesOn(gitDir, w, before, { processes: 2, before: 2 });
    // The killed process's packs are not left marked to keep (git gc would never join them).
    expect(readdirSync(path.join(gitDir, 'objects', 'pack')).filter((f) => f.endsWith('.keep'))).toEqual([]);
    await run('git', ['--git-dir', gitDir, 'gc', '--quiet']);
    expect(readdirSync(path.join(gitDir, 'objects', 'pack')).filter((f) => f.endsWith('.pack'))).toHaveLength(1);
  });

  it('GIVEN a node process out of file descriptors WHEN a commit is written THEN that write fails saying git could not start, the process goes on, and once descriptors are free the next commit is written', async () => {
    const gitDir = await repo();
    const script = writerScript(gitDir, `
      import { openSync, closeSync } from 'node:fs';
      const held = [];
      try { for (;;) held.push(openSync('/dev/null', 'r')); } catch {}
      for (const fd of held.splice(0, 3)) closeSync(fd);
      console.log(await w.write(commit, ':1').then(() => 'written', (e) => e.message));
      for (const fd of held) closeSync(fd);
      console.log((await w.write(commit, ':1')).sha);
      await w.close();`);
    const { stdout } = await run('sh', ['-c', `ulimit -n 256 && exec "${process.execPath}" --import tsx --input-type=module -e "$0"`, script], { cwd: ROOT, timeout: 30_000 });
    const [first, second] = stdout.trim().split('\n');
    expect(first).toMatch(/^git fast-import could not start: .*/);
    expect(second).toBe(gitOut(gitDir, 'rev-parse', 'refs/paddock/written'));
  });

  it('GIVEN a node process that wrote a commit and does nothing more WHEN its work is done THEN it exits by itself (the idle writer keeps no one waiting), and so does its fast-import; WHEN it closes its writer instead THEN close() resolves once fast-import has ended', async () => {
    for (const closing of [false, true]) {
      const gitDir = await repo();
      const script = writerScript(gitDir, `
        const { sha } = await w.write(commit, ':1');
        console.log(sha);
        ${closing ? "await w.close(); console.log('closed', (await import('node:fs')).readdirSync(" + JSON.stringify(path.join(gitDir, 'objects', 'pack')) + ").filter((f) => f.startsWith('tmp_')).length);" : ''}`);
      const { stdout } = await run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: ROOT, timeout: 30_000 });
      expect(stdout.trim()).toBe(`${gitOut(gitDir, 'rev-parse', 'refs/paddock/written')}${closing ? '\nclosed 0' : ''}`);
      // Its stdin closed with node, fast-import ended: it left no half-written pack behind.
      await expect.poll(() => readdirSync(path.join(gitDir, 'objects', 'pack')).filter((f) => f.startsWith('tmp_')), { timeout: 10_000 }).toEqual([]);
    }
  });
});
