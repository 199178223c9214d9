package raylet

// Tests of the node's decisions about actors across nodes (remote_actors.go), on the state alone
// (see remote_test.go for the cluster harness): where the owner places an actor and its restarts,
// the incarnations another node hosts, kills and job ends reaching the host, the hosting node's
// side (hosted records, questions relayed to the owner), and named actors' cluster-wide names.

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"

	"goray/actorrule"
	"goray/ids"
	pb "goray/rpc/proto"
)

// ownedBy is a fresh actor id owned by node (its first ids.ActorOwnerPrefix bytes are the node's).
func ownedBy(node ids.UniqueID) ids.ActorID {
	id := ids.NewUniqueID()
	copy(id[:ids.ActorOwnerPrefix], node[:ids.ActorOwnerPrefix])
	return id
}

// actorMsg is a CreateActor (request 1) of an actor owned by owner, of class cls needing res,
// with max restarts and a concurrency of 2.
func actorMsg(owner ids.UniqueID, cls string, res map[string]float64, restarts int32) *pb.CreateActor {
	id := ownedBy(owner)
	tid := ids.NewTaskID()
	ret := tid.ReturnID(1)
	return &pb.CreateActor{RequestId: 1, ActorId: id[:], ClassName: cls, MaxRestarts: restarts, MaxConcurrency: 2,
		Creation: &pb.TaskSpec{TaskId: tid[:], ReturnId: ret[:], FunctionName: cls + "::Make", Resources: res, TaskType: 1}}
}

// create sends m from a client and returns the actor the node made (nil: none).
func (c *cluster) create(from *conn, m *pb.CreateActor) *actor {
	c.send(from, &pb.ClientMessage{Body: &pb.ClientMessage_CreateActor{CreateActor: m}})
	id, _ := ids.UniqueIDFromBytes(m.ActorId)
	return c.s.actors[id]
}

// waitMsg is a WaitActor for actor id.
func waitMsg(id ids.ActorID, req uint64, after int32, endedOnly bool) *pb.ClientMessage {
	return &pb.ClientMessage{Body: &pb.ClientMessage_WaitActor{WaitActor: &pb.WaitActor{RequestId: req, ActorId: id[:], AfterIncarnation: after, EndedOnly: endedOnly}}}
}

// killMsg is a KillActor for actor id.
func killMsg(id ids.ActorID, req uint64, noRestart bool) *pb.ClientMessage {
	return &pb.ClientMessage{Body: &pb.ClientMessage_KillActor{KillActor: &pb.KillActor{RequestId: req, ActorId: id[:], NoRestart: noRestart}}}
}

// hostedOn renders the hostActor effects as node:incarnation, the node by its index in nodes.
func hostedOn(e effects, nodes []ViewNode) string {
	var parts []string
	for _, j := range e.hostActor {
		i := "?"
		for k, n := range nodes {
			if j.node.id == n.ID {
				i = fmt.Sprint(k)
			}
		}
		parts = append(parts, fmt.Sprintf("%s:%d", i, j.incarnation))
	}
	return strings.Join(parts, " ")
}

// agent connects the node's own client (it asks about actors this node hosts).
func (c *cluster) agent() *conn {
	a := c.driver()
	a.c.agent = true
	return a
}

// hostedActor makes a node of a cluster (one CPU, no R) that knows two other nodes with one R
// each: n, idle, and other, half used (nR: n's R). A driver of job J creates actor "A" needing
// R with maxRestarts (detached when asked), which the policy has n host (incarnation 0). The
// effects and the driver's messages so far are taken.
func hostedActor(t *testing.T, maxRestarts int32, detached bool, nR float64) (c *cluster, d *conn, a *actor, n, other ViewNode) {
	t.Helper()
	c = newCluster(t, cpus(1))
	d, _ = c.clusterJob("J")
	n = peerNode(map[string]float64{"CPU": 1, "R": nR}, nil)
	other = peerNode(map[string]float64{"CPU": 2, "R": 1}, map[string]float64{"CPU": 1, "R": 1})
	c.update(n, other)
	m := actorMsg(c.s.nodeID, "A", map[string]float64{"R": 1}, maxRestarts)
	m.Detached = detached
	a = c.create(d, m)
	if got := hostedOn(c.takeCluster(), []ViewNode{n, other}); got != "0:0" {
		t.Fatalf("hosted %q, want incarnation 0 on the idle node", got)
	}
	c.takeEffects()
	d.out.take()
	return c, d, a, n, other
}

