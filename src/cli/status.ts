/**
 * `paddock status`: groups, leases, workspaces and releases in the manifests repo, with state
 * and age, as tables or (`-o json|yaml`, kubectl's convention) as data. It only reads: the
 * branch is fetched into a cache copy (`$PADDOCK_CACHE_DIR`, else `$XDG_CACHE_HOME/paddock`,
 * else `~/.cache/paddock`), and `apps/` and `state/` are read from it; no committer, no work tree.
 */
import { readdir } from 'node:fs/promises';
import type { Command } from 'commander';
import YAML from 'yaml';
import { activeRelease, deployedRelease, type StateRecords } from '../../core/records.ts';
import { formatDuration } from '../../core/duration.ts';
import { UserError } from '../errors.ts';
import { decideSettings } from '../repo/settings.ts';
import { classifyGitError, isNoBranchYet, RepoReader, unavailableError } from '../repo/git/index.ts';
import { fromYaml, groupOfAppPath } from '../synth/layout.ts';
import { parseState } from '../synth/state.ts';
import { statusCopyDir } from './cache.ts';
import { repoOptions, repoSettings, type RepoFlags } from './options.ts';
import { table } from './table.ts';

const FORMATS = ['table', 'json', 'yaml'] as const;
type Format = (typeof FORMATS)[number];

/** What `paddock status` reports: the same data for every output format. */
export interface Status {
  readonly repo: string;
  readonly branch: string;
  readonly lastCommit?: { readonly sha: string; readonly subject: string; readonly date: string };
  readonly groups: ReadonlyArray<{
    readonly name: string;
    /** active; retiring: removed, its emptied Application still in `apps/`; removed: gone from `apps/`. */
    readonly state: 'active' | 'retiring' | 'removed';
    readonly createdAt?: string;
    readonly ttl?: string;
    readonly expiresAt?: string;
    readonly owner?: string;
    readonly removal?: { readonly reason: string; readonly at: string; readonly requestedBy: string };
  }>;
  readonly waitingClones: ReadonlyArray<{ readonly clone: string; readonly group: string; readonly source: string }>;
  readonly leases: ReadonlyArray<{ readonly type: string; readonly name: string; readonly state: string; readonly owner: string }>;
  readonly workspaces: ReadonlyArray<{ readonly name: string; readonly state: 'running' | 'stopped'; readonly email: string; readonly port: number; readonly ram: number; readonly cpu: number; readonly storage: string; readonly createdAt: string }>;
  readonly releases: ReadonlyArray<{ readonly service: string; readonly active?: { readonly id: string; readonly version: string; readonly image?: string; readonly createdAt: string }; readonly count: number; readonly deleted: number }>;
  /** What runs in each context deployments name (kubernaut's deployments): the release in force there. */
  readonly deployments: ReadonlyArray<{ readonly service: string; readonly context: string; readonly version: string; readonly release: string; readonly id: string; readonly deployedAt: string }>;
}

export function registerStatus(program: Command): void {
  repoOptions(program.command('status').description('groups, leases, workspaces and releases in the manifests repo, with state and age'))
    .option('-o, --output <format>', `output format: ${FORMATS.join(', ')} (default table)`)
    .action(async (f: RepoFlags & { output?: string }) => {
      const format = (f.output ?? 'table') as Format;
      if (!FORMATS.includes(format)) throw new UserError('InvalidConfig', `--output "${f.output}" is not one of ${FORMATS.join(', ')}`);
      const s = repoSettings(f);
      const reader = await fetchBranch(s.repo, s.branch);
      const head = await reader?.resolve(`refs/heads/${s.branch}`);
      const files = reader && head ? await reader.files(head, (p) => p.startsWith('apps/') || p.startsWith('state/')) : new Map<string, string>();
      const state = parseState(files);
      const waiting = await waitingClones(s.definitionsDir, state, s.writer);
      const status = statusOf({ repo: s.repo, branch: s.branch, files, state, head: reader && head ? await reader.describe(head) : undefined, waiting });
      const now = new Date();
      if (format === 'json') console.log(JSON.stringify(status, null, 2));
      else if (format === 'yaml') process.stdout.write(YAML.stringify(status));
      else console.log(render(status, now));
    });
}

