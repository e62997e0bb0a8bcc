/**
 * Loads definition files (`environments/*.ts`): each default-exports `(scope) => void`.
 *
 * The files are bundled with esbuild, all of them into one CommonJS bundle (so a local helper
 * they share is one module, compiled once; no top-level await), and run as a module body, so
 * a definitions directory outside this repo needs no build step and no node_modules of its own.
 * When the batch fails (a syntax error, a throw at load), each file is bundled and run on its
 * own, so each error names its file. `paddock`, `constructs`, `cdk8s` and `cdk8s-plus-28` are
 * not bundled: they resolve to the very module instances this process uses, so `instanceof`
 * and `Chart.of` hold across the boundary. esbuild's metafile tells which files each definition
 * imports (the watcher watches those too).
 *
 * Each file's text, as esbuild reads it, starts the validators of the kinds it names loading
 * (validate.ts's `prefetchValidators`): the main thread is otherwise idle while esbuild works.
 *
 * Owns: reading definition files. Must not touch: git, the clock, the network.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import vm from 'node:vm';
import * as cdk8s from 'cdk8s';
import * as constructsLib from 'constructs';
import type { Construct } from 'constructs';
import * as esbuild from 'esbuild';
import * as paddock from '../../constructs/index.ts';
import { DefinitionError, firstLine } from '../errors.ts';
import { prefetchValidators } from './validate.ts';

/** A loaded definition file. */
export interface Definition {
  /** The file as shown in messages: relative to the working directory when under it. */
  readonly file: string;
  readonly absPath: string;
  /** Adds the file's constructs to `scope`. */
  readonly build: (scope: Construct) => void;
  /** Absolute paths of every local file the definition is made of (itself included). */
  readonly inputs: readonly string[];
  /** sha256 of those files (paths relative to the definition's directory, and contents), as loaded. */
  readonly digest: string;
}

export interface LoadResult {
  readonly definitions: Definition[];
  /** Files that failed to load, each with one clear line. */
  readonly errors: DefinitionError[];
}

/** paddock's own `require`: its node_modules. */
const ownRequire = createRequire(import.meta.url);

/**
 * The packages a definition shares with paddock: its `import ... from 'cdk8s'` gets this
 * process's instance, so its constructs are the ones synthesis knows. Left out of the bundle
 * (esbuild resolves nothing for them) and handed over by the bundle's `require` (`requireFor`).
 */
const SHARED_MODULES: Record<string, Record<string, unknown>> = {
  paddock,
  constructs: constructsLib,
  cdk8s,
  // A quarter of a second to load, and most definitions never import it: loaded when one does.
  get 'cdk8s-plus-28'() {
    return ownRequire('cdk8s-plus-28') as Record<string, unknown>;
  },
};
const SHARED_NAMES = Object.keys(SHARED_MODULES);
/** What a definition's `require` of a shared package returns (made on first use). */
const sharedExports = new Map<string, Record<string, unknown>>();
const OWN_NODE_MODULES = path.join(path.dirname(ownRequire.resolve('cdk8s/package.json')), '..');
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
  // All files as one bundle: a local helper they share is one module, compiled and optimized once.
  // When that fails (a syntax error, a throw at load), each file on its own, so each error names its file.
  const loaded = (await loadTogether(absFiles).catch(() => undefined)) ?? (await Promise.all(absFiles.map(loadAlone)));
  return {
    definitions: loaded.filter((d): d is Definition => !(d instanceof DefinitionError)),
    errors: loaded.filter((d): d is DefinitionError => d instanceof DefinitionError),
  };
}

async function loadTogether(absFiles: readonly string[]): Promise<Array<Definition | DefinitionError>> {
  const b = await bundle(absFiles);
  const exports = evaluate(path.join(path.dirname(absFiles[0]), '(definitions)'), b.code);
  return absFiles.map((abs, i) => definitionOf(abs, exports[`d${i}`], b.inputs.get(abs)!, b.texts));
}

