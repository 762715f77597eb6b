package main

import (
	"bufio"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"
)

// subnetEnv is what flanneld writes for this node into its subnet file
// (/run/flannel/subnet.env by default) once it has leased a subnet.
type subnetEnv struct {
	network netip.Prefix // FLANNEL_NETWORK: the whole cluster's pod network
	subnet  netip.Prefix // FLANNEL_SUBNET: this node's pod subnet (host bits kept)
	mtu     int          // FLANNEL_MTU: the MTU pods get (the backend's overhead taken off)
	ipMasq  bool         // FLANNEL_IPMASQ: flanneld itself masquerades traffic leaving the network
}

// loadSubnetEnv reads a flannel subnet file. Unknown keys (FLANNEL_IPV6_*,
// comments) are ignored; each of the four keys above must be present.
func loadSubnetEnv(path string) (*subnetEnv, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading flannel subnet file (is flanneld running on this node?): %w", err)
	}
	defer f.Close()

	env := &subnetEnv{}
	seen := map[string]bool{}
	scanner := bufio.NewScanner(f)
	for line := 1; scanner.Scan(); line++ {
		key, value, ok := strings.Cut(strings.TrimSpace(scanner.Text()), "=")
		if !ok {
			continue
		}
		switch key {
		case "FLANNEL_NETWORK", "FLANNEL_SUBNET":
			prefix, err := netip.ParsePrefix(value)
			if err != nil {
				return nil, fmt.Errorf("%s line %d: %s=%q is not a CIDR", path, line, key, value)
			}
			if key == "FLANNEL_NETWORK" {
				env.network = prefix
			} else {
				env.subnet = prefix
			}
		case "FLANNEL_MTU":
			mtu, err := strconv.Atoi(value)
			if err != nil || mtu <= 0 {
				return nil, fmt.Errorf("%s line %d: FLANNEL_MTU=%q is not a positive number", path, line, value)
			}
			env.mtu = mtu
		case "FLANNEL_IPMASQ":
			env.ipMasq = value == "true"
		default:
			continue
		}
		seen[key] = true
	}
	if err := scanner.Err(); err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}

	var missing []string
	for _, key := range []string{"FLANNEL_NETWORK", "FLANNEL_SUBNET", "FLANNEL_MTU", "FLANNEL_IPMASQ"} {
		if !seen[key] {
			missing = append(missing, key)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%s is missing %s", path, strings.Join(missing, ", "))
	}
	return env, nil
}