/** Tries of a fetch that finds another `status` fetching into the same copy (git's ref lock). */
const LOCKED_TRIES = 5;

/**
 * The branch fetched into status's cache copy; undefined while the remote has no such branch (an
 * empty repo: nothing to show yet). A remote that cannot be used is RemoteUnavailable, saying why.
 */
async function fetchBranch(repo: string, branch: string): Promise<RepoReader | undefined> {
  for (let tries = 1; ; tries++) {
    try {
      return await RepoReader.fetch(repo, statusCopyDir(repo), branch);
    } catch (e) {
      if (isNoBranchYet(e)) return undefined;
      const kind = classifyGitError(e);
      if (kind !== 'lock' || tries === LOCKED_TRIES) throw unavailableError(kind, e);
      await new Promise((r) => setTimeout(r, 100 * tries));
    }
  }
}

/** Clones by reference whose source is not recorded yet, when the definitions are at hand. */
async function waitingClones(dir: string, state: StateRecords, writer: Parameters<typeof decideSettings>[1]): Promise<Status['waitingClones']> {
  try {
    if (!(await readdir(dir)).some((f) => /\.[mc]?[jt]s$/.test(f))) return [];
    // Loaded here only: synthesis is the heavy part of paddock, and most status calls have no definitions at hand.
    const { loadDefinitions, synthesize } = await import('../synth/index.ts');
    const { synthInputs } = await import('../synth/synthesize.ts');
    const loaded = await loadDefinitions(dir);
    if (!loaded.definitions.length) return [];
    const r = await synthesize(loaded.definitions, synthInputs(decideSettings(state.settings, { ...writer, claims: {} }).record, state, writer.gcSecret));
    return r.waiting.map((w) => ({ clone: w.clone, group: w.group, source: w.source }));
  } catch {
    return []; // status reports the repo; definitions problems are `paddock synth`'s to report
  }
}

/** The status of a branch from its `apps/` and `state/` files. */
export function statusOf(input: {
  readonly repo: string;
  readonly branch: string;
  readonly files: ReadonlyMap<string, string>;
  readonly state: StateRecords;
  readonly head?: { readonly sha: string; readonly subject: string; readonly date: Date };
  readonly waiting: Status['waitingClones'];
}): Status {
  const { state } = input;
  const groups = new Map<string, Status['groups'][number]>();
  for (const [p, text] of input.files) {
    const name = groupOfAppPath(p);
    if (!name) continue;
    const ann = (fromYaml(text)?.metadata?.annotations ?? {}) as Record<string, string>;
    groups.set(name, { name, state: 'active', createdAt: state.groups.get(name)?.createdAt, ttl: ann['paddock.dev/ttl'], expiresAt: ann['paddock.dev/expires-at'], owner: ann['paddock.dev/owner'] });
  }
  // An emptied Application (Argo CD pruning through it) is no active group.
  const leaving = [...state.retiring.values()].filter((r) => !r.retiredAt);
  const retiring = new Set(leaving.map((r) => r.group));
  for (const r of leaving) groups.set(r.group, { name: r.group, state: 'retiring', createdAt: state.groups.get(r.group)?.createdAt });
  for (const r of state.removals.values()) {
    groups.set(r.group, {
      name: r.group,
      state: retiring.has(r.group) ? 'retiring' : 'removed',
      createdAt: state.groups.get(r.group)?.createdAt,
      removal: { reason: r.reason, at: r.removedAt, requestedBy: r.requestedBy },
    });
  }
  return {
    repo: input.repo,
    branch: input.branch,
    ...(input.head ? { lastCommit: { sha: input.head.sha, subject: input.head.subject, date: input.head.date.toISOString() } } : {}),
    groups: [...groups.values()].sort((a, b) => (a.name < b.name ? -1 : 1)),
    waitingClones: input.waiting,
    leases: [...state.leases.values()].sort((a, b) => (a.type + a.name < b.type + b.name ? -1 : 1)).map((l) => ({ type: l.type, name: l.name, state: l.state, owner: l.owner })),
    workspaces: [...state.workspaces.values()].sort((a, b) => (a.name < b.name ? -1 : 1))
      .map((w) => ({ name: w.name, state: w.stoppedAt ? 'stopped' as const : 'running' as const, email: w.email, port: w.port, ram: w.ram, cpu: w.cpu, storage: w.storage, createdAt: w.createdAt })),
    releases: [...state.releases].sort(([a], [b]) => (a < b ? -1 : 1)).map(([service, records]) => {
      const a = activeRelease(records);
      return {
        service,
        ...(a ? { active: { id: a.id, version: a.version, image: a.image, createdAt: a.createdAt } } : {}),
        count: records.length,
        deleted: records.filter((r) => r.deletedAt).length,
      };
    }),
    deployments: [...state.deployments].sort(([a], [b]) => (a < b ? -1 : 1)).flatMap(([service, list]) =>
      [...new Set(list.map((d) => d.context))].sort().flatMap((context) => {
        const d = deployedRelease(state.releases.get(service) ?? [], list, context)?.deployment;
        return d ? [{ service, context, version: d.version, release: d.release, id: d.id, deployedAt: d.createdAt }] : [];
      })),
  };
}

