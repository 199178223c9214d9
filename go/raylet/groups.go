package raylet

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/golang/glog"
	"google.golang.org/protobuf/proto"

	"goray/ids"
	"goray/placement"
	"goray/resources"
	pb "goray/rpc/proto"
	"goray/scheduling"
)

// Placement groups this node owns. The node a client asks to create a group owns it (its id
// starts with the node's, as an actor's does): it decides where the bundles go
// (scheduling.PlaceBundles over its view of the cluster) and reserves them in two phases, as
// Ray's GCS does: prepare on every node the bundles go to (bundles.go), then commit on all of
// them, or return what was prepared and try again later. A group whose bundles are all committed
// is CREATED; one a node holding some of its bundles dies (or whose link breaks) is RESCHEDULING
// while those bundles are placed again; a REMOVED one gave everything back, and the actors and
// tasks that ran in it were killed. The owner records its groups in its directory and, on a
// cluster, in the control store (named groups claim their name there before they are placed),
// where other nodes look them up; questions about a group (wait, remove, get by id) go to its
// owner.

// groupRetryDelay is how long a group that could not be placed waits before it tries again
// (besides every fresh view of the cluster and every removal here).
const groupRetryDelay = 100 * time.Millisecond

// ownedGroup is a placement group this node owns.
type ownedGroup struct {
	info     *pb.PlacementGroupInfo // its record: state, bundles, the node of each bundle
	strategy scheduling.BundleStrategy
	demands  []resources.Set
	nodes    []scheduling.NodeID // the node holding each bundle ("": not placed)
	claimed  bool                // its record is where lookups find it (named: its name is its own)

	// The two-phase round in flight (round 0: none): the bundles asked of each node, the
	// answers still awaited, and why it failed (a prepare was refused).
	round        uint64
	asked        map[scheduling.NodeID][]int
	prepared     map[scheduling.NodeID]bool
	awaited      int
	committed    bool // the round reached its commit phase
	commitFailed bool // a commit of the round was refused (or could not be sent)
	failed       string
	failedOn     string // the node whose refusal failed the round

	retrying bool // a retry timer is set
	waiters  []groupWaiter

	// creator is the client that created the group; it hears of each change of the group's
	// state (shown: the last it heard; it starts with PENDING).
	creator *client
	shown   int32
}

// groupWaiter is a WaitPlacementGroup request parked until the group is created or removed, or
// its time runs out.
type groupWaiter struct {
	c         *client
	requestID uint64
	seq       uint64
}

// peerAsk asks the driver to send a message to another node over the link to it and deliver the
// answer (or the link's error) to done as an event; with done nil, the message is only sent
// (over an open link) and not answered.
type peerAsk struct {
	node *remoteNode
	msg  *pb.ClientMessage
	done func(s *state, rep *pb.Reply, err error)
}

// groupPut asks the driver to record a group in the control store (in order with the node's
// other records); done, when set, gets the outcome as an event.
type groupPut struct {
	info *pb.PlacementGroupInfo
	done func(s *state, err error)
}

// groupGet asks the driver to look groups up in the control store; done gets them as an event.
type groupGet struct {
	req  *pb.GetPlacementGroupsRequest
	done func(s *state, groups []*pb.PlacementGroupInfo, err error)
}