// Where the owner starts an actor whose factory's arguments exist, in a cluster: here while the
// policy keeps it here (room, utilisation below the spread threshold) or when its job is the
// node's own; on another node the policy places it on (effect hostActor: a hosted, detached
// creation of incarnation 0 with its job, the node's free resources in the view less its
// demand); pending while no node has room, or no alive node has its resources at all
// (infeasible).
func TestClusterActorPlacement(t *testing.T) {
	withR := map[string]float64{"CPU": 1, "R": 1}
	cases := []struct {
		name    string
		local   float64 // the local node's CPUs
		filler  bool    // a local actor holds one of them first
		nodes   []ViewNode
		res     map[string]float64
		nodeJob bool
		want    string // "hosted on N", "here", "pending", "infeasible"
	}{
		{name: "only another node has the resource", local: 1, nodes: []ViewNode{peerNode(cpus(4), nil), peerNode(withR, nil)},
			res: map[string]float64{"R": 1}, want: "hosted on 1"},
		{name: "room here", local: 1, nodes: []ViewNode{peerNode(cpus(4), nil)}, res: cpus(1), want: "here"},
		{name: "a quarter used here: kept here", local: 4, filler: true, nodes: []ViewNode{peerNode(cpus(4), nil)}, res: cpus(1), want: "here"},
		{name: "half used here: hosted on the idle node", local: 2, filler: true, nodes: []ViewNode{peerNode(cpus(4), nil)}, res: cpus(1), want: "hosted on 0"},
		{name: "full here: hosted on the node with room", local: 1, filler: true, nodes: []ViewNode{peerNode(cpus(2), cpus(0)), peerNode(cpus(2), nil)}, res: cpus(1), want: "hosted on 1"},
		{name: "no node has room now", local: 1, nodes: []ViewNode{peerNode(withR, cpus(1))}, res: map[string]float64{"R": 1}, want: "pending"},
		{name: "no node has the resource", local: 1, nodes: []ViewNode{peerNode(cpus(4), nil)}, res: map[string]float64{"R": 1}, want: "infeasible"},
		{name: "only a dead node has the resource", local: 1, nodes: []ViewNode{dead(peerNode(withR, nil), "gone")}, res: map[string]float64{"R": 1}, want: "infeasible"},
		{name: "the node's own job stays here", local: 1, nodeJob: true, nodes: []ViewNode{peerNode(withR, nil)}, res: map[string]float64{"R": 1}, want: "pending"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newCluster(t, cpus(tc.local))
			d, _ := c.clusterJob("J")
			if tc.nodeJob {
				d = c.driver()
			}
			if tc.filler {
				if f := c.create(d, actorMsg(c.s.nodeID, "Filler", cpus(1), 0)); f == nil || f.alloc == nil {
					t.Fatal("the filler actor holds nothing here")
				}
			}
			c.update(tc.nodes...)
			c.takeEffects()
			c.takeCluster()
			d.out.take()
			m := actorMsg(c.s.nodeID, "A", tc.res, 3)
			a := c.create(d, m)
			e, local := c.takeCluster(), c.takeEffects()
			if r := replies(d.out.take())[1]; r == nil || r.Error != "" || !r.Found || string(r.ActorId) != string(m.ActorId) {
				t.Fatalf("the creation was answered %v", r)
			}
			got := "pending"
			switch {
			case len(e.hostActor) > 0:
				got = "hosted on " + strings.Split(hostedOn(e, tc.nodes), ":")[0]
			case len(local.spawnActors) > 0 && local.spawnActors[0] == a:
				got = "here"
			case a.creation.infeasible:
				got = "infeasible"
			}
			if got != tc.want {
				t.Fatalf("the actor is %s, want %s", got, tc.want)
			}
			switch got {
			case "hosted on 0", "hosted on 1":
				j := e.hostActor[0]
				cr := j.create
				if j.actor != a || j.incarnation != 0 || a.host != j.node || a.state != actorStarting || a.alloc != nil {
					t.Errorf("the actor's host %v, state %d; want the node, starting, holding nothing here", a.host, a.state)
				}
				if !cr.Hosted || !cr.Detached || cr.Incarnation != 0 || string(cr.ActorId) != string(m.ActorId) || cr.ClassName != "A" ||
					cr.MaxConcurrency != 2 || cr.MaxRestarts != 0 || cr.Name != "" || cr.Creation.FunctionName != "A::Make" || cr.Creation.Job.GetJobId() != "J" {
					t.Errorf("the node is asked to host %v", cr)
				}
				i := got[len(got)-1] - '0'
				n := tc.nodes[i]
				for k, v := range tc.res {
					if free, want := c.viewNode(keyOf(n)).Available.Get(k).Float(), n.Available[k]-v; free != want {
						t.Errorf("free %s of the host in the view: %v, want %v", k, free, want)
					}
				}
			case "pending", "infeasible":
				if a.state != actorPending || len(c.s.pendingActors) != 1 || c.s.pendingActors[0] != a {
					t.Errorf("state %d, %d pending actors; want the actor pending", a.state, len(c.s.pendingActors))
				}
			}
		})
	}
}

// A pending actor is hosted once a view shows a node with room for it.
func TestClusterPendingActorHostedOnceRoom(t *testing.T) {
	c := newCluster(t, cpus(1))
	d, _ := c.clusterJob("J")
	n := peerNode(map[string]float64{"CPU": 1, "R": 1}, cpus(1))
	c.update(n)
	a := c.create(d, actorMsg(c.s.nodeID, "A", map[string]float64{"R": 1}, 0))
	if e := c.takeCluster(); len(e.hostActor) != 0 || a.state != actorPending {
		t.Fatalf("hosted %q with no room", hostedOn(e, []ViewNode{n}))
	}
	c.update(peerNodeAs(n, nil))
	if got := hostedOn(c.takeCluster(), []ViewNode{n}); got != "0:0" || len(c.s.pendingActors) != 0 {
		t.Fatalf("once there is room hosted %q (%d pending), want incarnation 0 on the node", got, len(c.s.pendingActors))
	}
}