async function loadAlone(abs: string): Promise<Definition | DefinitionError> {
  let b: Bundle;
  try {
    b = await bundle([abs]);
  } catch (e) {
    return new DefinitionError(displayPath(abs), buildErrorLine(e));
  }
  try {
    return definitionOf(abs, evaluate(abs, b.code).d0, b.inputs.get(abs)!, b.texts);
  } catch (e) {
    return new DefinitionError(displayPath(abs), `fails to load: ${firstLine(e)}`);
  }
}

function definitionOf(abs: string, exports: Record<string, any> | undefined, inputs: string[], texts: ReadonlyMap<string, string>): Definition | DefinitionError {
  const file = displayPath(abs);
  const build = exports?.default;
  if (typeof build !== 'function') return new DefinitionError(file, 'must default-export a function (scope) => { ... } that adds constructs to scope');
  return { file, absPath: abs, build, inputs, digest: inputsDigest(path.dirname(abs), inputs, texts) };
}

/** The digest of the very text the bundle was built from (`texts`), so a file replaced meanwhile cannot be digested as another version than the one that runs. */
function inputsDigest(dir: string, inputs: readonly string[], texts: ReadonlyMap<string, string>): string {
  const h = createHash('sha256');
  for (const f of inputs) {
    h.update(path.relative(dir, f)).update('\0');
    const text = texts.get(f);
    if (text !== undefined) h.update(text).update('\0');
    else {
      try {
        h.update(readFileSync(f)).update('\0'); // read by esbuild itself (JSON and the like)
      } catch {
        h.update('(unreadable)\0');
      }
    }
  }
  return h.digest('hex');
}

/**
 * One digest for a set of definitions (and the names of files that could not be loaded): what
 * a commit's `Paddock-Definitions` trailer records, so `paddock verify` can tell whether the
 * definitions it has are the ones that made a commit. Independent of order and location.
 */
export function definitionsDigest(definitions: readonly Pick<Definition, 'absPath' | 'digest'>[], broken: readonly string[] = []): string {
  const h = createHash('sha256');
  const lines = [...definitions.map((d) => `${path.basename(d.absPath)} ${d.digest}`), ...broken.map((b) => `${path.basename(b)} (broken)`)].sort();
  for (const l of lines) h.update(l).update('\n');
  return `sha256:${h.digest('hex')}`;
}

interface Bundle {
  /** CommonJS; exports `d<i>`, the module namespace of `absFiles[i]`. */
  readonly code: string;
  /** Per definition file: every local file it is made of, itself included. */
  readonly inputs: Map<string, string[]>;
  /** The text of each local module as the bundle read it, by absolute path. */
  readonly texts: Map<string, string>;
}

async function bundle(absFiles: readonly string[]): Promise<Bundle> {
  const workDir = path.dirname(absFiles[0]);
  const texts = new Map<string, string>();
  const result = await esbuild.build({
    stdin: { contents: absFiles.map((f, i) => `export * as d${i} from ${JSON.stringify(f)};`).join('\n'), resolveDir: workDir, sourcefile: '(definitions)', loader: 'js' },
    absWorkingDir: workDir,
    bundle: true,
    // Nothing to gain from dropping the code no definition uses (a module's body is small and
    // runs anyway); finding it cost esbuild some 30 of its 280 ms at 2,000 files.
    treeShaking: false,
    write: false,
    format: 'cjs',
    platform: 'node',
    target: 'node20',
    define: IMPORT_META,
    metafile: true,
    logLevel: 'silent',
    nodePaths: [OWN_NODE_MODULES],
    // Shared packages (and their subpaths) stay require() calls: see requireFor.
    external: SHARED_NAMES,
    plugins: [importMetaPlugin(texts)],
  });
  // Each file's inputs: what it reaches through the import graph, packages left out.
  const graph = result.metafile.inputs;
  const local = (p: string) => !p.includes(':') && !p.includes('node_modules') && p in graph;
  const inputs = new Map<string, string[]>();
  for (const abs of absFiles) {
    const seen = new Set<string>();
    const visit = (p: string) => {
      if (seen.has(p) || !local(p)) return;
      seen.add(p);
      for (const i of graph[p].imports) if (!i.external) visit(i.path);
    };
    visit(path.relative(workDir, abs) || path.basename(abs));
    inputs.set(abs, [...seen].map((p) => path.resolve(workDir, p)).sort());
  }
  return { code: result.outputFiles[0].text, inputs, texts };
}

