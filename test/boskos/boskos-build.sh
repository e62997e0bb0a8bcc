#!/usr/bin/env bash
# boskos-build.sh: build the real Boskos server (sigs.k8s.io/boskos/cmd/boskos, at the version
# test/boskos/server/go.mod pins, the same the client harness uses) through the Go module proxy,
# once, into .cache/boskos/bin/boskos-<version>, and print its path. Test infrastructure only.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
SRC="$ROOT/test/boskos/server"
MODULE=sigs.k8s.io/boskos
die() { printf 'boskos-build: error: %s\n' "$*" >&2; exit 1; }

VERSION="$(sed -n "s|^require $MODULE \(v[^[:space:]]*\).*|\1|p; s|^[[:space:]]*$MODULE \(v[^[:space:]]*\).*|\1|p" "$SRC/go.mod" | head -n1)"
[[ -n "$VERSION" ]] || die "no $MODULE requirement in $SRC/go.mod"
BIN="${PADDOCK_BOSKOS_CACHE:-$ROOT/.cache/boskos}/bin/boskos-$VERSION"
if [[ ! -x "$BIN" ]]; then
  command -v go >/dev/null || die "go is not on PATH; it is needed to build Boskos"
  printf 'boskos-build: building %s@%s through the Go module proxy (once)\n' "$MODULE/cmd/boskos" "$VERSION" >&2
  mkdir -p "$(dirname "$BIN")"
  (cd "$SRC" && GOFLAGS=-mod=readonly go build -o "$BIN.tmp" "$MODULE/cmd/boskos") || die "building Boskos failed"
  mv -f "$BIN.tmp" "$BIN"
fi
printf '%s\n' "$BIN"
