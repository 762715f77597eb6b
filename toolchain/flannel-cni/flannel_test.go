package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/containernetworking/cni/pkg/skel"
)

// The delegate in these tests is a stand-in "bridge" (a shell script on
// CNI_PATH) that records the configuration it was handed and answers with a
// fixed result; the real bridge plugin needs root and a network namespace.
const fakeDelegate = `#!/bin/sh
set -e
conf="$(cat)"
printf '%s' "$conf" > "$RECORD_DIR/$CNI_COMMAND.json"
if [ "$CNI_COMMAND" = ADD ]; then
  v=$(printf '%s' "$conf" | sed -n 's/.*"cniVersion":"\([^"]*\)".*/\1/p')
  printf '{"cniVersion":"%s","ips":[{"version":"4","address":"10.42.1.2/24","gateway":"10.42.1.1"}]}' "$v"
fi
`

const subnetFileText = `FLANNEL_NETWORK=10.42.0.0/16
FLANNEL_SUBNET=10.42.1.1/24
FLANNEL_MTU=1450
FLANNEL_IPMASQ=true
`

type fixture struct {
	dir, subnetFile, dataDir, recordDir string
}

func newFixture(t *testing.T, subnetText string) *fixture {
	t.Helper()
	f := &fixture{dir: t.TempDir()}
	f.subnetFile = filepath.Join(f.dir, "subnet.env")
	f.dataDir = filepath.Join(f.dir, "data")
	f.recordDir = filepath.Join(f.dir, "record")
	binDir := filepath.Join(f.dir, "bin")
	for _, d := range []string{binDir, f.recordDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(f.subnetFile, []byte(subnetText), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"bridge", "ipvlan"} {
		if err := os.WriteFile(filepath.Join(binDir, name), []byte(fakeDelegate), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("CNI_PATH", binDir)
	t.Setenv("RECORD_DIR", f.recordDir)
	t.Setenv("CNI_CONTAINERID", "ctr1")
	t.Setenv("CNI_NETNS", "/var/run/netns/test")
	t.Setenv("CNI_IFNAME", "eth0")
	return f
}

func (f *fixture) args(t *testing.T, conf map[string]any) *skel.CmdArgs {
	t.Helper()
	conf["subnetFile"] = f.subnetFile
	conf["dataDir"] = f.dataDir
	data, err := json.Marshal(conf)
	if err != nil {
		t.Fatal(err)
	}
	return &skel.CmdArgs{ContainerID: "ctr1", Netns: "/var/run/netns/test", IfName: "eth0", StdinData: data}
}

// recorded returns what the fake delegate received for a command, or nil.
func (f *fixture) recorded(t *testing.T, command string) map[string]any {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(f.recordDir, command+".json"))
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatalf("delegate got invalid JSON %q: %v", data, err)
	}
	return out
}

func TestLoadSubnetEnv(t *testing.T) {
	f := newFixture(t, "# written by flanneld\n"+subnetFileText+"FLANNEL_IPV6_NETWORK=fd00::/56\n")
	env, err := loadSubnetEnv(f.subnetFile)
	if err != nil {
		t.Fatal(err)
	}
	if env.network.String() != "10.42.0.0/16" || env.subnet.String() != "10.42.1.1/24" || env.mtu != 1450 || !env.ipMasq {
		t.Fatalf("unexpected subnet env: %+v", env)
	}
}

func TestLoadSubnetEnvErrors(t *testing.T) {
	cases := map[string]struct{ text, want string }{
		"missing keys": {"FLANNEL_NETWORK=10.42.0.0/16\nFLANNEL_MTU=1450\n", "missing FLANNEL_SUBNET, FLANNEL_IPMASQ"},
		"bad cidr":     {"FLANNEL_SUBNET=10.42.1.300/24\n", `line 1: FLANNEL_SUBNET="10.42.1.300/24" is not a CIDR`},
		"bad mtu":      {"FLANNEL_MTU=big\n", `FLANNEL_MTU="big" is not a positive number`},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, c.text)
			_, err := loadSubnetEnv(f.subnetFile)
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), f.subnetFile) {
				t.Fatalf("want an error naming %s and containing %q, got %v", f.subnetFile, c.want, err)
			}
		})
	}
	_, err := loadSubnetEnv(filepath.Join(t.TempDir(), "absent.env"))
	if err == nil || !strings.Contains(err.Error(), "is flanneld running") {
		t.Fatalf("missing file: got %v", err)
	}
}

