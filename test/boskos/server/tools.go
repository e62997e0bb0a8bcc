//go:build tools

// Package tools pins the real Boskos server (sigs.k8s.io/boskos/cmd/boskos) that
// test/boskos/boskos-build.sh builds: the answers paddock's leases are held to were
// recorded from it, and the leases bench runs it beside paddock. Nothing of it ships.
package tools

import _ "sigs.k8s.io/boskos/cmd/boskos"
