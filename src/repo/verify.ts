/**
 * `paddock verify`: does a commit equal synth(definitions, its own `state/`)?
 *
 * For each commit: the settings and records under `state/` at that commit, the definitions
 * its `Paddock-Definitions` trailer names (the directory given, or, when that differs and the
 * directory is a git checkout, the commit its `Paddock-Definitions-Commit` trailer names), and
 * the GC secret when given. The synthesized `README.md`, `apps/` and `groups/` are compared
 * with the commit's, file by file. Without the secret, GC tokens are compared as placeholders.
 *
 * Owns: reproducing commits. Must not touch: the repo being verified (it reads a fetched copy).
 */
import { mkdtempSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { UserError } from '../errors.ts';
import { definitionsDigest, loadDefinitions, type Definition } from '../synth/loader.ts';
import { isOwnedPath } from '../synth/output.ts';
import { parseState } from '../synth/state.ts';
import { synthesize, synthInputs, SynthCache } from '../synth/synthesize.ts';
import { trailer } from './definitions-order.ts';
import { keepGroupsOf } from './plan.ts';
import { remoteUrl } from './git/index.ts';
import { exportTree, RepoReader, workTreeOf } from './git/index.ts';
import { secretFingerprint, shortFingerprint } from './settings.ts';

export interface VerifyOptions {
  readonly repo: string;
  readonly branch: string;
  readonly definitionsDir: string;
  /** The GC secret; without it GC tokens are not compared. */
  readonly gcSecret?: string;
  /** One commit (default: the branch tip). */
  readonly rev?: string;
  /** Every commit of the branch (first parents), from `since` (exclusive) or from the first. */
  readonly all?: boolean;
  readonly since?: string;
}

export interface Verdict {
  readonly sha: string;
  readonly subject: string;
  /** Empty when the commit reproduces. `M path` differs, `+ path` missing from the commit, `- path` not made by paddock. */
  readonly differences: readonly string[];
  /** Why the commit could not be reproduced at all (no settings, definitions not found). */
  readonly problem?: string;
  /** Something to know about how it was verified. */
  readonly note?: string;
}

export interface VerifyReport {
  readonly verdicts: readonly Verdict[];
  /** False when GC tokens were compared as placeholders (no secret given). */
  readonly tokensChecked: boolean;
}

interface LoadedDefinitions {
  readonly definitions: readonly Definition[];
  readonly broken: readonly string[];
  readonly digest: string;
  readonly cache: SynthCache;
}

const GC_TOKEN = /\/gc\/(?:[A-Za-z0-9_-]{43}|unsigned)\b/g;

/** Verifies commits in order and stops at the first that does not reproduce. */
export async function verify(opts: VerifyOptions): Promise<VerifyReport> {
  const work = mkdtempSync(path.join(tmpdir(), 'paddock-verify-'));
  try {
    const reader = await RepoReader.fetch(remoteUrl(opts.repo), path.join(work, 'repo.git')).catch((e) => {
      throw new UserError('InvalidConfig', `${opts.repo}: cannot fetch the manifests repo (${String((e as Error).message).split('\n')[0]})`);
    });
    const tip = await reader.resolve(opts.branch);
    if (!tip) throw new UserError('NotFound', `${opts.repo} has no branch ${opts.branch}`);
    let range = opts.branch;
    if (opts.all) {
      if (opts.since) {
        const since = await reader.resolve(opts.since);
        if (!since) throw new UserError('NotFound', `--since ${opts.since} names no commit of ${opts.repo}`);
        range = `${since}..${opts.branch}`;
      }
    } else {
      const sha = await reader.resolve(opts.rev ?? opts.branch);
      if (!sha) throw new UserError('NotFound', `--rev ${opts.rev} names no commit of ${opts.repo}`);
      range = `${sha}~1..${sha}`;
      if (!(await reader.resolve(`${sha}~1`))) range = sha;
    }
    const commits = await reader.log(range);
    const sources = new DefinitionSources(opts.definitionsDir, work);
    const verdicts: Verdict[] = [];
    let parentFiles: Map<string, string> | undefined;
    for (const c of commits) {
      const files = await reader.files(c.sha, (p) => isOwnedPath(p) || p.startsWith('state/'));
      const verdict = await verifyCommit(c, files, c.parent ? (parentFiles ?? (await reader.files(c.parent, isOwnedPath))) : new Map(), sources, opts.gcSecret);
      verdicts.push(verdict);
      if (verdict.problem || verdict.differences.length) break;
      parentFiles = files;
    }
    return { verdicts, tokensChecked: !!opts.gcSecret };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

async function verifyCommit(
  c: { sha: string; message: string },
  files: ReadonlyMap<string, string>,
  parentFiles: ReadonlyMap<string, string>,
  sources: DefinitionSources,
  gcSecret: string | undefined,
): Promise<Verdict> {
  const subject = c.message.split('\n')[0];
  const fail = (problem: string): Verdict => ({ sha: c.sha, subject, differences: [], problem });
  let state;
  try {
    state = parseState(new Map([...files].filter(([p]) => p.startsWith('state/'))));
  } catch (e) {
    return fail(`its state/ cannot be read: ${(e as Error).message}`);
  }
  if (!state.settings) return fail('it has no state/settings.yaml (made before paddock recorded its settings); verify later commits with --since');
  if (gcSecret && secretFingerprint(gcSecret) !== state.settings.gcSecretFingerprint) {
    return fail(`the GC secret given is not the one of this commit (fingerprint ${shortFingerprint(secretFingerprint(gcSecret))}, the commit's ${shortFingerprint(state.settings.gcSecretFingerprint)})`);
  }
  // A commit without the trailer (made by hand, or by an older paddock) is held against the definitions given.
  const digest = trailer(c.message, 'Paddock-Definitions');
  const defs = digest ? await sources.find(digest, trailer(c.message, 'Paddock-Definitions-Commit')) : await sources.given();
  if (typeof defs === 'string') return fail(defs);

  let result;
  try {
    result = await synthesize(defs.definitions, synthInputs(state.settings, state, gcSecret), defs.cache);
  } catch (e) {
    return fail(`its definitions do not synthesize against its state/: ${(e as Error).message}`);
  }
  const expected = new Map(result.files);
  if (defs.broken.length) keepGroupsOf(new Set(defs.broken), parentFiles, expected);
  const mask = (text: string | undefined) => (gcSecret || text === undefined ? text : text.replace(GC_TOKEN, '/gc/<token>'));
  const differences: string[] = [];
  const paths = new Set([...expected.keys(), ...[...files.keys()].filter(isOwnedPath)]);
  for (const p of [...paths].sort()) {
    const want = mask(expected.get(p));
    const got = mask(files.get(p));
    if (want === got) continue;
    differences.push(`${got === undefined ? '+' : want === undefined ? '-' : 'M'} ${p}`);
  }
  return { sha: c.sha, subject, differences, ...(digest ? {} : { note: 'it has no Paddock-Definitions trailer (not made by paddock?): compared with the definitions given' }) };
}

/** Definitions by digest: the directory given, or a commit of the checkout it is in. */
class DefinitionSources {
  private readonly byDigest = new Map<string, LoadedDefinitions>();
  private readonly loadedDirs = new Map<string, LoadedDefinitions>();

  constructor(private readonly dir: string, private readonly work: string) {}

  /** The definitions in the directory given, as they are now. */
  given(): Promise<LoadedDefinitions> {
    return this.load(path.resolve(this.dir));
  }

  /** The definitions with `digest`, or a sentence saying why they cannot be had. */
  async find(digest: string, commit: string | undefined): Promise<LoadedDefinitions | string> {
    const known = this.byDigest.get(digest);
    if (known) return known;
    const here = await this.load(path.resolve(this.dir));
    if (here.digest === digest) return here;
    const sha = commit?.split(' ')[0];
    const tree = sha ? await workTreeOf(this.dir) : undefined;
    if (sha && tree) {
      const out = path.join(this.work, `definitions-${sha}`);
      try {
        await mkdir(out, { recursive: true });
        await exportTree(tree.top, sha, out);
        const then = await this.load(path.join(out, tree.prefix));
        if (then.digest === digest) return then;
        return `the definitions that made it are not available: its digest is ${digest}; ${this.dir} gives ${here.digest}, and ${this.dir} at ${sha} gives ${then.digest}`;
      } catch (e) {
        return `the definitions that made it are not available: its digest is ${digest}, ${this.dir} gives ${here.digest}, and ${sha} cannot be read from ${tree.top} (${String((e as Error).message).split('\n')[0]})`;
      }
    }
    const hint = commit ? ` (they were checked out at ${commit}, but ${this.dir} is not in a git work tree)` : '';
    return `the definitions that made it are not available: its digest is ${digest}, ${this.dir} gives ${here.digest}${hint}`;
  }

  private async load(dir: string): Promise<LoadedDefinitions> {
    const seen = this.loadedDirs.get(dir);
    if (seen) return seen;
    const loaded = await loadDefinitions(dir).catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT' || e.code === 'ENOTDIR') throw new UserError('InvalidConfig', `${dir}: no such definitions directory`);
      throw e;
    });
    const broken = loaded.errors.map((e) => path.basename(e.file));
    const defs: LoadedDefinitions = { definitions: loaded.definitions, broken, digest: definitionsDigest(loaded.definitions, broken), cache: new SynthCache() };
    this.loadedDirs.set(dir, defs);
    this.byDigest.set(defs.digest, defs);
    return defs;
  }
}
