import { ApiObject } from 'cdk8s';
import type * as kplus from 'cdk8s-plus-28';
import { Construct } from 'constructs';
import { Environment } from './environment.ts';
import { cloneDeployment, type CloneSpec } from '../core/clone-transform.ts';
import { contextOf } from '../core/context.ts';
import { isDnsLabel, isDnsSubdomain, toDnsLabel } from '../core/names.ts';
import { parseCloneRules } from './private/clone-rules.ts';
import { LiveCloneRules, type LiveConfigMapRef } from './private/live-clone-rules.ts';

export type { LiveConfigMapRef } from './private/live-clone-rules.ts';

/** A Deployment that lives in the cluster rather than in this synthesis. */
export interface LiveDeploymentRef {
  readonly namespace: string;
  readonly name: string;
}

/** A construct whose Deployment can be cloned: a raw `ApiObject` or a cdk8s-plus `Deployment`. */
export type CloneSourceConstruct = ApiObject | kplus.Deployment;

export interface CloneProps {
  /** The Deployment to copy: a construct in the same synthesis, or `{namespace, name}` of a Deployment found in the same synthesis or live in the cluster. */
  readonly source: CloneSourceConstruct | LiveDeploymentRef;
  /** Appended to the source's name and to its pod label values. @default '-clone' */
  readonly nameSuffix?: string;
  /** replicas = ceil(source replicas x factor), at least 1 when the source has any; 0 stays 0. @default 1 */
  readonly scaleFactor?: number;
  /** One image for every container, or images by container name. @default the source's images */
  readonly image?: string | Readonly<Record<string, string>>;
  /** Variables added to every container, replacing any of the same name. @default none */
  readonly env?: Readonly<Record<string, string>>;
  /** Namespace of the clone. @default the source's namespace */
  readonly namespace?: string;
}

/** The kind a clone renders as while its live source cannot be found; paddock never writes it. */
export const PENDING_CLONE_KIND = 'PendingClone';
export const PENDING_CLONE_API_VERSION = 'paddock.dev/v1alpha1';

/**
 * A copy of a Deployment with another name suffix, scaled replicas, other images and extra env.
 *
 * The clone is computed from the source each synthesis, so a change to the source (replicas,
 * image, env, containers) reaches the clone, and a variable removed from the source disappears
 * from it. Clone pods carry their own labels, so the source's Services never select them.
 */
export class Clone extends Construct {
  /**
   * Clones from the deployment cloner's ConfigMap (seed 004): each value in its `data` holds
   * rules, in the cloner's own shape (`<namespace>: {deployments: {<name>: {env, scale_factor,
   * name_suffix, image}}}`, as its document gives it) or as paddock's list of rules; see
   * `private/clone-rules.ts`.
   */
  public static fromConfigMap(scope: Construct, configMap: ApiObject | Record<string, any>, options: { readonly namespace?: string } = {}): Clone[] {
    const cm = configMap instanceof ApiObject ? configMap.toJson() : configMap;
    const where = `${scope.node.path}: ConfigMap ${cm?.metadata?.name ?? '(unnamed)'}`;
    return Object.keys(cm?.data ?? {}).sort().flatMap((key) =>
      parseCloneRules(String(cm.data[key]), `${where}: data.${key}`, options.namespace ?? cm?.metadata?.namespace).map((rule) =>
        new Clone(scope, toDnsLabel(`${rule.source.namespace}-${rule.source.name}${rule.nameSuffix}`), rule)));
  }

  /**
   * Clones from a ConfigMap of rules in the cluster, as the cloner's ConfigMap listener did:
   * the watcher follows it and records its data in `state/rules/<namespace>/<name>.yaml`, so
   * editing the ConfigMap adds, changes or removes clones by a commit. Until it is first seen the
   * group renders no clones (and is not an empty group for that). The rules' shapes are
   * `fromConfigMap`'s; a ConfigMap edited into rules that do not parse is refused by that commit,
   * and the clones stay as they were.
   */
  public static fromLiveConfigMap(scope: Construct, ref: LiveConfigMapRef): Clone[] {
    const where = `${scope.node.path}: live ConfigMap`;
    if (!isDnsLabel(ref?.namespace ?? '') || !isDnsSubdomain(ref?.name ?? '')) throw new Error(`${where}: give the ConfigMap's namespace and name, got ${JSON.stringify(ref)}`);
    const env = Environment.enclosing(scope);
    if (!env) throw new Error(`${where} ${ref.namespace}/${ref.name}: clones must be made inside an Environment`);
    env.allowEmpty();
    const mark = new LiveCloneRules(scope, toDnsLabel(`live-rules-${ref.namespace}-${ref.name}-${ref.key ?? ''}`), { ...ref });
    const record = contextOf(scope).state.rules.get(mark.key);
    if (!record) return [];
    const data = ref.key === undefined ? record.data : ref.key in record.data ? { [ref.key]: record.data[ref.key] } : {};
    return Clone.fromConfigMap(scope, { metadata: { name: ref.name, namespace: ref.namespace }, data });
  }

