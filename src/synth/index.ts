/**
 * src/synth: turns definitions + `state/` records into the manifests repo's files.
 *
 * Owns: loading definition files, synthesis, validation, the repo layout, state records.
 * Must not touch: git (src/repo does), the clock, the network. Callers pass everything in.
 */
export { loadDefinitions, listDefinitionFiles, displayPath, type Definition, type LoadResult } from './loader.ts';
export { synthesize, SynthCache, type SynthInputs, type SynthResult, type GroupInfo, type PoolInfo, type WaitingClone } from './synthesize.ts';
export { parseState, readStateDir, recordFile } from './state.ts';
export { writeOwnedFiles, listOwnedFiles, isOwnedPath } from './output.ts';
export * from './layout.ts';
export * from './argo-objects.ts';
