#!/usr/bin/env bash
# smoke.sh: check a cluster from scripts/cluster-up with kubectl. Needs KUBECONFIG
# (eval "$(scripts/cluster-up)") and kubectl on PATH. Creates a namespace with a
# random suffix; it is deleted at the end but, with no controller-manager running,
# stays Terminating (harmless in a throwaway cluster).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
: "${KUBECONFIG:?KUBECONFIG is not set; run: eval \"\$(scripts/cluster-up)\"}"
NS="smoke-$(openssl rand -hex 3)"
k() { printf '+ kubectl %s\n' "$*" >&2; kubectl "$@"; }

k version
k get ns
k create namespace "$NS"

k -n "$NS" apply --server-side --field-manager=paddock-smoke -f - <<'EOF'
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, labels: {app: web}}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: nginx:1.27}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
data: {greeting: hello}
EOF
k -n "$NS" get deploy,cm

# Server-side dry run of a change: the server validates and merges, nothing is stored.
k -n "$NS" apply --server-side --dry-run=server --field-manager=paddock-smoke -f - <<'EOF'
apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
data: {greeting: dry-run}
EOF
[[ "$(kubectl -n "$NS" get cm settings -o jsonpath='{.data.greeting}')" == hello ]] ||
  { echo "smoke: dry run changed the stored object" >&2; exit 1; }

# Lease create and update (the optimistic-concurrency path paddock's leases rely on).
k -n "$NS" create -f - <<'EOF'
apiVersion: coordination.k8s.io/v1
kind: Lease
metadata: {name: pool-slot-1}
spec: {holderIdentity: alice, leaseDurationSeconds: 60}
EOF
rv="$(kubectl -n "$NS" get lease pool-slot-1 -o jsonpath='{.metadata.resourceVersion}')"
now="$(date -u +%Y-%m-%dT%H:%M:%S.000000Z)"
k -n "$NS" replace -f - <<EOF
apiVersion: coordination.k8s.io/v1
kind: Lease
metadata: {name: pool-slot-1, resourceVersion: "$rv"}
spec: {holderIdentity: bob, leaseDurationSeconds: 60, renewTime: "$now"}
EOF
# A second update with the stale resourceVersion must conflict.
if kubectl -n "$NS" replace -f - >/dev/null 2>&1 <<EOF
apiVersion: coordination.k8s.io/v1
kind: Lease
metadata: {name: pool-slot-1, resourceVersion: "$rv"}
spec: {holderIdentity: mallory}
EOF
then echo "smoke: stale Lease update was accepted" >&2; exit 1; fi
k -n "$NS" get lease pool-slot-1 -o jsonpath='{.spec.holderIdentity}{"\n"}'

# Argo CD CRDs, then a server-side dry run of an Application.
"$HERE/argocd-crds.sh" --apply
k -n "$NS" apply --server-side --dry-run=server --field-manager=paddock-smoke -f - <<'EOF'
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: demo}
spec:
  project: default
  source: {repoURL: "file:///tmp/manifests.git", path: groups/demo, targetRevision: HEAD}
  destination: {server: "https://kubernetes.default.svc", namespace: demo}
  syncPolicy: {automated: {prune: true, selfHeal: true}}
EOF
# Schema validation is live: an unknown field must be rejected.
if kubectl -n "$NS" apply --server-side --dry-run=server --field-manager=paddock-smoke -f - >/dev/null 2>&1 <<'EOF'
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: bad}
spec: {project: default, bogusField: 1, destination: {namespace: x}}
EOF
then echo "smoke: invalid Application was accepted" >&2; exit 1; fi

# A restricted credential: ServiceAccount + Role + TokenRequest.
k -n "$NS" create serviceaccount tester
k -n "$NS" create role cm-reader --verb=get,list --resource=configmaps
k -n "$NS" create rolebinding tester-cm-reader --role=cm-reader --serviceaccount="$NS:tester"
token="$(kubectl -n "$NS" create token tester --duration=10m)"
server="$(kubectl config view --minify -o jsonpath='{.clusters[0].cluster.server}')"
ca="$(mktemp)"; trap 'rm -f "$ca"' EXIT
kubectl config view --raw --minify -o jsonpath='{.clusters[0].cluster.certificate-authority-data}' | base64 -d >"$ca"
kr() { kubectl --kubeconfig=/dev/null --server="$server" --certificate-authority="$ca" --token="$token" "$@"; }
kr -n "$NS" get cm settings -o name
if kr -n "$NS" get secrets >/dev/null 2>&1; then echo "smoke: restricted token could list secrets" >&2; exit 1; fi
kr auth whoami 2>/dev/null || true

k delete namespace "$NS" --wait=false
echo "smoke: ok" >&2
