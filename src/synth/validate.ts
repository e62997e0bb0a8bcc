/**
 * Schema validation of synthesized objects against the Kubernetes (kubernetes-models), Argo CD
 * (@kubernetes-models/argo-cd), Prometheus operator (@kubernetes-models/prometheus-operator) and
 * external-secrets (@kubernetes-models/external-secrets) schemas, plus the naming rules the
 * schemas do not hold.
 *
 * Validators are loaded per kind on first use (`prepareValidators`), so a synth pays only for
 * the kinds it uses, and those its definitions' text names (`prefetchValidators`, while they are
 * bundled). Kinds outside these libraries (other custom resources) get the structural checks
 * only.
 */
import { createRequire } from 'node:module';
import { CLUSTER_SCOPED_KINDS, isDnsLabel, isDnsSubdomain, LABEL_NAMED_KINDS } from '../../core/names.ts';
import { prepareStrict, unknownField } from './strict.ts';

type Json = Record<string, any>;
type ValidateFn = (obj: Json) => void;

export interface Invalid {
  /** Dotted path of the offending field, e.g. `spec.template.spec.containers[0].image`. */
  readonly field: string;
  readonly message: string;
}

/**
 * API versions checked against another version's schema. @kubernetes-models/external-secrets 0.5
 * (the line that runs on Node 20) has no `external-secrets.io/v1` yet; the ExternalSecret fields
 * paddock writes are the same in both, so v1beta1's schema checks them. The cluster tier checks
 * the v1 objects against external-secrets' own v1 CRD.
 */
const SCHEMA_OF: Readonly<Record<string, string>> = { 'external-secrets.io/v1': 'external-secrets.io/v1beta1' };

/** Where kubernetes-models keeps each API group-version. */
function moduleFor(apiVersion: string): string | undefined {
  if (apiVersion === 'external-secrets.io/v1beta1') return '@kubernetes-models/external-secrets/external-secrets.io/v1beta1';
  if (apiVersion === 'argoproj.io/v1alpha1') return '@kubernetes-models/argo-cd/argoproj.io/v1alpha1';
  if (apiVersion === 'monitoring.coreos.com/v1') return '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';
  if (!/^([a-z0-9.-]+\/)?v[0-9a-z]+$/.test(apiVersion)) return undefined;
  if (apiVersion === 'v1') return 'kubernetes-models/v1';
  const [group, version] = apiVersion.split('/');
  if (!group.includes('.') && !['apps', 'batch', 'autoscaling', 'policy', 'extensions'].includes(group)) return undefined;
  if (group.includes('.') && !group.endsWith('.k8s.io')) return undefined;
  return `kubernetes-models/${group}/${version}`;
}

/** Whether each API version has a schema module (false: a custom resource paddock has no schema for). */
const versions = new Map<string, boolean>();
/** Each kind's validator, keyed `apiVersion|kind`; null where its version has no such kind. */
const kinds = new Map<string, ValidateFn | null>();
/** Each kind's validator being loaded (or loaded), so a prefetch and a prepare load it once. */
const loading = new Map<string, Promise<void>>();
const resolveModule = createRequire(import.meta.url).resolve;

/**
 * Loads the validators for these objects' API versions and kinds. Call before `validateObject`.
 * Each kind's module alone (`kubernetes-models/apps/v1/Deployment`, not all of `apps/v1`): a
 * whole group-version costs up to half a second to load, most of it kinds no definition uses.
 */
export async function prepareValidators(objects: Iterable<{ apiVersion: string; kind: string }>): Promise<void> {
  const list = [...objects].filter((o) => typeof o.apiVersion === 'string' && typeof o.kind === 'string');
  const todo = new Map(list.filter((o) => !kinds.has(`${o.apiVersion}|${o.kind}`)).map((o) => [`${o.apiVersion}|${o.kind}`, o]));
  await Promise.all([...todo.values()].map((o) => loadKind(o.apiVersion, o.kind)));
  await prepareStrict(list, isBuiltIn);
}

