package raylet

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"

	"github.com/golang/glog"
	"google.golang.org/protobuf/proto"

	"goray/ids"
	"goray/objstore"
	pb "goray/rpc/proto"
	"goray/scheduling"
	"goray/taskretry"
)

// Results kept where they were made, and their lineage (Ray's ownership model). A task this node
// forwarded to another node, whose result lands in that node's shared memory and refers to no
// other object, leaves its result there: this node records where it is, keeps the task pending
// (whoever asks for the result waits), and pulls the result only when it is wanted here: by a
// process's Get or Wait, by a task of this node taking it as an argument, or by another node
// pulling it from this one. Results nobody wants here never cross the network; the node that made
// one keeps it until this node has it or frees it (Taken).
//
// Meanwhile the task's spec and arguments are kept: its lineage. When the node that kept the
// result dies, or its link breaks (that node then lets go of what it kept for this one), the
// result is lost; when it is wanted, the task runs again, within its retries (Ray's lineage
// reconstruction). Its own lost arguments are rebuilt the same way, first. Lineage is kept within
// a memory bound (RAY_max_lineage_bytes, Ray's 1 GiB): past it, the oldest kept results lose their
// lineage and, lost, are lost for good (ObjectLostError).

// EnvMaxLineageBytes bounds the memory of the lineage a node keeps (Ray's max_lineage_bytes).
const EnvMaxLineageBytes = "RAY_max_lineage_bytes"

// defaultMaxLineageBytes is Ray's bound on lineage: 1 GiB.
const defaultMaxLineageBytes = 1 << 30

// maxLineageBytes is the lineage bound: EnvMaxLineageBytes when it is a positive number, else
// Ray's default.
func maxLineageBytes() int64 {
	if v, err := strconv.ParseInt(os.Getenv(EnvMaxLineageBytes), 10, 64); err == nil && v > 0 {
		return v
	}
	return defaultMaxLineageBytes
}

// lineage is the results this node's tasks left on other nodes, with what it takes to make
// them again.
type lineage struct {
	kept  map[ids.ObjectID]*task // by return id: tasks whose result another node keeps
	order []*task                // kept tasks with their lineage, oldest first (and stale entries: see compactLineage)
	live  int                    // kept tasks with their lineage
	bytes int64                  // the size of the specs still kept (their lineage)
	bound int64                  // what bytes may reach (see maxLineageBytes)
	seq   uint64                 // the last keptSeq given
}

// keptFetch asks the driver to pull a kept result from the node that keeps it (then
// keptFetched); seq is the task's keptSeq then (a later keep of it is another copy).
type keptFetch struct {
	id   ids.ObjectID
	key  scheduling.NodeID
	addr string
	seq  uint64
}

// keptTaken asks the driver to tell node key that it may free the result id it kept for this
// node.
type keptTaken struct {
	key scheduling.NodeID
	id  ids.ObjectID
}

// resultKept is the event of node key saying, on its link gen, that the result id of a task
// forwarded there stays there, in its shared memory. Called with r.mu held.
func (s *state) resultKept(key scheduling.NodeID, gen uint64, id ids.ObjectID) {
	r, t := s.remoteFinished(key, id)
	if t == nil {
		// Failed or retried already (its node was held dead): that copy is nobody's.
		s.eff.taken = append(s.eff.taken, keptTaken{key: key, id: id})
		return
	}
	s.unpinTaskArgs(t)
	if obj, stored := s.store.Get(id); stored {
		// Made again after a copy was held lost, which came after all: this one is not needed.
		s.eff.taken = append(s.eff.taken, keptTaken{key: key, id: id})
		s.finish(t, obj)
		s.schedule()
		return
	}
	t.keptAt, t.keptGen, t.keptLost, t.fetching = r, gen, "", false
	t.spilledArgs = nil // (read back again if it runs again)
	t.lineageSize = int64(proto.Size(t.spec))
	s.lineage.seq++
	t.keptSeq = s.lineage.seq
	s.lineage.kept[id] = t
	s.lineage.order = append(s.lineage.order, t)
	s.lineage.live++
	s.lineage.bytes += t.lineageSize
	s.boundLineage()
	switch {
	case !s.referenced(id):
		s.keptEnded(t)
	case s.wanted(id):
		s.fetchKept(t)
	}
	s.schedule()
}

