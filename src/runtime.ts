/**
 * Assembles paddock's long-running parts from configuration: the committer, the lease ranch
 * (with its reaper and janitor), and the sidecar HTTP server. `paddock serve` and
 * `paddock up` both start through here.
 */
import { readFile, stat } from 'node:fs/promises';
import type { FastifyInstance } from 'fastify';
import { parseListen } from './config.ts';
import { logger } from './log.ts';
import { parseLeaseConfig } from './leases/config.ts';
import { Ranch, type PoolSpec } from './leases/ranch.ts';
import { Committer, type CommitInfo, type DefinitionSet } from './repo/committer.ts';
import type { WriterSettings } from './repo/settings.ts';
import type { SynthCache } from './synth/synthesize.ts';
import { ALL_ROUTES, buildSidecar, Metrics, type Mailer } from './sidecar/index.ts';

export interface RuntimeConfig {
  readonly repo: string;
  readonly branch: string;
  /** This writer's settings and GC secret, held against the repo's. */
  readonly writer: WriterSettings & { readonly gcSecret: string };
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
  readonly allowMassRemoval?: boolean;
  readonly mailer?: Mailer;
  readonly workDir?: string;
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

/** One line per commit, for people: verb, what, files changed, time. */
export function commitLine(c: CommitInfo): string {
  return `commit ${c.sha.slice(0, 8)} ${c.subject} (${c.paths.length} files, ${c.intents} requests, ${c.ms} ms${c.retries ? `, ${c.retries} retries` : ''})` +
    ` [sync ${c.phases.sync} synth ${c.phases.synth} write ${c.phases.write} push ${c.phases.push} ms]` +
    c.settingsChanged.map((line) => `\n  settings changed by this writer: ${line}`).join('');
}

export interface RuntimeOptions {
  readonly clock?: () => Date;
  readonly onCommit?: (c: CommitInfo) => void;
  /** Synth cache shared with the definitions' own checks. */
  readonly cache?: SynthCache;
}

export async function startRuntime(cfg: RuntimeConfig, definitions: () => DefinitionSet, opts: RuntimeOptions = {}): Promise<Runtime> {
  const clock = opts.clock ?? (() => new Date());
  const committer = new Committer({
    repo: cfg.repo,
    branch: cfg.branch,
    definitions,
    writer: cfg.writer,
    allowMassRemoval: cfg.allowMassRemoval,
    workDir: cfg.workDir,
    clock,
    log: logger,
    onCommit: opts.onCommit,
    cache: opts.cache,
  });
  const ranch = new Ranch({
    persist: async (records, summary, requestId, requestedBy) => {
      await committer.submit({ body: { kind: 'leases', records, summary }, requestId, requestedBy });
    },
    forget: async (keys, requestId) => {
      await committer.submit({ body: { kind: 'delete-leases', keys }, requestId, requestedBy: 'paddock pool sync' });
    },
  }, clock);
  const metrics = new Metrics(committer, ranch);

  let leaseFileStamp = '';
  let filePools: PoolSpec[] = [];
  const reloadPools = async () => {
    if (cfg.leaseConfigFile) {
      const st = await stat(cfg.leaseConfigFile);
      const stamp = `${st.mtimeMs}:${st.size}`;
      if (stamp !== leaseFileStamp) {
        filePools = parseLeaseConfig(await readFile(cfg.leaseConfigFile, 'utf8'), cfg.leaseConfigFile);
        leaseFileStamp = stamp;
      }
    }
    const synthPools = committer.view().synth?.pools ?? [];
    await ranch.syncPools([...synthPools.map((p) => ({ type: p.type, names: p.names })), ...filePools]);
  };

  // The first cycle: fetch, regenerate from the definitions, and learn the lease records.
  const view = await committer.refresh();
  ranch.load(view.state.leases.values());
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
  const url = await server.listen({ host, port });

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

