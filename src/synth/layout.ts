/**
 * The manifests-repo layout: directories, file names, which Applications a change touches, the
 * YAML paddock writes and the generated READMEs. The Argo CD objects are in argo-objects.ts.
 * Pure functions of their arguments.
 */
import jsyaml from 'js-yaml';
import { isDnsLabel, ROOT_APP } from '../../core/names.ts';

type Json = Record<string, any>;

export interface ArgoOptions {
  /** The URL Argo CD reads the manifests repo from. */
  readonly repoURL: string;
  /** Branch Argo CD syncs. */
  readonly targetRevision: string;
  /** Namespace Argo CD runs in (where Applications live). @default 'argocd' */
  readonly namespace: string;
  /**
   * The Argo CD project of every group's Application, which paddock synthesizes (least
   * privilege); the app of apps is in `<project>-apps`. Never `default`. @default 'paddock'
   */
  readonly project: string;
}

export { ROOT_APP };
export const APPS_DIR = 'apps';
export const GROUPS_DIR = 'groups';
export const STATE_DIR = 'state';
/** The source of removed groups' emptied Applications: a directory with no manifests. */
export const RETIRED_DIR = 'retired';
export const README = 'README.md';
export const ARGO_FINALIZER = 'resources-finalizer.argocd.argoproj.io';

const APPS_PREFIX = `${APPS_DIR}/`;
const GROUPS_PREFIX = `${GROUPS_DIR}/`;
export const appPath = (group: string) => `${APPS_DIR}/${group}.yaml`;
/** `apps/<project>.appproject.yaml`: a dot no group name (a DNS label) has keeps it apart from the Applications. */
export const projectPath = (project: string) => `${APPS_DIR}/${project}.appproject.yaml`;
/** The project of the app of apps. */
export const rootProjectName = (argo: ArgoOptions) => `${argo.project}-apps`;

/** The group whose Application is at `p` (`apps/<group>.yaml`), or undefined for any other path. */
export function groupOfAppPath(p: string): string | undefined {
  if (!p.startsWith(APPS_PREFIX)) return undefined; // most paths: a commit cycle asks of every path in the repo
  const group = /^apps\/([^/]+)\.yaml$/.exec(p)?.[1];
  return group !== undefined && group !== ROOT_APP && isDnsLabel(group) ? group : undefined;
}
export const groupDir = (group: string) => `${GROUPS_DIR}/${group}`;

/** The group whose directory holds `p` (`groups/<group>/...`), or undefined for any other path. */
export function groupOfObjectPath(p: string): string | undefined {
  if (!p.startsWith(GROUPS_PREFIX)) return undefined;
  const group = /^groups\/([^/]+)\//.exec(p)?.[1];
  return group !== undefined && isDnsLabel(group) ? group : undefined;
}

/**
 * The Applications whose view of the repo a commit changed: the app of apps when anything
 * under `apps/` changed (it prunes a removed group's Application, syncs a new one), and each
 * group whose `groups/<group>/` changed. Sorted; the app of apps first.
 */
export function applicationsChangedBy(paths: readonly string[]): string[] {
  const groups = new Set<string>();
  let root = false;
  for (const p of paths) {
    if (p.startsWith(`${APPS_DIR}/`)) root = true;
    const g = groupOfObjectPath(p);
    if (g) groups.add(g);
  }
  return [...(root ? [ROOT_APP] : []), ...[...groups].sort()];
}

/**
 * Numbers to a YAML 1.1 reader that YAML 1.2 reads as strings: digits with `_` (`1_000`), `+.5`,
 * base 60 (`1:30`). go-yaml v2, which sigs.k8s.io/yaml (kubectl, Argo CD) uses, drops every `_`
 * from a scalar that starts like a number and parses the rest as a Go int or a float, so an
 * annotation "1_000" written plain would reach it as 1000 and fail as a string. Its rule, and the
 * YAML 1.1 spec's (yaml.org/type/int.html, float.html).
 */
