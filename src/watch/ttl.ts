/** TTL expiry: which groups are due for removal (and removed groups for retirement) at `now`. Pure: the clock is an argument. */
import type { RetiringRecord } from '../../core/records.ts';
import type { GroupInfo } from '../synth/synthesize.ts';

/** Groups whose `expiresAt` has passed, soonest first. */
export function dueForRemoval(groups: readonly GroupInfo[], now: Date): GroupInfo[] {
  return groups
    .filter((g) => !g.removed && g.expiresAt !== undefined && Date.parse(g.expiresAt) <= now.getTime())
    .sort((a, b) => Date.parse(a.expiresAt!) - Date.parse(b.expiresAt!));
}

/** Milliseconds until the next expiry, or undefined when nothing expires. */
export function nextExpiryIn(groups: readonly GroupInfo[], now: Date): number | undefined {
  let next: number | undefined;
  for (const g of groups) {
    if (g.removed || !g.expiresAt) continue;
    const at = Date.parse(g.expiresAt) - now.getTime();
    if (next === undefined || at < next) next = at;
  }
  return next;
}

/**
 * Groups whose emptied Application has been in `apps/` for `afterMs` (Argo CD has had the time
 * to prune their objects through it), longest first.
 */
export function dueForRetirement(retiring: ReadonlyMap<string, RetiringRecord>, now: Date, afterMs: number): RetiringRecord[] {
  return [...retiring.values()]
    .filter((r) => !r.retiredAt && Date.parse(r.since) + afterMs <= now.getTime())
    .sort((a, b) => Date.parse(a.since) - Date.parse(b.since) || (a.group < b.group ? -1 : 1));
}
