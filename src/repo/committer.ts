/**
 * src/repo: the committer, the only writer of the manifests repo.
 *
 * Callers hand it intents and get an answer once the commit holding their intent is pushed
 * (or once it is clear nothing needed to change). One cycle at a time: sync the mirror
 * (mirror.ts: fetch, follow the remote), plan the batch (plan.ts: pure, the guards as named
 * steps), write the commit and push it through the work tree (git/). Intents that arrive
 * meanwhile share the next commit (batcher.ts); a rejected push retries from a fetch with
 * backoff (retry.ts). Never force-pushes; no change, no commit.
 *
 * Owns: the cycle and the repo as last seen. Must not touch: HTTP, lease rules, definition loading.
 */
import { mkdirSync, mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { StateRecords } from '../../core/records.ts';
import { isUserError, TransientError, type UserError } from '../errors.ts';
import { parseState } from '../synth/state.ts';
import { synthesize, synthInputs, SynthCache, type SynthInputs, type SynthResult } from '../synth/synthesize.ts';
import { classifyGitError, unavailableError, WorkTree } from './git/index.ts';
import type { Intent, Outcome } from './intents.ts';
import { Batcher } from './batcher.ts';
import { withRetries, type RetryDeps } from './retry.ts';
import { Mirror, type Snapshot } from './mirror.ts';
import { DefinitionsGate } from './definitions-order.ts';
import { commitMessage, Guard, kindsOf, plan, provenance } from './plan.ts';
import { Reads, readCopyOf, type ReadView } from './reads.ts';
import { SettingsGate } from './settings.ts';
import type { Answer, CommitInfo, CommitterOptions, Logger, RepoView, RetryPolicy } from './types.ts';
export type { Answer, CommitInfo, CommitterOptions, DefinitionSet, Logger, RepoView, RetryPolicy } from './types.ts';
export type { ReadView } from './reads.ts';

const DEFAULT_RETRY: RetryPolicy = { initialMs: 1000, factor: 1.5, capMs: 30_000, tries: 10 };
/** A cycle that took this long between its fetch and its commit looks at the remote again first. */
const LATE_CHECK_AFTER_MS = 250;
/** While the tip's definitions are newer than this writer's, a batch looks again this often. */
const BEHIND_POLL_MS = 1000;
const silent: Logger = { info() {}, warn() {}, error() {} };

interface Pending {
  readonly intent: Intent;
  readonly resolve: (a: Answer) => void;
  readonly reject: (e: unknown) => void;
}

export class Committer {
  private readonly mirror: Mirror;
  private readonly workDir: string;
  private readonly ownsWorkDir: boolean;
  private readonly retry: RetryDeps;
  private readonly clock: () => Date;
  private readonly log: Logger;
  private readonly cache: SynthCache;
  private readonly batcher: Batcher<Pending, RepoView>;
  private lastSynth?: SynthResult;
  /** The synthesis `synthesis()` made of a view while there is no `lastSynth`. */
  private viewSynth?: { readonly of?: Snapshot; readonly result: Promise<SynthResult> };
  private readonly guard = new Guard();
  private readonly definitionsGate?: DefinitionsGate;
  private lastContactOk = false;
  /** This writer's settings and GC secret against the repo's. */
  private readonly settings: SettingsGate;
  private readonly reads: Reads;
  private closed = false;
  /** close() or stopWaiting() was called: batches waiting for definitions give up. */
  private stopping = false;
  /** Counters for /metrics. */
  readonly stats = { commits: 0, pushRetries: 0, coalesced: 0, cycles: 0, staleSkips: 0, failedCycles: 0 };
  private lastCycleOk = true;
  private readonly commitListeners: Array<(c: CommitInfo) => void> = [];

  constructor(private readonly opts: CommitterOptions) {
    this.ownsWorkDir = !opts.workDir;
    this.workDir = opts.workDir ?? mkdtempSync(path.join(tmpdir(), 'paddock-work-'));
    mkdirSync(this.workDir, { recursive: true });
    this.mirror = new Mirror(new WorkTree(this.workDir, opts.repo, opts.branch, opts.maintainEvery), { onFollow: opts.onFollow });
    this.clock = opts.clock ?? (() => new Date());
    this.log = opts.log ?? silent;
    this.retry = {
      policy: { ...DEFAULT_RETRY, ...opts.retry },
      sleep: opts.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms))),
      random: opts.random ?? Math.random,
      log: this.log,
      stats: this.stats,
    };
    this.cache = opts.cache ?? new SynthCache();
    if (opts.whenBehind) this.definitionsGate = new DefinitionsGate(opts.whenBehind, (sha) => this.mirror.tree.message(sha), this.log, () => this.clock().getTime());
    this.settings = new SettingsGate(opts.writer);
    this.reads = new Reads({
      url: this.mirror.tree.url, branch: opts.branch, ...readCopyOf(this.workDir), log: this.log,
      committed: () => ({ view: this.view(), seenAt: this.mirror.seenAt }),
    });
    this.batcher = new Batcher({
      maxBatch: opts.maxBatch ?? 500,
      write: (batch) => this.runBatch(batch),
      read: () => this.readView(),
      coalesced: (n) => (this.stats.coalesced += n),
    });
  }

  /** Hands an intent over; resolves once it is pushed or found already in effect. */
  submit(intent: Intent): Promise<Answer> {
    if (this.closed) return Promise.reject(new TransientError('RemoteUnavailable', 'paddock is shutting down', 5));
    return new Promise<Answer>((resolve, reject) => {
      this.batcher.add({ intent, resolve, reject });
    });
  }

  /** True when the last contact with the remote worked. */
  get ready(): boolean {
    return this.lastContactOk;
  }

  /** Hears of every commit this committer pushes, after the `onCommit` option (metrics). */
  onCommitted(listener: (c: CommitInfo) => void): void {
    this.commitListeners.push(listener);
  }

  /** True unless the last batch of intents failed (every retry spent, or refused). */
  get lastCommitOk(): boolean {
    return this.lastCycleOk;
  }

  /**
   * Why this writer refuses to commit to the repo as last seen (its flags disagree with
   * `state/settings.yaml`, or its GC secret is missing or not the repo's); undefined when it may.
   */
  get settingsProblem(): UserError | undefined {
    return this.settings.problem;
  }

  /**
   * The synthesis inputs for `state` (default: the repo as last seen): the repo's settings, or
   * before the first commit the ones this writer would record.
   */
  synthInputs(state: StateRecords = this.view().state): SynthInputs {
    return synthInputs(this.settings.recordFor(state.settings), state, this.opts.writer.gcSecret);
  }

  /** The repo as last seen; `refresh` first for a fresh view. */
  view(): RepoView {
    const s = this.mirror.current;
    return { head: s?.head, state: s?.state ?? parseState(new Map()), synth: this.lastSynth, files: s?.files ?? new Map() };
  }

  /**
   * The synthesis of the repo as last seen: the last cycle's, or one made now from the
   * definitions in force and the last seen `state/` (for checks a request needs before it is
   * queued, such as which `Release` renders a service). Never commits.
   */
  async synthesis(): Promise<SynthResult> {
    if (this.lastSynth) return this.lastSynth;
    // One synthesis of a view for every request that asks before the next cycle (a GC burst after
    // another writer's commit would otherwise make one a request).
    const of = this.mirror.current;
    if (!this.viewSynth || this.viewSynth.of !== of) {
      const defs = this.guard.trusted ?? this.opts.definitions();
      const result = synthesize(defs.definitions, this.synthInputs(), this.cache);
      const made = { of, result };
      this.viewSynth = made;
      result.catch(() => this.viewSynth === made && (this.viewSynth = undefined));
    }
    return this.viewSynth.result;
  }

  /**
   * The repo at the remote's tip for a reader, without waiting for the writes queued or backing
   * off (reads.ts): a read made after a write was acknowledged sees it.
   */
  async latest(): Promise<ReadView> {
    if (this.closed) throw new TransientError('RemoteUnavailable', 'paddock is shutting down', 5);
    await this.mirror.start();
    return this.reads.latest();
  }

  /** Fetches the remote tip (between cycles, never racing one) and returns the view. Never commits. */
  refresh(): Promise<RepoView> {
    if (this.closed) return Promise.reject(new TransientError('RemoteUnavailable', 'paddock is shutting down', 5));
    return this.batcher.read();
  }

  /** The message of the repo's tip as last seen; undefined before its first commit. */
  async tipMessage(): Promise<string | undefined> {
    const head = this.mirror.current?.head;
    return head ? this.mirror.tree.message(head) : undefined;
  }

  /** Checks the remote answers, without changing anything. */
  async probe(): Promise<boolean> {
    try {
      await this.mirror.start();
      await this.mirror.tree.probe();
      this.lastContactOk = true;
    } catch {
      this.lastContactOk = false;
    }
    return this.lastContactOk;
  }

  /** Batches waiting for newer definitions give up (their callers get 503): the process is stopping. */
  stopWaiting(): void {
    this.stopping = true;
  }

  /** Waits for the queue to drain, then stops taking intents; resolves once the work tree's housekeeping is over too. */
  async close(): Promise<void> {
    this.stopping = true;
    await this.batcher.drained();
    this.closed = true;
    await this.mirror.tree.settled();
    if (this.ownsWorkDir) await rm(this.workDir, { recursive: true, force: true });
  }

  /** A fetch for the readers waiting between batches. */
  private async readView(): Promise<RepoView> {
    try {
      await this.mirror.start();
      await this.sync();
      this.lastContactOk = true;
      return this.view();
    } catch (e) {
      this.lastContactOk = false;
      throw isUserError(e) ? e : unavailableError(classifyGitError(e), e);
    }
  }

  private async runBatch(batch: Pending[]): Promise<void> {
    this.stats.cycles++;
    const t0 = performance.now();
    // When the remote tip we know is one we pushed or fetched, the first try skips the fetch and
    // lets the push's compare-and-swap tell us whether someone else wrote meanwhile.
    const end = await withRetries(this.retry, !!this.mirror.current && !this.mirror.ahead, (a) => this.cycle(batch, a.retries, t0, a.optimistic, a.lateCheck));
    this.lastCycleOk = end.done;
    if (end.done) return;
    this.stats.failedCycles++;
    if (end.unreachable) this.lastContactOk = false;
    this.rejectAll(batch, end.error);
  }

  /**
   * One fetch-apply-commit-push cycle; 'done' once every intent is answered. An `optimistic`
   * cycle works on the remote tip as last seen, without fetching; it only ever answers by
   * pushing, and returns 'stale' (do it again from a fetch) when some intent would be answered
   * without a push: "already removed" or "unknown group" must come from the real tip. With
   * `lateCheck`, a cycle that took long to build looks at the remote again before committing,
   * and returns 'stale' if it moved, rather than push what would be rejected.
   */
  private async cycle(batch: Pending[], retries: number, t0: number, optimistic: boolean, lateCheck: boolean): Promise<'done' | 'stale'> {
    await this.mirror.start();
    let mark = performance.now();
    const lap = () => Math.round(-mark + (mark = performance.now()));
    const snap = optimistic && this.mirror.current ? this.mirror.current : await this.sync();
    const syncedAt = performance.now();
    const phases = { sync: lap(), synth: 0, write: 0, push: 0 };
    this.lastContactOk = true;
    // Intents that arrived while we fetched ride along: deciding the batch later fills commits.
    batch.push(...this.batcher.take((this.opts.maxBatch ?? 500) - batch.length));
    const now = this.clock();
    let defs = this.opts.definitions();
    // This writer's settings and secret against the repo's: a disagreement refuses the batch.
    const settings = this.settings.decide(snap.state.settings);
    const inputs = (state: StateRecords): SynthInputs => synthInputs(settings.record, state, this.opts.writer.gcSecret);

    // Guard: definitions that would remove many groups (or all, when empty) are not trusted.
    const { use, refused: guardError } = await this.guard.check(defs, snap, inputs(snap.state), this.cache, this.opts.allowMassRemoval);
    if (guardError && optimistic) return 'stale';
    if (guardError) this.log.error({ err: guardError.message }, 'definitions change refused');
    if (!use) return this.rejectAll(batch, guardError), 'done';
    defs = use;

    // The set it renders (the guard's, when it refused a change) against the one the tip was rendered from.
    const gate = snap.head && this.definitionsGate ? await this.definitionsGate.check(snap.head, defs) : 'go';
    if (gate instanceof Error) return this.rejectAll(batch, gate), 'done';
    if (gate === 'wait') {
      // Stopping: not written with these definitions, and not acknowledged either.
      if (this.stopping) return this.rejectAll(batch, new TransientError('NotReady', 'paddock is stopping, and its definitions are behind the ones the repo was rendered from', 5)), 'done';
      // Not a fault of the manifests repo: said, and the wait goes on with the set in force.
      await this.opts.reloadDefinitions?.().catch((e: unknown) => this.log.warn({ err: e }, 'the definitions could not be read again while waiting for newer ones'));
      if (!optimistic) await this.retry.sleep(BEHIND_POLL_MS);
      return 'stale'; // again from a fetch, with the definitions in force then
    }

    const { outcomes, state, result, files, changed } = await plan({
      tree: snap, definitions: defs, intents: batch.map((p) => p.intent), guardError, settings, now, inputs, cache: this.cache, known: this.lastSynth,
    });
    const outcomeOf = new Map(batch.map((p, i) => [p, outcomes[i]]));
    phases.synth = lap();

    const applied = batch.filter((p) => (outcomeOf.get(p) as Outcome)?.status === 'applied' && (p.intent.body.kind !== 'sync' || changed.length));
    if (optimistic && (!changed.length || guardError || applied.length < batch.length)) return 'stale';
    if (!changed.length) {
      this.lastSynth = result;
      await answerAll(batch, outcomeOf, undefined);
      return 'done';
    }
    if (!optimistic && lateCheck && performance.now() - syncedAt > LATE_CHECK_AFTER_MS && (await this.mirror.tree.fetchTip()) !== snap.head) return 'stale';

    const message = commitMessage((applied.length ? applied : batch).map((p) => ({ intent: p.intent, outcome: outcomeOf.get(p)! })), changed, provenance(defs), settings.changes);
    const sha = await this.mirror.tree.commit(snap.head, new Map(changed.map((p) => [p, files.get(p) ?? null])), message, now);
    this.mirror.ahead = true;
    phases.write = lap();
    await this.mirror.tree.push(sha, snap.head);
    phases.push = lap();
    this.mirror.pushed({ head: sha, files, state });
    this.definitionsGate?.wrote(sha, defs);
    this.lastSynth = result;
    this.stats.commits++;
    const ms = Math.round(performance.now() - t0);
    if (settings.changes.length) this.log.warn({ changes: settings.changes }, 'settings changed by this writer');
    const info: CommitInfo = { sha, subject: message[0], intents: applied.length, kinds: kindsOf(applied), ms, retries, phases, settingsChanged: settings.changes, paths: changed };
    this.opts.onCommit?.(info);
    for (const listener of this.commitListeners) listener(info);
    await answerAll(batch, outcomeOf, sha);
    return 'done';
  }

  /** Fetches; when the remote moved, the mirror follows it and the settings are looked at again. */
  private async sync(): Promise<Snapshot> {
    const { snapshot, moved } = await this.mirror.sync();
    if (moved) {
      this.lastSynth = undefined;
      try {
        this.settings.decide(snapshot.state.settings);
      } catch {
        // remembered: readiness reports it, the next cycle refuses with it
      }
    }
    return snapshot;
  }

  private rejectAll(batch: Pending[], e: unknown): void {
    for (const p of batch) p.reject(e);
  }
}

/**
 * How many of a batch's callers are answered in one turn of the event loop. An answer runs its
 * caller's continuation (a sidecar route writes its reply and its log line, some 50 µs): 64
 * answered at once held node's one thread for 3-5 ms, and every request that needs no commit (a
 * lease heartbeat, a read) arriving meanwhile waited that long.
 */
const ANSWERS_PER_TURN = 8;

/** Answers the batch's callers in their order, ANSWERS_PER_TURN to a turn of the event loop. */
async function answerAll(batch: readonly Pending[], outcomeOf: ReadonlyMap<Pending, Outcome | Error>, sha: string | undefined): Promise<void> {
  for (let i = 0; i < batch.length; i++) {
    if (i > 0 && i % ANSWERS_PER_TURN === 0) await new Promise<void>((resolve) => setImmediate(resolve));
    answer(batch[i], outcomeOf.get(batch[i])!, sha);
  }
}

function answer(p: Pending, o: Outcome | Error, sha: string | undefined): void {
  if (o instanceof Error) p.reject(o);
  else p.resolve({ outcome: o, commit: o.status === 'applied' ? sha : undefined });
}

