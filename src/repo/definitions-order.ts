/**
 * How a writer's definitions stand to the ones the repo's tip was rendered from.
 *
 * Every writer renders the whole tree from its own definitions, so one whose definitions are
 * older than the tip's would undo what the newer ones made: drop the groups added since (Argo
 * CD prunes them), bring back deleted ones, revert edits. Each commit names its definitions by
 * digest (`Paddock-Definitions`) and, from a checkout, by commit (`Paddock-Definitions-Commit`);
 * the order of two definitions commits is the checkout's history: newer definitions contain the
 * tip's commit.
 *
 * Owns: that comparison, and how long a writer that runs on waits for newer definitions. Must
 * not touch: git beyond asking it (git/), the cycle (the committer waits, the CLI refuses).
 */
import type { UserError } from '../errors.ts';
import { definitionsDigest } from '../synth/loader.ts';
import { containsCommit } from './git/index.ts';
import type { DefinitionSet, Logger } from './types.ts';

export type Standing =
  /** The tip was rendered from these definitions, or ones they contain. */
  | { readonly kind: 'current' }
  /** The tip's definitions commit is not in these definitions' history: older, or another branch, or not fetched yet. */
  | { readonly kind: 'behind'; readonly tipCommit: string; readonly ours: string; readonly missing: boolean }
  /** Other definitions, with no commits to order them by (outside git, a shallow clone, a modified checkout at the tip). */
  | { readonly kind: 'unknown'; readonly tipDigest: string };

/** `tipMessage`: the message of the repo's tip, undefined for an empty repo. */
export async function standing(tipMessage: string | undefined, defs: DefinitionSet): Promise<Standing> {
  const tipDigest = tipMessage && trailer(tipMessage, 'Paddock-Definitions');
  if (!tipDigest || tipDigest === definitionsDigest(defs.definitions, defs.broken)) return { kind: 'current' };
  const tipCommit = trailer(tipMessage, 'Paddock-Definitions-Commit');
  // A checkout with local changes is its commit and more: it contains that commit's history.
  const ours = defs.commit?.split(' ')[0];
  if (tipCommit && /^[0-9a-f]{40,64}$/.test(tipCommit) && ours && defs.dir) {
    const contains = await containsCommit(defs.dir, ours, tipCommit);
    if (contains === true) return { kind: 'current' };
    if (contains !== undefined) return { kind: 'behind', tipCommit, ours, missing: contains === 'missing' };
  }
  return { kind: 'unknown', tipDigest };
}

/** The value of trailer `key` in a commit message. */
export function trailer(message: string, key: string): string | undefined {
  return new RegExp(`^${key}: (.+)$`, 'm').exec(message)?.[1].trim();
}

/** What a writer does when its definitions are behind the tip's: wait for them (up to `waitMs`), or refuse with the error `refuse` makes. */
export type WhenBehind = { readonly waitMs: number } | { readonly refuse: (s: Behind) => UserError };

export type Behind = Extract<Standing, { kind: 'behind' }>;

/**
 * A committer's look at each tip before it writes. A writer that runs on (watcher, sidecar, each
 * pod with its own git-sync) waits while the tip was rendered from definitions its own do not
 * contain: a commit from its own would undo theirs until it catches up (the committer looks
 * again each second, from a fetch). After `waitMs` of being behind it writes with its own anyway,
 * saying so: a commit naming definitions this writer never gets (another branch's, pushed with
 * `--allow-definitions-change`) must not stop it for good. The CLI refuses instead, at every try
 * (the tip may move between its first look and its push).
 */
export class DefinitionsGate {
  /** How the definitions stood to the tip's when last looked at. */
  private at?: { readonly head: string; readonly defs: DefinitionSet; readonly standing: Standing };
  /** Since when (ms, `now`) this writer has been behind, and whether it said it gave up. */
  private since?: { readonly at: number; gaveUp: boolean };

  constructor(private readonly when: WhenBehind, private readonly messageOf: (sha: string) => Promise<string>, private readonly log: Logger, private readonly now: () => number) {}

  /** Whether a commit on `head` from `defs` may go, must wait, or is refused. One git call per tip another writer made. */
  async check(head: string, defs: DefinitionSet): Promise<'go' | 'wait' | UserError> {
    if (this.at?.head !== head || this.at.defs !== defs) this.at = { head, defs, standing: await standing(await this.messageOf(head), defs) };
    const s = this.at.standing;
    if (s.kind !== 'behind') {
      this.since = undefined;
      return 'go';
    }
    if ('refuse' in this.when) return this.when.refuse(s);
    if (!this.since) {
      this.since = { at: this.now(), gaveUp: false };
      this.log.info({ tipDefinitions: s.tipCommit, ours: s.ours, notFetched: s.missing }, `the repo was rendered from definitions commit ${s.tipCommit.slice(0, 12)}, which ours (${s.ours.slice(0, 12)}) do not contain: waiting for them before writing`);
    }
    const waited = this.now() - this.since.at;
    if (waited < this.when.waitMs) return 'wait';
    if (!this.since.gaveUp) {
      this.since.gaveUp = true;
      this.log.warn({ tipDefinitions: s.tipCommit, ours: s.ours }, `the repo was rendered from definitions commit ${s.tipCommit.slice(0, 12)}, which ours (${s.ours.slice(0, 12)}) still do not contain after ${(waited / 1000).toFixed(1)} s: writing with ours`);
    }
    return 'go';
  }

  /** This writer pushed `head` from `defs`: they are the tip's. */
  wrote(head: string, defs: DefinitionSet): void {
    this.at = { head, defs, standing: { kind: 'current' } };
    this.since = undefined;
  }
}
