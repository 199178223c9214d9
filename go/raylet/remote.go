package raylet

import (
	"fmt"
	"time"

	"github.com/golang/glog"

	"goray/ids"
	"goray/objstore"
	"goray/ratemeter"
	"goray/resources"
	pb "goray/rpc/proto"
	"goray/scheduling"
	"goray/taskretry"
)

// Work across nodes. The node learns the cluster from the control store (updateCluster, every
// report period): the other nodes, their peer addresses, their resources. Where the scheduling
// policy places a ready task on another node, the node forwards it there (effect forward; the
// driver's link to that node sends it) and keeps it pending: this node still owns its result.
// Arguments in this node's memory travel with the task; those in its shared memory stay
// references that the running node pulls in chunks. The running node sends the result back
// (remoteDone); one in its shared memory stays there until it is wanted here (lineage.go),
// unless it refers to other objects (then it is pulled here first, with them). A node that dies
// or leaves, or whose link breaks, takes its tasks with it: each is retried (elsewhere, or here)
// while it has retries left, else it fails with an error naming the node.

// ViewNode is another node as the control store reports it.
type ViewNode struct {
	// ID is the node's id.
	ID ids.UniqueID
	// Address is where its node manager serves other nodes (host:port).
	Address string
	// IP is the node's IP address, for messages.
	IP string
	// Alive is false once the node died or left; DeathCause then says why.
	Alive      bool
	DeathCause string
	// Total and Available are its resources, and what is free as of its last report.
	Total, Available map[string]float64
}

// remoteNode is another node of the cluster, as this node forwards work to it.
type remoteNode struct {
	id      ids.UniqueID
	key     scheduling.NodeID
	ip      string
	address string
	alive   bool
	tasks   map[ids.ObjectID]*task // forwarded there and not finished, by return id

	// meter: how fast the node finishes this node's forwarded tasks (see forwardBound).
	meter ratemeter.Meter
	// unreachableUntil: the node could not be reached lately; the policy leaves it out until then
	// (see hostUnreachable).
	unreachableUntil time.Time
}

// noteDone counts a forwarded task finished at now in the node's rate.
func (r *remoteNode) noteDone(now time.Time) { r.meter.Note(now) }

// String names the node in messages: its id and IP address.
func (r *remoteNode) String() string {
	return fmt.Sprintf("node %s (%s)", r.id.Hex(), r.ip)
}

// forwardJob asks the driver to send a task to another node.
type forwardJob struct {
	node *remoteNode
	spec *pb.TaskSpec
}

// memoryResources are node resources the view leaves out: the policy compares nodes by what tasks
// ask for, and the local node's ledger has no memory resources.
var memoryResources = map[string]bool{"memory": true, "object_store_memory": true}

// viewSet is a reported resource map as the policy's set (without the memory resources).
func viewSet(m map[string]float64) (resources.Set, error) {
	out := make(map[string]float64, len(m))
	for k, v := range m {
		if !memoryResources[k] {
			out[k] = v
		}
	}
	return resources.NewSet(out, resources.Total)
}

