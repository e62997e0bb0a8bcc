/**
 * Strict fields, as `kubectl apply --validate=strict` checks them: a field that an object's
 * schema does not define (a top-level `x:` in a ConfigMap, `imagee:` in a container) is an
 * error, not something the API server drops without a word.
 *
 * kubernetes-models' validators check types and required fields but let unknown fields pass,
 * so the field lists come from Kubernetes' OpenAPI as @kubernetes/client-node generates its
 * models: one module per type with `attributeTypeMap` (JSON name and type of each field).
 * A kind's types are loaded on first use (`prepareStrict`); built-in API groups only. Kinds
 * without such a model (custom resources) are not checked here.
 */
const MODELS = '@kubernetes/client-node/dist/gen/models/';

/** Field name -> type expression (`V1PodSpec`, `Array<V1Container>`, `{ [key: string]: string; }`, `string`). */
type Fields = ReadonlyMap<string, string>;

/** Loaded types; null for a name that is no model (a primitive, `IntOrString`, a missing file). */
const models = new Map<string, Fields | null>();

async function loadOne(name: string): Promise<Fields | null> {
  try {
    const mod: Record<string, any> = await import(`${MODELS}${name}.js`);
    const attrs: Array<{ baseName: string; type: string }> | undefined = mod[name]?.attributeTypeMap;
    return Array.isArray(attrs) ? new Map(attrs.map((a) => [a.baseName, a.type])) : null;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'ERR_MODULE_NOT_FOUND' && code !== 'ERR_PACKAGE_PATH_NOT_EXPORTED') throw e;
    return null;
  }
}

/** The client-node model of a built-in kind: `apps/v1` `Deployment` -> `V1Deployment`, `v1` `Event` -> `CoreV1Event`. */
function modelCandidates(apiVersion: string, kind: string): string[] {
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
  const v = version.charAt(0).toUpperCase() + version.slice(1);
  const prefix = group ? group.split('.')[0] : 'core';
  return [`${v}${kind}`, `${prefix.charAt(0).toUpperCase()}${prefix.slice(1)}${v}${kind}`];
}

/** Model names a type expression refers to. */
function referenced(type: string): string[] {
  return [...type.matchAll(/[A-Z][A-Za-z0-9]*/g)].map((m) => m[0]).filter((n) => n !== 'Array' && n !== 'Date');
}

/** One load at a time, so a model is only ever seen with every type it refers to. */
let queue: Promise<unknown> = Promise.resolve();

/** Loads `roots` and every type they refer to (types refer to each other in cycles: breadth first). */
function loadAll(roots: readonly string[]): Promise<void> {
  const run = async () => {
    let frontier = roots.filter((n) => !models.has(n));
    while (frontier.length) {
      const next = new Set<string>();
      await Promise.all(frontier.map(async (name) => {
        if (models.has(name)) return;
        const fields = await loadOne(name);
        models.set(name, fields);
        for (const type of fields?.values() ?? []) for (const r of referenced(type)) if (!models.has(r)) next.add(r);
      }));
      frontier = [...next];
    }
  };
  const done = queue.then(run);
  queue = done.catch(() => {});
  return done;
}

/** The kinds' models, keyed `apiVersion|kind`, once prepared. */
const kinds = new Map<string, string | null>();

/** Loads what `unknownField` needs for these objects' kinds. `builtIn` says whether an API version is a built-in group. */
export async function prepareStrict(objects: Iterable<{ apiVersion: string; kind: string }>, builtIn: (apiVersion: string) => boolean): Promise<void> {
  const todo = new Map<string, { apiVersion: string; kind: string }>();
  for (const o of objects) if (!kinds.has(`${o.apiVersion}|${o.kind}`)) todo.set(`${o.apiVersion}|${o.kind}`, o);
  await Promise.all([...todo].map(async ([key, { apiVersion, kind }]) => {
    let found: string | null = null;
    if (builtIn(apiVersion)) {
      for (const name of modelCandidates(apiVersion, kind)) {
        await loadAll([name]);
        if (models.get(name)) {
          found = name;
          break;
        }
      }
    }
    kinds.set(key, found);
  }));
}

/** The dotted path of the first field `obj` has that its schema does not define, or undefined. */
export function unknownField(obj: Record<string, any>): string | undefined {
  const model = kinds.get(`${obj.apiVersion}|${obj.kind}`);
  if (model === undefined) throw new Error(`strict fields for ${obj.apiVersion} ${obj.kind} were not prepared`);
  return model ? walk(obj, model)?.slice(1) : undefined;
}

/** A type expression, parsed once: a list or a map of another type, or a model (or a primitive: no fields). */
type Shape = { readonly list: string } | { readonly map: string } | { readonly fields?: Fields };
const shapes = new Map<string, Shape>();

function shapeOf(type: string): Shape {
  let shape = shapes.get(type);
  if (!shape) {
    const array = /^Array<(.+)>$/.exec(type);
    const map = array ? null : /^\{ \[key: string\]: (.+); \}$/.exec(type);
    shape = array ? { list: array[1] } : map ? { map: map[1] } : { fields: models.get(type) ?? undefined };
    // A model's fields are known once it is loaded: keep its shape only then. Anything else (a
    // list, a map, a primitive such as `string` or `Date`) keeps its shape at once.
    if (array || map || models.has(type) || !/^[A-Z]/.test(type) || type === 'Date') shapes.set(type, shape);
  }
  return shape;
}

/** Where under `value` the first unknown field is (`.spec.containers[0].imagee`), or undefined; the path is made only then. */
function walk(value: unknown, type: string): string | undefined {
  if (value === null || value === undefined) return undefined;
  const shape = shapeOf(type);
  if ('list' in shape) {
    if (!Array.isArray(value)) return undefined; // the schema validator reports the type
    for (let i = 0; i < value.length; i++) {
      const bad = walk(value[i], shape.list);
      if (bad !== undefined) return `[${i}]${bad}`;
    }
    return undefined;
  }
  if (typeof value !== 'object' || Array.isArray(value)) return undefined;
  if (!('map' in shape) && !shape.fields) return undefined; // a primitive, or a type with no model
  for (const k of Object.keys(value)) {
    const fieldType = 'map' in shape ? shape.map : shape.fields?.get(k);
    if (fieldType === undefined) return `.${k}`;
    const bad = walk((value as Record<string, unknown>)[k], fieldType);
    if (bad !== undefined) return `.${k}${bad}`;
  }
  return undefined;
}