  /** `namespace/name` of the live ConfigMap `c` marks as followed (`fromLiveConfigMap`), if it is such a mark. */
  public static followedConfigMap(c: unknown): string | undefined {
    return LiveCloneRules.isLiveCloneRules(c) ? c.key : undefined;
  }

  public readonly spec: CloneSpec;
  public readonly source: CloneSourceConstruct | LiveDeploymentRef;

  constructor(scope: Construct, id: string, props: CloneProps) {
    super(scope, id);
    const where = this.node.path;
    if (!Environment.enclosing(this)) throw new Error(`${where}: a Clone must be inside an Environment`);
    const factor = props.scaleFactor ?? 1;
    if (!Number.isFinite(factor) || factor < 0) throw new Error(`${where}: scaleFactor must be a number >= 0, got ${props.scaleFactor}`);
    const suffix = props.nameSuffix ?? '-clone';
    if (!/^[-a-z0-9.]+$/.test(suffix) || !/[a-z0-9]$/.test(suffix)) {
      throw new Error(`${where}: nameSuffix "${suffix}" may only hold lowercase letters, digits, '-' and '.', and must end with a letter or digit`);
    }
    const source = props.source;
    if (!isConstructSource(source) && !(source && typeof source.namespace === 'string' && typeof source.name === 'string')) {
      throw new Error(`${where}: source must be a Deployment construct or {namespace, name}`);
    }
    this.source = source;
    this.spec = { nameSuffix: suffix, scaleFactor: factor, image: props.image, env: props.env, namespace: props.namespace };
    new CloneObject(this, 'Resource');
  }

  /** `namespace/name` of a source given by reference, or undefined for a construct source. */
  public get sourceRef(): LiveDeploymentRef | undefined {
    return isConstructSource(this.source) ? undefined : this.source;
  }
}

/** The clone's API object; renders from the source at synthesis time. */
class CloneObject extends ApiObject {
  private readonly clone: Clone;

  constructor(clone: Clone, id: string) {
    super(clone, id, { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'pending' } });
    this.clone = clone;
  }

  public override toJson(): any {
    const source = sourceJson(this.clone);
    if (!source) {
      const ref = this.clone.sourceRef!;
      return {
        apiVersion: PENDING_CLONE_API_VERSION,
        kind: PENDING_CLONE_KIND,
        metadata: { name: `${ref.name}${this.clone.spec.nameSuffix}`, namespace: this.clone.spec.namespace ?? ref.namespace },
        spec: { source: { namespace: ref.namespace, name: ref.name } },
      };
    }
    const out = cloneDeployment(source, this.clone.spec);
    if (!isDnsSubdomain(out.metadata.name)) {
      throw new Error(`${this.clone.node.path}: clone name "${out.metadata.name}" is not a valid Deployment name`);
    }
    return out;
  }
}

function sourceJson(clone: Clone): Record<string, any> | undefined {
  const src = clone.source;
  if (isConstructSource(src)) {
    const api = src instanceof ApiObject ? src : plusApiObject(src)!;
    if (api.kind !== 'Deployment') throw new Error(`${clone.node.path}: source ${api.node.path} is a ${api.kind}, not a Deployment`);
    const env = Environment.enclosing(api);
    return env ? env.render(api) : api.toJson();
  }
  // By reference: paddock's synthesis renders it from the live source's record in `state/sources/`.
  return undefined;
}

function isConstructSource(x: unknown): x is CloneSourceConstruct {
  return x instanceof ApiObject || plusApiObject(x) !== undefined;
}

/** The ApiObject a cdk8s-plus construct keeps (its `apiObject` is not public in the typings). */
function plusApiObject(x: unknown): ApiObject | undefined {
  const api = x instanceof Construct ? (x as unknown as { apiObject?: unknown }).apiObject : undefined;
  return api instanceof ApiObject ? api : undefined;
}
