/**
 * The image's PID 1 (Dockerfile's ENTRYPOINT): whatever runs before `node` must reap the
 * processes orphaned to it. Run here as PID 1 of a new PID namespace (`unshare`, as root),
 * with node under it leaving a grandchild behind, as a git killed on its timeout leaves its
 * pack-objects. Node alone as PID 1 keeps that grandchild as a zombie: the test shows both.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from './helpers/cli.ts';

/** The ENTRYPOINT's words before `node`: the image's init. */
function initOfImage(): string[] {
  const m = /^ENTRYPOINT\s+(\[.*\])\s*$/m.exec(readFileSync(path.join(REPO_ROOT, 'Dockerfile'), 'utf8'));
  const words: string[] = m ? JSON.parse(m[1]) : [];
  return words.slice(0, Math.max(0, words.indexOf('node')));
}

// Leaves a grandchild that outlives its parent, waits (10 s at most) until it has ended, gives
// PID 1 half a second to reap it (an init reaps at once; node never does), then counts the
// zombies in its PID namespace.
const ORPHANING = `
const { spawnSync } = require('node:child_process');
const { readdirSync, readFileSync } = require('node:fs');
const states = () => readdirSync('/proc').filter((p) => /^\\d+$/.test(p)).flatMap((p) => {
  try { return [readFileSync('/proc/' + p + '/stat', 'utf8')]; } catch { return []; }
}).map((stat) => ({ comm: /\\((.*)\\)/.exec(stat)[1], state: stat.replace(/^\\d+ \\(.*\\) /, '')[0] }));
spawnSync('sh', ['-c', '(sleep 0.2 &) ; exit 0']);
const until = Date.now() + 10000;
const check = () => {
  const all = states();
  if (all.some((p) => p.comm === 'sleep' && p.state !== 'Z') && Date.now() < until) return setTimeout(check, 100);
  setTimeout(() => console.log(JSON.stringify({ pid: process.pid, zombies: states().filter((p) => p.state === 'Z').length })), 500);
};
setTimeout(check, 100);
`;

function asPidOne(prefix: readonly string[]): { pid: number; zombies: number } | string {
  const r = spawnSync('unshare', ['--pid', '--fork', '--mount-proc', ...prefix, process.execPath, '-e', ORPHANING], { encoding: 'utf8', timeout: 30_000 });
  if (r.status !== 0) return `${r.error?.message ?? ''}${r.stderr}`.trim() || `exit ${r.status}`;
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}

const init = initOfImage();
const probe = asPidOne([]);
const cannot = typeof probe === 'string' ? `unshare cannot make a PID namespace here (${probe.split('\n')[0]}); it needs root` : init[0] && spawnSync(init[0], ['--version']).error ? `${init[0]} is not installed (.ci/run installs it)` : '';
if (cannot) console.warn(`SKIPPED: the image-init test: ${cannot}`);

describe('the image\'s PID 1', () => {
  it('GIVEN the Dockerfile THEN its ENTRYPOINT starts node under an init', () => {
    expect(init.length).toBeGreaterThan(0);
  });

  it.skipIf(!!cannot)('GIVEN a grandchild orphaned to PID 1 WHEN node is PID 1 THEN it stays a zombie; WHEN the image\'s init is THEN it is reaped', () => {
    expect(probe).toEqual({ pid: 1, zombies: 1 });
    expect(asPidOne(init)).toEqual({ pid: 2, zombies: 0 });
  });
});
