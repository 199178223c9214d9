package raylet

// Tests of the node's decisions about work across nodes (remote.go), on the state alone as in
// state_test.go: the cluster view the control store reports, tasks the policy places on other
// nodes (forwarded), their results coming back, and the tasks of nodes that are lost. No
// processes, sockets or sleeps.

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"goray/ids"
	"goray/objstore"
	pb "goray/rpc/proto"
	"goray/scheduling"
)

// cluster drives a node of a cluster. The plain harness keeps only the effects of one node (its
// do drops forward, hostActor, relay, names, locate, fetchKept and taken); cluster keeps those
// too, and its send, submit and jobWorker go through its own do so that none is lost.
type cluster struct {
	*harness
	out     effects     // the cluster's effects (forward, hostActor, relay, names) since takeCluster
	fetches []keptFetch // every fetchKept effect so far
}

// newCluster makes a node of a cluster (it has a peer address) with resources res, whose policy
// always picks the best node (never a random one among the best), with no pool to prestart.
func newCluster(t *testing.T, res map[string]float64) *cluster {
	h := newHarness(t, res)
	h.s.cfg.PeerListen = "127.0.0.1:0"
	h.s.policy = scheduling.DefaultPolicy(nil)
	h.s.defaultJob.prestart = 0
	h.s.queueDepth = 0 // (tasks wait here when no node has room; TestClusterQueueOnBusyNodes sets it)
	h.s.backlog = 0
	return &cluster{harness: h}
}

// do delivers one event, keeping its cluster effects here and the others in the harness.
func (c *cluster) do(event func(s *state)) {
	event(&c.s)
	e := &c.s.eff
	c.out.forward = append(c.out.forward, e.forward...)
	c.out.hostActor = append(c.out.hostActor, e.hostActor...)
	c.out.relay = append(c.out.relay, e.relay...)
	c.out.names = append(c.out.names, e.names...)
	c.out.locate = append(c.out.locate, e.locate...)
	c.out.fetchKept = append(c.out.fetchKept, e.fetchKept...)
	c.fetches = append(c.fetches, e.fetchKept...)
	c.out.taken = append(c.out.taken, e.taken...)
	e.forward, e.hostActor, e.relay, e.names, e.locate, e.fetchKept, e.taken = nil, nil, nil, nil, nil, nil, nil
	c.harness.do(func(*state) {}) // the rest, as the harness keeps them
}

// takeCluster returns the cluster effects since the last call.
func (c *cluster) takeCluster() effects {
	e := c.out
	c.out = effects{}
	return e
}

// send delivers messages from a client.
func (c *cluster) send(from *conn, msgs ...*pb.ClientMessage) {
	c.do(func(s *state) { s.handle(from.c, msgs) })
}

// submitSpec submits spec (with fresh task and return ids) and subscribes from to its result;
// it returns the result's id.
func (c *cluster) submitSpec(from *conn, spec *pb.TaskSpec) ids.ObjectID {
	tid := ids.NewTaskID()
	ret := tid.ReturnID(1)
	spec.TaskId, spec.ReturnId = tid[:], ret[:]
	c.send(from, &pb.ClientMessage{Body: &pb.ClientMessage_Submit{Submit: spec}}, subscribe(ret))
	return ret
}

// submit submits a task of function fn needing res, with max retries, and subscribes to it.
func (c *cluster) submit(from *conn, fn string, res map[string]float64, retries int32) ids.ObjectID {
	return c.submitSpec(from, &pb.TaskSpec{FunctionName: fn, Resources: res, MaxRetries: retries})
}

// jobWorker spawns and connects a pool worker of job j.
func (c *cluster) jobWorker(j *job) *conn {
	w := &worker{id: ids.NewUniqueID(), pid: 100 + len(c.s.workers), job: j}
	c.s.starting++
	j.starting++
	c.do(func(s *state) { s.workerSpawned(w, nil) })
	out := &recorder{}
	cl := &client{id: w.id, out: out, held: map[ids.ObjectID]struct{}{}}
	c.do(func(s *state) { s.connected(cl, w, nil) })
	return &conn{c: cl, out: out, w: w}
}

// clusterJob connects a driver of job id (see jobDriver) and returns it with its job. The pool
// processes its arrival asked for never start (the tests connect the workers they want with
// jobWorker): they are not counted as starting.
func (c *cluster) clusterJob(id string) (*conn, *job) {
	d := c.jobDriver(id)
	j := c.s.jobs[id]
	j.prestart = 0
	c.s.starting -= j.starting
	j.starting = 0
	c.takeEffects()
	return d, j
}

// update delivers a view of the cluster.
func (c *cluster) update(nodes ...ViewNode) {
	c.do(func(s *state) { s.updateCluster(nodes) })
}

// peerNode is another node, alive at a peer address, with totals total and free resources
// avail (nil: all of total).
func peerNode(total, avail map[string]float64) ViewNode {
	if avail == nil {
		avail = total
	}
	id := ids.NewUniqueID()
	return ViewNode{ID: id, Address: "10.0.0." + fmt.Sprint(id[0]) + ":7000", IP: "10.0.0." + fmt.Sprint(id[0]), Alive: true, Total: total, Available: avail}
}

// dead is n as the control store reports it once it died of cause.
func dead(n ViewNode, cause string) ViewNode {
	n.Alive, n.DeathCause = false, cause
	return n
}

// keyOf is n's key in the view and in remotes.
func keyOf(n ViewNode) scheduling.NodeID { return scheduling.NodeID(n.ID.Hex()) }

// cpus is a resource map of n CPUs.
func cpus(n float64) map[string]float64 { return map[string]float64{"CPU": n} }

// viewNode returns the view's entry of node key (nil: none).
func (c *cluster) viewNode(key scheduling.NodeID) *scheduling.Node {
	for i := range c.s.view.Nodes {
		if c.s.view.Nodes[i].ID == key {
			return &c.s.view.Nodes[i]
		}
	}
	return nil
}

// describeView renders the view: each node (the local one as "local", the others by their index
// in nodes) with whether it is alive and its totals and free resources, in the view's order.
func (c *cluster) describeView(nodes []ViewNode) string {
	name := map[scheduling.NodeID]string{}
	for i, n := range nodes {
		name[keyOf(n)] = fmt.Sprint(i)
	}
	name[c.s.view.Local] = "local"
	var parts []string
	for _, n := range c.s.view.Nodes {
		parts = append(parts, fmt.Sprintf("%s alive=%v total=%v free=%v", name[n.ID], n.Alive, n.Total, n.Available))
	}
	return strings.Join(parts, "; ")
}

// forwardedTo renders the forward effects as the functions each sent, by the index in nodes of
// the node they went to: "0:F 1:G".
func forwardedTo(e effects, nodes []ViewNode) string {
	var parts []string
	for _, f := range e.forward {
		i := "?"
		for k, n := range nodes {
			if f.node.id == n.ID {
				i = fmt.Sprint(k)
			}
		}
		parts = append(parts, i+":"+f.spec.FunctionName)
	}
	return strings.Join(parts, " ")
}

