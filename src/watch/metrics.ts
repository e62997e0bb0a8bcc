/** The watcher's metrics: the commit metrics every writer has, and its lag, leadership, readiness and broken definitions. */
import { Gauge, Histogram } from 'prom-client';
import { CommitMetrics } from '../metrics.ts';
import type { Committer } from '../repo/committer.ts';
import type { Elector } from './lock.ts';
import type { Definitions } from './definitions.ts';
import type { Watcher } from './watcher.ts';

export class WatcherMetrics extends CommitMetrics {
  /** The watcher's `onSynced`. */
  readonly lag = new Histogram({ name: 'paddock_watcher_lag_seconds', help: 'From a definition file event to its pushed commit (or to finding it changes nothing)', buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60], registers: [this.registry] });

  constructor(parts: { committer: Committer; watcher: () => Watcher | undefined; definitions: Definitions; elector?: Elector }) {
    super(parts.committer);
    const registers = [this.registry];
    new Gauge({ name: 'paddock_definition_errors', help: 'Definition files that do not load or synthesize (their groups stay as last committed)', registers, collect() { this.set(parts.definitions.current().broken.length); } });
    new Gauge({ name: 'paddock_watcher_leader', help: '1 while this watcher leads (runs TTL removals and retires emptied Applications)', registers, collect() { this.set(parts.elector?.leading ? 1 : 0); } });
    new Gauge({ name: 'paddock_watcher_ready', help: '1 when the watcher is ready (/readyz): definitions committed, clone sources listed, last commit good', registers, collect() { this.set(parts.watcher()?.readiness().ready ? 1 : 0); } });
  }
}
