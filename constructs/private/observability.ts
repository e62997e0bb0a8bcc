import { ApiObject } from 'cdk8s';
import { Construct } from 'constructs';
import { dashboardJson } from './dashboard.ts';

export interface ObservabilityProps {
  readonly prefix: string;
  /** Labels every paddock pod carries (the PodMonitor selects on them). */
  readonly podLabels: Record<string, string>;
  readonly dashboard: boolean;
  /** A PodMonitor scraping both components' `/metrics` every `interval`; none when undefined. */
  readonly podMonitor?: { readonly interval: string };
}

/**
 * How paddock is seen in a cluster with the Prometheus operator and Grafana (kube-prometheus-stack):
 * its dashboard as a ConfigMap labelled `grafana_dashboard: "1"` (Grafana's dashboard sidecar loads
 * it; with the chart's defaults only from Grafana's namespace, so set its `searchNamespace` to
 * `ALL` or this namespace), and, when asked, a PodMonitor on the pods' `http` port.
 */
export class Observability extends Construct {
  constructor(scope: Construct, id: string, props: ObservabilityProps) {
    super(scope, id);
    const labels = { 'app.kubernetes.io/name': 'paddock', 'app.kubernetes.io/instance': props.prefix };
    if (props.dashboard) {
      new ApiObject(this, 'dashboard', {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: `${props.prefix}-dashboard`, labels: { ...labels, grafana_dashboard: '1' } },
        data: { 'paddock.json': dashboardJson() },
      });
    }
    if (props.podMonitor) {
      new ApiObject(this, 'pod-monitor', {
        apiVersion: 'monitoring.coreos.com/v1',
        kind: 'PodMonitor',
        metadata: { name: props.prefix, labels },
        spec: {
          selector: { matchLabels: props.podLabels },
          podMetricsEndpoints: [{ port: 'http', path: '/metrics', interval: props.podMonitor.interval }],
        },
      });
    }
  }
}