// The view the node schedules over, from the control store's report: the local node first, then
// each other node with its totals and free resources (memory resources left out); a node counts
// as alive only when it is alive and has a peer address; the node's own entry and entries with
// bad resources are left out. Each node reported is a remote the node may forward to.
func TestClusterUpdateView(t *testing.T) {
	self := func(c *cluster) ViewNode {
		return ViewNode{ID: c.s.nodeID, Address: "10.0.0.1:7000", Alive: true, Total: cpus(64), Available: cpus(64)}
	}
	cases := []struct {
		name    string
		nodes   func(c *cluster) []ViewNode
		want    string // describeView
		remotes string // the remotes made, by index in nodes, with whether each is alive
	}{
		{name: "an alive node with an address",
			nodes: func(*cluster) []ViewNode { return []ViewNode{peerNode(cpus(4), cpus(3))} },
			want:  "local alive=true total={CPU: 1} free={CPU: 1}; 0 alive=true total={CPU: 4} free={CPU: 3}", remotes: "0:true"},
		{name: "an alive node without a peer address is not alive",
			nodes: func(*cluster) []ViewNode { n := peerNode(cpus(4), nil); n.Address = ""; return []ViewNode{n} },
			want:  "local alive=true total={CPU: 1} free={CPU: 1}; 0 alive=false total={CPU: 4} free={CPU: 4}", remotes: "0:false"},
		{name: "a dead node is in the view, not alive",
			nodes: func(*cluster) []ViewNode { return []ViewNode{dead(peerNode(cpus(4), nil), "gone")} },
			want:  "local alive=true total={CPU: 1} free={CPU: 1}; 0 alive=false total={CPU: 4} free={CPU: 4}", remotes: "0:false"},
		{name: "memory resources are left out",
			nodes: func(*cluster) []ViewNode {
				res := map[string]float64{"CPU": 2, "GPU": 1, "memory": 1 << 30, "object_store_memory": 1 << 29}
				return []ViewNode{peerNode(res, nil)}
			},
			want: "local alive=true total={CPU: 1} free={CPU: 1}; 0 alive=true total={CPU: 2, GPU: 1} free={CPU: 2, GPU: 1}", remotes: "0:true"},
		{name: "the node's own entry is left out",
			nodes: func(c *cluster) []ViewNode { return []ViewNode{self(c), peerNode(cpus(2), nil)} },
			want:  "local alive=true total={CPU: 1} free={CPU: 1}; 1 alive=true total={CPU: 2} free={CPU: 2}", remotes: "1:true"},
		{name: "bad totals or free resources leave a node out",
			nodes: func(*cluster) []ViewNode {
				return []ViewNode{peerNode(map[string]float64{"CPU": -1}, cpus(1)), peerNode(cpus(2), map[string]float64{"CPU": 1, "GPU": -2}), peerNode(cpus(8), nil)}
			},
			want: "local alive=true total={CPU: 1} free={CPU: 1}; 2 alive=true total={CPU: 8} free={CPU: 8}", remotes: "2:true"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newCluster(t, cpus(1))
			nodes := tc.nodes(c)
			c.update(nodes...)
			if got := c.describeView(nodes); got != tc.want {
				t.Errorf("view\n got  %s\n want %s", got, tc.want)
			}
			var remotes []string
			for i, n := range nodes {
				if r := c.s.remotes[keyOf(n)]; r != nil {
					remotes = append(remotes, fmt.Sprintf("%d:%v", i, r.alive))
					if r.id != n.ID || r.address != n.Address || r.ip != n.IP || r.key != keyOf(n) {
						t.Errorf("remote %d is %+v, want the node's id, key, address and ip", i, r)
					}
				}
			}
			if got := strings.Join(remotes, " "); got != tc.remotes {
				t.Errorf("remotes %q, want %q", got, tc.remotes)
			}
			if e := c.takeCluster(); !e.empty() {
				t.Errorf("a view with nothing to do had effects %+v", e)
			}
		})
	}
}

// Where a task goes when the node is one of a cluster, by the local node's load, the other
// nodes, the task's demand and its job: the local node while its utilisation is below the
// spread threshold (0.5) and it has room and an idle worker; another node (forwarded, its demand
// taken from that node's free resources in the view) when the policy places it there; the ready
// queue when it may not leave (the node's own job has no id other nodes could run it with) or no
// node has room, unless it can queue behind a busy local worker because no other alive node could
// ever run it.
func TestClusterForwardPlacement(t *testing.T) {
	cases := []struct {
		name    string
		local   float64 // the local node's CPUs
		busy    int     // local workers running a task of F's class (when F needs one CPU)
		idle    int     // local idle workers
		nodes   []ViewNode
		res     map[string]float64
		nodeJob bool   // the task is of the node's own job (no job id)
		want    string // where F went
		free    string // the free CPUs of the nodes in the view afterwards, by index
	}{
		{name: "an idle local node runs it", local: 1, idle: 1, nodes: []ViewNode{peerNode(cpus(4), nil)},
			want: "ran here", free: "4"},
		{name: "a full local node forwards it to the node with room", local: 1, busy: 1, nodes: []ViewNode{peerNode(cpus(4), nil)},
			want: "forwarded 0:F", free: "3"},
		{name: "a quarter-used local node keeps it", local: 4, busy: 1, idle: 1, nodes: []ViewNode{peerNode(cpus(4), nil)},
			want: "ran here", free: "4"},
		{name: "a half-used local node is not below the threshold: it goes to the idle node", local: 2, busy: 1, idle: 1, nodes: []ViewNode{peerNode(cpus(4), nil)},
			want: "forwarded 0:F", free: "3"},
		{name: "the least used node wins", local: 1, busy: 1, nodes: []ViewNode{peerNode(cpus(4), cpus(1)), peerNode(cpus(4), cpus(3))},
			want: "forwarded 1:F", free: "1 2"},
		{name: "a resource only another node has", local: 1, idle: 1, nodes: []ViewNode{peerNode(cpus(1), nil), peerNode(map[string]float64{"CPU": 1, "R": 1}, nil)},
			res: map[string]float64{"R": 1}, want: "forwarded 1:F", free: "1 0"},
		{name: "no node has room: it waits in the queue", local: 1, busy: 1, nodes: []ViewNode{peerNode(cpus(2), cpus(0))},
			want: "waits", free: "0"},
		{name: "a dead node is not chosen", local: 1, busy: 1, nodes: []ViewNode{dead(peerNode(cpus(4), nil), "gone")},
			want: "queued behind a busy worker", free: "4"},
		{name: "a node without a peer address is not chosen", local: 1, busy: 1, nodes: []ViewNode{func() ViewNode { n := peerNode(cpus(4), nil); n.Address = ""; return n }()},
			want: "queued behind a busy worker", free: "4"},
		{name: "the node's own job is not forwarded: it queues behind a busy worker", local: 1, busy: 1, nodes: []ViewNode{peerNode(cpus(4), nil)}, nodeJob: true,
			want: "queued behind a busy worker", free: "4"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newCluster(t, cpus(tc.local))
			d, j := c.clusterJob("J")
			if tc.nodeJob {
				d, j = c.driver(), c.s.defaultJob
			}
			var busy, idle []*conn
			for i := 0; i < tc.busy; i++ {
				busy = append(busy, c.jobWorker(j))
			}
			for i := 0; i < tc.busy; i++ {
				c.submit(d, "Busy", cpus(1), 0) // runs here: no other node is known yet
			}
			for i := 0; i < tc.idle; i++ {
				idle = append(idle, c.jobWorker(j))
			}
			for _, w := range append(busy, idle...) {
				w.out.take()
			}
			c.update(tc.nodes...)
			c.takeCluster()
			ret := c.submit(d, "F", tc.res, 0)
			e := c.takeCluster()
			got := "waits"
			switch {
			case len(e.forward) > 0:
				got = "forwarded " + forwardedTo(e, tc.nodes)
			case sentTo(idle, "F"):
				got = "ran here"
			case sentTo(busy, "F"):
				got = "queued behind a busy worker"
			}
			if got != tc.want {
				t.Errorf("F %s, want %s", got, tc.want)
			}
			var free []string
			for _, n := range tc.nodes {
				free = append(free, fmt.Sprint(c.viewNode(keyOf(n)).Available.Get("CPU").Float()))
			}
			if got := strings.Join(free, " "); got != tc.free {
				t.Errorf("free CPUs in the view %q, want %q", got, tc.free)
			}
			tk := c.s.pending[ret]
			if tk == nil {
				t.Fatal("F is not pending")
			}
			if forwarded := strings.HasPrefix(tc.want, "forwarded"); forwarded != (tk.remote != nil) || (forwarded && tk.remote.tasks[ret] != tk) {
				t.Errorf("F's remote %v; want it set (and the node to list it) only when forwarded", tk.remote)
			}
			if wantReady := map[bool]int{true: 1}[tc.want == "waits"]; c.s.ready.len() != wantReady {
				t.Errorf("%d tasks ready, want %d", c.s.ready.len(), wantReady)
			}
		})
	}
}

// sentTo tells whether one of ws was sent function fn to execute (taking their messages).
func sentTo(ws []*conn, fn string) bool {
	for _, w := range ws {
		for _, f := range executed(w.out.take()) {
			if f == fn {
				return true
			}
		}
	}
	return false
}

