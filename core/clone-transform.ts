/**
 * The clone of a Deployment, as a pure function of the source's JSON: used for sources in the
 * same synthesis and for live sources read from a cluster alike.
 */
import { GROUP_LABEL, LEGACY_GROUP_LABEL, MANAGED_BY_LABEL } from './stamp.ts';

type Json = Record<string, any>;

export interface CloneSpec {
  readonly nameSuffix: string;
  readonly scaleFactor: number;
  /** One image for every container, or images by container name. */
  readonly image?: string | Readonly<Record<string, string>>;
  /** Variables added to every container, replacing any of the same name. */
  readonly env?: Readonly<Record<string, string>>;
  /** Namespace of the clone. @default the source's */
  readonly namespace?: string;
}

/** Label set on clone pods (and in the clone's selector) naming the clone. */
export const CLONE_LABEL = 'paddock.dev/clone';
export const CLONE_OF_ANNOTATION = 'paddock.dev/clone-of';

/** Labels and annotations that belong to the source's owner, never to a copy. */
const DROP_LABELS = new Set([GROUP_LABEL, LEGACY_GROUP_LABEL, MANAGED_BY_LABEL, 'app.kubernetes.io/instance']);
const DROP_ANNOTATIONS = new Set([
  'deployment.kubernetes.io/revision',
  'kubectl.kubernetes.io/last-applied-configuration',
]);
/**
 * Labels and annotations that steer Argo CD (sync options such as `Prune=false`, hooks,
 * tracking): a live source's must not decide how Argo CD treats the clone paddock owns.
 */
const ARGO_PREFIX = 'argocd.argoproj.io/';
const PADDOCK_ENV = new Set(['GROUP_ID', 'GARBAGE_COLLECTOR_URL']);
/** Fields the API server or the source's controllers own; finalizers too, which would keep a removed clone alive. */
const SERVER_FIELDS = ['uid', 'resourceVersion', 'generation', 'creationTimestamp', 'managedFields', 'ownerReferences', 'selfLink', 'deletionTimestamp', 'deletionGracePeriodSeconds', 'finalizers'];

/** replicas = ceil(source x factor), at least 1 when the source has any; 0 stays 0. */
export function cloneReplicas(sourceReplicas: number | undefined, factor: number): number {
  const src = sourceReplicas ?? 1;
  if (src === 0) return 0;
  // toFixed absorbs float noise: 100 x 1.1 is 110.00000000000001, which must give 110, not 111.
  return Math.max(1, Math.ceil(Number((src * factor).toFixed(9))));
}

/** A label value with `suffix`, kept within the 63 characters a label value may have. */
export function suffixLabelValue(value: string, suffix: string): string {
  const tail = value ? suffix : suffix.replace(/^[^A-Za-z0-9]+/, '');
  const head = value.slice(0, Math.max(0, 63 - tail.length)).replace(/[^A-Za-z0-9]+$/, '');
  return (head + tail).slice(0, 63).replace(/[^A-Za-z0-9]+$/, '');
}

export function cloneDeployment(source: Json, spec: CloneSpec): Json {
  const src = structuredClone(source);
  const srcMeta: Json = src.metadata ?? {};
  const name = `${srcMeta.name}${spec.nameSuffix}`;
  const cloneId = suffixLabelValue(String(srcMeta.name ?? ''), spec.nameSuffix);

  const metadata: Json = { ...srcMeta, name };
  for (const f of SERVER_FIELDS) delete metadata[f];
  if (spec.namespace) metadata.namespace = spec.namespace;
  metadata.labels = without(srcMeta.labels, DROP_LABELS);
  metadata.annotations = {
    ...without(srcMeta.annotations, DROP_ANNOTATIONS),
    [CLONE_OF_ANNOTATION]: `${srcMeta.namespace ?? ''}/${srcMeta.name}`,
  };
  if (!Object.keys(metadata.labels).length) delete metadata.labels;

  const srcSpec: Json = src.spec ?? {};
  const template: Json = srcSpec.template ?? {};
  const tmeta: Json = { ...(template.metadata ?? {}) };
  delete tmeta.creationTimestamp;
  // Every pod label gets the suffix, so no selector written for the source's pods matches a clone pod.
  const podLabels: Record<string, string> = {};
  for (const [k, v] of Object.entries<string>(without(tmeta.labels, DROP_LABELS))) podLabels[k] = suffixLabelValue(v, spec.nameSuffix);
  podLabels[CLONE_LABEL] = cloneId;
  tmeta.labels = podLabels;

  const matchLabels: Record<string, string> = { [CLONE_LABEL]: cloneId };
  for (const k of Object.keys(srcSpec.selector?.matchLabels ?? {})) {
    if (k in podLabels) matchLabels[k] = podLabels[k];
  }

  const podSpec: Json = template.spec ?? {};
  for (const list of ['initContainers', 'containers'] as const) {
    for (const c of podSpec[list] ?? []) {
      const image = typeof spec.image === 'string' ? spec.image : spec.image?.[c.name];
      if (image) c.image = image;
      if (spec.env || c.env) c.env = mergeEnv(c.env ?? [], spec.env ?? {});
      if (c.env && !c.env.length) delete c.env;
    }
  }

  const out: Json = {
    apiVersion: src.apiVersion ?? 'apps/v1',
    kind: src.kind ?? 'Deployment',
    metadata,
    spec: {
      ...srcSpec,
      replicas: cloneReplicas(srcSpec.replicas, spec.scaleFactor),
      selector: { matchLabels },
      template: { ...template, metadata: tmeta, spec: podSpec },
    },
  };
  return out;
}

function mergeEnv(env: Json[], extra: Readonly<Record<string, string>>): Json[] {
  const kept = env.filter((e) => !PADDOCK_ENV.has(e.name) && !(e.name in extra));
  return [...kept, ...Object.keys(extra).sort().map((name) => ({ name, value: String(extra[name]) }))];
}

function without(map: Record<string, string> | undefined, drop: ReadonlySet<string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(map ?? {})) if (!drop.has(k) && !k.startsWith(ARGO_PREFIX)) out[k] = v;
  return out;
}
