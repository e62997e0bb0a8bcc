// Vitest globalSetup of both tiers: the run gets a temp root of its own (TMPDIR for the test
// workers and every process they start, and paddock's cache dir under it), removed when the run
// ends. Tests make many temp dirs
// (repos, definitions, work trees) and do not each remove theirs; left in the system's /tmp,
// run after run, they piled up to tens of thousands, and anything that lists /tmp (esbuild
// looks up tsconfig.json in every parent directory of a definition file) slowed down with them.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export default function setup(): () => void {
  const before = { TMPDIR: process.env.TMPDIR, PADDOCK_CACHE_DIR: process.env.PADDOCK_CACHE_DIR };
  const root = mkdtempSync(path.join(tmpdir(), 'paddock-tests-'));
  process.env.TMPDIR = root;
  process.env.PADDOCK_CACHE_DIR = path.join(root, 'paddock-cache');
  return () => {
    for (const [k, v] of Object.entries(before)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    if (process.env.PADDOCK_KEEP_TEMP) console.log(`temp root kept (PADDOCK_KEEP_TEMP): ${root}`);
    else rmSync(root, { recursive: true, force: true, maxRetries: 3 });
  };
}
