/**
 * Assembles paddock's long-running parts from configuration. `paddock serve`, `paddock up` and
 * `paddock watch` all start through here: `startWriter` gives each the definitions in force and
 * the committer that writes with them; `startRuntime` adds the lease ranch (with its reaper and
 * janitor) and the sidecar HTTP server to serve and up.
 */
import { readFile, stat } from 'node:fs/promises';
import type { FastifyInstance } from 'fastify';
import { checkListen, listenError, parseListen } from './config.ts';
import { isUserError, UserError } from './errors.ts';
import { logger } from './log.ts';
import { parseLeaseConfig } from './leases/config.ts';
import { Ranch, type LeaseStore, type PoolSpec } from './leases/ranch.ts';
import { Committer, type CommitInfo, type Logger } from './repo/committer.ts';
import { decideSettings, type WriterSettings } from './repo/settings.ts';
import { EMPTY_STATE } from '../core/records.ts';
import { SynthCache, synthInputs } from './synth/synthesize.ts';
import { Definitions } from './watch/definitions.ts';
import { ALL_ROUTES, buildSidecar, Metrics, type Mailer } from './sidecar/index.ts';

/** What every writer is configured with. */
export interface WriterConfig {
  readonly repo: string;
  readonly branch: string;
  /** This writer's settings and GC secret, held against the repo's. */
  readonly writer: WriterSettings & { readonly gcSecret: string };
  /** The definitions directory (checked to exist). */
  readonly definitionsDir: string;
  readonly allowMassRemoval?: boolean;
  readonly workDir?: string;
  /**
   * How long a batch waits for definitions newer than this writer's that the repo was rendered
   * from; 0: it never waits (the only writer of its repo, as `up` on its local one).
   * @default DEFINITIONS_WAIT_MS
   */
  readonly definitionsWaitMs?: number;
}

export interface RuntimeConfig extends WriterConfig {
  readonly apiTokens: readonly string[];
  /** Basic-auth users the lease routes require (`PADDOCK_LEASE_USERS`); none: open, as Boskos is by default. */
  readonly leaseUsers?: ReadonlyMap<string, string>;
  readonly listen: string;
  readonly workspaceDomains: readonly string[];
  readonly nodeportRange: { readonly min: number; readonly max: number };
  readonly nodeAddress: string;
  readonly leaseExpiryMs: number;
  /** How long a dirty resource stays removed before the janitor re-provisions it. */
  readonly cleaningDelayMs: number;
  readonly leaseConfigFile?: string;
  readonly mailer?: Mailer;
}

export interface Runtime {
  readonly committer: Committer;
  readonly ranch: Ranch;
  readonly server: FastifyInstance;
  readonly url: string;
  /** Re-reads pools from the last synthesis and the lease config file. */
  reloadPools(): Promise<void>;
  stop(): Promise<void>;
}

export interface WriterOptions {
  readonly clock?: () => Date;
  readonly onCommit?: (c: CommitInfo) => void;
  readonly onFollow?: (paths: readonly string[]) => void;
  readonly log?: Logger;
}

/** The definitions in force and the committer that writes with them, through one synth cache. */
export interface Writer {
  readonly definitions: Definitions;
  readonly committer: Committer;
  /** Loads every definition file (a file that cannot be read is one line; its groups stay as committed) and fetches the repo. */
  start(): Promise<void>;
}

/**
 * How long a watcher or sidecar waits for definitions newer than its own that another writer
 * already rendered (definitions-order.ts): git-sync's default period (30 s), a load, and margin.
 * The control plane's startupProbe allows for it (the sidecar's first commit comes before its port).
 */
const DEFINITIONS_WAIT_MS = 45_000;

export function startWriter(cfg: WriterConfig, opts: WriterOptions = {}): Writer {
  const cache = new SynthCache();
  const log = opts.log ?? logger;
  // Until the repo is read, definitions are checked with the settings this writer proposes.
  const proposed = synthInputs(decideSettings(undefined, cfg.writer).record, EMPTY_STATE, cfg.writer.gcSecret);
  let committer: Committer | undefined;
  const definitions = new Definitions(cfg.definitionsDir, () => committer?.synthInputs() ?? proposed, cache);
  committer = new Committer({
    repo: cfg.repo, branch: cfg.branch, definitions: definitions.current, writer: cfg.writer, allowMassRemoval: cfg.allowMassRemoval, whenBehind: cfg.definitionsWaitMs === 0 ? undefined : { waitMs: cfg.definitionsWaitMs ?? DEFINITIONS_WAIT_MS }, reloadDefinitions: () => definitions.reloadIfMoved(),
    workDir: cfg.workDir, clock: opts.clock, log, onCommit: opts.onCommit, onFollow: opts.onFollow, cache,
  });
  const c = committer;
  return {
    definitions, committer: c,
    async start() {
      const first = await definitions.loadAll();
      for (const p of first.problems) log.warn(`definition error: ${p}`);
      await c.refresh();
    },
  };
}