const GO_YAML_V2_NUMBER = /^[-+]?(0[xX][0-9a-fA-F]+|0[bB][01]+|0[oO]?[0-7]+|[0-9]+|(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?)$/;
const YAML11_BASE60 = /^[-+]?[0-9][0-9_]*(:[0-5]?[0-9])+(\.[0-9_]*)?$/;

function isYaml11Number(s: string): boolean {
  return /^[-+.0-9]/.test(s) && (GO_YAML_V2_NUMBER.test(s.replace(/_/g, '')) || YAML11_BASE60.test(s));
}

/** Read by no one: it only makes the dump quote a string a YAML 1.1 reader would take for a number. */
const yaml11Number = new jsyaml.Type('tag:paddock.dev,2026:yaml-1.1-number', { kind: 'scalar', resolve: isYaml11Number });

/**
 * What `toYaml` tells plain strings apart from: js-yaml's default schema without its explicit
 * types (binary, omap, pairs, set, which plain JSON never holds), and YAML 1.1's numbers. A
 * string is quoted where a reader of either version would take it for a null, bool, number,
 * timestamp or merge key.
 */
const DUMP_SCHEMA = jsyaml.FAILSAFE_SCHEMA.extend({ implicit: [...(jsyaml.DEFAULT_SCHEMA as unknown as { readonly implicit: jsyaml.Type[] }).implicit, yaml11Number] });

const DUMP_OPTIONS: jsyaml.DumpOptions = { noRefs: true, lineWidth: -1, quotingType: '"', indent: 2, schema: DUMP_SCHEMA };

/**
 * YAML as paddock writes it: block style, no line folding, no anchors, keys in the order the
 * object has them; strings a YAML 1.1 reader would take for something else (`on`, `y`, `0123`)
 * are quoted. Same object, same bytes: js-yaml's dump (dumpYaml), several times faster than
 * `yaml`'s document model. Synthesis spends much of its time here, writing thousands of objects
 * alike (a Deployment, a Service and a Job a group, an Application a group): an object of a shape
 * seen before (the same keys, the same booleans and nulls, and numbers and one-line strings where
 * it had them) is written from that shape's YAML with its values put in (yamlOfShape), some four
 * times faster than a dump. A shape seen once is only remembered.
 */
export function toYaml(obj: unknown): string {
  const values: Array<string | number> = [];
  const shape = typeof obj === 'object' && obj !== null ? shapeKey(obj, values) : undefined;
  const key = `toYaml ${shape}`;
  if (shape === undefined || !(shapes.has(key) || seenBefore(key))) return dumpYaml(obj);
  return yamlOfShape(key, values, (vs) => withValues(obj, vs, { next: 0 }));
}

/** toYaml without shapes: js-yaml's dump itself, which toYaml always equals (the tests hold it to it). */
export function dumpYaml(obj: unknown): string {
  return jsyaml.dump(obj, DUMP_OPTIONS);
}

/**
 * `toYaml(make(values))` for objects that share a shape and differ in a few values (strings, or
 * numbers), such as the emptied Applications of a GC burst (hundreds a commit): the YAML of one
 * made with placeholders (strings) is kept by `key`, which must name the caller and everything
 * else `make` reads, and each value is put in as the one-line scalar toYaml writes for it. `make`
 * must use each value whole, and make the same keys whatever the values. A value that is no one-line
 * scalar (a multi-line string) gives the dump of the whole object. A new shape is checked against
 * dumpYaml, byte for byte, with the first values and with values YAML reads otherwise (empty, and
 * `yes`): a placeholder inside another string, or a shape that changes with its values, is not
 * kept. Keys starting `toYaml ` are toYaml's own.
 */
export function yamlOfShape<V extends string | number>(key: string, values: readonly V[], make: (values: readonly (V | string)[]) => unknown): string {
  const shape = shapes.get(key);
  if (shape !== undefined) {
    // Used: the newest to go when there are too many.
    shapes.delete(key);
    shapes.set(key, shape);
    return (shape && fill(shape, values)) ?? dumpYaml(make(values));
  }
  // A new shape: kept once these values and the probes, put in, give what dumpYaml gives (null: they never will).
  const made = shapeOf(dumpYaml(make(values.map((_, i) => slot(i)))), values.length);
  const filled = made ? fill(made, values) : undefined;
  const yaml = dumpYaml(make(values));
  if (filled === undefined && made) return yaml; // not these values: the next ones check it
  const same = (vs: readonly string[]) => fill(made!, vs) === dumpYaml(make(vs));
  remember(shapes, key, made && filled === yaml && PROBES.every((p) => same(values.map(() => p))) ? made : null, 1_000);
  return yaml;
}

/**
 * An object's shape for toYaml (undefined: it is dumped as it is), its strings and numbers pushed
 * on `values` in the order withValues puts them back. Every part is led by its kind and ends
 * where the next begins (`$` a string, `#` a number, `-0`, `T`/`F`, `~` null, `[...]`,
 * `{<length>:<key><value>...}`), so two objects have one shape only when a dump writes them alike
 * but for their values. Only what a dump writes the same way whatever else the object holds:
 * plain objects and arrays (as js-yaml tells them: no other toStringTag), numbers, booleans,
 * nulls, and strings of one line (a multi-line string's block scalar is indented by its depth).
 * Anything else (undefined, a Date, a class instance) is left to the dump and its errors.
 */
function shapeKey(value: unknown, values: Array<string | number>): string | undefined {
  switch (typeof value) {
    case 'string':
      if (value.includes('\n')) return undefined;
      values.push(value);
      return '$';
    case 'number':
      if (!isValue(value)) return '-0';
      values.push(value);
      return '#';
    case 'boolean':
      return value ? 'T' : 'F';
    case 'object': {
      if (value === null) return '~';
      let key: string;
      if (Array.isArray(value)) {
        if (toStringTag(value) !== '[object Array]') return undefined;
        key = '[';
        for (const item of value) {
          const part = shapeKey(item, values);
          if (part === undefined) return undefined;
          key += part;
        }
        return `${key}]`;
      }
      const proto = Object.getPrototypeOf(value);
      if ((proto !== Object.prototype && proto !== null) || toStringTag(value) !== '[object Object]') return undefined;
      key = '{';
      for (const k of Object.keys(value)) {
        const part = shapeKey((value as Record<string, unknown>)[k], values);
        if (part === undefined) return undefined;
        key += `${k.length}:${k}${part}`;
      }
      return `${key}}`;
    }
    default:
      return undefined;
  }
}

const toStringTag = (value: object) => Object.prototype.toString.call(value);

/** What a shape takes as a value to put in: a string, or a number but -0 (which a Map, the scalars' memo, takes for 0: kept in the shape). */
const isValue = (value: unknown): value is string | number => typeof value === 'string' || (typeof value === 'number' && !Object.is(value, -0));

/**
 * `value` with its strings and numbers, in shapeKey's order, taken from `values`. Its objects
 * have no prototype, as a dump sees them: a key `__proto__` (JSON.parse and YAML readers make it
 * an object's own) is a key like any other.
 */
function withValues(value: unknown, values: readonly (string | number)[], at: { next: number }): unknown {
  if (isValue(value)) return values[at.next++];
  if (Array.isArray(value)) return value.map((item) => withValues(item, values, at));
  if (typeof value !== 'object' || value === null) return value;
  const out: Record<string, unknown> = Object.create(null);
  for (const k of Object.keys(value)) out[k] = withValues((value as Record<string, unknown>)[k], values, at);
  return out;
}

/** Shapes toYaml has seen once (true when `key` is one of them: it is seen again). */
function seenBefore(key: string): boolean {
  if (seenOnce.delete(key)) return true;
  remember(seenOnce, key, true, 5_000);
  return false;
}

/** Adds `key` to a bounded memo; when it holds `max`, the oldest entry goes (a memo emptied at once would make all again). */
function remember<K, V>(memo: Map<K, V>, key: K, value: V, max: number): void {
  if (memo.size >= max) memo.delete(memo.keys().next().value as K);
  memo.set(key, value);
}

/** A shape's YAML cut at its placeholders: `text[0]`, value `at[0]`, `text[1]`, ... */
interface Shape {
  readonly text: readonly string[];
  readonly at: readonly number[];
}

const shapes = new Map<string, Shape | null>();
/** Shapes toYaml has met once (seenBefore). */
const seenOnce = new Map<string, true>();
/** Values' one-line scalars as toYaml writes them (null: none), by value (scalarOf). */
const scalars = new Map<string | number, string | null>();
/** Values a new shape is also checked with: a placeholder inside a longer string, or a shape that changes with its values, writes them otherwise. */
const PROBES = ['', 'yes'];
/** A placeholder: a plain scalar that means nothing else to YAML, and is in no real value. */
const slot = (i: number) => `paddock-slot-${i}-2f9d1c`;

function shapeOf(yaml: string, count: number): Shape | null {
  const text: string[] = [];
  const at: number[] = [];
  const found = new RegExp(`paddock-slot-(\\d+)-2f9d1c`, 'g');
  let from = 0;
  for (let m = found.exec(yaml); m; m = found.exec(yaml)) {
    const i = Number(m[1]);
    // A whole scalar: after "key: " or "- ", and alone to the end of its line.
    const before = yaml.slice(Math.max(0, m.index - 2), m.index);
    if (i >= count || (before !== ': ' && before !== '- ') || yaml[m.index + m[0].length] !== '\n') return null;
    text.push(yaml.slice(from, m.index));
    at.push(i);
    from = m.index + m[0].length;
  }
  text.push(yaml.slice(from));
  return { text, at };
}

function fill(shape: Shape, values: readonly (string | number)[]): string | undefined {
  let out = shape.text[0];
  for (let j = 0; j < shape.at.length; j++) {
    const scalar = scalarOf(values[shape.at[j]]);
    if (scalar === null) return undefined;
    out += scalar + shape.text[j + 1];
  }
  return out;
}

/**
 * A string a dump writes as it is: a letter, then letters, digits and `._/-`, and none of the
 * words YAML 1.1 or 1.2 reads as a bool or a null. No number, timestamp, `.inf` or merge key
 * starts with a letter, and none of these characters needs quoting (the tests hold this to the
 * dump). Names, images, labels: most of a manifest's strings.
 */
const PLAIN = /^[A-Za-z][A-Za-z0-9._/-]*$/;
const READ_OTHERWISE = new Set(['y', 'Y', 'yes', 'Yes', 'YES', 'n', 'N', 'no', 'No', 'NO', 'on', 'On', 'ON', 'off', 'Off', 'OFF', 'true', 'True', 'TRUE', 'false', 'False', 'FALSE', 'null', 'Null', 'NULL']);
/** Longer values are not remembered: a certificate or a base64 blob would hold its memory for good. */
const MAX_REMEMBERED_LENGTH = 256;

/** A value's one-line scalar as toYaml writes it (null: a multi-line string has none). */
function scalarOf(value: string | number): string | null {
  if (typeof value === 'string' && PLAIN.test(value) && !READ_OTHERWISE.has(value)) return value;
  let scalar = scalars.get(value);
  if (scalar === undefined) {
    const yaml = dumpYaml({ k: value });
    scalar = yaml.startsWith('k: ') && yaml.indexOf('\n') === yaml.length - 1 ? yaml.slice(3, -1) : null;
    if (typeof value === 'number' || value.length <= MAX_REMEMBERED_LENGTH) remember(scalars, value, scalar, 20_000);
  }
  return scalar;
}

/**
 * paddock's own files read back (`state/` records, Applications): js-yaml with the core schema
 * (YAML 1.2 scalars only: no timestamps, no custom types), the reader matching `toYaml`. About ten
 * times faster than `yaml`'s parser on these files (2,000 records: 50 ms against 500 ms), which a
 * fetch and `paddock status` read by the thousand. User input keeps `yaml` and its errors.
 */
export function fromYaml(text: string): any {
  return jsyaml.load(text, { schema: jsyaml.CORE_SCHEMA });
}

/** `<kind>-<name>.yaml`, lowercase; `<kind>-<name>.<namespace>.yaml` when a group holds the same kind and name in two namespaces. */
export function objectFileName(obj: Json, clash: boolean): string {
  const base = `${String(obj.kind).toLowerCase()}-${obj.metadata.name}`;
  return clash && obj.metadata.namespace ? `${base}.${obj.metadata.namespace}.yaml` : `${base}.yaml`;
}

/** `retired/README.md`: why the directory is there and empty of manifests. */
export function retiredReadme(): string {
  return [
    '# Removed groups (generated by paddock: do not edit by hand)',
    '',
    'No manifests on purpose. A removed group\'s Application points here until paddock deletes it,',
    'so Argo CD prunes every object of the group and has nothing to create again.',
    '',
  ].join('\n');
}

export interface ReadmeGroup {
  readonly name: string;
  readonly namespace: string;
  readonly objects: number;
  readonly ttl?: string;
}

export function readme(groups: readonly ReadmeGroup[], argo: ArgoOptions): string {
  const rows = groups.map((g) => `| ${g.name} | ${g.namespace} | ${g.objects} | ${g.ttl ?? ''} |`);
  return [
    '# Manifests repo (generated by paddock: do not edit by hand)',
    '',
    'Every file here except `state/` is synthesized by paddock from its definitions and the',
    'records under `state/`; a hand edit is overwritten by the next commit. Change the',
    'definitions, or ask paddock (`paddock demolish`, the sidecar API) instead.',
    '',
    `- \`${APPS_DIR}/${ROOT_APP}.yaml\`: the app of apps; apply it and its project once and Argo CD manages the rest:`,
    `  \`kubectl apply -n ${argo.namespace} -f ${projectPath(rootProjectName(argo))} -f ${APPS_DIR}/${ROOT_APP}.yaml\``,
    `- \`${projectPath(argo.project)}\`: the Argo CD project of every group: this repo, the groups' namespaces, no cluster-scoped kind they do not declare.`,
    `- \`${APPS_DIR}/<group>.yaml\`: one Argo CD Application per group (automated sync, prune).`,
    `- \`${GROUPS_DIR}/<group>/<kind>-<name>.yaml\`: the group's resources, one object per file.`,
    `- \`${RETIRED_DIR}/\`: no manifests. A removed group's Application points here while Argo CD prunes its objects, then paddock deletes it.`,
    `- \`${STATE_DIR}/\`: paddock's records (removals, releases, workspaces, leases). Never applied.`,
    '',
    `## Groups (${groups.length})`,
    '',
    '| group | namespace | objects | ttl |',
    '|---|---|---|---|',
    ...rows,
    '',
  ].join('\n');
}