// updateCluster is the event of a fresh view of the cluster: the other nodes' resources, which
// are alive, and where they are. Tasks forwarded to nodes that are dead now go back to the queue
// or fail. Called with r.mu held.
func (s *state) updateCluster(nodes []ViewNode) {
	view := []scheduling.Node{s.view.Nodes[0]}
	seen := map[scheduling.NodeID]bool{}
	type loss struct {
		r     *remoteNode
		cause string
	}
	var lost []loss
	for _, n := range nodes {
		if n.ID == s.nodeID {
			continue
		}
		key := scheduling.NodeID(n.ID.Hex())
		seen[key] = true // (a node whose report is bad has not left: it keeps its place)
		total, err := viewSet(n.Total)
		if err != nil {
			glog.Warningf("node %s reports bad totals: %v", key, err)
			s.keepInView(&view, key)
			continue
		}
		avail, err := viewSet(n.Available)
		if err != nil {
			glog.Warningf("node %s reports bad available resources: %v", key, err)
			s.keepInView(&view, key)
			continue
		}
		alive := n.Alive && n.Address != ""
		r := s.remotes[key]
		if r == nil {
			r = &remoteNode{id: n.ID, key: key, tasks: map[ids.ObjectID]*task{}}
			s.remotes[key] = r
		}
		view = append(view, scheduling.Node{ID: key, Total: total, Available: avail, Alive: alive && !s.now.Before(r.unreachableUntil)})
		delete(s.viewHeld, key) // (the report replaces them)
		r.ip, r.address = n.IP, n.Address
		if r.alive && !alive {
			cause := "the node died: " + n.DeathCause
			switch {
			case n.Alive:
				cause = "the node reports no address to reach it at"
			case n.DeathCause == "":
				cause = "the node died"
			}
			lost = append(lost, loss{r, cause})
		}
		r.alive = alive
		s.applyForwarded(key, &view[len(view)-1])
		if len(s.groups) > 0 {
			s.showBundles(key, &view[len(view)-1])
		}
	}
	for key, r := range s.remotes {
		if !seen[key] && r.alive {
			r.alive = false
			lost = append(lost, loss{r, "the node left the cluster"})
		}
	}
	// The losses are dealt with on the new view: retries and restarts go where they can run now.
	s.view.Nodes = view
	for _, l := range lost {
		s.remoteLost(l.r, l.cause, true)
		s.hostsLost(l.r, l.cause)
		s.keptLostAt(l.r.key, 0, l.cause)
		s.groupsLostOn(l.r.key, l.cause)
		s.ownerGroupsGone(l.r.id)
	}
	if len(s.groups) > 0 {
		s.retryPendingGroups() // (the cluster may have room for them now)
	}
	s.reclaimForOtherNodes()
	s.schedule()
}

// keepInView keeps a node's former entry in the view being built (its new report was bad).
// Called with r.mu held.
func (s *state) keepInView(view *[]scheduling.Node, key scheduling.NodeID) {
	for _, n := range s.view.Nodes[1:] {
		if n.ID == key {
			*view = append(*view, n)
			return
		}
	}
}

// reclaimForOtherNodes asks the workers that queue tasks (pipelined behind their running task)
// for them back when another node has room for them now: a node that joined, or one that freed
// resources, runs them sooner than the busy worker would. Called with r.mu held.
func (s *state) reclaimForOtherNodes() {
	s.foldHeld()
	for _, w := range s.workers {
		if w.client == nil || w.reclaiming || len(w.queued) == 0 || w.job == nil || w.job.id == "" {
			continue
		}
		demand := w.queued[0].demand
		for i := 1; i < len(s.view.Nodes); i++ {
			if n := &s.view.Nodes[i]; n.Alive && demand.FitsIn(n.Available) {
				w.reclaiming = true
				w.client.send(&pb.ServerMessage{Body: &pb.ServerMessage_Reclaim{Reclaim: &pb.Reclaim{}}})
				break
			}
		}
	}
}

// reportLag is how long a task forwarded to a node may be missing from the node's reported free
// resources: its report goes to the control store and comes back here with this node's next one.
const reportLag = 500 * time.Millisecond

// applyForwarded takes from a node's reported free resources what this node forwarded to it
// lately (its report may not count it yet): the policy must not send it more than it has. Called
// with r.mu held.
func (s *state) applyForwarded(key scheduling.NodeID, n *scheduling.Node) {
	r := s.remotes[key]
	if r == nil {
		return
	}
	for _, t := range r.tasks {
		if s.now.Sub(t.forwardedAt) < reportLag {
			n.Available = n.Available.Sub(t.demand)
		}
	}
}

// forward sends t to node r, which runs it; this node keeps it pending until the result comes
// back. Called with r.mu held.
func (s *state) forward(r *remoteNode, t *task) {
	t.remote = r
	t.forwardedAt = s.now
	r.tasks[t.returnID] = t
	if n := s.viewNodeOf(r.key); n != nil {
		n.Available = n.Available.Sub(t.demand)
	}
	s.eff.forward = append(s.eff.forward, forwardJob{node: r, spec: s.forwardSpec(t)})
	t.attempts++ // (the node that runs it counts its own from there)
}

