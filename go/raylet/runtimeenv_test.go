package raylet

import (
	"errors"
	"strings"
	"testing"

	"goray/ids"
	pb "goray/rpc/proto"
)

// Work in a runtime environment runs in a worker process of that environment: the node starts
// one (with its variables) instead of handing it to an idle worker of the job, and a bad
// environment fails the task.
func TestRuntimeEnvWorkers(t *testing.T) {
	h := newHarness(t, map[string]float64{"CPU": 2})
	h.s.defaultJob.prestart = 0
	plain := h.worker(nil)
	h.takeEffects()
	d := h.driver()
	env := `{"env_vars":{"A":"1"}}`
	submit := func(fn, env string) ids.ObjectID { return submitInEnv(h, d, fn, env) }
	submit("inEnv", env)
	if got := executed(plain.out.take()); len(got) != 0 {
		t.Fatalf("the job's plain worker got %v", got)
	}
	spawns := h.takeEffects().spawnPool
	if len(spawns) != 1 || spawns[0].envText != env || strings.Join(spawns[0].env.Vars(), " ") != "A=1" {
		t.Fatalf("spawns %v, want one worker of the runtime env", spawns)
	}
	w := h.jobWorker(spawns[0], nil)
	if got := executed(w.out.take()); len(got) != 1 || got[0] != "inEnv" {
		t.Errorf("the env's worker got %v", got)
	}
	submit("plain", "")
	if got := executed(plain.out.take()); len(got) != 1 || got[0] != "plain" {
		t.Errorf("the plain worker got %v", got)
	}
	bad := submit("bad", `{"pip":["x"]}`)
	if obj, ok := h.s.store.Get(bad); !ok || !strings.Contains(string(obj.Data), "Python only") {
		t.Errorf("a task with a pip runtime_env: %v %q", ok, obj.Data)
	}
}

// submitInEnv submits task fn in runtime environment env from driver d (subscribed to its
// result) and returns its return id.
func submitInEnv(h *harness, d *conn, fn, env string) ids.ObjectID {
	tid := ids.NewTaskID()
	ret := tid.ReturnID(1)
	h.send(d, &pb.ClientMessage{Body: &pb.ClientMessage_Submit{Submit: &pb.TaskSpec{TaskId: tid[:], ReturnId: ret[:], FunctionName: fn, RuntimeEnv: env}}},
		subscribe(ret))
	return ret
}

// A task forwarded to another node keeps its runtime environment (and its placement group).
func TestRuntimeEnvForwarded(t *testing.T) {
	c := newCluster(t, map[string]float64{"CPU": 1})
	b := peerNode(map[string]float64{"CPU": 2, "onB": 1}, nil)
	c.update(b)
	d, _ := c.clusterJob("01000000")
	env := `{"env_vars":{"A":"1"}}`
	c.submitSpec(d, &pb.TaskSpec{FunctionName: "onB", Resources: map[string]float64{"onB": 1}, RuntimeEnv: env})
	out := c.takeCluster()
	if len(out.forward) != 1 || out.forward[0].spec.RuntimeEnv != env {
		t.Fatalf("forwarded %d tasks; the first's runtime env: %q", len(out.forward), func() string {
			if len(out.forward) == 0 {
				return ""
			}
			return out.forward[0].spec.RuntimeEnv
		}())
	}
}

// A runtime environment whose working_dir cannot be set up fails the tasks that wait for a
// worker of it (RuntimeEnvSetupError), without pausing the starts of other work: the job's
// other tasks still run.
func TestRuntimeEnvSetupFailed(t *testing.T) {
	h := newHarness(t, map[string]float64{"CPU": 2})
	h.s.defaultJob.prestart = 0
	d := h.driver()
	env := `{"working_dir":"gcs://_ray_pkg_` + strings.Repeat("0", 64) + `.zip"}`
	submit := func(fn, env string) ids.ObjectID { return submitInEnv(h, d, fn, env) }
	first, second := submit("inEnv1", env), submit("inEnv2", env)
	spawns := h.takeEffects().spawnPool
	if len(spawns) == 0 || spawns[0].envText != env {
		t.Fatalf("spawns %v, want a worker of the runtime env", spawns)
	}
	for _, j := range spawns {
		h.s.envSetupFailed(j, nil, errors.New("no such package"))
	}
	for _, ret := range []ids.ObjectID{first, second} {
		obj, ok := h.s.store.Get(ret)
		if !ok || !strings.Contains(string(obj.Data), "RuntimeEnvSetupError") || !strings.Contains(string(obj.Data), "no such package") {
			t.Errorf("a task of the environment: %v %q", ok, obj.Data)
		}
	}
	if h.s.starts.failures != 0 || h.s.starts.backingOff {
		t.Errorf("a setup failure counted as a start failure: %+v", h.s.starts)
	}
	h.takeEffects()
	plain := submit("plain", "")
	if spawns := h.takeEffects().spawnPool; len(spawns) != 1 || spawns[0].envText != "" {
		t.Fatalf("the plain task's spawns: %v", spawns)
	}
	if _, done := h.s.store.Get(plain); done {
		t.Error("the plain task finished before any worker ran it")
	}
}
