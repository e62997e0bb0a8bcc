/**
 * What a synthesis tells the constructs: where the sidecar is, the GC secret that signs each
 * group's token, and the `state/` records. Attached to the root of a construct tree by the synth
 * driver; constructs used outside it (a plain `cdk8s synth`, a unit test) see the defaults.
 */
import type { IConstruct } from 'constructs';
import { EMPTY_STATE, type StateRecords } from './records.ts';

export const DEFAULT_SIDECAR_URL = 'http://paddock-sidecar.paddock.svc:8080';

export interface PaddockContext {
  /** Base URL of every `GARBAGE_COLLECTOR_URL`. */
  readonly sidecarUrl: string;
  /** HMAC key for GC tokens; without it tokens are `unsigned` and the sidecar rejects them. */
  readonly gcSecret?: string;
  readonly state: StateRecords;
}

export const DEFAULT_CONTEXT: PaddockContext = { sidecarUrl: DEFAULT_SIDECAR_URL, state: EMPTY_STATE };

const contexts = new WeakMap<IConstruct, PaddockContext>();

/** Makes `context` visible to every construct under `root`. */
export function attachContext(root: IConstruct, context: Partial<PaddockContext>): void {
  contexts.set(root, { ...DEFAULT_CONTEXT, ...context });
}

export function contextOf(c: IConstruct): PaddockContext {
  return contexts.get(c.node.root) ?? DEFAULT_CONTEXT;
}