/**
 * `import.meta` of each local module is its own file's: a declaration put in front of its first
 * line (so line numbers in errors stay right) that the IMPORT_META defines bind to. Only in a
 * file with the word `meta` in it, which every file that uses `import.meta` has, however spaced
 * (`import .meta`): the three paths would be about a quarter of a small definition's bundle.
 */
const importMetaPlugin = (texts: Map<string, string>): esbuild.Plugin => ({
  name: 'paddock-import-meta',
  setup(build) {
    // Synchronous: a definitions directory is thousands of small files, and an async read is
    // three trips to the thread pool each.
    build.onLoad({ filter: /\.[mc]?[jt]sx?$/ }, (args) => {
      if (args.path.includes(`${path.sep}node_modules${path.sep}`)) return undefined;
      const text = readFileSync(args.path, 'utf8');
      texts.set(args.path, text);
      void prefetchValidators(text);
      const ext = path.extname(args.path).replace(/^\.[mc]?/, '') as esbuild.Loader;
      if (!/\bmeta\b/.test(text)) return { contents: text, loader: ext };
      const decl = `var ${IMPORT_META['import.meta.url']} = ${JSON.stringify(pathToFileURL(args.path).href)}, ${IMPORT_META['import.meta.filename']} = ${JSON.stringify(args.path)}, ${IMPORT_META['import.meta.dirname']} = ${JSON.stringify(path.dirname(args.path))};`;
      // A `#!` line stays a comment after the declaration (in a comment before it, the declaration would be too).
      return { contents: text.startsWith('#!') ? text.replace(/^#!.*/, (l) => `${decl} //${l.slice(2)}`) : `${decl} ${text}`, loader: ext };
    });
  },
});

/**
 * Runs a bundle as a CommonJS module body and returns its exports. Not through Node's module
 * loader: nothing is cached for the process's life, so a definition's code is freed once the
 * definition is dropped (the watcher reloads files all day), and no loader hooks see it.
 */
function evaluate(abs: string, code: string): Record<string, any> {
  const fn = vm.compileFunction(code, ['exports', 'require', 'module', '__filename', '__dirname', IMPORT_META['import.meta.url'], IMPORT_META['import.meta.filename'], IMPORT_META['import.meta.dirname']], { filename: abs });
  const module = { exports: {} as Record<string, any> };
  fn.call(module.exports, module.exports, requireFor(abs), module, abs, path.dirname(abs), pathToFileURL(abs).href, abs, path.dirname(abs));
  return module.exports;
}

/**
 * The `require` a definition bundle runs with. A shared package is this process's instance, as
 * a copy of its exports, so that a default import of it is the whole package, as it was when the
 * bundle imported it as an ES module: a CommonJS package's own exports mark `__esModule` (not
 * enumerable, so the copy drops it), which would make esbuild's interop take their missing
 * `default`; Node's namespace of one keeps `__esModule` and has a `default` that is the whole
 * package. A file inside a shared package (`cdk8s/lib/...`) comes from paddock's own
 * node_modules; anything else from the definition's.
 */
function requireFor(abs: string): NodeJS.Require {
  const definitionRequire = createRequire(abs);
  const required = (id: string): unknown => {
    if (Object.hasOwn(SHARED_MODULES, id)) {
      let m = sharedExports.get(id);
      if (!m) sharedExports.set(id, (m = Object.freeze({ ...SHARED_MODULES[id] })));
      return m;
    }
    return SHARED_NAMES.some((n) => id.startsWith(`${n}/`)) ? ownRequire(id) : definitionRequire(id);
  };
  return Object.assign(required, definitionRequire) as NodeJS.Require;
}

function buildErrorLine(e: unknown): string {
  const err = (e as esbuild.BuildFailure).errors?.[0];
  if (!err) return firstLine(e);
  const loc = err.location ? `line ${err.location.line}:${err.location.column + 1}: ` : '';
  if (/top-level await/i.test(err.text)) return `${loc}top-level await is not supported in a definition file (definitions are synthesized synchronously)`;
  return `${loc}${err.text}`;
}

