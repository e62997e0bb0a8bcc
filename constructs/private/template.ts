/**
 * Mustache templates of YAML manifests, rendered so that a value is data, never YAML.
 *
 * A template is rendered with every string value replaced by an opaque token (letters and
 * digits only, so it is a plain scalar wherever it lands). That text is parsed: its shape,
 * documents, maps, lists, keys, comes from the template alone. Then each scalar that holds a
 * token gets the values in place of the tokens, as a string: a quoted or block scalar stays
 * the literal value; an unquoted one is read as YAML reads a plain scalar (`3` an integer,
 * `true` a boolean), never as anything but one scalar. A value holding newlines, `---`, `{`,
 * quotes, `#`, `&`, `*`, `!`, `|`, `>` or tabs is therefore that text inside the one field the
 * template put it in. Templates that give a value more power than that (a value as an anchor,
 * a tag, an alias or a map key that repeats another key) are refused.
 *
 * Pure: no I/O. Throws `TemplateError` naming the document and what is wrong.
 */
import Mustache from 'mustache';
import YAML, { isScalar, type Document, type Node } from 'yaml';

export class TemplateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TemplateError';
  }
}

type View = Readonly<Record<string, unknown>>;

/** Scalar tags YAML 1.2's core schema gives an unquoted scalar, in the parser's order. */
const PLAIN_TAGS = new YAML.Document().schema.tags
  .filter((t) => t.default && 'test' in t && t.test instanceof RegExp)
  .map((t) => t as unknown as { test: RegExp; resolve: (text: string, onError: (message: string) => void, options: object) => unknown });

/**
 * Renders `template` with `view` (strings, and objects of strings, as mustache sees them) and
 * returns its documents as plain objects, empty documents left out.
 */
export function renderYamlTemplate(template: string, view: View): unknown[] {
  const tokens = new Tokens(template);
  let text: string;
  try {
    // YAML, not HTML: nothing is escaped, and there is nothing to escape in a token.
    text = Mustache.render(template, tokens.view(view), {}, { escape: (s: string) => s });
  } catch (e) {
    throw new TemplateError(`not a valid mustache template: ${String((e as Error).message).split('\n')[0]}`);
  }
  const out: unknown[] = [];
  YAML.parseAllDocuments(text).forEach((doc, i) => {
    if (doc.errors.length) throw new TemplateError(`does not render to valid YAML (document ${i + 1}): ${doc.errors[0].message.split('\n')[0]}`);
    if ('empty' in doc) return;
    tokens.substitute(doc as Document.Parsed, i + 1);
    const value = doc.toJS({ maxAliasCount: 100 });
    if (value !== null && value !== undefined) out.push(value);
  });
  return out;
}

/** The value tokens of one rendering. A token is `<prefix><n>x`, the prefix one the template does not contain. */
class Tokens {
  private readonly prefix: string;
  private readonly pattern: RegExp;
  private readonly values: string[] = [];
  private readonly index = new Map<string, number>();

  constructor(template: string) {
    let n = 0;
    while (template.includes(`paddock${n.toString(36)}v`)) n++;
    this.prefix = `paddock${n.toString(36)}v`;
    this.pattern = new RegExp(`${this.prefix}([0-9]+)x`, 'g');
  }

  /** `view` with every non-empty string a token (an empty one stays empty: falsy for sections). */
  view(view: unknown): any {
    if (typeof view === 'string') return view === '' ? '' : this.tokenOf(view);
    if (Array.isArray(view)) return view.map((v) => this.view(v));
    if (view && typeof view === 'object') return Object.fromEntries(Object.entries(view).map(([k, v]) => [k, this.view(v)]));
    return view;
  }

  private tokenOf(value: string): string {
    let i = this.index.get(value);
    if (i === undefined) {
      i = this.values.push(value) - 1;
      this.index.set(value, i);
    }
    return `${this.prefix}${i}x`;
  }

  private holds(s: string | undefined | null): boolean {
    return typeof s === 'string' && s.includes(this.prefix);
  }

  /** Puts the values in place of the tokens in `doc`, as string data only. */
  substitute(doc: Document.Parsed, n: number): void {
    const refuse = (what: string) => {
      throw new TemplateError(`document ${n}: a value is used as ${what}; values may only be scalar field values or keys`);
    };
    YAML.visit(doc, {
      Node: (_key, node: Node) => {
        if (this.holds(node.anchor)) refuse('an anchor');
        if (this.holds(node.tag)) refuse('a tag');
        if (!isScalar(node) || typeof node.value !== 'string' || !this.holds(node.value)) return;
        if (node.tag && node.tag !== 'tag:yaml.org,2002:str' && node.tag !== '!!str') refuse(`part of a ${node.tag} scalar`);
        const text = node.value.replace(this.pattern, (_m, i: string) => this.values[Number(i)]);
        node.value = node.type === 'PLAIN' && !node.tag ? plainScalar(text) : text;
      },
      Alias: (_key, node) => {
        if (this.holds(node.source)) refuse('an alias');
      },
    });
    // A key made of a value must not repeat another key of its map (and so replace that field).
    YAML.visit(doc, {
      Map: (_key, map) => {
        const seen = new Set<unknown>();
        for (const pair of map.items) {
          const k = isScalar(pair.key) ? pair.key.value : pair.key;
          if (k === '<<') refuse('a merge key');
          if (seen.has(k)) throw new TemplateError(`document ${n}: key "${String(k)}" appears twice in one map once the values are in`);
          seen.add(k);
        }
      },
    });
  }
}

/** `text` as YAML reads an unquoted scalar: null, a boolean, a number, else the string itself. */
function plainScalar(text: string): unknown {
  for (const tag of PLAIN_TAGS) {
    if (tag.test.test(text)) return tag.resolve(text, () => {}, {});
  }
  return text;
}
