/**
 * src/releases: the rules of a kubernaut-style release, with no HTTP in them: how a posted
 * release is checked against the `Release` constructs that render its service, how it is shown,
 * how releases are ordered, and which repo files it rendered.
 *
 * Owns: release checks and views. Must not touch: HTTP, git.
 */
import { activeRelease, deployedRelease, type DeploymentRecord, type ReleaseRecord } from '../../core/records.ts';
import { DEFAULT_RELEASE_KINDS, parseKindRef } from '../../core/kinds.ts';
import { DisallowedObjectError, renderRelease, TemplateError, type ReleaseRules } from '../../constructs/release.ts';
import { UserError } from '../errors.ts';
import type { ReleaseTarget } from '../synth/synthesize.ts';
import { groupDir } from '../synth/layout.ts';
import { prepareValidators, validateObject } from '../synth/validate.ts';

/** Release ids paddock makes (UUIDs) and accepts in URLs: never a path separator or a dot. */
export const RELEASE_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/;
export const DEFAULT_REGISTRY = 'default';
/**
 * Renders `r` as each `Release` of its service would and checks every object: values as data,
 * kinds the `Release` allows, its group's namespace only, and the schemas. Throws the
 * `UserError` a caller gets: InvalidTemplate, DisallowedObject or InvalidObject.
 */
export async function checkRelease(r: ReleaseRecord, targets: readonly ReleaseTarget[]): Promise<void> {
  for (const { rules, group } of targets) {
    if ((r.template ?? rules.template) === undefined) continue; // rendered by the definition's own constructs
    const objects = renderOrRefuse(rules, r);
    await prepareValidators(objects as Array<{ apiVersion: string; kind: string }>);
    objects.forEach((o, i) => {
      const bad = validateObject({ ...o, metadata: { ...o.metadata, namespace: o.metadata.namespace ?? rules.namespace } });
      if (bad) throw new UserError('InvalidObject', `release ${r.service}@${r.version} in group ${group}: template document ${i + 1} (${o.kind} ${o.metadata.name}): ${bad.field ? `${bad.field}: ` : ''}${bad.message}`);
    });
  }
}

function renderOrRefuse(rules: ReleaseRules, r: ReleaseRecord): Array<Record<string, any>> {
  try {
    return renderRelease(rules, r);
  } catch (e) {
    if (e instanceof DisallowedObjectError) throw new UserError('DisallowedObject', e.message);
    if (e instanceof TemplateError) throw new UserError('InvalidTemplate', e.message);
    throw e;
  }
}

/** The rules a stored release is looked at with when no `Release` renders its service any more. */
function fallbackRules(r: ReleaseRecord): ReleaseRules {
  return {
    service: r.service, namespace: r.namespace ?? 'default', allowedKinds: DEFAULT_RELEASE_KINDS.map(parseKindRef),
    namespaceAttributes: {}, serviceAttributes: {}, requestAttributes: {}, context: 'default', follows: 'latest',
  };
}

/** A release as the API shows it (the template only on `GET /api/releases/:id`). */
export function publicRelease(r: ReleaseRecord) {
  return {
    id: r.id,
    service: r.service,
    version: r.version,
    image: r.image ?? null,
    namespace: r.namespace ?? null,
    registry: r.registry ?? DEFAULT_REGISTRY,
    comment: r.comment ?? null,
    attributes: r.attributes ?? {},
    createdAt: r.createdAt,
  };
}

/** A `Release` that renders a release: its group (none for a service no `Release` renders any more) and its rules. */
export interface Rendering {
  readonly group?: string;
  readonly rules: ReleaseRules;
}

/**
 * Where `r` is rendered: by each `Release` of its service (`targets`) that renders the service's
 * newest release and holds `r` as that, or, following deployments, by each that last had `r`
 * deployed to its context. With no `Release` left, a stored release is looked at as the newest
 * would be. Empty for a deleted release, or one no context runs.
 */
export function renderingsOf(r: ReleaseRecord, ofService: readonly ReleaseRecord[], deployments: readonly DeploymentRecord[], targets: readonly ReleaseTarget[]): Rendering[] {
  if (r.deletedAt) return [];
  if (!targets.length) return activeRelease(ofService)?.id === r.id ? [{ rules: fallbackRules(r) }] : [];
  const inForce = (rules: ReleaseRules) => (rules.follows === 'deployed' ? deployedRelease(ofService, deployments, rules.context)?.release : activeRelease(ofService));
  return targets.filter((t) => inForce(t.rules)?.id === r.id).map((t) => ({ group: t.group, rules: t.rules }));
}

/** The files under `groups/` rendered from `r` where it is rendered (see the header for how they are found), sorted. */
export function manifestsOf(r: ReleaseRecord, renderings: readonly Rendering[], files: ReadonlyMap<string, string>): string[] {
  const out = new Set<string>();
  for (const { group, rules } of renderings) {
    const prefix = group === undefined ? 'groups/' : `${groupDir(group)}/`;
    for (const p of filesOf(r, rules, [...files.keys()].filter((f) => f.startsWith(prefix)), files)) out.add(p);
  }
  return [...out].sort();
}

function filesOf(r: ReleaseRecord, rules: ReleaseRules, groupFiles: readonly string[], files: ReadonlyMap<string, string>): string[] {
  let objects: Array<Record<string, any>> | undefined;
  try {
    if (r.template ?? rules.template) objects = renderRelease(rules, r);
  } catch {
    // The `Release` changed since the release was posted: its image, if it has one, still tells.
  }
  if (objects) {
    // `<kind>-<name>.yaml`, or `<kind>-<name>.<namespace>.yaml` when a group has two of them.
    const bases = objects.map((o) => `${String(o.kind).toLowerCase()}-${o.metadata.name}`);
    return groupFiles.filter((p) => {
      const file = p.slice(p.lastIndexOf('/') + 1);
      return bases.some((b) => file === `${b}.yaml` || (file.startsWith(`${b}.`) && /^[a-z0-9-]+\.yaml$/.test(file.slice(b.length + 1))));
    });
  }
  if (!r.image) return [];
  const runs = new RegExp(`^\\s*(?:- )?image: ["']?${r.image.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}["']?\\s*$`, 'm');
  return groupFiles.filter((p) => runs.test(files.get(p)!));
}

const byVersion = new Intl.Collator('en', { numeric: true });

/** Orders `items` in place by `sort` (`created` is kubernaut's name for `createdAt`), then by creation and id. */
export function sortReleases(items: ReleaseRecord[], sort: 'createdAt' | 'created' | 'version' | 'service' | 'registry', order: 'asc' | 'desc'): void {
  const text = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  const created = (a: ReleaseRecord, b: ReleaseRecord) => Date.parse(a.createdAt) - Date.parse(b.createdAt);
  const key = {
    createdAt: created,
    created,
    version: (a: ReleaseRecord, b: ReleaseRecord) => byVersion.compare(a.version, b.version),
    service: (a: ReleaseRecord, b: ReleaseRecord) => text(a.service, b.service),
    registry: (a: ReleaseRecord, b: ReleaseRecord) => text(a.registry ?? DEFAULT_REGISTRY, b.registry ?? DEFAULT_REGISTRY),
  }[sort];
  const sign = order === 'asc' ? 1 : -1;
  items.sort((a, b) => sign * (key(a, b) || created(a, b) || text(a.id, b.id)));
}