/** Lease records as commits through `committer`, each answered once pushed. */
export function leaseStore(committer: Committer): LeaseStore {
  return {
    persist: async (records, summary, requestId, requestedBy) => (await committer.submit({ body: { kind: 'leases', records, summary }, requestId, requestedBy })).commit,
    forget: async (keys, requestId) => {
      await committer.submit({ body: { kind: 'delete-leases', keys }, requestId, requestedBy: 'paddock pool sync' });
    },
  };
}

/** The lease ranch and the sidecar on a started writer's committer, after its first commit. */
export async function startRuntime(cfg: RuntimeConfig, committer: Committer, opts: { readonly clock?: () => Date } = {}): Promise<Runtime> {
  const clock = opts.clock ?? (() => new Date());
  const ranch = new Ranch(leaseStore(committer), clock);
  const metrics = new Metrics(committer, ranch);

  let leaseFileStamp = '';
  let filePools: PoolSpec[] = [];
  const readLeaseFile = async (file: string) => {
    try {
      const st = await stat(file);
      // A ConfigMap volume swaps a symlink to a new file: its inode tells it apart even at the same size and time.
      const stamp = `${st.ino}:${st.mtimeMs}:${st.size}`;
      if (stamp === leaseFileStamp) return;
      filePools = parseLeaseConfig(await readFile(file, 'utf8'), file);
      leaseFileStamp = stamp;
    } catch (e) {
      const code = !isUserError(e) && (e as NodeJS.ErrnoException).code;
      throw code ? new UserError('InvalidConfig', `--lease-config ${file}: ${code === 'ENOENT' ? 'no such file' : (e as Error).message}`) : e;
    }
  };
  const reloadPools = async () => {
    if (cfg.leaseConfigFile) await readLeaseFile(cfg.leaseConfigFile);
    const synthPools = committer.view().synth?.pools ?? [];
    await ranch.syncPools([...synthPools.map((p) => ({ type: p.type, names: p.names })), ...filePools]);
  };

  // What can stop the sidecar from starting is looked at before its first commit: the lease file, the address.
  if (cfg.leaseConfigFile) await readLeaseFile(cfg.leaseConfigFile);
  await checkListen(cfg.listen);
  // The first cycle: regenerate from the definitions, and learn the lease records.
  ranch.load(committer.view().state.leases.values());
  await committer.submit({ body: { kind: 'sync', summary: 'sync(definitions): start' }, requestId: `start-${clock().getTime()}`, requestedBy: 'paddock' }).catch((e) => {
    logger.error({ err: e }, 'first synchronisation failed');
  });
  await reloadPools();

  const server = await buildSidecar({
    committer,
    ranch,
    gcSecret: cfg.writer.gcSecret,
    apiTokens: cfg.apiTokens,
    leaseUsers: cfg.leaseUsers,
    workspaces: { domains: cfg.workspaceDomains, ports: cfg.nodeportRange, nodeAddress: cfg.nodeAddress, mailer: cfg.mailer },
    clock,
    metrics,
    logger: logger.child({ component: 'sidecar' }),
  }, ALL_ROUTES);
  const { host, port } = parseListen(cfg.listen);
  const url = await server.listen({ host, port }).catch((e: unknown) => {
    throw listenError(cfg.listen, e);
  });

  // Reaper, janitor and pool reload: small, bounded work every few seconds.
  let ticking = false;
  const timer = setInterval(() => {
    if (ticking) return;
    ticking = true;
    void (async () => {
      try {
        await ranch.reap(cfg.leaseExpiryMs);
        await ranch.janitor(cfg.cleaningDelayMs);
        await reloadPools();
      } catch (e) {
        logger.warn({ err: e }, 'lease upkeep failed; will retry');
      } finally {
        ticking = false;
      }
    })();
  }, 5_000);
  timer.unref();

  return {
    committer, ranch, server, url, reloadPools,
    async stop() {
      clearInterval(timer);
      await server.close();
      await committer.close();
    },
  };
}