// wanted tells whether a process or a task of this node waits for id. Called with r.mu held.
func (s *state) wanted(id ids.ObjectID) bool {
	return len(s.subscribers[id]) > 0 || len(s.waitingDeps[id]) > 0
}

// want is the event of id being waited for here: a result kept elsewhere is pulled here, or
// made again when it was lost. Called with r.mu held.
func (s *state) want(id ids.ObjectID) {
	if t := s.lineage.kept[id]; t != nil {
		s.fetchKept(t)
	}
}

// fetchKept pulls t's kept result here (once at a time), or rebuilds it when it was lost.
// Called with r.mu held.
func (s *state) fetchKept(t *task) {
	switch {
	case t.fetching:
	case t.keptLost != "":
		s.rebuild(t)
	default:
		t.fetching = true
		s.eff.fetchKept = append(s.eff.fetchKept, keptFetch{id: t.returnID, key: t.keptAt.key, addr: t.keptAt.address, seq: t.keptSeq})
	}
}

// keptFetched is the event of a pull j of a kept result ending. On success the result is in
// the store already, or on its way there (putObject then completes its task). A failure of this
// node's store (no room) fails the result with that error: pulling it again, or making it
// again, would not help. Another failure holds the copy lost: the result is made again if it is
// still wanted. Either way that copy is let go. Called with r.mu held.
func (s *state) keptFetched(j keptFetch, err error) {
	t := s.lineage.kept[j.id]
	if t == nil || t.keptSeq != j.seq {
		return // arrived, freed or made again meanwhile
	}
	t.fetching = false
	if err == nil {
		return
	}
	from := t.keptAt
	s.eff.taken = append(s.eff.taken, keptTaken{key: from.key, id: t.returnID})
	if errors.Is(err, errLocalStore) {
		s.keptDone(t)
		s.finish(t, &objstore.Object{Kind: objstore.KindLost, Data: []byte(fmt.Sprintf(
			"Object %s, the result of %s, could not be brought here from %s, which kept it: %v",
			t.returnID.Hex(), taskLabel(t), from, err))})
		return
	}
	if t.keptLost == "" {
		t.keptLost = fmt.Sprintf("it could not be pulled from %s, which kept it: %v", t.keptAt, err)
	}
	if s.wanted(j.id) {
		s.rebuild(t)
	}
}

// keptEnded completes a task whose result another node kept: the result is in the store now,
// or nothing here refers to it any more. The node that kept it may free its copy. Called with
// r.mu held.
func (s *state) keptEnded(t *task) {
	if t.keptLost == "" {
		s.eff.taken = append(s.eff.taken, keptTaken{key: t.keptAt.key, id: t.returnID})
	}
	s.keptDone(t)
	delete(s.pending, t.returnID)
	s.releaseTaskRefs(t)
}

// keptLostAt is the event of node key losing the results it kept for this node through its
// link gen (0: through any; the node died): each is made again when it is wanted, at once for
// those wanted now. Called with r.mu held.
func (s *state) keptLostAt(key scheduling.NodeID, gen uint64, cause string) {
	var lost []*task
	for _, t := range s.lineage.kept {
		if t.keptAt != nil && t.keptAt.key == key && (gen == 0 || t.keptGen == gen) && t.keptLost == "" {
			lost = append(lost, t)
		}
	}
	sort.Slice(lost, func(i, j int) bool { return lost[i].keptSeq < lost[j].keptSeq })
	var again []*task
	for _, t := range lost {
		t.keptLost = fmt.Sprintf("%s kept it: %s", t.keptAt, cause)
		if s.wanted(t.returnID) { // (a pull under way fails, or brings a copy that is not waited for)
			again = append(again, t)
		}
	}
	for _, t := range again {
		s.rebuild(t)
	}
	if len(again) > 0 {
		s.schedule()
	}
}