// The host's news that the incarnation placed is alive makes the actor alive at the address the
// host gives: parked WaitActor requests are answered with it. News of another incarnation than
// the one placed (an older one, or one of an actor killed since) changes nothing.
func TestClusterHostedAlive(t *testing.T) {
	const addr = "10.0.0.9:4000"
	cases := []struct {
		name   string
		before func(c *cluster, d *conn, a *actor) // after the wait was parked
		inc    int32
		want   string // the wait's answer (describe)
		state  actorState
	}{
		{name: "the incarnation placed", inc: 0, state: actorAlive,
			want: `found=true addr="10.0.0.9:4000" inc=0 dead=false cause="" lost="" err=""`},
		{name: "a later incarnation than the one placed", inc: 1, state: actorStarting, want: "none"},
		{name: "an earlier incarnation than the one placed", inc: 0, state: actorStarting, want: "none",
			before: func(c *cluster, d *conn, a *actor) {
				c.do(func(s *state) { s.hostedEnded(a, 0, "crashed", false) }) // restarted: incarnation 1 placed
			}},
		{name: "an actor killed since", inc: 0, state: actorDead,
			want:   fmt.Sprintf(`found=true addr="" inc=0 dead=true cause=%q lost="" err=""`, actorrule.CauseKilled),
			before: func(c *cluster, d *conn, a *actor) { c.send(d, killMsg(a.id, 2, true)) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, d, a, _, _ := hostedActor(t, 1, false, 1)
			c.send(d, waitMsg(a.id, 10, -1, false))
			if r := replies(d.out.take())[10]; r != nil {
				t.Fatalf("answered while starting: %s", describe(r))
			}
			if tc.before != nil {
				tc.before(c, d, a)
			}
			c.do(func(s *state) { s.hostedAlive(a, tc.inc, addr) })
			if got := describe(replies(d.out.take())[10]); got != tc.want {
				t.Errorf("the wait got %s, want %s", got, tc.want)
			}
			if a.state != tc.state {
				t.Errorf("state %d, want %d", a.state, tc.state)
			}
		})
	}
}

// The host's news that an incarnation ended (or could not start): while the actor has restarts
// left, the next incarnation is placed again, anywhere (here: on the other node, the first has no
// room left in the view), a restart used; without, or when the actor exited, it is dead. Waits
// for the end of the incarnation (ended_only) are answered with its cause as soon as it ends. News
// of an incarnation that is not the current one is ignored.
func TestClusterHostedEnded(t *testing.T) {
	cases := []struct {
		name        string
		maxRestarts int32
		alive       bool // the incarnation came alive first
		inc         int32
		cause       string
		startFailed bool
		want        string // "hosted 1:1" (node:incarnation) or "dead"; "unchanged"
		deadCause   string // contained in the cause of death
	}{
		{name: "ended, a restart left", maxRestarts: 1, alive: true, cause: "crashed", want: "hosted 1:1"},
		{name: "ended, unlimited restarts", maxRestarts: -1, alive: true, cause: "crashed", want: "hosted 1:1"},
		{name: "ended, no restart left", maxRestarts: 0, alive: true, cause: "crashed", want: "dead",
			deadCause: "The actor was killed and has no restarts left (max_restarts reached). crashed"},
		{name: "exited: not restarted", maxRestarts: 3, alive: true, cause: actorrule.CauseExited, want: "dead", deadCause: actorrule.CauseExited},
		{name: "could not start, a restart left", maxRestarts: 1, cause: "no room", startFailed: true, want: "hosted 1:1"},
		{name: "could not start, no restart left", maxRestarts: 0, cause: "no room", startFailed: true, want: "dead", deadCause: "no room"},
		{name: "another incarnation's end", maxRestarts: 1, alive: true, inc: 4, cause: "crashed", want: "unchanged"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, d, a, n, other := hostedActor(t, tc.maxRestarts, false, 1)
			if tc.alive {
				c.do(func(s *state) { s.hostedAlive(a, 0, "10.0.0.9:4000") })
			}
			c.send(d, waitMsg(a.id, 10, 0, true)) // how incarnation 0 ends
			d.out.take()
			c.do(func(s *state) { s.hostedEnded(a, tc.inc, tc.cause, tc.startFailed) })
			e := c.takeCluster()
			got := "unchanged"
			switch {
			case a.state == actorDead:
				got = "dead"
			case len(e.hostActor) > 0:
				got = "hosted " + hostedOn(e, []ViewNode{n, other})
			case a.host == nil || a.restarts != 0:
				got = fmt.Sprintf("changed: host %v, restarts %d", a.host, a.restarts)
			}
			if got != tc.want {
				t.Fatalf("after the end: %s, want %s", got, tc.want)
			}
			r := replies(d.out.take())[10]
			switch tc.want {
			case "unchanged":
				if r != nil || a.host == nil || a.host.id != n.ID {
					t.Errorf("the wait got %s, the host %v; want nothing changed", describe(r), a.host)
				}
				return
			case "dead":
				if !strings.Contains(a.cause, tc.deadCause) || a.host != nil {
					t.Errorf("dead with %q (host %v); want a cause with %q", a.cause, a.host, tc.deadCause)
				}
				if r == nil || !strings.Contains(r.LostCause, tc.cause) {
					t.Errorf("the wait for incarnation 0's end got %s, want its cause %q", describe(r), tc.cause)
				}
			default:
				j := e.hostActor[0]
				if a.restarts != 1 || a.state != actorStarting || a.host != j.node || j.create.Incarnation != 1 || !j.create.Hosted {
					t.Errorf("restarts %d, state %d; the next incarnation is not the one placed", a.restarts, a.state)
				}
				if r == nil || r.ActorDead || !strings.Contains(r.LostCause, tc.cause) {
					t.Errorf("the wait for incarnation 0's end got %s, want its cause %q", describe(r), tc.cause)
				}
				if tc.startFailed != (a.startFailures == 1) {
					t.Errorf("%d start failures in a row", a.startFailures)
				}
			}
		})
	}
}

