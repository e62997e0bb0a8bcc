/**
 * The watcher: keeps the manifests repo equal to synth(definitions, state) as definitions are
 * edited, TTLs run out and live clone sources change. Every write goes through the committer.
 *
 * File events are debounced and coalesced; a change re-reads only the files it touches. TTL
 * removals are made only by the leader (a lock file, or a Kubernetes Lease), from the expiry the
 * records give, so they survive restarts. The clock is injected.
 *
 * Files are watched by files.ts (which also follows a swapped symlink); the leader's work is
 * leader.ts's.
 *
 * Owns: noticing change. Must not touch: git (the committer does), HTTP.
 */
import path from 'node:path';
import { isUserError, UserError } from '../errors.ts';
import type { Committer, Logger } from '../repo/committer.ts';
import type { IntentBody } from '../repo/intents.ts';
import { coalesced } from '../coalesce.ts';
import { Definitions } from './definitions.ts';
import { FileWatch } from './files.ts';
import type { Elector } from './lock.ts';
import { liveIntents, unlisted, type SourceFeed } from './live-records.ts';
import { Leader } from './leader.ts';

export type { SourceFeed } from './live-records.ts';

export interface WatcherOptions {
  readonly definitions: Definitions;
  readonly committer: Committer;
  /** Who may run TTL removals; without one, this watcher never does (the sidecar's). */
  readonly elector?: Elector;
  readonly clock?: () => Date;
  /**
   * Quiet time after the last file event before reacting: long enough for an editor's save or a
   * checkout's burst of files to land as one change, short next to a commit. @default 20 ms
   */
  readonly debounceMs?: number;
  /** Where the lines for people go (info, and warn for failures), when not `say`. */
  readonly log?: Logger;
  /** One line for people per event worth telling (errors, removals). */
  readonly say?: (line: string) => void;
  /** How often the definitions directory's real path is checked (symlink swaps). @default 2 s */
  readonly linkPollMs?: number;
  /**
   * Live clone sources. With them, the watcher records what clones need of each source in
   * `state/sources/` (a commit when it changes), so every writer renders the same clones.
   */
  readonly sources?: SourceFeed;
  /** ConfigMaps of clone rules (`Clone.fromLiveConfigMap`), recorded in `state/rules/` likewise. */
  readonly rules?: SourceFeed;
  /**
   * How long a removed group's emptied Application stays in `apps/` before the leader deletes it
   * (`retire`). Longer than Argo CD needs to see the removal commit and prune: its poll (3 min)
   * plus its repo server's revision cache (3 min) when nothing asks it to refresh. @default 10 min
   */
  readonly retireAfterMs?: number;
  /**
   * How often the leader fetches the remote for other writers' commits: before its TTL and retire
   * checks, and so that Argo CD hears of the sidecar's commits (which cannot tell it). @default 5 s
   */
  readonly followEveryMs?: number;
  /** Hears, after each definitions change is committed (or found to change nothing), the ms since its first file event. */
  readonly onSynced?: (lagMs: number) => void;
}

/** Whether the watcher does its job, and if not, why (its `/readyz`). */
export interface Readiness {
  readonly ready: boolean;
  readonly reasons: readonly string[];
}

export const DEFAULT_RETIRE_AFTER_MS = 10 * 60_000;
const DEFAULT_DEBOUNCE_MS = 20;

/** How often the leader looks at the remote for other writers' commits (`--follow-every`). */
export const DEFAULT_FOLLOW_EVERY_MS = 5_000;

export class Watcher {
  private files?: FileWatch;
  private timer?: NodeJS.Timeout;
  private pending = new Set<string>();
  private running: Promise<void> = Promise.resolve();
  private seq = 0;
  private sourceTimer?: NodeJS.Timeout;
  /** When the first of the pending file events came (performance.now()). */
  private pendingSince?: number;
  private started = false;
  /**
   * Looks at the remote now (another writer says it pushed, or the leader's period is up): the
   * committer fetches, and hands what others changed to its `onFollow`. A burst of calls costs
   * two fetches. Resolves with the tip then known.
   */
  readonly follow = coalesced(() => this.opts.committer.refresh().then((v) => v.head));

