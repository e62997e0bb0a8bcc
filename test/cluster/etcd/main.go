// Command etcd is a fallback etcd for scripts/cluster-up, used only when no etcd
// binary is available (Debian's etcd-server package is preferred).
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
