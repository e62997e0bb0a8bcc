import { ApiObject } from 'cdk8s';
import { Construct } from 'constructs';
import Mustache from 'mustache';
import YAML from 'yaml';
import { Environment } from './environment.ts';
import { contextOf } from './private/context.ts';
import { activeRelease, type ReleaseRecord } from './private/records.ts';
import { toDnsLabel } from './private/names.ts';

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

  constructor(scope: Construct, id: string, props: ReleaseProps) {
    super(scope, id);
    const where = this.node.path;
    const env = Environment.enclosing(this);
    if (!env) throw new Error(`${where}: a Release must be inside an Environment`);
    if (!props.template && !props.render) throw new Error(`${where}: a Release needs a template or a render function`);
    const records = [...(contextOf(this).state.releases.get(props.service) ?? []), ...(props.records ?? [])];
    this.active = activeRelease(records);
    if (!this.active) return;

    const r = this.active;
    this.view = {
      id: r.id,
      service: r.service,
      version: r.version,
      image: r.image ?? '',
      namespace: r.namespace ?? env.namespace,
      attributes: { ...props.namespaceAttributes, ...r.attributes, ...props.serviceAttributes, ...props.requestAttributes },
    };
    const template = r.template ?? props.template;
    if (template) renderTemplate(this, template, this.view);
    else props.render!(this, this.view);
  }
}

/** Renders `template` with `view` into API objects under `scope`. Throws naming the release on bad output. */
export function renderTemplate(scope: Construct, template: string, view: ReleaseView): ApiObject[] {
  const where = `${scope.node.path}: release ${view.service}@${view.version}`;
  const text = renderReleaseTemplate(template, view);
  const objects: ApiObject[] = [];
  for (const [i, doc] of parseManifests(text, where).entries()) {
    objects.push(new ApiObject(scope, `${toDnsLabel(doc.kind)}-${toDnsLabel(doc.metadata.name)}-${i}`, doc as any));
  }
  return objects;
}

/** The mustache view of a release: its fields, `attributes`, and each attribute at the top level too. */
export function renderReleaseTemplate(template: string, view: ReleaseView): string {
  const data = { ...view.attributes, ...view, attributes: view.attributes };
  // YAML, not HTML: nothing is escaped.
  return Mustache.render(template, data, {}, { escape: (s: string) => s });
}

/** Parses multi-document YAML into Kubernetes objects; throws `where: ...` when a document is not one. */
export function parseManifests(text: string, where: string): Array<Record<string, any>> {
  const docs = YAML.parseAllDocuments(text);
  const out: Array<Record<string, any>> = [];
  docs.forEach((doc, i) => {
    if (doc.errors.length) throw new Error(`${where}: template does not render to valid YAML (document ${i + 1}): ${doc.errors[0].message.split('\n')[0]}`);
    const obj = doc.toJS();
    if (obj === null || obj === undefined) return;
    if (typeof obj !== 'object' || Array.isArray(obj) || typeof obj.apiVersion !== 'string' || typeof obj.kind !== 'string' || typeof obj.metadata?.name !== 'string') {
      throw new Error(`${where}: template document ${i + 1} is not a Kubernetes object (needs apiVersion, kind and metadata.name)`);
    }
    out.push(obj);
  });
  if (!out.length) throw new Error(`${where}: template renders no objects`);
  return out;
}
