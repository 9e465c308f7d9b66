// Command etcd is etcd's own server entry point, built from the same module
// version that kube-apiserver is compiled against, so the pair always matches.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
