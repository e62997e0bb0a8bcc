#!/usr/bin/env bash
# argocd-crds.sh: make Argo CD's CRDs available to tests without committing them.
#
# The tier has one Argo CD: the version test/cluster/argocd/go.mod pins, which scripts/argocd-up
# builds and runs. Its CRDs come from that module (downloaded through the Go module proxy into the
# module cache and checked against the wrapper's go.sum, like any module); they are copied to
# .cache/cluster/argocd/<version>/ and their paths printed, one per line, Application first.
# Later runs only print the cached paths. (Two versions in one cluster break it: a test that
# applied older CRDs under a running newer controller pruned the fields it writes, and the app of
# apps could then no longer be deleted.)
#
# Usage: test/cluster/argocd-crds.sh [--apply]
#   --apply  also install them into the cluster named by $KUBECONFIG with
#            `kubectl apply --server-side` and wait until they are Established.
#            (Server-side apply is needed: the Application CRD is larger than the
#            262144-byte limit of client-side apply's last-applied annotation.)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CACHE="${PADDOCK_CLUSTER_CACHE:-$ROOT/.cache/cluster}"
SRC="$ROOT/test/cluster/argocd"
MODULE=github.com/argoproj/argo-cd/v3
# The wrapper's go.mod needs Go 1.27; the module proxy serves the toolchain (as in argocd-up).
TOOLCHAIN=go1.27.3
CRDS=(application-crd.yaml appproject-crd.yaml applicationset-crd.yaml)

die() { printf 'argocd-crds: error: %s\n' "$*" >&2; exit 1; }

VERSION="$(sed -n "s|^[[:space:]]*$MODULE \(v[^[:space:]]*\).*|\1|p" "$SRC/go.mod" | head -n1)"
[[ -n "$VERSION" ]] || die "no $MODULE requirement in $SRC/go.mod"
OUT="$CACHE/argocd/$VERSION"

missing() { local f; for f in "${CRDS[@]}"; do [[ -s "$OUT/$f" ]] || return 0; done; return 1; }
if missing; then
  command -v go >/dev/null || die "go is not on PATH; it is needed to fetch $MODULE@$VERSION"
  printf 'argocd-crds: fetching %s@%s through the Go module proxy\n' "$MODULE" "$VERSION" >&2
  json="$(cd "$SRC" && GOTOOLCHAIN=$TOOLCHAIN GOFLAGS=-mod=readonly go mod download -json "$MODULE")" ||
    die "go mod download $MODULE ($VERSION) failed: $json"
  dir="$(printf '%s\n' "$json" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')"
  [[ -n "$dir" && -d "$dir/manifests/crds" ]] || die "no manifests/crds in $MODULE@$VERSION ($json)"
  mkdir -p "$OUT"
  for f in "${CRDS[@]}"; do
    [[ -s "$dir/manifests/crds/$f" ]] || die "$f missing from $dir/manifests/crds"
    install -m 0644 "$dir/manifests/crds/$f" "$OUT/$f.tmp" && mv -f "$OUT/$f.tmp" "$OUT/$f"
  done
fi

# shellcheck source=crds.sh
. "$ROOT/test/cluster/crds.sh"
files=()
for f in "${CRDS[@]}"; do files+=("$OUT/$f"); done
crds_done "${1:-}" "${files[@]}"
