// Vitest globalSetup of both tiers: the run gets a temp root of its own (TMPDIR for the test
// workers and every process they start), removed when the run ends. Tests make many temp dirs
// (repos, definitions, work trees) and do not each remove theirs; left in the system's /tmp,
// run after run, they piled up to tens of thousands, and anything that lists /tmp (esbuild
// looks up tsconfig.json in every parent directory of a definition file) slowed down with them.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export default function setup(): () => void {
  const before = process.env.TMPDIR;
  const root = mkdtempSync(path.join(tmpdir(), 'paddock-tests-'));
  process.env.TMPDIR = root;
  return () => {
    if (before === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = before;
    if (process.env.PADDOCK_KEEP_TEMP) console.log(`temp root kept (PADDOCK_KEEP_TEMP): ${root}`);
    else rmSync(root, { recursive: true, force: true, maxRetries: 3 });
  };
}