// What another node gets of a forwarded task: its ids, function, resources, actor id and
// concurrency as given, its job, the retries it has left as its max retries, and its arguments:
// values as they are, ObjectRefs in this node's memory (or read back from disk for the task) as
// their values, ObjectRefs in shared memory as references with their sizes, each with the ids it
// contains.
func TestClusterForwardSpec(t *testing.T) {
	c := newCluster(t, cpus(1))
	_, j := c.clusterJob("J")
	inMemory, inShm, spilled, missing, contained := putID(), putID(), putID(), putID(), putID()
	c.s.store.Put(inMemory, &objstore.Object{Data: []byte("mem"), Contained: []ids.ObjectID{contained}})
	c.s.store.Put(inShm, &objstore.Object{InShm: true, ShmOffset: 4096, ShmSize: 1 << 20})
	c.s.store.Put(spilled, &objstore.Object{InShm: true, ShmSize: 5})
	ref := func(id ids.ObjectID) *pb.TaskArg { return &pb.TaskArg{IsRef: true, ObjectId: id[:]} }
	actorID := ids.NewUniqueID()
	tid := ids.NewTaskID()
	ret := tid.ReturnID(1)
	spec := &pb.TaskSpec{
		TaskId: tid[:], ReturnId: ret[:], FunctionName: "F", Name: "f-call", Resources: map[string]float64{"CPU": 2},
		MaxRetries: 5, TaskType: 1, ClassName: "K", ActorId: actorID[:], MaxConcurrency: 3, CallerId: []byte("caller"),
		Args: []*pb.TaskArg{{Data: []byte("value")}, ref(inMemory), ref(inShm), ref(spilled), ref(missing)},
	}
	tk := &task{spec: spec, job: j, returnID: ret, retriesLeft: 2, spilledArgs: map[ids.ObjectID][]byte{spilled: []byte("disk")}}
	got := c.s.forwardSpec(tk)

	if string(got.TaskId) != string(tid[:]) || string(got.ReturnId) != string(ret[:]) || got.FunctionName != "F" || got.Name != "f-call" ||
		got.Resources["CPU"] != 2 || got.TaskType != 1 || got.ClassName != "K" || string(got.ActorId) != string(actorID[:]) || got.MaxConcurrency != 3 {
		t.Errorf("the task's fields did not travel as given: %v", got)
	}
	if got.MaxRetries != 2 {
		t.Errorf("max retries %d, want the 2 retries left", got.MaxRetries)
	}
	if jc := got.Job; jc == nil || jc.JobId != "J" || strings.Join(jc.WorkerCommand, " ") != "w-J" || jc.Namespace != "ns-J" {
		t.Errorf("job %v, want job J with its command and namespace", jc)
	}
	render := func(a *pb.TaskArg) string {
		s := fmt.Sprintf("ref=%v data=%q size=%d contained=%d", a.IsRef, a.Data, a.ShmSize, len(a.ContainedIds))
		if a.IsRef {
			id, _ := ids.ObjectIDFromBytes(a.ObjectId)
			s += map[ids.ObjectID]string{inShm: " (in shm)"}[id]
		}
		return s
	}
	want := []string{
		`ref=false data="value" size=0 contained=0`,          // a value as it is
		`ref=false data="mem" size=0 contained=1`,            // in memory: its value
		`ref=true data="" size=1048576 contained=0 (in shm)`, // in shared memory: pulled by the running node
		`ref=false data="disk" size=0 contained=0`,           // read back from disk for the task: its value
		`ref=false data="" size=0 contained=0`,               // not here (trackDeps keeps such tasks from running)
	}
	if len(got.Args) != len(want) {
		t.Fatalf("%d arguments, want %d", len(got.Args), len(want))
	}
	for i, a := range got.Args {
		if r := render(a); r != want[i] {
			t.Errorf("argument %d: %s, want %s", i, r, want[i])
		}
	}
	if string(got.Args[1].ContainedIds[0]) != string(contained[:]) {
		t.Errorf("the in-memory argument's contained ids did not travel")
	}
}

// A forwarded task's result coming back finishes it: the subscribed driver gets it (a result
// pulled into this node's store by its own client is the one the driver gets; one said pulled
// that is not there is a lost object), the
// task is no longer pending nor listed on its node. A result from an unknown node, or for a task
// the node does not list (failed or retried already), changes nothing.
func TestClusterRemoteDone(t *testing.T) {
	cases := []struct {
		name string
		// result delivers the result of ret forwarded to node n.
		result func(c *cluster, n ViewNode, ret ids.ObjectID)
		want   string // what the driver gets: kind:data, up to its length (NODE: the node's id); "" nothing
		done   bool   // the task is finished
	}{
		{"a value", func(c *cluster, n ViewNode, ret ids.ObjectID) {
			c.do(func(s *state) { s.remoteDone(keyOf(n), ret, &objstore.Object{Data: []byte("42")}) })
		}, "0:42", true},
		{"an error", func(c *cluster, n ViewNode, ret ids.ObjectID) {
			c.do(func(s *state) {
				s.remoteDone(keyOf(n), ret, &objstore.Object{Kind: objstore.KindTaskError, Data: []byte("boom")})
			})
		}, fmt.Sprintf("%d:boom", objstore.KindTaskError), true},
		{"pulled into the store by the node's own client", func(c *cluster, n ViewNode, ret ids.ObjectID) {
			agent := c.driver()
			agent.c.agent = true
			c.send(agent, put(ret, "pulled"))
			c.do(func(s *state) { s.remoteDone(keyOf(n), ret, nil) })
		}, "0:pulled", true},
		{"said pulled but not in the store", func(c *cluster, n ViewNode, ret ids.ObjectID) {
			c.do(func(s *state) { s.remoteDone(keyOf(n), ret, nil) })
		}, fmt.Sprintf("%d:the result of task F, pulled from node NODE", objstore.KindLost), true},
		{"from a node the node does not know", func(c *cluster, n ViewNode, ret ids.ObjectID) {
			c.do(func(s *state) { s.remoteDone(keyOf(peerNode(cpus(1), nil)), ret, &objstore.Object{Data: []byte("x")}) })
		}, "", false},
		{"from another node than the one running it", func(c *cluster, n ViewNode, ret ids.ObjectID) {
			other := peerNode(cpus(1), cpus(0))
			c.update(n, other)
			c.do(func(s *state) { s.remoteDone(keyOf(other), ret, &objstore.Object{Data: []byte("x")}) })
		}, "", false},
		{"for another task", func(c *cluster, n ViewNode, ret ids.ObjectID) {
			c.do(func(s *state) { s.remoteDone(keyOf(n), putID(), &objstore.Object{Data: []byte("x")}) })
		}, "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newCluster(t, map[string]float64{"CPU": 1})
			d, _ := c.clusterJob("J")
			n := peerNode(map[string]float64{"CPU": 1, "R": 1}, nil)
			c.update(n)
			ret := c.submit(d, "F", map[string]float64{"R": 1}, 0)
			if got := forwardedTo(c.takeCluster(), []ViewNode{n}); got != "0:F" {
				t.Fatalf("forwarded %q, want F to the node with R", got)
			}
			d.out.take()
			tc.result(c, n, ret)
			got := objects(d.out.take())[ret]
			if want := strings.Replace(tc.want, "NODE", n.ID.Hex(), 1); tc.want == "" && got != "" || !strings.HasPrefix(got, want) {
				t.Errorf("the driver got %q, want %q", got, tc.want)
			}
			_, pending := c.s.pending[ret]
			_, listed := c.s.remotes[keyOf(n)].tasks[ret]
			if pending == tc.done || listed == tc.done {
				t.Errorf("pending %v, listed on its node %v; want finished %v", pending, listed, tc.done)
			}
			if e := c.takeCluster(); len(e.forward) != 0 {
				t.Errorf("forwarded again: %s", forwardedTo(e, []ViewNode{n}))
			}
		})
	}
}

