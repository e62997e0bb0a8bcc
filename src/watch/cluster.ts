/**
 * The cluster side of the watcher, through @kubernetes/client-node: informers on the
 * Deployments that clones name (feeding LiveSources) and on the ConfigMaps of clone rules
 * definitions follow, and leader election on a coordination.k8s.io/v1 Lease. Used only when a cluster is configured (KUBECONFIG or
 * in-cluster); everything else in paddock works without one.
 */
import * as k8s from '@kubernetes/client-node';
import { queuedByKey } from '../coalesce.ts';
import { oneLine, UserError } from '../errors.ts';
import type { Elector } from './lock.ts';
import { LiveSources } from './live-sources.ts';
import type { SourceFeed } from './live-records.ts';

/**
 * A KubeConfig from KUBECONFIG or the in-cluster service account, or undefined when neither is
 * there. A KUBECONFIG that cannot be read is the user's to fix (a UserError naming it), not a
 * reason to go on without the cluster they meant.
 */
export function clusterConfig(): k8s.KubeConfig | undefined {
  if (!process.env.KUBECONFIG && !process.env.KUBERNETES_SERVICE_HOST) return undefined;
  const kc = new k8s.KubeConfig();
  try {
    kc.loadFromDefault();
  } catch (e) {
    const from = process.env.KUBECONFIG ? `KUBECONFIG "${process.env.KUBECONFIG}"` : 'the in-cluster service account';
    throw new UserError('InvalidConfig', `${from} cannot be read: ${oneLine(e)} (unset KUBECONFIG to run without a cluster)`);
  }
  return kc;
}

/**
 * A feed of one kind of namespaced object: informers, one per namespace followed; each event
 * goes to `take` (wire JSON, `apiVersion` and `kind` filled in), which keeps what the feed serves
 * as `live()`. client-node stops an informer on error: it is started again after a pause,
 * unless stopped meanwhile.
 */
abstract class InformedFeed<T extends k8s.KubernetesObject> implements SourceFeed {
  private readonly informers = new Map<string, k8s.Informer<T>>();
  /** Namespaces whose first list is in. */
  private readonly listed = new Set<string>();
  private readonly restarts = new Set<NodeJS.Timeout>();
  private stopped = false;

  constructor(
    private readonly kc: k8s.KubeConfig,
    private readonly kind: { readonly apiVersion: string; readonly kind: string; readonly path: (ns: string) => string; readonly list: (ns: string) => Promise<k8s.KubernetesListObject<T>> },
    private readonly onError: (e: unknown) => void,
  ) {}

  abstract live(): ReadonlyMap<string, Record<string, any>>;

  /** One informer event. */
  protected abstract take(type: 'ADDED' | 'MODIFIED' | 'DELETED', object: Record<string, any>): void;

  /** Follows the namespaces of these `namespace/name` keys (starting informers as needed). */
  async follow(keys: readonly string[]): Promise<void> {
    if (this.stopped) return;
    for (const ns of new Set(keys.map((k) => k.split('/')[0]))) {
      if (this.informers.has(ns)) continue;
      const informer = k8s.makeInformer(this.kc, this.kind.path(ns), () => this.kind.list(ns));
      const feed = (type: 'ADDED' | 'MODIFIED' | 'DELETED') => (obj: T) => {
        // Model fields are named as on the wire; a JSON round trip drops the rest (undefined, Dates as strings).
        const object = JSON.parse(JSON.stringify(obj)) as Record<string, any>;
        object.apiVersion ??= this.kind.apiVersion;
        object.kind ??= this.kind.kind;
        this.take(type, object);
      };
      informer.on('add', feed('ADDED'));
      informer.on('update', feed('MODIFIED'));
      informer.on('delete', feed('DELETED'));
      informer.on('error', (e) => {
        this.onError(e);
        const t = setTimeout(() => {
          this.restarts.delete(t);
          if (!this.stopped) void informer.start().catch(this.onError);
        }, 5_000);
        t.unref();
        this.restarts.add(t);
      });
      this.informers.set(ns, informer);
      await informer.start();
      this.listed.add(ns);
    }
  }

  synced(namespace: string): boolean {
    return this.listed.has(namespace);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.restarts) clearTimeout(t);
    this.restarts.clear();
    await Promise.all([...this.informers.values()].map((i) => i.stop()));
    this.informers.clear();
  }
}

/** Deployment informers, one per namespace that clones name; calls `onChange` when a source changes in a way a clone sees. */
export class DeploymentSources extends InformedFeed<k8s.V1Deployment> {
  private readonly sources = new LiveSources();

