/**
 * paddock's Grafana dashboard, as data: what `PaddockControlPlane` ships in a ConfigMap labelled
 * `grafana_dashboard: "1"` (kube-prometheus-stack's sidecar imports it) and what
 * `dashboards/paddock.json` holds for a manual import (`npm run dashboard` writes it from here).
 * Every expression names only metrics paddock exports; a test holds them to a live `/metrics`.
 */

/** A panel: a title, what it shows, and its PromQL (legend after `|`). */
interface PanelSpec {
  readonly title: string;
  readonly description: string;
  readonly unit: string;
  readonly targets: readonly string[];
  /** Bars of counts rather than lines. */
  readonly stacked?: boolean;
}

const RATE = '[$__rate_interval]';
const quantiles = (metric: string, by: string, legend: string) => [
  `histogram_quantile(0.5, sum by (le${by ? `, ${by}` : ''}) (rate(${metric}_bucket${RATE})))|p50 ${legend}`,
  `histogram_quantile(0.99, sum by (le${by ? `, ${by}` : ''}) (rate(${metric}_bucket${RATE})))|p99 ${legend}`,
];

const ROWS: ReadonlyArray<{ readonly title: string; readonly panels: readonly PanelSpec[] }> = [
  {
    title: 'Commits',
    panels: [
      { title: 'Commits per minute by kind', description: 'Pushed commits, by the kind of requests they hold (batch: several kinds in one).', unit: 'short', stacked: true, targets: ['sum by (kind) (rate(paddock_commits_total' + RATE + ')) * 60|{{kind}}'] },
      { title: 'Commit cycle time by step', description: 'Time of each step of the cycles that pushed: sync (fetch), synth, write (files, index, commit), push.', unit: 's', targets: quantiles('paddock_commit_step_seconds', 'step', '{{step}}') },
      { title: 'Push retries and failures', description: 'Cycles redone after a rejected or unclear push, pushes found stale, and batches that failed (every request in them got an error).', unit: 'short', targets: [
        'sum(rate(paddock_push_retries_total' + RATE + ')) * 60|retries / min',
        'sum(rate(paddock_stale_pushes_total' + RATE + ')) * 60|stale pushes / min',
        'sum(rate(paddock_failed_cycles_total' + RATE + ')) * 60|failed batches / min',
      ] },
      { title: 'Watcher lag', description: 'From a definition file event to its pushed commit.', unit: 's', targets: quantiles('paddock_watcher_lag_seconds', '', 'lag') },
    ],
  },
  {
    title: 'Requests',
    panels: [
      { title: 'GC requests by answer', description: 'POST /gc/<token> from pods, by status code.', unit: 'reqps', stacked: true, targets: ['sum by (status) (rate(paddock_http_requests_total{route="/gc/:token"}' + RATE + '))|{{status}}'] },
      { title: 'Lease acquire latency', description: 'Time to answer an acquire, push included.', unit: 's', targets: quantiles('paddock_lease_acquire_seconds', '', 'acquire') },
      { title: 'Leases by type and state', description: 'Lease resources as the sidecar holds them.', unit: 'short', stacked: true, targets: ['sum by (type, state) (paddock_leases)|{{type}} {{state}}'] },
      { title: 'Leases by owner', description: 'Leased resources by type and owner.', unit: 'short', stacked: true, targets: ['sum by (type, owner) (paddock_lease_owners)|{{type}} {{owner}}'] },
    ],
  },
  {
    title: 'Groups and health',
    panels: [
      { title: 'Groups by state', description: 'Active, retiring (removed, emptied Application still there) and removed groups, as the repo says.', unit: 'short', stacked: true, targets: ['max by (state, reason) (paddock_groups)|{{state}} {{reason}}'] },
      { title: 'TTL removals', description: 'Groups removed because their TTL ran out, per hour.', unit: 'short', targets: ['sum(increase(paddock_committed_requests_total{kind="ttl"}[1h]))|ttl removals / h'] },
      { title: 'Errors', description: '5xx answers by route, broken definition files, batches that failed.', unit: 'short', targets: [
        'sum by (route) (rate(paddock_http_requests_total{status=~"5.."}' + RATE + ')) * 60|5xx / min {{route}}',
        'max(paddock_definition_errors)|broken definition files',
        'sum(rate(paddock_failed_cycles_total' + RATE + ')) * 60|failed batches / min',
      ] },
      { title: 'Ready', description: '1 when the manifests repo answered last time (each writer) and the watcher is ready.', unit: 'short', targets: [
        'min by (pod) (paddock_remote_ready)|repo reachable {{pod}}',
        'max(paddock_watcher_ready)|watcher ready',
        'max(paddock_watcher_leader)|a watcher leads',
      ] },
    ],
  },
];

/** The dashboard's JSON model (Grafana 10+, a Prometheus datasource chosen by variable). */
export function paddockDashboard(): Record<string, unknown> {
  const datasource = { type: 'prometheus', uid: '${datasource}' };
  const panels: Record<string, unknown>[] = [];
  let id = 1;
  let y = 0;
  for (const row of ROWS) {
    panels.push({ id: id++, type: 'row', title: row.title, collapsed: false, gridPos: { h: 1, w: 24, x: 0, y }, panels: [] });
    y += 1;
    row.panels.forEach((p, i) => {
      panels.push({
        id: id++,
        type: 'timeseries',
        title: p.title,
        description: p.description,
        datasource,
        gridPos: { h: 8, w: 12, x: (i % 2) * 12, y: y + Math.floor(i / 2) * 8 },
        fieldConfig: { defaults: { unit: p.unit, custom: p.stacked ? { drawStyle: 'bars', stacking: { mode: 'normal' }, fillOpacity: 60 } : { drawStyle: 'line', fillOpacity: 10 } }, overrides: [] },
        options: { legend: { displayMode: 'list', placement: 'bottom' }, tooltip: { mode: 'multi' } },
        targets: p.targets.map((t, n) => {
          const [expr, legendFormat] = t.split('|');
          return { refId: String.fromCharCode(65 + n), datasource, expr, legendFormat };
        }),
      });
    });
    y += Math.ceil(row.panels.length / 2) * 8;
  }
  return {
    uid: 'paddock',
    title: 'paddock',
    description: 'paddock: commits, requests, leases, groups and health of the watcher and the sidecar',
    tags: ['paddock', 'gitops'],
    editable: true,
    schemaVersion: 39,
    version: 1,
    refresh: '30s',
    time: { from: 'now-6h', to: 'now' },
    timezone: 'browser',
    templating: { list: [{ name: 'datasource', label: 'Prometheus', type: 'datasource', query: 'prometheus', current: {}, hide: 0 }] },
    annotations: { list: [] },
    panels,
  };
}

/** The dashboard as `dashboards/paddock.json` and the ConfigMap hold it. */
export function dashboardJson(): string {
  return `${JSON.stringify(paddockDashboard(), null, 2)}\n`;
}
