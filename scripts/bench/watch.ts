/**
 * Bench watch (BENCHMARKS.md): N definition files (3 objects each) under the real `paddock up`
 * (watcher + sidecar in one process, a local bare repo, the sidecar on 127.0.0.1); one file is
 * edited E times, each edit changing its Deployment's image tag, and each edit is timed from the
 * file write to the pushed commit holding the change (the bare repo's branch tip is polled every
 * 5 ms until it moves to a commit whose file has the new tag). The next edit waits for that commit.
 * Baseline in the same run, interleaved edit by edit: raw `git commit -a && git push` of the very
 * same file content in a clone of another bare repo holding the same tree. Then the RSS of the
 * `paddock up` process (VmRSS, VmHWM). `--quick` runs 200 files and 10 edits.
 *
 * The child runs with cwd and TMPDIR inside the bench's temp root, so its .paddock/ and its
 * committer work dir are removed with it; it runs in its own process group, killed on exit,
 * on failure, on a signal and on the overall timeout.
 *
 * `--phases` also splits each edit's time: the child gets a HOME whose .gitconfig turns on git's
 * trace2 event log, so every git command paddock runs is timed; the gaps between them are
 * paddock's own work (chokidar + debounce + reload before the first one, synth between them).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { messagesOf } from '../../src/log.ts';
import { freePort } from '../../test/helpers/git-daemon.ts';
import { fmt, percentile, printJson, printTable, REPO_ROOT, verdict } from './lib.ts';
import { writeDefinitions } from './synth-gen.ts';

const quick = process.argv.includes('--quick');
const phases = process.argv.includes('--phases');
const N = quick ? 200 : 1000;
const EDITS = quick ? 10 : 50;
const EDITED = Math.floor(N / 2); // the file edited: env-00100 / env-00500
const STARTUP_TIMEOUT_MS = 5 * 60_000;
const EDIT_TIMEOUT_MS = 30_000;
const MAX_TIMEOUTS = 3; // give up on the paddock edits after this many commits that never came
const POLL_MS = 5;
const OVERALL_TIMEOUT_MS = quick ? 6 * 60_000 : 20 * 60_000;
/** BENCHMARKS.md: p50 <= 2.5x the baseline, p99 < 500 ms, VmHWM < 300 MiB, first pushed commit < 5 s. */
const TARGET = { ratioP50: 2.5, p99: 500, hwmMiB: 300, firstCommitMs: 5_000 };
const PADDOCK_BIN = path.join(REPO_ROOT, 'src/cli/paddock.mjs');

const GIT_ENV = { ...process.env, LC_ALL: 'C', LANG: 'C', GIT_TERMINAL_PROMPT: '0', GIT_CONFIG_NOSYSTEM: '1' };
const GIT_CFG = ['-c', 'user.name=bench', '-c', 'user.email=bench@bench.invalid', '-c', 'commit.gpgsign=false', '-c', 'gc.auto=0'];