func TestAddDelegatesToBridgeWithTheLeasedSubnet(t *testing.T) {
	f := newFixture(t, subnetFileText)
	result, err := add(f.args(t, map[string]any{"cniVersion": "1.0.0", "name": "cbr0", "type": "flannel"}))
	if err != nil {
		t.Fatal(err)
	}
	if result.Version() != "1.0.0" {
		t.Fatalf("result version %s", result.Version())
	}
	got := f.recorded(t, "ADD")
	want := map[string]any{
		"cniVersion": "1.0.0",
		"name":       "cbr0",
		"type":       "bridge",
		"isGateway":  true,
		"ipMasq":     false, // flanneld masquerades (FLANNEL_IPMASQ=true)
		"mtu":        float64(1450),
		"ipam": map[string]any{
			"type":   "host-local",
			"subnet": "10.42.1.0/24",
			"routes": []any{map[string]any{"dst": "10.42.0.0/16"}},
		},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("delegate configuration:\n got %v\nwant %v", got, want)
	}
	saved, err := os.ReadFile(filepath.Join(f.dataDir, "ctr1"))
	if err != nil {
		t.Fatalf("ADD must keep the delegate configuration for DEL: %v", err)
	}
	var savedConf map[string]any
	if err := json.Unmarshal(saved, &savedConf); err != nil || !reflect.DeepEqual(savedConf, want) {
		t.Fatalf("saved configuration %s differs from the one delegated", saved)
	}
}

func TestAddKeepsDelegateKeysAndRuntimeConfig(t *testing.T) {
	f := newFixture(t, strings.Replace(subnetFileText, "FLANNEL_IPMASQ=true", "FLANNEL_IPMASQ=false", 1))
	// kube-flannel's own CNI configuration, with an MTU override and port mappings.
	_, err := add(f.args(t, map[string]any{
		"cniVersion": "0.3.1", "name": "cbr0", "type": "flannel",
		"delegate":      map[string]any{"hairpinMode": true, "isDefaultGateway": true, "mtu": 1400},
		"runtimeConfig": map[string]any{"portMappings": []any{map[string]any{"hostPort": 8080, "containerPort": 80}}},
	}))
	if err != nil {
		t.Fatal(err)
	}
	got := f.recorded(t, "ADD")
	if got["mtu"] != float64(1400) || got["hairpinMode"] != true || got["isDefaultGateway"] != true {
		t.Fatalf("delegate keys must win over the subnet file: %v", got)
	}
	if got["ipMasq"] != true {
		t.Fatalf("flanneld does not masquerade, so the bridge must: %v", got)
	}
	if got["cniVersion"] != "0.3.1" || got["runtimeConfig"] == nil {
		t.Fatalf("cniVersion and runtimeConfig must be handed on: %v", got)
	}
}

func TestAddOtherDelegateType(t *testing.T) {
	f := newFixture(t, subnetFileText)
	if _, err := add(f.args(t, map[string]any{"cniVersion": "1.0.0", "name": "n", "type": "flannel",
		"delegate": map[string]any{"type": "ipvlan", "master": "eth0"}})); err != nil {
		t.Fatal(err)
	}
	got := f.recorded(t, "ADD")
	if got["type"] != "ipvlan" || got["master"] != "eth0" {
		t.Fatalf("want ipvlan delegate, got %v", got)
	}
	if _, ok := got["isGateway"]; ok {
		t.Fatalf("isGateway is a bridge key only: %v", got)
	}
}