// A node lost (it died, it left the cluster's report, or the link to it broke) takes its
// forwarded tasks with it: each goes back to the queue (first in line) when it has a retry left,
// using it, and runs wherever the policy places it then; one with no retry left fails with a
// worker-died error naming the node and why it was lost. Tasks on other nodes are untouched.
func TestClusterRemoteLost(t *testing.T) {
	cases := []struct {
		name    string
		lose    func(c *cluster, n, other ViewNode)
		retries int32
		want    string // what the driver gets: kind:...contains; "" nothing
		cause   string // in the error
		again   string // the retry is forwarded to this node (by index: 0 the lost one, 1 the other)
	}{
		{name: "died, no retries", retries: 0,
			lose: func(c *cluster, n, other ViewNode) { c.update(dead(n, "health checks failed"), other) },
			want: fmt.Sprint(objstore.KindWorkerDied), cause: "the node died: health checks failed"},
		{name: "died without a cause, no retries", retries: 0,
			lose: func(c *cluster, n, other ViewNode) { c.update(dead(n, ""), other) },
			want: fmt.Sprint(objstore.KindWorkerDied), cause: "the node died"},
		{name: "left the report, no retries", retries: 0,
			lose: func(c *cluster, n, other ViewNode) { c.update(other) },
			want: fmt.Sprint(objstore.KindWorkerDied), cause: "the node left the cluster"},
		{name: "lost its peer address, no retries", retries: 0,
			lose: func(c *cluster, n, other ViewNode) { n.Address = ""; c.update(n, other) },
			want: fmt.Sprint(objstore.KindWorkerDied), cause: "the node reports no address to reach it at"},
		{name: "its link broke, no retries", retries: 0,
			lose: func(c *cluster, n, other ViewNode) {
				c.do(func(s *state) { s.linkFailed(keyOf(n), errors.New("connection reset")) })
			},
			want: fmt.Sprint(objstore.KindWorkerDied), cause: "the connection to it broke (connection reset)"},
		{name: "died, a retry left: to the other node", retries: 1,
			lose: func(c *cluster, n, other ViewNode) { c.update(dead(n, "oom"), other) }, again: "1"},
		{name: "left the report, a retry left: to the other node", retries: 1,
			lose: func(c *cluster, n, other ViewNode) { c.update(other) }, again: "1"},
		{name: "its link broke, a retry left: placed again (the view still counts it on the first node)", retries: 1,
			lose: func(c *cluster, n, other ViewNode) {
				c.do(func(s *state) { s.linkFailed(keyOf(n), errors.New("connection reset")) })
			},
			again: "1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newCluster(t, cpus(1))
			d, _ := c.clusterJob("J")
			// The tasks need R, which only the remote nodes have. The other node is half used:
			// F goes to the idle first node, which has no room left for G; G goes to the other.
			n := peerNode(map[string]float64{"CPU": 1, "R": 1}, nil)
			other := peerNode(map[string]float64{"CPU": 4, "R": 4}, map[string]float64{"CPU": 2, "R": 4})
			nodes := []ViewNode{n, other}
			c.update(nodes...)
			ret := c.submit(d, "F", map[string]float64{"R": 1}, tc.retries)
			onOther := c.submit(d, "G", map[string]float64{"R": 1}, 0)
			if got := forwardedTo(c.takeCluster(), nodes); got != "0:F 1:G" {
				t.Fatalf("forwarded %q, want F to the first node and G to the other", got)
			}
			d.out.take()
			tc.lose(c, n, other)
			got := objects(d.out.take())
			e := c.takeCluster()
			tk := c.s.pending[ret]
			if tc.want != "" {
				msg, why := got[ret], "had no retries left"
				if !strings.HasPrefix(msg, tc.want+":") || !strings.Contains(msg, n.ID.Hex()) || !strings.Contains(msg, tc.cause) || !strings.Contains(msg, why) {
					t.Errorf("the driver got %q, want kind %s naming the node, %q and %q", msg, tc.want, tc.cause, why)
				}
				if tk != nil {
					t.Errorf("the failed task is still pending")
				}
			} else {
				if got[ret] != "" || tk == nil || tk.retriesLeft != int(tc.retries)-1 {
					t.Fatalf("the driver got %q; want the task pending with a retry used", got[ret])
				}
				if f := forwardedTo(e, nodes); f != tc.again+":F" {
					t.Errorf("forwarded %q after the loss, want F to node %s", f, tc.again)
				}
			}
			if len(c.s.remotes[keyOf(n)].tasks) != 0 {
				t.Errorf("the lost node lists %d tasks", len(c.s.remotes[keyOf(n)].tasks))
			}
			if g := c.s.pending[onOther]; g == nil || g.remote == nil || g.remote.id != other.ID || got[onOther] != "" {
				t.Errorf("the task on the other node was disturbed")
			}
		})
	}
}

// A retried task goes back to the head of the queue, before tasks of its class that waited
// already; it is not forwarded while no node has room for it.
func TestClusterRemoteLostRetryGoesFirst(t *testing.T) {
	c := newCluster(t, cpus(1))
	d, _ := c.clusterJob("J")
	n := peerNode(map[string]float64{"CPU": 1, "R": 1}, nil)
	full := peerNode(map[string]float64{"CPU": 1, "R": 1}, cpus(1)) // could run it, no room now
	c.update(n, full)
	ret := c.submit(d, "F", map[string]float64{"R": 1}, 2)
	waiting := c.submit(d, "G", map[string]float64{"R": 1}, 0) // no room left: waits
	if got := forwardedTo(c.takeCluster(), []ViewNode{n, full}); got != "0:F" {
		t.Fatalf("forwarded %q, want F only", got)
	}
	c.update(full) // n leaves
	if e := c.takeCluster(); len(e.forward) != 0 {
		t.Fatalf("forwarded %q with no room anywhere", forwardedTo(e, []ViewNode{n, full}))
	}
	tk := c.s.pending[ret]
	if tk == nil {
		t.Fatalf("F is not pending: %v", objects(d.out.take()))
	}
	cl := tk.class
	if len(cl.tasks) != 2 || cl.tasks[0].returnID != ret || cl.tasks[1].returnID != waiting || cl.tasks[0].retriesLeft != 1 || cl.infeasible {
		t.Fatalf("the queue is not F (1 retry left) then G, feasible")
	}
	// The node that could run them frees its resources: F goes first.
	c.update(peerNodeAs(full, nil))
	if got := forwardedTo(c.takeCluster(), []ViewNode{n, full}); got != "1:F" {
		t.Fatalf("once there is room, forwarded %q, want F", got)
	}
}

// peerNodeAs is node n reporting avail as its free resources (nil: all of its totals).
func peerNodeAs(n ViewNode, avail map[string]float64) ViewNode {
	if avail == nil {
		avail = n.Total
	}
	n.Available = avail
	return n
}

// A node that dies while the view still shows it with room must not be given the tasks it takes
// with it: the retry goes to a node that is alive (here the only other node that could run it has
// no room, so it waits in the queue).
func TestClusterLostNodeIsNotChosenAgain(t *testing.T) {
	for _, how := range []string{"died", "left the report"} {
		t.Run(how, func(t *testing.T) {
			c := newCluster(t, cpus(1))
			d, _ := c.clusterJob("J")
			n := peerNode(map[string]float64{"CPU": 4, "R": 4}, nil)
			full := peerNode(map[string]float64{"CPU": 1, "R": 1}, cpus(0)) // could run F, no room now
			c.update(n, full)
			ret := c.submit(d, "F", map[string]float64{"R": 1}, 1)
			if got := forwardedTo(c.takeCluster(), []ViewNode{n, full}); got != "0:F" {
				t.Fatalf("forwarded %q, want F to the first node", got)
			}
			if how == "died" {
				c.update(dead(n, "killed"), full)
			} else {
				c.update(full)
			}
			e := c.takeCluster()
			tk := c.s.pending[ret]
			if tk == nil || tk.retriesLeft != 0 {
				t.Fatalf("F is not pending with its retry used")
			}
			if len(e.forward) != 0 || tk.remote != nil {
				t.Fatalf("the retry was forwarded to the lost node (%d forwards)", len(e.forward))
			}
			if c.s.ready.len() != 1 {
				t.Errorf("%d tasks ready, want the retry", c.s.ready.len())
			}
		})
	}
}

// While another node could run a class of tasks, those that wait are not queued behind busy
// workers of this node (they would wait for them instead of going where there is room soon):
// they stay in the node's queue. With no such node alive, they are pipelined as on a lone node.
func TestClusterPipelineRunsElsewhere(t *testing.T) {
	cases := []struct {
		name  string
		nodes []ViewNode
		want  string
	}{
		{"no other node", nil, "queued behind a busy worker"},
		{"a node that could fit it, busy now", []ViewNode{peerNode(cpus(2), cpus(0))}, "waits"},
		{"a node too small for it", []ViewNode{peerNode(cpus(0.5), nil)}, "queued behind a busy worker"},
		{"a dead node that could fit it", []ViewNode{dead(peerNode(cpus(2), cpus(0)), "gone")}, "queued behind a busy worker"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newCluster(t, cpus(1))
			d, j := c.clusterJob("J")
			w := c.jobWorker(j)
			c.submit(d, "Busy", nil, 0)
			w.out.take()
			c.update(tc.nodes...)
			c.submit(d, "F", nil, 0)
			got := "waits"
			if sentTo([]*conn{w}, "F") {
				got = "queued behind a busy worker"
			}
			if got != tc.want {
				t.Errorf("F %s, want %s", got, tc.want)
			}
			if e := c.takeCluster(); len(e.forward) != 0 {
				t.Errorf("forwarded %s", forwardedTo(e, tc.nodes))
			}
		})
	}
}

