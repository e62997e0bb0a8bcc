/**
 * Bench cli (BENCHMARKS.md, issue 15 item 3): the one-shot writes on a 1,000-group repo behind
 * `git daemon` on 127.0.0.1, each a whole process: `paddock push` with nothing to change,
 * `paddock demolish` of one group and `paddock revive` of it, the first call cold (its cached
 * work tree made by it), the others warm (a fetch of what changed since). Baseline in the same
 * run: the same kind of write in raw git from a warm clone (`git fetch`, a one-file commit,
 * `git push`) plus a bare `node` start. Target: each warm call under 1 s. `--quick` runs 200 groups.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { groupsSource } from '../../test/helpers/repo.ts';
import { percentile, printJson, printTable, verdict } from './lib.ts';
import { git, Harness, put, sorted } from './serve-kit.ts';

const quick = process.argv.includes('--quick');
const GROUPS = quick ? 200 : 1000;
const RUNS = 5;
const TARGET_MS = 1000;

const h = new Harness('cli', 300_000);
try {
  const env = { PADDOCK_GC_SECRET: randomBytes(24).toString('base64url'), PADDOCK_CACHE_DIR: h.dir('cache') };
  const defs = h.dir('defs');
  put(defs, 'groups.ts', groupsSource(GROUPS, 'g'));
  const manifests = await h.bareRepo('manifests.git');
  const repo = ['--repo', manifests.url, '--definitions', defs];
  const call = async (args: readonly string[]) => {
    const r = await h.paddock([...args, ...repo], env);
    return r.ms;
  };
  const cold = await call(['push']);
  console.log(`setup: paddock push of ${GROUPS} groups, cold cache: ${(cold / 1000).toFixed(1)} s`);

  const push: number[] = [];
  const demolish: number[] = [];
  const revive: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const g = `g-${(i * 37) % GROUPS}`;
    push.push(await call(['push']));
    demolish.push(await call(['demolish', g]));
    revive.push(await call(['revive', g]));
  }

  // Baseline: a warm clone; fetch, change one file, commit, push; and a bare node start.
  const clone = h.dir('raw');
  await git(h.dir(), 'clone', '--quiet', manifests.url, clone);
  const raw = sorted(await sequential(RUNS, async (i) => {
    const t0 = performance.now();
    execFileSync(process.execPath, ['-e', '']);
    await git(clone, 'fetch', '--quiet', 'origin');
    await git(clone, 'reset', '--quiet', '--hard', 'origin/main');
    writeFileSync(path.join(clone, 'raw-bench.txt'), `${i}\n`);
    await git(clone, 'add', 'raw-bench.txt');
    await git(clone, 'commit', '--quiet', '-m', `raw ${i}`);
    await git(clone, 'push', '--quiet', 'origin', 'HEAD:main');
    return performance.now() - t0;
  }));

  const rows = [['push (nothing to change)', sorted(push)], ['demolish one group', sorted(demolish)], ['revive it', sorted(revive)]] as const;
  const rawP50 = percentile(raw, 50);
  printTable(['', 'runs', 'p50 ms', 'max ms', 'x baseline'], [
    ['push, cold cache', '1', cold, cold, ''],
    ...rows.map(([label, xs]) => [`${label}, warm cache`, String(xs.length), percentile(xs, 50), xs[xs.length - 1], (percentile(xs, 50) / rawP50).toFixed(1)]),
    ['raw git fetch + commit + push + node start', String(RUNS), rawP50, raw[raw.length - 1], '1.0'],
  ]);
  const verdicts = rows.map(([label, xs]) => `${label} ${percentile(xs, 50).toFixed(0)} ms ${verdict(percentile(xs, 50) < TARGET_MS)}`);
  console.log(`\ntargets: each warm call < ${TARGET_MS} ms on ${GROUPS} groups: ${verdicts.join('; ')}`);
  printJson('cli', {
    quick, groups: GROUPS, pushColdMs: Math.round(cold),
    pushP50Ms: Math.round(percentile(sorted(push), 50)), demolishP50Ms: Math.round(percentile(sorted(demolish), 50)), reviveP50Ms: Math.round(percentile(sorted(revive), 50)),
    baseline: { rawWriteP50Ms: Math.round(rawP50) },
  });
} catch (e) {
  console.error(`bench cli failed: ${(e as Error).stack ?? e}`);
  process.exitCode = 1;
} finally {
  await h.cleanup();
}

async function sequential(n: number, run: (i: number) => Promise<number>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(await run(i));
  return out;
}
