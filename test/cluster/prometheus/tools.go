// The Prometheus operator's API types and the generator of its CRDs, pinned here: the cluster
// tier builds controller-gen from this module and generates the PodMonitor CRD from the operator's
// own types (test/cluster/prometheus-crds.sh), since the proxy does not serve the module holding
// the operator's CRD files.

//go:build tools

package prometheus

import (
	_ "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	_ "sigs.k8s.io/controller-tools/cmd/controller-gen"
)
