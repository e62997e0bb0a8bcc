/**
 * The group stamp: what paddock puts on every object of a group, whatever construct made it.
 *
 * Works on rendered JSON, so cdk8s-plus workloads, raw `ApiObject`s, clones and objects from
 * release templates are treated alike. Pod templates are found by shape (an object whose
 * `spec` holds `containers`), so Deployments, Jobs, CronJobs, StatefulSets, DaemonSets and
 * custom resources that embed pod templates all get labels and env.
 */
type Json = Record<string, any>;

export interface GroupStamp {
  readonly group: string;
  /** The value of `GARBAGE_COLLECTOR_URL` in every container of the group; none for a group GC may not remove. */
  readonly gcUrl?: string;
  readonly imagePullSecrets?: readonly string[];
}

export const GROUP_LABEL = 'paddock.dev/group';
export const LEGACY_GROUP_LABEL = 'group_id';
export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';

export function groupLabels(group: string): Record<string, string> {
  return { [GROUP_LABEL]: group, [LEGACY_GROUP_LABEL]: group, [MANAGED_BY_LABEL]: 'paddock' };
}

const CONTAINER_LISTS = ['initContainers', 'containers', 'ephemeralContainers'] as const;

/** Stamps `obj` in place and returns it. Idempotent. */
export function stampObject(obj: Json, stamp: GroupStamp): Json {
  const labels = groupLabels(stamp.group);
  addLabels((obj.metadata ??= {}), labels);
  const env = [{ name: 'GROUP_ID', value: stamp.group }, ...(stamp.gcUrl === undefined ? [] : [{ name: 'GARBAGE_COLLECTOR_URL', value: stamp.gcUrl }])];
  visit(obj, (node, isTop) => {
    if (isPodSpec(node)) {
      stampPodSpec(node, env, stamp.imagePullSecrets ?? []);
      return;
    }
    if (!isTop && isPlainObject(node.spec) && isPodSpec(node.spec)) addLabels((node.metadata ??= {}), labels);
    else if (!isTop && isPlainObject(node.spec) && isPlainObject(node.spec.template)) {
      // A job template (CronJob.spec.jobTemplate): the Jobs it creates carry the group too.
      addLabels((node.metadata ??= {}), labels);
    }
  }, true);
  return obj;
}

function visit(node: unknown, fn: (node: Json, isTop: boolean) => void, isTop = false): void {
  if (Array.isArray(node)) {
    for (const item of node) visit(item, fn);
    return;
  }
  if (!isPlainObject(node)) return;
  fn(node, isTop);
  for (const key of Object.keys(node)) {
    if (key === 'metadata' || key === 'data' || key === 'stringData' || key === 'binaryData') continue;
    visit(node[key], fn);
  }
}

function isPlainObject(x: unknown): x is Json {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function isPodSpec(x: Json): boolean {
  return Array.isArray(x.containers) && x.containers.every((c: unknown) => isPlainObject(c));
}

function addLabels(metadata: Json, labels: Record<string, string>): void {
  metadata.labels = { ...(metadata.labels ?? {}), ...labels };
}

function stampPodSpec(spec: Json, env: readonly Json[], pullSecrets: readonly string[]): void {
  const names = new Set(env.map((e) => e.name));
  for (const list of CONTAINER_LISTS) {
    for (const container of spec[list] ?? []) {
      const own = (container.env ?? []).filter((e: Json) => !names.has(e?.name));
      // paddock's variables come first so user variables can refer to them as $(GROUP_ID).
      container.env = [...env.map((e) => ({ ...e })), ...own];
    }
  }
  if (pullSecrets.length) {
    const have = new Set((spec.imagePullSecrets ?? []).map((s: Json) => s?.name));
    spec.imagePullSecrets = [
      ...(spec.imagePullSecrets ?? []),
      ...pullSecrets.filter((n) => !have.has(n)).map((name) => ({ name })),
    ];
  }
}

/**
 * Removes the defaults cdk8s-plus forces on workloads that break ordinary images or pin
 * resources nobody asked for: read-only root filesystems, run-as-non-root, its default
 * requests and limits, and `imagePullPolicy: Always`. Only applied to objects cdk8s-plus
 * made, and not when the environment asks to be `hardened`.
 */
export function stripPlusDefaults(obj: Json): Json {
  visit(obj, (node) => {
    if (!isPodSpec(node)) return;
    if (isPlainObject(node.securityContext) && node.securityContext.runAsNonRoot === true) {
      delete node.securityContext.runAsNonRoot;
    }
    if (node.automountServiceAccountToken === false) delete node.automountServiceAccountToken;
    for (const list of CONTAINER_LISTS) {
      for (const c of node[list] ?? []) {
        const sc = c.securityContext;
        if (isPlainObject(sc)) {
          if (sc.readOnlyRootFilesystem === true) delete sc.readOnlyRootFilesystem;
          if (sc.runAsNonRoot === true) delete sc.runAsNonRoot;
          if (sc.privileged === false) delete sc.privileged;
          if (Object.keys(sc).length === 0) delete c.securityContext;
        }
        if (c.imagePullPolicy === 'Always') delete c.imagePullPolicy;
        if (isPlusDefaultResources(c.resources)) delete c.resources;
      }
    }
  });
  return obj;
}

function isPlusDefaultResources(r: unknown): boolean {
  if (!isPlainObject(r)) return false;
  return (
    r.limits?.cpu === '1500m' && r.limits?.memory === '2048Mi' &&
    r.requests?.cpu === '1000m' && r.requests?.memory === '512Mi' &&
    Object.keys(r).length === 2 && Object.keys(r.limits).length === 2 && Object.keys(r.requests).length === 2
  );
}
