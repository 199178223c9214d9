package config

import (
	"strings"
	"testing"
)

func TestValidate(t *testing.T) {
	t.Setenv("RAY_ADDRESS", "")
	dir := t.TempDir()
	empty := "{}"
	cfg := &RayConfig{LocalMode: true, CodeSearchPath: []string{dir + "/."}, HeadArgs: []string{"--num-cpus", "2"},
		Namespace: "ns", DetachedActors: true, RuntimeEnv: &empty}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if !cfg.LocalMode || cfg.Namespace != "ns" || cfg.CodeSearchPath[0] != dir {
		t.Fatalf("%+v", cfg)
	}
	if err := (&RayConfig{}).Validate(); err != nil {
		t.Fatalf("the zero config: %v", err)
	}
}

func TestValidateRejects(t *testing.T) {
	t.Setenv("RAY_ADDRESS", "")
	env := `{"pip":["requests"]}`
	cases := []struct {
		cfg  RayConfig
		want string
	}{
		{RayConfig{RuntimeEnv: &env}, "runtime_env"},
		{RayConfig{NodeManagerPort: 1234}, "node_manager_port"},
		{RayConfig{CodeSearchPath: []string{"/no/such/dir"}}, "does not exist"},
		{RayConfig{CodeSearchPath: []string{""}}, "entry 0 is empty"},
	}
	for _, c := range cases {
		if err := c.cfg.Validate(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: got %v, want an error with %q", c.cfg, err, c.want)
		}
	}
	// Ray's redis_password is accepted for Ray's programs and ignored (goray has no Redis).
	for _, password := range []string{"", "5241590000000000"} {
		password := password
		if err := (&RayConfig{RedisPassword: &password}).Validate(); err != nil {
			t.Errorf("redis_password %q: %v", password, err)
		}
	}
	// The address: the config's, else RAY_ADDRESS (Ray's order).
	t.Setenv("RAY_ADDRESS", "127.0.0.9:6379")
	cfg := &RayConfig{}
	if err := cfg.Validate(); err != nil || cfg.Address != "127.0.0.9:6379" {
		t.Errorf("RAY_ADDRESS: address %q, %v", cfg.Address, err)
	}
	cfg = &RayConfig{Address: "127.0.0.8:1234"}
	if err := cfg.Validate(); err != nil || cfg.Address != "127.0.0.8:1234" {
		t.Errorf("the config's address: %q, %v", cfg.Address, err)
	}
}

func TestHeadArgs(t *testing.T) {
	h, err := ParseHeadArgs([]string{"--num-cpus", "3", "--resources={\"r1\": 2}", "--temp-dir /x", "--num-gpus=1", "--object-store-memory=67108864"})
	if err != nil {
		t.Fatal(err)
	}
	res := h.NodeResources(8)
	if res["CPU"] != 3 || res["GPU"] != 1 || res["r1"] != 2 || h.TempDir != "/x" || h.ObjectStoreMemory != 64<<20 {
		t.Fatalf("%v %+v", res, h)
	}
	h, _ = ParseHeadArgs(nil)
	if h.NodeResources(8)["CPU"] != 8 || !h.IncludeDashboard {
		t.Fatal("default CPUs, or the dashboard's default")
	}
	// Ray's scripts pass --include-dashboard: accepted in either form, with a boolean.
	for _, args := range [][]string{{"--include-dashboard", "false"}, {"--include-dashboard=False"}, {"--num-cpus 2 --include-dashboard 0"}} {
		if h, err := ParseHeadArgs(args); err != nil || h.IncludeDashboard {
			t.Errorf("%v: %v, %+v", args, err, h)
		}
	}
	bad := [][]string{{"--num-cpus"}, {"--num-cpus", "-1"}, {"--num-cpus", "x"}, {"--port", "1"},
		{"--resources", "{"}, {"--resources", `{"CPU":1}`}, {"--resources", `{"a":-1}`},
		{"--object-store-memory", "lots"}, {"--object-store-memory=100"}, {"--object-store-memory", "-5"},
		{"--include-dashboard"}, {"--include-dashboard", "maybe"}}
	for _, args := range bad {
		if _, err := ParseHeadArgs(args); err == nil {
			t.Errorf("%v accepted", args)
		}
	}
}

// Every resource quantity in head_args goes through goray/resources: out-of-range values are
// refused with a message that names the argument, the resource, the value and the rule.
func TestHeadArgsResourceQuantities(t *testing.T) {
	cases := []struct {
		args []string
		want []string // substrings of the error
	}{
		{[]string{"--num-cpus=1e18"}, []string{"--num-cpus", `"CPU"`, "1e+18", "too large", "at most 1e+13"}},
		{[]string{"--num-cpus", "1e400"}, []string{"--num-cpus", "+Inf", "infinite"}},
		{[]string{"--num-cpus", "inf"}, []string{"--num-cpus", `"CPU"`, "+Inf", "infinite"}},
		{[]string{"--num-cpus", "-Inf"}, []string{"-Inf", "infinite"}},
		{[]string{"--num-cpus=nan"}, []string{"--num-cpus", "NaN", "not a number"}},
		{[]string{"--num-cpus", "-1"}, []string{"--num-cpus", `"CPU"`, "= -1", "negative"}},
		{[]string{"--num-cpus", "0.00001"}, []string{"too small"}},
		{[]string{"--num-gpus=1e18"}, []string{"--num-gpus", `"GPU"`, "1e+18", "too large"}},
		{[]string{"--num-gpus", "NaN"}, []string{"--num-gpus", `"GPU"`, "NaN"}},
		{[]string{"--num-gpus", "-1"}, []string{`"GPU"`, "negative"}},
		{[]string{"--resources", `{"r1": 1e18}`}, []string{"--resources", `"r1"`, "1e+18", "too large"}},
		{[]string{"--resources", `{"r1": -1}`}, []string{"--resources", `"r1"`, "negative"}},
		{[]string{"--resources", `{"": 1}`}, []string{"--resources", "empty name"}},
		{[]string{"--num-cpus", "x"}, []string{"--num-cpus", "needs a non-negative number", `"x"`}},
	}
	for _, c := range cases {
		_, err := ParseHeadArgs(c.args)
		if err == nil {
			t.Errorf("%q accepted", c.args)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%q: error %q lacks %q", c.args, err, w)
			}
		}
	}
	// Zero is a valid total; the largest allowed quantity too.
	h, err := ParseHeadArgs([]string{"--num-cpus=0", "--num-gpus", "1e13", "--resources", `{"r0": 0, "big": 1e13}`})
	if err != nil {
		t.Fatal(err)
	}
	if res := h.NodeResources(8); res["CPU"] != 0 || res["GPU"] != 1e13 || res["r0"] != 0 || res["big"] != 1e13 {
		t.Errorf("node resources %v", res)
	}
}