// forwardSpec is t as another node gets it: its job, the nodes it came through (this one added,
// once), and its ObjectRef arguments as values when they are in this node's memory (or read
// back from disk for it), as references with their sizes when they are in shared memory (the
// running node pulls them). Called with r.mu held.
func (s *state) forwardSpec(t *task) *pb.TaskSpec {
	spec := t.specCopy()
	spec.MaxRetries = int32(t.retriesLeft)
	spec.Attempts = int32(t.attempts)
	spec.Job = t.job.config()
	spec.ForwardedBy = mergePaths(t.spec.ForwardedBy, []string{string(s.view.Local)})
	for i, a := range t.spec.Args {
		if !a.IsRef {
			spec.Args[i] = a
			continue
		}
		dep, _ := ids.ObjectIDFromBytes(a.ObjectId)
		obj, ok := s.store.Get(dep)
		switch {
		case !ok:
			spec.Args[i] = &pb.TaskArg{} // (trackDeps keeps such tasks from running)
		case !obj.InShm:
			spec.Args[i] = &pb.TaskArg{Data: obj.Data, ContainedIds: ids.ToBytes(obj.Contained)}
		case t.spilledArgs[dep] != nil:
			spec.Args[i] = &pb.TaskArg{Data: t.spilledArgs[dep], ContainedIds: ids.ToBytes(obj.Contained)}
		default:
			spec.Args[i] = &pb.TaskArg{IsRef: true, ObjectId: dep[:], ShmSize: obj.ShmSize, ContainedIds: ids.ToBytes(obj.Contained)}
		}
	}
	return spec
}

// remoteDone is the event of a forwarded task's result coming back: obj, or (nil) the object
// already stored here under the task's return id (pulled into shared memory). Called with r.mu
// held.
func (s *state) remoteDone(key scheduling.NodeID, returnID ids.ObjectID, obj *objstore.Object) {
	r, t := s.remoteFinished(key, returnID)
	if t == nil {
		return // failed or retried already (its node was held dead)
	}
	if obj == nil {
		stored, ok := s.store.Get(returnID)
		if !ok {
			stored = &objstore.Object{Kind: objstore.KindLost, Data: []byte(fmt.Sprintf("the result of %s, pulled from %s, is not in the store", taskLabel(t), r))}
		}
		obj = stored
	}
	s.finish(t, obj)
	s.schedule()
}

// remoteFinished takes the task of result returnID off node key's list when that node says it
// finished it: the node is free of it again (until its next report says otherwise). It returns
// the node and the task; a nil task when the node does not list it (failed or retried already).
// Called with r.mu held.
func (s *state) remoteFinished(key scheduling.NodeID, returnID ids.ObjectID) (*remoteNode, *task) {
	r := s.remotes[key]
	if r == nil {
		return nil, nil
	}
	t := r.tasks[returnID]
	if t == nil {
		return r, nil
	}
	r.untrack(t)
	r.noteDone(s.now)
	s.giveBack(r, t.demand)
	return r, t
}

// untrack takes t, forwarded to r, off r's list. Called with r.mu held.
func (r *remoteNode) untrack(t *task) {
	delete(r.tasks, t.returnID)
	t.remote = nil
}

// giveBack returns to node r's free resources in the view what a task forwarded there held.
// Called with r.mu held.
func (s *state) giveBack(r *remoteNode, demand resources.Set) {
	if n := s.viewNodeOf(r.key); n != nil {
		free := n.Available.Add(demand)
		n.Available = free.Sub(free.Sub(n.Total)) // at most its totals
	}
}

// remoteLost deals with the tasks forwarded to a node that died, left or cannot be reached: each
// goes back to the queue while it has retries left and some node could run it (the lost node
// too, unless gone), else fails naming the node. Called with r.mu held.
func (s *state) remoteLost(r *remoteNode, cause string, gone bool) {
	if len(r.tasks) == 0 {
		return
	}
	glog.Warningf("%s: %s; %d tasks forwarded there are lost", r, cause, len(r.tasks))
	lost := r.tasks
	r.tasks = map[ids.ObjectID]*task{}
	for _, t := range lost {
		t.remote = nil
		if s.feasibleWithout(r, gone, t.demand) && taskretry.Take(&t.retriesLeft) {
			glog.Warningf("retrying task %s (%s) after %s was lost; %s", t.spec.FunctionName, t.returnID.Hex()[:12], r, taskretry.Describe(t.retriesLeft))
			s.ready.pushFront(t)
			continue
		}
		why := "had no retries left"
		if taskretry.Has(t.retriesLeft) {
			why = "cannot run on any other node of the cluster"
		}
		msg := fmt.Sprintf("The node that ran %s was lost: %s: %s. The task (function %s) %s%s.", taskLabel(t), r, cause, t.spec.FunctionName, why, taskretry.Attempts(t.attempts))
		s.finish(t, &objstore.Object{Kind: objstore.KindWorkerDied, Data: []byte(msg)})
	}
	s.schedule()
}