// A job's driver leaving cancels its tasks that wait in the queue for room here or elsewhere;
// its forwarded tasks are left to finish on their nodes.
func TestClusterDriverLeftCancelsWaiting(t *testing.T) {
	c := newCluster(t, cpus(1))
	d, _ := c.clusterJob("J")
	n := peerNode(map[string]float64{"CPU": 1, "R": 1}, nil)
	c.update(n)
	running := c.submit(d, "F", map[string]float64{"R": 1}, 0)
	waiting := c.submit(d, "G", map[string]float64{"R": 1}, 0)
	c.takeCluster()
	other := c.driver() // subscribes too, to see the cancellation
	c.send(other, subscribe(running), subscribe(waiting))
	other.out.take()
	c.do(func(s *state) { s.clientGone(d.c, nil) })
	got := objects(other.out.take())
	if !strings.HasPrefix(got[waiting], fmt.Sprintf("%d:", objstore.KindTaskError)) || !strings.Contains(got[waiting], "cancelled") {
		t.Errorf("the waiting task ended with %q, want cancelled", got[waiting])
	}
	if got[running] != "" || c.s.pending[running] == nil {
		t.Errorf("the forwarded task ended with %q, want it pending on its node", got[running])
	}
	c.do(func(s *state) { s.remoteDone(keyOf(n), running, &objstore.Object{Data: []byte("late")}) })
	if got := objects(other.out.take())[running]; got != "0:late" {
		t.Errorf("its result, once back: %q", got)
	}
}

// Tasks pipelined behind a busy worker (while no other node could take them) are asked back
// (Reclaim) when a view shows another alive node with room for them, once per worker until it
// hands them back; they are then forwarded.
func TestClusterReclaimForOtherNodes(t *testing.T) {
	cases := []struct {
		name    string
		node    ViewNode
		reclaim bool
	}{
		{"a node with room", peerNode(cpus(2), nil), true},
		{"a node without room now", peerNode(cpus(2), cpus(0)), false},
		{"a dead node with room", dead(peerNode(cpus(2), nil), "gone"), false},
		{"a node too small", peerNode(cpus(0.5), nil), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newCluster(t, cpus(1))
			d, j := c.clusterJob("J")
			w := c.jobWorker(j)
			c.submit(d, "Busy", nil, 0)
			queued := c.submit(d, "F", nil, 0)
			if got := executed(w.out.take()); strings.Join(got, " ") != "Busy F" {
				t.Fatalf("the worker got %v, want Busy running and F queued", got)
			}
			reclaims := func() int {
				return count(w.out.take(), func(m *pb.ServerMessage) bool { return m.GetReclaim() != nil })
			}
			c.update(tc.node)
			c.update(tc.node) // asked once only
			if n := reclaims(); n != map[bool]int{true: 1}[tc.reclaim] {
				t.Fatalf("%d reclaims, want reclaim %v", n, tc.reclaim)
			}
			if !tc.reclaim {
				return
			}
			c.send(w, &pb.ClientMessage{Body: &pb.ClientMessage_ReturnTasks{ReturnTasks: &pb.ReturnTasks{ReturnIds: [][]byte{queued[:]}}}})
			if got := forwardedTo(c.takeCluster(), []ViewNode{tc.node}); got != "0:F" {
				t.Errorf("once handed back F was forwarded %q, want to the node with room", got)
			}
			if len(w.w.queued) != 0 || w.w.reclaiming {
				t.Errorf("the worker keeps %d queued tasks (reclaiming %v)", len(w.w.queued), w.w.reclaiming)
			}
		})
	}
}

// A task with retries left is retried only where it could run: when no node but the lost one
// (this node included) has the resources it needs in total, it fails at once, saying so, rather
// than waiting for ever for a node that may never come.
func TestClusterRetryOnlyWhereItCanRun(t *testing.T) {
	withR := map[string]float64{"CPU": 4, "R": 4}
	cases := []struct {
		name  string
		local map[string]float64
		other ViewNode                            // another node besides the one running F
		lose  func(c *cluster, n, other ViewNode) // n dies
		want  string                              // "fails", "retried"
	}{
		{name: "the only node that could run it dies", local: cpus(1), other: peerNode(cpus(4), nil),
			lose: func(c *cluster, n, other ViewNode) { c.update(dead(n, "oom"), other) }, want: "fails"},
		{name: "this node could run it", local: map[string]float64{"CPU": 2, "R": 1}, other: peerNode(cpus(4), nil),
			lose: func(c *cluster, n, other ViewNode) { c.update(dead(n, "oom"), other) }, want: "retried"},
		{name: "another node could run it", local: cpus(1), other: peerNode(withR, cpus(4)),
			lose: func(c *cluster, n, other ViewNode) { c.update(dead(n, "oom"), other) }, want: "retried"},
		{name: "it and the other node that could run it die in one report", local: cpus(1), other: peerNode(withR, cpus(4)),
			lose: func(c *cluster, n, other ViewNode) { c.update(dead(n, "oom"), dead(other, "oom")) }, want: "fails"},
		{name: "its link breaks and no other node could run it: the node is alive, the retry goes to it again", local: cpus(1), other: peerNode(cpus(4), nil),
			lose: func(c *cluster, n, other ViewNode) {
				c.do(func(s *state) { s.linkFailed(keyOf(n), errors.New("reset")) })
			}, want: "retried"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newCluster(t, tc.local)
			d, j := c.clusterJob("J")
			c.jobWorker(j)
			c.submit(d, "Busy", nil, 0) // takes a CPU here: F has no room here now
			n := peerNode(map[string]float64{"CPU": 2, "R": 1}, nil)
			c.update(n, tc.other)
			// F needs R and 2 CPUs: it is forwarded to n, which has no room left then.
			fw := c.submit(d, "F", map[string]float64{"CPU": 2, "R": 1}, 3)
			if tk := c.s.pending[fw]; tk == nil || tk.remote == nil || tk.remote.id != n.ID {
				t.Fatalf("F was not forwarded to the node that dies")
			}
			c.takeCluster()
			d.out.take()
			tc.lose(c, n, tc.other)
			msg := objects(d.out.take())[fw]
			got := "retried"
			if msg != "" {
				got = "fails"
			}
			if got != tc.want {
				t.Fatalf("F %s (%q), want %s", got, msg, tc.want)
			}
			if got == "fails" && (!strings.HasPrefix(msg, fmt.Sprintf("%d:", objstore.KindWorkerDied)) || !strings.Contains(msg, "cannot run on any other node of the cluster") || !strings.Contains(msg, n.ID.Hex())) {
				t.Errorf("the error %q does not say the node and that F cannot run elsewhere", msg)
			}
			if tk := c.s.pending[fw]; got == "retried" && (tk == nil || tk.retriesLeft != 2) {
				t.Errorf("the retry did not use one of the 3 retries")
			}
		})
	}
}

// A fresh report of a node may not count yet the tasks this node forwarded to it lately (within
// reportLag): their demand is taken from the node's reported free resources, so the policy does
// not send it more than it has; older ones, and those whose results came back, are the report's
// to count.
func TestClusterApplyForwarded(t *testing.T) {
	cases := []struct {
		name  string
		after time.Duration // from the forward to the report
		done  bool          // the result came back before the report
		free  float64       // the node's free CPUs in the view after the report (it reports 4)
	}{
		{name: "a report right after the forward", free: 3},
		{name: "a report just within the lag", after: reportLag - time.Millisecond, free: 3},
		{name: "a report once the lag passed", after: reportLag, free: 4},
		{name: "the result came back", done: true, free: 4},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newCluster(t, cpus(1))
			d, _ := c.clusterJob("J")
			n := peerNode(map[string]float64{"CPU": 4, "R": 4}, nil)
			c.update(n)
			ret := c.submit(d, "F", map[string]float64{"R": 1}, 0)
			if got := forwardedTo(c.takeCluster(), []ViewNode{n}); got != "0:F" {
				t.Fatalf("forwarded %q", got)
			}
			if tc.done {
				c.do(func(s *state) { s.remoteDone(keyOf(n), ret, &objstore.Object{Data: []byte("v")}) })
			}
			c.s.now = c.s.now.Add(tc.after)
			c.update(n) // it still reports all of its CPUs free
			if got := c.viewNode(keyOf(n)).Available.Get("CPU").Float(); got != tc.free {
				t.Errorf("free CPUs in the view %v, want %v", got, tc.free)
			}
		})
	}
}

