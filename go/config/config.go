// Package config checks the RayConfig a driver passes to ray_init (go/capi reads it from the C
// struct ray_config) and reads the `ray start` style head arguments inside it, and rejects what
// goray cannot honour with a clear message.
package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/golang/glog"

	"goray/resources"
	"goray/runtimeenv"
)

// RayConfig mirrors ray::RayConfig's fields and the --ray_* flags that override them.
type RayConfig struct {
	Address        string
	LocalMode      bool
	CodeSearchPath []string
	HeadArgs       []string
	// DetachedActors: default_actor_lifetime is DETACHED (else NON_DETACHED).
	DetachedActors  bool
	Namespace       string
	RedisPassword   *string // nil: not given
	RuntimeEnv      *string // nil: none; else the JSON text of ray::RuntimeEnv
	JobID           string
	NodeManagerPort int
	SessionDir      string
	LogsDir         string
	NodeIPAddress   string
}

// HeadOptions are the `ray start --head` arguments goray understands.
type HeadOptions struct {
	NumCPUs   float64 // negative: not given
	NumGPUs   float64 // negative: not given
	Resources map[string]float64
	TempDir   string
	// ObjectStoreMemory is the shared-memory object store's size in bytes (0: not given, the
	// node's default of 30% of the machine's memory).
	ObjectStoreMemory int64
	// IncludeDashboard is --include-dashboard's value (true when not given), accepted for Ray's
	// scripts: the embedded node serves no dashboard.
	IncludeDashboard bool
	// MetricsExportPort is where the users' metrics are served (0: not given, any free port).
	MetricsExportPort int
}

// redisWarning says once per process that Ray's Redis settings are ignored.
var redisWarning sync.Once

// Validate rejects settings goray cannot honour yet and checks the rest. It resolves the
// address from RAY_ADDRESS when the config has none.
func (c *RayConfig) Validate() error {
	if c.Address == "" {
		c.Address = os.Getenv("RAY_ADDRESS")
	}
	if c.RedisPassword != nil {
		// (Ray's scripts pass one; the cluster token is what authenticates here.)
		redisWarning.Do(func() {
			glog.Warningf("redis_password (and redis_username) are ignored: goray's control store has no Redis; the cluster token authenticates")
		})
	}
	if c.RuntimeEnv != nil {
		if _, err := runtimeenv.Parse(*c.RuntimeEnv); err != nil {
			return fmt.Errorf("RayConfig::%w", err)
		}
	}
	if c.NodeManagerPort != 0 && c.Address == "" {
		return fmt.Errorf("node_manager_port %d: the embedded node talks over unix sockets and takes no port", c.NodeManagerPort)
	}
	for i, p := range c.CodeSearchPath {
		if p == "" {
			return fmt.Errorf("code_search_path entry %d is empty", i)
		}
		abs, err := filepath.Abs(p)
		if err != nil {
			return fmt.Errorf("code_search_path entry %q: %w", p, err)
		}
		if _, err := os.Stat(abs); err != nil {
			return fmt.Errorf("code_search_path entry %q does not exist", p)
		}
		c.CodeSearchPath[i] = abs
	}
	return nil
}

// ParseHeadArgs reads head_args: --num-cpus N, --num-gpus N, --resources JSON, --temp-dir DIR,
// --object-store-memory BYTES, --include-dashboard BOOL, --metrics-export-port PORT, each as
// "--flag value" or
// "--flag=value"; an element "--flag value" (without JSON) is split at spaces.
func ParseHeadArgs(args []string) (*HeadOptions, error) {
	var words []string
	for _, a := range args {
		if strings.HasPrefix(a, "--") && !strings.Contains(a, "{") {
			words = append(words, strings.Fields(a)...)
		} else {
			words = append(words, a)
		}
	}
	h := &HeadOptions{NumCPUs: -1, NumGPUs: -1, Resources: map[string]float64{}, IncludeDashboard: true}
	for i := 0; i < len(words); i++ {
		flag, value, hasValue := strings.Cut(words[i], "=")
		switch flag {
		case "--num-cpus", "--num-gpus", "--resources", "--temp-dir", "--object-store-memory", "--include-dashboard", "--metrics-export-port":
		case "--head":
			continue
		default:
			return nil, fmt.Errorf("unsupported head argument %q (goray understands --num-cpus, --num-gpus, --resources, --temp-dir, --object-store-memory, --include-dashboard, --metrics-export-port)", words[i])
		}
		if !hasValue {
			if i+1 >= len(words) {
				return nil, fmt.Errorf("head argument %s needs a value", flag)
			}
			i++
			value = words[i]
		}
		switch flag {
		case "--num-cpus", "--num-gpus":
			n, err := strconv.ParseFloat(value, 64)
			if err != nil && !errors.Is(err, strconv.ErrRange) { // out of range: Validate says why
				return nil, fmt.Errorf("head argument %s needs a non-negative number, not %q", flag, value)
			}
			name := "CPU"
			if flag == "--num-gpus" {
				name = "GPU"
			}
			if err := resources.ValidateQuantity("head argument "+flag+" "+value, name, n, resources.Total); err != nil {
				return nil, err
			}
			if flag == "--num-cpus" {
				h.NumCPUs = n
			} else {
				h.NumGPUs = n
			}
		case "--resources":
			res := map[string]float64{}
			if err := json.Unmarshal([]byte(value), &res); err != nil {
				return nil, fmt.Errorf("head argument --resources needs a JSON object of numbers, not %q: %w", value, err)
			}
			for k, v := range res {
				if k == "CPU" || k == "GPU" {
					return nil, fmt.Errorf("--resources must not set %s: use --num-cpus or --num-gpus", k)
				}
				h.Resources[k] = v
			}
			if err := resources.Validate("head argument --resources", res, resources.Total); err != nil {
				return nil, err
			}
		case "--temp-dir":
			h.TempDir = value
		case "--include-dashboard":
			// Accepted as Ray's scripts pass it; the embedded node serves no dashboard either way.
			b, err := strconv.ParseBool(value)
			if err != nil {
				return nil, fmt.Errorf("head argument --include-dashboard takes true or false, not %q", value)
			}
			h.IncludeDashboard = b
		case "--metrics-export-port":
			n, err := strconv.Atoi(value)
			if err != nil || n < 0 || n > 65535 {
				return nil, fmt.Errorf("head argument --metrics-export-port needs a port number (0: any free port), not %q", value)
			}
			h.MetricsExportPort = n
		case "--object-store-memory":
			n, err := strconv.ParseInt(value, 10, 64)
			if err != nil || n < MinObjectStoreMemory {
				return nil, fmt.Errorf("head argument --object-store-memory needs a whole number of bytes of at least %d, not %q", MinObjectStoreMemory, value)
			}
			h.ObjectStoreMemory = n
		}
	}
	return h, nil
}

// MinObjectStoreMemory is the smallest object store goray accepts (Ray's minimum is 75 MiB; goray
// allows smaller stores, which tests of spilling use, but not absurd ones).
const MinObjectStoreMemory = 1 << 20

// NodeResources is the node's resource totals: CPUs default to the machine's count.
func (h *HeadOptions) NodeResources(machineCPUs int) map[string]float64 {
	out := map[string]float64{}
	for k, v := range h.Resources {
		out[k] = v
	}
	out["CPU"] = float64(machineCPUs)
	if h.NumCPUs >= 0 {
		out["CPU"] = h.NumCPUs
	}
	if h.NumGPUs > 0 {
		out["GPU"] = h.NumGPUs
	}
	return out
}
