/**
 * paddock's Grafana dashboard: the file in the repo is the one the control plane ships, and every
 * metric its expressions name is one a running sidecar or watcher exports on `/metrics`.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { dashboardJson, paddockDashboard } from '../constructs/private/dashboard.ts';
import { paddock, REPO_ROOT, startServe, startWatch } from './helpers/cli.ts';
import { freePorts } from './helpers/git-daemon.ts';
import { bareRepo, groupsSource } from './helpers/repo.ts';
import { definitionsDir, TEST_SECRET } from './helpers/synth.ts';

interface Target { readonly expr: string; readonly legendFormat: string; readonly refId: string }
const panels = () => (paddockDashboard().panels as Array<{ type: string; title: string; targets?: Target[] }>).filter((p) => p.type !== 'row');

/** Metric names a Prometheus text exposition declares (`# TYPE`), with a histogram's series names. */
function exported(text: string): Set<string> {
  const names = new Set<string>();
  for (const [, name, type] of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    names.add(name);
    if (type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(name + s);
  }
  return names;
}

describe('the Grafana dashboard', () => {
  it('GIVEN dashboards/paddock.json THEN it is the dashboard the control plane ships (npm run dashboard writes it)', () => {
    expect(readFileSync(path.join(REPO_ROOT, 'dashboards/paddock.json'), 'utf8')).toBe(dashboardJson());
  });

  it('GIVEN its panels THEN each has a title and queries, and they cover what an operator asks', () => {
    const all = panels();
    for (const p of all) {
      expect(p.targets?.length, p.title).toBeGreaterThan(0);
      expect(new Set(p.targets!.map((t) => t.refId)).size, p.title).toBe(p.targets!.length);
    }
    const exprs = all.flatMap((p) => p.targets!.map((t) => t.expr)).join('\n');
    for (const metric of ['paddock_commits_total', 'paddock_commit_step_seconds_bucket', 'paddock_push_retries_total', 'paddock_failed_cycles_total',
      'paddock_leases', 'paddock_lease_owners', 'paddock_lease_acquire_seconds_bucket', 'paddock_watcher_lag_seconds_bucket', 'paddock_groups',
      'paddock_committed_requests_total{kind="ttl"}', 'paddock_http_requests_total{route="/gc/:token"}']) {
      expect(exprs).toContain(metric);
    }
  });

  it('GIVEN a running sidecar and watcher WHEN their /metrics are read THEN every metric the dashboard names is one of theirs', async () => {
    const remote = await bareRepo();
    const dir = definitionsDir({ 'g.ts': groupsSource(2, 'db') });
    const env = { PADDOCK_GC_SECRET: TEST_SECRET };
    expect((await paddock(['push', '--repo', remote, '--definitions', dir], { env })).code).toBe(0);
    const [sidecarPort, watcherPort] = await freePorts(2);
    const serve = await startServe(['--repo', remote, '--definitions', dir, '--listen', `127.0.0.1:${sidecarPort}`], env);
    const watch = await startWatch(['--repo', remote, '--definitions', dir, '--listen', `127.0.0.1:${watcherPort}`], env);
    let names: Set<string>;
    try {
      const read = async (port: number) => (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      names = new Set([...exported(await read(sidecarPort)), ...exported(await read(watcherPort))]);
    } finally {
      await serve.stop();
      await watch.stop();
    }
    const used = panels().flatMap((p) => p.targets!.flatMap((t) => [...t.expr.matchAll(/\b[a-z_:][a-z0-9_:]*(?=\s*[{[)]|\s*$|\s*\))/g)].map((m) => m[0])));
    const metrics = [...new Set(used.filter((n) => n.startsWith('paddock_')))].sort();
    expect(metrics.length).toBeGreaterThan(10);
    expect(metrics.filter((m) => !names.has(m))).toEqual([]);
    // Every expression names at least one of them (no query of someone else's metrics only).
    for (const p of panels()) for (const t of p.targets!) expect(t.expr, p.title).toMatch(/\bpaddock_[a-z_]+/);
  }, 60_000);
});