func TestBadConfigurationIsRefusedBeforeAnythingRuns(t *testing.T) {
	cases := map[string]struct {
		delegate map[string]any
		want     string
	}{
		"name":     {map[string]any{"name": "x"}, "delegate.name must not be set"},
		"ipam":     {map[string]any{"ipam": map[string]any{}}, "delegate.ipam must not be set"},
		"type int": {map[string]any{"type": 3}, "delegate.type must be a plugin name"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, subnetFileText)
			_, err := add(f.args(t, map[string]any{"cniVersion": "1.0.0", "name": "n", "type": "flannel", "delegate": c.delegate}))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("want %q, got %v", c.want, err)
			}
			if f.recorded(t, "ADD") != nil {
				t.Fatal("the delegate must not run on a bad configuration")
			}
			if _, err := os.Stat(filepath.Join(f.dataDir, "ctr1")); !os.IsNotExist(err) {
				t.Fatal("nothing may be saved on a bad configuration")
			}
		})
	}
}

func TestAddWithoutSubnetFileFails(t *testing.T) {
	f := newFixture(t, subnetFileText)
	if err := os.Remove(f.subnetFile); err != nil {
		t.Fatal(err)
	}
	_, err := add(f.args(t, map[string]any{"cniVersion": "1.0.0", "name": "n", "type": "flannel"}))
	if err == nil || !strings.Contains(err.Error(), "is flanneld running") {
		t.Fatalf("got %v", err)
	}
	if err := cmdStatus(f.args(t, map[string]any{"cniVersion": "1.1.0", "name": "n", "type": "flannel"})); err == nil {
		t.Fatal("STATUS must fail while there is no subnet file")
	}
}

func TestDelUsesTheSavedConfigurationThenForgetsIt(t *testing.T) {
	f := newFixture(t, subnetFileText)
	conf := map[string]any{"cniVersion": "1.0.0", "name": "cbr0", "type": "flannel"}
	if _, err := add(f.args(t, conf)); err != nil {
		t.Fatal(err)
	}
	// flanneld restarted with another lease: DEL must still undo what ADD did.
	if err := os.WriteFile(f.subnetFile, []byte(strings.ReplaceAll(subnetFileText, "10.42.1.", "10.42.9.")), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := cmdDel(f.args(t, conf)); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(f.recorded(t, "DEL"), f.recorded(t, "ADD")) {
		t.Fatalf("DEL got %v, ADD got %v", f.recorded(t, "DEL"), f.recorded(t, "ADD"))
	}
	if _, err := os.Stat(filepath.Join(f.dataDir, "ctr1")); !os.IsNotExist(err) {
		t.Fatal("DEL must remove the saved configuration")
	}
	// A second DEL (or one for a container never added) succeeds and runs nothing.
	if err := os.Remove(filepath.Join(f.recordDir, "DEL.json")); err != nil {
		t.Fatal(err)
	}
	if err := cmdDel(f.args(t, conf)); err != nil {
		t.Fatalf("repeated DEL: %v", err)
	}
	if f.recorded(t, "DEL") != nil {
		t.Fatal("repeated DEL must not call the delegate")
	}
}

func TestCheckHandsOnPrevResult(t *testing.T) {
	f := newFixture(t, subnetFileText)
	conf := map[string]any{"cniVersion": "1.0.0", "name": "cbr0", "type": "flannel"}
	if _, err := add(f.args(t, conf)); err != nil {
		t.Fatal(err)
	}
	conf["prevResult"] = map[string]any{"cniVersion": "1.0.0", "ips": []any{map[string]any{"address": "10.42.1.2/24"}}}
	if err := cmdCheck(f.args(t, conf)); err != nil {
		t.Fatal(err)
	}
	got := f.recorded(t, "CHECK")
	if got == nil || got["type"] != "bridge" || got["prevResult"] == nil {
		t.Fatalf("CHECK must get the saved configuration plus prevResult, got %v", got)
	}
	if err := cmdStatus(f.args(t, conf)); err != nil {
		t.Fatalf("STATUS with a complete subnet file: %v", err)
	}
}

func TestContainerIDCannotEscapeDataDir(t *testing.T) {
	if _, err := delegateConfPath("/var/lib/cni/flannel", "../../etc/passwd"); err == nil {
		t.Fatal("a container ID with a path must be refused")
	}
}
