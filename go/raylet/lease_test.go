package raylet

import (
	"fmt"
	"strings"
	"testing"

	"goray/ids"
	"goray/objstore"
	"goray/resources"
	pb "goray/rpc/proto"
)

// leaseSpec is a lease request for tasks that need res.
func leaseSpec(res map[string]float64) *pb.TaskSpec {
	return &pb.TaskSpec{FunctionName: "(worker lease)", TaskType: taskLease, Resources: res}
}

// Where the client's node places a lease request: as it would place a task of the shape, except
// that a lease never runs on the client's own node (its tasks go through it as usual then), and a
// shape no node can ever fit gets no lease (instead of waiting for ever).
func TestClusterLeasePlacement(t *testing.T) {
	withR := map[string]float64{"CPU": 2, "R": 1}
	cases := []struct {
		name  string
		busy  bool       // the local node's one CPU runs a task
		nodes []ViewNode // the other nodes
		res   map[string]float64
		args  bool // the request has an argument
		want  string
	}{
		{name: "the local node has room", nodes: []ViewNode{peerNode(cpus(2), nil)}, res: cpus(1),
			want: "refused: no worker lease: the client's own node runs tasks of this shape"},
		{name: "only another node has the resource", nodes: []ViewNode{peerNode(withR, nil)}, res: map[string]float64{"R": 1},
			want: "forwarded to 0"},
		{name: "the local node is busy, another has room", busy: true, nodes: []ViewNode{peerNode(cpus(2), nil)}, res: cpus(1),
			want: "forwarded to 0"},
		{name: "every node is busy: its tasks wait here", busy: true, nodes: []ViewNode{peerNode(cpus(2), cpus(0))}, res: cpus(1),
			want: "refused: no worker lease: the client's own node runs tasks of this shape"},
		{name: "no node has the resource", nodes: []ViewNode{peerNode(withR, nil)}, res: map[string]float64{"X": 1},
			want: "refused: no worker lease: no node of the cluster has"},
		{name: "no other node", res: cpus(1),
			want: "refused: no worker lease: the client's own node runs tasks of this shape"},
		{name: "a request with arguments", nodes: []ViewNode{peerNode(withR, nil)}, res: map[string]float64{"R": 1}, args: true,
			want: "refused: invalid worker lease request: it has arguments"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newCluster(t, cpus(1))
			d, j := c.clusterJob("J")
			if tc.busy {
				c.jobWorker(j)
				c.submit(d, "Busy", nil, 0)
			}
			c.update(tc.nodes...)
			c.takeCluster()
			spec := leaseSpec(tc.res)
			if tc.args {
				spec.Args = []*pb.TaskArg{{Data: []byte("x")}}
			}
			ret := c.submitSpec(d, spec)
			e := c.takeCluster()
			got := "waits"
			if res, ok := objects(d.out.take())[ret]; ok {
				got = "refused: " + strings.TrimPrefix(res, fmt.Sprintf("%d:", objstore.KindTaskError))
			}
			if f := forwardedTo(e, tc.nodes); f != "" {
				got = "forwarded to " + strings.TrimSuffix(f, ":(worker lease)")
				if e.forward[0].spec.TaskType != taskLease || e.forward[0].spec.Job.GetJobId() != "J" {
					t.Errorf("forwarded as %v", e.forward[0].spec)
				}
			}
			if !strings.HasPrefix(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// A lease on the node that runs it: an idle worker of the job takes it with its resources; once
// the worker reports its address (the lease's result, for the forwarding node) it stays the
// lease's, holding the resources and taking no task from the node, until it ends the lease or
// dies; blocked in Get, it lends its CPU, as a task's worker does.
func TestClusterLeaseOnItsNode(t *testing.T) {
	ended := &pb.ClientMessage{Body: &pb.ClientMessage_LeaseEnded{LeaseEnded: &pb.LeaseEnded{}}}
	cases := []struct {
		name string
		end  func(c *cluster, leased *conn) // then
		// want: the worker that had the lease after end ("leased", "idle" or "gone"), and the
		// CPUs free then (the node's other worker runs one task, another is queued behind it).
		want        string
		wantFree    float64
		wantBlocked int // workers the node counts as blocked in Get after end
	}{
		{name: "held until the worker ends it", end: func(*cluster, *conn) {}, want: "leased", wantFree: 0},
		{name: "the worker ends it", end: func(c *cluster, leased *conn) { c.send(leased, ended) }, want: "idle", wantFree: 1},
		{name: "the worker dies", end: func(c *cluster, leased *conn) {
			c.do(func(s *state) { s.workerEnded(leased.w, exit{status: "was killed"}) })
		}, want: "gone", wantFree: 1},
		{name: "the worker blocks in Get", end: func(c *cluster, leased *conn) {
			c.send(leased, blocked(true))
		}, want: "leased", wantFree: 1, wantBlocked: 1},
		{name: "the worker blocks in Get, then goes on", end: func(c *cluster, leased *conn) {
			c.send(leased, blocked(true), blocked(false))
		}, want: "leased", wantFree: 0},
		{name: "the worker dies blocked in Get", end: func(c *cluster, leased *conn) {
			c.send(leased, blocked(true))
			c.do(func(s *state) { s.workerEnded(leased.w, exit{status: "was killed"}) })
		}, want: "gone", wantFree: 1},
		{name: "the worker ends it blocked in Get", end: func(c *cluster, leased *conn) {
			c.send(leased, blocked(true), ended)
		}, want: "idle", wantFree: 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newCluster(t, cpus(2))
			_, j := c.clusterJob("J")
			agent := c.driver()
			agent.c.agent = true // the link of the forwarding node
			forwarded := func(spec *pb.TaskSpec) ids.ObjectID {
				spec.Job = &pb.JobConfig{JobId: "J", WorkerCommand: []string{"w-J"}}
				return c.submitSpec(agent, spec)
			}
			workers := []*conn{c.jobWorker(j), c.jobWorker(j)}
			busyRet := forwarded(&pb.TaskSpec{FunctionName: "Busy", Resources: cpus(1)})
			ret := forwarded(leaseSpec(cpus(1)))
			var busy, leased *conn
			for _, w := range workers {
				switch strings.Join(executed(w.out.take()), " ") {
				case "Busy":
					busy = w
				case "(worker lease)":
					leased = w
				}
			}
			if busy == nil || leased == nil {
				t.Fatalf("the task and the lease did not go to one idle worker each")
			}
			c.done(leased, ret, "127.0.0.2:4000 NODE")
			if got, want := objects(agent.out.take())[ret], "0:127.0.0.2:4000 NODE"; got != want {
				t.Errorf("the forwarding node got %q, want %q", got, want)
			}
			// The busy worker finishes and takes the next task; another waits for a CPU.
			c.done(busy, busyRet, "done")
			forwarded(&pb.TaskSpec{FunctionName: "Next", Resources: cpus(1)})
			forwarded(&pb.TaskSpec{FunctionName: "Waiting", Resources: cpus(1)})
			if !sentTo([]*conn{busy}, "Next") {
				t.Fatalf("the idle worker did not take the next task")
			}
			if len(leased.out.take()) > 0 {
				t.Fatalf("the node sent the leased worker something while it held the lease")
			}
			tc.end(c, leased)
			got := "leased"
			switch {
			case leased.w.exited:
				got = "gone"
			case c.s.isIdle(leased.w):
				got = "idle"
			}
			free := c.s.ledger.Available().Get(resources.CPU).Float()
			if got != tc.want || free != tc.wantFree || c.s.blocked != tc.wantBlocked {
				t.Errorf("the worker is %s with %v CPUs free and %d blocked; want %s with %v free and %d blocked",
					got, free, c.s.blocked, tc.want, tc.wantFree, tc.wantBlocked)
			}
		})
	}
}

// blocked is a worker's notice that its task waits in Get (or goes on).
func blocked(b bool) *pb.ClientMessage {
	return &pb.ClientMessage{Body: &pb.ClientMessage_Blocked{Blocked: &pb.WorkerBlocked{Blocked: b}}}
}

// A lease request is a class of its own, so it is never queued behind a busy worker of its
// job's tasks (it waits for an idle worker), nor is a task queued behind a leased worker; and a
// LeaseEnded from a process that holds no lease is refused.
func TestClusterLeaseIsNeverPipelined(t *testing.T) {
	c := newCluster(t, cpus(1))
	_, j := c.clusterJob("J")
	agent := c.driver()
	agent.c.agent = true
	forwarded := func(spec *pb.TaskSpec) ids.ObjectID {
		spec.Job = &pb.JobConfig{JobId: "J", WorkerCommand: []string{"w-J"}}
		return c.submitSpec(agent, spec)
	}
	w := c.jobWorker(j)
	busyRet := forwarded(&pb.TaskSpec{FunctionName: "Busy"})
	ret := forwarded(leaseSpec(cpus(1)))
	if got := executed(w.out.take()); strings.Join(got, " ") != "Busy" {
		t.Fatalf("the worker got %v, want Busy alone", got)
	}
	c.done(w, busyRet, "done")
	if got := executed(w.out.take()); strings.Join(got, " ") != "(worker lease)" {
		t.Fatalf("after its task the worker got %v, want the lease", got)
	}
	c.done(w, ret, "127.0.0.2:4000")
	forwarded(&pb.TaskSpec{FunctionName: "After"})
	if sentTo([]*conn{w}, "After") {
		t.Errorf("a task was queued behind the leased worker")
	}
	other := c.jobWorker(j)
	var err error
	c.do(func(s *state) { err = s.leaseEnded(other.w) })
	if err == nil || !strings.Contains(err.Error(), "did not hold") {
		t.Errorf("LeaseEnded from a worker without a lease: %v", err)
	}
}

// A worker that cannot take a lease (it reports an error instead of its address) is the node's
// again at once, with the resources: the forwarding node gets the error as the lease's result.
func TestClusterLeaseNotTaken(t *testing.T) {
	c := newCluster(t, cpus(1))
	_, j := c.clusterJob("J")
	agent := c.driver()
	agent.c.agent = true
	w := c.jobWorker(j)
	spec := leaseSpec(cpus(1))
	spec.Job = &pb.JobConfig{JobId: "J", WorkerCommand: []string{"w-J"}}
	ret := c.submitSpec(agent, spec)
	if !sentTo([]*conn{w}, "(worker lease)") {
		t.Fatal("the lease did not go to the idle worker")
	}
	c.send(w, &pb.ClientMessage{Body: &pb.ClientMessage_Done{Done: &pb.TaskDone{ReturnId: ret[:],
		Result: &pb.Object{Kind: objstore.KindTaskError, Data: []byte("cannot listen")}}}})
	if got, want := objects(agent.out.take())[ret], fmt.Sprintf("%d:cannot listen", objstore.KindTaskError); got != want {
		t.Errorf("the forwarding node got %q, want %q", got, want)
	}
	if free := c.s.ledger.Available().Get(resources.CPU).Float(); free != 1 || !c.s.isIdle(w.w) {
		t.Errorf("%v CPUs free, worker idle %v; want 1 and idle", free, c.s.isIdle(w.w))
	}
}

// A task that must run alone (its last worker's death may have been its own) runs alone on the
// node it is forwarded to as well.
func TestClusterForwardRunAlone(t *testing.T) {
	for _, alone := range []bool{false, true} {
		c := newCluster(t, cpus(1))
		d, _ := c.clusterJob("J")
		n := peerNode(map[string]float64{"CPU": 1, "R": 1}, nil)
		c.update(n)
		c.submitSpec(d, &pb.TaskSpec{FunctionName: "F", Resources: map[string]float64{"R": 1}, RunAlone: alone})
		e := c.takeCluster()
		if len(e.forward) != 1 || e.forward[0].spec.RunAlone != alone {
			t.Errorf("run alone %v: forwarded %s", alone, forwardedTo(e, []ViewNode{n}))
		}
	}
}