  private readonly leader: Leader;

  constructor(private readonly opts: WatcherOptions) {
    this.leader = new Leader({
      elector: opts.elector, committer: opts.committer, follow: () => this.follow(), clock: () => this.clock(), say: (line, level) => this.say(line, level),
      retireAfterMs: opts.retireAfterMs ?? DEFAULT_RETIRE_AFTER_MS, followEveryMs: opts.followEveryMs ?? DEFAULT_FOLLOW_EVERY_MS,
    });
  }

  private get clock() {
    return this.opts.clock ?? (() => new Date());
  }

  /** Tells people: `say` when given, else the log, else stdout. */
  private say(line: string, level: 'info' | 'warn' = 'info') {
    if (this.opts.say) this.opts.say(line);
    else if (this.opts.log) this.opts.log[level](line);
    else console.log(line);
  }

  /**
   * Loads the definitions (unless loaded) and commits what they give (unless `committed`: the
   * runtime's first cycle just did), then records the live inputs clones need.
   */
  async start(opts: { readonly committed?: boolean } = {}): Promise<void> {
    const defs = this.opts.definitions;
    if (!defs.loaded) for (const p of (await defs.loadAll()).problems) this.say(`definition error: ${p}`, 'warn');
    if (opts.committed) await this.recordSources();
    else await this.sync(`sync(definitions): ${defs.current().definitions.length} files loaded`);
    this.started = true;
  }

  /**
   * Ready once the definitions are loaded and committed, every namespace of a live clone source
   * is listed, and the last batch of requests was committed (or found in effect).
   */
  readiness(): Readiness {
    if (!this.started) return { ready: false, reasons: ['the definitions are not loaded and committed yet'] };
    const reasons = unlisted(this.opts, this.opts.committer.view());
    if (!this.opts.committer.lastCommitOk) reasons.push('the last commit failed');
    if (!this.opts.committer.ready) reasons.push('the manifests repo did not answer last time');
    return { ready: !reasons.length, reasons };
  }

  /** Watches the definitions directory and every local file the definitions import; resolves once an edit from then on is seen (files.ts). */
  async watch(): Promise<void> {
    const dir = this.opts.definitions.dir;
    this.files = new FileWatch(dir, {
      inputs: () => this.opts.definitions.inputsOf(),
      changed: (p) => this.changed(p),
      moved: async (now) => {
        this.say(`definitions: ${dir} now resolves to ${now ?? '(nothing)'}; re-reading it`);
        await this.flush();
      },
      error: (e) => this.say(`watch error: ${String((e as Error)?.message ?? e)}`, 'warn'),
      linkPollMs: this.opts.linkPollMs,
    });
    await this.files.start();
    // A checkout swapped between the first reading and the start of the watch is no event to it.
    if (await this.opts.definitions.checkoutMoved()) this.changed(dir);
  }

  /** When the definitions directory now resolves somewhere else (a swapped symlink), re-reads it all. Returns whether it moved. */
  followLink(): Promise<boolean> {
    return this.files?.followLink() ?? Promise.resolve(false);
  }

  /** Runs the leader's periodic work (TTL expiry, retirements) every `everyMs` (leader.ts). */
  startTicking(everyMs = 1_000): void {
    this.leader.start(everyMs);
  }

