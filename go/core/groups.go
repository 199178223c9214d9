package core

import (
	"time"

	"google.golang.org/protobuf/proto"

	"goray/ids"
	"goray/placement"
	pb "goray/rpc/proto"
)

// Placement groups, as the process's user creates, waits for, looks up and removes them. On a
// node, the process's node owns the groups it creates (see go/raylet/groups.go); in local mode,
// localGroups keeps them in this process.

// GroupOptions is a placement group to create (ray::PlacementGroupCreationOptions).
type GroupOptions struct {
	Name      string
	Namespace string
	// Strategy is ray::PlacementStrategy's value: PACK 0, SPREAD 1, STRICT_PACK 2, STRICT_SPREAD 3.
	Strategy int32
	Bundles  []map[string]float64
}

// CreatePlacementGroup creates a group and returns its id (hex). The group is PENDING until its
// bundles are reserved (WaitPlacementGroup). A named group's name must be free in its namespace.
func (cw *CoreWorker) CreatePlacementGroup(o GroupOptions) (string, error) {
	if cw.closed() {
		return "", ErrShutdown
	}
	info := &pb.PlacementGroupInfo{Name: o.Name, Namespace: o.Namespace, Strategy: o.Strategy}
	for _, b := range o.Bundles {
		info.Bundles = append(info.Bundles, &pb.Bundle{Resources: b})
	}
	var node ids.UniqueID
	if n := cw.ownerNode.Load(); n != nil {
		node = *n
	}
	info.GroupId = ids.NewGroupID(node)
	if err := placement.CheckInfo(info); err != nil {
		return "", Errorf(CodeInvalidArgument, "%v", err)
	}
	if err := cw.be.createGroup(info); err != nil {
		return "", err
	}
	return info.GroupId, nil
}

// RemovePlacementGroup removes a group: its resources go back, and the actors and tasks running
// in it are killed. Removing a removed group does nothing.
func (cw *CoreWorker) RemovePlacementGroup(id string) error {
	if cw.closed() {
		return ErrShutdown
	}
	if err := placement.CheckGroupID(id); err != nil {
		return Errorf(CodeInvalidArgument, "%v", err)
	}
	return cw.be.removeGroup(id)
}

// WaitPlacementGroup waits up to timeout (negative: no limit) for a group to be created, and
// reports whether it is. A removed or unknown group is a CodeNotFound error.
func (cw *CoreWorker) WaitPlacementGroup(id string, timeout time.Duration) (bool, error) {
	if cw.closed() {
		return false, ErrShutdown
	}
	if err := placement.CheckGroupID(id); err != nil {
		return false, Errorf(CodeInvalidArgument, "%v", err)
	}
	return cw.be.waitGroup(id, timeout)
}

// GetPlacementGroups looks groups up: by id, else by name in namespace, else (neither) all.
func (cw *CoreWorker) GetPlacementGroups(id, name, namespace string) ([]*pb.PlacementGroupInfo, error) {
	if cw.closed() {
		return nil, ErrShutdown
	}
	if id != "" {
		if err := placement.CheckGroupID(id); err != nil {
			return nil, Errorf(CodeInvalidArgument, "%v", err)
		}
	}
	return cw.be.getGroups(id, name, namespace)
}

// InGroup rewrites a task's or an actor's resources for bundle index of group (package
// placement's names); the task's default CPU (defaultCPU) is asked of the bundle.
func InGroup(spec *pb.TaskSpec, group string, index int, defaultCPU bool) error {
	if err := placement.CheckGroupID(group); err != nil {
		return Errorf(CodeInvalidArgument, "%v", err)
	}
	demand := spec.Resources
	if defaultCPU {
		if _, ok := demand["CPU"]; !ok {
			withCPU := map[string]float64{"CPU": 1}
			for k, v := range demand {
				withCPU[k] = v
			}
			demand = withCPU
		}
	}
	out, err := placement.Demand(demand, group, index)
	if err != nil {
		return Errorf(CodeInvalidArgument, "%v", err)
	}
	spec.Resources = out
	spec.PlacementGroupId = group
	spec.BundleIndex = int32(index)
	return nil
}

// The node's side.

