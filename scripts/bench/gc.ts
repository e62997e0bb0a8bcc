/**
 * Bench gc (BENCHMARKS.md): GC POSTs over distinct groups at concurrency 50 against the real
 * `paddock serve`, on a bare repo behind `git daemon` on 127.0.0.1, after `paddock push` of the
 * groups' definitions. Baseline in the same run: the naive sidecar, one `git add` + `git commit`
 * + `git push` per request, serialized, on another bare repo (same content) behind the same
 * daemon. Checks at the end that every acknowledged group is removed in the remote.
 * `--quick` runs fewer groups and requests.
 */
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { gcUrl } from '../../core/gc-token.ts';
import { freePort } from '../../test/helpers/git-daemon.ts';
import { groupsSource } from '../../test/helpers/repo.ts';
import { percentile, printJson, printTable, verdict } from './lib.ts';
import { call, closeHttp, commitCount, commitLines, git, Harness, mean, phaseMedians, pool, put, rawCommitPush, sorted, treeFiles } from './serve-kit.ts';

const quick = process.argv.includes('--quick');
const GROUPS = quick ? 200 : 1000;
const REQUESTS = GROUPS; // one per group: distinct groups
const CONCURRENCY = 50;
const BASELINE_REQUESTS = quick ? 20 : 100;
const TARGET_RPS = 200;
const TARGET_RATIO = 10;

