// Command flannel is the CNI plugin kube-flannel's CNI configuration names
// ("type": "flannel"): it reads the subnet flanneld leased to this node and
// hands the real work to another plugin (bridge with host-local IPAM unless
// the configuration's delegate says otherwise).
//
// The upstream plugin (github.com/flannel-io/cni-plugin) is not served by
// the Go module proxy reachable here; this is our own implementation of the
// same contract: the same configuration keys (delegate, subnetFile, dataDir,
// runtimeConfig), the same subnet file and the same delegate configuration.
// IPv4 only (FLANNEL_IPV6_* keys are ignored).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/containernetworking/cni/pkg/invoke"
	"github.com/containernetworking/cni/pkg/skel"
	"github.com/containernetworking/cni/pkg/types"
	"github.com/containernetworking/cni/pkg/version"
)

// pluginVersion is this plugin's own version (reported by CNI VERSION).
const pluginVersion = "1.0.0"

func main() {
	skel.PluginMainFuncs(skel.CNIFuncs{
		Add:    cmdAdd,
		Del:    cmdDel,
		Check:  cmdCheck,
		Status: cmdStatus,
	}, version.All, "flannel CNI plugin (orchestrator-k3s) "+pluginVersion)
}

func cmdAdd(args *skel.CmdArgs) error {
	result, err := add(args)
	if err != nil {
		return err
	}
	return result.Print()
}

// add renders the delegate configuration, keeps it for DEL and CHECK, and
// runs the delegate's ADD.
func add(args *skel.CmdArgs) (types.Result, error) {
	conf, err := parseNetConf(args.StdinData)
	if err != nil {
		return nil, err
	}
	env, err := loadSubnetEnv(conf.SubnetFile)
	if err != nil {
		return nil, err
	}
	delegate := delegateConf(conf, env)
	data, err := json.Marshal(delegate)
	if err != nil {
		return nil, fmt.Errorf("encoding the delegate configuration: %w", err)
	}
	if err := saveDelegateConf(conf.DataDir, args.ContainerID, data); err != nil {
		return nil, err
	}
	result, err := invoke.DelegateAdd(context.Background(), delegate["type"].(string), data, nil)
	if err != nil {
		return nil, fmt.Errorf("delegate %s ADD: %w", delegate["type"], err)
	}
	return result, nil
}

// cmdDel runs the delegate's DEL with the configuration ADD used, then
// forgets it. A container ADD never saw (or a second DEL) is not an error,
// as the CNI specification asks.
func cmdDel(args *skel.CmdArgs) error {
	conf, err := parseNetConf(args.StdinData)
	if err != nil {
		return err
	}
	data, delegateType, err := loadDelegateConf(conf.DataDir, args.ContainerID)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := invoke.DelegateDel(context.Background(), delegateType, data, nil); err != nil {
		return fmt.Errorf("delegate %s DEL: %w", delegateType, err)
	}
	return removeDelegateConf(conf.DataDir, args.ContainerID)
}

// cmdCheck runs the delegate's CHECK with the configuration ADD used and
// the previous result the runtime passed in.
func cmdCheck(args *skel.CmdArgs) error {
	conf, err := parseNetConf(args.StdinData)
	if err != nil {
		return err
	}
	data, delegateType, err := loadDelegateConf(conf.DataDir, args.ContainerID)
	if err != nil {
		return fmt.Errorf("no ADD recorded for container %s: %w", args.ContainerID, err)
	}
	var raw struct {
		PrevResult json.RawMessage `json:"prevResult,omitempty"`
	}
	if err := json.Unmarshal(args.StdinData, &raw); err != nil {
		return fmt.Errorf("parsing prevResult: %w", err)
	}
	if raw.PrevResult != nil {
		var delegate map[string]any
		if err := json.Unmarshal(data, &delegate); err != nil {
			return fmt.Errorf("parsing the saved delegate configuration: %w", err)
		}
		delegate["prevResult"] = raw.PrevResult
		if data, err = json.Marshal(delegate); err != nil {
			return fmt.Errorf("encoding the delegate configuration: %w", err)
		}
	}
	if err := invoke.DelegateCheck(context.Background(), delegateType, data, nil); err != nil {
		return fmt.Errorf("delegate %s CHECK: %w", delegateType, err)
	}
	return nil
}

// errPluginNotAvailable is CNI 1.1's STATUS error "the plugin is not
// available" (code 50); the cni library has no constant for it yet.
const errPluginNotAvailable uint = 50

// cmdStatus (CNI 1.1) says whether pods can be networked now: only once
// flanneld has written a complete subnet file.
func cmdStatus(args *skel.CmdArgs) error {
	conf, err := parseNetConf(args.StdinData)
	if err != nil {
		return err
	}
	if _, err := loadSubnetEnv(conf.SubnetFile); err != nil {
		return types.NewError(errPluginNotAvailable, "flanneld has not written the subnet file yet", err.Error())
	}
	return nil
}

func delegateConfPath(dataDir, containerID string) (string, error) {
	if containerID == "" || containerID != filepath.Base(containerID) || containerID == "." || containerID == ".." {
		return "", fmt.Errorf("invalid container ID %q", containerID)
	}
	return filepath.Join(dataDir, containerID), nil
}

func saveDelegateConf(dataDir, containerID string, data []byte) error {
	path, err := delegateConfPath(dataDir, containerID)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return fmt.Errorf("creating %s: %w", dataDir, err)
	}
	// Written whole then renamed: a crash mid-write must not leave a file
	// that a later DEL cannot parse.
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return fmt.Errorf("saving the delegate configuration: %w", err)
	}
	return os.Rename(tmp, path)
}

// loadDelegateConf returns a saved delegate configuration and its plugin type.
func loadDelegateConf(dataDir, containerID string) ([]byte, string, error) {
	path, err := delegateConfPath(dataDir, containerID)
	if err != nil {
		return nil, "", err
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, "", err
	}
	var head types.NetConf
	if err := json.Unmarshal(data, &head); err != nil || head.Type == "" {
		return nil, "", fmt.Errorf("%s is not a delegate configuration (remove it to let DEL proceed)", path)
	}
	return data, head.Type, nil
}

func removeDelegateConf(dataDir, containerID string) error {
	path, err := delegateConfPath(dataDir, containerID)
	if err != nil {
		return err
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("removing %s: %w", path, err)
	}
	return nil
}