func (b *nodeBackend) createGroup(info *pb.PlacementGroupInfo) error {
	b.setGroupState(info.GroupId, placement.Pending, true)
	if info.Name == "" {
		// Nothing can refuse it now: the node places it in order with what this process sends.
		err := b.queue(&pb.ClientMessage{Body: &pb.ClientMessage_CreatePlacementGroup{CreatePlacementGroup: &pb.CreatePlacementGroup{Group: info}}})
		if err != nil {
			b.setGroupState(info.GroupId, placement.Removed, false)
		}
		return err
	}
	reply, err := b.request(func(req uint64) *pb.ClientMessage {
		return &pb.ClientMessage{Body: &pb.ClientMessage_CreatePlacementGroup{CreatePlacementGroup: &pb.CreatePlacementGroup{RequestId: req, Group: info}}}
	})
	if err == nil && reply.Error != "" {
		err = Errorf(CodeInvalidArgument, "%s", reply.Error)
	}
	if err != nil {
		b.setGroupState(info.GroupId, placement.Removed, false)
	}
	return err
}

// setGroupState notes the state of a group this process created (add: a new one; else only a
// group it knows). A removed group is forgotten: Wait asks the node about it.
func (b *nodeBackend) setGroupState(id string, state int32, add bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, known := b.groupStates[id]; !known && !add {
		return
	}
	if state == placement.Removed {
		delete(b.groupStates, id)
		return
	}
	if b.groupStates == nil {
		b.groupStates = map[string]int32{}
	}
	b.groupStates[id] = state
}

// groupStateShown is the node telling this process the state of a group it created.
func (b *nodeBackend) groupStateShown(id string, state int32) { b.setGroupState(id, state, false) }

// groupCreated tells whether a group this process created is known CREATED, once: the entry
// goes, so a later Wait asks the node. (What the node tells this process comes in order with
// everything else it sends, but another process may remove the group and tell this one by
// another way, a direct actor call, before the node's word arrives: only the first Wait after
// creation, the one that pays for the round trip in a create-then-wait loop, answers from here.)
func (b *nodeBackend) groupCreated(id string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	state, known := b.groupStates[id]
	if known && state == placement.Created {
		delete(b.groupStates, id)
		return true
	}
	return false
}

func (b *nodeBackend) removeGroup(id string) error {
	b.setGroupState(id, placement.Removed, false)
	if node := b.cw.ownerNode.Load(); node != nil && ids.GroupOwnedBy(id, *node) {
		// Its owner is this process's node, which handles this process's messages in order:
		// what this process asks next sees it removed.
		return b.queue(&pb.ClientMessage{Body: &pb.ClientMessage_RemovePlacementGroup{RemovePlacementGroup: &pb.RemovePlacementGroup{GroupId: id}}})
	}
	// Another node's: answered once that node removed it.
	reply, err := b.request(func(req uint64) *pb.ClientMessage {
		return &pb.ClientMessage{Body: &pb.ClientMessage_RemovePlacementGroup{RemovePlacementGroup: &pb.RemovePlacementGroup{RequestId: req, GroupId: id}}}
	})
	if err != nil {
		return err
	}
	if reply.Error != "" {
		return Errorf(CodeGeneric, "%s", reply.Error)
	}
	return nil
}

func (b *nodeBackend) waitGroup(id string, timeout time.Duration) (bool, error) {
	if b.groupCreated(id) {
		return true, nil // (the node said so, in order with everything else it sent)
	}
	ms := int64(-1)
	if timeout >= 0 {
		ms = timeout.Milliseconds()
	}
	reply, err := b.request(func(req uint64) *pb.ClientMessage {
		return &pb.ClientMessage{Body: &pb.ClientMessage_WaitPlacementGroup{WaitPlacementGroup: &pb.WaitPlacementGroup{RequestId: req, GroupId: id, TimeoutMs: ms}}}
	})
	if err != nil {
		return false, err
	}
	if reply.Error != "" {
		return false, Errorf(CodeNotFound, "%s", reply.Error)
	}
	return reply.Found, nil
}

func (b *nodeBackend) getGroups(id, name, namespace string) ([]*pb.PlacementGroupInfo, error) {
	reply, err := b.request(func(req uint64) *pb.ClientMessage {
		return &pb.ClientMessage{Body: &pb.ClientMessage_GetPlacementGroups{GetPlacementGroups: &pb.GetPlacementGroups{RequestId: req, GroupId: id, Name: name, Namespace: namespace}}}
	})
	if err != nil {
		return nil, err
	}
	if reply.Error != "" {
		return nil, Errorf(CodeGeneric, "%s", reply.Error)
	}
	return reply.Groups, nil
}