const h = new Harness('gc', quick ? 240_000 : 540_000);
try {
  const secret = randomBytes(24).toString('base64url');
  const env = { PADDOCK_GC_SECRET: secret };
  const defs = h.dir('defs');
  put(defs, 'groups.ts', groupsSource(GROUPS, 'g'));
  const manifests = await h.bareRepo('manifests.git');
  const baseRepo = await h.bareRepo('baseline.git');

  // The groups' manifests, as `paddock push` writes them.
  const pushed = await h.paddock(['push', '--repo', manifests.url, '--definitions', defs], env);
  const initialFiles = await treeFiles(manifests.path);
  if (!initialFiles.has('apps/g-0.yaml') || !initialFiles.has(`apps/g-${GROUPS - 1}.yaml`)) throw new Error(`paddock push did not write apps/g-*.yaml:\n${pushed.stdout}`);
  console.log(`setup: paddock push of ${GROUPS} groups: ${(pushed.ms / 1000).toFixed(1)} s, ${initialFiles.size} files in the repo`);

  // Baseline: same content, one commit + push per request, serialized.
  await git(manifests.path, 'push', '--quiet', baseRepo.path, 'main:main');
  const baseTimes = await rawCommitPush(baseRepo.url, path.join(h.root, 'baseline-clone'), BASELINE_REQUESTS, (i, clone) => {
    const g = `g-${i}`;
    rmSync(path.join(clone, 'apps', `${g}.yaml`), { force: true });
    put(clone, `state/removals/${g}.yaml`, `group: ${g}\nremovedAt: ${new Date().toISOString()}\nreason: gc\n`);
    return [`apps/${g}.yaml`, `state/removals/${g}.yaml`];
  });
  const baseSorted = sorted(baseTimes);
  const baseMean = mean(baseTimes);
  const baseRps = 1000 / baseMean;
  const baseCommits = (await commitCount(baseRepo.path)) - (await commitCount(manifests.path));

  // paddock serve on the pushed repo.
  const port = await freePort();
  const served = await h.serve(['--repo', manifests.url, '--definitions', defs, '--listen', `127.0.0.1:${port}`], env);
  const beforeCommits = await commitCount(manifests.path);
  const startCommits = commitLines(served.log()).length;
  console.log(`setup: paddock serve listening after ${(served.startMs / 1000).toFixed(1)} s (${startCommits} commits at start)`);

  const groups = Array.from({ length: REQUESTS }, (_, i) => `g-${i}`);
  const latency: number[] = [];
  const acked: string[] = [];
  const failures = new Map<string, number>();
  let firstFailure = '';
  const t0 = performance.now();
  await pool(groups, CONCURRENCY, async (g) => {
    const s = performance.now();
    try {
      const r = await call(gcUrl(served.url, secret, g), { body: { group: g } });
      if (r.status >= 200 && r.status < 300) {
        latency.push(performance.now() - s);
        acked.push(g);
      } else {
        const key = `${r.status} ${r.body?.code ?? ''}`.trim();
        failures.set(key, (failures.get(key) ?? 0) + 1);
        firstFailure ||= `${g}: ${r.status} ${JSON.stringify(r.body)}`;
      }
    } catch (e) {
      failures.set('network', (failures.get('network') ?? 0) + 1);
      firstFailure ||= `${g}: ${(e as Error).message}`;
    }
  });
  const wallMs = performance.now() - t0;
  const runCommitLines = commitLines(served.log()).slice(startCommits);
  await h.stop(served.child);

  // What landed: every acknowledged group's app is gone and its removal record is there.
  const commits = (await commitCount(manifests.path)) - beforeCommits;
  const files = await treeFiles(manifests.path);
  // Removed: a removal record, and its Application gone, or emptied (a retiring record) until the leader retires it.
  const live = (g: string) => files.has(`apps/${g}.yaml`) && !files.has(`state/retiring/${g}.yaml`);
  const lostGroups = acked.filter((g) => live(g) || !files.has(`state/removals/${g}.yaml`));
  const leftovers = acked.filter((g) => [...files].some((f) => f.startsWith(`groups/${g}/`))).length;

  const lat = sorted(latency);
  const rps = (acked.length / wallMs) * 1000;
  const ratio = rps / baseRps;
  const failed = [...failures.values()].reduce((a, b) => a + b, 0);
  const perCommit = runCommitLines.map((c) => c.requests);
  const cycleMs = sorted(runCommitLines.map((c) => c.ms));
  const retries = runCommitLines.reduce((a, c) => a + c.retries, 0);

  console.log(`\n${REQUESTS} GC POSTs over distinct groups at concurrency ${CONCURRENCY}; baseline: ${BASELINE_REQUESTS} serialized add+commit+push; latency in ms until 2xx`);
  printTable(['', 'requests', 'ok', 'req/s', 'p50 ms', 'p99 ms', 'max ms', 'commits'], [
    ['paddock serve', String(REQUESTS), String(acked.length), rps, percentile(lat, 50), percentile(lat, 99), lat[lat.length - 1] ?? NaN, String(commits)],
    ['git commit+push per request', String(BASELINE_REQUESTS), String(BASELINE_REQUESTS), baseRps, percentile(baseSorted, 50), percentile(baseSorted, 99), baseSorted[baseSorted.length - 1], String(baseCommits)],
  ]);
  console.log(`\nwall ${(wallMs / 1000).toFixed(2)} s; serve commits: ${runCommitLines.length} (requests per commit mean ${mean(perCommit).toFixed(1)}, max ${Math.max(0, ...perCommit)}); ` +
    `commit cycle p50 ${percentile(cycleMs, 50)} ms, max ${cycleMs[cycleMs.length - 1] ?? NaN} ms; push retries ${retries}`);
  const cycleBy = (keep: (n: number) => boolean) => sorted(runCommitLines.filter((l) => keep(l.requests)).map((l) => l.ms));
  const small = cycleBy((n) => n === 1);
  const big = cycleBy((n) => n > 1);
  console.log(`commit cycle median by step (ms): ${phaseMedians(runCommitLines)}`);
  console.log(`commit cycle p50 by batch: 1 request ${percentile(small, 50)} ms (${small.length} commits), more ${percentile(big, 50)} ms (${big.length} commits)`);
  console.log(`requests per commit, in order: ${perCommit.slice(0, 40).join(' ')}${perCommit.length > 40 ? ' ...' : ''}`);
  if (failed) console.log(`non-2xx or failed requests: ${failed} (${[...failures].map(([k, v]) => `${k} x${v}`).join(', ')}); first: ${firstFailure}`);
  console.log(`check: ${acked.length} acknowledged, lost=${lostGroups.length}${lostGroups.length ? ` (${lostGroups.slice(0, 5).join(', ')})` : ''}; groups/<g>/ left for acknowledged groups: ${leftovers}`);
  console.log(`ratio vs baseline: ${ratio.toFixed(1)}x req/s`);
  console.log(`targets: >= ${TARGET_RPS} req/s: ${rps.toFixed(0)} ${verdict(rps >= TARGET_RPS)}; >= ${TARGET_RATIO}x baseline: ${ratio.toFixed(1)}x ${verdict(ratio >= TARGET_RATIO)}; lost = 0: ${lostGroups.length} ${verdict(lostGroups.length === 0)}`);
  printJson('gc', {
    quick, groups: GROUPS, requests: REQUESTS, concurrency: CONCURRENCY, acknowledged: acked.length, failed,
    rps: +rps.toFixed(1), p50Ms: +percentile(lat, 50).toFixed(1), p99Ms: +percentile(lat, 99).toFixed(1), commits, requestsPerCommit: +mean(perCommit).toFixed(1), pushRetries: retries, lost: lostGroups.length,
    baseline: { requests: BASELINE_REQUESTS, rps: +baseRps.toFixed(1), meanMs: +baseMean.toFixed(1), p50Ms: +percentile(baseSorted, 50).toFixed(1), p99Ms: +percentile(baseSorted, 99).toFixed(1) },
    ratioVsBaseline: +ratio.toFixed(2), pushSetupMs: Math.round(pushed.ms), serveStartMs: Math.round(served.startMs),
  });
  if (lostGroups.length) process.exitCode = 1;
} catch (e) {
  console.error(`bench gc failed: ${(e as Error).stack ?? e}`);
  process.exitCode = 1;
} finally {
  closeHttp();
  await h.cleanup();
}
