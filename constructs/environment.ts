import { ApiObject, Chart } from 'cdk8s';
import type { Construct, IConstruct } from 'constructs';
import { contextOf } from '../core/context.ts';
import { parseDuration } from '../core/duration.ts';
import { gcUrl } from '../core/gc-token.ts';
import { isClusterScoped, type GroupScope } from '../core/kinds.ts';
import { isDnsLabel, ROOT_APP } from '../core/names.ts';
import { groupLabels, stampObject, stripPlusDefaults, type GroupStamp } from '../core/stamp.ts';
import { RegistryCredentials, type RegistryCredentialsProps } from './private/registry-credentials.ts';
import { claimUnique, type Claim } from './private/unique.ts';

export type { RegistryCredentialsProps } from './private/registry-credentials.ts';

/** Where Argo CD deploys a group. Give `server` or `name`, as in an Argo CD Application. */
export interface ArgoDestination {
  /** API server URL of the target cluster. @default 'https://kubernetes.default.svc' when `name` is not set */
  readonly server?: string;
  /** Name of a cluster registered in Argo CD. @default none */
  readonly name?: string;
}

export interface EnvironmentProps {
  /** The group name: Argo CD Application, `groups/<group>/` and the `group_id` label. @default the construct id */
  readonly group?: string;
  /** Namespace for every namespaced object that does not name its own; Argo CD creates it. */
  readonly namespace: string;
  /** The Argo CD destination cluster. @default the cluster Argo CD runs in */
  readonly destination?: ArgoDestination;
  /** Lifetime such as `30m`, `2h` or `7d`, counted from when the group was first committed; then a commit removes it. @default no expiry */
  readonly ttl?: string;
  /** Names of image pull secrets added to every pod of the group. @default none */
  readonly imagePullSecrets?: readonly string[];
  /**
   * Registry credentials with none of them in git: an ExternalSecret (external-secrets.io) from
   * which the external-secrets operator writes a `kubernetes.io/dockerconfigjson` Secret into
   * the group's namespace, from a key of a secret store; every pod of the group pulls with it.
   * @default none
   */
  readonly registryCredentials?: RegistryCredentialsProps;
  /** Who the group belongs to (a team or a person); shown in `paddock status`. @default none */
  readonly owner?: string;
  /** Extra labels on every object of the group. @default none */
  readonly labels?: Readonly<Record<string, string>>;
  /**
   * Keep cdk8s-plus's restrictive defaults (read-only root filesystem, run as non-root, default
   * resource limits, `imagePullPolicy: Always`). By default paddock drops them because they break
   * ordinary images; settings you make on raw objects are never touched. @default false
   */
  readonly hardened?: boolean;
  /**
   * Namespaces other than `namespace` that objects of this group may name. Any other namespace
   * is an error, and Argo CD's project for paddock allows only the namespaces groups declare.
   * @default none: every namespaced object is in `namespace`
   */
  readonly allowedNamespaces?: readonly string[];
  /**
   * Cluster-scoped kinds this group may hold (`ClusterRole`, or a custom resource's kind).
   * Any other cluster-scoped object is an error, and Argo CD's project for paddock allows
   * only the cluster-scoped kinds groups hold (and `Namespace`, for `CreateNamespace`).
   * @default none
   */
  readonly allowedClusterKinds?: readonly string[];
}

const ENVIRONMENT = Symbol.for('paddock.Environment');
const DEFAULT_SERVER = 'https://kubernetes.default.svc';

/** One rendered object with the construct that made it. */
export interface RenderedObject {
  readonly object: Record<string, any>;
  readonly apiObject: ApiObject;
}

/**
 * A group of Kubernetes resources that live and die together: one Argo CD Application.
 *
 * Every object inside it, pod templates included, is labelled with the group, and every
 * container gets `GROUP_ID` and `GARBAGE_COLLECTOR_URL`, whichever construct made it.
 */
export class Environment extends Chart {
  /** True for an `Environment` from any copy of this library. */
  public static isEnvironment(x: unknown): x is Environment {
    return typeof x === 'object' && x !== null && ENVIRONMENT in x;
  }

  /** The environment `c` belongs to, if any. */
  public static enclosing(c: IConstruct): Environment | undefined {
    for (let s: IConstruct | undefined = c; s; s = s.node.scope) {
      if (Environment.isEnvironment(s)) return s;
    }
    return undefined;
  }

