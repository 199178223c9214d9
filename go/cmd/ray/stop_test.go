package main

import (
	"fmt"
	"testing"

	"goray/raylet"
)

// Which processes `ray stop` ends.
func TestNodesToStop(t *testing.T) {
	procs := []proc{
		{pid: 10, args: []string{"/x/ray", "start", "--head", "--block"}, env: map[string]string{envDaemonRoot: "/r1"}},
		{pid: 11, args: []string{"/usr/bin/ray", "start", "--address=h:1", "--block"}, env: map[string]string{}},
		{pid: 12, args: []string{"ray", "start", "--head", "--block", "--temp-dir=/r2"}, env: map[string]string{}},
		{pid: 13, args: []string{"ray", "start", "--head", "--block", "--temp-dir", "/r3"}, env: map[string]string{}},
		{pid: 14, args: []string{"ray", "start", "--head", "--block"}, env: map[string]string{"RAY_TMPDIR": "/r1/"}},
		{pid: 20, args: []string{"ray", "status"}, env: map[string]string{}},
		{pid: 21, args: []string{"/bin/vi", "start"}, env: map[string]string{}},
		{pid: 22, args: []string{"./example"}, env: map[string]string{"RAY_TMPDIR": "/r1"}},
	}
	cases := []struct {
		only string
		want string
	}{
		{"", "[10 11 12 13 14]"},
		{"/r1", "[10 14]"},
		{"/r2", "[12]"},
		{"/r3", "[13]"},
		{"/tmp/ray", "[11]"},
		{"/nowhere", "[]"},
	}
	for _, c := range cases {
		var pids []int
		for _, p := range nodesToStop(procs, c.only) {
			pids = append(pids, p.pid)
		}
		if got := fmt.Sprint(pids); got != c.want && !(c.want == "[]" && pids == nil) {
			t.Errorf("only %q: %s, want %s", c.only, got, c.want)
		}
	}
}

// Workers whose node is gone are ended; those of a live node (an embedded driver's) are not.
func TestOrphanWorkers(t *testing.T) {
	worker := func(pid int, dir string) proc {
		return proc{pid: pid, env: map[string]string{raylet.EnvWorker: "1", raylet.EnvSessionDir: dir}}
	}
	procs := []proc{worker(1, "/s/live"), worker(2, "/s/dead"), {pid: 3, env: map[string]string{raylet.EnvSessionDir: "/s/dead"}}, worker(4, "")}
	got := orphanWorkers(procs, func(dir string) bool { return dir == "/s/live" })
	if len(got) != 1 || got[0].pid != 2 {
		t.Errorf("orphans %v, want pid 2 only", got)
	}
}
