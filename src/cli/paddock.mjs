#!/usr/bin/env node
// The `paddock` command. paddock is TypeScript; this shim runs it from an esbuild bundle of its
// sources (and of the small packages every command loads, see BUNDLED), dist/cli/paddock.mjs and
// its chunks, rebuilt whenever a source is newer (about 0.4 s). A watcher or sidecar then runs for
// days without a TypeScript loader in the process (tsx's loader thread and source maps cost some 60
// MiB). Each command is a chunk of its own, so `paddock status` does not load the sidecar's HTTP
// server or the Kubernetes client. Where dist/ cannot be written (a read-only install whose bundle
// is stale) or PADDOCK_NO_BUNDLE=1 is set, tsx runs the sources directly.
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import module from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

// Node 22.1+ keeps V8's compiled code of the bundle and its packages between runs (in
// $NODE_COMPILE_CACHE, else the temp dir; NODE_DISABLE_COMPILE_CACHE=1 turns it off): a one-shot
// command starts some 60 ms sooner. Node 20 has no such cache; a cache it cannot write is skipped.
module.enableCompileCache?.();

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BUNDLE = path.join(ROOT, 'dist', 'cli', 'paddock.mjs');

/** Newest modification time of paddock's own sources and of its installed packages. */
function newestSource() {
  // Each install rewrites its package manager's record in node_modules (npm, pnpm, yarn 1, yarn
  // 2+): the bundled packages may have changed.
  const installed = ['.package-lock.json', '.modules.yaml', '.yarn-integrity', '.yarn-state.yml'].map((f) => mtimeOf(path.join(ROOT, 'node_modules', f)));
  let newest = Math.max(statSync(path.join(ROOT, 'package.json')).mtimeMs, ...installed);
  const walk = (dir) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (/\.(ts|mts|cts|js|mjs|cjs|json)$/.test(e.name)) newest = Math.max(newest, statSync(p).mtimeMs);
    }
  };
  walk(path.join(ROOT, 'src'));
  walk(path.join(ROOT, 'constructs'));
  walk(path.join(ROOT, 'core'));
  return newest;
}

/** A file's modification time; 0 when it does not exist. */
function mtimeOf(file) {
  try {
    return statSync(file).mtimeMs;
  } catch {
    return 0;
  }
}

/**
 * Packages paddock's one-shot commands load on every call, bundled with its sources: each is
 * dozens of small modules, and Node 20 loads a module at a time (zod alone is some 100 files,
 * 115 ms to import, 40 ms as one file). None is shared with definitions or holds files of its own.
 */
const BUNDLED = new Set(['zod', 'commander', 'simple-git', 'js-yaml', 'mustache', 'yaml']);

/**
 * Every other package stays external and loads from node_modules: cdk8s, constructs and
 * cdk8s-plus-28 must be the instances definitions get; esbuild and pino load files of their own;
 * the server's packages load once in a process that runs for days.
 */
function externalPackages() {
  const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
  const names = Object.keys({ ...pkg.dependencies, ...pkg.optionalDependencies }).filter((n) => !BUNDLED.has(n));
  return names.flatMap((n) => [n, `${n}/*`]);
}

/** A process loads its chunks within moments of reading the entry; this is a wide margin over that. */
const CHUNK_GRACE_MS = 60_000;

/**
 * Removes the chunks of the builds before the one just replaced (whose entry was written at
 * `replaced`), so rebuilds do not pile up. Every build rewrites all of its chunks just before its
 * entry, so a chunk written well before the replaced entry belongs to none of the two last builds;
 * the replaced build's own chunks stay for a process that read its entry a moment ago, and nothing
 * goes while that entry is younger than the grace time.
 */
function removeOlderChunks(dir, replaced) {
  if (!replaced || Date.now() - replaced < CHUNK_GRACE_MS) return;
  for (const chunk of readdirSync(dir)) {
    const file = path.join(dir, chunk);
    if (mtimeOf(file) < replaced - CHUNK_GRACE_MS) rmSync(file, { force: true });
  }
}

async function fromBundle() {
  const built = mtimeOf(BUNDLE);
  const newest = newestSource();
  if (built < newest) {
    const { buildSync } = await import('esbuild');
    const dir = path.dirname(BUNDLE);
    const tmp = `${dir}.${process.pid}.tmp`;
    buildSync({
      entryPoints: { paddock: path.join(ROOT, 'src/cli/main.ts') }, outdir: tmp, outExtension: { '.js': '.mjs' },
      splitting: true, chunkNames: 'chunks/[name]-[hash]',
      bundle: true, external: externalPackages(), platform: 'node', format: 'esm', target: 'node20', logLevel: 'error',
      // Bundled CommonJS packages (simple-git, commander) call require() for Node's own modules.
      banner: { js: "import { createRequire as __paddockRequire } from 'node:module'; const require = __paddockRequire(import.meta.url);" },
    });
    // Every file lands by rename, chunks first (their names hold their content's hash, so a
    // concurrent build renames the same bytes), the entry last: a process that reads the entry
    // finds every chunk it names. A concurrent build that finished meanwhile is left in place.
    if (mtimeOf(BUNDLE) < newest) {
      mkdirSync(path.join(dir, 'chunks'), { recursive: true });
      for (const chunk of readdirSync(path.join(tmp, 'chunks'))) renameSync(path.join(tmp, 'chunks', chunk), path.join(dir, 'chunks', chunk));
      renameSync(path.join(tmp, 'paddock.mjs'), BUNDLE);
      removeOlderChunks(path.join(dir, 'chunks'), built);
    }
    rmSync(tmp, { recursive: true, force: true });
  }
  return import(pathToFileURL(BUNDLE).href);
}

async function fromSources() {
  const { register } = await import('tsx/esm/api');
  register();
  return import('./main.ts');
}

let program;
if (process.env.PADDOCK_NO_BUNDLE === '1') program = await fromSources();
else {
  try {
    program = await fromBundle();
  } catch (e) {
    if (!['EACCES', 'EROFS', 'EPERM'].includes(e?.code)) throw e;
    program = await fromSources();
  }
}
process.exitCode = await program.main(process.argv);
