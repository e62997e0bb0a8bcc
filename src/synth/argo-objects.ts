/**
 * The Argo CD objects paddock writes under `apps/`: each group's Application (live or emptied),
 * the app of apps, the two projects, and the refresh Role. Pure functions of their arguments.
 */
import type { ArgoDestination } from '../../constructs/environment.ts';
import { groupLabels } from '../../core/stamp.ts';
import { APPS_DIR, ARGO_FINALIZER, groupDir, RETIRED_DIR, ROOT_APP, rootProjectName, type ArgoOptions } from './layout.ts';

type Json = Record<string, any>;

export interface AppSpec {
  readonly group: string;
  readonly namespace: string;
  readonly destination: ArgoDestination;
  readonly annotations: Readonly<Record<string, string>>;
}

/**
 * A sync applies only what is out of sync. Without it every sync of the app of apps applies every
 * group's Application again, so a removal waited seconds per hundred groups before Argo CD even
 * looked at the group (bench e2e: p50 6 s with 23 groups).
 */
const APPLY_OUT_OF_SYNC_ONLY = 'ApplyOutOfSyncOnly=true';

/** One group's Argo CD Application: automated sync with prune, cascading delete, namespace created. */
export function groupApplication(app: AppSpec, argo: ArgoOptions): Json {
  return applicationOf(app, argo, groupDir(app.group), { automated: { prune: true, selfHeal: true }, syncOptions: ['CreateNamespace=true', APPLY_OUT_OF_SYNC_ONLY] });
}

/**
 * A removed group's Application, emptied: its source is a directory with no manifests, so its
 * automated sync prunes every object of the group (`allowEmpty`) and can create nothing. The
 * removal commit turns the group's Application into this; a later commit (`retire`) deletes it.
 *
 * Deleting a group's live Application in the removal commit instead can orphan objects: its
 * finalizer deletes them while an automated sync of the same Application, from a copy of it not
 * yet marked deleted or still at the old revision, applies them again (argo-cd#1208, #12943);
 * the Application goes and the objects stay, tracked by nothing. Emptied first, the Application
 * has nothing left to apply by the time it is deleted.
 */
export function retiredApplication(app: AppSpec, argo: ArgoOptions): Json {
  return applicationOf(app, argo, RETIRED_DIR, { automated: { prune: true, allowEmpty: true } });
}

function applicationOf(app: AppSpec, argo: ArgoOptions, path: string, syncPolicy: Json): Json {
  return {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'Application',
    metadata: {
      name: app.group,
      namespace: argo.namespace,
      labels: groupLabels(app.group),
      ...(Object.keys(app.annotations).length ? { annotations: { ...app.annotations } } : {}),
      finalizers: [ARGO_FINALIZER],
    },
    spec: {
      project: argo.project,
      // A plain path of YAML files is a directory source, not recursed. No `directory: {recurse: false}`:
      // Argo CD normalizes an all-default `directory` away, so the live Application would never
      // match git and self-heal would sync it again and again (argo-cd#4501).
      source: { repoURL: argo.repoURL, targetRevision: argo.targetRevision, path },
      destination: { ...app.destination, namespace: app.namespace },
      syncPolicy,
    },
  };
}

/** The app of apps: syncs `apps/` (itself included) and prunes the Application of a removed group. */
export function rootApplication(argo: ArgoOptions): Json {
  return {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'Application',
    metadata: {
      name: ROOT_APP,
      namespace: argo.namespace,
      labels: { 'app.kubernetes.io/managed-by': 'paddock' },
      finalizers: [ARGO_FINALIZER],
    },
    spec: {
      project: rootProjectName(argo),
      source: { repoURL: argo.repoURL, targetRevision: argo.targetRevision, path: APPS_DIR },
      destination: { server: 'https://kubernetes.default.svc', namespace: argo.namespace },
      syncPolicy: { automated: { prune: true, selfHeal: true }, syncOptions: [APPLY_OUT_OF_SYNC_ONLY] },
    },
  };
}

/**
 * On paddock's AppProjects, which the app of apps syncs from `apps/` with the Applications:
 * - sync wave -1: a project exists before the Applications that name it. Applied in one wave,
 *   an Application can come first, be found invalid ("project not found") and wait for the next
 *   resync, minutes later, before anything of its group is synced;
 * - Delete=false: deleting the app of apps leaves the projects, which the Applications being
 *   deleted with it still need (their finalizers cannot finish without their project).
 */
const PROJECT_ANNOTATIONS = { 'argocd.argoproj.io/sync-wave': '-1', 'argocd.argoproj.io/sync-options': 'Delete=false' } as const;

/** Where a group's objects may go: a cluster (server or name) and a namespace. */
export interface ProjectDestination {
  readonly server?: string;
  readonly name?: string;
  readonly namespace: string;
}

