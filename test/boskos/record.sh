#!/usr/bin/env bash
# record.sh: run test/boskos/metric-sequence.ts against the real Boskos (built by boskos-build.sh,
# in memory, on loopback ports, with the sequence's pool) and write its answers to
# test/boskos/recorded/metric-sequence.json, which test/boskos-recorded.test.ts holds paddock to.
# Run it again when the pinned Boskos changes; the file says which Boskos answered.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BIN="$("$ROOT/test/boskos/boskos-build.sh")"
VERSION="${BIN##*/boskos-}"
work="$(mktemp -d)"
pid=""
cleanup() { [[ -n "$pid" ]] && kill "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

printf 'resources:\n- type: proj\n  state: free\n  names: [proj-1, proj-2, proj-3]\n' > "$work/config.yaml"
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'; }
api="$(port)"; health="$(port)"
"$BIN" -in_memory -config "$work/config.yaml" -port "$api" -health-port "$health" -metrics-port "$(port)" -pprof-port "$(port)" > "$work/boskos.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$api/metric?type=proj" > /dev/null 2>&1 && break
  kill -0 "$pid" 2>/dev/null || { cat "$work/boskos.log" >&2; exit 1; }
  sleep 0.1
done

out="$ROOT/test/boskos/recorded/metric-sequence.json"
steps="$(cd "$ROOT" && npx tsx test/boskos/metric-sequence.ts "http://127.0.0.1:$api")"
printf '{\n  "recordedFrom": "sigs.k8s.io/boskos/cmd/boskos %s (-in_memory)",\n  "by": "test/boskos/record.sh",\n  "steps": %s\n}\n' "$VERSION" "$steps" > "$out.tmp"
mv -f "$out.tmp" "$out"
printf 'record: wrote %s\n' "$out" >&2