function loadKind(apiVersion: string, kind: string): Promise<void> {
  const key = `${apiVersion}|${kind}`;
  let loaded = loading.get(key);
  if (!loaded) {
    loaded = (async () => {
      const schema = SCHEMA_OF[apiVersion] ?? apiVersion;
      const mod = moduleFor(schema);
      if (!versions.has(apiVersion)) versions.set(apiVersion, mod !== undefined && resolves(mod));
      let validate: ValidateFn | null = null;
      if (versions.get(apiVersion) && /^[A-Z][A-Za-z0-9]*$/.test(kind)) {
        try {
          const ns: Record<string, any> = await import(`${mod}/${kind}`);
          const model = Object.values(ns).find((v) => typeof v === 'function' && v.apiVersion === schema && v.kind === kind);
          if (model) validate = (obj: Json) => model.prototype.validate.call(schema === apiVersion ? obj : { ...obj, apiVersion: schema });
        } catch (e) {
          if (!isMissingModule(e)) throw e;
        }
      }
      kinds.set(key, validate);
    })();
    loading.set(key, loaded);
    // A load that failed (out of file descriptors, say) is tried again by the next caller.
    loaded.catch(() => loading.delete(key));
  }
  return loaded;
}

/** Built-in kinds a definition's source may name (`kind: 'Deployment'`, `kplus.Deployment`, `KubeDeployment`), with their API versions. */
const NAMED_KINDS: Readonly<Record<string, string>> = {
  ConfigMap: 'v1', Secret: 'v1', Service: 'v1', ServiceAccount: 'v1', PersistentVolumeClaim: 'v1', Pod: 'v1', Namespace: 'v1',
  Deployment: 'apps/v1', StatefulSet: 'apps/v1', DaemonSet: 'apps/v1', Job: 'batch/v1', CronJob: 'batch/v1',
  Ingress: 'networking.k8s.io/v1', NetworkPolicy: 'networking.k8s.io/v1', HorizontalPodAutoscaler: 'autoscaling/v2', PodDisruptionBudget: 'policy/v1',
  Role: 'rbac.authorization.k8s.io/v1', RoleBinding: 'rbac.authorization.k8s.io/v1', ClusterRole: 'rbac.authorization.k8s.io/v1', ClusterRoleBinding: 'rbac.authorization.k8s.io/v1',
};
const NAMED_KIND = new RegExp(`\\b(?:Kube)?(${Object.keys(NAMED_KINDS).join('|')})\\b`, 'g');
/** Argo CD's, which every synthesis with a group writes. */
const ARGO_KINDS = [{ apiVersion: 'argoproj.io/v1alpha1', kind: 'Application' }, { apiVersion: 'argoproj.io/v1alpha1', kind: 'AppProject' }];

/**
 * Starts loading, in the background, the validators of the built-in kinds `source` names (and
 * Argo CD's): the loader calls it with each definition file's text while esbuild bundles them,
 * when the main thread would otherwise wait. A guess from words: a kind named but not used (a
 * `Pod` in a comment) is loaded for nothing, and its strict-field models, loaded one kind at a
 * time (strict.ts), may make a kind in use wait behind them; a kind used but not named is loaded
 * when `prepareValidators` first needs it, as without a prefetch. Resolves once the loads this
 * call started are done (at once when it started none); never rejects: a load that fails is
 * tried again by `prepareValidators`, which reports it.
 */
export function prefetchValidators(source: string): Promise<void> {
  const named = [...ARGO_KINDS];
  for (const m of source.matchAll(NAMED_KIND)) named.push({ apiVersion: NAMED_KINDS[m[1]], kind: m[1] });
  const fresh = named.filter((k) => !loading.has(`${k.apiVersion}|${k.kind}`));
  return fresh.length ? prepareValidators(fresh).catch(() => undefined) : Promise.resolve();
}

/** Whether a package path resolves (without loading it). */
function resolves(mod: string): boolean {
  try {
    resolveModule(mod);
    return true;
  } catch (e) {
    if (isMissingModule(e)) return false;
    throw e;
  }
}