// Killing an actor another node hosts: the caller is answered at once (the incarnation killed),
// the host is asked to kill the process (a relay of KillActor, no restart there, answered to
// nobody), and the incarnation ends here: the actor restarts elsewhere while it may, or is dead.
// The host's later news of the killed incarnation changes nothing.
func TestClusterKillHostedActor(t *testing.T) {
	cases := []struct {
		name        string
		maxRestarts int32
		noRestart   bool
		want        string // "hosted 1:1" or the cause of death
	}{
		{"Kill(false), a restart left", 1, false, "hosted 1:1"},
		{"Kill(true)", 1, true, actorrule.CauseKilled},
		{"Kill(false), no restart left", 0, false, "The actor was killed and has no restarts left (max_restarts reached). " + actorrule.CauseKilledRestart},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, d, a, n, other := hostedActor(t, tc.maxRestarts, false, 1)
			c.do(func(s *state) { s.hostedAlive(a, 0, "10.0.0.9:4000") })
			c.send(d, killMsg(a.id, 7, tc.noRestart))
			if r := replies(d.out.take())[7]; r == nil || r.Error != "" || !r.Found || r.Incarnation != 0 {
				t.Fatalf("the kill was answered %s", describe(r))
			}
			e := c.takeCluster()
			if len(e.relay) != 1 {
				t.Fatalf("%d relays, want the kill sent to the host", len(e.relay))
			}
			rl := e.relay[0]
			k := rl.message.GetKillActor()
			if rl.owner.id != n.ID || rl.client != nil || k == nil || string(k.ActorId) != string(a.id[:]) || !k.NoRestart {
				t.Errorf("relayed %v to %v (client %v), want KillActor(no_restart) to the host, answered to nobody", rl.message, rl.owner, rl.client)
			}
			got := a.cause
			if a.state != actorDead {
				got = "hosted " + hostedOn(e, []ViewNode{n, other})
			}
			if got != tc.want {
				t.Fatalf("after the kill: %q, want %q", got, tc.want)
			}
			before := fmt.Sprintf("%d %d %v", a.state, a.restarts, a.host)
			c.do(func(s *state) {
				s.hostedEnded(a, 0, "killed", false)
				s.hostedAlive(a, 0, "10.0.0.9:4000")
			})
			if e := c.takeCluster(); fmt.Sprintf("%d %d %v", a.state, a.restarts, a.host) != before || !e.empty() {
				t.Errorf("the killed incarnation's news changed the actor (%s) or had effects", before)
			}
		})
	}
}

// When its job's last driver leaves, an actor another node hosts dies (its owner is gone) and
// the host is asked to kill its process; a detached one lives on.
func TestClusterDriverLeftHostedActor(t *testing.T) {
	for _, detached := range []bool{false, true} {
		t.Run(fmt.Sprintf("detached=%v", detached), func(t *testing.T) {
			c, d, a, n, _ := hostedActor(t, 3, detached, 1)
			c.do(func(s *state) { s.hostedAlive(a, 0, "10.0.0.9:4000") })
			c.do(func(s *state) { s.clientGone(d.c, nil) })
			e := c.takeCluster()
			if detached {
				if a.state != actorAlive || len(e.relay) != 0 {
					t.Fatalf("the detached actor: state %d, %d relays; want it alive and left alone", a.state, len(e.relay))
				}
				return
			}
			if a.state != actorDead || a.cause != actorrule.CauseOwnerDied || len(e.hostActor) != 0 {
				t.Fatalf("state %d cause %q, hosted again %q; want dead, its owner gone", a.state, a.cause, hostedOn(e, nil))
			}
			if len(e.relay) != 1 || e.relay[0].owner.id != n.ID || e.relay[0].message.GetKillActor() == nil {
				t.Fatalf("%d relays; want the kill sent to the host", len(e.relay))
			}
		})
	}
}

