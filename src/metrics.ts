/**
 * The Prometheus metrics every paddock process that commits exports (the sidecar on its port,
 * the watcher on its own): commits by kind, the time of each step of a commit cycle, push
 * retries, failed cycles, the remote's health, and the repo's groups by state. The sidecar and
 * the watcher add their own on the same registry (sidecar/metrics.ts, watch/metrics.ts).
 * `dashboards/paddock.json` charts them; its test holds every name it uses to a live `/metrics`.
 *
 * Owns: metric names and what feeds them. Must not touch: git, HTTP.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { CommitInfo, Committer } from './repo/committer.ts';
import { groupOfAppPath } from './synth/layout.ts';

const STEPS = ['sync', 'synth', 'write', 'push'] as const;

export class CommitMetrics {
  readonly registry = new Registry();
  private readonly commits = new Counter({ name: 'paddock_commits_total', help: 'Commits pushed to the manifests repo, by the kind of their requests (batch when several kinds share one)', labelNames: ['kind'] as const, registers: [this.registry] });
  private readonly committedRequests = new Counter({ name: 'paddock_committed_requests_total', help: 'Requests pushed in a commit, by kind (gc, ttl and demolish are removals by reason)', labelNames: ['kind'] as const, registers: [this.registry] });
  private readonly cycle = new Histogram({ name: 'paddock_commit_step_seconds', help: 'Time of each step of the cycle that pushed a commit: sync (fetch), synth, write (files, index, commit), push', labelNames: ['step'] as const, buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers: [this.registry] });
  private readonly total = new Histogram({ name: 'paddock_commit_seconds', help: 'Time from taking a batch of requests to its pushed commit, retries included', buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30], registers: [this.registry] });

  constructor(committer: Committer) {
    committer.onCommitted((c) => this.observeCommit(c));
    const registers = [this.registry];
    const stat = (name: string, help: string, key: keyof Committer['stats']) =>
      new Counter({ name, help, registers, collect() { this.reset(); this.inc(committer.stats[key]); } });
    stat('paddock_push_retries_total', 'Cycles retried after a rejected or unclear push', 'pushRetries');
    stat('paddock_stale_pushes_total', 'Pushes made without a fetch that found the remote had moved (redone from a fetch)', 'staleSkips');
    stat('paddock_coalesced_intents_total', 'Requests that shared a commit with an earlier one', 'coalesced');
    stat('paddock_failed_cycles_total', 'Batches of requests that could not be committed (retries spent, or refused): each request got an error', 'failedCycles');
    new Gauge({ name: 'paddock_remote_ready', help: '1 when the manifests repo answered last time', registers, collect() { this.set(committer.ready ? 1 : 0); } });
    new Gauge({
      name: 'paddock_groups', help: 'Groups in the manifests repo as this process last saw it: active, retiring (removed, its emptied Application still there), removed (by reason)', labelNames: ['state', 'reason'] as const, registers,
      collect() {
        this.reset();
        const view = committer.view();
        const retiring = new Set([...view.state.retiring.values()].filter((r) => !r.retiredAt).map((r) => r.group));
        for (const p of view.files.keys()) {
          const g = groupOfAppPath(p);
          if (g && !retiring.has(g)) this.inc({ state: 'active', reason: '' });
        }
        this.set({ state: 'retiring', reason: '' }, retiring.size);
        for (const r of view.state.removals.values()) if (!retiring.has(r.group)) this.inc({ state: 'removed', reason: r.reason });
      },
    });
  }

  private observeCommit(c: CommitInfo): void {
    const kinds = Object.keys(c.kinds);
    this.commits.inc({ kind: kinds.length === 1 ? kinds[0] : kinds.length ? 'batch' : 'sync' });
    for (const [kind, n] of Object.entries(c.kinds)) this.committedRequests.inc({ kind }, n);
    for (const step of STEPS) this.cycle.observe({ step }, c.phases[step] / 1000);
    this.total.observe(c.ms / 1000);
  }
}
