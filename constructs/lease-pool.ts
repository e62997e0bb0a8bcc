import { Construct } from 'constructs';
import { Environment } from './environment.ts';
import { contextOf } from '../core/context.ts';
import { isDnsLabel, LEASE_WORD } from '../core/names.ts';
import { leaseKey } from '../core/records.ts';
import { claimUnique } from './private/unique.ts';

/** One leasable resource of a pool, as its factory sees it. */
export interface PooledResource {
  readonly type: string;
  readonly name: string;
  /** Position in the pool, from 0. */
  readonly index: number;
  /** The lease's state: `free`, `busy` or a user state. */
  readonly state: string;
  /** The lease holder, empty when free. */
  readonly owner: string;
  readonly userdata: Readonly<Record<string, string>>;
}

export interface LeasePoolProps {
  /** The resource type clients ask for (`/acquire?type=...`). */
  readonly type: string;
  /** Number of resources, named `<type>-1` to `<type>-<count>`. Give `count` or `names`. */
  readonly count?: number;
  /** Names of the resources. Give `count` or `names`. */
  readonly names?: readonly string[];
  /** Makes the Environment of one resource; its group should be unique, e.g. the resource's name. */
  readonly environment: (scope: Construct, resource: PooledResource) => Environment;
}

/** States in which a resource has no environment: it was released dirty, is being cleaned, or is gone. */
export const STATES_WITHOUT_ENVIRONMENT = new Set(['dirty', 'cleaning', 'tombstone', 'toBeDeleted']);

const LEASE_POOL = Symbol.for('paddock.LeasePool');

/**
 * A pool of leasable environments (Boskos resources): one Environment per resource while its
 * lease says it exists. Released dirty or expired, a resource's environment is removed; the
 * janitor brings it back `free`. New names appear `free`; removed names go when no one holds them.
 */
export class LeasePool extends Construct {
  public static isLeasePool(x: unknown): x is LeasePool {
    return typeof x === 'object' && x !== null && LEASE_POOL in x;
  }

  public readonly type: string;
  public readonly names: readonly string[];
  /** The Environment of each resource that currently has one, by resource name. */
  public readonly environments: ReadonlyMap<string, Environment>;

  constructor(scope: Construct, id: string, props: LeasePoolProps) {
    super(scope, id);
    Object.defineProperty(this, LEASE_POOL, { value: true });
    const where = this.node.path;
    if (Environment.enclosing(this)) throw new Error(`${where}: a LeasePool makes Environments, so it cannot be inside one`);
    if (!LEASE_WORD.test(props.type)) throw new Error(`${where}: type "${props.type}" must be letters, digits, '-', '_' or '.'`);
    if ((props.count === undefined) === (props.names === undefined)) throw new Error(`${where}: give count or names, not both or neither`);
    if (props.count !== undefined && !(Number.isInteger(props.count) && props.count >= 0)) {
      throw new Error(`${where}: count must be a whole number >= 0, got ${props.count}`);
    }
    const names = props.names ? [...props.names] : Array.from({ length: props.count! }, (_, i) => `${props.type}-${i + 1}`);
    const seen = new Set<string>();
    for (const n of names) {
      if (!isDnsLabel(n)) throw new Error(`${where}: resource name "${n}" must be a DNS label`);
      if (seen.has(n)) throw new Error(`${where}: resource name "${n}" appears twice`);
      seen.add(n);
    }
    this.type = props.type;
    this.names = names;
    claimUnique(this, () => [{ key: `lease-pool:${props.type}`, path: where, clash: (other) => `${where}: lease pool type "${props.type}" is also defined by ${other}` }]);

    const leases = contextOf(this).state.leases;
    const environments = new Map<string, Environment>();
    names.forEach((name, index) => {
      const lease = leases.get(leaseKey(props.type, name));
      const state = lease?.state ?? 'free';
      if (STATES_WITHOUT_ENVIRONMENT.has(state)) return;
      const env = props.environment(this, { type: props.type, name, index, state, owner: lease?.owner ?? '', userdata: lease?.userdata ?? {} });
      if (!Environment.isEnvironment(env)) throw new Error(`${where}: the environment factory must return an Environment (resource ${name})`);
      environments.set(name, env);
    });
    this.environments = environments;
  }
}
