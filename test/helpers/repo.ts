/** Real git for tests: bare repos in temp dirs, committers on them, and reading what landed. */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { Committer, type CommitterOptions, type DefinitionSet } from '../../src/repo/committer.ts';
import { initBareRepo } from '../../src/repo/git/index.ts';
import type { WriterSettings } from '../../src/repo/settings.ts';
import { loadDefinitions, type Definition } from '../../src/synth/index.ts';
import { definitionsDir, TEST_SECRET, tempDir } from './synth.ts';

export async function bareRepo(branch = 'main'): Promise<string> {
  const dir = path.join(tempDir('paddock-remote-'), 'manifests.git');
  await initBareRepo(dir, branch);
  return dir;
}

/** `git` in `cwd`, output trimmed. For reading what landed; paddock's own code goes through src/repo/git.ts. */
export function gitOut(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, { cwd, encoding: 'utf8', env: { ...process.env, LC_ALL: 'C' } }).trim();
}

/** Files at the remote's branch tip. */
export function remoteFiles(remote: string, branch = 'main'): string[] {
  try {
    return gitOut(remote, 'ls-tree', '-r', '--name-only', branch).split('\n').filter(Boolean);
  } catch {
    return [];
  }
}

/**
 * What the remote says of a group's Application: `active` (its objects under `groups/<group>/`),
 * `emptied` (removed: the Application points at `retired/`, so Argo CD prunes through it, and no
 * object is left in the repo) or `absent`.
 */
export function groupApp(remote: string, group: string, branch = 'main'): 'active' | 'emptied' | 'absent' {
  const files = remoteFiles(remote, branch);
  const objects = files.some((f) => f.startsWith(`groups/${group}/`));
  if (!files.includes(`apps/${group}.yaml`)) return objects ? ('inconsistent: objects without an Application' as never) : 'absent';
  const path = /^\s+path: (\S+)$/m.exec(remoteFile(remote, `apps/${group}.yaml`, branch))?.[1];
  if (path === `groups/${group}` && objects) return 'active';
  if (path === 'retired' && !objects) return 'emptied';
  return `inconsistent: apps/${group}.yaml has path ${path}, objects ${objects}` as never;
}

export function remoteFile(remote: string, p: string, branch = 'main'): string {
  return gitOut(remote, 'show', `${branch}:${p}`);
}

export function commitCount(remote: string, branch = 'main'): number {
  try {
    return Number(gitOut(remote, 'rev-list', '--count', branch));
  } catch {
    return 0;
  }
}

/** A definitions source of `n` one-ConfigMap groups named `g-0`..`g-<n-1>`. */
/**
 * `n` groups `<prefix>-<i>`, each in its own namespace of that name, with a ConfigMap `settings`
 * and a Deployment `app`: what the Argo CD test and bench sync into the API server.
 */
export function workloadGroupsSource(prefix: string, n: number): string {
  return `
import { ApiObject } from 'cdk8s';
import { Environment } from 'paddock';
export default (scope) => {
  for (let i = 0; i < ${n}; i++) {
    const env = new Environment(scope, '${prefix}-' + i, { namespace: '${prefix}-' + i });
    new ApiObject(env, 'cm', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'settings' }, data: { i: String(i) } });
    new ApiObject(env, 'app', { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'app' },
      spec: { replicas: 1, selector: { matchLabels: { app: 'a' } }, template: { metadata: { labels: { app: 'a' } }, spec: { containers: [{ name: 'app', image: 'busybox:1.36' }] } } } });
  }
};`;
}

export function groupsSource(n: number, prefix = 'g'): string {
  return `
import { ApiObject } from 'cdk8s';
import { Environment } from 'paddock';
export default (scope) => {
  for (let i = 0; i < ${n}; i++) {
    const env = new Environment(scope, '${prefix}-' + i, { namespace: 'ns-' + (i % 5) });
    new ApiObject(env, 'cm', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cm-${prefix}-' + i }, data: { i: String(i) } });
  }
};`;
}

/** A definitions source of one lease pool: `count` resources of `type`, each an Environment with one ConfigMap. */
export function poolSource(type: string, count: number): string {
  return `
import { ApiObject } from 'cdk8s';
import { Environment, LeasePool } from 'paddock';
export default (scope) => {
  new LeasePool(scope, '${type}', { type: '${type}', count: ${count}, environment: (pool, r) => {
    const env = new Environment(pool, r.name, { namespace: r.name });
    new ApiObject(env, 'cm', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'lease' }, data: { r: r.name } });
    return env;
  } });
};`;
}

export async function loadSet(files: Record<string, string>, version = 1): Promise<DefinitionSet & { dir: string; defs: Definition[] }> {
  const dir = definitionsDir(files);
  const { definitions, errors } = await loadDefinitions(dir);
  if (errors.length) throw errors[0];
  return { definitions, version, dir, defs: definitions };
}

export function committer(remote: string, set: DefinitionSet | (() => DefinitionSet), extra: Partial<CommitterOptions> = {}): Committer {
  return new Committer({
    repo: remote,
    branch: 'main',
    definitions: typeof set === 'function' ? set : () => set,
    writer: testWriter(remote),
    retry: { initialMs: 20, capMs: 200 },
    clock: () => new Date('2026-11-23T12:00:00.000Z'),
    ...extra,
  });
}

/** The settings every test writer proposes: the test sidecar, `remote` for Argo CD, project `paddock`, the test secret. */
export function testWriter(remote: string, extra: Partial<WriterSettings> = {}): WriterSettings {
  return {
    claims: {},
    defaults: { sidecarUrl: 'http://sidecar.test:8080', argo: { repoURL: remote, targetRevision: 'main', namespace: 'argocd', project: 'paddock' } },
    gcSecret: TEST_SECRET,
    ...extra,
  };
}

let seq = 0;
export const rid = (prefix = 'req') => `${prefix}-${process.pid}-${++seq}`;
