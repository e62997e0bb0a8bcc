/**
 * `state/` records: parsing (pure, from path -> text) and reading from a directory.
 * Every record file is checked against its schema; a bad one names its path.
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import type { z } from 'zod';
import {
  EMPTY_STATE, DeploymentRecordSchema, GroupRecordSchema, LeaseRecordSchema, ReleaseRecordSchema, RemovalRecordSchema, RetiringRecordSchema, RulesRecordSchema, SettingsRecordSchema, SourceRecordSchema, WorkspaceRecordSchema,
  leaseKey, recordPath,
  type DeploymentRecord, type GroupRecord, type LeaseRecord, type ReleaseRecord, type RemovalRecord, type RetiringRecord, type RulesRecord, type SettingsRecord, type SourceRecord, type StateRecords, type WorkspaceRecord,
} from '../../core/records.ts';
import { UserError } from '../errors.ts';
import { fromYaml, toYaml } from './layout.ts';

/** Parses record files given as paths relative to the repo root (`state/...`) -> YAML text. */
export function parseState(files: ReadonlyMap<string, string>): StateRecords {
  return patchState(EMPTY_STATE, files);
}

/**
 * `state` with the record files in `changes` applied: path -> new text, or null when the file
 * was deleted. Only the changed files are parsed, so following another writer's commit costs
 * what that commit changed.
 */
export function patchState(state: StateRecords, changes: ReadonlyMap<string, string | null>): StateRecords {
  const groups = new Map(state.groups);
  const removals = new Map(state.removals);
  const releases = new Map([...state.releases].map(([k, v]) => [k, [...v]]));
  const deployments = new Map([...state.deployments].map(([k, v]) => [k, [...v]]));
  const workspaces = new Map(state.workspaces);
  const leases = new Map(state.leases);
  const sources = new Map(state.sources);
  const rules = new Map(state.rules);
  const retiring = new Map(state.retiring);
  let settings = state.settings;
  for (const [p, text] of [...changes].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const parts = p.split('/');
    if (parts[0] !== 'state' || !p.endsWith('.yaml')) continue;
    const base = parts[parts.length - 1].slice(0, -'.yaml'.length);
    if (p === recordPath.settings()) {
      settings = text === null ? undefined : check(p, text, SettingsRecordSchema);
      continue;
    }
    switch (parts[1]) {
      case 'groups':
        if (parts.length !== 3) break;
        if (text === null) groups.delete(base);
        else groups.set(base, check(p, text, GroupRecordSchema, 'group', base));
        break;
      case 'removals':
        if (parts.length !== 3) break;
        if (text === null) removals.delete(base);
        else removals.set(base, check(p, text, RemovalRecordSchema, 'group', base));
        break;
      case 'retiring':
        if (parts.length !== 3) break;
        if (text === null) retiring.delete(base);
        else retiring.set(base, check(p, text, RetiringRecordSchema, 'group', base));
        break;
      case 'releases':
        if (parts.length === 4) patchByService(releases, p, parts[2], base, text, ReleaseRecordSchema);
        break;
      case 'deployments':
        if (parts.length === 4) patchByService(deployments, p, parts[2], base, text, DeploymentRecordSchema);
        break;
      case 'workspaces':
        if (parts.length !== 3) break;
        if (text === null) workspaces.delete(base);
        else workspaces.set(base, check(p, text, WorkspaceRecordSchema, 'name', base));
        break;
      case 'leases':
        if (parts.length !== 4) break;
        if (text === null) leases.delete(leaseKey(parts[2], base));
        else {
          const r = check(p, text, LeaseRecordSchema, 'name', base);
          if (r.type !== parts[2]) throw new UserError('InvalidState', `${p}: type "${r.type}" does not match its directory`);
          leases.set(leaseKey(r.type, r.name), r);
        }
        break;
      case 'sources':
        if (parts.length !== 4) break;
        patchByNamespace(sources, p, parts[2], base, text, SourceRecordSchema, (r) => {
          if (r.deployment.metadata.name !== r.name || r.deployment.metadata.namespace !== r.namespace) throw new UserError('InvalidState', `${p}: the deployment's metadata does not name ${r.namespace}/${r.name}`);
        });
        break;
      case 'rules':
        if (parts.length === 4) patchByNamespace(rules, p, parts[2], base, text, RulesRecordSchema);
        break;
    }
  }
  return { groups, removals, releases, deployments, workspaces, leases, sources, rules, retiring, ...(settings ? { settings } : {}) };
}

