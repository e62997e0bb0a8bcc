/**
 * Bench gc (BENCHMARKS.md): GC POSTs over distinct groups at concurrency 50 against the real
 * `paddock serve`, on a bare repo behind `git daemon` on 127.0.0.1, after `paddock push` of the
 * groups' definitions. Baseline in the same run: the naive sidecar, one `git add` + `git commit`
 * + `git push` per request, serialized, on another bare repo (same content) behind the same
 * daemon. Then the burst: 5,000 POSTs over distinct groups at concurrency 200 (issue 15), on a
 * repo of their own. Checks at the end that every acknowledged group is removed in the remote.
 * `--quick` runs fewer groups and requests.
 */
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { gcUrl } from '../../core/gc-token.ts';
import { freePort } from '../../test/helpers/git-daemon.ts';
import { groupsSource } from '../../test/helpers/repo.ts';
import { percentile, printJson, printTable, verdict } from './lib.ts';
import { call, closeHttp, mainThreadCpuMs, commitCount, commitLines, git, Harness, mean, phaseMedians, pool, put, rawCommitPush, sorted, treeFiles, type CommitLine } from './serve-kit.ts';

const quick = process.argv.includes('--quick');
const GROUPS = quick ? 200 : 1000;
const REQUESTS = GROUPS; // one per group: distinct groups
const CONCURRENCY = 50;
const BASELINE_REQUESTS = quick ? 20 : 100;
const TARGET_RPS = 200;
const TARGET_RATIO = 10;
const BURST_GROUPS = quick ? 1000 : 5000;
const BURST_CONCURRENCY = 200;
const BURST_TARGET_RPS = 1000;

const h = new Harness('gc', quick ? 420_000 : 900_000);

interface Burst {
  readonly requests: number;
  readonly concurrency: number;
  readonly acked: number;
  readonly failed: number;
  readonly failures: ReadonlyMap<string, number>;
  readonly firstFailure: string;
  readonly wallMs: number;
  readonly rps: number;
  /** Latency until 2xx, sorted, ms. */
  readonly lat: number[];
  readonly commits: number;
  readonly lines: CommitLine[];
  readonly lost: string[];
  readonly leftovers: number;
  readonly serveStartMs: number;
  /** How busy the server's main thread was over the run: its CPU time / the wall time. */
  readonly mainThreadBusy?: number;
  /** How busy this bench's own process (the HTTP clients) was: its CPU time / the wall time. */
  readonly clientBusy: number;
}

/**
 * `paddock serve` on `repo` (holding the groups `groups` name), then one GC POST per group at
 * `concurrency`; what landed is checked in the remote: every acknowledged group removed.
 */
