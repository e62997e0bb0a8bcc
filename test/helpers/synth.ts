/** Test helpers for synthesis: definition files in temp dirs, synthesized in-process. */
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { EMPTY_STATE, type StateRecords } from '../../core/records.ts';
import { loadDefinitions, synthesize, type SynthInputs, type SynthResult } from '../../src/synth/index.ts';
import YAML from 'yaml';
import { sourceRecordOf } from '../../src/watch/live-sources.ts';

export const TEST_SECRET = 'test-gc-secret';

export function tempDir(prefix = 'paddock-test-'): string {
  return mkdtempSync(path.join(tmpdir(), prefix));
}

/** Writes `files` (name -> source) into a new temp definitions dir and returns it. */
export function definitionsDir(files: Record<string, string>): string {
  const dir = tempDir('paddock-defs-');
  for (const [name, src] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    writeFileSync(path.join(dir, name), src);
  }
  return dir;
}

export function inputs(overrides: Partial<SynthInputs> = {}): SynthInputs {
  return {
    state: EMPTY_STATE,
    sidecarUrl: 'http://sidecar.test:8080',
    gcSecret: TEST_SECRET,
    argo: { repoURL: 'https://git.test/manifests.git', targetRevision: 'main', namespace: 'argocd', project: 'paddock' },
    ...overrides,
  };
}

/** Loads and synthesizes a definitions dir; throws the first load error. */
export async function synthDir(dir: string, overrides: Partial<SynthInputs> = {}): Promise<SynthResult> {
  const loaded = await loadDefinitions(dir);
  if (loaded.errors.length) throw loaded.errors[0];
  return synthesize(loaded.definitions, inputs(overrides));
}

/** Synthesizes one definition source. */
export function synthSource(source: string, overrides: Partial<SynthInputs> = {}): Promise<SynthResult> {
  return synthDir(definitionsDir({ 'env.ts': source }), overrides);
}

/** The parsed object in `result` at `path`. */
export function objectAt(result: SynthResult, p: string): any {
  const text = result.files.get(p);
  if (text === undefined) throw new Error(`no file ${p}; have:\n${[...result.files.keys()].join('\n')}`);
  return YAML.parse(text);
}

/** Synth inputs whose `state/sources/` records these live Deployments (as the watcher would). */
export function liveSources(deployments: ReadonlyMap<string, Record<string, any>>): Partial<SynthInputs> {
  const sources = new Map([...deployments.values()].map((d) => [`${d.metadata.namespace}/${d.metadata.name}`, sourceRecordOf(d)]));
  return { state: stateWith({ sources }) };
}

export function stateWith(partial: Partial<{ [K in keyof StateRecords]: StateRecords[K] }>): StateRecords {
  return { ...EMPTY_STATE, ...partial };
}