  public readonly group: string;
  public override readonly namespace: string;
  public readonly destination: ArgoDestination;
  public readonly ttl?: string;
  /** `ttl` in milliseconds. */
  public readonly ttlMs?: number;
  public readonly imagePullSecrets: readonly string[];
  public readonly owner?: string;
  public readonly hardened: boolean;
  private readonly namespaces = new Set<string>();
  private gcExcluded = false;
  private readonly clusterKinds = new Set<string>();
  private readonly refreshers = new Set<string>();
  /** Why rendering no objects is fine for now (a Release with no active record). */
  private emptyAllowed = false;

  constructor(scope: Construct, id: string, props: EnvironmentProps) {
    const group = props.group ?? id;
    super(scope, id, {
      namespace: props.namespace,
      disableResourceNameHashes: true,
      labels: { ...props.labels, ...groupLabels(group) },
    });
    Object.defineProperty(this, ENVIRONMENT, { value: true });
    const where = this.node.path;
    if (Environment.enclosing(scope)) throw new Error(`${where}: an Environment cannot be inside another Environment`);
    if (!isDnsLabel(group)) {
      throw new Error(`${where}: group "${group}" must be a DNS label (lowercase letters, digits and '-', at most 63 characters)`);
    }
    if (group === ROOT_APP) throw new Error(`${where}: group name "${ROOT_APP}" is reserved for the app of apps`);
    if (!isDnsLabel(props.namespace ?? '')) {
      throw new Error(`${where}: namespace "${props.namespace}" must be a DNS label (lowercase letters, digits and '-', at most 63 characters)`);
    }
    if (props.destination && props.destination.server && props.destination.name) {
      throw new Error(`${where}: destination takes server or name, not both`);
    }
    if (props.ttl !== undefined) {
      const ms = parseDuration(props.ttl);
      if (ms === undefined) throw new Error(`${where}: ttl "${props.ttl}" is not a duration such as 30m, 2h or 7d`);
      this.ttlMs = ms;
    }
    this.group = group;
    this.namespace = props.namespace;
    this.destination = props.destination?.name ? { name: props.destination.name } : { server: props.destination?.server ?? DEFAULT_SERVER };
    this.ttl = props.ttl;
    const pull = props.registryCredentials ? new RegistryCredentials(this, 'registry-credentials', group, props.registryCredentials).secretName : undefined;
    this.imagePullSecrets = [...new Set([...(props.imagePullSecrets ?? []), ...(pull ? [pull] : [])])];
    this.owner = props.owner;
    this.hardened = props.hardened ?? false;
    this.allow({ namespaces: props.allowedNamespaces, clusterKinds: props.allowedClusterKinds });
    this.node.addValidation({ validate: () => (this.emptyAllowed || this.allApiObjects.length ? [] : [`group "${group}" has no objects`]) });
    claimUnique(this, () => this.claims());
  }

  /**
   * Lets this group render no objects for now: for a construct whose objects come later (a
   * `Release` before its first release). Otherwise a group with no objects is an error.
   */
  public allowEmpty(): void {
    this.emptyAllowed = true;
  }

  /** Its group name and its objects' identities, unique across the App. */
  private *claims(): Iterable<Claim> {
    const where = this.node.path;
    yield { key: `group:${this.group}`, path: where, clash: (other) => `${where}: group "${this.group}" is also defined by ${other}` };
    for (const o of this.allApiObjects) {
      // A clone is named from its source as it renders (paddock's synthesis checks the rendered clones).
      if (o.node.scope && 'sourceRef' in o.node.scope) continue;
      const namespace = this.isClusterScoped(o.kind) ? '' : o.metadata.namespace ?? this.namespace;
      const ns = namespace ? ` in namespace ${namespace}` : '';
      yield {
        key: `object:${o.apiGroup}|${o.kind}/${o.name}|${namespace}`,
        path: o.node.path,
        clash: (other) => `${o.node.path}: ${o.kind} "${o.name}"${ns} is also made by ${other}`,
      };
    }
  }

  /** Namespaces besides `namespace` that objects of this group may name. */
  public get allowedNamespaces(): readonly string[] {
    return [...this.namespaces].sort();
  }

  /** Cluster-scoped kinds this group may hold. */
  public get allowedClusterKinds(): readonly string[] {
    return [...this.clusterKinds].sort();
  }

