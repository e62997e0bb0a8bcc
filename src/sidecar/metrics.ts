/** The sidecar's metrics: the commit metrics every writer has, and requests, leases and acquire latency. */
import { Counter, Gauge, Histogram } from 'prom-client';
import type { Ranch } from '../leases/ranch.ts';
import { CommitMetrics } from '../metrics.ts';
import type { Committer } from '../repo/committer.ts';

export class Metrics extends CommitMetrics {
  readonly requests = new Counter({ name: 'paddock_http_requests_total', help: 'HTTP requests by route, method and status', labelNames: ['route', 'method', 'status'] as const, registers: [this.registry] });
  readonly acquireSeconds = new Histogram({ name: 'paddock_lease_acquire_seconds', help: 'Time to answer an acquire, push included', buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers: [this.registry] });

  constructor(committer: Committer, ranch?: Ranch) {
    super(committer);
    if (!ranch) return;
    const registers = [this.registry];
    new Gauge({
      name: 'paddock_leases', help: 'Lease resources by type and state', labelNames: ['type', 'state'] as const, registers,
      collect() {
        this.reset();
        for (const r of ranch.list()) this.inc({ type: r.type, state: r.state });
      },
    });
    new Gauge({
      name: 'paddock_lease_owners', help: 'Leased resources by type and owner', labelNames: ['type', 'owner'] as const, registers,
      collect() {
        this.reset();
        for (const r of ranch.list()) if (r.owner) this.inc({ type: r.type, owner: r.owner });
      },
    });
  }
}