  constructor(kc: k8s.KubeConfig, private readonly onChange: (source: string) => void, onError: (e: unknown) => void = () => {}) {
    const apps = kc.makeApiClient(k8s.AppsV1Api);
    super(kc, {
      apiVersion: 'apps/v1', kind: 'Deployment', path: (ns) => `/apis/apps/v1/namespaces/${ns}/deployments`, list: (ns) => apps.listNamespacedDeployment({ namespace: ns }),
    }, onError);
  }

  live(): ReadonlyMap<string, Record<string, any>> {
    return this.sources.get();
  }

  protected take(type: 'ADDED' | 'MODIFIED' | 'DELETED', object: Record<string, any>): void {
    if (this.sources.apply({ type, object })) this.onChange(`${object.metadata?.namespace}/${object.metadata?.name}`);
  }
}

/** ConfigMap informers for the clone rules definitions follow; calls `onChange` when a followed ConfigMap's data changes. */
export class ConfigMapRules extends InformedFeed<k8s.V1ConfigMap> {
  private readonly configMaps = new Map<string, Record<string, any>>();

  constructor(kc: k8s.KubeConfig, private readonly onChange: (key: string) => void, onError: (e: unknown) => void = () => {}) {
    const core = kc.makeApiClient(k8s.CoreV1Api);
    super(kc, {
      apiVersion: 'v1', kind: 'ConfigMap', path: (ns) => `/api/v1/namespaces/${ns}/configmaps`, list: (ns) => core.listNamespacedConfigMap({ namespace: ns }),
    }, onError);
  }

  live(): ReadonlyMap<string, Record<string, any>> {
    return this.configMaps;
  }

  protected take(type: 'ADDED' | 'MODIFIED' | 'DELETED', object: Record<string, any>): void {
    const key = `${object.metadata?.namespace}/${object.metadata?.name}`;
    const before = this.configMaps.get(key);
    if (type === 'DELETED') this.configMaps.delete(key);
    // Only what a rules record reads (rulesRecordOf): the namespaces followed can hold many
    // large ConfigMaps the rules never name, and the informer keeps its own copy of each.
    else this.configMaps.set(key, { metadata: { namespace: object.metadata?.namespace, name: object.metadata?.name }, data: object.data ?? {} });
    if (type === 'DELETED' ? before !== undefined : JSON.stringify(before?.data ?? null) !== JSON.stringify(object.data ?? {})) this.onChange(key);
  }
}

/**
 * Leader election on a Lease: the holder renews it; a Lease not renewed for its duration can be
 * taken. Updates carry the resourceVersion, so of two candidates only one wins (the other gets 409).
 */
export class LeaseElector implements Elector {
  private held = false;
  private readonly api: k8s.CoordinationV1Api;

  constructor(kc: k8s.KubeConfig, private readonly opts: { namespace: string; name: string; identity: string; durationSeconds?: number; now?: () => Date }) {
    this.api = kc.makeApiClient(k8s.CoordinationV1Api);
  }

  get leading(): boolean {
    return this.held;
  }

  get identity(): string {
    return this.opts.identity;
  }

  async tick(): Promise<boolean> {
    const now = this.opts.now?.() ?? new Date();
    const duration = this.opts.durationSeconds ?? 15;
    const mine = { holderIdentity: this.opts.identity, leaseDurationSeconds: duration, renewTime: new k8s.V1MicroTime(now.toISOString()) };
    try {
      let lease: k8s.V1Lease;
      try {
        lease = await this.api.readNamespacedLease({ name: this.opts.name, namespace: this.opts.namespace });
      } catch (e) {
        if (status(e) !== 404) throw e;
        await this.api.createNamespacedLease({ namespace: this.opts.namespace, body: { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: this.opts.name, namespace: this.opts.namespace }, spec: { ...mine, acquireTime: new k8s.V1MicroTime(now.toISOString()), leaseTransitions: 0 } } });
        return (this.held = true);
      }
      const spec = lease.spec ?? {};
      const renewed = spec.renewTime ? new Date(spec.renewTime as unknown as string).getTime() : 0;
      const expired = renewed + (spec.leaseDurationSeconds ?? duration) * 1000 < now.getTime();
      if (spec.holderIdentity && spec.holderIdentity !== this.opts.identity && !expired) return (this.held = false);
      const taking = spec.holderIdentity !== this.opts.identity;
      lease.spec = { ...spec, ...mine, ...(taking ? { acquireTime: new k8s.V1MicroTime(now.toISOString()), leaseTransitions: (spec.leaseTransitions ?? 0) + 1 } : {}) };
      await this.api.replaceNamespacedLease({ name: this.opts.name, namespace: this.opts.namespace, body: lease });
      return (this.held = true);
    } catch (e) {
      if (status(e) === 409) return (this.held = false); // someone else renewed or took it first
      throw e;
    }
  }

  release(): void {
    this.held = false;
  }
}