/** Puts the record of file `p` (or, deleted, takes it out) under `namespace/name`, after `more` checks it. */
function patchByNamespace<R extends { readonly namespace: string; readonly name: string }>(
  map: Map<string, R>, p: string, namespace: string, name: string, text: string | null, schema: z.ZodType<R>, more: (r: R) => void = () => {},
): void {
  if (text === null) return void map.delete(`${namespace}/${name}`);
  const r: R = check(p, text, schema, 'name', name);
  if (r.namespace !== namespace) throw new UserError('InvalidState', `${p}: namespace "${r.namespace}" does not match its directory`);
  more(r);
  map.set(`${r.namespace}/${r.name}`, r);
}

/** Puts the record of file `p` (or, deleted, takes it out) into its service's list. */
function patchByService<R extends { readonly id: string; readonly service: string }>(
  lists: Map<string, R[]>, p: string, service: string, id: string, text: string | null, schema: z.ZodType<R>,
): void {
  const rest = (lists.get(service) ?? []).filter((r) => r.id !== id);
  if (text !== null) {
    const r: R = check(p, text, schema, 'id', id);
    if (r.service !== service) throw new UserError('InvalidState', `${p}: service "${r.service}" does not match its directory`);
    rest.push(r);
  }
  if (rest.length) lists.set(service, rest);
  else lists.delete(service);
}

function check<S extends z.ZodType>(p: string, text: string, schema: S, key?: string, base?: string): z.infer<S> {
  let doc: unknown;
  try {
    doc = fromYaml(text);
  } catch (e) {
    throw new UserError('InvalidState', `${p}: not YAML: ${(e as Error).message.split('\n')[0]}`);
  }
  const r = schema.safeParse(doc);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new UserError('InvalidState', `${p}: ${issue.path.join('.') || 'record'}: ${issue.message}`);
  }
  if (key !== undefined && (r.data as any)[key] !== base) throw new UserError('InvalidState', `${p}: ${key} "${(r.data as any)[key]}" does not match the file name`);
  return r.data;
}

/** Reads every record under `stateDir` (a `state/` directory). A missing directory is empty state. */
export async function readStateDir(stateDir: string): Promise<StateRecords> {
  const files = new Map<string, string>();
  async function walk(dir: string, rel: string): Promise<void> {
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw e;
    }
    for (const e of entries) {
      if (e.isDirectory()) await walk(path.join(dir, e.name), `${rel}/${e.name}`);
      else if (e.isFile()) files.set(`${rel}/${e.name}`, await readFile(path.join(dir, e.name), 'utf8'));
    }
  }
  await walk(stateDir, 'state');
  return parseState(files);
}

/** The file of each record, as paddock writes it. */
export const recordFile = {
  group: (r: GroupRecord) => [recordPath.group(r.group), toYaml(GroupRecordSchema.parse(r))] as const,
  removal: (r: RemovalRecord) => [recordPath.removal(r.group), toYaml(RemovalRecordSchema.parse(r))] as const,
  release: (r: ReleaseRecord) => [recordPath.release(r.service, r.id), toYaml(ReleaseRecordSchema.parse(r))] as const,
  deployment: (r: DeploymentRecord) => [recordPath.deployment(r.service, r.id), toYaml(DeploymentRecordSchema.parse(r))] as const,
  workspace: (r: WorkspaceRecord) => [recordPath.workspace(r.name), toYaml(WorkspaceRecordSchema.parse(r))] as const,
  lease: (r: LeaseRecord) => [recordPath.lease(r.type, r.name), toYaml(LeaseRecordSchema.parse(r))] as const,
  source: (r: SourceRecord) => [recordPath.source(r.namespace, r.name), toYaml(SourceRecordSchema.parse(r))] as const,
  rules: (r: RulesRecord) => [recordPath.rules(r.namespace, r.name), toYaml(RulesRecordSchema.parse(r))] as const,
  retiring: (r: RetiringRecord) => [recordPath.retiring(r.group), toYaml(RetiringRecordSchema.parse(r))] as const,
  settings: (r: SettingsRecord) => [recordPath.settings(), toYaml(SettingsRecordSchema.parse(r))] as const,
};
