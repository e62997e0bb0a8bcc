import { ApiObject } from 'cdk8s';
import { Construct } from 'constructs';
import { Environment } from './environment.ts';
import { contextOf } from '../core/context.ts';
import { DEFAULT_RELEASE_KINDS, isClusterScoped, kindMatches, parseKindRef, type KindRef } from '../core/kinds.ts';
import { activeRelease, deployedRelease, type ReleaseRecord } from '../core/records.ts';
import { isDnsLabel, toDnsLabel } from '../core/names.ts';
import { claimUnique } from './private/unique.ts';
import { renderYamlTemplate, TemplateError } from './private/template.ts';

export { TemplateError };

/** What a release renders from: the active record, its attributes merged. */
export interface ReleaseView {
  readonly id: string;
  readonly service: string;
  readonly version: string;
  readonly image: string;
  readonly namespace: string;
  /** namespace < release < service < request attributes, later wins. */
  readonly attributes: Readonly<Record<string, string>>;
}

export interface ReleaseProps {
  /** The service; release records live under `state/releases/<service>/`. */
  readonly service: string;
  /** A mustache template of the service's manifests (multi-document YAML). A record's own template wins. @default none: `render` is required */
  readonly template?: string;
  /** Builds the manifests as constructs instead of a template. @default none */
  readonly render?: (scope: Construct, release: ReleaseView) => void;
  /** Lowest-precedence attributes, shared by a namespace's services. @default none */
  readonly namespaceAttributes?: Readonly<Record<string, string>>;
  /** Attributes of the service; they override a release's own. @default none */
  readonly serviceAttributes?: Readonly<Record<string, string>>;
  /** Attributes of this deployment request; they override all others. @default none */
  readonly requestAttributes?: Readonly<Record<string, string>>;
  /** Release records given here in addition to those in `state/`. @default none */
  readonly records?: readonly ReleaseRecord[];
  /**
   * The kinds a release of this service may render, as `Kind` for built-in kinds or
   * `group/Kind`. A release (a template CI uploads included) that renders any other kind, a
   * cluster-scoped object or an object outside the group's namespace is refused.
   * @default workloads, services, config and ingress: Deployment, StatefulSet, DaemonSet, Job,
   * CronJob, Service, ConfigMap, Secret, Ingress, HorizontalPodAutoscaler, PodDisruptionBudget
   */
  readonly allowedKinds?: readonly string[];
  /**
   * Which release runs here: `'latest'`, the newest one posted (a posted release deploys
   * itself); or `'deployed'`, the one last sent to this `context` with `POST /api/deployments`
   * (a posted release changes nothing until it is deployed, as in kubernaut).
   * @default 'latest'
   */
  readonly follows?: 'latest' | 'deployed';
  /**
   * The context deployments name (kubernaut's Kubernetes context): this group, deployed where
   * its Environment's destination says. One per service in a synthesis. @default the group name
   */
  readonly context?: string;
}

/** Everything a release of one service is rendered and checked with, apart from the record. */
export interface ReleaseRules {
  readonly service: string;
  /** The definition's template; a record's own template wins. */
  readonly template?: string;
  /** The group's namespace: the only one a release renders into. */
  readonly namespace: string;
  readonly allowedKinds: readonly KindRef[];
  readonly namespaceAttributes: Readonly<Record<string, string>>;
  readonly serviceAttributes: Readonly<Record<string, string>>;
  readonly requestAttributes: Readonly<Record<string, string>>;
  /** The context `POST /api/deployments` names, and whether this one follows deployments or every release. */
  readonly context: string;
  readonly follows: 'latest' | 'deployed';
}

/** A rendered release object that the service's rules do not allow; names the document and kind. */
export class DisallowedObjectError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DisallowedObjectError';
  }
}

/**
 * A service's manifests, rendered from its active release: the newest release record that
 * is not soft-deleted. Deleting the newest release rolls the service back to the one before;
 * with no release left, the service renders nothing.
 */
export class Release extends Construct {
  /** The active record, or undefined when the service has no release. */
  public readonly active?: ReleaseRecord;
  public readonly view?: ReleaseView;

  public readonly rules: ReleaseRules;

