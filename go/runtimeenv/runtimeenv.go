// Package runtimeenv reads Ray's runtime environments (ray::RuntimeEnv, as JSON) for what goray
// applies: "env_vars", the environment variables of the worker processes that run a job's (or a
// task's, or an actor's) code, and "working_dir", a directory of files the driver ships to the
// nodes (as a package in the cluster's code store, see package.go) that becomes the worker
// processes' working directory and part of their library path. Work of different environments
// runs in different processes. Other fields are refused with an error that says so.
package runtimeenv

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// EnvVar is the environment variable a worker process learns its runtime environment from (the
// canonical JSON): tasks it submits inherit it, as in Ray.
const EnvVar = "GORAY_RUNTIME_ENV"

// Env is a runtime environment.
type Env struct {
	// EnvVars are variables set in the worker processes.
	EnvVars map[string]string
	// WorkingDir is the working directory of the worker processes: a local directory where a
	// driver names it, or the package URI (PackageURI) it became once shipped.
	WorkingDir string
}

// known are the fields of Ray's runtime environments goray does not apply, and why.
var known = map[string]string{
	"py_modules":    "Python only",
	"pip":           "Python only",
	"uv":            "Python only",
	"conda":         "Python only",
	"java_jars":     "Java only",
	"container":     "not supported by goray",
	"image_uri":     "not supported by goray",
	"nsight":        "not supported by goray",
	"excludes":      "not supported by goray",
	"config":        "not supported by goray",
	"py_executable": "Python only",
}

// Parse reads a runtime environment's JSON text ("" or "{}": none).
func Parse(text string) (*Env, error) {
	env := &Env{}
	if strings.TrimSpace(text) == "" {
		return env, nil
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal([]byte(text), &fields); err != nil {
		return nil, fmt.Errorf("runtime_env %s: a JSON object is needed: %v", shorten(text), err)
	}
	for name, raw := range fields {
		if name == "env_vars" {
			if err := json.Unmarshal(raw, &env.EnvVars); err != nil {
				return nil, fmt.Errorf("runtime_env env_vars: an object of strings is needed, not %s", shorten(string(raw)))
			}
			continue
		}
		if name == "working_dir" {
			if err := json.Unmarshal(raw, &env.WorkingDir); err != nil || env.WorkingDir == "" {
				return nil, fmt.Errorf("runtime_env working_dir: a directory's path (a non-empty string) is needed, not %s", shorten(string(raw)))
			}
			if strings.ContainsRune(env.WorkingDir, 0) {
				return nil, fmt.Errorf("runtime_env working_dir: the path holds a NUL byte")
			}
			continue
		}
		if why, ok := known[name]; ok {
			return nil, fmt.Errorf("runtime_env field %q: %s", name, why)
		}
		return nil, fmt.Errorf("runtime_env field %q is unknown (goray applies env_vars and working_dir)", name)
	}
	for k, v := range env.EnvVars {
		if k == "" || strings.ContainsAny(k, "=\x00") {
			return nil, fmt.Errorf("runtime_env env_vars: %q is not an environment variable's name", k)
		}
		if strings.ContainsRune(v, 0) {
			return nil, fmt.Errorf("runtime_env env_vars: the value of %s holds a NUL byte", k)
		}
	}
	return env, nil
}

// shorten cuts long text for error messages.
func shorten(s string) string {
	if len(s) > 200 {
		return s[:200] + "..."
	}
	return s
}

// Empty tells whether the environment changes nothing.
func (e *Env) Empty() bool { return len(e.EnvVars) == 0 && e.WorkingDir == "" }

// String is the canonical JSON text of the environment ("" when it is empty): equal
// environments have equal texts.
func (e *Env) String() string {
	if e.Empty() {
		return ""
	}
	fields := map[string]interface{}{}
	if len(e.EnvVars) > 0 {
		fields["env_vars"] = e.EnvVars
	}
	if e.WorkingDir != "" {
		fields["working_dir"] = e.WorkingDir
	}
	data, _ := json.Marshal(fields) // (maps marshal sorted)
	return string(data)
}

// Vars are the environment's variables as "NAME=value", sorted.
func (e *Env) Vars() []string {
	out := make([]string, 0, len(e.EnvVars))
	for k, v := range e.EnvVars {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// Merge is the environment of work with its own environment child submitted from work (or a
// job) with parent, as Ray merges them: the child's fields win, and env_vars merge name by name
// (the child's values win); the child's working_dir, when it has one, replaces the parent's. It
// returns the canonical text.
func Merge(parent, child string) (string, error) {
	p, err := Parse(parent)
	if err != nil {
		return "", err
	}
	c, err := Parse(child)
	if err != nil {
		return "", err
	}
	if c.Empty() {
		return p.String(), nil
	}
	merged := &Env{EnvVars: map[string]string{}, WorkingDir: p.WorkingDir}
	if c.WorkingDir != "" {
		merged.WorkingDir = c.WorkingDir
	}
	for k, v := range p.EnvVars {
		merged.EnvVars[k] = v
	}
	for k, v := range c.EnvVars {
		merged.EnvVars[k] = v
	}
	return merged.String(), nil
}

// EnvJobConfig is the variable a submitted job's command finds its job's configuration in (JSON:
// {"runtime_env": ..., "metadata": ...}), with Ray's name: a driver it starts takes the
// runtime_env as its job's (under RayConfig::runtime_env's).
const EnvJobConfig = "RAY_JOB_CONFIG_JSON_ENV_VAR"

// EnvSubmissionID is the variable a submitted job's command finds its submission id in (a
// driver it starts gives it to the control store, which links the driver's job to it).
const EnvSubmissionID = "RAY_JOB_SUBMISSION_ID"

// FromJobConfig is the canonical runtime environment in a job configuration's JSON text (the
// value of EnvJobConfig; "" for none).
func FromJobConfig(text string) (string, error) {
	if strings.TrimSpace(text) == "" {
		return "", nil
	}
	var cfg struct {
		RuntimeEnv json.RawMessage `json:"runtime_env"`
	}
	if err := json.Unmarshal([]byte(text), &cfg); err != nil {
		return "", fmt.Errorf("%s: the submitted job's configuration is not JSON: %v", EnvJobConfig, err)
	}
	if len(cfg.RuntimeEnv) == 0 || string(cfg.RuntimeEnv) == "null" {
		return "", nil
	}
	env, err := Parse(string(cfg.RuntimeEnv))
	if err != nil {
		return "", fmt.Errorf("%s: the submitted job's %w", EnvJobConfig, err)
	}
	return env.String(), nil
}