async function burst(repo: { path: string; url: string }, defs: string, env: Record<string, string>, secret: string, groups: readonly string[], concurrency: number): Promise<Burst> {
  const port = await freePort();
  const served = await h.serve(['--repo', repo.url, '--definitions', defs, '--listen', `127.0.0.1:${port}`], env);
  const beforeCommits = await commitCount(repo.path);
  const startCommits = commitLines(served.log()).length;
  const latency: number[] = [];
  const acked: string[] = [];
  const failures = new Map<string, number>();
  let firstFailure = '';
  const cpu0 = mainThreadCpuMs(served.child.pid);
  const own0 = process.cpuUsage();
  const t0 = performance.now();
  await pool(groups, concurrency, async (g) => {
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
  const cpu1 = mainThreadCpuMs(served.child.pid);
  const own = process.cpuUsage(own0);
  const lines = commitLines(served.log()).slice(startCommits);
  await h.stop(served.child);
  // What landed: every acknowledged group's app is gone (or emptied: a retiring record, until the leader retires it) and its removal record is there.
  const commits = (await commitCount(repo.path)) - beforeCommits;
  const files = await treeFiles(repo.path);
  const live = (g: string) => files.has(`apps/${g}.yaml`) && !files.has(`state/retiring/${g}.yaml`);
  const prefixes = new Set([...files].filter((f) => f.startsWith('groups/')).map((f) => f.split('/')[1]));
  return {
    requests: groups.length, concurrency, acked: acked.length, failed: [...failures.values()].reduce((a, b) => a + b, 0), failures, firstFailure,
    wallMs, rps: (acked.length / wallMs) * 1000, lat: sorted(latency), commits, lines,
    lost: acked.filter((g) => live(g) || !files.has(`state/removals/${g}.yaml`)), leftovers: acked.filter((g) => prefixes.has(g)).length, serveStartMs: served.startMs,
    mainThreadBusy: cpu0 !== undefined && cpu1 !== undefined ? (cpu1 - cpu0) / wallMs : undefined,
    clientBusy: (own.user + own.system) / 1000 / wallMs,
  };
}
const busy = (r: Burst) => (r.mainThreadBusy === undefined ? 'unknown' : `${Math.round(r.mainThreadBusy * 100)}%`);

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

  // 1,000 at concurrency 50 (the figure kept since the first runs), then the burst: 5,000 at 200.
  const main = await burst(manifests, defs, env, secret, Array.from({ length: REQUESTS }, (_, i) => `g-${i}`), CONCURRENCY);
  const bdefs = h.dir('burst-defs');
  put(bdefs, 'groups.ts', groupsSource(BURST_GROUPS, 'b'));
  const burstRepo = await h.bareRepo('burst.git');
  const burstPush = await h.paddock(['push', '--repo', burstRepo.url, '--definitions', bdefs], env);
  console.log(`setup: paddock push of ${BURST_GROUPS} groups for the burst: ${(burstPush.ms / 1000).toFixed(1)} s`);
  const big200 = await burst(burstRepo, bdefs, env, secret, Array.from({ length: BURST_GROUPS }, (_, i) => `b-${i}`), BURST_CONCURRENCY);
  const { acked: ackedCount, failed, failures, firstFailure, wallMs, rps, lat, commits } = main;
  const runCommitLines = main.lines;
  const lostGroups = main.lost;
  const leftovers = main.leftovers;
  const ratio = rps / baseRps;
  const perCommit = runCommitLines.map((c) => c.requests);
  const cycleMs = sorted(runCommitLines.map((c) => c.ms));
  const retries = runCommitLines.reduce((a, c) => a + c.retries, 0);

  console.log(`\n${REQUESTS} GC POSTs over distinct groups at concurrency ${CONCURRENCY}; baseline: ${BASELINE_REQUESTS} serialized add+commit+push; latency in ms until 2xx`);
  printTable(['', 'requests', 'ok', 'req/s', 'p50 ms', 'p99 ms', 'max ms', 'commits'], [
    ['paddock serve', String(REQUESTS), String(ackedCount), rps, percentile(lat, 50), percentile(lat, 99), lat[lat.length - 1] ?? NaN, String(commits)],
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
  console.log(`check: ${ackedCount} acknowledged, lost=${lostGroups.length}${lostGroups.length ? ` (${lostGroups.slice(0, 5).join(', ')})` : ''}; groups/<g>/ left for acknowledged groups: ${leftovers}`);
  console.log(`ratio vs baseline: ${ratio.toFixed(1)}x req/s`);
  const b = big200;
  const bCycle = sorted(b.lines.map((l) => l.ms));
  console.log(`\nburst: ${b.requests} GC POSTs over distinct groups at concurrency ${b.concurrency}: ${b.acked} ok, ${b.rps.toFixed(0)} req/s, p50 ${percentile(b.lat, 50).toFixed(0)} ms, p99 ${percentile(b.lat, 99).toFixed(0)} ms, ` +
    `${b.commits} commits (requests per commit mean ${mean(b.lines.map((l) => l.requests)).toFixed(1)}), commit cycle p50 ${percentile(bCycle, 50)} ms; by step ${phaseMedians(b.lines)}`);
  console.log(`burst requests per commit, in order: ${b.lines.map((l) => l.requests).slice(0, 60).join(' ')}${b.lines.length > 60 ? ' ...' : ''}`);
  console.log(`CPU / wall: serve's main thread ${busy(main)} at concurrency ${CONCURRENCY}, ${busy(b)} in the burst; the clients (this process) ${Math.round(main.clientBusy * 100)}% and ${Math.round(b.clientBusy * 100)}%`);
  if (b.failed) console.log(`burst non-2xx or failed: ${b.failed} (${[...b.failures].map(([k, v]) => `${k} x${v}`).join(', ')}); first: ${b.firstFailure}`);
  console.log(`burst check: lost=${b.lost.length}; groups/<g>/ left for acknowledged groups: ${b.leftovers}`);
  console.log(`targets: burst >= ${BURST_TARGET_RPS} req/s: ${b.rps.toFixed(0)} ${verdict(b.rps >= BURST_TARGET_RPS)}; burst p99 < 1 s: ${percentile(b.lat, 99).toFixed(0)} ms ${verdict(percentile(b.lat, 99) < 1000)}; burst lost = 0: ${b.lost.length} ${verdict(b.lost.length === 0)}`);
  console.log(`targets: >= ${TARGET_RPS} req/s: ${rps.toFixed(0)} ${verdict(rps >= TARGET_RPS)}; >= ${TARGET_RATIO}x baseline: ${ratio.toFixed(1)}x ${verdict(ratio >= TARGET_RATIO)}; lost = 0: ${lostGroups.length} ${verdict(lostGroups.length === 0)}`);
  printJson('gc', {
    quick, groups: GROUPS, requests: REQUESTS, concurrency: CONCURRENCY, acknowledged: ackedCount, failed,
    rps: +rps.toFixed(1), p50Ms: +percentile(lat, 50).toFixed(1), p99Ms: +percentile(lat, 99).toFixed(1), commits, requestsPerCommit: +mean(perCommit).toFixed(1), pushRetries: retries, lost: lostGroups.length,
    baseline: { requests: BASELINE_REQUESTS, rps: +baseRps.toFixed(1), meanMs: +baseMean.toFixed(1), p50Ms: +percentile(baseSorted, 50).toFixed(1), p99Ms: +percentile(baseSorted, 99).toFixed(1) },
    ratioVsBaseline: +ratio.toFixed(2), pushSetupMs: Math.round(pushed.ms), serveStartMs: Math.round(main.serveStartMs),
    burst200: { requests: b.requests, concurrency: b.concurrency, acknowledged: b.acked, failed: b.failed, rps: +b.rps.toFixed(1), p50Ms: +percentile(b.lat, 50).toFixed(1), p99Ms: +percentile(b.lat, 99).toFixed(1), commits: b.commits, lost: b.lost.length },
  });
  if (lostGroups.length || big200.lost.length) process.exitCode = 1;
} catch (e) {
  console.error(`bench gc failed: ${(e as Error).stack ?? e}`);
  process.exitCode = 1;
} finally {
  closeHttp();
  await h.cleanup();
}