// When no node has room, tasks queue on the other nodes that could run them, the least loaded
// with this node's forwarded work first, up to queueDepth per CPU; the rest wait here.
func TestClusterQueueOnBusyNodes(t *testing.T) {
	c := newCluster(t, cpus(1))
	c.s.queueDepth = 2
	d, _ := c.clusterJob("J")
	big := peerNode(map[string]float64{"CPU": 2, "R": 2}, map[string]float64{"R": 2}) // no free CPU
	small := peerNode(map[string]float64{"CPU": 1, "R": 1}, map[string]float64{"R": 1})
	c.update(big, small)
	for i := 0; i < 8; i++ {
		c.submit(d, fmt.Sprintf("F%d", i), map[string]float64{"R": 1}, 0)
	}
	// big takes 2 per CPU (4), small 2: by load, ties to the lower id.
	got := map[string]int{}
	for _, f := range c.takeCluster().forward {
		got[f.node.id.Hex()]++
	}
	if got[big.ID.Hex()] != 4 || got[small.ID.Hex()] != 2 || c.s.ready.len() != 2 {
		t.Fatalf("queued %d on the 2-CPU node, %d on the 1-CPU node, %d waiting here; want 4, 2, 2", got[big.ID.Hex()], got[small.ID.Hex()], c.s.ready.len())
	}
	// A task of the node's own job is never sent to queue elsewhere.
	c.submit(c.driver(), "Own", nil, 0)
	if f := c.takeCluster().forward; len(f) != 0 {
		t.Fatalf("the node's own job's task was forwarded")
	}
}

// The bound on a node's forwarded tasks is queueDepth per CPU, or what the node finishes in the
// backlog time at its measured rate when that is more, within maxForwardedPerNode.
func TestClusterForwardBound(t *testing.T) {
	ms := time.Millisecond
	cases := []struct {
		name string
		done []time.Duration // when each forwarded task finished, from the first
		want float64
	}{
		{"nothing finished yet", nil, 4},
		{"a window not over yet", []time.Duration{0, ms, 2 * ms}, 4},
		{"10,000 a second", spaced(101, 100*time.Microsecond), 202}, // (101 in the 10 ms window)
		{"10 a second: the floor", spaced(6, 100*ms), 4},
		{"1,000,000 a second: the cap", spaced(10001, time.Microsecond), maxForwardedPerNode},
		{"fast, then one late: averaged", append(spaced(101, 100*time.Microsecond), 10*ms+time.Second), 101},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := state{queueDepth: 2, backlog: 20 * ms}
			r := &remoteNode{}
			start := time.Unix(1000, 0)
			for _, d := range tc.done {
				r.noteDone(start.Add(d))
			}
			if got := s.forwardBound(r, 2); math.Abs(got-tc.want) > tc.want/100 {
				t.Errorf("bound %v (rate %v/s), want %v", got, r.meter.Rate(), tc.want)
			}
		})
	}
}

// spaced is n instants gap apart, from 0.
func spaced(n int, gap time.Duration) []time.Duration {
	out := make([]time.Duration, n)
	for i := range out {
		out[i] = time.Duration(i) * gap
	}
	return out
}

// A busy node that finishes forwarded tasks fast gets more of them queued than queueDepth per
// CPU (its round trips stay covered); a slow one stays at queueDepth per CPU.
func TestClusterQueueGrowsWithTheNodesRate(t *testing.T) {
	cases := []struct {
		name       string
		step       time.Duration // between rounds, each finishing every task forwarded so far
		wantAbove  int           // the tasks on the node after the rounds are more than this
		wantAtMost int
	}{
		{"fast: 1 ms a round", time.Millisecond, 2, 1000},
		{"slow: 1 s a round", time.Second, 0, 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newCluster(t, cpus(1))
			c.s.queueDepth, c.s.backlog = 2, 20*time.Millisecond
			d, _ := c.clusterJob("J")
			n := peerNode(map[string]float64{"CPU": 1, "R": 1}, map[string]float64{"R": 0}) // no room
			c.update(n)
			for i := 0; i < 1000; i++ {
				c.submit(d, fmt.Sprintf("F%d", i), map[string]float64{"R": 1}, 0)
			}
			r := c.s.remotes[keyOf(n)]
			most := 0
			for round := 0; round < 30; round++ {
				if len(r.tasks) > most {
					most = len(r.tasks)
				}
				c.s.now = c.s.now.Add(tc.step)
				var rets []ids.ObjectID
				for ret := range r.tasks {
					rets = append(rets, ret)
				}
				for _, ret := range rets {
					c.do(func(s *state) { s.remoteDone(keyOf(n), ret, &objstore.Object{Data: []byte("1")}) })
				}
			}
			if got := most; got <= tc.wantAbove || got > tc.wantAtMost {
				t.Errorf("at most %d tasks on the node at once (rate %.0f/s), want more than %d and at most %d", got, r.meter.Rate(), tc.wantAbove, tc.wantAtMost)
			}
		})
	}
}

// An object the node does not know is looked for on the other live nodes of its cluster (one
// look at a time, in the view's order): its subscribers wait, and hear that it is unknown only
// when no node had it. A node that knows no other live node waits for the next view first. The
// node's own client hears it at once.
func TestClusterLocateUnknownObjects(t *testing.T) {
	cases := []struct {
		name      string
		alive     []bool // the other nodes, alive or dead
		fromAgent bool   // the node's own client asks
		// wait: no look at first but a wait for the next view, which (when view is true) makes
		// every node alive before the wait ends
		wait, view bool
		end        func(c *cluster, agent *conn, id ids.ObjectID)
		look       []int  // the other nodes looked at, by index (nil: no look)
		want       string // what each subscriber gets in the end: "unknown" or kind:data
	}{
		{"found on a node", []bool{true, false, true}, false, false, false, func(c *cluster, agent *conn, id ids.ObjectID) {
			c.send(agent, put(id, "v")) // (the pull puts it through the node's own client)
			c.do(func(s *state) { s.located(id, true) })
		}, []int{0, 2}, "0:v"},
		{"on no node", []bool{true, true}, false, false, false, func(c *cluster, agent *conn, id ids.ObjectID) {
			c.do(func(s *state) { s.located(id, false) })
		}, []int{0, 1}, "unknown"},
		{"found, but gone again", []bool{true}, false, false, false, func(c *cluster, agent *conn, id ids.ObjectID) {
			c.do(func(s *state) { s.located(id, true) })
		}, []int{0}, "unknown"},
		{"asked by the node's own client", []bool{true}, true, false, false, nil, nil, "unknown"},
		{"no other live node, nor after the wait", []bool{false}, false, true, false, nil, nil, "unknown"},
		{"a node appears during the wait", []bool{false}, false, true, true, func(c *cluster, agent *conn, id ids.ObjectID) {
			c.do(func(s *state) { s.located(id, false) })
		}, []int{0}, "unknown"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newCluster(t, cpus(1))
			var peers []ViewNode
			for _, alive := range tc.alive {
				n := peerNode(cpus(1), nil)
				if !alive {
					n = dead(n, "gone")
				}
				peers = append(peers, n)
			}
			c.update(peers...)
			agent := c.driver()
			agent.c.agent = true
			readers := []*conn{c.driver(), c.driver()}
			if tc.fromAgent {
				readers = []*conn{agent}
			}
			id := putID()
			c.takeEffects()
			for _, r := range readers {
				c.send(r, subscribe(id))
			}
			if tc.wait {
				timers := c.takeEffects().timers
				if len(timers) != 1 || len(c.out.locate) != 0 {
					t.Fatalf("%d timers, %d looks; want a wait for the next view", len(timers), len(c.out.locate))
				}
				for _, r := range readers {
					if msgs := r.out.take(); len(msgs) != 0 {
						t.Fatalf("a subscriber was answered during the wait: %v", msgs)
					}
				}
				if tc.view {
					for i := range peers {
						peers[i].Alive = true
					}
					c.update(peers...)
				}
				c.do(timers[0].fire)
			}
			looks := c.takeCluster().locate
			if tc.look == nil {
				if len(looks) != 0 {
					t.Fatalf("looked for the object: %v", looks)
				}
			} else {
				if len(looks) != 1 || looks[0].id != id || len(looks[0].nodes) != len(tc.look) {
					t.Fatalf("looks %v, want one for %s at %d nodes", looks, id.Hex(), len(tc.look))
				}
				for i, k := range tc.look {
					if looks[0].nodes[i] != peers[k].Address {
						t.Errorf("look %d at %s, want %s", i, looks[0].nodes[i], peers[k].Address)
					}
				}
				for _, r := range readers {
					if msgs := r.out.take(); len(msgs) != 0 {
						t.Fatalf("a subscriber was answered during the look: %v", msgs)
					}
				}
				tc.end(c, agent, id)
			}
			if c.s.locating[id] {
				t.Errorf("the look is still under way")
			}
			for i, r := range readers {
				msgs := r.out.take()
				got := objects(msgs)[id]
				if toldUnknown(msgs, id) {
					got = "unknown"
				}
				if got != tc.want {
					t.Errorf("subscriber %d got %q, want %q", i, got, tc.want)
				}
			}
		})
	}
}

