// Command coredns is CoreDNS with only the plugins a cluster here uses:
// those in kubeadm's default Corefile (errors, health, ready, kubernetes,
// prometheus, forward, cache, loop, reload, loadbalance), plus log and hosts
// (k3s's Corefile serves node names through hosts). The upstream main
// package links every plugin, which makes the binary twice as large and the
// build twice as long for plugins nobody here configures.
package main

import (
	"github.com/coredns/coredns/coremain"

	// Plugins register themselves with the server in their init functions;
	// the order they run in comes from CoreDNS's own directive list.
	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/forward"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/hosts"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/loadbalance"
	_ "github.com/coredns/coredns/plugin/log"
	_ "github.com/coredns/coredns/plugin/loop"
	_ "github.com/coredns/coredns/plugin/metrics"
	_ "github.com/coredns/coredns/plugin/ready"
	_ "github.com/coredns/coredns/plugin/reload"
)

func main() {
	coremain.Run()
}