// feasibleWithout tells whether a live node could ever run work of this demand (this node
// included; lost only when it is not gone). Called with r.mu held.
func (s *state) feasibleWithout(lost *remoteNode, gone bool, demand resources.Set) bool {
	if demand.FitsIn(s.ledger.Total()) {
		return true
	}
	for i := 1; i < len(s.view.Nodes); i++ {
		if n := &s.view.Nodes[i]; n.Alive && (n.ID != lost.key || !gone) && demand.FitsIn(n.Total) {
			return true
		}
	}
	return false
}

// linkFailed is the event of the link to a node breaking: its tasks are lost with it (the node
// may be alive: the retries go where the policy places them). Called with r.mu held.
func (s *state) linkFailed(key scheduling.NodeID, err error) {
	if r := s.remotes[key]; r != nil && !s.stopped {
		s.remoteLost(r, fmt.Sprintf("the connection to it broke (%v)", err), false)
		s.groupsLostOn(key, fmt.Sprintf("the connection to it broke (%v)", err))
	}
}

// forwardQueueDepth is how many tasks per CPU this node may have forwarded to a node beyond what
// the node has room for (state.queueDepth), at the least: they queue there (pipelined behind its
// busy workers) instead of here, so the node goes from one to the next without a round trip to
// this one.
const forwardQueueDepth = 16

// forwardBacklog is how much work, in time, this node may have queued on a node that finishes its
// tasks quickly (state.backlog): the bound on its forwarded tasks grows to what the node finishes
// in this time (at its measured rate), so that short tasks keep it busy for the whole round trip
// of a result and the next task, while long ones queue no deeper than forwardQueueDepth.
const forwardBacklog = 20 * time.Millisecond

// maxForwardedPerNode bounds the tasks forwarded to one node and not finished, whatever its rate.
const maxForwardedPerNode = 4096

// forwardBound is how many of this node's forwarded tasks node r (with cpus CPUs) may hold:
// queueDepth per CPU, or more when it finishes them fast: what it finishes in the backlog time.
// Called with r.mu held.
func (s *state) forwardBound(r *remoteNode, cpus float64) float64 {
	return ratemeter.Bound(r.meter.Rate(), s.backlog, float64(s.queueDepth)*cpus, maxForwardedPerNode)
}

// queueNode is the live node, other than this one, that could run class c and is the least full
// of this node's forwarded tasks (by forwardBound), below its bound; nil when none. Called with
// r.mu held.
func (s *state) queueNode(c *schedClass) *remoteNode {
	if c.job == nil || c.job.id == "" {
		return nil
	}
	var best *remoteNode
	bestLoad := 0.0
	for i := 1; i < len(s.view.Nodes); i++ {
		n := &s.view.Nodes[i]
		r := s.remotes[n.ID]
		if !n.Alive || r == nil || !r.alive || !c.demand.FitsIn(n.Total) {
			continue
		}
		cpus := n.Total.Get(resources.CPU).Float()
		if cpus < 1 {
			cpus = 1
		}
		bound := s.forwardBound(r, cpus)
		if float64(len(r.tasks)) >= bound {
			continue
		}
		load := float64(len(r.tasks)) / bound
		if best == nil || load < bestLoad || (load == bestLoad && r.key < best.key) {
			best, bestLoad = r, load
		}
	}
	return best
}

// runsElsewhere tells whether another live node of the cluster could run work of this demand:
// such work waits in the queue for room here or there, instead of queueing behind busy workers
// of this node (pipeline). Called with r.mu held.
func (s *state) runsElsewhere(c *schedClass) bool {
	if c.job == nil || c.job.id == "" || c.req.PreferLocal {
		return false // the node's own job runs here only, and so does work forwarded here
	}
	demand := c.demand
	for i := 1; i < len(s.view.Nodes); i++ {
		if n := &s.view.Nodes[i]; n.Alive && demand.FitsIn(n.Total) {
			return true
		}
	}
	return false
}

// config is the job as another node gets it with a forwarded task.
func (j *job) config() *pb.JobConfig {
	return &pb.JobConfig{JobId: j.id, WorkerCommand: j.command, CodeSearchPath: j.codeSearchPath, DriverExe: j.driverExe, Namespace: j.namespace, Code: j.code}
}
