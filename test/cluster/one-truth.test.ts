/**
 * One truth across writers (issue 10's acceptance): three real processes on one manifests repo
 * served by `git daemon`, each from its own environment:
 *   - `paddock watch` with the tier's kube-apiserver (KUBECONFIG): live clone sources, TTLs;
 *   - `paddock serve` with no cluster at all: GC, leases, releases, workspaces;
 *   - `paddock demolish` / `revive` / `push` run from another directory without PADDOCK_SIDECAR_URL.
 * The definitions are a git repo published by symlink swaps (as git-sync does), so every commit
 * names the definitions commit it was made from.
 *
 * After 200 mixed operations: `paddock verify --all` reproduces every commit, no clone was ever
 * deleted except in the commit that recorded its source gone, and no group's GC URL ever changed.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { AppsV1Api, type KubeConfig, type V1Deployment } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gcUrl } from '../../core/gc-token.ts';
import { paddock, PADDOCK_BIN } from '../helpers/cli.ts';
import { freePort, GitDaemon } from '../helpers/git-daemon.ts';
import { bareRepo, gitOut, remoteFiles } from '../helpers/repo.ts';
import { tempDir } from '../helpers/synth.ts';
import { adminKubeConfig, deleteNamespaces, ensureNamespaces, theCluster, unique } from './helpers.ts';

const cluster = theCluster();

const SECRET = 'one-truth-gc-secret';
const TOKEN = 'one-truth-api-token';
const APPS = 8;
const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl ada@example.com';

const appsSource = (edit: number) => `
import { ApiObject } from 'cdk8s';
import { Environment } from 'paddock';
export default (scope) => {
  for (let i = 0; i < ${APPS}; i++) {
    const env = new Environment(scope, 'g-' + i, { namespace: 'apps' });
    new ApiObject(env, 'app', { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'app-' + i },
      spec: { replicas: 1, selector: { matchLabels: { app: 'a' + i } }, template: { metadata: { labels: { app: 'a' + i } },
        spec: { containers: [{ name: 'app', image: 'busybox:1.36', env: [{ name: 'EDIT', value: i === ${edit % APPS} ? '${edit}' : '0' }] }] } } } });
  }
};`;

const otherSources = (ns: string) => ({
  'clones.ts': `
import { Clone, Environment } from 'paddock';
export default (scope) => {
  for (const name of ['web', 'api']) {
    const env = new Environment(scope, 'clone-' + name, { namespace: ${JSON.stringify(ns)} });
    new Clone(env, name + '-profiler', { source: { namespace: ${JSON.stringify(ns)}, name }, nameSuffix: '-profiler', scaleFactor: 0.5, env: { PROFILE: 'on' } });
  }
};`,
  'pool.ts': `
import { ApiObject } from 'cdk8s';
import { Environment, LeasePool } from 'paddock';
export default (scope) => {
  new LeasePool(scope, 'res', { type: 'res', count: 4, environment: (pool, r) => {
    const env = new Environment(pool, r.name, { namespace: r.name });
    new ApiObject(env, 'cm', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'lease' }, data: { r: r.name } });
    return env;
  } });
};`,
  'release.ts': `
import { Environment, Release } from 'paddock';
export default (scope) => {
  const env = new Environment(scope, 'store', { namespace: 'store' });
  new Release(env, 'svc', { service: 'svc', template: ${JSON.stringify('apiVersion: apps/v1\nkind: Deployment\nmetadata: { name: svc }\nspec:\n  replicas: 1\n  selector: { matchLabels: { app: svc } }\n  template:\n    metadata: { labels: { app: svc } }\n    spec:\n      containers: [{ name: svc, image: "{{image}}" }]\n')} });
};`,
});

function deployment(ns: string, name: string, replicas: number, image: string): V1Deployment {
  const labels = { app: name };
  return {
    apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name, namespace: ns, labels },
    spec: { replicas, selector: { matchLabels: labels }, template: { metadata: { labels }, spec: { containers: [{ name, image }] } } },
  };
}

/** A seeded generator, so a failing run can be replayed. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

interface Proc {
  readonly child: ChildProcess;
  out: string;
}

function start(args: string[], env: Record<string, string | undefined>, ready: string): Promise<Proc> {
  const merged: NodeJS.ProcessEnv = { ...process.env, ...env };
  for (const k of Object.keys(merged)) if (merged[k] === undefined) delete merged[k];
  const child = spawn(process.execPath, [PADDOCK_BIN, ...args], { env: merged, stdio: ['ignore', 'pipe', 'pipe'] });
  const p: Proc = { child, out: '' };
  child.stdout!.on('data', (d) => (p.out += d));
  child.stderr!.on('data', (d) => (p.out += d));
  return new Promise((resolve, reject) => {
    const t = setInterval(() => p.out.includes(ready) && (clearInterval(t), resolve(p)), 50);
    child.once('exit', (code) => (clearInterval(t), reject(new Error(`paddock ${args[0]} exited ${code}: ${p.out}`))));
  });
}

async function stop(p: Proc | undefined): Promise<void> {
  if (!p || p.child.exitCode !== null || p.child.signalCode !== null) return;
  p.child.kill('SIGTERM');
  await new Promise((r) => p.child.once('close', r));
}

const sh = (cwd: string, ...args: string[]) =>
  execFileSync('git', args, { cwd, encoding: 'utf8', env: { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@t', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@t' } }).trim();

describe.skipIf(!cluster)('one truth across writers: watcher, sidecar and CLI on one repo', () => {
  const ns = unique('truth-src');
  const created: string[] = [];
  let admin: KubeConfig;
  let apps: AppsV1Api;
  let daemon: GitDaemon | undefined;
  let watcher: Proc | undefined;
  let sidecar: Proc | undefined;

  beforeAll(async () => {
    admin = adminKubeConfig();
    apps = admin.makeApiClient(AppsV1Api);
    created.push(...(await ensureNamespaces(admin, [ns])));
  });

  afterAll(async () => {
    await stop(watcher);
    await stop(sidecar);
    await daemon?.stop();
    if (cluster && admin) await deleteNamespaces(admin, cluster, created);
  });

  it('GIVEN three writers with different environments WHEN 200 mixed operations run THEN verify --all reproduces every commit, clones go only with their sources, and no GC URL ever changes', async () => {
    const remote = await bareRepo();
    daemon = await GitDaemon.start(path.dirname(remote));
    const url = daemon.url(remote);

    // The definitions: a git repo, published to writers by swapping the `current` symlink.
    const defsRepo = path.join(tempDir('paddock-defs-repo-'), 'defs');
    mkdirSync(path.join(defsRepo, 'envs'), { recursive: true });
    writeFileSync(path.join(defsRepo, 'envs', 'apps.ts'), appsSource(0));
    for (const [f, src] of Object.entries(otherSources(ns))) writeFileSync(path.join(defsRepo, 'envs', f), src);
    sh(defsRepo, 'init', '-q', '-b', 'main');
    sh(defsRepo, 'add', '.');
    sh(defsRepo, 'commit', '-qm', 'definitions v0');
    const link = path.join(path.dirname(defsRepo), 'current');
    let trees = 0;
    const publish = (edit: number) => {
      const tree = path.join(path.dirname(defsRepo), 'trees', String(++trees));
      sh(defsRepo, 'worktree', 'add', '-q', '--detach', tree, 'main');
      if (edit > 0) {
        writeFileSync(path.join(tree, 'envs', 'apps.ts'), appsSource(edit));
        sh(tree, 'commit', '-qam', `edit ${edit}`);
        sh(defsRepo, 'update-ref', 'refs/heads/main', sh(tree, 'rev-parse', 'HEAD'));
      }
      symlinkSync(tree, `${link}.tmp`);
      renameSync(`${link}.tmp`, link);
    };
    publish(0);
    const dir = path.join(link, 'envs');

    // Live sources exist before the watcher starts.
    await apps.createNamespacedDeployment({ namespace: ns, body: deployment(ns, 'web', 4, 'nginx:1.25') });
    await apps.createNamespacedDeployment({ namespace: ns, body: deployment(ns, 'api', 2, 'nginx:1.25') });

    const port = await freePort();
    const sidecarUrl = `http://127.0.0.1:${port}`;
    const noCluster = { KUBECONFIG: undefined, KUBERNETES_SERVICE_HOST: undefined };
    watcher = await start(['watch', '--repo', url, '--definitions', dir], { PADDOCK_GC_SECRET: SECRET, PADDOCK_SIDECAR_URL: sidecarUrl, POD_NAMESPACE: ns, HOSTNAME: 'truth-watcher' }, 'paddock watch: watching');
    await expect.poll(() => remoteFiles(remote).filter((f) => f.startsWith('state/sources/')).length, { timeout: 30_000 }).toBe(2);
    sidecar = await start(['serve', '--repo', url, '--definitions', dir, '--listen', `127.0.0.1:${port}`], { ...noCluster, PADDOCK_GC_SECRET: SECRET, PADDOCK_SIDECAR_URL: sidecarUrl, PADDOCK_API_TOKENS: TOKEN }, 'listening on');
    const cliEnv = { ...noCluster, PADDOCK_GC_SECRET: SECRET, PADDOCK_SIDECAR_URL: undefined };
    const cliDir = tempDir('paddock-cli-cwd-');
    const cli = (args: string[]) => paddock([...args, '--repo', url, '--definitions', dir], { env: cliEnv, cwd: cliDir, timeoutMs: 120_000 });
    // An edit published while a command loaded its definitions, and rendered by another writer
    // first, makes them stale: refused (rightly), and the same command again reads the new ones.
    // Edits come every second or so here, so it may take a few goes.
    const cliAgainWhenStale = async (args: string[]) => {
      let r = await cli(args);
      for (let i = 0; i < 5 && /which your checkout \(at \w+\) does not contain/.test(r.stderr); i++) r = await cli(args);
      return r;
    };
    const api = async (method: string, p: string, body?: unknown) => {
      const r = await fetch(`${sidecarUrl}${p}`, { method, headers: { authorization: `Bearer ${TOKEN}`, ...(body ? { 'content-type': 'application/json' } : {}) }, body: body ? JSON.stringify(body) : undefined });
      return { status: r.status, body: r.status === 204 ? undefined : await r.json() };
    };

    // 200 operations, at most 3 at a time, in an order a seed decides.
    const kinds = [
      ...Array<string>(40).fill('gc'), ...Array<string>(20).fill('revive'), ...Array<string>(12).fill('demolish'), ...Array<string>(3).fill('push'),
      ...Array<string>(40).fill('lease'), ...Array<string>(20).fill('release'), ...Array<string>(15).fill('workspace'),
      ...Array<string>(20).fill('edit'), ...Array<string>(30).fill('source'),
    ];
    expect(kinds).toHaveLength(200);
    const random = rng(10);
    for (let i = kinds.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [kinds[i], kinds[j]] = [kinds[j], kinds[i]];
    }
    const pick = <T>(xs: readonly T[]): T | undefined => (xs.length ? xs[Math.floor(random() * xs.length)] : undefined);
    const alive = () => remoteFiles(remote).flatMap((f) => /^apps\/(g-\d+)\.yaml$/.exec(f)?.[1] ?? []);
    const removed = () => remoteFiles(remote).flatMap((f) => /^state\/removals\/(g-\d+)\.yaml$/.exec(f)?.[1] ?? []);
    const failures: string[] = [];
    const done: Record<string, number> = {};
    let edits = 0;
    let releases = 0;
    let workspaces = 0;
    const deleting = new Set<string>();
    let webImage = 0;
    let apiPresent = true;
    const op = async (kind: string): Promise<void> => {
      const ok = (cond: boolean, what: string) => (cond ? (done[kind] = (done[kind] ?? 0) + 1) : failures.push(`${kind}: ${what}`));
      switch (kind) {
        case 'gc': {
          const g = pick(alive());
          if (!g) return void ok(true, '');
          const r = await fetch(gcUrl(sidecarUrl, SECRET, g), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ label: `group_id=${g}` }) });
          return void ok(r.status === 202 || r.status === 200, `${g}: ${r.status} ${await r.text()}`);
        }
        case 'revive':
        case 'demolish': {
          const g = pick(kind === 'revive' ? removed() : alive());
          if (!g) return void ok(true, '');
          const r = await cliAgainWhenStale([kind, g]);
          return void ok(r.code === 0, `${g}: exit ${r.code}: ${r.stderr}`);
        }
        case 'push': {
          const r = await cliAgainWhenStale(['push']);
          return void ok(r.code === 0, `exit ${r.code}: ${r.stderr}`);
        }
        case 'lease': {
          const a = await fetch(`${sidecarUrl}/acquire?type=res&state=free&dest=busy&owner=tester`, { method: 'POST' });
          if (a.status === 404) return void ok(true, '');
          const res = (await a.json()) as { name: string };
          const dest = random() < 0.3 ? 'dirty' : 'free';
          const r = await fetch(`${sidecarUrl}/release?name=${res.name}&dest=${dest}&owner=tester`, { method: 'POST' });
          return void ok(a.status === 200 && r.status === 200, `acquire ${a.status}, release ${r.status}`);
        }
        case 'release': {
          const n = ++releases;
          const r = await api('POST', '/api/releases', { service: 'svc', version: `1.0.${n}`, image: `registry.test/svc:${n}` });
          return void ok(r.status === 201, `${r.status} ${JSON.stringify(r.body)}`);
        }
        case 'workspace': {
          const list = await api('GET', '/api/workspaces');
          // Another runner may be deleting one already: each runner deletes only a workspace
          // nobody else is deleting, so a 404 here is a real failure.
          const existing = ((list.body?.items ?? list.body ?? []) as Array<{ name: string }>).filter((w) => !deleting.has(w.name));
          if (existing.length > 2 || (existing.length && random() < 0.4)) {
            const name = existing[0].name;
            deleting.add(name);
            const r = await api('DELETE', `/api/workspaces/${name}`);
            return void ok(r.status === 204 || r.status === 200, `delete ${name}: ${r.status} ${JSON.stringify(r.body)}`);
          }
          const r = await api('POST', '/api/workspaces', { email: `dev${++workspaces}@example.com`, ram: 1, cpu: 1, storage: '1Gi', publicKey: KEY });
          return void ok(r.status === 201, `${r.status} ${JSON.stringify(r.body)}`);
        }
        case 'edit':
          publish(++edits);
          return void ok(true, '');
        case 'source': {
          // Source changes are made one at a time (each reads the current object).
          if (random() < 0.3) {
            if (apiPresent) await apps.deleteNamespacedDeployment({ name: 'api', namespace: ns });
            else await apps.createNamespacedDeployment({ namespace: ns, body: deployment(ns, 'api', 3, 'nginx:1.27') });
            apiPresent = !apiPresent;
          } else {
            const cur = await apps.readNamespacedDeployment({ name: 'web', namespace: ns });
            const next = deployment(ns, 'web', 2 + (++webImage % 5), `nginx:1.${25 + (webImage % 3)}`);
            next.metadata!.resourceVersion = cur.metadata!.resourceVersion;
            await apps.replaceNamespacedDeployment({ name: 'web', namespace: ns, body: next });
          }
          return void ok(true, '');
        }
      }
    };
    let next = 0;
    let sourceChain = Promise.resolve();
    const runner = async () => {
      while (next < kinds.length) {
        const kind = kinds[next++];
        if (kind === 'source') {
          sourceChain = sourceChain.then(() => op(kind));
          await sourceChain;
        } else await op(kind);
      }
    };
    await Promise.all([runner(), runner(), runner()]);
    expect(failures.slice(0, 5), `watcher: ${watcher.out.slice(-2000)}\nsidecar: ${sidecar.out.slice(-2000)}`).toEqual([]);

    // Let the writers catch up with the last edits and source changes: the tip stops moving.
    let tip = '';
    await expect.poll(() => {
      const now = gitOut(remote, 'rev-parse', 'main');
      const still = now === tip;
      tip = now;
      return still;
    }, { timeout: 60_000, interval: 4_000 }).toBe(true);

    const commits = gitOut(remote, 'rev-list', '--first-parent', 'main').split('\n').reverse();
    console.info(`one truth: ${commits.length} commits from 200 operations (${JSON.stringify(done)})`);
    expect(commits.length).toBeGreaterThan(50);
    // Every writer took part.
    const requesters = gitOut(remote, 'log', '--format=%(trailers:key=Paddock-Requested-By,valueonly)', 'main');
    expect(requesters).toContain('paddock watcher (clone sources)');
    expect(requesters).toMatch(/gc token of g-\d+/);
    expect(requesters).toContain('via paddock CLI');

    // 1. verify reproduces every commit.
    const v = await paddock(['verify', '--repo', url, '--definitions', dir, '--all'], { env: { PADDOCK_GC_SECRET: SECRET }, timeoutMs: 300_000 });
    expect(v.code, `${v.stdout.slice(-3000)}\n${v.stderr}`).toBe(0);
    expect(v.stdout).toContain(`verified ${commits.length} commits`);

    // 2. A clone file is deleted only by the commit that records its source gone.
    const log = gitOut(remote, 'log', '--first-parent', '--reverse', '--name-status', '--format=@%H %s', 'main');
    let sha = '';
    const changes = new Map<string, string[]>();
    for (const line of log.split('\n')) {
      if (line.startsWith('@')) changes.set((sha = line.slice(1, 41)), []);
      else if (line.trim()) changes.get(sha)!.push(line);
    }
    let cloneDeletions = 0;
    for (const [c, lines] of changes) {
      for (const l of lines) {
        const m = /^D\tgroups\/clone-(web|api)\/deployment-\1-profiler\.yaml$/.exec(l);
        if (!m) continue;
        cloneDeletions++;
        expect(lines, `commit ${c} deletes the ${m[1]} clone`).toContain(`D\tstate/sources/${ns}/${m[1]}.yaml`);
      }
    }
    expect(cloneDeletions).toBeGreaterThan(0); // api went away at least once

    // 3. No group's GC URL ever changed: in every commit, every container's is exactly its group's.
    let checked = 0;
    for (const c of commits) {
      let grep = '';
      try {
        grep = gitOut(remote, 'grep', '-A1', 'name: GARBAGE_COLLECTOR_URL', c, '--', 'groups/');
      } catch {
        continue; // no containers in this commit
      }
      for (const m of grep.matchAll(/^[0-9a-f]+:groups\/([^/]+)\/\S+-\s+value: (\S+)$/gm)) {
        expect(m[2], `commit ${c}, group ${m[1]}`).toBe(gcUrl(sidecarUrl, SECRET, m[1]));
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(commits.length);
  }, 900_000);
});