/** Whether an API error's body is a Kubernetes Status (what the API server says of a path it serves). */
function isStatus(e: unknown): boolean {
  const body = (e as { body?: unknown })?.body;
  try {
    return (typeof body === 'string' ? JSON.parse(body) : body)?.kind === 'Status';
  } catch {
    return false;
  }
}

function status(e: unknown): number | undefined {
  const x = e as { code?: number; statusCode?: number; response?: { statusCode?: number } };
  return x?.code ?? x?.statusCode ?? x?.response?.statusCode;
}

/** Argo CD's annotation that makes it look at an Application's source now (`hard`: past its caches too). */
export const REFRESH_ANNOTATION = 'argocd.argoproj.io/refresh';

/**
 * Tells Argo CD to look at the repo now, after a push, instead of at its next poll (3 minutes by
 * default, and the repo server caches a branch's commit as long): a merge patch of the refresh
 * annotation on each Application the commit changed. `hard` also drops the repo server's
 * caches, which a plain refresh does not. An Application that no longer exists is skipped.
 * Needs `patch` on `applications.argoproj.io` in Argo CD's namespace, nothing else (discovery,
 * which every authenticated user may read, says whether the cluster serves Applications).
 */
export class ArgoRefresher {
  private readonly api: ObjectApi;
  /**
   * One patch per Application at a time, REFRESH_CONCURRENCY at most in all: a burst of GC calls
   * over 5,000 groups is 5,000 Applications to refresh (and the root's, with every commit that
   * adds or removes one), which would otherwise all go to the API server at once. An Application
   * already waiting its turn is patched once for every commit that asked meanwhile. A commit that
   * changes thousands of Applications (`demolish --all`) holds up the refreshes after it, about
   * its count / 8 patch round trips.
   */
  private readonly patchOne = queuedByKey((app: { readonly namespace: string; readonly name: string }) => this.patch(app.namespace, app.name), REFRESH_CONCURRENCY);
  /** Whether the cluster was last found to serve Applications, by discovery or by a patch (`at`: when, on `now`'s clock); none yet. */
  private served?: { readonly yes: boolean; readonly at: number };
  private asking?: Promise<boolean>;
  private readonly now: () => number;

  /**
   * `deadlineMs`: how long one request may take before its turn goes to the next
   * (REFRESH_DEADLINE_MS). `onServed`: hears when the cluster is found not to serve Argo CD's
   * Applications (no Argo CD there: a laptop's kind cluster), and when it serves them again.
   * `now`: the clock of the recheck, in ms (default a monotonic one).
   */
  constructor(kc: k8s.KubeConfig, private readonly opts: {
    readonly mode: 'hard' | 'normal';
    readonly onError?: (e: unknown) => void;
    readonly onServed?: (served: boolean) => void;
    readonly deadlineMs?: number;
    readonly now?: () => number;
  }) {
    this.api = kc.makeApiClient(ObjectApi).abortingAfter(opts.deadlineMs ?? REFRESH_DEADLINE_MS);
    this.now = opts.now ?? (() => performance.now());
  }

  /**
   * Resolves once every one of `applications` has been asked to refresh after this call (a
   * missing one is skipped); false when the cluster does not serve Applications (nothing was
   * asked, or the patches found Argo CD gone).
   */
  async refresh(namespace: string, applications: readonly string[]): Promise<boolean> {
    if (!(await this.servesApplications())) return false;
    await Promise.all(applications.map((name) => this.patchOne(JSON.stringify([namespace, name]), { namespace, name })));
    return this.served?.yes !== false; // a patch may have found Argo CD gone
  }

  /**
   * Whether the cluster serves Argo CD's Applications. client-node looks the kind up before each
   * patch and keeps only what it found: on a cluster without Argo CD every refresh would cost a
   * discovery request answered 404, read as a missing Application. Looked up at the first
   * refresh, then, while not served, at the first refresh SERVED_RECHECK_MS or more after the
   * last lookup. Once found, client-node's lookup serves the patches; a lookup drops it first.
   */
  private async servesApplications(): Promise<boolean> {
    if (this.served?.yes) return true;
    if (this.knownUnserved()) return false;
    return (this.asking ??= this.lookUp().finally(() => (this.asking = undefined)));
  }