// Local mode: the groups live in this process, on its one "node" (the resources local mode was
// given). A group is CREATED when its bundles fit in what other groups leave free, PENDING until
// they do (STRICT_SPREAD of more than one bundle: for ever, as on a one-node cluster).

// localGroups is local mode's placement groups.
type localGroups struct {
	dir     *placement.Directory
	free    map[string]float64 // what the live groups leave of the totals
	order   []string           // live groups' ids, in creation order
	changed chan struct{}      // closed (and replaced) whenever a group is created or removed
}

func newLocalGroups(total map[string]float64) *localGroups {
	free := map[string]float64{}
	for k, v := range total {
		free[k] = v
	}
	if _, ok := free["CPU"]; !ok {
		free["CPU"] = float64(DefaultLocalThreads)
	}
	return &localGroups{dir: placement.NewDirectory(), free: free, changed: make(chan struct{})}
}

// place creates the pending groups that fit, in creation order. Called with b.mu held.
func (g *localGroups) place() {
	for _, id := range g.order {
		found := g.dir.Get(id, "", "")
		if len(found) == 0 || found[0].State != placement.Pending {
			continue
		}
		info := found[0]
		if info.Strategy == 3 && len(info.Bundles) > 1 {
			continue // STRICT_SPREAD: one node holds one bundle
		}
		need := map[string]float64{}
		for _, b := range info.Bundles {
			for r, q := range b.Resources {
				need[r] += q
			}
		}
		fits := true
		for r, q := range need {
			if g.free[r] < q {
				fits = false
			}
		}
		if !fits {
			continue
		}
		for r, q := range need {
			g.free[r] -= q
		}
		c := proto.Clone(info).(*pb.PlacementGroupInfo)
		c.State = placement.Created
		_ = g.dir.Put(c)
	}
	close(g.changed)
	g.changed = make(chan struct{})
}

func (b *localBackend) createGroup(info *pb.PlacementGroupInfo) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	info.CreateTimeMs = time.Now().UnixMilli()
	if err := b.groups.dir.Put(info); err != nil {
		return Errorf(CodeInvalidArgument, "%v", err)
	}
	b.groups.order = append(b.groups.order, info.GroupId)
	b.groups.place()
	return nil
}

func (b *localBackend) removeGroup(id string) error {
	var doomed []*localActor
	defer func() {
		for _, a := range doomed {
			a.request(killForGood) // (its group is gone: it is not restarted)
		}
	}()
	b.mu.Lock()
	defer b.mu.Unlock()
	found := b.groups.dir.Get(id, "", "")
	if len(found) == 0 || found[0].State == placement.Removed {
		return nil
	}
	for _, a := range b.actors {
		if a.opts.Creation != nil && a.opts.Creation.PlacementGroupId == id {
			doomed = append(doomed, a)
		}
	}
	c := proto.Clone(found[0]).(*pb.PlacementGroupInfo)
	if c.State == placement.Created {
		for _, bundle := range c.Bundles {
			for r, q := range bundle.Resources {
				b.groups.free[r] += q
			}
		}
	}
	c.State = placement.Removed
	_ = b.groups.dir.Put(c)
	for i, x := range b.groups.order {
		if x == id {
			b.groups.order = append(b.groups.order[:i], b.groups.order[i+1:]...)
			break
		}
	}
	b.groups.place()
	return nil
}

func (b *localBackend) waitGroup(id string, timeout time.Duration) (bool, error) {
	var deadline <-chan time.Time
	if timeout >= 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		deadline = t.C
	}
	for {
		b.mu.Lock()
		found := b.groups.dir.Get(id, "", "")
		changed := b.groups.changed
		b.mu.Unlock()
		switch {
		case len(found) == 0:
			return false, Errorf(CodeNotFound, "Placement group %s does not exist.", id)
		case found[0].State == placement.Removed:
			return false, Errorf(CodeNotFound, "Placement group %s is removed before it is created.", id)
		case found[0].State == placement.Created:
			return true, nil
		}
		select {
		case <-changed:
		case <-deadline:
			return false, nil
		case <-b.cw.ctx.Done():
			return false, ErrShutdown
		}
	}
}

func (b *localBackend) getGroups(id, name, namespace string) ([]*pb.PlacementGroupInfo, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	found := b.groups.dir.Get(id, "", "")
	if id == "" {
		found = b.groups.dir.Get("", name, namespace)
	}
	out := make([]*pb.PlacementGroupInfo, len(found))
	for i, g := range found {
		out[i] = proto.Clone(g).(*pb.PlacementGroupInfo)
	}
	return out, nil
}
