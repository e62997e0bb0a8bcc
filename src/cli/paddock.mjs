#!/usr/bin/env node
// The `paddock` command. paddock is TypeScript; this shim runs it from one esbuild bundle of
// its sources, dist/cli/paddock.mjs, rebuilt whenever a source is newer (about 0.2 s). A watcher or
// sidecar then runs for days without a TypeScript loader in the process (tsx's loader thread
// and source maps cost some 60 MiB). Where dist/ cannot be written (a read-only install whose
// bundle is stale) or PADDOCK_NO_BUNDLE=1 is set, tsx runs the sources directly.
import { mkdirSync, readdirSync, renameSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BUNDLE = path.join(ROOT, 'dist', 'cli', 'paddock.mjs');

/** Newest modification time of paddock's own sources. */
function newestSource() {
  let newest = statSync(path.join(ROOT, 'package.json')).mtimeMs;
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

async function fromBundle() {
  let built = 0;
  try {
    built = statSync(BUNDLE).mtimeMs;
  } catch {
    // not built yet
  }
  if (built < newestSource()) {
    const { buildSync } = await import('esbuild');
    const tmp = `${BUNDLE}.${process.pid}.tmp`;
    mkdirSync(path.dirname(BUNDLE), { recursive: true });
    // Packages stay external: they load from node_modules, the same instances definitions get.
    buildSync({ entryPoints: [path.join(ROOT, 'src/cli/main.ts')], outfile: tmp, bundle: true, packages: 'external', platform: 'node', format: 'esm', target: 'node20', logLevel: 'error' });
    renameSync(tmp, BUNDLE);
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
