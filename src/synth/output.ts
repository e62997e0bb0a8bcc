/**
 * Writes a synth result into a directory. Only the files paddock owns there (`README.md`,
 * `apps/`, `groups/`, `retired/`) are replaced; nothing else in the directory, and nothing outside it,
 * is touched. Unchanged files are not rewritten.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { readdir, readFile, rm, rmdir } from 'node:fs/promises';
import path from 'node:path';
import { APPS_DIR, GROUPS_DIR, README, RETIRED_DIR } from './layout.ts';

const OWNED_DIRS = [APPS_DIR, GROUPS_DIR, RETIRED_DIR] as const;
const OWNED_PREFIXES = OWNED_DIRS.map((d) => `${d}/`);

/** True for a repo path paddock's synth owns. (A commit cycle asks it of every path in the repo.) */
export function isOwnedPath(p: string): boolean {
  return p === README || OWNED_PREFIXES.some((d) => p.startsWith(d));
}

export async function listOwnedFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  async function walk(rel: string): Promise<void> {
    let entries;
    try {
      entries = await readdir(path.join(dir, rel), { withFileTypes: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'ENOTDIR') return;
      throw e;
    }
    for (const e of entries) {
      const p = `${rel}/${e.name}`;
      if (e.isDirectory()) await walk(p);
      else out.push(p);
    }
  }
  for (const root of OWNED_DIRS) await walk(root);
  try {
    await readFile(path.join(dir, README));
    out.push(README);
  } catch {
    // no README yet
  }
  return out.sort();
}

export interface WriteStats {
  readonly written: number;
  readonly removed: number;
  readonly unchanged: number;
}

export async function writeOwnedFiles(dir: string, files: ReadonlyMap<string, string>): Promise<WriteStats> {
  let written = 0;
  let removed = 0;
  let unchanged = 0;
  const existing = new Set(await listOwnedFiles(dir));
  for (const p of existing) {
    if (!files.has(p)) {
      await rm(path.join(dir, p), { force: true });
      removed++;
    }
  }
  const toWrite: string[] = [];
  for (const [p, content] of files) {
    const old = existing.has(p) ? await readFile(path.join(dir, p), 'utf8').catch(() => undefined) : undefined;
    if (old === content) unchanged++;
    else toWrite.push(p);
  }
  writePaths(dir, toWrite, files);
  written = toWrite.length;
  await pruneEmptyDirs(path.join(dir, GROUPS_DIR));
  return { written, removed, unchanged };
}

/**
 * Makes `dir` hold `files` at `paths`: written (parents made) where `files` has them, deleted
 * where not. Synchronous on purpose: a commit's few hundred small files take a few ms on one
 * thread, while awaiting each one interleaves them with request handling and multiplies the time.
 */
export function writePaths(dir: string, paths: readonly string[], files: ReadonlyMap<string, string>): void {
  const made = new Set<string>();
  for (const p of paths) {
    const abs = path.join(dir, p);
    const content = files.get(p);
    if (content === undefined) {
      rmSync(abs, { force: true });
      continue;
    }
    const parent = path.dirname(abs);
    if (!made.has(parent)) {
      mkdirSync(parent, { recursive: true });
      made.add(parent);
    }
    writeFileSync(abs, content);
  }
}

async function pruneEmptyDirs(dir: string): Promise<void> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const e of entries) {
    if (!e.isDirectory()) continue;
    const sub = path.join(dir, e.name);
    await pruneEmptyDirs(sub);
    if (!(await readdir(sub)).length) await rmdir(sub);
  }
}
