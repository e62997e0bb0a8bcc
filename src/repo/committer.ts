/**
 * src/repo: the committer, the only writer of the manifests repo.
 *
 * Callers hand it intents and get an answer once the commit holding their intent is pushed
 * (or once it is clear nothing needed to change). One cycle at a time: fetch; reset the work
 * tree to the remote tip when it moved; apply every pending intent to `state/`; regenerate
 * `apps/` and `groups/` with the synth; commit; push. Intents that arrive during a cycle are
 * coalesced into the next one. A rejected push (someone else pushed first) retries the whole
 * cycle with backoff; after an unclear failure the remote is searched for the batch's request
 * id before anything is retried. Never force-pushes; no change, no commit.
 *
 * Owns: the work tree, git, commits. Must not touch: HTTP, lease rules, definition loading.
 */
import { mkdirSync, mkdtempSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { SettingsRecord, StateRecords } from '../../core/records.ts';
import { paddockVersion } from '../../core/version.ts';
import { isUserError, oneLine, TransientError, UserError } from '../errors.ts';
import { writePaths } from '../synth/output.ts';
import { parseState, patchState } from '../synth/state.ts';
import { synthesize, synthInputs, SynthCache, type SynthInputs, type SynthResult } from '../synth/synthesize.ts';
import { definitionsDigest } from '../synth/loader.ts';
import { classifyGitError, isRetryable, isUnclear, WorkTree, type GitFailure } from './git/index.ts';
import type { Intent, Outcome } from './intents.ts';
import { commitMessage, massRemoval, plan } from './plan.ts';
import { decideSettings, type SettingsDecision } from './settings.ts';
import type { Answer, CommitterOptions, DefinitionSet, Logger, RepoView, RetryPolicy } from './types.ts';
export type { Answer, CommitInfo, CommitterOptions, DefinitionSet, Logger, RepoView, RetryPolicy } from './types.ts';

const DEFAULT_RETRY: RetryPolicy = { initialMs: 1000, factor: 1.5, capMs: 30_000, tries: 10 };
/** Immediate redos of one batch (stale optimistic push, remote moved under a slow cycle) before the backoff applies. */
const MAX_QUICK_REDOS = 3;
/** A cycle that took this long between its fetch and its commit looks at the remote again first. */
const LATE_CHECK_AFTER_MS = 250;
/** Longest a cycle waits for callers of the last commit to come back (see `gather`). */
const GATHER_MAX_MS = 25;
/** ...and stops waiting once no caller came for this many 1 ms ticks. */
const GATHER_QUIET_TICKS = 6;
const silent: Logger = { info() {}, warn() {}, error() {} };

interface Pending {
  readonly intent: Intent;
  readonly resolve: (a: Answer) => void;
  readonly reject: (e: unknown) => void;
}

interface Snapshot {
  head?: string;
  files: Map<string, string>;
  state: StateRecords;
}

export class Committer {
  private readonly tree: WorkTree;
  private readonly workDir: string;
  private readonly ownsWorkDir: boolean;
  private readonly retry: RetryPolicy;
  private readonly clock: () => Date;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly random: () => number;
  private readonly log: Logger;
  private readonly cache: SynthCache;
  private readonly queue: Pending[] = [];
  private readonly reads: Array<{ resolve: (v: RepoView) => void; reject: (e: unknown) => void }> = [];
  private running?: Promise<void>;
  private started?: Promise<void>;
  private snapshot?: Snapshot;
  /** The work tree and index hold a commit the remote may not have: reset before the next cycle. */
  private localAhead = false;
  private lastSynth?: SynthResult;
  /** Definitions of the last commit that went through the mass-removal guard. */
  private trusted?: DefinitionSet;
  private lastContactOk = false;
  /** Why this writer may not commit to the repo as last seen (settings or GC secret), if it may not. */
  private settingsError?: UserError;
  /** How many intents the last batch held (see `gather`). */
  private crowd = 0;
  private closed = false;
  /** Counters for /metrics. */
  readonly stats = { commits: 0, pushRetries: 0, coalesced: 0, cycles: 0, staleSkips: 0 };

  constructor(private readonly opts: CommitterOptions) {
    this.ownsWorkDir = !opts.workDir;
    this.workDir = opts.workDir ?? mkdtempSync(path.join(tmpdir(), 'paddock-work-'));
    mkdirSync(this.workDir, { recursive: true });
    this.tree = new WorkTree(this.workDir, opts.repo, opts.branch);
    this.retry = { ...DEFAULT_RETRY, ...opts.retry };
    this.clock = opts.clock ?? (() => new Date());
    this.sleep = opts.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
    this.random = opts.random ?? Math.random;
    this.log = opts.log ?? silent;
    this.cache = opts.cache ?? new SynthCache();
  }

  /** Hands an intent over; resolves once it is pushed or found already in effect. */
  submit(intent: Intent): Promise<Answer> {
    if (this.closed) return Promise.reject(new TransientError('RemoteUnavailable', 'paddock is shutting down', 5));
    return new Promise<Answer>((resolve, reject) => {
      this.queue.push({ intent, resolve, reject });
      this.kick();
    });
  }

  /** True when the last contact with the remote worked. */
  get ready(): boolean {
    return this.lastContactOk;
  }

  get remote(): string {
    return this.opts.repo;
  }

  /**
   * Why this writer refuses to commit to the repo as last seen (its flags disagree with
   * `state/settings.yaml`, or its GC secret is missing or not the repo's); undefined when it may.
   */
  get settingsProblem(): UserError | undefined {
    return this.settingsError;
  }

  /**
   * The synthesis inputs for `state` (default: the repo as last seen): the repo's settings, or
   * before the first commit the ones this writer would record.
   */
  synthInputs(state: StateRecords = this.view().state): SynthInputs {
    return synthInputs(this.settingsOrClaims(state), state, this.opts.writer.gcSecret);
  }

  private settingsOrClaims(state: StateRecords): SettingsRecord {
    try {
      return decideSettings(state.settings, this.opts.writer).record;
    } catch {
      return state.settings ?? { ...this.opts.writer.defaults, gcSecretFingerprint: '' };
    }
  }

  /** The repo as last seen; `refresh` first for a fresh view. */
  view(): RepoView {
    const s = this.snapshot;
    return { head: s?.head, state: s?.state ?? parseState(new Map()), synth: this.lastSynth, files: s?.files ?? new Map() };
  }

  /**
   * The synthesis of the repo as last seen: the last cycle's, or one made now from the
   * definitions in force and the last seen `state/` (for checks a request needs before it is
   * queued, such as which `Release` renders a service). Never commits.
   */
  async synthesis(): Promise<SynthResult> {
    if (this.lastSynth) return this.lastSynth;
    const defs = this.trusted ?? this.opts.definitions();
    return synthesize(defs.definitions, this.synthInputs(), this.cache);
  }

  /** Fetches the remote tip (between cycles, never racing one) and returns the view. Never commits. */
  refresh(): Promise<RepoView> {
    if (this.closed) return Promise.reject(new TransientError('RemoteUnavailable', 'paddock is shutting down', 5));
    return new Promise<RepoView>((resolve, reject) => {
      this.reads.push({ resolve, reject });
      this.kick();
    });
  }

  /** The commit at the remote tip as last seen: short sha, subject and date. */
  async headCommit(): Promise<{ sha: string; subject: string; date: Date } | undefined> {
    const head = this.snapshot?.head;
    if (!head) return undefined;
    return this.tree.describe(head);
  }

  /** Checks the remote answers, without changing anything. */
  async probe(): Promise<boolean> {
    try {
      await this.ensureStarted();
      await this.tree.probe();
      this.lastContactOk = true;
    } catch {
      this.lastContactOk = false;
    }
    return this.lastContactOk;
  }

  /** Waits for the queue to drain, then stops taking intents. */
  async close(): Promise<void> {
    while (this.running) await this.running;
    this.closed = true;
    if (this.ownsWorkDir) await rm(this.workDir, { recursive: true, force: true });
  }

  private kick(): void {
    if (this.running) return;
    this.running = (async () => {
      try {
        while (this.queue.length || this.reads.length) {
          if (this.reads.length) await this.serveReads();
          if (!this.queue.length) continue;
          await this.gather();
          const batch = this.queue.splice(0, this.opts.maxBatch ?? 500);
          if (batch.length > 1) this.stats.coalesced += batch.length - 1;
          await this.runBatch(batch);
          this.crowd = batch.length;
        }
      } finally {
        this.running = undefined;
      }
    })();
  }

  /**
   * Group commit: the callers the last commit answered tend to come straight back, and the
   * first of them would otherwise start a cycle alone and leave the rest for the next one.
   * Wait (a few ms, never more than GATHER_MAX_MS) while they are still coming, so they share
   * a commit. A lone caller (the watcher, a CLI) never waits.
   */
  private async gather(): Promise<void> {
    if (this.crowd < 2) return;
    const want = Math.min(this.opts.maxBatch ?? 500, this.queue.length + this.crowd);
    const until = performance.now() + GATHER_MAX_MS;
    let seen = this.queue.length;
    let still = 0;
    while (this.queue.length < want && still < GATHER_QUIET_TICKS && performance.now() < until) {
      await new Promise((r) => setTimeout(r, 1));
      still = this.queue.length === seen ? still + 1 : 0;
      seen = this.queue.length;
    }
  }

  private async serveReads(): Promise<void> {
    const readers = this.reads.splice(0);
    try {
      await this.ensureStarted();
      await this.sync();
      this.lastContactOk = true;
      const v = this.view();
      for (const r of readers) r.resolve(v);
    } catch (e) {
      this.lastContactOk = false;
      const err = isUserError(e) ? e : unavailable(classifyGitError(e), e);
      for (const r of readers) r.reject(err);
    }
  }

  private ensureStarted(): Promise<void> {
    this.started ??= (async () => {
      await mkdir(this.workDir, { recursive: true });
      await this.tree.init();
    })().catch((e) => {
      this.started = undefined;
      throw e;
    });
    return this.started;
  }

  private async runBatch(batch: Pending[]): Promise<void> {
    this.stats.cycles++;
    const t0 = performance.now();
    let delay = this.retry.initialMs;
    let failure: unknown;
    // When the remote tip we know is one we pushed or fetched, the first try skips the fetch and
    // lets the push's compare-and-swap tell us whether someone else wrote meanwhile.
    let optimistic = !!this.snapshot && !this.localAhead;
    let quickRedos = 0;
    for (let attempt = 1; attempt <= this.retry.tries; attempt++) {
      let stale = false;
      try {
        const outcome = await this.cycle(batch, attempt - 1, t0, optimistic, quickRedos < MAX_QUICK_REDOS);
        if (outcome === 'done') return;
        stale = true; // answers that only a fresh fetch may give, or a remote that moved meanwhile
      } catch (e) {
        if (isUserError(e)) return this.rejectAll(batch, e);
        failure = e;
        const kind = classifyGitError(e);
        if (optimistic && isRetryable(kind)) {
          this.stats.staleSkips++;
          stale = true;
        } else if (!isRetryable(kind) && !(e instanceof PushUnclear)) {
          this.lastContactOk = false;
          this.log.warn({ err: String((e as Error).message ?? e), kind }, 'manifests repo unavailable');
          return this.rejectAll(batch, unavailable(kind, e));
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
      if (attempt < this.retry.tries) {
        this.stats.pushRetries++;
        const jittered = delay * (0.8 + 0.4 * this.random());
        this.log.info({ attempt, waitMs: Math.round(jittered) }, 'push rejected; retrying from fetch');
        await this.sleep(jittered);
        delay = Math.min(this.retry.capMs, delay * this.retry.factor);
      }
    }
    this.rejectAll(batch, new TransientError('RemoteRejected', `the manifests repo kept rejecting the push after ${this.retry.tries} tries: ${oneLine(failure)}`, 30));
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
    await this.ensureStarted();
    let mark = performance.now();
    const lap = () => Math.round(-mark + (mark = performance.now()));
    const snap = optimistic && this.snapshot ? this.snapshot : await this.sync();
    const syncedAt = performance.now();
    const phases = { sync: lap(), synth: 0, write: 0, push: 0 };
    this.lastContactOk = true;
    // Intents that arrived while we fetched ride along: deciding the batch later fills commits.
    const room = (this.opts.maxBatch ?? 500) - batch.length;
    if (room > 0 && this.queue.length) {
      const more = this.queue.splice(0, room);
      this.stats.coalesced += more.length;
      batch.push(...more);
    }
    const now = this.clock();
    let defs = this.opts.definitions();
    // This writer's settings and secret against the repo's: a disagreement refuses the batch.
    const settings = this.checkSettings(snap.state);
    const inputs = (state: StateRecords): SynthInputs => synthInputs(settings.record, state, this.opts.writer.gcSecret);

    // Guard: definitions that would remove many groups (or all, when empty) are not trusted.
    let guardError: UserError | undefined;
    if (!this.trusted || this.trusted.version !== defs.version) {
      const problem = await massRemoval(defs, snap, inputs(snap.state), this.cache, this.opts.allowMassRemoval);
      if (problem) {
        if (optimistic) return 'stale';
        guardError = problem;
        this.log.error({ err: problem.message }, 'definitions change refused');
        if (!this.trusted) return this.rejectAll(batch, problem), 'done';
        defs = this.trusted;
      } else {
        this.trusted = defs;
      }
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
      for (const p of batch) answer(p, outcomeOf.get(p)!, undefined);
      return 'done';
    }
    if (!optimistic && lateCheck && performance.now() - syncedAt > LATE_CHECK_AFTER_MS && (await this.remoteMoved(snap.head))) return 'stale';

    writePaths(this.workDir, changed, files);
    const message = commitMessage((applied.length ? applied : batch).map((p) => ({ intent: p.intent, outcome: outcomeOf.get(p)! })), changed, this.provenance(defs), settings.changes);
    this.localAhead = true;
    const sha = await this.tree.commit(changed, message, snap.head);
    phases.write = lap();
    await this.push(batch[0].intent.requestId, sha);
    phases.push = lap();
    this.localAhead = false;
    this.snapshot = { head: sha, files, state };
    this.lastSynth = result;
    this.stats.commits++;
    const ms = Math.round(performance.now() - t0);
    if (settings.changes.length) this.log.warn({ changes: settings.changes }, 'settings changed by this writer');
    this.opts.onCommit?.({ sha, subject: message[0], intents: applied.length, ms, retries, phases, settingsChanged: settings.changes, paths: changed });
    for (const p of batch) answer(p, outcomeOf.get(p)!, sha);
    return 'done';
  }

  /** True when the remote tip is no longer `head`. */
  private async remoteMoved(head: string | undefined): Promise<boolean> {
    return (await this.tree.fetchTip()) !== head;
  }

  /** Fetches; resets the work tree and reloads the tree when the remote tip moved. */
  private async sync(): Promise<Snapshot> {
    const remoteHead = await this.tree.fetchTip();
    if (this.snapshot && this.snapshot.head === remoteHead && !this.localAhead) return this.snapshot;
    // Leftovers exist only after a cycle that wrote files but did not push.
    await this.tree.moveTo(remoteHead, this.localAhead || (!this.snapshot && !this.ownsWorkDir));
    const prev = this.snapshot;
    let files: Map<string, string>;
    let state: StateRecords;
    let followed: string[] = [];
    if (prev?.head && remoteHead) {
      // Follow the remote: read and parse only what changed since the tip we knew.
      const changed = await this.tree.changedBetween(prev.head, remoteHead);
      const changes = new Map<string, string | null>();
      await Promise.all(changed.map(async (p) => changes.set(p, await this.tree.read(p))));
      files = new Map(prev.files);
      for (const [p, c] of changes) {
        if (c === null) files.delete(p);
        else files.set(p, c);
      }
      state = patchState(prev.state, changes);
      followed = changed;
    } else {
      files = new Map();
      if (remoteHead) {
        const listed = await this.tree.listFiles();
        await Promise.all(listed.map(async (p) => files.set(p, (await this.tree.read(p)) ?? '')));
      }
      state = parseState(files);
    }
    this.snapshot = { head: remoteHead, files, state };
    this.localAhead = false;
    this.lastSynth = undefined;
    try {
      this.checkSettings(state);
    } catch {
      // remembered in settingsError: readiness reports it, the next cycle refuses with it
    }
    if (followed.length) this.opts.onFollow?.(followed.sort());
    return this.snapshot;
  }

  /** Holds this writer's settings against `state`'s; remembers (and throws) the disagreement. */
  private checkSettings(state: StateRecords): SettingsDecision {
    try {
      const d = decideSettings(state.settings, this.opts.writer);
      this.settingsError = undefined;
      return d;
    } catch (e) {
      if (isUserError(e)) this.settingsError = e;
      throw e;
    }
  }

  /** Trailers saying what made a commit: paddock's version and the definitions (digest, and checkout commit when known). */
  private provenance(defs: DefinitionSet): string[] {
    return [
      `Paddock-Version: ${paddockVersion() ?? 'unknown'}`,
      `Paddock-Definitions: ${definitionsDigest(defs.definitions, defs.broken)}`,
      ...(defs.commit ? [`Paddock-Definitions-Commit: ${defs.commit}`] : []),
    ];
  }

  private async push(requestId: string, sha: string): Promise<void> {
    try {
      await this.tree.push(sha);
    } catch (e) {
      const kind = classifyGitError(e);
      if (isRetryable(kind)) throw e;
      if (!isUnclear(kind)) throw e;
      // The push may have landed: look for our commit before anything else.
      if (await this.tree.remoteHas(requestId, sha)) return;
      throw new PushUnclear(kind, e);
    }
  }

  private rejectAll(batch: Pending[], e: unknown): void {
    for (const p of batch) p.reject(e);
  }
}

class PushUnclear extends Error {
  constructor(readonly kind: GitFailure, cause: unknown) {
    super(`push failed (${kind}): ${oneLine(cause)}`, { cause });
  }
}

function answer(p: Pending, o: Outcome | Error, sha: string | undefined): void {
  if (o instanceof Error) p.reject(o);
  else p.resolve({ outcome: o, commit: o.status === 'applied' ? sha : undefined });
}

function unavailable(kind: GitFailure, e: unknown): Error {
  const why = kind === 'auth' ? 'credentials were refused' : kind === 'missing-repo' ? 'the repository does not exist' : 'the remote cannot be reached';
  return new TransientError('RemoteUnavailable', `manifests repo unavailable: ${why} (${oneLine(e)})`, kind === 'auth' || kind === 'missing-repo' ? 30 : 5, { cause: e });
}