// rebuild makes a lost result again by running its task again, within the task's retries; a
// task whose lineage was dropped, or that has no retry left, ends with Ray's ObjectLostError.
// The task waits for its arguments again: lost ones are made again first (trackDeps wants them).
// Called with r.mu held.
func (s *state) rebuild(t *task) {
	why, from := t.keptLost, t.keptAt
	s.keptDone(t)
	switch {
	case !s.feasibleWithout(from, !from.alive, t.demand):
		s.finish(t, &objstore.Object{Kind: objstore.KindLost, Data: []byte(fmt.Sprintf(
			"Object %s, the result of %s, was lost: %s. It cannot be rebuilt: no live node of the cluster can run its task.",
			t.returnID.Hex(), taskLabel(t), why))})
		return
	case t.lineageDropped:
		s.finish(t, &objstore.Object{Kind: objstore.KindLost, Data: []byte(fmt.Sprintf(
			"Object %s, the result of %s, was lost: %s. It cannot be rebuilt: its lineage was dropped to keep within %s=%d bytes.",
			t.returnID.Hex(), taskLabel(t), why, EnvMaxLineageBytes, s.lineage.bound))})
		return
	case !taskretry.Take(&t.retriesLeft):
		s.finish(t, &objstore.Object{Kind: objstore.KindLost, Data: []byte(fmt.Sprintf(
			"Object %s, the result of %s, was lost: %s. It cannot be rebuilt: the task had no retries left%s.",
			t.returnID.Hex(), taskLabel(t), why, taskretry.Attempts(t.attempts)))})
		return
	}
	glog.Warningf("rebuilding object %s, the result of %s (function %s): %s; running it again; %s",
		t.returnID.Hex(), taskLabel(t), t.spec.FunctionName, why, taskretry.Describe(t.retriesLeft))
	t.missing = 0
	if s.trackDeps(t) && t.missing == 0 {
		s.argsReady(t)
	}
}

// keptDone forgets that t's result is kept elsewhere. Called with r.mu held.
func (s *state) keptDone(t *task) {
	if s.lineage.kept[t.returnID] == t {
		delete(s.lineage.kept, t.returnID)
		if !t.lineageDropped {
			s.lineage.bytes -= t.lineageSize
			s.lineage.live--
		}
	}
	t.keptAt, t.keptLost, t.fetching = nil, "", false
	if len(s.lineage.order) > 64 && len(s.lineage.order) > 2*s.lineage.live {
		s.compactLineage()
	}
}

// boundLineage drops the lineage of the oldest kept results while the lineage kept is over its
// bound: their arguments are let go, and they can no longer be rebuilt. Called with r.mu held.
func (s *state) boundLineage() {
	l := &s.lineage
	for l.bytes > l.bound && len(l.order) > 0 {
		t := l.order[0]
		l.order[0] = nil
		l.order = l.order[1:]
		if l.kept[t.returnID] != t || t.lineageDropped {
			continue
		}
		glog.V(1).Infof("dropping the lineage of %s (over %s=%d)", t.returnID.Hex(), EnvMaxLineageBytes, l.bound)
		t.lineageDropped = true
		l.bytes -= t.lineageSize
		l.live--
		s.releaseTaskRefs(t)
		// Only what the messages about it need stays.
		t.spec = &pb.TaskSpec{TaskId: t.spec.TaskId, ReturnId: t.spec.ReturnId, FunctionName: t.spec.FunctionName, Name: t.spec.Name}
	}
}

// compactLineage removes from the order the tasks that are no longer kept, or no longer have
// their lineage. Called with r.mu held.
func (s *state) compactLineage() {
	l := &s.lineage
	live := make([]*task, 0, len(l.kept))
	for _, t := range l.order {
		if t != nil && l.kept[t.returnID] == t && !t.lineageDropped {
			live = append(live, t)
		}
	}
	l.order = live
}
