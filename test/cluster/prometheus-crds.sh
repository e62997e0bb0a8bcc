#!/usr/bin/env bash
# prometheus-crds.sh: make the Prometheus operator's PodMonitor CRD available to tests without
# committing it.
#
# The Go module proxy does not serve the module that holds the operator's CRD files, but it does
# serve its API types (github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring),
# from which the operator itself generates those files with controller-gen. This does the same:
# test/cluster/prometheus pins both; controller-gen is built once into .cache/cluster/bin, the CRD
# generated into .cache/cluster/prometheus/<version>/ and its path printed.
#
# Usage: test/cluster/prometheus-crds.sh [--apply]
#   --apply  also install it into the cluster named by $KUBECONFIG (server-side apply) and wait
#            until it is Established.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CACHE="${PADDOCK_CLUSTER_CACHE:-$ROOT/.cache/cluster}"
SRC="$ROOT/test/cluster/prometheus"
MODULE=github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring
CRD=monitoring.coreos.com_podmonitors.yaml

die() { printf 'prometheus-crds: error: %s\n' "$*" >&2; exit 1; }

VERSION="$(sed -n "s|^[[:space:]]*$MODULE \(v[^[:space:]]*\).*|\1|p" "$SRC/go.mod" | head -n1)"
TOOLS="$(sed -n "s|^[[:space:]]*sigs.k8s.io/controller-tools \(v[^[:space:]]*\).*|\1|p" "$SRC/go.mod" | head -n1)"
[[ -n "$VERSION" && -n "$TOOLS" ]] || die "no $MODULE or controller-tools requirement in $SRC/go.mod"
OUT="$CACHE/prometheus/$VERSION"
GEN="$CACHE/bin/controller-gen-$TOOLS"

if [[ ! -s "$OUT/$CRD" ]]; then
  command -v go >/dev/null || die "go is not on PATH; it is needed to generate the PodMonitor CRD"
  if [[ ! -x "$GEN" ]]; then
    printf 'prometheus-crds: building controller-gen %s through the Go module proxy\n' "$TOOLS" >&2
    mkdir -p "$(dirname "$GEN")"
    (cd "$SRC" && GOFLAGS=-mod=readonly go build -o "$GEN.tmp" sigs.k8s.io/controller-tools/cmd/controller-gen) || die "building controller-gen failed"
    mv -f "$GEN.tmp" "$GEN"
  fi
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  (cd "$SRC" && GOFLAGS=-mod=readonly "$GEN" crd:crdVersions=v1,maxDescLen=0 paths="$MODULE/v1" output:crd:dir="$tmp") ||
    die "controller-gen could not generate the CRDs of $MODULE@$VERSION"
  [[ -s "$tmp/$CRD" ]] || die "controller-gen made no $CRD"
  mkdir -p "$OUT"
  install -m 0644 "$tmp/$CRD" "$OUT/$CRD.tmp" && mv -f "$OUT/$CRD.tmp" "$OUT/$CRD"
fi

# shellcheck source=crds.sh
. "$ROOT/test/cluster/crds.sh"
crds_done "${1:-}" "$OUT/$CRD"