// A node that hosts actors is lost (it died or left the report): each of its incarnations ends
// with a cause naming the node, and the actor is placed again elsewhere while it has restarts, or
// dies. Waits for the new incarnation get its address once it is alive, and the old one's cause.
func TestClusterHostsLost(t *testing.T) {
	cases := []struct {
		name        string
		maxRestarts int32
		nR          float64 // R on the lost node: with 2, the view still shows room there
		lose        func(c *cluster, n, other ViewNode)
		want        string // "hosted 1:1" or "dead"
		cause       string
	}{
		{name: "died, a restart left", maxRestarts: 1, nR: 1, want: "hosted 1:1", cause: "died: oom",
			lose: func(c *cluster, n, other ViewNode) { c.update(dead(n, "oom"), other) }},
		{name: "left the report, a restart left", maxRestarts: 1, nR: 1, want: "hosted 1:1", cause: "left the cluster",
			lose: func(c *cluster, n, other ViewNode) { c.update(other) }},
		{name: "died, no restart left", maxRestarts: 0, nR: 1, want: "dead", cause: "died: oom",
			lose: func(c *cluster, n, other ViewNode) { c.update(dead(n, "oom"), other) }},
		{name: "died while the view shows room on it", maxRestarts: 1, nR: 2, want: "hosted 1:1", cause: "died: oom",
			lose: func(c *cluster, n, other ViewNode) { c.update(dead(n, "oom"), other) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, d, a, n, other := hostedActor(t, tc.maxRestarts, false, tc.nR)
			c.do(func(s *state) { s.hostedAlive(a, 0, "10.0.0.9:4000") })
			c.send(d, waitMsg(a.id, 10, 0, false))
			d.out.take()
			tc.lose(c, n, other)
			e := c.takeCluster()
			got := "dead"
			if a.state != actorDead {
				got = "hosted " + hostedOn(e, []ViewNode{n, other})
			}
			if got != tc.want {
				t.Fatalf("after its node was lost the actor is %s, want %s", got, tc.want)
			}
			lost := a.lostCauses[0]
			if !strings.Contains(lost, "The actor died with its node: node "+n.ID.Hex()) || !strings.Contains(lost, tc.cause) {
				t.Errorf("incarnation 0 ended with %q, want its node and %q", lost, tc.cause)
			}
			r := replies(d.out.take())[10]
			if tc.want == "dead" {
				if r == nil || !r.ActorDead || !strings.Contains(r.Cause, n.ID.Hex()) {
					t.Errorf("the wait got %s, want the death naming the node", describe(r))
				}
				return
			}
			if r != nil {
				t.Fatalf("answered before the new incarnation is alive: %s", describe(r))
			}
			c.do(func(s *state) { s.hostedAlive(a, 1, "10.0.0.8:4000") })
			if r := replies(d.out.take())[10]; r == nil || r.ActorAddress != "10.0.0.8:4000" || r.Incarnation != 1 || r.LostCause != lost {
				t.Errorf("the wait got %s, want incarnation 1's address and incarnation 0's cause", describe(r))
			}
		})
	}
}

// The hosting side: a hosted CreateActor (from the owner, through the node's own client) makes a
// record of this node that is hosted, never restarts (max restarts 0 whatever was asked), counts
// its restarts from the incarnation, has no name (the owner keeps it), runs the owner's job's code,
// and is never placed elsewhere. Its process is told it is a restart after incarnation 0; when it
// dies the actor is dead here, the incarnation's cause kept for the owner's question.
func TestClusterHostedCreate(t *testing.T) {
	for _, inc := range []int32{0, 2} {
		t.Run(fmt.Sprintf("incarnation %d", inc), func(t *testing.T) {
			c := newCluster(t, cpus(1))
			owner := peerNode(cpus(4), nil)
			c.update(owner, peerNode(cpus(8), nil)) // a node the policy would rather choose
			ag := c.agent()
			m := actorMsg(owner.ID, "A", cpus(1), 5)
			m.Hosted, m.Incarnation, m.Detached, m.Name, m.Namespace = true, inc, true, "named", "ns"
			m.Creation.Job = &pb.JobConfig{JobId: "J", WorkerCommand: []string{"w-J"}}
			a := c.create(ag, m)
			if r := replies(ag.out.take())[1]; r == nil || r.Error != "" || !r.Found {
				t.Fatalf("the hosted creation was answered %v", r)
			}
			if a == nil || !a.hosted || a.maxRestarts != 0 || a.restarts != int(inc) || a.name != "" || !a.detached || a.job != c.s.jobs["J"] {
				t.Fatalf("the hosted record: %+v", a)
			}
			e, local := c.takeCluster(), c.takeEffects()
			if len(e.hostActor) != 0 || len(e.names) != 0 || len(local.spawnActors) != 1 || local.spawnActors[0] != a {
				t.Fatalf("hosted elsewhere %d times, %d name claims, %d processes started; want its process here", len(e.hostActor), len(e.names), len(local.spawnActors))
			}
			w := c.worker(a)
			msgs := w.out.take()
			var spec *pb.TaskSpec
			for _, msg := range msgs {
				if x := msg.GetExecute(); x != nil {
					spec = x.Spec
				}
			}
			if spec == nil || spec.FunctionName != "A::Make" || spec.Restarted != (inc > 0) {
				t.Fatalf("the process got %v, want the factory (restarted %v)", spec, inc > 0)
			}
			c.created(w, a, "/tmp/hosted.sock")
			if a.state != actorAlive || a.incarnation != inc {
				t.Fatalf("state %d incarnation %d, want alive in incarnation %d", a.state, a.incarnation, inc)
			}
			c.do(func(s *state) { s.workerEnded(w.w, exit{status: "exited with status 1"}) })
			if a.state != actorDead || a.lostCauses[inc] == "" || len(c.takeEffects().spawnActors) != 0 {
				t.Fatalf("after its process died: state %d, lost cause %q; want dead, not restarted here", a.state, a.lostCauses[inc])
			}
		})
	}
}

