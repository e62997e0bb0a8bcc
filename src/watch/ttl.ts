/** TTL expiry: which groups are due for removal (and removed groups for retirement) at `now`. Pure: the clock is an argument. */
import type { RetiringRecord } from '../../core/records.ts';
import type { IntentBody } from '../repo/intents.ts';
import type { GroupInfo } from '../synth/synthesize.ts';

/** Groups whose `expiresAt` has passed, soonest first. */
export function dueForRemoval(groups: readonly GroupInfo[], now: Date): GroupInfo[] {
  return groups
    .filter((g) => !g.removed && g.expiresAt !== undefined && Date.parse(g.expiresAt) <= now.getTime())
    .sort((a, b) => Date.parse(a.expiresAt!) - Date.parse(b.expiresAt!));
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

/** One removal or retirement the leader commits, with a request id that is the same for every leader. */
export interface LeaderDuty {
  readonly group: string;
  readonly body: Extract<IntentBody, { kind: 'remove' | 'retire' }>;
  readonly requestId: string;
  readonly why: 'ttl' | 'retire';
}

/** What the leader commits at `now`: removals of expired groups, then retirements of emptied Applications. */
export function leaderDuties(groups: readonly GroupInfo[], retiring: ReadonlyMap<string, RetiringRecord>, now: Date, retireAfterMs: number): LeaderDuty[] {
  return [
    ...dueForRemoval(groups, now).map((g): LeaderDuty => ({ group: g.name, body: { kind: 'remove', group: g.name, reason: 'ttl' }, requestId: `ttl-${g.name}-${g.expiresAt}`, why: 'ttl' })),
    ...dueForRetirement(retiring, now, retireAfterMs).map((r): LeaderDuty => ({ group: r.group, body: { kind: 'retire', group: r.group }, requestId: `retire-${r.group}-${r.since}`, why: 'retire' })),
  ];
}
