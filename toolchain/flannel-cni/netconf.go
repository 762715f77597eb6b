package main

import (
	"encoding/json"
	"fmt"

	"github.com/containernetworking/cni/pkg/types"
)

const (
	defaultSubnetFile = "/run/flannel/subnet.env"
	// The delegate configuration of every ADD is kept here, one file per
	// container, so DEL and CHECK hand the delegate exactly what ADD did,
	// even after flanneld changed the subnet file.
	defaultDataDir = "/var/lib/cni/flannel"
)

// netConf is this plugin's configuration: the usual CNI keys plus
// subnetFile, dataDir, and delegate (keys handed on to the delegate plugin,
// bridge unless delegate.type says otherwise).
type netConf struct {
	types.NetConf

	SubnetFile    string         `json:"subnetFile"`
	DataDir       string         `json:"dataDir"`
	Delegate      map[string]any `json:"delegate"`
	RuntimeConfig map[string]any `json:"runtimeConfig,omitempty"`
}

func parseNetConf(data []byte) (*netConf, error) {
	conf := &netConf{SubnetFile: defaultSubnetFile, DataDir: defaultDataDir}
	if err := json.Unmarshal(data, conf); err != nil {
		return nil, fmt.Errorf("parsing the flannel network configuration: %w", err)
	}
	if conf.Delegate == nil {
		conf.Delegate = map[string]any{}
	}
	if t, ok := conf.Delegate["type"]; ok {
		if s, isString := t.(string); !isString || s == "" {
			return nil, fmt.Errorf("delegate.type must be a plugin name (a string), got %v", t)
		}
	}
	// flannel decides these two from the subnet file; a value given here
	// would silently lose, so it is refused instead.
	for _, key := range []string{"name", "ipam"} {
		if _, ok := conf.Delegate[key]; ok {
			return nil, fmt.Errorf("delegate.%s must not be set: the flannel plugin sets it", key)
		}
	}
	return conf, nil
}

// delegateConf builds the delegate plugin's configuration for ADD: the
// user's delegate keys win; flannel fills in the rest from the subnet file,
// as upstream's flannel plugin does.
func delegateConf(conf *netConf, env *subnetEnv) map[string]any {
	out := make(map[string]any, len(conf.Delegate)+8)
	for k, v := range conf.Delegate {
		out[k] = v
	}
	out["name"] = conf.Name
	if conf.CNIVersion != "" {
		out["cniVersion"] = conf.CNIVersion
	}
	setDefault(out, "type", "bridge")
	// Masquerade in the bridge only when flanneld does not do it already.
	setDefault(out, "ipMasq", !env.ipMasq)
	setDefault(out, "mtu", env.mtu)
	if out["type"] == "bridge" {
		setDefault(out, "isGateway", true)
	}
	out["ipam"] = map[string]any{
		"type":   "host-local",
		"subnet": env.subnet.Masked().String(),
		"routes": []map[string]string{{"dst": env.network.Masked().String()}},
	}
	if conf.RuntimeConfig != nil {
		out["runtimeConfig"] = conf.RuntimeConfig
	}
	return out
}

func setDefault(m map[string]any, key string, value any) {
	if _, ok := m[key]; !ok {
		m[key] = value
	}
}
