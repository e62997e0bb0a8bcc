/**
 * src/repo/git: every git command paddock runs, and the only importer of simple-git. process.ts
 * runs git (environment, timeouts, error classes), work-tree.ts is the committer's work tree
 * (fetch, read, commit with fast-import, push; nothing checked out), daemon.ts holds git://
 * connections itself (push, the remote's refs: git's client waits 40 ms on each), reader.ts reads
 * fetched repositories (`verify`, `status`, the sidecar's reads), checkout.ts keeps a definitions
 * repository checked out for `watch --definitions-repo`.
 */
export * from './checkout.ts';
export * from './process.ts';
export * from './reader.ts';
export * from './work-tree.ts';