function isMissingModule(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException).code;
  return code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND' || code === 'ERR_PACKAGE_PATH_NOT_EXPORTED';
}

/** An API version of Kubernetes itself (not Argo CD's, not another custom resource's). */
function isBuiltIn(apiVersion: string): boolean {
  const mod = moduleFor(apiVersion);
  return mod !== undefined && mod.startsWith('kubernetes-models/');
}

/** The first problem with `obj`, or undefined when it is valid. */
export function validateObject(obj: Json): Invalid | undefined {
  if (typeof obj.apiVersion !== 'string' || !obj.apiVersion) return { field: 'apiVersion', message: 'is required' };
  if (typeof obj.kind !== 'string' || !obj.kind) return { field: 'kind', message: 'is required' };
  const name = obj.metadata?.name;
  if (typeof name !== 'string' || !name) return { field: 'metadata.name', message: 'is required' };
  if (LABEL_NAMED_KINDS.has(obj.kind) ? !isDnsLabel(name) : !isDnsSubdomain(name)) {
    const rule = LABEL_NAMED_KINDS.has(obj.kind) ? 'a DNS label (at most 63 characters)' : 'a DNS subdomain';
    return { field: 'metadata.name', message: `"${name}" must be ${rule}: lowercase letters, digits, '-'${LABEL_NAMED_KINDS.has(obj.kind) ? '' : " and '.'"}` };
  }
  const ns = obj.metadata.namespace;
  if (ns !== undefined && !isDnsLabel(ns)) return { field: 'metadata.namespace', message: `"${ns}" must be a DNS label` };
  if (ns !== undefined && CLUSTER_SCOPED_KINDS.has(obj.kind)) return { field: 'metadata.namespace', message: `a ${obj.kind} is cluster-scoped and takes no namespace` };

  const validate = kinds.get(`${obj.apiVersion}|${obj.kind}`);
  if (validate === undefined) throw new Error(`validators for ${obj.apiVersion} ${obj.kind} were not prepared`);
  if (!versions.get(obj.apiVersion)) return undefined; // a custom resource paddock has no schema for
  if (!validate) return { field: 'kind', message: `${obj.apiVersion} has no kind ${obj.kind}` };
  try {
    validate(obj);
  } catch (e) {
    const errors: any[] = (e as any).errors ?? [];
    if (!errors.length) return { field: '', message: (e as Error).message };
    return describe(pickError(errors));
  }
  const unknown = unknownField(obj);
  return unknown === undefined ? undefined : { field: unknown, message: `is not a field of ${obj.apiVersion} ${obj.kind} (strict validation, as kubectl apply --validate=strict)` };
}

/** The most specific error: the deepest field; ties go to the first reported. */
function pickError(errors: any[]): any {
  return errors.reduce((best, e) => (depth(e) > depth(best) ? e : best));
}

function depth(e: any): number {
  return (e.instancePath ?? '').split('/').length + (e.keyword === 'required' ? 1 : 0);
}

function describe(e: any): Invalid {
  let field = pointerToField(e.instancePath ?? '');
  let message: string;
  switch (e.keyword) {
    case 'required':
      field = field ? `${field}.${e.params.missingProperty}` : e.params.missingProperty;
      message = 'is required';
      break;
    case 'type':
      message = `must be ${e.params.type === 'integer' ? 'an integer' : `a ${e.params.type}`}`;
      break;
    case 'enum':
      message = `must be one of ${(e.params.allowedValues ?? []).join(', ')}`;
      break;
    case 'additionalProperties':
      field = field ? `${field}.${e.params.additionalProperty}` : e.params.additionalProperty;
      message = 'is not a known field';
      break;
    default:
      message = e.message ?? `fails ${e.keyword} ${JSON.stringify(e.params)}`;
  }
  return { field, message };
}

/** `/spec/containers/0/image` -> `spec.containers[0].image` */
export function pointerToField(pointer: string): string {
  return pointer
    .split('/')
    .slice(1)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce((acc, p) => (/^\d+$/.test(p) ? `${acc}[${p}]` : acc ? `${acc}.${p}` : p), '');
}
