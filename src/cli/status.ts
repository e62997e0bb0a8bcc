/** `paddock status`: groups, leases, workspaces and releases in the manifests repo, with state and age. */
import type { Command } from 'commander';
import YAML from 'yaml';
import { activeRelease } from '../../core/records.ts';
import { formatDuration } from '../../core/duration.ts';
import { Committer, type RepoView } from '../repo/committer.ts';
import { loadDefinitions, synthesize, groupOfAppPath, type SynthInputs } from '../synth/index.ts';
import { repoOptions, repoSettings, type RepoFlags } from './options.ts';
import { table } from './table.ts';

export function registerStatus(program: Command): void {
  repoOptions(program.command('status').description('groups, leases, workspaces and releases in the manifests repo, with state and age'))
    .action(async (f: RepoFlags) => {
      const s = repoSettings(f);
      // Reads only: no secret needed (the settings check is a writer's).
      const c = new Committer({ repo: s.repo, branch: s.branch, definitions: () => ({ definitions: [], version: 0 }), writer: s.writer });
      try {
        const view = await c.refresh();
        const head = await c.headCommit();
        const waiting = await waitingClones(s.definitionsDir, c.synthInputs(view.state));
        console.log(render(view, new Date(), head, waiting));
      } finally {
        await c.close();
      }
    });
}

async function waitingClones(dir: string, inputs: SynthInputs): Promise<string[]> {
  try {
    const loaded = await loadDefinitions(dir);
    if (!loaded.definitions.length) return [];
    const r = await synthesize(loaded.definitions, inputs);
    return r.waiting.map((w) => `${w.clone} (group ${w.group}) waits for its source ${w.source}`);
  } catch {
    return []; // status reports the repo; definitions problems are `paddock synth`'s to report
  }
}

export function render(view: RepoView, now: Date, head: { sha: string; subject: string; date: Date } | undefined, waiting: readonly string[]): string {
  const age = (iso?: string) => (iso ? formatDuration(now.getTime() - Date.parse(iso)) : '');
  const out: string[] = [];
  const groups = new Map<string, string[]>();
  for (const [p, text] of view.files) {
    const group = groupOfAppPath(p);
    if (!group) continue;
    const ann = (YAML.parse(text)?.metadata?.annotations ?? {}) as Record<string, string>;
    const expires = ann['paddock.dev/expires-at'];
    const left = expires ? formatDuration(Date.parse(expires) - now.getTime()) : '';
    groups.set(group, [group, 'active', age(view.state.groups.get(group)?.createdAt), ann['paddock.dev/ttl'] ?? '', left, ann['paddock.dev/owner'] ?? '']);
  }
  // An emptied Application (Argo CD pruning through it) is no active group.
  const retiring = [...view.state.retiring.values()].filter((r) => !r.retiredAt);
  for (const r of retiring) groups.set(r.group, [r.group, `retiring ${age(r.since)} ago`, age(view.state.groups.get(r.group)?.createdAt), '', '', '']);
  for (const r of view.state.removals.values()) {
    const still = retiring.some((x) => x.group === r.group) ? ', retiring' : '';
    groups.set(r.group, [r.group, `removed (${r.reason}) ${age(r.removedAt)} ago${still}`, age(view.state.groups.get(r.group)?.createdAt), '', '', r.requestedBy]);
  }
  out.push(`GROUPS (${groups.size})`, table(['GROUP', 'STATE', 'AGE', 'TTL', 'LEFT', 'OWNER'], [...groups.values()].sort((a, b) => (a[0] < b[0] ? -1 : 1))));
  if (waiting.length) out.push('', 'WAITING CLONES', ...waiting);

  const leases = [...view.state.leases.values()].sort((a, b) => (a.type + a.name < b.type + b.name ? -1 : 1));
  out.push('', `LEASES (${leases.length})`, table(['TYPE', 'NAME', 'STATE', 'OWNER'], leases.map((l) => [l.type, l.name, l.state, l.owner])));

  const ws = [...view.state.workspaces.values()].sort((a, b) => (a.name < b.name ? -1 : 1));
  out.push('', `WORKSPACES (${ws.length})`, table(['NAME', 'EMAIL', 'PORT', 'RAM', 'CPU', 'STORAGE', 'AGE'], ws.map((w) => [w.name, w.email, String(w.port), `${w.ram}Gi`, String(w.cpu), w.storage, age(w.createdAt)])));

  const rel = [...view.state.releases].sort(([a], [b]) => (a < b ? -1 : 1)).map(([service, records]) => {
    const a = activeRelease(records);
    const deleted = records.filter((r) => r.deletedAt).length;
    return [service, a?.version ?? '(none)', a?.image ?? '', a?.id ?? '', age(a?.createdAt), `${records.length} (${deleted} deleted)`];
  });
  out.push('', `RELEASES (${rel.length} services)`, table(['SERVICE', 'ACTIVE', 'IMAGE', 'ID', 'AGE', 'RELEASES'], rel));
  out.push('', head ? `LAST COMMIT ${head.sha} ${head.subject} (${formatDuration(now.getTime() - head.date.getTime())} ago)` : 'LAST COMMIT (none: the repo is empty)');
  return out.join('\n');
}