// createGroup is the event of a client asking this node to create (and own) a group. Called with
// r.mu held.
func (s *state) createGroup(c *client, m *pb.CreatePlacementGroup) {
	fail := func(err error) {
		glog.Warningf("refusing to create a placement group: %v", err)
		if m.RequestId != 0 {
			s.reply(c, &pb.Reply{RequestId: m.RequestId, Error: err.Error()})
		}
	}
	info := m.GetGroup()
	if info == nil {
		fail(fmt.Errorf("a placement group creation without its group"))
		return
	}
	if err := placement.CheckInfo(info); err != nil {
		fail(err)
		return
	}
	if !ids.GroupOwnedBy(info.GroupId, s.nodeID) {
		fail(fmt.Errorf("placement group %s: its id does not start with this node's (%s)", info.GroupId, s.nodeID.Hex()))
		return
	}
	if s.groups[info.GroupId] != nil || len(s.groupDir.Get(info.GroupId, "", "")) > 0 {
		fail(fmt.Errorf("placement group %s exists already", info.GroupId))
		return
	}
	// The message is this event's: the group keeps its record (the creator only reads the id).
	g := &ownedGroup{info: info, strategy: scheduling.BundleStrategy(info.Strategy), creator: c, shown: placement.Pending}
	g.info.State = placement.Pending
	g.info.OwnerNodeId = append([]byte(nil), s.nodeID[:]...)
	g.info.CreateTimeMs = s.now.UnixMilli()
	for _, b := range g.info.Bundles {
		b.NodeId = nil
		d, err := resources.NewSet(b.Resources, resources.Demand)
		if err != nil {
			fail(fmt.Errorf("placement group %s: %w", info.GroupId, err))
			return
		}
		g.demands = append(g.demands, d)
	}
	g.nodes = make([]scheduling.NodeID, len(g.demands))
	// One copy of the record (checked above) for the directory and the control store's writer,
	// which both only read it.
	record := proto.Clone(g.info).(*pb.PlacementGroupInfo)
	if err := s.groupDir.PutOwned(record); err != nil { // (names of this node's groups)
		fail(err)
		return
	}
	if s.groups == nil {
		s.groups = map[string]*ownedGroup{}
	}
	s.groups[info.GroupId] = g
	if !s.inCluster() || g.info.Name == "" {
		// Unnamed, nothing can refuse its record: placed now, recorded in order behind.
		g.claimed = true
		if s.inCluster() {
			s.eff.groupPuts = append(s.eff.groupPuts, groupPut{info: record})
		}
		if m.RequestId != 0 {
			s.reply(c, &pb.Reply{RequestId: m.RequestId, Found: true})
		}
		s.placeGroup(g)
		return
	}
	// Named, on a cluster: its name must be its own before it takes anything.
	s.eff.groupPuts = append(s.eff.groupPuts, groupPut{info: record, done: func(s *state, err error) {
		if err != nil {
			delete(s.groups, g.info.GroupId)
			g.info.State = placement.Removed
			_ = s.groupDir.Put(g.info)
			s.answerGroupWaiters(g)
			fail(err)
			return
		}
		if m.RequestId != 0 && s.clients[c] {
			s.reply(c, &pb.Reply{RequestId: m.RequestId, Found: true})
		}
		g.claimed = true
		if g.info.State == placement.Removed {
			s.recordGroup(g) // (removed while its name was claimed: the name goes)
			return
		}
		s.placeGroup(g)
	}})
}

// recordGroup writes a group's record where lookups find it: the node's directory and, on a
// cluster, the control store. Called with r.mu held.
func (s *state) recordGroup(g *ownedGroup) {
	for i, b := range g.info.Bundles {
		b.NodeId = nil
		if g.nodes[i] != "" {
			if id, err := ids.UniqueIDFromHex(string(g.nodes[i])); err == nil {
				b.NodeId = append([]byte(nil), id[:]...)
			}
		}
	}
	// One copy of the record (checked at creation) for the directory and the control store's
	// writer, which both only read it.
	record := proto.Clone(g.info).(*pb.PlacementGroupInfo)
	_ = s.groupDir.PutOwned(record)
	if s.inCluster() && g.claimed {
		s.eff.groupPuts = append(s.eff.groupPuts, groupPut{info: record})
	}
	s.showGroupState(g)
}

// showGroupState tells a group's creator, while it is connected (clientGone forgets it), the
// group's state when it changed since it last heard. Called with r.mu held.
func (s *state) showGroupState(g *ownedGroup) {
	if g.creator == nil || g.shown == g.info.State {
		return
	}
	g.shown = g.info.State
	g.creator.send(&pb.ServerMessage{Body: &pb.ServerMessage_GroupState{GroupState: &pb.GroupState{GroupId: g.info.GroupId, State: g.info.State}}})
}

// groupView is the view a group's missing bundles are placed over: the cluster this node sees,
// less the nodes its strategy rules out given the bundles already placed (STRICT_SPREAD: the
// nodes holding one; STRICT_PACK: all but the node holding them). Called with r.mu held.
func (s *state) groupView(g *ownedGroup) scheduling.View {
	used := map[scheduling.NodeID]bool{}
	for _, n := range g.nodes {
		if n != "" {
			used[n] = true
		}
	}
	strict := len(used) > 0 && (g.strategy == scheduling.StrictSpread || g.strategy == scheduling.StrictPack)
	// Only what the bundles ask for and what the policy scores nodes by matters: the nodes'
	// sets cut to those are small (a node holding many groups' bundles has many resources).
	names := g.resourceNames()
	v := scheduling.View{Local: s.view.Local, Nodes: make([]scheduling.Node, 0, len(s.view.Nodes))}
	for _, n := range s.view.Nodes {
		if strict && used[n.ID] != (g.strategy == scheduling.StrictPack) {
			continue
		}
		if n.ID == s.view.Local {
			n.Total, n.Available = s.ledger.Only(names) // (the ledger's own, not the view's copy)
		} else {
			n.Total = n.Total.Only(names)
			n.Available = n.Available.Only(names)
			if held, ok := s.viewHeld[n.ID]; ok {
				n.Available = n.Available.Sub(held)
			}
		}
		v.Nodes = append(v.Nodes, n)
	}
	return v
}

