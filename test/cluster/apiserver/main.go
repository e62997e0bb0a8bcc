// Command kube-apiserver is the upstream Kubernetes API server, built from the
// k8s.io/kubernetes module so that paddock's tests can run a real API server on
// 127.0.0.1 without downloading release binaries. scripts/cluster-up builds and
// starts it; nothing here is shipped.
package main

import (
	"os"
	_ "time/tzdata" // CronJob time zones, as in the upstream binary

	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"
	_ "k8s.io/component-base/metrics/prometheus/clientgo"
	_ "k8s.io/component-base/metrics/prometheus/version"
	"k8s.io/kubernetes/cmd/kube-apiserver/app"
)

func main() {
	os.Exit(cli.Run(app.NewAPIServerCommand()))
}
