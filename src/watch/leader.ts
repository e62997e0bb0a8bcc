/**
 * The leader's part of the watcher: while it holds the leadership (a lock file, or a Kubernetes
 * Lease), it removes groups whose TTL ran out and retires removed groups' emptied Applications
 * once Argo CD has had the time to prune through them (what is due comes from ttl.ts, from the
 * records and the injected clock, so it survives restarts).
 *
 * Renewals run one at a time, every period after the last one ended: two at once race for the
 * Lease, and the loser's 409 dropped the leadership it held. They never wait on the duties: a
 * slow commit must not let the Lease lapse. The duties run one at a time too.
 *
 * Owns: leadership and its duties. Must not touch: git (the committer does), file events.
 */
import type { Committer } from '../repo/committer.ts';
import type { Elector } from './lock.ts';
import { leaderDuties } from './ttl.ts';

export interface LeaderOptions {
  /** Who may lead; without one, this watcher never does. */
  readonly elector?: Elector;
  readonly committer: Committer;
  /** Fetches the remote (other writers' commits). */
  readonly follow: () => Promise<unknown>;
  readonly clock: () => Date;
  readonly say: (line: string, level?: 'info' | 'warn') => void;
  readonly retireAfterMs: number;
  /** How often the duties fetch the remote first. */
  readonly followEveryMs: number;
}

export class Leader {
  private timer?: NodeJS.Timeout;
  private running = false;
  /** The renewal under way (or the last one). */
  private renewal: Promise<void> = Promise.resolve();
  /** The duties under way. */
  private dutiesRun?: Promise<string[]>;
  private followedAt?: number;

  constructor(private readonly opts: LeaderOptions) {}

  /** Renews leadership every `everyMs` after the last renewal ended, and starts the duties while leading (unless they still run). */
  start(everyMs: number): void {
    this.running = true;
    const failed = (e: any) => this.opts.say(`ttl check failed: ${String(e?.message ?? e)}`, 'warn');
    const next = () => {
      if (!this.running) return;
      this.timer = setTimeout(() => {
        this.renewal = this.renew()
          .then((leads) => void (leads && this.duties().catch(failed)))
          .catch(failed)
          .then(next);
      }, everyMs);
      this.timer.unref();
    };
    next();
  }

  /** Renews, then (leading) runs the duties or joins those under way; the groups they removed and retired. */
  async tick(): Promise<string[]> {
    return (await this.renew()) ? this.duties() : [];
  }

  /** Stops renewing; waits for the renewal and the duties under way. */
  async stop(): Promise<void> {
    this.running = false;
    clearTimeout(this.timer);
    await this.renewal;
    await this.dutiesRun?.catch(() => undefined);
  }

  /** Tries to lead (or keep leading); says when that changes. */
  private async renew(): Promise<boolean> {
    const elector = this.opts.elector;
    if (!elector) return false;
    const led = elector.leading;
    const leads = await elector.tick();
    if (leads !== led) this.opts.say(leads ? `leader: ${elector.identity} now runs TTL removals` : `leader: ${elector.identity} is no longer the leader`);
    return leads;
  }

  private duties(): Promise<string[]> {
    this.dutiesRun ??= this.runDuties().finally(() => (this.dutiesRun = undefined));
    return this.dutiesRun;
  }

  private async runDuties(): Promise<string[]> {
    const { committer } = this.opts;
    const identity = this.opts.elector?.identity ?? 'paddock';
    const now = this.opts.clock();
    // Other writers commit too (the sidecar's removals start emptied Applications, a revive moves
    // an expiry): look at the remote now and then, not only at this watcher's own commits.
    if (this.followedAt === undefined || now.getTime() - this.followedAt >= this.opts.followEveryMs) {
      await this.opts.follow();
      this.followedAt = now.getTime();
    }
    const synth = await committer.synthesis();
    const due = leaderDuties(synth.groups, committer.view().state.retiring, now, this.opts.retireAfterMs);
    const done: string[] = [];
    await Promise.all(due.map(async (d) => {
      try {
        const a = await committer.submit({ body: d.body, requestId: d.requestId, requestedBy: `paddock watcher ${identity} (${d.why})` });
        if (a.outcome.status === 'applied') done.push(d.group);
      } catch (e) {
        this.opts.say(`${d.why === 'ttl' ? 'ttl removal' : 'retiring the Application'} of ${d.group} failed: ${String((e as Error)?.message ?? e)}`, 'warn');
      }
    }));
    return done;
  }
}