/** What tells two destinations apart (the project lists each once). */
export function destinationKey(d: ProjectDestination): string {
  return `${d.name ?? ''}|${d.server ?? ''}|${d.namespace}`;
}

/**
 * The project of every group's Application: the manifests repo as its only source, the
 * namespaces groups declare as its only destinations, and no cluster-scoped kind but
 * `Namespace` (for `CreateNamespace`) and those groups are allowed to hold. Argo CD refuses to
 * sync anything else, whatever reaches the repo.
 */
export function groupsProject(argo: ArgoOptions, destinations: readonly ProjectDestination[], clusterKinds: ReadonlyArray<{ group: string; kind: string }>): Json {
  const dest = uniqueSorted(destinations.map((d) => ({ ...(d.name ? { name: d.name } : { server: d.server }), namespace: d.namespace })));
  const kinds = uniqueSorted([{ group: '', kind: 'Namespace' }, ...clusterKinds.map((k) => ({ group: k.group, kind: k.kind }))]);
  return {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'AppProject',
    metadata: { name: argo.project, namespace: argo.namespace, labels: { 'app.kubernetes.io/managed-by': 'paddock' }, annotations: PROJECT_ANNOTATIONS },
    spec: {
      description: 'paddock groups: only what the definitions allow (generated, do not edit)',
      sourceRepos: [argo.repoURL],
      destinations: dest,
      clusterResourceWhitelist: kinds,
    },
  };
}

/** A subject of a RoleBinding. */
export interface RbacSubject {
  readonly kind: 'ServiceAccount';
  readonly name: string;
  readonly namespace: string;
}

const RBAC_API = 'rbac.authorization.k8s.io';

/**
 * `apps/<name>.role.yaml` and `apps/<name>.rolebinding.yaml`: the dots keep them apart from
 * the Applications, as the projects' files.
 */
export const rbacPath = (o: Json) => `${APPS_DIR}/${o.metadata.name}.${String(o.kind).toLowerCase()}.yaml`;

/**
 * The right to ask Argo CD to refresh Applications, for the ServiceAccounts that hold it (a
 * `PaddockControlPlane`'s watcher): `patch` on `applications.argoproj.io` in Argo CD's
 * namespace and nothing else, a Role and a RoleBinding the app of apps syncs. Rendered here,
 * not in a group: a group reaching into Argo CD's namespace would widen the project every group
 * shares. None when no one holds it.
 */
export function argoRefreshRbac(argo: ArgoOptions, subjects: readonly RbacSubject[]): Json[] {
  if (!subjects.length) return [];
  const name = `${argo.project}-argo-refresh`;
  const metadata = { name, namespace: argo.namespace, labels: { 'app.kubernetes.io/managed-by': 'paddock' } };
  return [
    { apiVersion: `${RBAC_API}/v1`, kind: 'Role', metadata, rules: [{ apiGroups: ['argoproj.io'], resources: ['applications'], verbs: ['patch'] }] },
    {
      apiVersion: `${RBAC_API}/v1`,
      kind: 'RoleBinding',
      metadata,
      roleRef: { apiGroup: RBAC_API, kind: 'Role', name },
      subjects: uniqueSorted(subjects.map((x) => ({ kind: x.kind, name: x.name, namespace: x.namespace }))),
    },
  ];
}

/**
 * The project of the app of apps: Applications and AppProjects in Argo CD's namespace, and,
 * with `refreshRbac`, the Role and RoleBinding of `argoRefreshRbac`; nothing else.
 */
export function rootProject(argo: ArgoOptions, refreshRbac = false): Json {
  return {
    apiVersion: 'argoproj.io/v1alpha1',
    kind: 'AppProject',
    metadata: { name: rootProjectName(argo), namespace: argo.namespace, labels: { 'app.kubernetes.io/managed-by': 'paddock' }, annotations: PROJECT_ANNOTATIONS },
    spec: {
      description: 'paddock app of apps: the Applications and projects in apps/ (generated, do not edit)',
      sourceRepos: [argo.repoURL],
      destinations: [{ server: 'https://kubernetes.default.svc', namespace: argo.namespace }],
      clusterResourceWhitelist: [],
      namespaceResourceWhitelist: [
        { group: 'argoproj.io', kind: 'Application' },
        { group: 'argoproj.io', kind: 'AppProject' },
        ...(refreshRbac ? [{ group: RBAC_API, kind: 'Role' }, { group: RBAC_API, kind: 'RoleBinding' }] : []),
      ],
    },
  };
}

function uniqueSorted<T>(items: readonly T[]): T[] {
  const byKey = new Map(items.map((i) => [JSON.stringify(i), i]));
  return [...byKey.keys()].sort().map((k) => byKey.get(k)!);
}