  /** A file changed: react after the debounce, once for a burst. */
  changed(p: string): void {
    this.pendingSince ??= performance.now();
    this.pending.add(path.resolve(p));
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.flush(), this.opts.debounceMs ?? DEFAULT_DEBOUNCE_MS);
  }

  /**
   * Reacts to the pending file changes now (tests call it instead of waiting); resolves once the
   * commit they make is pushed. Only the reading is queued: a commit that waits (for newer
   * definitions another writer rendered, definitions-order.ts) must not hold back the reading of
   * the checkout that brings them.
   */
  async flush(): Promise<void> {
    clearTimeout(this.timer);
    const paths = [...this.pending];
    const since = this.pendingSince;
    this.pending.clear();
    this.pendingSince = undefined;
    let synced: Promise<void> | undefined;
    await this.queue(async () => {
      synced = (await this.react(paths, since)).synced;
    });
    await synced;
  }

  /** Runs `work` after the reactions before it. A failure is said and ends there: the next reaction still runs. */
  private queue(work: () => Promise<void>): Promise<void> {
    this.running = this.running.then(work).catch((e: unknown) => this.say(`${isUserError(e) ? '' : 'reaction failed: '}${String((e as Error)?.message ?? e)}`, 'warn'));
    return this.running;
  }

  /** Reads what changed; `synced` resolves once its commit is pushed (or found needless). */
  private async react(paths: readonly string[], since?: number): Promise<{ synced: Promise<void> }> {
    if (!paths.length) return { synced: Promise.resolve() };
    const change = await this.opts.definitions.refresh(paths).catch((e: unknown) => {
      // The directory went (a file in its place, its permissions): what is committed stays.
      throw new UserError('InvalidConfig', `the definitions cannot be read, so nothing changes: ${(e as Error)?.message ?? e}`);
    });
    for (const p of change.problems) this.say(`definition error: ${p}`, 'warn');
    this.files?.addInputs();
    const what = [...change.adopted.map((f) => `${f} changed`), ...change.removed.map((f) => `${f} deleted`)];
    const synced = (what.length ? this.sync(`sync(definitions): ${what.join(', ')}`) : Promise.resolve())
      .then(() => void (since !== undefined && this.opts.onSynced?.(performance.now() - since)))
      .catch((e: unknown) => this.say(`reaction failed: ${String((e as Error)?.message ?? e)}`, 'warn'));
    return { synced };
  }

  /**
   * A live clone source or rules ConfigMap changed (from an informer; which one, `_key`, does not
   * matter: every live input is looked at again): record them, once for a burst.
   */
  sourceChanged(_key: string): void {
    clearTimeout(this.sourceTimer);
    this.sourceTimer = setTimeout(() => {
      // As for definitions, only the reading is queued: a commit that waits must not hold it.
      let intents: IntentBody[] = [];
      void this.queue(async () => {
        intents = await this.liveIntents();
      }).then(() => this.submitAll(intents));
    }, this.opts.debounceMs ?? DEFAULT_DEBOUNCE_MS);
  }

  /**
   * Records what clones need of the cluster (and keeps the records fresh): the Deployments they
   * name in `state/sources/`, the ConfigMaps of rules definitions follow in `state/rules/`; a
   * commit per kind with every record that changed, and the removal of records whose object is
   * gone (live-records.ts).
   */
  async recordSources(): Promise<void> {
    await this.submitAll(await this.liveIntents());
  }

  private liveIntents(): Promise<IntentBody[]> {
    return liveIntents(this.opts, this.opts.committer.view(), (line) => this.say(line, 'warn'));
  }

  private async submitAll(intents: readonly IntentBody[]): Promise<void> {
    for (const body of intents) {
      try {
        await this.opts.committer.submit({ body, requestId: `watch-${process.pid}-${++this.seq}`, requestedBy: `paddock watcher (clone ${body.kind})` });
      } catch (e) {
        this.say(`${isUserError(e) ? '' : 'commit failed: '}${String((e as Error)?.message ?? e)}`, 'warn');
      }
    }
  }

  /** The leader's work once, now (leader.ts); the groups it removed and retired. */
  tick(): Promise<string[]> {
    return this.leader.tick();
  }

  private async sync(summary: string): Promise<void> {
    try {
      await this.opts.committer.submit({ body: { kind: 'sync', summary }, requestId: `watch-${process.pid}-${++this.seq}`, requestedBy: 'paddock watcher' });
    } catch (e) {
      this.say(`${isUserError(e) ? '' : 'commit failed: '}${String((e as Error)?.message ?? e)}`, 'warn');
      return;
    }
    // Definitions may name sources no record has yet.
    await this.recordSources();
  }

  /** Stops watching; waits for the reaction under way. */
  async stop(): Promise<void> {
    clearTimeout(this.timer);
    clearTimeout(this.sourceTimer);
    await this.leader.stop();
    await this.files?.close();
    await this.running;
    this.opts.elector?.release();
  }
}
