/** Prometheus metrics of the sidecar: requests, commits, push retries, coalescing, leases, acquire latency. */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Committer } from '../repo/committer.ts';
import type { Ranch } from '../leases/ranch.ts';

export class Metrics {
  readonly registry = new Registry();
  readonly requests = new Counter({ name: 'paddock_http_requests_total', help: 'HTTP requests by route, method and status', labelNames: ['route', 'method', 'status'] as const, registers: [this.registry] });
  readonly acquireSeconds = new Histogram({ name: 'paddock_lease_acquire_seconds', help: 'Time to answer an acquire, push included', buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers: [this.registry] });

  constructor(committer: Committer, ranch?: Ranch) {
    const stat = (name: string, help: string, key: keyof Committer['stats']) =>
      new Counter({ name, help, registers: [this.registry], collect() { this.reset(); this.inc(committer.stats[key]); } });
    stat('paddock_commits_total', 'Commits pushed to the manifests repo', 'commits');
    stat('paddock_push_retries_total', 'Cycles retried after a rejected or unclear push', 'pushRetries');
    stat('paddock_stale_pushes_total', 'Pushes made without a fetch that found the remote had moved (redone from a fetch)', 'staleSkips');
    stat('paddock_coalesced_intents_total', 'Intents that shared a commit with an earlier one', 'coalesced');
    new Gauge({ name: 'paddock_remote_ready', help: '1 when the manifests repo answered last time', registers: [this.registry], collect() { this.set(committer.ready ? 1 : 0); } });
    if (ranch) {
      new Gauge({
        name: 'paddock_leases', help: 'Lease resources by type and state', labelNames: ['type', 'state'] as const, registers: [this.registry],
        collect() {
          this.reset();
          for (const r of ranch.list()) this.inc({ type: r.type, state: r.state });
        },
      });
    }
  }
}
