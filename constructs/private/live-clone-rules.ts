/**
 * The mark `Clone.fromLiveConfigMap` leaves: which ConfigMap of clone rules in the cluster a
 * definition follows. paddock's synthesis lists them (`SynthResult.liveRules`), the watcher
 * follows each with an informer and records its data in `state/rules/`, and the next synthesis
 * makes the clones from that record.
 */
import { Construct } from 'constructs';

/** A ConfigMap of clone rules in the cluster; `key` picks one data key (default: every key). */
export interface LiveConfigMapRef {
  readonly namespace: string;
  readonly name: string;
  readonly key?: string;
}

const LIVE_RULES = Symbol.for('paddock.LiveCloneRules');

export class LiveCloneRules extends Construct {
  /** True for a mark from any copy of this library. */
  public static isLiveCloneRules(x: unknown): x is LiveCloneRules {
    return typeof x === 'object' && x !== null && LIVE_RULES in x;
  }

  constructor(scope: Construct, id: string, public readonly ref: LiveConfigMapRef) {
    super(scope, id);
    Object.defineProperty(this, LIVE_RULES, { value: true });
  }

  /** `namespace/name`, as `state/rules/` keys it. */
  public get key(): string {
    return `${this.ref.namespace}/${this.ref.name}`;
  }
}