// Who answers questions about an actor (WaitActor, KillActor): this node for its own actors,
// for actors it does not know whose owner it does not know alive, and for the node's own client
// about actors it hosts; the owner (a relay: the question, its client and request id, to the
// owner node) for other processes' questions about actors it hosts or does not know, when the
// actor's id names a known alive node.
func TestClusterActorQuestions(t *testing.T) {
	cases := []struct {
		name  string
		actor string // "hosted", "own", "unknown owned by alive", "unknown owned by dead", "unknown owned by unknown", "unknown owned here"
		agent bool
		kill  bool
		want  string // "relayed" or "answered"
	}{
		{name: "wait for a hosted actor", actor: "hosted", want: "relayed"},
		{name: "kill a hosted actor", actor: "hosted", kill: true, want: "relayed"},
		{name: "the node's own client waits for a hosted actor", actor: "hosted", agent: true, want: "answered"},
		{name: "the node's own client kills a hosted actor", actor: "hosted", agent: true, kill: true, want: "answered"},
		{name: "wait for a hosted actor whose owner died", actor: "hosted, owner dead", want: "answered"},
		{name: "wait for an actor of this node", actor: "own", want: "answered"},
		{name: "wait for an unknown actor of an alive node", actor: "unknown owned by alive", want: "relayed"},
		{name: "kill an unknown actor of an alive node", actor: "unknown owned by alive", kill: true, want: "relayed"},
		{name: "the node's own client asks about an unknown actor of an alive node", actor: "unknown owned by alive", agent: true, want: "answered"},
		{name: "wait for an unknown actor of a dead node", actor: "unknown owned by dead", want: "answered"},
		{name: "wait for an unknown actor of an unknown node", actor: "unknown owned by unknown", want: "answered"},
		{name: "wait for an unknown actor of this node", actor: "unknown owned here", want: "answered"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newCluster(t, cpus(2))
			owner, gone := peerNode(cpus(4), nil), peerNode(cpus(4), nil)
			c.update(owner, gone)
			c.update(owner, dead(gone, "gone"))
			d, ag := c.driver(), c.agent()
			var id ids.ActorID
			switch tc.actor {
			case "hosted", "hosted, owner dead":
				m := actorMsg(owner.ID, "A", nil, 0)
				m.Hosted = true
				id = c.create(ag, m).id
				if tc.actor == "hosted, owner dead" {
					c.update(dead(owner, "gone"), dead(gone, "gone"))
				}
			case "own":
				id = c.create(d, actorMsg(c.s.nodeID, "A", nil, 0)).id
			case "unknown owned by alive":
				id = ownedBy(owner.ID)
			case "unknown owned by dead":
				id = ownedBy(gone.ID)
			case "unknown owned by unknown":
				id = ownedBy(ids.NewUniqueID())
			case "unknown owned here":
				id = ownedBy(c.s.nodeID)
			}
			asker := d
			if tc.agent {
				asker = ag
			}
			asker.out.take()
			c.takeCluster()
			msg := waitMsg(id, 42, -1, false)
			if tc.kill {
				msg = killMsg(id, 42, true)
			}
			c.send(asker, msg)
			e := c.takeCluster()
			r := replies(asker.out.take())[42]
			got := "answered"
			if len(e.relay) > 0 {
				got = "relayed"
				rl := e.relay[0]
				if len(e.relay) != 1 || rl.client != asker.c || rl.requestID != 42 || rl.owner.id != owner.ID ||
					rl.message.GetWaitActor() != msg.GetWaitActor() || rl.message.GetKillActor() != msg.GetKillActor() {
					t.Errorf("relayed %d: %+v; want the question, its client and request id, to the owner", len(e.relay), rl)
				}
				if r != nil {
					t.Errorf("a relayed question was answered here too: %s", describe(r))
				}
			} else if a := c.s.actors[id]; r == nil && (a == nil || len(a.waiters) == 0) {
				t.Errorf("neither relayed nor answered nor parked")
			}
			if got != tc.want {
				t.Errorf("the question was %s (reply %s), want %s", got, describe(r), tc.want)
			}
		})
	}
}

// A hosted CreateActor for an actor id the node knows: it replaces a dead hosted record (the
// owner starts the next incarnation here); any other is refused.
func TestClusterHostedCreateAgain(t *testing.T) {
	cases := []struct {
		name    string
		first   string // "hosted" or "own"
		dead    bool   // the first record is dead
		hosted  bool   // the second creation is hosted
		replace bool
	}{
		{name: "a dead hosted record", first: "hosted", dead: true, hosted: true, replace: true},
		{name: "a live hosted record", first: "hosted", hosted: true},
		{name: "a dead hosted record, created again not hosted", first: "hosted", dead: true},
		{name: "a dead actor of this node's own", first: "own", dead: true, hosted: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newCluster(t, cpus(1))
			owner := peerNode(cpus(4), nil)
			c.update(owner)
			ag := c.agent()
			m := actorMsg(owner.ID, "A", nil, 0)
			m.Hosted = tc.first == "hosted"
			first := c.create(ag, m)
			if tc.dead {
				c.send(ag, killMsg(first.id, 2, true))
				if first.state != actorDead {
					t.Fatalf("the first record is not dead")
				}
			}
			ag.out.take()
			again := actorMsg(owner.ID, "A", nil, 0)
			again.ActorId, again.Hosted, again.Incarnation, again.RequestId = first.id[:], tc.hosted, 1, 9
			second := c.create(ag, again)
			r := replies(ag.out.take())[9]
			if tc.replace {
				if r == nil || r.Error != "" || second == first || second.restarts != 1 || !second.hosted || second.state == actorDead {
					t.Fatalf("answered %v; want a new hosted record of incarnation 1", r)
				}
				return
			}
			if r == nil || !strings.Contains(r.Error, "exists already") || second != first {
				t.Fatalf("answered %v; want the creation refused, the first record kept", r)
			}
		})
	}
}

