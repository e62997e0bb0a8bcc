/**
 * Schema validation of synthesized objects against the Kubernetes (kubernetes-models), Argo CD
 * (@kubernetes-models/argo-cd), Prometheus operator (@kubernetes-models/prometheus-operator) and
 * external-secrets (@kubernetes-models/external-secrets) schemas, plus the naming rules the
 * schemas do not hold.
 *
 * Validators are loaded per API group-version on first use (`prepareValidators`), so a synth
 * pays only for the groups it uses. Kinds outside both libraries (other custom resources) get
 * the structural checks only.
 */
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

const loaded = new Map<string, Map<string, ValidateFn> | null>();

/** Loads the validators for these objects' API versions and kinds. Call before `validateObject`. */
export async function prepareValidators(objects: Iterable<{ apiVersion: string; kind: string }>): Promise<void> {
  const list = [...objects].filter((o) => typeof o.apiVersion === 'string' && typeof o.kind === 'string');
  await Promise.all([...new Set(list.map((o) => o.apiVersion))].filter((v) => !loaded.has(v)).map(async (apiVersion) => {
    const schema = SCHEMA_OF[apiVersion] ?? apiVersion;
    const mod = moduleFor(schema);
    let kinds: Map<string, ValidateFn> | null = null;
    if (mod) {
      try {
        const ns: Record<string, any> = await import(mod);
        kinds = new Map();
        for (const value of Object.values(ns)) {
          if (typeof value === 'function' && value.apiVersion === schema && typeof value.kind === 'string') {
            const proto = value.prototype;
            kinds.set(value.kind, (obj: Json) => proto.validate.call(schema === apiVersion ? obj : { ...obj, apiVersion: schema }));
          }
        }
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ERR_MODULE_NOT_FOUND' && (e as NodeJS.ErrnoException).code !== 'ERR_PACKAGE_PATH_NOT_EXPORTED') throw e;
      }
    }
    loaded.set(apiVersion, kinds);
  }));
  await prepareStrict(list, isBuiltIn);
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

  const kinds = loaded.get(obj.apiVersion);
  if (kinds === undefined) throw new Error(`validators for ${obj.apiVersion} were not prepared`);
  if (kinds === null) return undefined; // a custom resource paddock has no schema for
  const validate = kinds.get(obj.kind);
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
