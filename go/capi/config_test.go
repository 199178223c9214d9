package main

import (
	"reflect"
	"strings"
	"testing"

	"goray/capi/internal/configtest"
	"goray/config"
)

func str(s string) *string { return &s }

func u64(n uint64) *uint64 { return &n }

// Every field of the C struct reaches the Go config unchanged, text that JSON would have to
// escape included.
func TestReadConfigFields(t *testing.T) {
	odd := "ns \"quoted\" back\\slash tab\t newline\n unicode é 名前 🚀 {}[],:"
	c := configtest.New(configtest.Fields{
		Address:              str("127.0.0.1:1"),
		Namespace:            str(odd),
		RedisPassword:        str(""),
		RuntimeEnv:           str(`{"env_vars":{"A":"b"}}`),
		JobID:                str("01000000"),
		SessionDir:           str("/tmp/s"),
		LogsDir:              str("/tmp/l"),
		NodeIPAddress:        str("127.0.0.2"),
		LocalMode:            1,
		DefaultActorLifetime: 2,
		NodeManagerPort:      1234,
		CodeSearchPath:       []*string{str("/a"), str(odd)},
		HeadArgs:             []*string{str("--resources"), str(`{"r1": 1}`)},
	}, 0)
	defer c.Free()
	got, err := readConfig(c.Ptr())
	if err != nil {
		t.Fatal(err)
	}
	want := &config.RayConfig{
		Address:         "127.0.0.1:1",
		LocalMode:       true,
		CodeSearchPath:  []string{"/a", odd},
		HeadArgs:        []string{"--resources", `{"r1": 1}`},
		DetachedActors:  true,
		Namespace:       odd,
		RedisPassword:   str(""),
		RuntimeEnv:      str(`{"env_vars":{"A":"b"}}`),
		JobID:           "01000000",
		NodeManagerPort: 1234,
		SessionDir:      "/tmp/s",
		LogsDir:         "/tmp/l",
		NodeIPAddress:   "127.0.0.2",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
}

// ray_config_init's defaults: NULL strings read as empty, NULL optionals as not given.
func TestReadConfigDefaults(t *testing.T) {
	for _, lifetime := range []int{0, 1} {
		c := configtest.New(configtest.Fields{DefaultActorLifetime: lifetime}, 0)
		got, err := readConfig(c.Ptr())
		c.Free()
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, &config.RayConfig{}) {
			t.Errorf("lifetime %d: %+v", lifetime, got)
		}
	}
}

// Fields of newer headers are accepted while they are zero (unset).
func TestReadConfigFromNewerHeaders(t *testing.T) {
	c := configtest.New(configtest.Fields{Namespace: str("ns")}, 16)
	defer c.Free()
	got, err := readConfig(c.Ptr())
	if err != nil || got.Namespace != "ns" {
		t.Fatalf("%+v %v", got, err)
	}
	c.Extra()[9] = 1
	if _, err := readConfig(c.Ptr()); err == nil || !strings.Contains(err.Error(), "newer headers") {
		t.Errorf("a set unknown field: %v", err)
	}
}

func TestReadConfigRejects(t *testing.T) {
	if _, err := readConfig(nil); err == nil || !strings.Contains(err.Error(), "NULL") {
		t.Errorf("NULL config: %v", err)
	}
	cases := []struct {
		name   string
		fields configtest.Fields
		size   *uint64 // struct_size when not nil
		want   []string
	}{
		{"struct_size 0", configtest.Fields{}, u64(0), []string{"struct_size", "ray_config_init"}},
		{"struct_size too small", configtest.Fields{}, u64(8), []string{"struct_size is 8"}},
		{`JSON text of ABI version 1 ({"addres...)`, configtest.Fields{}, u64(0x736572646461227b), []string{"struct_size"}},
		{"local_mode 2", configtest.Fields{LocalMode: 2}, nil, []string{"local_mode must be 0 or 1, not 2"}},
		{"local_mode -1", configtest.Fields{LocalMode: -1}, nil, []string{"local_mode", "-1"}},
		{"lifetime 3", configtest.Fields{DefaultActorLifetime: 3}, nil, []string{"default_actor_lifetime", "not 3"}},
		{"items NULL", configtest.Fields{CodeSearchPathCount: u64(2)}, nil, []string{"code_search_path.items is NULL", "count is 2"}},
		{"item NULL", configtest.Fields{HeadArgs: []*string{str("--num-cpus"), nil}}, nil, []string{"head_args.items[1] is NULL"}},
		{"count garbage", configtest.Fields{HeadArgs: []*string{str("x")}, HeadArgsCount: u64(1 << 40)}, nil, []string{"head_args.count", "uninitialized"}},
	}
	for _, tc := range cases {
		c := configtest.New(tc.fields, 0)
		if tc.size != nil {
			c.SetStructSize(*tc.size)
		}
		_, err := readConfig(c.Ptr())
		c.Free()
		if err == nil {
			t.Errorf("%s: accepted", tc.name)
			continue
		}
		for _, w := range append(tc.want, "ray_init") {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q lacks %q", tc.name, err, w)
			}
		}
	}
}
