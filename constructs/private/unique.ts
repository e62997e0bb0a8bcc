/**
 * Names that must be unique across an App (a group, a lease pool type, an object's kind, name
 * and namespace), checked as a cdk8s validation on the App's root: `app.synth()` and
 * `Testing.synth(chart)` run it, and so does paddock for each definition file. Each construct
 * claims its names lazily, since its children are added after its constructor. paddock
 * synthesizes each file as its own App and holds the files' names against each other itself.
 */
import type { IConstruct } from 'constructs';

export interface Claim {
  /** What must be unique, e.g. `group:web`. */
  readonly key: string;
  /** The claiming construct's path. */
  readonly path: string;
  /** The error when `key` was claimed before, by the construct at `otherPath`. */
  readonly clash: (otherPath: string) => string;
}

const CLAIMS = Symbol.for('paddock.unique-claims');

type Root = IConstruct & { [CLAIMS]?: Array<() => Iterable<Claim>> };

/** Adds `claims` to those checked across the App `scope` is in. */
export function claimUnique(scope: IConstruct, claims: () => Iterable<Claim>): void {
  const root = scope.node.root as Root;
  let all = root[CLAIMS];
  if (!all) {
    const list: Array<() => Iterable<Claim>> = [];
    Object.defineProperty(root, CLAIMS, { value: list });
    root.node.addValidation({ validate: () => clashes(list) });
    all = list;
  }
  all.push(claims);
}

function clashes(all: ReadonlyArray<() => Iterable<Claim>>): string[] {
  const first = new Map<string, string>();
  const errors: string[] = [];
  for (const claims of all) {
    for (const c of claims()) {
      const other = first.get(c.key);
      if (other === undefined) first.set(c.key, c.path);
      else errors.push(c.clash(other));
    }
  }
  return errors;
}