// Objects handed to a process the node does not know (on a cluster: the caller, on another node,
// of an actor here, given ObjectRefs to them in a result) are kept until a node pulls them, or
// for handOverLimit at most; on a node of no cluster they are not kept.
func TestClusterHoldForRemote(t *testing.T) {
	stranger := ids.NewUniqueID()
	handOn := func(id ids.ObjectID) *pb.ClientMessage {
		return &pb.ClientMessage{Body: &pb.ClientMessage_UpdateRefs{UpdateRefs: &pb.UpdateRefs{Added: [][]byte{id[:]}, HolderId: stranger[:]}}}
	}
	drop := func(id ids.ObjectID) *pb.ClientMessage {
		return &pb.ClientMessage{Body: &pb.ClientMessage_UpdateRefs{UpdateRefs: &pb.UpdateRefs{Removed: [][]byte{id[:]}}}}
	}
	cases := []struct {
		name      string
		cluster   bool
		handOns   int                                               // notices for the stranger
		then      func(c *cluster, id ids.ObjectID, timers []timer) // after the owner dropped its ref
		keptFirst bool                                              // kept once the owner dropped its ref
		keptEnd   bool                                              // kept after then
	}{
		{"pulled by another node", true, 1, func(c *cluster, id ids.ObjectID, timers []timer) {
			c.do(func(s *state) { s.handedOver(id) })
		}, true, false},
		{"never pulled: the limit", true, 1, func(c *cluster, id ids.ObjectID, timers []timer) {
			c.do(timers[0].fire)
		}, true, false},
		{"pulled, then the limit's timer", true, 1, func(c *cluster, id ids.ObjectID, timers []timer) {
			c.do(func(s *state) { s.handedOver(id) })
			c.do(timers[0].fire)
		}, true, false},
		{"two handed on, one pulled", true, 2, func(c *cluster, id ids.ObjectID, timers []timer) {
			c.do(func(s *state) { s.handedOver(id) })
		}, true, true},
		{"two handed on, one pulled, the other's limit", true, 2, func(c *cluster, id ids.ObjectID, timers []timer) {
			c.do(func(s *state) { s.handedOver(id) })
			c.do(timers[1].fire)
			c.do(timers[0].fire) // (the pulled one's: nothing more)
		}, true, false},
		{"a node of no cluster", false, 1, nil, false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newCluster(t, cpus(1))
			if tc.cluster {
				c.update(peerNode(cpus(1), nil))
			} else {
				c.s.cfg.PeerListen = ""
			}
			owner := c.driver()
			id := putID()
			c.send(owner, put(id, "v"))
			c.takeEffects()
			for i := 0; i < tc.handOns; i++ {
				c.send(owner, handOn(id))
			}
			timers := c.takeEffects().timers
			if want := map[bool]int{true: tc.handOns, false: 0}[tc.cluster]; len(timers) != want {
				t.Fatalf("%d timers, want %d", len(timers), want)
			}
			c.send(owner, drop(id))
			if _, kept := c.s.store.Get(id); kept != tc.keptFirst {
				t.Fatalf("kept %v once its owner dropped it, want %v", kept, tc.keptFirst)
			}
			if tc.then != nil {
				tc.then(c, id, timers)
			}
			if _, kept := c.s.store.Get(id); kept != tc.keptEnd {
				t.Errorf("kept %v in the end, want %v", kept, tc.keptEnd)
			}
			if e := c.s.refs[id]; e != nil && e.holds < 0 {
				t.Errorf("holds went below zero: %d", e.holds)
			}
		})
	}
}

// The node's own client is never made to wait for a look: asked (by another node's pull) for an
// object the node is looking for, it hears at once that the node does not have it, so two nodes
// looking for the same object never wait on each other.
func TestClusterLookIsNotWaitedForByTheNodesOwnClient(t *testing.T) {
	c := newCluster(t, cpus(1))
	c.update(peerNode(cpus(1), nil))
	agent, reader := c.driver(), c.driver()
	agent.c.agent = true
	id := putID()
	c.send(reader, subscribe(id))
	if looks := c.takeCluster().locate; len(looks) != 1 {
		t.Fatalf("%d looks, want 1", len(looks))
	}
	c.send(agent, subscribe(id))
	msgs := agent.out.take()
	if len(msgs) != 1 || !msgs[0].GetObject().GetUnknown() {
		t.Fatalf("the node's own client got %v, want to hear at once that the object is unknown", msgs)
	}
	if looks := c.takeCluster().locate; len(looks) != 0 {
		t.Errorf("a second look started: %v", looks)
	}
	if len(reader.out.take()) != 0 || !c.s.locating[id] {
		t.Errorf("the reader's look ended")
	}
}

// Watches of one object by several owners (links) are each their owner's: an owner takes back
// only its own.
func TestLocalClientWatchesAreTheirOwners(t *testing.T) {
	lc := &localClient{watchers: map[ids.ObjectID][]watcher{}}
	id := putID()
	first, second := new(int), new(int)
	lc.watch(id, first, func(*pb.ObjectReady) {})
	lc.watch(id, second, func(*pb.ObjectReady) {})
	if !lc.unwatch(id, first) || lc.unwatch(id, first) {
		t.Fatalf("the first owner's watch was not taken back exactly once")
	}
	if q := lc.watchers[id]; len(q) != 1 || q[0].owner != second {
		t.Fatalf("the second owner's watch is gone: %v", q)
	}
	if !lc.unwatch(id, second) || len(lc.watchers) != 0 {
		t.Fatalf("the second owner's watch was not taken back")
	}
}

// A forwarding node whose link to this node breaks takes the tasks it forwarded here for lost,
// uses a retry of its own and may forward them here again (remoteLost). The copy here is not
// lost: it runs on, charged for the deaths of its workers here, and its result answers the task
// sent again as well. A second copy would run with the forwarding node's count of retries, as if
// those deaths had not happened, and the two could even be queued on one worker, each death then
// charged to neither. Here every attempt of F (2 retries) dies: whenever it comes again, F runs 3
// times in all and fails saying so, and both submissions get that failure.
func TestClusterForwardedAgainWhileHere(t *testing.T) {
	cases := []struct {
		name    string
		deaths  int  // deaths of F's workers here before it comes again
		running bool // a worker takes F at once (it runs when it comes again)
	}{
		{name: "before it ran (it waits for a worker)", deaths: 0},
		{name: "while it runs", deaths: 0, running: true},
		{name: "while its retry waits for a worker", deaths: 1},
		{name: "while its last retry waits for a worker", deaths: 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newCluster(t, map[string]float64{"CPU": 2, "R": 1})
			_, j := c.clusterJob("J")
			agent := c.driver()
			agent.c.agent = true // the links of the forwarding node
			tid := ids.NewTaskID()
			ret := tid.ReturnID(1)
			forward := func(retries, attempts int32) {
				c.send(agent, &pb.ClientMessage{Body: &pb.ClientMessage_Submit{Submit: &pb.TaskSpec{TaskId: tid[:], ReturnId: ret[:],
					FunctionName: "F", Resources: map[string]float64{"R": 1}, MaxRetries: retries, Attempts: attempts,
					Job: &pb.JobConfig{JobId: "J", WorkerCommand: []string{"w-J"}}}}}, subscribe(ret))
			}
			runs := 0
			// run connects a worker (or takes the one running F) and reports whether it got F
			// (nothing else is submitted); its process then dies.
			run := func(w *conn) bool {
				if w == nil {
					w = c.jobWorker(j)
				}
				fs := executed(w.out.take())
				if len(fs) == 0 {
					return false
				}
				runs += len(fs)
				c.do(func(s *state) { s.workerEnded(w.w, exit{status: "exited with status 1"}) })
				return true
			}
			var running *conn
			if tc.running {
				running = c.jobWorker(j)
			}
			forward(2, 0)
			for i := 0; i < tc.deaths; i++ {
				run(nil)
			}
			// The forwarding node lost its link, used a retry and sent F again.
			forward(1, 1)
			if running != nil {
				run(running)
			}
			for i := 0; i < 6 && run(nil); i++ {
			}
			var got []string
			for _, m := range agent.out.take() {
				if o := m.GetObject(); o != nil && string(o.ObjectId) == string(ret[:]) {
					got = append(got, fmt.Sprintf("%d:%s", o.Object.GetKind(), o.Object.GetData()))
				}
			}
			if runs != 3 {
				t.Errorf("F ran %d times, want 3 (1 + its 2 retries)", runs)
			}
			if c.s.pending[ret] != nil {
				t.Fatalf("F is still pending")
			}
			if len(got) != 2 {
				t.Fatalf("the forwarding node got %d results for F, want 2 (one per submission): %q", len(got), got)
			}
			for _, r := range got {
				if !strings.HasPrefix(r, fmt.Sprintf("%d:", objstore.KindWorkerDied)) || !strings.Contains(r, "attempted 3 times") {
					t.Errorf("the forwarding node got %q, want F's worker death after 3 attempts", r)
				}
			}
		})
	}
}