// A named actor's creation in a cluster claims its name in the control store first (effect
// names, claim): the creator is answered once the claim is decided; a name taken elsewhere, or a
// claim that failed, refuses the creation and forgets the actor; a claim granted starts the
// creation. On a node of no cluster the name is only the node's.
func TestClusterNamedActorClaim(t *testing.T) {
	cases := []struct {
		name      string
		noCluster bool
		taken     bool
		err       error
		want      string // the reply's error (contained); "" found
	}{
		{name: "granted"},
		{name: "taken", taken: true, want: `an actor named "counter" already exists in namespace "ns"`},
		{name: "the store failed", err: errors.New("unavailable"), want: `the name "counter" of the actor could not be claimed in the cluster: unavailable`},
		{name: "a node of no cluster", noCluster: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newCluster(t, cpus(1))
			if tc.noCluster {
				c.s.cfg.PeerListen = ""
			}
			d, _ := c.clusterJob("J")
			m := actorMsg(c.s.nodeID, "Counter", nil, 0)
			m.Name, m.Namespace = "counter", "ns"
			a := c.create(d, m)
			key := actorKey{"ns", "counter"}
			e := c.takeCluster()
			r := replies(d.out.take())[1]
			if tc.noCluster {
				if len(e.names) != 0 || r == nil || !r.Found || a.nameClaimed {
					t.Fatalf("no cluster: %d name jobs, answered %v; want the name the node's, answered at once", len(e.names), r)
				}
				return
			}
			if r != nil || len(c.takeEffects().spawnActors) != 0 {
				t.Fatalf("answered (%v) or started before the claim was decided", r)
			}
			if len(e.names) != 1 || e.names[0].op != nameClaim || e.names[0].key != key || e.names[0].actor != a || e.names[0].actorID != a.id || e.names[0].className != "Counter" {
				t.Fatalf("name jobs %+v, want one claim of ns/counter for the actor", e.names)
			}
			// Meanwhile the name is the node's: another creation with it is refused at once.
			other := actorMsg(c.s.nodeID, "Counter", nil, 0)
			other.Name, other.Namespace, other.RequestId = "counter", "ns", 2
			c.create(d, other)
			if r := replies(d.out.take())[2]; r == nil || !strings.Contains(r.Error, "already exists") {
				t.Fatalf("a second creation with the name while it is claimed was answered %v", r)
			}
			c.do(func(s *state) { s.nameClaimed(a, tc.taken, tc.err) })
			r = replies(d.out.take())[1]
			started := len(c.takeEffects().spawnActors)
			if tc.want == "" {
				if r == nil || r.Error != "" || !r.Found || !a.nameClaimed || c.s.named[key] != a || started != 1 {
					t.Fatalf("granted: answered %v, %d processes started", r, started)
				}
				return
			}
			if r == nil || !strings.Contains(r.Error, tc.want) {
				t.Fatalf("answered %v, want the error %q", r, tc.want)
			}
			if c.s.actors[a.id] != nil || c.s.named[key] != nil || started != 0 || len(c.takeCluster().names) != 0 {
				t.Fatalf("the refused actor is still known, named or started, or its name released")
			}
		})
	}
}

// A named actor's name goes back to the cluster when it dies, if it claimed it (not an actor of
// a node of no cluster); an actor another node hosts keeps its name at its owner (the host is not
// told it).
func TestClusterNamedActorRelease(t *testing.T) {
	cases := []struct {
		name      string
		noCluster bool
		remote    bool // placed on another node
		release   bool
	}{
		{name: "claimed, here", release: true},
		{name: "claimed, hosted elsewhere", remote: true, release: true},
		{name: "a node of no cluster", noCluster: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newCluster(t, cpus(1))
			n := peerNode(map[string]float64{"CPU": 1, "R": 1}, nil)
			c.update(n)
			if tc.noCluster {
				c.s.cfg.PeerListen = ""
			}
			d, _ := c.clusterJob("J")
			res := map[string]float64(nil)
			if tc.remote {
				res = map[string]float64{"R": 1}
			}
			m := actorMsg(c.s.nodeID, "Counter", res, 0)
			m.Name, m.Namespace = "counter", "ns"
			a := c.create(d, m)
			if !tc.noCluster {
				c.do(func(s *state) { s.nameClaimed(a, false, nil) })
			}
			e := c.takeCluster()
			if tc.remote && (len(e.hostActor) != 1 || e.hostActor[0].create.Name != "" || e.hostActor[0].create.Namespace != "ns") {
				t.Fatalf("hosted %q; want it on the node with R, without its name", hostedOn(e, []ViewNode{n}))
			}
			c.send(d, killMsg(a.id, 3, true))
			if a.state != actorDead {
				t.Fatalf("the actor is not dead")
			}
			e = c.takeCluster()
			var got []string
			for _, j := range e.names {
				got = append(got, fmt.Sprintf("%d %s/%s %v %s", j.op, j.key.namespace, j.key.name, j.actorID == a.id, j.className))
			}
			sort.Strings(got)
			want := ""
			if tc.release {
				want = fmt.Sprintf("%d ns/counter true Counter", nameRelease)
			}
			if strings.Join(got, "; ") != want {
				t.Fatalf("name jobs %q, want %q", got, want)
			}
		})
	}
}