  /** Found not to serve Applications, and not yet due to be asked again. */
  private knownUnserved(): boolean {
    const known = this.served;
    return known?.yes === false && this.now() - known.at < SERVED_RECHECK_MS;
  }

  private async lookUp(): Promise<boolean> {
    // Asks the API server, not client-node's cache, which still names Application after a patch
    // found it gone (or again, from a lookup answered after Argo CD went).
    this.api.forget(APPLICATION.apiVersion);
    try {
      const found = await this.withDeadline(this.api.kindOf(APPLICATION.apiVersion, APPLICATION.kind), `asking the cluster whether it serves ${APPLICATION.kind}s (${APPLICATION.apiVersion})`);
      this.learn(found !== undefined);
    } catch (e) {
      if (status(e) !== 404) return true; // could not tell: patch, and let the patches' errors say why
      this.learn(false);
    }
    return this.served!.yes;
  }

  /** Records what the cluster was found to serve, telling `onServed` of a change. */
  private learn(yes: boolean): void {
    const was = this.served?.yes ?? true;
    this.served = { yes, at: this.now() };
    if (yes !== was) this.opts.onServed?.(yes);
  }

  private async patch(namespace: string, name: string): Promise<void> {
    // Another patch found Argo CD gone: the ones waiting their turn are not sent (each would be
    // answered the same) until the recheck is due.
    if (this.knownUnserved()) return;
    try {
      await this.withDeadline(this.api.patch(
        { ...APPLICATION, metadata: { name, namespace, annotations: { [REFRESH_ANNOTATION]: this.opts.mode } } },
        undefined, undefined, 'paddock', undefined, k8s.PatchStrategy.MergePatch,
      ), `asking Argo CD to refresh ${namespace}/${name}`);
      this.servedAfterAll();
    } catch (e) {
      if (status(e) !== 404) this.opts.onError?.(e);
      // A missing Application is answered with a NotFound Status, and skipped: the path is
      // served. One the API server does not serve is answered with text: Argo CD's CRDs are gone.
      else if (isStatus(e)) this.servedAfterAll();
      else this.learn(false);
    }
  }

  /** A patch reached Applications: served, whatever the last lookup could not tell. */
  private servedAfterAll(): void {
    if (!this.served?.yes) this.learn(true);
  }

  /**
   * client-node sets no deadline: a request to an API server that stopped answering would hold
   * its turn until TCP gives up, and all of them, every refresh after. This ends the turn with an
   * error naming it; the request itself is aborted by its own deadline (`abortingAfter`).
   */
  private async withDeadline<T>(request: Promise<T>, what: string): Promise<T> {
    const ms = this.opts.deadlineMs ?? REFRESH_DEADLINE_MS;
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: no answer in ${ms / 1000} s`)), ms);
    });
    try {
      return await Promise.race([request, deadline]);
    } finally {
      clearTimeout(timer);
    }
  }
}

/** client-node's object API, with its discovery lookup of a kind (protected there) open, and a deadline. */
class ObjectApi extends k8s.KubernetesObjectApi {
  /** Aborts each request `ms` after it is sent: one that outlived its turn holds no connection. */
  abortingAfter(ms: number): this {
    this.configuration.middleware.push({
      pre: (request) => {
        request.setSignal(AbortSignal.timeout(ms));
        return new k8s.Observable(Promise.resolve(request));
      },
      post: (response) => new k8s.Observable(Promise.resolve(response)),
    });
    return this;
  }

  /** The kind's API resource; undefined when its group version is served without it; 404 when the group version is not served. */
  kindOf(apiVersion: string, kind: string): Promise<k8s.V1APIResource | undefined> {
    return this.resource(apiVersion, kind);
  }

  /** Drops what discovery said of `apiVersion`: the next request looks it up again. */
  forget(apiVersion: string): void {
    delete this.apiVersionResourceCache[apiVersion];
  }
}

const APPLICATION = { apiVersion: 'argoproj.io/v1alpha1', kind: 'Application' } as const;
/** How often a cluster found not to serve Applications is asked again (Argo CD installed since). */
export const SERVED_RECHECK_MS = 60_000;
/** Refresh patches under way at once. */
const REFRESH_CONCURRENCY = 8;
/** How long one refresh request may take before its turn goes to the next. */
const REFRESH_DEADLINE_MS = 10_000;
