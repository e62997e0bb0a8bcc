/**
 * src/watch: the definitions as the watcher knows them, kept fresh as files change.
 *
 * Each file's last good version is kept: a file that fails to load or to synthesize is reported
 * as one line and its previous version stays in force, so nothing is removed because of it, and
 * the fix is picked up by the next change. A change is adopted only if the whole set still
 * synthesizes (cheap: unchanged files come from the synth cache). A deleted file drops its groups.
 *
 * Owns: which definitions are in force. Must not touch: git (it hands sets to the committer).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { DefinitionError, isUserError } from '../errors.ts';
import type { DefinitionSet } from '../repo/committer.ts';
import { checkoutCommit } from '../repo/git/index.ts';
import { listDefinitionFiles, loadDefinitions, type Definition } from '../synth/loader.ts';
import { synthesize, SynthCache, type SynthInputs } from '../synth/synthesize.ts';

export interface Change {
  /** Files whose new version is now in force, or that were dropped. */
  readonly adopted: readonly string[];
  readonly removed: readonly string[];
  /** One line per file whose change was refused. */
  readonly problems: readonly string[];
}

export class Definitions {
  private readonly byFile = new Map<string, Definition>();
  /** Files that have never loaded: their groups in the repo must be kept as they are. */
  private readonly neverLoaded = new Set<string>();
  private version = 0;
  /** The git commit the directory was checked out at when the set in force was read (undefined when unknown). */
  private commit?: string;
  /** False once the directory was found outside any git work tree: no git call per change then. */
  private inGit = true;

  /** `cache`: share the committer's, so each file's output is held once. */
  constructor(readonly dir: string, private readonly inputs: () => SynthInputs, private readonly cache = new SynthCache()) {}

  /**
   * The set in force, for the committer: published whole at the end of each reload, so a commit
   * never pairs one checkout's definitions with another's commit.
   */
  current = (): DefinitionSet & { readonly broken: readonly string[] } => this.published;

  private published: DefinitionSet & { readonly broken: readonly string[] } = { definitions: [], version: 0, broken: [] };

  private publish(): void {
    this.published = {
      definitions: [...this.byFile.values()],
      version: this.version,
      broken: [...this.neverLoaded].map((f) => path.basename(f)),
      commit: this.commit,
      dir: this.dir,
    };
  }

  /** Definition files this set knows of: in force, or never loaded. */
  knownFiles(): string[] {
    return [...this.byFile.keys(), ...this.neverLoaded];
  }

  /** Every local file some definition is made of (for the file watcher). */
  inputsOf(): Set<string> {
    const out = new Set<string>();
    for (const d of this.byFile.values()) for (const i of d.inputs) out.add(i);
    return out;
  }

  /** True once `loadAll` ran. */
  loaded = false;

  /** Loads every file (at start). */
  async loadAll(): Promise<Change> {
    const files = existsSync(this.dir) ? await listDefinitionFiles(this.dir) : [];
    const change = await this.reload(files);
    this.loaded = true;
    return change;
  }

  /**
   * Re-reads what `changedPaths` touch: definition files themselves, and definitions that import
   * a changed file. Deleted definition files are dropped. The directory itself means every file.
   */
  async refresh(changedPaths: readonly string[]): Promise<Change> {
    const present = new Set(existsSync(this.dir) ? await listDefinitionFiles(this.dir) : []);
    const affected = new Set<string>();
    const resolved = changedPaths.map((c) => path.resolve(c));
    if (resolved.includes(path.resolve(this.dir))) for (const f of [...present, ...this.knownFiles()]) affected.add(f);
    for (const p of resolved) {
      if (present.has(p) || this.byFile.has(p) || this.neverLoaded.has(p)) affected.add(p);
      for (const d of this.byFile.values()) if (d.inputs.includes(p)) affected.add(d.absPath);
    }
    return this.reload([...affected]);
  }