// A task forwarded from node to node names the nodes it came through, and goes back to none of
// them while another node has room: two nodes that each forwarded it to the other would each
// wait for the other's copy, and the task for ever. When it comes back anyway (only nodes it came
// through had room, or a node's view was old), the copy this node sent on is taken back and
// placed again, with the fewer retries and the more attempts of the two copies, and its result
// answers both submissions; the copy on the other node answers nobody.
func TestClusterForwardedTaskNeverGoesRound(t *testing.T) {
	c := newCluster(t, map[string]float64{"CPU": 2, "R": 1})
	_, j := c.clusterJob("J")
	agent := c.driver()
	agent.c.agent = true // the links of the other nodes
	// The node the task came from is idle (the policy's pick), x is busy but has room.
	from := peerNode(map[string]float64{"CPU": 8, "R": 4}, nil)
	x := peerNode(map[string]float64{"CPU": 8, "R": 4}, map[string]float64{"CPU": 8, "R": 1})
	nodes := []ViewNode{from, x}
	c.update(nodes...)
	local := string(c.s.view.Local)
	// R is busy here: a task of the node's own driver holds it.
	w := c.jobWorker(j)
	d := c.driver()
	d.c.job = j
	hold := c.submit(d, "Hold", map[string]float64{"R": 1}, 0)
	if got := executed(w.out.take()); fmt.Sprint(got) != "[Hold]" {
		t.Fatalf("the worker ran %v, want Hold", got)
	}
	c.takeCluster()

	tid := ids.NewTaskID()
	ret := tid.ReturnID(1)
	forward := func(retries, attempts int32, by ...string) {
		c.send(agent, &pb.ClientMessage{Body: &pb.ClientMessage_Submit{Submit: &pb.TaskSpec{TaskId: tid[:], ReturnId: ret[:],
			FunctionName: "F", Resources: map[string]float64{"R": 1}, MaxRetries: retries, Attempts: attempts, ForwardedBy: by,
			Job: &pb.JobConfig{JobId: "J", WorkerCommand: []string{"w-J"}}}}}, subscribe(ret))
	}
	forward(3, 0, from.ID.Hex())
	e := c.takeCluster()
	if got := forwardedTo(e, nodes); got != "1:F" {
		t.Fatalf("forwarded %q, want F on to x (1), not back to the node it came from (0)", got)
	}
	if got, want := e.forward[0].spec.ForwardedBy, []string{from.ID.Hex(), local}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("the spec sent on names the nodes %v, want %v (this node last)", got, want)
	}

	// x (its worker died once there) sends F back here; no node has room now.
	full := func(n ViewNode) ViewNode { n.Available = map[string]float64{"CPU": 8, "R": 0}; return n }
	c.update(full(from), full(x))
	forward(1, 2, from.ID.Hex(), local, x.ID.Hex())
	if e := c.takeCluster(); len(e.forward) != 0 {
		t.Fatalf("F came back and was forwarded again with no room anywhere: %s", forwardedTo(e, nodes))
	}
	if _, listed := c.s.remotes[keyOf(x)].tasks[ret]; listed {
		t.Fatalf("F is still listed on x: its copy here waits for x's")
	}
	if p := c.s.pending[ret]; p == nil || p.retriesLeft != 1 {
		t.Fatalf("F pending %v, want it with the fewer retries left (1)", p)
	}
	// It runs here once R is free, as its 3rd attempt (x's 2 before it).
	c.done(w, hold, "held")
	msgs := w.out.take()
	if got := executed(msgs); fmt.Sprint(got) != "[F]" {
		t.Fatalf("the worker ran %v after Hold, want F", got)
	}
	for _, m := range msgs {
		if e := m.GetExecute(); e != nil && e.Spec.Attempts != 3 {
			t.Errorf("F ran as attempt %d, want 3", e.Spec.Attempts)
		}
	}
	agent.out.take()
	c.done(w, ret, "7")
	results := 0
	for _, m := range agent.out.take() {
		if o := m.GetObject(); o != nil && string(o.ObjectId) == string(ret[:]) {
			results++
			if string(o.Object.GetData()) != "7" {
				t.Errorf("the links got %q for F, want 7", o.Object.GetData())
			}
		}
	}
	if results != 2 {
		t.Errorf("the links got %d results for F, want 2 (one per submission)", results)
	}
	// x's copy finishing later changes nothing.
	c.do(func(s *state) { s.remoteDone(keyOf(x), ret, &objstore.Object{Data: []byte("late")}) })
	if n := len(agent.out.take()); n != 0 {
		t.Errorf("x's late result sent %d messages", n)
	}
	if c.s.pending[ret] != nil {
		t.Errorf("F is still pending")
	}
}

// Sent again by the node it came from (which lost its link to this node), a task whose copy here
// went on to x is taken back too (x's copy may still run: x stays charged for it until its next
// report), and goes where there is room, back to x included.
func TestClusterForwardedAgainWhileSentOn(t *testing.T) {
	c := newCluster(t, map[string]float64{"CPU": 2, "R": 1})
	_, j := c.clusterJob("J")
	agent := c.driver()
	agent.c.agent = true
	from := peerNode(map[string]float64{"CPU": 8, "R": 4}, map[string]float64{"CPU": 8, "R": 0})
	x := peerNode(map[string]float64{"CPU": 8, "R": 4}, nil)
	nodes := []ViewNode{from, x}
	c.update(nodes...)
	w := c.jobWorker(j)
	d := c.driver()
	d.c.job = j
	c.submit(d, "Hold", map[string]float64{"R": 1}, 0)
	w.out.take()
	c.takeCluster()
	tid := ids.NewTaskID()
	ret := tid.ReturnID(1)
	forward := func() {
		c.send(agent, &pb.ClientMessage{Body: &pb.ClientMessage_Submit{Submit: &pb.TaskSpec{TaskId: tid[:], ReturnId: ret[:],
			FunctionName: "F", Resources: map[string]float64{"R": 1}, MaxRetries: -1, ForwardedBy: []string{from.ID.Hex()},
			Job: &pb.JobConfig{JobId: "J", WorkerCommand: []string{"w-J"}}}}}, subscribe(ret))
	}
	forward()
	if got := forwardedTo(c.takeCluster(), nodes); got != "1:F" {
		t.Fatalf("forwarded %q, want F on to x (1)", got)
	}
	before := c.viewNode(keyOf(x)).Available.String()
	forward()
	if got := forwardedTo(c.takeCluster(), nodes); got != "1:F" {
		t.Fatalf("forwarded %q after it came again, want F to x (1) again", got)
	}
	if _, listed := c.s.remotes[keyOf(x)].tasks[ret]; !listed {
		t.Errorf("F is not listed on x")
	}
	if got := c.viewNode(keyOf(x)).Available; strings.Contains(got.String(), before) || !strings.Contains(got.String(), "R: 2") {
		t.Errorf("x's room in the view went from %s to %s, want it charged for both copies (R: 2)", before, got)
	}
}
