/**
 * The deployment cloner's rules (seed 004), as its ConfigMap gives them. Two shapes of a data value:
 *
 * - the cloner's own, keyed by the clone's namespace, then by source Deployment:
 *   `<namespace>: { deployments: { <name>: { env: "NAME: value", scale_factor: "0.5",
 *   name_suffix: "profiler", image: "busybox" } } }`: `scale_factor` and `name_suffix` are
 *   mandatory, `scale_factor` may be a string, a suffix without a leading dash is joined with
 *   one, and `env` is the `"NAME: value"` string (one per line) or a map;
 * - paddock's list: `[{namespace, name (or deployment, or source: "ns/name"), name_suffix,
 *   scale_factor, image (or images: {container: image}), extra_env (map or [{name, value}])}]`,
 *   or `{rules: [...]}`.
 *
 * Errors name the ConfigMap, the data key, and the namespace, deployment and field (or the rule).
 */
import YAML from 'yaml';

export interface CloneRule {
  readonly source: { readonly namespace: string; readonly name: string };
  readonly nameSuffix: string;
  readonly scaleFactor: number;
  readonly image?: string | Readonly<Record<string, string>>;
  readonly env?: Readonly<Record<string, string>>;
}

/** The rules of one data value; `where` names the ConfigMap and its key in errors. */
export function parseCloneRules(text: string, where: string, defaultNamespace?: string): CloneRule[] {
  let doc: unknown;
  try {
    doc = YAML.parse(text);
  } catch (e) {
    throw new Error(`${where} is not YAML: ${(e as Error).message.split('\n')[0]}`);
  }
  const list = Array.isArray(doc) ? doc : isRecord(doc) && Array.isArray(doc.rules) ? doc.rules : undefined;
  if (list) return list.map((rule, i) => listRule(rule, `${where}[${i}]`, defaultNamespace));
  if (isRecord(doc) && Object.keys(doc).length && Object.values(doc).every((ns) => isRecord(ns) && 'deployments' in ns)) return clonerRules(doc, where);
  throw new Error(`${where} must be the cloner's rules (<namespace>: {deployments: {<name>: {...}}}), a list of rules, or {rules: [...]}`);
}

/** The cloner's own shape. */
function clonerRules(doc: Record<string, any>, where: string): CloneRule[] {
  const rules: CloneRule[] = [];
  for (const [namespace, ns] of Object.entries(doc)) {
    if (!isRecord(ns.deployments)) throw new Error(`${where}: ${namespace}.deployments must be a map of source Deployments`);
    for (const [name, rule] of Object.entries(ns.deployments)) {
      const at = `${where}: ${namespace}.deployments.${name}`;
      if (!isRecord(rule)) throw new Error(`${at} must be a map (scale_factor, name_suffix, env, image)`);
      if (rule.scale_factor === undefined || rule.scale_factor === null || rule.scale_factor === '') throw new Error(`${at}.scale_factor is required`);
      const factor = Number(rule.scale_factor);
      if (!Number.isFinite(factor) || factor < 0) throw new Error(`${at}.scale_factor must be a number >= 0, got ${JSON.stringify(rule.scale_factor)}`);
      if (typeof rule.name_suffix !== 'string' || !rule.name_suffix.trim()) throw new Error(`${at}.name_suffix is required`);
      const suffix = rule.name_suffix.trim();
      if (rule.image !== undefined && typeof rule.image !== 'string') throw new Error(`${at}.image must be a string`);
      rules.push({
        source: { namespace, name },
        nameSuffix: suffix.startsWith('-') ? suffix : `-${suffix}`,
        scaleFactor: factor,
        image: rule.image,
        env: clonerEnv(rule.env, `${at}.env`),
      });
    }
  }
  return rules;
}

/** `"NAME: value"` (one per line, as the cloner takes it) or a map. */
function clonerEnv(env: unknown, at: string): Record<string, string> | undefined {
  if (env === undefined || env === null) return undefined;
  if (isRecord(env)) return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, String(v)]));
  if (typeof env !== 'string') throw new Error(`${at} must be "NAME: value" or a map`);
  const out: Record<string, string> = {};
  for (const line of env.split('\n').map((l) => l.trim()).filter(Boolean)) {
    const colon = line.indexOf(':');
    const name = colon > 0 ? line.slice(0, colon).trim() : '';
    if (!/^[A-Za-z_][A-Za-z0-9_.-]*$/.test(name)) throw new Error(`${at}: "${line}" is not "NAME: value"`);
    out[name] = line.slice(colon + 1).trim();
  }
  return out;
}

/** paddock's list shape. */
function listRule(rule: any, at: string, defaultNamespace?: string): CloneRule {
  const source = ruleSource(rule, defaultNamespace);
  if (!source) throw new Error(`${at} needs namespace and name of the source Deployment`);
  return {
    source,
    nameSuffix: String(rule.name_suffix ?? rule.nameSuffix ?? '-clone'),
    scaleFactor: Number(rule.scale_factor ?? rule.scaleFactor ?? 1),
    image: rule.images ?? rule.image,
    env: listEnv(rule.extra_env ?? rule.extraEnv ?? rule.env, at),
  };
}

function ruleSource(rule: any, defaultNamespace?: string): { namespace: string; name: string } | undefined {
  if (typeof rule?.source === 'string' && rule.source.includes('/')) {
    const [namespace, name] = rule.source.split('/', 2);
    return { namespace, name };
  }
  const src = typeof rule?.source === 'object' && rule.source ? rule.source : rule;
  const name = src?.name ?? src?.deployment;
  const namespace = src?.namespace ?? defaultNamespace;
  return typeof name === 'string' && typeof namespace === 'string' ? { namespace, name } : undefined;
}

function listEnv(env: unknown, at: string): Record<string, string> | undefined {
  if (env === undefined || env === null) return undefined;
  if (Array.isArray(env)) {
    const out: Record<string, string> = {};
    for (const e of env) {
      if (typeof e?.name !== 'string') throw new Error(`${at}: every extra_env entry needs a name`);
      out[e.name] = String(e.value ?? '');
    }
    return out;
  }
  if (isRecord(env)) return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, String(v)]));
  throw new Error(`${at}: extra_env must be a map or a list of {name, value}`);
}

function isRecord(x: unknown): x is Record<string, any> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}
