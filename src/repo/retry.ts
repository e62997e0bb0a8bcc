/**
 * The committer's retry loop around one cycle. A cycle that built on a tip that is no longer the
 * remote's is redone at once (a few times); a push the remote rejects is retried from a fetch
 * with jittered exponential backoff; a remote that cannot be used fails the batch at once.
 */
import { isUserError, oneLine, TransientError } from '../errors.ts';
import { classifyGitError, isRetryable, PushUnclear, unavailableError } from './git/index.ts';
import type { Logger, RetryPolicy } from './types.ts';

/** Immediate redos of one batch (stale optimistic push, remote moved under a slow cycle) before the backoff applies. */
const MAX_QUICK_REDOS = 3;

export interface Attempt {
  /** Tries that came back with a rejected push so far. */
  readonly retries: number;
  /** Build on the tip as last seen, without a fetch (the push's compare-and-swap decides). */
  readonly optimistic: boolean;
  /** Look at the remote again before committing when the cycle took long. */
  readonly lateCheck: boolean;
}

export interface RetryDeps {
  readonly policy: RetryPolicy;
  readonly sleep: (ms: number) => Promise<void>;
  readonly random: () => number;
  readonly log: Logger;
  readonly stats: { staleSkips: number; pushRetries: number };
}

/** How the loop ended: done, or the error every intent of the batch gets (`unreachable`: the remote could not be used). */
export type RetryEnd = { readonly done: true } | { readonly done: false; readonly error: unknown; readonly unreachable: boolean };

/** Runs `cycle` until it answers 'done'; `optimistic` for the first try when the tip as last seen is one we pushed or fetched. */
export async function withRetries(deps: RetryDeps, optimistic: boolean, cycle: (a: Attempt) => Promise<'done' | 'stale'>): Promise<RetryEnd> {
  let delay = deps.policy.initialMs;
  let failure: unknown;
  let quickRedos = 0;
  for (let attempt = 1; attempt <= deps.policy.tries; attempt++) {
    let stale = false;
    try {
      if ((await cycle({ retries: attempt - 1, optimistic, lateCheck: quickRedos < MAX_QUICK_REDOS })) === 'done') return { done: true };
      stale = true; // answers that only a fresh fetch may give, or a remote that moved meanwhile
    } catch (e) {
      if (isUserError(e)) return { done: false, error: e, unreachable: false };
      failure = e;
      const kind = classifyGitError(e);
      if (optimistic && isRetryable(kind)) {
        deps.stats.staleSkips++;
        stale = true;
      } else if (!isRetryable(kind) && !(e instanceof PushUnclear)) {
        deps.log.warn({ err: e, kind }, 'manifests repo unavailable');
        return { done: false, error: unavailableError(kind, e), unreachable: true };
      }
    }
    // Whatever happened, the next try starts from a fetch.
    optimistic = false;
    if (stale) {
      // Not a real try: what we built on is no longer the tip. Go again at once.
      quickRedos++;
      attempt--;
      continue;
    }
    if (attempt < deps.policy.tries) {
      deps.stats.pushRetries++;
      const jittered = delay * (0.8 + 0.4 * deps.random());
      deps.log.info({ attempt, waitMs: Math.round(jittered) }, 'push rejected; retrying from fetch');
      await deps.sleep(jittered);
      delay = Math.min(deps.policy.capMs, delay * deps.policy.factor);
    }
  }
  const error = new TransientError('RemoteRejected', `the manifests repo kept rejecting the push after ${deps.policy.tries} tries: ${oneLine(failure)}`, 30);
  return { done: false, error, unreachable: false };
}
