/**
 * Loads definition files (`environments/*.ts`): each default-exports `(scope) => void`.
 *
 * Each file is bundled on its own with esbuild (as CommonJS, so no top-level await) and run as
 * a module body, so a definitions directory outside this repo needs no build step and no
 * node_modules of its own. `paddock`,
 * `constructs`, `cdk8s` and `cdk8s-plus-28` are not bundled: they resolve to the very module
 * instances this process uses, so `instanceof` and `Chart.of` hold across the boundary.
 * esbuild's metafile tells which files each definition imports (the watcher watches those too).
 *
 * Owns: reading definition files. Must not touch: git, the clock, the network.
 */
import { readdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import vm from 'node:vm';
import * as cdk8s from 'cdk8s';
import * as kplus from 'cdk8s-plus-28';
import * as constructsLib from 'constructs';
import type { Construct } from 'constructs';
import * as esbuild from 'esbuild';
import * as paddock from '../../constructs/index.ts';
import { DefinitionError } from '../errors.ts';

/** A loaded definition file. */
export interface Definition {
  /** The file as shown in messages: relative to the working directory when under it. */
  readonly file: string;
  readonly absPath: string;
  /** Adds the file's constructs to `scope`. */
  readonly build: (scope: Construct) => void;
  /** Absolute paths of every local file the definition is made of (itself included). */
  readonly inputs: readonly string[];
}

export interface LoadResult {
  readonly definitions: Definition[];
  /** Files that failed to load, each with one clear line. */
  readonly errors: DefinitionError[];
}

const SHARED = Symbol.for('paddock.shared-modules');
const SHARED_MODULES: Record<string, Record<string, unknown>> = {
  paddock,
  constructs: constructsLib,
  cdk8s,
  'cdk8s-plus-28': kplus,
};
(globalThis as any)[SHARED] = SHARED_MODULES;
const SHARED_FILTER = new RegExp(`^(${Object.keys(SHARED_MODULES).map((m) => m.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&')).join('|')})$`);
const OWN_NODE_MODULES = path.join(path.dirname(createRequire(import.meta.url).resolve('cdk8s/package.json')), '..');
const DEFINITION_FILE = /^[^._].*\.(ts|mts|js|mjs)$/;

/** `import.meta` in a definition (bundled as CommonJS) means the definition file's own. */
const IMPORT_META = {
  'import.meta.url': '__paddock_meta_url',
  'import.meta.filename': '__paddock_meta_filename',
  'import.meta.dirname': '__paddock_meta_dirname',
} as const;

/** Definition files directly in `dir`, sorted so every listing order gives the same result. */
export async function listDefinitionFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  return entries
    .filter((e) => e.isFile() && DEFINITION_FILE.test(e.name) && !e.name.endsWith('.d.ts') && !/\.(test|spec)\.[mc]?[jt]s$/.test(e.name))
    .map((e) => path.resolve(dir, e.name))
    .sort();
}

export function displayPath(absPath: string): string {
  const rel = path.relative(process.cwd(), absPath);
  return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : absPath;
}

/** Loads every definition file in `dir` (or just `files`). A file that fails is reported, not fatal. */
export async function loadDefinitions(dir: string, files?: readonly string[]): Promise<LoadResult> {
  const absFiles = files ? [...files].map((f) => path.resolve(dir, f)).sort() : await listDefinitionFiles(dir);
  if (!absFiles.length) return { definitions: [], errors: [] };
  let bundles: Map<string, Bundle>;
  try {
    bundles = await bundle(absFiles);
  } catch {
    // One broken file fails a batch; bundle one by one so each error names its own file.
    bundles = new Map();
    const errors: DefinitionError[] = [];
    for (const f of absFiles) {
      try {
        for (const [k, v] of await bundle([f])) bundles.set(k, v);
      } catch (e) {
        errors.push(new DefinitionError(displayPath(f), buildErrorLine(e)));
      }
    }
    const loaded = await importAll(absFiles.filter((f) => bundles.has(f)), bundles);
    return { definitions: loaded.definitions, errors: [...errors, ...loaded.errors].sort((a, b) => a.file.localeCompare(b.file)) };
  }
  return importAll(absFiles, bundles);
}