  constructor(scope: Construct, id: string, props: ReleaseProps) {
    super(scope, id);
    const where = this.node.path;
    const env = Environment.enclosing(this);
    if (!env) throw new Error(`${where}: a Release must be inside an Environment`);
    if (!props.template && !props.render) throw new Error(`${where}: a Release needs a template or a render function`);
    const context = props.context ?? env.group;
    const follows = props.follows ?? 'latest';
    if (!isDnsLabel(context)) throw new Error(`${where}: context "${context}" must be a DNS label`);
    if (follows !== 'latest' && follows !== 'deployed') throw new Error(`${where}: follows "${String(follows)}" must be 'latest' or 'deployed'`);
    claimUnique(this, () => [{ key: `release-context:${props.service}/${context}`, path: where, clash: (other) => `${where}: service ${props.service}'s context "${context}" is also rendered by ${other}` }]);
    const allowedKinds = (props.allowedKinds ?? DEFAULT_RELEASE_KINDS).map((k) => {
      let ref: KindRef;
      try {
        ref = parseKindRef(k);
      } catch (e) {
        throw new Error(`${where}: allowedKinds: ${(e as Error).message}`);
      }
      if (isClusterScoped(ref.kind)) throw new Error(`${where}: allowedKinds: ${k} is cluster-scoped; a release renders only namespaced objects`);
      return ref;
    });
    this.rules = {
      service: props.service,
      template: props.template,
      namespace: env.namespace,
      allowedKinds,
      namespaceAttributes: props.namespaceAttributes ?? {},
      serviceAttributes: props.serviceAttributes ?? {},
      requestAttributes: props.requestAttributes ?? {},
      context,
      follows,
    };
    const state = contextOf(this).state;
    const records = [...(state.releases.get(props.service) ?? []), ...(props.records ?? [])];
    this.active = follows === 'latest' ? activeRelease(records) : deployedRelease(records, state.deployments.get(props.service) ?? [], context)?.release;
    if (!this.active) {
      env.allowEmpty();
      return;
    }

    this.view = releaseView(this.rules, this.active);
    if (this.active.template ?? props.template) {
      let objects: Array<Record<string, any>>;
      try {
        objects = renderRelease(this.rules, this.active);
      } catch (e) {
        throw new Error(`${where}: ${(e as Error).message}`);
      }
      objects.forEach((doc, i) => new ApiObject(this, `${toDnsLabel(doc.kind)}-${toDnsLabel(doc.metadata.name)}-${i}`, doc as any));
    } else {
      props.render!(this, this.view);
    }
  }
}

/** The view a release's template sees: its fields, with the attributes merged in precedence order. */
export function releaseView(rules: ReleaseRules, r: ReleaseRecord): ReleaseView {
  return {
    id: r.id,
    service: r.service,
    version: r.version,
    image: r.image ?? '',
    namespace: r.namespace ?? rules.namespace,
    attributes: { ...rules.namespaceAttributes, ...r.attributes, ...rules.serviceAttributes, ...rules.requestAttributes },
  };
}

/**
 * The objects release `r` renders under `rules` (the record's template, else the definition's),
 * each checked: a Kubernetes object, of an allowed kind, namespaced, in the group's namespace.
 * Values are data (see `private/template.ts`). Throws `TemplateError` or `DisallowedObjectError`
 * naming the release, the document and the kind.
 */
export function renderRelease(rules: ReleaseRules, r: ReleaseRecord): Array<Record<string, any>> {
  const where = `release ${r.service}@${r.version}`;
  const template = r.template ?? rules.template;
  if (template === undefined) throw new TemplateError(`${where}: the service has no template`);
  const view = releaseView(rules, r);
  let docs: unknown[];
  try {
    // Each attribute is at the top level too, as kubernaut templates expect.
    docs = renderYamlTemplate(template, { ...view.attributes, ...view, attributes: view.attributes });
  } catch (e) {
    throw new TemplateError(`${where}: template ${(e as Error).message}`);
  }
  if (!docs.length) throw new TemplateError(`${where}: template renders no objects`);
  return docs.map((obj: any, i) => {
    const doc = `document ${i + 1}`;
    if (typeof obj !== 'object' || Array.isArray(obj) || typeof obj.apiVersion !== 'string' || typeof obj.kind !== 'string' || typeof obj.metadata?.name !== 'string') {
      throw new TemplateError(`${where}: template ${doc} is not a Kubernetes object (needs apiVersion, kind and metadata.name)`);
    }
    const what = `${where}: template ${doc} (${obj.kind} ${obj.metadata.name})`;
    if (isClusterScoped(obj.kind)) throw new DisallowedObjectError(`${what} is cluster-scoped; a release renders only namespaced objects`);
    if (!kindMatches(obj, rules.allowedKinds)) {
      throw new DisallowedObjectError(`${what}: kind ${obj.apiVersion}/${obj.kind} is not allowed for service ${rules.service} (allowed: ${rules.allowedKinds.map((k) => (k.group ? `${k.group}/${k.kind}` : k.kind)).join(', ')})`);
    }
    const ns = obj.metadata.namespace;
    if (ns !== undefined && ns !== null && ns !== rules.namespace) {
      throw new DisallowedObjectError(`${what} is in namespace ${String(ns)}; a release of ${rules.service} renders only into namespace ${rules.namespace}`);
    }
    return obj;
  });
}