function git(cwd: string, ...args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('git', [...GIT_CFG, ...args], { cwd, env: GIT_ENV, maxBuffer: 64 << 20, timeout: 60_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`git ${args.join(' ')} (in ${cwd}): ${err.message}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const sorted = (xs: readonly number[]) => [...xs].sort((a, b) => a - b);
const mean = (xs: readonly number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN);

// ---- the temp root and the child, always cleaned up ----
const root = mkdtempSync(path.join(tmpdir(), 'paddock-bench-watch-'));
let child: ChildProcess | undefined;
let cleaned = false;
function killChild(sig: NodeJS.Signals): void {
  if (!child?.pid || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, sig); // its process group: its git children too
  } catch {
    /* already gone */
  }
}
function cleanupSync(): void {
  if (cleaned) return;
  cleaned = true;
  killChild('SIGKILL');
  rmSync(root, { recursive: true, force: true });
}
process.once('exit', cleanupSync);
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    console.error(`bench watch: ${sig}; cleaning up`);
    cleanupSync();
    process.exit(130);
  });
}
const overall = setTimeout(() => {
  console.error(`bench watch: overall timeout of ${OVERALL_TIMEOUT_MS / 1000} s reached; killing paddock up`);
  cleanupSync();
  process.exit(2);
}, OVERALL_TIMEOUT_MS);
overall.unref();

/** SIGTERM (up finishes its current commit and removes its work dir), SIGKILL after `graceMs`. */
async function stopChild(graceMs = 10_000): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const closed = new Promise((r) => child!.once('close', r));
  killChild('SIGTERM');
  const t = setTimeout(() => killChild('SIGKILL'), graceMs);
  await closed;
  clearTimeout(t);
}

function procStatus(pid: number): { rssMiB: number; hwmMiB: number } {
  const text = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN);
  return { rssMiB: kb('VmRSS') / 1024, hwmMiB: kb('VmHWM') / 1024 };
}

/** The steps of a commit log record (`steps`: sync, synth, write, push ms), when the line is JSON. */
function stepsOf(line: string): Record<string, number> | undefined {
  try {
    return (JSON.parse(line) as { steps?: Record<string, number> }).steps;
  } catch {
    return undefined;
  }
}

/** The edited definition file, its Deployment's image tag set to `tag`. */
function editedSource(i: number, tag: string): string {
  return [
    "import { ApiObject } from 'cdk8s';",
    "import { Environment } from 'paddock';",
    "import { objectsFor } from './_objects';",
    'export default (scope) => {',
    `  const env = new Environment(scope, 'env-${i}', { namespace: 'bench-${i % 50}' });`,
    `  for (const { id, obj } of objectsFor(${i})) {`,
    `    if (id === 'deployment') obj.spec.template.spec.containers[0].image = 'ghcr.io/bench/svc-${i}:${tag}';`,
    '    new ApiObject(env, id, obj);',
    '  }',
    '};',
    '',
  ].join('\n');
}

/** The top-level git commands paddock ran, from the trace2 event files: name, start and end (epoch ms). */
function gitCommands(traceDir: string): Array<{ name: string; start: number; end: number }> {
  const out: Array<{ name: string; start: number; end: number }> = [];
  for (const f of readdirSync(traceDir)) {
    let start: number | undefined;
    let name = '';
    let dur: number | undefined;
    let sid = '';
    for (const line of readFileSync(path.join(traceDir, f), 'utf8').split('\n')) {
      if (!line) continue;
      const e = JSON.parse(line);
      if (e.event === 'start' && start === undefined) {
        sid = e.sid;
        start = Date.parse(e.time) + Number(/\.\d{3}(\d{3})Z$/.exec(e.time)?.[1] ?? 0) / 1000 - e.t_abs * 1000;
        // argv: git [-c k=v]... [-C dir] <cmd> ...
        const argv: string[] = e.argv.slice(1);
        for (let i = 0; i < argv.length; i++) {
          if (argv[i] === '-c' || argv[i] === '-C') i++;
          else if (!argv[i].startsWith('-')) {
            name = argv[i];
            break;
          }
        }
      }
      if ((e.event === 'atexit' || e.event === 'exit') && e.sid === sid) dur = e.t_abs * 1000;
    }
    if (start !== undefined && dur !== undefined && !sid.includes('/')) out.push({ name, start, end: start + dur });
  }
  return out.sort((a, b) => a.start - b.start);
}

/** Per edit: paddock's work before each git command, and each git command; p50 over the edits. */
function printPhases(traceDir: string, edits: ReadonlyArray<{ wallStart: number; wallEnd: number }>): Record<string, number> {
  const cmds = gitCommands(traceDir);
  const byLabel = new Map<string, number[]>();
  const order: string[] = [];
  const add = (label: string, ms: number) => {
    if (!byLabel.has(label)) {
      byLabel.set(label, []);
      order.push(label);
    }
    byLabel.get(label)!.push(ms);
  };
  for (const e of edits) {
    const mine = cmds.filter((c) => c.start >= e.wallStart && c.start <= e.wallEnd);
    let at = e.wallStart;
    const seen = new Map<string, number>();
    for (const c of mine) {
      const k = (seen.get(c.name) ?? 0) + 1;
      seen.set(c.name, k);
      const label = k > 1 ? `${c.name}#${k}` : c.name;
      add(`  paddock, before git ${label}`, c.start - at);
      add(`  git ${label}`, c.end - c.start);
      at = c.end;
    }
    add('  tip moved, relative to git push exit', e.wallEnd - at);
  }
  console.log(`\nphases (from git trace2; ms, over ${edits.length} edits; "paddock" rows are node work between git commands;`);
  console.log('the first one is chokidar + the 20 ms debounce + reloading the file + validating the set; the last is negative when the ref moved before push exited)');
  const rows = order.map((l) => {
    const xs = sorted(byLabel.get(l)!);
    return [l, String(xs.length), percentile(xs, 50), percentile(xs, 99), mean(xs)];
  });
  printTable(['phase', 'count', 'p50', 'p99', 'mean'], rows);
  return Object.fromEntries(order.map((l) => [l.trim(), Math.round(percentile(sorted(byLabel.get(l)!), 50))]));
}

try {
  const defs = path.join(root, 'definitions');
  const cwd = path.join(root, 'cwd');
  const childTmp = path.join(root, 'tmp');
  const remote = path.join(root, 'manifests.git');
  const baseRemote = path.join(root, 'baseline.git');
  const baseWork = path.join(root, 'baseline-work');
  for (const d of [cwd, childTmp]) mkdirSync(d, { recursive: true });
  writeDefinitions(defs, N);
  await git(root, 'init', '--bare', '--quiet', '--initial-branch=main', remote);
  const headFile = path.join(remote, 'refs', 'heads', 'main');
  /** The branch tip: the loose ref file (what `git rev-parse main` reads, without a process per poll). */
  const tip = async (): Promise<string | undefined> => {
    try {
      return readFileSync(headFile, 'utf8').trim();
    } catch {
      return (await git(remote, 'rev-parse', '--verify', '--quiet', 'main').catch(() => '')).trim() || undefined;
    }
  };

  // ---- paddock up ----
  const port = await freePort();
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('PADDOCK_')) env[k] = v;
  Object.assign(env, { TMPDIR: childTmp, PADDOCK_LOG_FORMAT: 'json', ...(process.env.PADDOCK_LOG_LEVEL ? { PADDOCK_LOG_LEVEL: process.env.PADDOCK_LOG_LEVEL } : {}) });
  const traceDir = path.join(root, 'trace2');
  if (phases) {
    const home = path.join(root, 'home');
    mkdirSync(home, { recursive: true });
    mkdirSync(traceDir, { recursive: true });
    writeFileSync(path.join(home, '.gitconfig'), `[trace2]\n\teventTarget = ${traceDir}\n\teventNesting = 1\n`);
    env.HOME = home;
  }
  const t0 = performance.now();
  child = spawn(process.execPath, [PADDOCK_BIN, 'up', '--repo', remote, '--definitions', defs, '--listen', `127.0.0.1:${port}`], {
    cwd, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true,
  });
  let stdout = '';
  let stderr = '';
  const commitLines: Array<{ sha: string; files: number; ms: number; at: number; line: string; steps?: Record<string, number> }> = [];
  // Commit lines are log records (stderr); each is timed as it arrives.
  const lineReader = () => {
    let partial = '';
    return (d: Buffer) => {
      partial += d;
      const lines = partial.split('\n');
      partial = lines.pop()!;
      for (const line of lines) {
        const m = /^commit ([0-9a-f]{8}) .*\((\d+) files, \d+ requests, (\d+) ms/.exec(messagesOf(line));
        if (m) commitLines.push({ sha: m[1], files: Number(m[2]), ms: Number(m[3]), at: performance.now(), line, steps: stepsOf(line) });
      }
    };
  };
  const fromStdout = lineReader();
  const fromStderr = lineReader();
  child.stdout!.on('data', (d) => {
    stdout += d;
    fromStdout(d);
  });
  child.stderr!.on('data', (d) => {
    stderr += d;
    fromStderr(d);
    if (process.env.PADDOCK_LOG_LEVEL) process.stderr.write(d);
  });
  const tail = () => `\n--- stdout (tail) ---\n${stdout.slice(-3000)}\n--- stderr (tail) ---\n${stderr.slice(-3000)}`;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`paddock up did not print "paddock is up" within ${STARTUP_TIMEOUT_MS / 1000} s${tail()}`)), STARTUP_TIMEOUT_MS);
    const check = () => {
      if (stdout.includes('paddock is up')) {
        clearTimeout(timer);
        resolve();
      }
    };
    child!.stdout!.on('data', check);
    child!.once('close', (code, sig) => {
      clearTimeout(timer);
      reject(new Error(`paddock up exited (${code ?? sig}) before it was up${tail()}`));
    });
  });
  const startupMs = performance.now() - t0;
  const firstCommitMs = commitLines.length ? commitLines[0].at - t0 : Infinity;
  const loadBefore = loadavg()[0];
  const firstCommit = commitLines[0];
  const pid = child.pid!;
  const rssUp = procStatus(pid);
  const files0 = (await git(remote, 'ls-tree', '-r', '--name-only', 'main')).split('\n').filter(Boolean);
  const target = files0.find((f) => f.startsWith(`groups/env-${EDITED}/`) && /deployment-svc-\d+\.yaml$/.test(f));
  const apps = files0.filter((f) => /^apps\/env-\d+\.yaml$/.test(f)).length;
  if (!target || apps !== N) throw new Error(`after up the repo holds ${apps} of ${N} group Applications, and ${target ? '' : 'no '}Deployment file for env-${EDITED}${tail()}`);
  if (firstCommit) console.log(`first commit: ${firstCommit.line}`);
  console.log(`setup: paddock up with ${N} definition files: up in ${(startupMs / 1000).toFixed(1)} s (first commit: ${firstCommit?.files ?? '?'} files, cycle ${firstCommit?.ms ?? '?'} ms), ${files0.length} files in the repo; RSS ${rssUp.rssMiB.toFixed(0)} MiB`);

  // ---- the baseline repo: the same tree, another bare repo, a clone ----
  await git(root, 'clone', '--bare', '--quiet', '--no-hardlinks', remote, baseRemote);
  await git(root, 'clone', '--quiet', baseRemote, baseWork);

  // Let the watcher's initial directory scan settle before the first edit.
  await sleep(2_000);

  const editFile = path.join(defs, `env-${String(EDITED).padStart(5, '0')}.ts`);
  interface EditResult { ms: number; cycleMs?: number; steps?: Record<string, number>; files?: number; changedPaths?: string[]; timedOut: boolean; wallStart: number; wallEnd: number }
  const wall = () => Date.now(); // git's trace2 times are wall-clock times

  /** One paddock edit: write, then poll the tip until it holds `tag` in the Deployment file. */
  async function paddockEdit(tag: string): Promise<EditResult & { content?: string }> {
    let prev = await tip();
    const before = prev;
    const seenLines = commitLines.length;
    const t = performance.now();
    const wallStart = wall();
    writeFileSync(editFile, editedSource(EDITED, tag));
    const deadline = t + EDIT_TIMEOUT_MS;
    while (performance.now() < deadline) {
      const now = await tip();
      if (now && now !== prev) {
        const at = performance.now();
        const content = await git(remote, 'show', `${now}:${target}`).catch(() => '');
        if (content.includes(`:${tag}\n`)) {
          const ms = at - t;
          const changedPaths = before ? (await git(remote, 'diff', '--name-only', before, now)).split('\n').filter(Boolean) : undefined;
          // The commit line follows the push: wait briefly for it (not timed).
          let line: (typeof commitLines)[number] | undefined;
          for (let i = 0; i < 200 && !line; i++) {
            line = commitLines.slice(seenLines).find((c) => now.startsWith(c.sha));
            if (!line) await sleep(10);
          }
          return { ms, cycleMs: line?.ms, steps: line?.steps, files: line?.files, changedPaths, timedOut: false, content, wallStart, wallEnd: wallStart + ms };
        }
        prev = now; // some other commit: keep waiting for ours
      }
      await sleep(POLL_MS);
    }
    return { ms: Infinity, timedOut: true, wallStart, wallEnd: wall() };
  }

  /** One baseline edit: write the same file content, `git commit -a`, `git push`. */
  async function baselineEdit(content: string, tag: string): Promise<number> {
    const t = performance.now();
    writeFileSync(path.join(baseWork, target!), content);
    await git(baseWork, 'commit', '-q', '-a', '-m', `bench: ${tag}`);
    await git(baseWork, 'push', '-q', 'origin', 'HEAD:main');
    return performance.now() - t;
  }

  // A warm-up edit (reported, not in the percentiles): the first reload after start.
  const warm = await paddockEdit('warmup');
  if (warm.timedOut) throw new Error(`the warm-up edit produced no commit within ${EDIT_TIMEOUT_MS / 1000} s${tail()}`);
  await baselineEdit(warm.content!, 'warmup');

  const results: EditResult[] = [];
  const base: number[] = [];
  let timeouts = 0;
  for (let k = 1; k <= EDITS; k++) {
    const tag = `edit-${k}`;
    const r = await paddockEdit(tag);
    results.push(r);
    if (r.timedOut) {
      timeouts++;
      console.error(`edit ${k}: no commit holding ${tag} within ${EDIT_TIMEOUT_MS / 1000} s`);
      if (timeouts >= MAX_TIMEOUTS) {
        console.error(`giving up after ${timeouts} edits without a commit${tail()}`);
        break;
      }
      continue;
    }
    const content = await git(remote, 'show', `main:${target}`);
    base.push(await baselineEdit(content, tag));
  }
  const rss = procStatus(pid);
  const upStdoutCommits = commitLines.length;
  await stopChild();

  // ---- the report ----
  const lat = sorted(results.map((r) => r.ms));
  const ok = results.filter((r) => !r.timedOut);
  const cycles = sorted(ok.map((r) => r.cycleMs).filter((x): x is number => x !== undefined));
  const before = sorted(ok.filter((r) => r.cycleMs !== undefined).map((r) => r.ms - r.cycleMs!));
  const bs = sorted(base);
  const p50 = percentile(lat, 50);
  const p99 = percentile(lat, 99);
  const b50 = percentile(bs, 50);
  const b99 = percentile(bs, 99);
  const filesPerCommit = [...new Set(ok.map((r) => r.files ?? -1))].sort((a, b) => a - b);
  const pathsPerCommit = [...new Set(ok.map((r) => (r.changedPaths ?? []).join(',')))];

  console.log(`\n${results.length} edits of ${path.basename(editFile)} among ${N} definition files (+1 warm-up edit: ${fmt(warm.ms)} ms); ms from the file write to the pushed commit`);
  console.log('"commit cycle" = the committer\'s own figure (its commit line): fetch, synth, commit, push, from the start of its cycle to push done;');
  console.log('"total - cycle" ~ chokidar + 20 ms debounce + reloading the file + validating the set, less the time the push runs on after the ref moved (--phases splits it)');
  printTable(['', 'p50', 'p99', 'mean', 'min', 'max', 'ratio p50', 'ratio p99'], [
    ['paddock up', p50, p99, mean(lat), lat[0], lat[lat.length - 1], p50 / b50, p99 / b99],
    ['  total - cycle', percentile(before, 50), percentile(before, 99), mean(before), before[0], before[before.length - 1], '', ''],
    ['  commit cycle', percentile(cycles, 50), percentile(cycles, 99), mean(cycles), cycles[0], cycles[cycles.length - 1], '', ''],
    ['git commit+push', b50, b99, mean(bs), bs[0], bs[bs.length - 1], 1, 1],
  ]);
  const r0 = (x: number) => (Number.isFinite(x) ? Math.round(x) : null);
  const stepNames = ['sync', 'synth', 'write', 'push'];
  const stepP50 = Object.fromEntries(stepNames.map((k) => [k, r0(percentile(sorted(ok.flatMap((r) => (r.steps?.[k] === undefined ? [] : [r.steps[k]]))), 50))]));
  console.log(`commit cycle steps, p50 ms: ${stepNames.map((k) => `${k} ${stepP50[k] ?? '?'}`).join(', ')}`);
  let phaseJson: Record<string, number> | undefined;
  if (phases) phaseJson = printPhases(traceDir, ok);
  console.log(`\ncommits: ${ok.length} of ${results.length} edits committed (${timeouts} timed out); files changed per commit: ${filesPerCommit.join(', ')}; paths: ${pathsPerCommit.join(' | ')}`);
  console.log(`paddock up process (watcher + sidecar, ${N} groups): VmRSS ${rss.rssMiB.toFixed(0)} MiB after the edits (${rssUp.rssMiB.toFixed(0)} MiB when up), VmHWM ${rss.hwmMiB.toFixed(0)} MiB; up in ${(startupMs / 1000).toFixed(1)} s`);
  console.log(`machine: ${cpus().length} CPUs; 1-minute load average ${loadBefore.toFixed(2)} before the edits, ${loadavg()[0].toFixed(2)} after (other work on the machine skews the figures)`);
  const verdicts = {
    ratioP50: verdict(p50 / b50 <= TARGET.ratioP50), p99: verdict(p99 < TARGET.p99), hwm: verdict(rss.hwmMiB < TARGET.hwmMiB), firstCommit: verdict(firstCommitMs < TARGET.firstCommitMs),
  };
  console.log(`targets: p50 <= ${TARGET.ratioP50}x the baseline: ${(p50 / b50).toFixed(2)}x ${verdicts.ratioP50}; p99 < ${TARGET.p99} ms: ${fmt(p99)} ${verdicts.p99}; VmHWM < ${TARGET.hwmMiB} MiB: ${rss.hwmMiB.toFixed(0)} ${verdicts.hwm}; first pushed commit < ${TARGET.firstCommitMs / 1000} s from the start: ${(firstCommitMs / 1000).toFixed(1)} s ${verdicts.firstCommit}`);
  printJson('watch', {
    n: N, edits: results.length, committed: ok.length, timeouts,
    paddockP50Ms: r0(p50), paddockP99Ms: r0(p99), paddockMeanMs: r0(mean(lat)), paddockMaxMs: r0(lat[lat.length - 1]),
    totalMinusCycleP50Ms: r0(percentile(before, 50)), commitCycleP50Ms: r0(percentile(cycles, 50)), commitCycleP99Ms: r0(percentile(cycles, 99)),
    warmupEditMs: r0(warm.ms),
    baselineP50Ms: r0(b50), baselineP99Ms: r0(b99),
    ratioP50: +(p50 / b50).toFixed(2), ratioP99: Number.isFinite(p99) ? +(p99 / b99).toFixed(2) : null,
    rssMiB: Math.round(rss.rssMiB), hwmMiB: Math.round(rss.hwmMiB), rssWhenUpMiB: Math.round(rssUp.rssMiB),
    cpus: cpus().length, load1Before: +loadBefore.toFixed(2), load1After: +loadavg()[0].toFixed(2),
    startupMs: Math.round(startupMs), firstCommitMs: r0(firstCommitMs), commitStepsP50Ms: stepP50, firstCommitFiles: firstCommit?.files ?? null, firstCommitCycleMs: firstCommit?.ms ?? null,
    filesPerCommit, commitLines: upStdoutCommits, ...(phaseJson ? { phasesP50Ms: phaseJson } : {}),
    targets: verdicts,
  });
  if (timeouts) process.exitCode = 1;
} catch (e) {
  console.error(`bench watch failed: ${(e as Error)?.stack ?? e}`);
  process.exitCode = 1;
} finally {
  await stopChild(5_000).catch(() => undefined);
  clearTimeout(overall);
  cleanupSync();
}