// A named actor whose creator's job ended (or that was killed) while its claim was pending: if
// the claim is granted afterwards, the name must go back to the cluster (the actor is dead), or
// no actor of the cluster could take it again.
func TestClusterNameClaimGrantedAfterDeath(t *testing.T) {
	cases := []struct {
		name     string
		end      func(c *cluster, d *conn, a *actor)
		answered bool // the creator is still there to be told
	}{
		{"its job's driver left", func(c *cluster, d *conn, a *actor) { c.do(func(s *state) { s.clientGone(d.c, nil) }) }, false},
		{"killed", func(c *cluster, d *conn, a *actor) { c.send(d, killMsg(a.id, 5, true)) }, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newCluster(t, cpus(1))
			d, _ := c.clusterJob("J")
			m := actorMsg(c.s.nodeID, "Counter", nil, 0)
			m.Name, m.Namespace = "counter", "ns"
			a := c.create(d, m)
			c.takeCluster()
			tc.end(c, d, a)
			if a.state != actorDead {
				t.Fatalf("the actor is not dead")
			}
			d.out.take()
			c.do(func(s *state) { s.nameClaimed(a, false, nil) })
			released := false
			for _, j := range c.takeCluster().names {
				released = released || (j.op == nameRelease && j.actorID == a.id)
			}
			answered := replies(d.out.take())[1] != nil
			if !released || answered != tc.answered {
				t.Fatalf("a claim granted after the actor died: released %v, the creator answered %v; want released, answered %v", released, answered, tc.answered)
			}
		})
	}
}

// GetActor in a cluster: a name this node knows is answered here; one it does not know is looked
// up in the control store (effect names, lookup, with the client and request id); on a node of no
// cluster an unknown name is not found.
func TestClusterGetActor(t *testing.T) {
	cases := []struct {
		name      string
		known     bool
		noCluster bool
		want      string // "found", "not found", "lookup"
	}{
		{name: "a name this node has", known: true, want: "found"},
		{name: "a name it does not know", want: "lookup"},
		{name: "a node of no cluster", noCluster: true, want: "not found"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newCluster(t, cpus(1))
			d, _ := c.clusterJob("J")
			if tc.known {
				m := actorMsg(c.s.nodeID, "Counter", nil, 0)
				m.Name, m.Namespace = "counter", "ns"
				a := c.create(d, m)
				c.do(func(s *state) { s.nameClaimed(a, false, nil) })
			}
			if tc.noCluster {
				c.s.cfg.PeerListen = ""
			}
			c.takeCluster()
			d.out.take()
			c.send(d, &pb.ClientMessage{Body: &pb.ClientMessage_GetActor{GetActor: &pb.GetActor{RequestId: 4, Name: "counter", Namespace: "ns"}}})
			e := c.takeCluster()
			r := replies(d.out.take())[4]
			got := "none"
			switch {
			case len(e.names) == 1 && r == nil:
				got = "lookup"
				j := e.names[0]
				if j.op != nameLookup || j.client != d.c || j.requestID != 4 || j.key != (actorKey{"ns", "counter"}) {
					t.Errorf("the lookup %+v, want ns/counter for the client's request 4", j)
				}
			case r != nil && r.Found && r.ClassName == "Counter":
				got = "found"
			case r != nil && !r.Found:
				got = "not found"
			}
			if got != tc.want {
				t.Fatalf("GetActor: %s, want %s", got, tc.want)
			}
		})
	}
}

// A node that cannot be reached to host an actor's incarnation (its link cannot be opened) uses
// none of the actor's restarts: the incarnation never started. The node is left out of placement
// for unreachableHold, so the actor goes to another node, and counts again once that has passed.
func TestClusterHostUnreachable(t *testing.T) {
	c, _, a, n, other := hostedActor(t, 0, false, 1)
	r := c.s.remotes[keyOf(n)]
	c.do(func(s *state) { s.hostUnreachable(a, 0, r, "node n could not be reached to host the actor") })
	if got := hostedOn(c.takeCluster(), []ViewNode{n, other}); got != "1:0" || a.state == actorDead || a.restarts != 0 {
		t.Fatalf("hosted %q, state %d, %d restarts; want incarnation 0 on the other node, none used", got, a.state, a.restarts)
	}
	if c.viewNode(keyOf(n)).Alive {
		t.Error("the unreachable node is still a candidate for placement")
	}
	c.update(n, other)
	if c.viewNode(keyOf(n)).Alive {
		t.Error("a fresh view made the unreachable node a candidate again within the hold")
	}
	c.s.now = c.s.now.Add(unreachableHold)
	c.update(n, other)
	if !c.viewNode(keyOf(n)).Alive {
		t.Error("the node is still left out after the hold")
	}
	// A late report of the same failure changes nothing.
	c.do(func(s *state) { s.hostUnreachable(a, 0, r, "late") })
	if e := c.takeCluster(); len(e.hostActor) != 0 {
		t.Errorf("a late report placed the actor again: %s", hostedOn(e, []ViewNode{n, other}))
	}
}