interface Bundle {
  readonly code: string;
  readonly inputs: string[];
}

async function bundle(absFiles: readonly string[]): Promise<Map<string, Bundle>> {
  const workDir = path.dirname(absFiles[0]);
  const result = await esbuild.build({
    entryPoints: absFiles.map((f) => ({ in: f, out: String(absFiles.indexOf(f)) })),
    absWorkingDir: workDir,
    bundle: true,
    write: false,
    outdir: workDir,
    format: 'cjs',
    platform: 'node',
    target: 'node20',
    define: IMPORT_META,
    metafile: true,
    logLevel: 'silent',
    nodePaths: [OWN_NODE_MODULES],
    plugins: [sharedModulesPlugin],
  });
  const out = new Map<string, Bundle>();
  for (const file of result.outputFiles) {
    const index = Number(path.basename(file.path, '.js'));
    const meta = result.metafile.outputs[path.relative(workDir, file.path)];
    const inputs = Object.keys(meta?.inputs ?? {}).filter((i) => !i.includes(':') && !i.includes('node_modules')).map((i) => path.resolve(workDir, i)).sort();
    const abs = absFiles[index];
    out.set(abs, { code: file.text, inputs });
  }
  return out;
}

/** Resolves the shared packages to this process's instances through a global registry. */
const sharedModulesPlugin: esbuild.Plugin = {
  name: 'paddock-shared-modules',
  setup(build) {
    build.onResolve({ filter: SHARED_FILTER }, (args) => ({ path: args.path, namespace: 'paddock-shared' }));
    build.onLoad({ filter: /.*/, namespace: 'paddock-shared' }, (args) => {
      const names = Object.keys(SHARED_MODULES[args.path]).filter((n) => n !== 'default' && /^[A-Za-z_$][\w$]*$/.test(n));
      const ref = `globalThis[Symbol.for('paddock.shared-modules')][${JSON.stringify(args.path)}]`;
      return {
        contents: `const m = ${ref};\nexport const { ${names.join(', ')} } = m;\nexport default (m.default ?? m);\n`,
        loader: 'js',
      };
    });
  },
};

async function importAll(absFiles: readonly string[], bundles: Map<string, Bundle>): Promise<LoadResult> {
  const definitions: Definition[] = [];
  const errors: DefinitionError[] = [];
  for (const abs of absFiles) {
    const b = bundles.get(abs)!;
    const file = displayPath(abs);
    try {
      const build = evaluate(abs, b.code).default;
      if (typeof build !== 'function') {
        errors.push(new DefinitionError(file, 'must default-export a function (scope) => { ... } that adds constructs to scope'));
        continue;
      }
      definitions.push({ file, absPath: abs, build, inputs: b.inputs });
    } catch (e) {
      errors.push(new DefinitionError(file, `fails to load: ${firstLine(e)}`));
    }
  }
  return { definitions, errors };
}

/**
 * Runs a bundle as a CommonJS module body and returns its exports. Not through Node's module
 * loader: nothing is cached for the process's life, so a definition's code is freed once the
 * definition is dropped (the watcher reloads files all day), and no loader hooks see it.
 */
function evaluate(abs: string, code: string): Record<string, any> {
  const fn = vm.compileFunction(code, ['exports', 'require', 'module', '__filename', '__dirname', IMPORT_META['import.meta.url'], IMPORT_META['import.meta.filename'], IMPORT_META['import.meta.dirname']], { filename: abs });
  const module = { exports: {} as Record<string, any> };
  fn.call(module.exports, module.exports, createRequire(abs), module, abs, path.dirname(abs), pathToFileURL(abs).href, abs, path.dirname(abs));
  return module.exports;
}

function buildErrorLine(e: unknown): string {
  const err = (e as esbuild.BuildFailure).errors?.[0];
  if (!err) return firstLine(e);
  const loc = err.location ? `line ${err.location.line}:${err.location.column + 1}: ` : '';
  if (/top-level await/i.test(err.text)) return `${loc}top-level await is not supported in a definition file (definitions are synthesized synchronously)`;
  return `${loc}${err.text}`;
}

export function firstLine(e: unknown): string {
  return String((e as Error)?.message ?? e).split('\n')[0];
}