  /**
   * Re-reads it all when the checkout is at another commit than the set in force (a git-sync swap
   * no file watch has seen yet: at startup, or while a commit waits for these definitions).
   */
  async reloadIfMoved(): Promise<Change | undefined> {
    return (await this.checkoutMoved()) ? this.refresh([this.dir]) : undefined;
  }

  /** Whether the checkout is at another commit than the set in force. */
  async checkoutMoved(): Promise<boolean> {
    if (!this.inGit || !this.commit) return false;
    const now = await checkoutCommit(this.dir);
    return !!now && now !== this.commit;
  }

  /** One reload at a time (the watcher's reactions and a waiting commit may both ask). */
  private reloading: Promise<unknown> = Promise.resolve();

  private reload(files: readonly string[]): Promise<Change> {
    const run = this.reloading.then(() => this.reloadNow(files));
    this.reloading = run.catch(() => undefined);
    return run;
  }

  private async reloadNow(files: readonly string[]): Promise<Change> {
    // The checkout's commit before and after reading: when they differ (a swap meanwhile), it is unknown.
    let before = this.inGit ? await checkoutCommit(this.dir) : undefined;
    if (!before) this.inGit = false;
    let change = await this.read(files);
    let after = this.inGit ? await checkoutCommit(this.dir) : undefined;
    // The checkout moved while it was read (a git-sync swap): read it all again, so the set in
    // force is one commit's and the commits it makes can name it.
    for (let tries = 0; before !== after && tries < 3; tries++) {
      before = after;
      const again = await this.read([...new Set([...(existsSync(this.dir) ? await listDefinitionFiles(this.dir) : []), ...this.knownFiles()])]);
      change = { adopted: [...new Set([...change.adopted, ...again.adopted])], removed: [...new Set([...change.removed, ...again.removed])], problems: again.problems };
      after = await checkoutCommit(this.dir);
    }
    this.commit = before === after ? after : undefined;
    this.publish();
    return change;
  }

  private async read(files: readonly string[]): Promise<Change> {
    const present = new Set(existsSync(this.dir) ? await listDefinitionFiles(this.dir) : []);
    const gone = files.filter((f) => !present.has(f));
    const toLoad = files.filter((f) => present.has(f));
    const { definitions, errors } = toLoad.length ? await loadDefinitions(this.dir, toLoad.map((f) => path.relative(this.dir, f))) : { definitions: [], errors: [] };
    const problems = errors.map((e) => e.message);
    for (const e of errors) {
      const abs = path.resolve(this.dir, path.basename(e.file));
      if (!this.byFile.has(abs)) this.neverLoaded.add(abs);
    }

    // Adopt the new versions only if the whole set still synthesizes; else name the file at fault.
    const candidate = new Map(this.byFile);
    for (const f of gone) candidate.delete(f);
    for (const d of definitions) candidate.set(d.absPath, d);
    let accepted = definitions;
    for (;;) {
      try {
        await synthesize([...candidate.values()], { ...this.inputs() }, this.cache);
        break;
      } catch (e) {
        if (!(e instanceof DefinitionError) || !isUserError(e)) throw e;
        const culprit = accepted.find((d) => d.file === e.file) ?? accepted[0];
        if (!culprit) throw e; // the set was broken before this change: nothing here to refuse
        problems.push(e.message);
        accepted = accepted.filter((d) => d !== culprit);
        const previous = this.byFile.get(culprit.absPath);
        if (previous) candidate.set(culprit.absPath, previous);
        else {
          candidate.delete(culprit.absPath);
          this.neverLoaded.add(culprit.absPath);
        }
      }
    }
    const adopted: string[] = [];
    for (const d of accepted) {
      if (this.byFile.get(d.absPath) !== d) adopted.push(d.file);
      this.byFile.set(d.absPath, d);
      this.neverLoaded.delete(d.absPath);
    }
    const removed: string[] = [];
    for (const f of gone) {
      if (this.byFile.delete(f)) removed.push(path.relative(process.cwd(), f) || f);
      this.neverLoaded.delete(f);
    }
    if (adopted.length || removed.length) this.version++;
    return { adopted, removed, problems };
  }
}
