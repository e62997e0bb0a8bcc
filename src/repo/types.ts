/**
 * The committer's ports and records: what its owner gives it (definitions, options, a logger)
 * and what it answers (commits, answers, the repo as last seen).
 */
import type { StateRecords } from '../../core/records.ts';
import type { SynthCache, SynthResult } from '../synth/synthesize.ts';
import type { Definition } from '../synth/loader.ts';
import type { Outcome } from './intents.ts';
import type { WriterSettings } from './settings.ts';
import type { WhenBehind } from './definitions-order.ts';

/** The definitions the committer synthesizes with, as its owner currently knows them. */
export interface DefinitionSet {
  readonly definitions: readonly Definition[];
  /** Bumped whenever the set changes. */
  readonly version: number;
  /**
   * File names of definitions that exist but cannot be read now and have no good version in
   * memory: the groups they made stay in the repo exactly as committed.
   */
  readonly broken?: readonly string[];
  /** The git commit the definitions were checked out at, when they come from a checkout. */
  readonly commit?: string;
  /** The directory they were read from (where `commit` is checked out). */
  readonly dir?: string;
}

export interface CommitterOptions {
  /** Remote URL or local path of the manifests repo. */
  readonly repo: string;
  readonly branch: string;
  readonly definitions: () => DefinitionSet;
  /** This writer's settings and GC secret, held against the repo's `state/settings.yaml` every cycle. */
  readonly writer: WriterSettings;
  /** Allow a definitions change that removes more than half of the groups (and more than 3). */
  readonly allowMassRemoval?: boolean;
  /**
   * What a batch does while the repo's tip was rendered from definitions this writer's do not
   * contain (definitions-order.ts): a writer that runs on waits for them, the CLI refuses.
   * Unset: it writes with its own.
   */
  readonly whenBehind?: WhenBehind;
  /** Asked at each look while a batch waits for newer definitions: re-read them if their checkout moved (no file watch may run yet). */
  readonly reloadDefinitions?: () => Promise<unknown>;
  /** Local clone to work in. @default a new temp dir */
  readonly workDir?: string;
  /**
   * Run `git gc --auto` (git's thresholds) after every Nth push. A work tree kept from process to
   * process (the CLI's cache), which pushes once a process, says 1. @default 200
   */
  readonly maintainEvery?: number;
  readonly clock?: () => Date;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly random?: () => number;
  readonly retry?: Partial<RetryPolicy>;
  readonly log?: Logger;
  readonly onCommit?: (c: CommitInfo) => void;
  /**
   * Called when a fetch finds commits this writer did not make on top of the tip it knew, with
   * the paths they changed (sorted). Not at the first fetch.
   */
  readonly onFollow?: (paths: readonly string[]) => void;
  /** Most intents in one commit. @default 500 */
  readonly maxBatch?: number;
  /** Synth cache, shared with whoever else synthesizes the same definitions in this process. @default its own */
  readonly cache?: SynthCache;
}

export interface RetryPolicy {
  readonly initialMs: number;
  readonly factor: number;
  readonly capMs: number;
  readonly tries: number;
}

/** The part of a pino logger paddock's layers use. */
export interface Logger {
  info(obj: object | string, msg?: string): void;
  warn(obj: object | string, msg?: string): void;
  error(obj: object | string, msg?: string): void;
}

export interface CommitInfo {
  readonly sha: string;
  readonly subject: string;
  readonly intents: number;
  /** The requests the commit holds, by kind (`gc`, `ttl` and `demolish` for removals, else the intent's kind). */
  readonly kinds: Readonly<Record<string, number>>;
  readonly ms: number;
  readonly retries: number;
  /** Milliseconds spent in each step of the cycle that pushed: sync (fetch + reload), synth, write (files, index, commit), push. */
  readonly phases: Readonly<Record<'sync' | 'synth' | 'write' | 'push', number>>;
  /** Settings this commit changed (`paddock up` adopting its flags, `paddock settings set`). */
  readonly settingsChanged: readonly string[];
  /** The paths the commit changed, sorted. */
  readonly paths: readonly string[];
}

export interface Answer {
  readonly outcome: Outcome;
  /** The pushed commit holding the intent; undefined when nothing changed. */
  readonly commit?: string;
}

/** The repo as of the last fetch or push. */
export interface RepoView {
  readonly head?: string;
  readonly state: StateRecords;
  readonly synth?: SynthResult;
  readonly files: ReadonlyMap<string, string>;
}
