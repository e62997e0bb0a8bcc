#!/usr/bin/env bash
# argocd-crds.sh: make Argo CD's CRDs available to tests without committing them.
#
# Takes manifests/crds/{application,appproject}-crd.yaml from the Argo CD Go module
# (downloaded through the Go module proxy into the module cache, verified against
# go.sum's checksum database like any module), copies them to
# .cache/cluster/argocd/<version>/ and prints their paths, one per line, Application
# first. Later runs only print the cached paths.
#
# Usage: test/cluster/argocd-crds.sh [--apply]
#   --apply  also install them into the cluster named by $KUBECONFIG with
#            `kubectl apply --server-side` and wait until they are Established.
#            (Server-side apply is needed: the Application CRD is larger than the
#            262144-byte limit of client-side apply's last-applied annotation.)
#
# ARGOCD_VERSION picks the release (default below); it must be a tag of
# github.com/argoproj/argo-cd/v3 (or set ARGOCD_MODULE for a v2 release).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CACHE="${PADDOCK_CLUSTER_CACHE:-$ROOT/.cache/cluster}"
VERSION="${ARGOCD_VERSION:-v3.5.7}"
MODULE="${ARGOCD_MODULE:-github.com/argoproj/argo-cd/v3}"
OUT="$CACHE/argocd/$VERSION"
CRDS=(application-crd.yaml appproject-crd.yaml)

die() { printf 'argocd-crds: error: %s\n' "$*" >&2; exit 1; }

if [[ ! -s "$OUT/${CRDS[0]}" || ! -s "$OUT/${CRDS[1]}" ]]; then
  command -v go >/dev/null || die "go is not on PATH; it is needed to fetch $MODULE@$VERSION"
  printf 'argocd-crds: fetching %s@%s through the Go module proxy\n' "$MODULE" "$VERSION" >&2
  # Run outside any module so the project's or the apiserver's go.mod is not involved.
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  json="$(cd "$tmp" && GOFLAGS=-mod=mod GO111MODULE=on go mod download -json "$MODULE@$VERSION")" ||
    die "go mod download $MODULE@$VERSION failed: $json"
  dir="$(printf '%s\n' "$json" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')"
  [[ -n "$dir" && -d "$dir/manifests/crds" ]] || die "no manifests/crds in $MODULE@$VERSION ($json)"
  mkdir -p "$OUT"
  for f in "${CRDS[@]}"; do
    [[ -s "$dir/manifests/crds/$f" ]] || die "$f missing from $dir/manifests/crds"
    install -m 0644 "$dir/manifests/crds/$f" "$OUT/$f.tmp" && mv -f "$OUT/$f.tmp" "$OUT/$f"
  done
fi

if [[ "${1:-}" == "--apply" ]]; then
  command -v kubectl >/dev/null || die "kubectl is not on PATH"
  [[ -n "${KUBECONFIG:-}" ]] || die "KUBECONFIG is not set (run: eval \"\$(scripts/cluster-up)\")"
  for f in "${CRDS[@]}"; do
    kubectl apply --server-side --force-conflicts --field-manager=paddock-tests -f "$OUT/$f" >&2
  done
  kubectl wait --for=condition=Established --timeout=60s \
    crd/applications.argoproj.io crd/appprojects.argoproj.io >&2
elif [[ -n "${1:-}" ]]; then
  die "unknown argument: $1 (only --apply)"
fi

for f in "${CRDS[@]}"; do printf '%s\n' "$OUT/$f"; done
