#!/usr/bin/env bash
# external-secrets-crds.sh: make external-secrets' ExternalSecret CRD available to tests without
# committing it (groups may ask for an ExternalSecret that makes their registry pull Secret).
#
# The CRD file ships in the module github.com/external-secrets/external-secrets, which the Go
# module proxy serves: test/cluster/external-secrets/go.mod pins it (go.sum holds its hash), the
# module is downloaded into the module cache, and the CRD is copied to
# .cache/cluster/external-secrets/<version>/ and its path printed. Later runs print the cached path.
#
# Usage: test/cluster/external-secrets-crds.sh [--apply]
#   --apply  also install it into the cluster named by $KUBECONFIG (server-side apply) and wait
#            until it is Established.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CACHE="${PADDOCK_CLUSTER_CACHE:-$ROOT/.cache/cluster}"
SRC="$ROOT/test/cluster/external-secrets"
MODULE=github.com/external-secrets/external-secrets
CRD=external-secrets.io_externalsecrets.yaml

die() { printf 'external-secrets-crds: error: %s\n' "$*" >&2; exit 1; }

VERSION="$(sed -n "s|^[[:space:]]*require $MODULE \(v[^[:space:]]*\).*|\1|p; s|^[[:space:]]*$MODULE \(v[^[:space:]]*\).*|\1|p" "$SRC/go.mod" | head -n1)"
[[ -n "$VERSION" ]] || die "no $MODULE requirement in $SRC/go.mod"
OUT="$CACHE/external-secrets/$VERSION"

if [[ ! -s "$OUT/$CRD" ]]; then
  command -v go >/dev/null || die "go is not on PATH; it is needed to fetch $MODULE@$VERSION"
  printf 'external-secrets-crds: fetching %s@%s through the Go module proxy\n' "$MODULE" "$VERSION" >&2
  json="$(cd "$SRC" && GOFLAGS=-mod=readonly go mod download -json "$MODULE")" || die "go mod download $MODULE ($VERSION) failed: $json"
  dir="$(printf '%s\n' "$json" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')"
  [[ -n "$dir" && -s "$dir/config/crds/bases/$CRD" ]] || die "no config/crds/bases/$CRD in $MODULE@$VERSION ($json)"
  mkdir -p "$OUT"
  install -m 0644 "$dir/config/crds/bases/$CRD" "$OUT/$CRD.tmp" && mv -f "$OUT/$CRD.tmp" "$OUT/$CRD"
fi

# shellcheck source=crds.sh
. "$ROOT/test/cluster/crds.sh"
crds_done "${1:-}" "$OUT/$CRD"