/** The status as tables for people, ages and time left as of `now`. */
export function render(s: Status, now: Date): string {
  const age = (iso?: string) => (iso ? formatDuration(now.getTime() - Date.parse(iso)) : '');
  const out: string[] = [];
  const groupRows = s.groups.map((g) => {
    const stateText = g.removal ? `removed (${g.removal.reason}) ${age(g.removal.at)} ago${g.state === 'retiring' ? ', retiring' : ''}` : g.state;
    const left = g.expiresAt ? formatDuration(Date.parse(g.expiresAt) - now.getTime()) : '';
    return [g.name, stateText, age(g.createdAt), g.ttl ?? '', left, g.removal?.requestedBy ?? g.owner ?? ''];
  });
  out.push(`GROUPS (${s.groups.length})`, table(['GROUP', 'STATE', 'AGE', 'TTL', 'LEFT', 'OWNER'], groupRows));
  if (s.waitingClones.length) out.push('', 'WAITING CLONES', ...s.waitingClones.map((w) => `${w.clone} (group ${w.group}) waits for its source ${w.source}`));
  out.push('', `LEASES (${s.leases.length})`, table(['TYPE', 'NAME', 'STATE', 'OWNER'], s.leases.map((l) => [l.type, l.name, l.state, l.owner])));
  out.push('', `WORKSPACES (${s.workspaces.length})`, table(['NAME', 'STATE', 'EMAIL', 'PORT', 'RAM', 'CPU', 'STORAGE', 'AGE'], s.workspaces.map((w) => [w.name, w.state, w.email, String(w.port), `${w.ram}Gi`, String(w.cpu), w.storage, age(w.createdAt)])));
  out.push('', `RELEASES (${s.releases.length} services)`, table(['SERVICE', 'ACTIVE', 'IMAGE', 'ID', 'AGE', 'RELEASES'],
    s.releases.map((r) => [r.service, r.active?.version ?? '(none)', r.active?.image ?? '', r.active?.id ?? '', age(r.active?.createdAt), `${r.count} (${r.deleted} deleted)`])));
  if (s.deployments.length) {
    out.push('', `DEPLOYMENTS (${s.deployments.length} contexts)`, table(['SERVICE', 'CONTEXT', 'VERSION', 'RELEASE', 'AGE'], s.deployments.map((d) => [d.service, d.context, d.version, d.release, age(d.deployedAt)])));
  }
  out.push('', s.lastCommit ? `LAST COMMIT ${s.lastCommit.sha} ${s.lastCommit.subject} (${formatDuration(now.getTime() - Date.parse(s.lastCommit.date))} ago)` : 'LAST COMMIT (none: the repo is empty)');
  return out.join('\n');
}