// holdInView notes that this node reserved demand on node key for a group's bundle: what it
// reserves is not free there until the node's report says so. The view's sets of a node holding
// many bundles are large, so the reservations are kept apart, small, and taken out of them once,
// when the policy reads the view next (foldHeld); the next report replaces them. Called with r.mu
// held.
func (s *state) holdInView(key scheduling.NodeID, demand resources.Set) {
	if s.viewHeld == nil {
		s.viewHeld = map[scheduling.NodeID]resources.Set{}
	}
	s.viewHeld[key] = s.viewHeld[key].Add(demand)
}

// foldHeld takes the reservations holdInView noted out of the view's free resources. Called
// with r.mu held.
func (s *state) foldHeld() {
	for key, held := range s.viewHeld {
		if n := s.viewNodeOf(key); n != nil {
			n.Available = n.Available.Sub(held)
		}
		delete(s.viewHeld, key)
	}
}

// resourceNames are the resources g's bundles ask for and those the policy scores nodes by.
func (g *ownedGroup) resourceNames() []string {
	names := []string{resources.CPU, resources.Memory, resources.ObjectStoreMemory}
	seen := map[string]bool{resources.CPU: true, resources.Memory: true, resources.ObjectStoreMemory: true}
	for _, d := range g.demands {
		for i := 0; i < d.Len(); i++ {
			if name, _ := d.At(i); !seen[name] {
				seen[name] = true
				names = append(names, name)
			}
		}
	}
	return names
}

// placeGroup places a group's missing bundles, starting a two-phase round, or marks it created
// when none is missing. Called with r.mu held.
func (s *state) placeGroup(g *ownedGroup) {
	if g.info.State == placement.Removed || g.round != 0 || !g.claimed || s.stopped {
		return
	}
	var missing []int
	for i, n := range g.nodes {
		if n == "" {
			missing = append(missing, i)
		}
	}
	if len(missing) == 0 {
		s.groupCreated(g)
		return
	}
	demands := make([]resources.Set, len(missing))
	for i, b := range missing {
		demands[i] = g.demands[b]
	}
	d := scheduling.PlaceBundles(g.strategy, demands, s.groupView(g))
	if d.Status != scheduling.Run {
		reason := "the cluster has no room for its bundles now"
		if d.Status == scheduling.Infeasible {
			reason = fmt.Sprintf("no node of the cluster could ever hold its bundles with strategy %s", g.strategy)
		}
		s.groupWaits(g, reason)
		return
	}
	s.groupSeq++
	g.round = s.groupSeq
	g.asked = map[scheduling.NodeID][]int{}
	g.prepared = map[scheduling.NodeID]bool{}
	g.awaited, g.committed, g.failed = 0, false, ""
	for i, b := range missing {
		g.asked[d.Nodes[i]] = append(g.asked[d.Nodes[i]], b)
	}
	for _, node := range sortedNodes(g.asked) {
		indexes := g.asked[node]
		if node == s.view.Local {
			if err := s.prepareBundles(g.info.GroupId, indexes, g.bundleMaps(indexes), g.round); err != nil {
				g.failed = err.Error()
				break
			}
			g.prepared[node] = true
			continue
		}
		r := s.remotes[node]
		if r == nil || !r.alive {
			g.failed = fmt.Sprintf("node %s is gone", node)
			break
		}
		for _, b := range indexes {
			s.holdInView(node, g.demands[b])
		}
		g.awaited++
		round := g.round
		msg := &pb.ClientMessage{Body: &pb.ClientMessage_PrepareBundles{PrepareBundles: &pb.PrepareBundles{
			GroupId: g.info.GroupId, Indexes: int32s(indexes), Bundles: g.bundleProtos(indexes), Round: round}}}
		s.eff.peerAsks = append(s.eff.peerAsks, peerAsk{node: r, msg: msg, done: func(s *state, rep *pb.Reply, err error) {
			s.bundlesPrepared(g, round, r, indexes, replyError(rep, err))
		}})
	}
	s.roundAnswered(g)
}

// replyError is the error of a peer's answer ("" when it succeeded).
func replyError(rep *pb.Reply, err error) string {
	switch {
	case err != nil:
		return err.Error()
	case rep == nil:
		return "no answer"
	}
	return rep.Error
}

