/**
 * Bench status: `paddock status -o json` on a 1,000-group repo behind `git daemon` on 127.0.0.1,
 * cold (its cache copy made by the first call) and warm (a fetch that brings nothing, then
 * reading `apps/` and `state/`), each a whole process. Baseline in the same run: the same reads
 * in raw git from a warm bare copy (`git fetch`, `git ls-tree`, `git cat-file --batch` of those
 * files) plus a bare `node` start. Target: warm under 1 s. `--quick` runs 200 groups.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { groupsSource } from '../../test/helpers/repo.ts';
import { percentile, printJson, printTable, verdict } from './lib.ts';
import { git, Harness, put, sorted } from './serve-kit.ts';

const quick = process.argv.includes('--quick');
const GROUPS = quick ? 200 : 1000;
const RUNS = 7;
const TARGET_MS = 1000;

const h = new Harness('status', 300_000);
try {
  const env = { PADDOCK_GC_SECRET: randomBytes(24).toString('base64url'), PADDOCK_CACHE_DIR: h.dir('cache') };
  const defs = h.dir('defs');
  put(defs, 'groups.ts', groupsSource(GROUPS, 'g'));
  const manifests = await h.bareRepo('manifests.git');
  const pushed = await h.paddock(['push', '--repo', manifests.url, '--definitions', defs], env);
  console.log(`setup: paddock push of ${GROUPS} groups: ${(pushed.ms / 1000).toFixed(1)} s`);

  // status reads the repo only: an empty definitions directory, so no synthesis runs.
  const args = ['status', '--repo', manifests.url, '--definitions', h.dir('no-defs'), '-o', 'json'];
  const cold = await h.paddock(args, env);
  const groups = JSON.parse(cold.stdout.slice(cold.stdout.indexOf('{'))).groups.length;
  if (groups !== GROUPS) throw new Error(`status listed ${groups} groups, not ${GROUPS}`);
  const warm = sorted(await sequential(RUNS, async () => (await h.paddock(args, env)).ms));

  // Baseline: the same reads in raw git from a warm bare copy, and a bare node start.
  const copy = h.dir('raw.git');
  await git(copy, 'init', '--bare', '--quiet');
  await git(copy, 'fetch', '--quiet', manifests.url, '+refs/heads/main:refs/heads/main');
  const raw = sorted(await sequential(RUNS, async () => {
    const t0 = performance.now();
    execFileSync(process.execPath, ['-e', '']);
    await git(copy, 'fetch', '--quiet', manifests.url, '+refs/heads/main:refs/heads/main');
    const listed = (await git(copy, 'ls-tree', '-r', 'main', '--', 'apps', 'state')).split('\n').filter(Boolean).map((l) => l.split(/\s+/)[2]);
    execFileSync('git', ['--git-dir', copy, 'cat-file', '--batch'], { input: `${listed.join('\n')}\n`, maxBuffer: 256 * 1024 * 1024 });
    return performance.now() - t0;
  }));

  const p50 = percentile(warm, 50);
  const rawP50 = percentile(raw, 50);
  printTable(['', 'runs', 'p50 ms', 'max ms'], [
    ['paddock status -o json, cold cache', '1', cold.ms, cold.ms],
    ['paddock status -o json, warm cache', String(RUNS), p50, warm[warm.length - 1]],
    ['raw git reads + node start', String(RUNS), rawP50, raw[raw.length - 1]],
  ]);
  console.log(`\nratio vs baseline: ${(p50 / rawP50).toFixed(1)}x the raw reads`);
  console.log(`targets: warm status < ${TARGET_MS} ms on ${GROUPS} groups: ${p50.toFixed(0)} ms ${verdict(p50 < TARGET_MS)}`);
  printJson('status', {
    quick, groups: GROUPS, coldMs: Math.round(cold.ms), warmP50Ms: Math.round(p50), warmMaxMs: Math.round(warm[warm.length - 1]),
    baseline: { rawReadsP50Ms: Math.round(rawP50) }, ratioVsBaseline: +(p50 / rawP50).toFixed(2),
  });
} catch (e) {
  console.error(`bench status failed: ${(e as Error).stack ?? e}`);
  process.exitCode = 1;
} finally {
  await h.cleanup();
}

async function sequential(n: number, run: () => Promise<number>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(await run());
  return out;
}