  /**
   * Lets this group's objects name other namespaces or be of cluster-scoped kinds, as the
   * `allowedNamespaces` and `allowedClusterKinds` props do: for constructs (such as
   * `PaddockControlPlane`) that need it. Releases and workspaces never widen a group.
   */
  public allow(grant: { readonly namespaces?: readonly string[]; readonly clusterKinds?: readonly string[] }): void {
    for (const ns of grant.namespaces ?? []) {
      if (!isDnsLabel(ns)) throw new Error(`${this.node.path}: allowed namespace "${ns}" must be a DNS label`);
      if (ns !== this.namespace) this.namespaces.add(ns);
    }
    for (const kind of grant.clusterKinds ?? []) {
      if (!/^[A-Z][A-Za-z0-9]*$/.test(kind)) throw new Error(`${this.node.path}: allowed cluster kind "${kind}" must be a kind such as ClusterRole`);
      this.clusterKinds.add(kind);
    }
  }

  /**
   * Lets the ServiceAccount `serviceAccount` of this group's namespace ask Argo CD to refresh
   * Applications (`patch` on `applications.argoproj.io` in Argo CD's namespace, nothing else):
   * for `PaddockControlPlane`'s watcher. paddock renders that Role and RoleBinding itself, in
   * `apps/` with the Applications, so the group's own reach (and its project) stays as it is.
   */
  public grantArgoRefresh(serviceAccount: string): void {
    if (!isDnsLabel(serviceAccount)) throw new Error(`${this.node.path}: ServiceAccount "${serviceAccount}" for Argo CD refreshes must be a DNS label`);
    this.refreshers.add(serviceAccount);
  }

  /** ServiceAccounts of this group's namespace that may ask Argo CD to refresh Applications. */
  public get argoRefreshers(): readonly string[] {
    return [...this.refreshers].sort();
  }

  /** Where this group's objects may be. */
  public get scope(): GroupScope {
    return { namespace: this.namespace, namespaces: this.allowedNamespaces, clusterKinds: this.allowedClusterKinds };
  }

  /** Cluster-scoped as far as this group knows: a built-in cluster-scoped kind, or one it allows. */
  public isClusterScoped(kind: string): boolean {
    return this.clusterKinds.has(kind) || isClusterScoped(kind);
  }

  /** The labels and env this group puts on its objects, under the current synthesis. */
  public get stamp(): GroupStamp {
    const ctx = contextOf(this);
    return { group: this.group, gcUrl: this.gcExcluded ? undefined : gcUrl(ctx.sidecarUrl, ctx.gcSecret, this.group), imagePullSecrets: this.imagePullSecrets };
  }

  /**
   * No pod of this group may remove it: its containers get no `GARBAGE_COLLECTOR_URL`, and the
   * sidecar refuses a GC call for it (a token of it from older manifests included). paddock's
   * own group (`PaddockControlPlane`) is one: a GC of it would remove the sidecar and watcher.
   */
  public excludeFromGc(): void {
    this.gcExcluded = true;
  }

  /** True once `excludeFromGc` was called. */
  public get excludedFromGc(): boolean {
    return this.gcExcluded;
  }

  /** The API objects of this group (not those of other charts). */
  public get allApiObjects(): ApiObject[] {
    return this.node.findAll().filter((c): c is ApiObject => c instanceof ApiObject && Chart.of(c) === this);
  }

  /** Renders one of this group's objects exactly as paddock writes it. */
  public render(apiObject: ApiObject, stamp: GroupStamp = this.stamp): Record<string, any> {
    const json = apiObject.toJson();
    if (!this.hardened && isMadeByCdk8sPlus(apiObject)) stripPlusDefaults(json);
    if (this.isClusterScoped(json.kind) && json.metadata) delete json.metadata.namespace;
    return stampObject(json, stamp);
  }

  /**
   * Renders every object of the group, after running the validations of every construct of its
   * App (as cdk8s's `Chart.toJson` does: clashes with other groups are checked there).
   */
  public renderAll(): RenderedObject[] {
    const errors = this.node.root.node.findAll().flatMap((c) => c.node.validate().map((e) => (c.node.path ? `${c.node.path}: ${e}` : e)));
    if (errors.length) throw new Error(errors[0]);
    const stamp = this.stamp;
    return this.allApiObjects.map((apiObject) => ({ apiObject, object: this.render(apiObject, stamp) }));
  }

  /** The group's objects as paddock writes them (so `Testing.synth(env)` shows the stamp too). */
  public override toJson(): any[] {
    return this.renderAll().map((r) => r.object);
  }
}

/** cdk8s-plus constructs keep their ApiObject as `apiObject` on the construct that made it. */
function isMadeByCdk8sPlus(o: ApiObject): boolean {
  const scope = o.node.scope as { apiObject?: unknown } | undefined;
  return scope?.apiObject === o;
}