func sortedNodes(m map[scheduling.NodeID][]int) []scheduling.NodeID {
	out := make([]scheduling.NodeID, 0, len(m))
	for n := range m {
		out = append(out, n)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

func int32s(list []int) []int32 {
	out := make([]int32, len(list))
	for i, v := range list {
		out[i] = int32(v)
	}
	return out
}

func (g *ownedGroup) bundleMaps(indexes []int) []map[string]float64 {
	out := make([]map[string]float64, len(indexes))
	for i, b := range indexes {
		out[i] = g.info.Bundles[b].Resources
	}
	return out
}

func (g *ownedGroup) bundleProtos(indexes []int) []*pb.Bundle {
	out := make([]*pb.Bundle, len(indexes))
	for i, b := range indexes {
		out[i] = &pb.Bundle{Resources: g.info.Bundles[b].Resources}
	}
	return out
}

// bundlesPrepared is the event of a node answering a prepare of round. Called with r.mu held.
func (s *state) bundlesPrepared(g *ownedGroup, round uint64, r *remoteNode, indexes []int, failed string) {
	if g.round != round {
		// A round given up (the group was removed, or the round failed): what the node
		// reserved goes back.
		if failed == "" {
			s.returnBundlesOn(g.info.GroupId, r, indexes, g.info.State == placement.Removed, round)
		}
		return
	}
	g.awaited--
	if failed != "" {
		if g.failed == "" {
			g.failed = fmt.Sprintf("%s: %s", r, failed)
			g.failedOn = r.String()
		}
	} else {
		g.prepared[r.key] = true
	}
	s.roundAnswered(g)
}

// roundAnswered moves a round on once every node answered its prepare: to the commit when all
// of them reserved their bundles, else back (what was reserved goes back) to a later try.
// Called with r.mu held.
func (s *state) roundAnswered(g *ownedGroup) {
	if g.awaited > 0 || g.committed {
		return
	}
	if g.failed != "" {
		glog.Infof("placement group %s: a prepare failed (%s); giving back the bundles and trying again", g.info.GroupId, g.failed)
		s.giveBackRound(g)
		g.round = 0
		s.groupWaits(g, fmt.Sprintf("%s could not reserve its bundles when asked", g.failedOn))
		return
	}
	g.committed = true
	round := g.round
	for _, node := range sortedNodes(g.asked) {
		indexes := g.asked[node]
		for _, b := range indexes {
			g.nodes[b] = node
		}
		if node == s.view.Local {
			for _, b := range indexes {
				if err := s.commitBundle(g.info.GroupId, b); err != nil {
					glog.Errorf("placement group %s: committing bundle %d here: %v", g.info.GroupId, b, err)
					g.nodes[b] = ""
					g.commitFailed = true
					s.returnBundle(g.info.GroupId, b, round)
				}
			}
			continue
		}
		r := s.remotes[node]
		if r == nil || !r.alive {
			for _, b := range indexes {
				g.nodes[b] = "" // (its node is gone: what it prepared went with it)
			}
			g.commitFailed = true
			continue
		}
		g.awaited++
		msg := &pb.ClientMessage{Body: &pb.ClientMessage_CommitBundles{CommitBundles: &pb.CommitBundles{GroupId: g.info.GroupId, Indexes: int32s(indexes)}}}
		s.eff.peerAsks = append(s.eff.peerAsks, peerAsk{node: r, msg: msg, done: func(s *state, rep *pb.Reply, err error) {
			s.bundlesCommitted(g, round, r, indexes, replyError(rep, err))
		}})
	}
	for node := range g.asked {
		if node != s.view.Local {
			if s.unshown == nil {
				s.unshown = map[scheduling.NodeID]bool{}
			}
			s.unshown[node] = true // (shown before the policy places work: showCommitted)
		}
	}
	s.commitAnswered(g)
}

// showBundles adds to node key's entry in the view the resources of the bundles of this node's
// groups committed there that its report does not show yet (reports reach this node a report
// period or two later): the group's tasks go there at once. Called with r.mu held.
func (s *state) showBundles(key scheduling.NodeID, n *scheduling.Node) {
	add := map[string]float64{}
	for _, g := range s.groups {
		for i, at := range g.nodes {
			if at != key || n.Total.Get(placement.Marker(g.info.GroupId, i)) > 0 {
				continue // (elsewhere, or reported)
			}
			for r, q := range placement.BundleResources(g.info.GroupId, i, g.info.Bundles[i].Resources) {
				add[r] += q
			}
		}
	}
	if len(add) == 0 {
		return
	}
	set, err := resources.NewSet(add, resources.Total)
	if err != nil {
		glog.Warningf("placement groups' bundles on node %s: %v", key, err)
		return
	}
	n.Total = n.Total.Add(set)
	n.Available = n.Available.Add(set)
}

// showCommitted shows in the view the bundles committed on other nodes since it last did (see
// showBundles), before the policy places work. Called with r.mu held.
func (s *state) showCommitted() {
	for key := range s.unshown {
		if n := s.viewNodeOf(key); n != nil {
			s.showBundles(key, n)
		}
		delete(s.unshown, key)
	}
}

// giveBackRound returns what the current round reserved. Called with r.mu held.
func (s *state) giveBackRound(g *ownedGroup) {
	for node := range g.prepared {
		if node == s.view.Local {
			for _, b := range g.asked[node] {
				s.returnBundle(g.info.GroupId, b, g.round)
			}
			continue
		}
		s.returnBundlesOn(g.info.GroupId, s.remotes[node], g.asked[node], false, g.round)
	}
}

// bundlesCommitted is the event of a node answering a commit. A refused commit (the node lost
// the prepared bundles, or the link broke) leaves those bundles to be placed again. Called with
// r.mu held.
func (s *state) bundlesCommitted(g *ownedGroup, round uint64, r *remoteNode, indexes []int, failed string) {
	if g.round != round {
		return
	}
	g.awaited--
	if failed != "" {
		glog.Warningf("placement group %s: %s did not commit bundles %v: %s", g.info.GroupId, r, indexes, failed)
		for _, b := range indexes {
			if g.nodes[b] == r.key {
				g.nodes[b] = ""
			}
		}
		g.commitFailed = true
		s.returnBundlesOn(g.info.GroupId, r, indexes, false, round)
	}
	s.commitAnswered(g)
}

// commitAnswered ends a round once every commit is answered. Called with r.mu held.
func (s *state) commitAnswered(g *ownedGroup) {
	if g.awaited > 0 {
		return
	}
	g.round, g.asked, g.prepared = 0, nil, nil
	if g.commitFailed {
		// What a refused commit left is placed again, later (not at once: the node may be
		// refusing everything).
		g.commitFailed = false
		s.groupWaits(g, "a node did not commit its bundles")
		return
	}
	s.placeGroup(g) // created
}

// groupCreated marks a group whose bundles are all committed CREATED. Called with r.mu held.
func (s *state) groupCreated(g *ownedGroup) {
	if g.info.State == placement.Created {
		return
	}
	g.info.State = placement.Created
	g.info.PendingReason = ""
	s.recordGroup(g)
	s.answerGroupWaiters(g)
}

// groupWaits leaves a group that cannot be placed now pending (or rescheduling), to try again
// after groupRetryDelay. Called with r.mu held.
func (s *state) groupWaits(g *ownedGroup, reason string) {
	if g.info.PendingReason != reason {
		g.info.PendingReason = reason
		s.recordGroup(g)
	}
	if g.retrying {
		return
	}
	g.retrying = true
	s.after(groupRetryDelay, func(s *state) {
		g.retrying = false
		s.placeGroup(g)
	})
}

// returnBundlesOn asks node r to give back bundles of a group reserved in round (nil indexes:
// all it holds; round 0: whatever round). Called with r.mu held.
func (s *state) returnBundlesOn(group string, r *remoteNode, indexes []int, removed bool, round uint64) {
	if r == nil {
		return
	}
	// (Not answered: a return cannot fail, and a node gives back what was reserved through a
	// link when the link ends.)
	msg := &pb.ClientMessage{Body: &pb.ClientMessage_ReturnBundles{ReturnBundles: &pb.ReturnBundles{GroupId: group, Indexes: int32s(indexes), Removed: removed, Round: round}}}
	s.eff.peerAsks = append(s.eff.peerAsks, peerAsk{node: r, msg: msg})
}

// removeGroup removes a group this node owns: its bundles go back everywhere (their actors and
// tasks are killed), its waiters hear it is removed, and it is recorded REMOVED. Removing a
// removed group does nothing. Called with r.mu held.
func (s *state) removeGroup(g *ownedGroup) {
	if g.info.State == placement.Removed {
		return
	}
	holders := map[scheduling.NodeID]bool{}
	for _, n := range g.nodes {
		if n != "" {
			holders[n] = true
		}
	}
	for n := range g.asked {
		holders[n] = true // (a round in flight: its prepares' answers give back what they got too)
	}
	g.round, g.asked, g.prepared, g.awaited = 0, nil, nil, 0
	if !holders[s.view.Local] {
		s.killGroupWork(g.info.GroupId, fmt.Sprintf("its placement group %s was removed", g.info.GroupId)) // (what waits here for it)
	}
	for n := range holders {
		if n == s.view.Local {
			s.returnGroup(g.info.GroupId, true)
		} else {
			s.returnBundlesOn(g.info.GroupId, s.remotes[n], nil, true, 0)
		}
	}
	for i := range g.nodes {
		g.nodes[i] = ""
	}
	g.info.State = placement.Removed
	g.info.PendingReason = ""
	s.recordGroup(g)
	delete(s.groups, g.info.GroupId)
	s.answerGroupWaiters(g)
	s.retryPendingGroups()
}

// retryPendingGroups tries again the groups waiting for room (resources came back). Called with
// r.mu held.
func (s *state) retryPendingGroups() {
	for _, g := range s.groups {
		if g.round == 0 && g.info.State != placement.Created {
			s.placeGroup(g)
		}
	}
}

// groupsLostOn is the event of a node that held bundles of this node's groups dying, leaving, or
// its link breaking: those bundles are placed again (the group is RESCHEDULING meanwhile).
// Called with r.mu held.
func (s *state) groupsLostOn(key scheduling.NodeID, cause string) {
	for _, g := range s.groups {
		lost := 0
		for i, n := range g.nodes {
			if n == key {
				g.nodes[i] = ""
				lost++
			}
		}
		if lost == 0 {
			continue
		}
		glog.Warningf("placement group %s lost %d bundles on node %s (%s): rescheduling them", g.info.GroupId, lost, key, cause)
		if g.info.State == placement.Created {
			g.info.State = placement.Rescheduling
		}
		g.info.PendingReason = "bundles lost with node " + string(key) + ": " + cause
		s.recordGroup(g)
		s.placeGroup(g)
	}
}

// groupOwner is the node that owns a group: nil when it is this node, or when no live node this
// one knows does (ok false). Called with r.mu held.
func (s *state) groupOwner(group string) (owner *remoteNode, ok bool) {
	if ids.GroupOwnedBy(group, s.nodeID) {
		return nil, true
	}
	for _, r := range s.remotes {
		if r.alive && ids.GroupOwnedBy(group, r.id) {
			return r, true
		}
	}
	return nil, false
}

// relayGroup sends a question about a group another node owns to that node (and its answer back
// to c); it reports false when this node answers itself (it owns the group, or the question
// comes from another node, or no live node owns it). Called with r.mu held.
func (s *state) relayGroup(c *client, group string, requestID uint64, m *pb.ClientMessage) bool {
	if !s.inCluster() || c.agent {
		return false
	}
	owner, ok := s.groupOwner(group)
	if owner == nil || !ok {
		return false
	}
	s.eff.relay = append(s.eff.relay, relayJob{client: c, requestID: requestID, owner: owner, message: m})
	return true
}

// groupRemovedError is the error of waiting for a removed group.
func groupRemovedError(id string) string {
	return fmt.Sprintf("Placement group %s is removed before it is created.", id)
}

// groupUnknownError is the error of asking about a group nobody knows.
func groupUnknownError(id string) string {
	return fmt.Sprintf("Placement group %s does not exist.", id)
}

// removeGroupRequest is the event of a client asking to remove a group. Called with r.mu held.
func (s *state) removeGroupRequest(c *client, m *pb.RemovePlacementGroup) {
	if err := placement.CheckGroupID(m.GroupId); err != nil {
		s.replyIf(c, &pb.Reply{RequestId: m.RequestId, Error: err.Error()})
		return
	}
	if s.relayGroup(c, m.GroupId, m.RequestId, &pb.ClientMessage{Body: &pb.ClientMessage_RemovePlacementGroup{RemovePlacementGroup: m}}) {
		return
	}
	if g := s.groups[m.GroupId]; g != nil {
		s.removeGroup(g)
	}
	// (A group removed already, or whose owner is gone, is removed: nothing to do.)
	s.replyIf(c, &pb.Reply{RequestId: m.RequestId})
}

// replyIf replies to a request that asked for a reply (request id set), to a client still here.
// Called with r.mu held.
func (s *state) replyIf(c *client, rep *pb.Reply) {
	if rep.RequestId != 0 && s.clients[c] {
		s.reply(c, rep)
	}
}

// waitGroup is the event of a client waiting for a group to be created: answered at once when it
// is (or is removed, or unknown), else when it is or when the time runs out. Called with r.mu
// held.
func (s *state) waitGroup(c *client, m *pb.WaitPlacementGroup) {
	if err := placement.CheckGroupID(m.GroupId); err != nil {
		s.replyIf(c, &pb.Reply{RequestId: m.RequestId, Error: err.Error()})
		return
	}
	if s.relayGroup(c, m.GroupId, m.RequestId, &pb.ClientMessage{Body: &pb.ClientMessage_WaitPlacementGroup{WaitPlacementGroup: m}}) {
		return
	}
	g := s.groups[m.GroupId]
	if g == nil && ids.GroupOwnedBy(m.GroupId, s.nodeID) {
		// This node's: removed, or never made.
		rep := &pb.Reply{RequestId: m.RequestId, Error: groupUnknownError(m.GroupId)}
		if len(s.groupDir.Get(m.GroupId, "", "")) > 0 {
			rep.Error = groupRemovedError(m.GroupId)
		}
		s.replyIf(c, rep)
		return
	}
	if g == nil {
		s.answerFromRecords(c, m.RequestId, &pb.GetPlacementGroupsRequest{GroupId: m.GroupId}, func(found []*pb.PlacementGroupInfo) *pb.Reply {
			switch {
			case len(found) == 0:
				return &pb.Reply{Error: groupUnknownError(m.GroupId)}
			case found[0].State == placement.Removed:
				return &pb.Reply{Error: groupRemovedError(m.GroupId)}
			case found[0].State == placement.Created:
				return &pb.Reply{Found: true, Groups: found}
			}
			return &pb.Reply{Error: fmt.Sprintf("Placement group %s: its owner node cannot be reached", m.GroupId)}
		})
		return
	}
	if g.info.State == placement.Created {
		s.replyIf(c, &pb.Reply{RequestId: m.RequestId, Found: true, Groups: []*pb.PlacementGroupInfo{proto.Clone(g.info).(*pb.PlacementGroupInfo)}})
		return
	}
	if m.TimeoutMs == 0 {
		s.replyIf(c, &pb.Reply{RequestId: m.RequestId})
		return
	}
	s.groupWaiterSeq++
	w := groupWaiter{c: c, requestID: m.RequestId, seq: s.groupWaiterSeq}
	g.waiters = append(g.waiters, w)
	if m.TimeoutMs > 0 {
		s.after(time.Duration(m.TimeoutMs)*time.Millisecond, func(s *state) {
			for i, x := range g.waiters {
				if x.seq == w.seq {
					g.waiters = append(g.waiters[:i], g.waiters[i+1:]...)
					s.replyIf(c, &pb.Reply{RequestId: m.RequestId})
					return
				}
			}
		})
	}
}

// answerGroupWaiters answers the waiters of a group created or removed. Called with r.mu held.
func (s *state) answerGroupWaiters(g *ownedGroup) {
	for _, w := range g.waiters {
		rep := &pb.Reply{RequestId: w.requestID, Found: true, Groups: []*pb.PlacementGroupInfo{proto.Clone(g.info).(*pb.PlacementGroupInfo)}}
		if g.info.State == placement.Removed {
			rep = &pb.Reply{RequestId: w.requestID, Error: groupRemovedError(g.info.GroupId)}
		}
		s.replyIf(w.c, rep)
	}
	g.waiters = nil
}

// getGroups is the event of a client looking groups up: by id (its owner answers), by name, or
// all (the control store's records, this node's own as it knows them now). Called with r.mu held.
func (s *state) getGroups(c *client, m *pb.GetPlacementGroups) {
	if m.GroupId != "" {
		if err := placement.CheckGroupID(m.GroupId); err != nil {
			s.replyIf(c, &pb.Reply{RequestId: m.RequestId, Error: err.Error()})
			return
		}
		if s.relayGroup(c, m.GroupId, m.RequestId, &pb.ClientMessage{Body: &pb.ClientMessage_GetPlacementGroups{GetPlacementGroups: m}}) {
			return
		}
	}
	if m.GroupId != "" && (ids.GroupOwnedBy(m.GroupId, s.nodeID) || c.agent) {
		found := s.groupDir.Get(m.GroupId, "", "")
		s.replyIf(c, &pb.Reply{RequestId: m.RequestId, Found: len(found) > 0, Groups: cloneGroups(found)})
		return
	}
	req := &pb.GetPlacementGroupsRequest{GroupId: m.GroupId, Name: m.Name, Namespace: m.Namespace}
	s.answerFromRecords(c, m.RequestId, req, func(found []*pb.PlacementGroupInfo) *pb.Reply {
		return &pb.Reply{Found: len(found) > 0, Groups: found}
	})
}

// answerFromRecords answers c's request from the groups' records that req finds: this node's
// directory, and on a cluster the control store's (with this node's own groups as this node
// knows them). Called with r.mu held.
func (s *state) answerFromRecords(c *client, requestID uint64, req *pb.GetPlacementGroupsRequest, answer func([]*pb.PlacementGroupInfo) *pb.Reply) {
	if !s.inCluster() {
		rep := answer(cloneGroups(s.groupDir.Get(req.GroupId, req.Name, req.Namespace)))
		rep.RequestId = requestID
		s.replyIf(c, rep)
		return
	}
	s.eff.groupGets = append(s.eff.groupGets, groupGet{req: req, done: func(s *state, found []*pb.PlacementGroupInfo, err error) {
		if err != nil {
			s.replyIf(c, &pb.Reply{RequestId: requestID, Error: fmt.Sprintf("looking up placement groups: %v", err)})
			return
		}
		found = s.mergeOwn(found, req.GroupId == "" && req.Name == "")
		if req.Name != "" { // (by name: live groups only; this node's may be removed since)
			live := found[:0]
			for _, g := range found {
				if g.State != placement.Removed {
					live = append(live, g)
				}
			}
			found = live
		}
		rep := answer(found)
		rep.RequestId = requestID
		s.replyIf(c, rep)
	}})
}

// mergeOwn is the control store's records with this node's own groups as it knows them now
// (its records there may lag behind); all: the lookup lists every group, and this node's that
// the control store has no record of yet are added (in creation order, as Get lists them).
// Called with r.mu held.
func (s *state) mergeOwn(found []*pb.PlacementGroupInfo, all bool) []*pb.PlacementGroupInfo {
	seen := map[string]bool{}
	for i, g := range found {
		if ids.GroupOwnedBy(g.GroupId, s.nodeID) {
			seen[g.GroupId] = true
			if own := s.groupDir.Get(g.GroupId, "", ""); len(own) > 0 {
				found[i] = proto.Clone(own[0]).(*pb.PlacementGroupInfo)
			}
		}
	}
	if !all {
		return found
	}
	added := false
	for _, g := range s.groupDir.Get("", "", "") {
		if !seen[g.GroupId] {
			found = append(found, proto.Clone(g).(*pb.PlacementGroupInfo))
			added = true
		}
	}
	if added {
		sort.SliceStable(found, func(i, j int) bool {
			if found[i].CreateTimeMs != found[j].CreateTimeMs {
				return found[i].CreateTimeMs < found[j].CreateTimeMs
			}
			return found[i].GroupId < found[j].GroupId
		})
	}
	return found
}

func cloneGroups(list []*pb.PlacementGroupInfo) []*pb.PlacementGroupInfo {
	out := make([]*pb.PlacementGroupInfo, len(list))
	for i, g := range list {
		out[i] = proto.Clone(g).(*pb.PlacementGroupInfo)
	}
	return out
}

// removeJobGroups removes the groups a job created here once its driver is gone (a group lives
// with its job, as in Ray). Called with r.mu held.
func (s *state) removeJobGroups(jobID string) {
	for _, g := range s.groups {
		if g.info.JobId == jobID {
			glog.Infof("placement group %s: its job %s ended; removing it", g.info.GroupId, jobID)
			s.removeGroup(g)
		}
	}
}

// groupOfDemand is the placement group a demand's resources name ("" for none).
func groupOfDemand(d resources.Set) string {
	for name := range d.Map() {
		if placement.IsGroupResource(name) {
			return name[len(name)-placement.GroupIDHexLen:]
		}
	}
	return ""
}

// killGroupWork ends the work of a removed group on this node: the processes running it are
// killed (its actors die for good, its tasks fail), and what waits here for the group's
// resources fails, each with cause. Called with r.mu held.
func (s *state) killGroupWork(group, cause string) {
	for _, c := range s.ready.order {
		if len(c.tasks) > 0 && groupOfDemand(c.demand) == group {
			s.failClass(c, cause)
		}
	}
	var doomed []*actor
	for _, a := range s.pendingActors {
		if groupOfDemand(a.demand) == group {
			doomed = append(doomed, a)
		}
	}
	for _, a := range doomed {
		a.noRestart = true
		a.removedCause = cause
		s.actorDied(a, cause, false)
	}
	for _, w := range s.workers {
		if w.exited || w.killedByNode {
			continue
		}
		switch {
		case w.actor != nil && w.actor.worker == w && groupOfDemand(w.actor.demand) == group:
			a := w.actor
			a.noRestart = true
			a.removedCause = cause
			s.kill(w)
			s.actorLost(a, cause, false)
		case w.task != nil && w.task.alloc != nil && groupOfDemand(w.task.alloc.Demand()) == group,
			w.lease != nil && groupOfDemand(w.lease.Demand()) == group:
			w.killCause = cause
			s.kill(w)
		}
	}
}

// groupLabel names a group in messages.
func groupLabel(id, name string) string {
	if name == "" {
		return "placement group " + id
	}
	return fmt.Sprintf("placement group %s (%q)", id, strings.TrimSpace(name))
}
