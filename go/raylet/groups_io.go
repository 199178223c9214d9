package raylet

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/golang/glog"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "goray/rpc/proto"
)

// The I/O of groups.go: messages about bundles to other nodes, and the placement groups' records
// in the control store.

// groupWriter sends the node's group records to the control store in order, batched: one call
// in flight, the records queued meanwhile in the next.
type groupWriter struct {
	mu      sync.Mutex
	queue   []groupPut
	running bool
}

// peerAskTimeout bounds a message about bundles to another node: shorter than the time a node
// keeps a bundle prepared, so that a round whose node never answers fails (and gives back what
// the others reserved) before their reservations expire.
const peerAskTimeout = bundlePrepareTimeout / 2

// putGroups queues records for the control store and starts the writer unless it runs.
func (r *Raylet) putGroups(puts []groupPut) {
	w := &r.groupWriter
	w.mu.Lock()
	w.queue = append(w.queue, puts...)
	start := !w.running
	w.running = true
	w.mu.Unlock()
	if start {
		r.goTracked(r.writeGroups)
	}
}

// groupPutGather is how long the writer lets records gather before it sends those nobody waits
// for: a group created and removed meanwhile costs the control store one record, not three.
// Lookups on this node see its own groups as they are now (mergeOwn).
const groupPutGather = 10 * time.Millisecond

// writeGroups sends the queued records until none is left.
func (r *Raylet) writeGroups() {
	w := &r.groupWriter
	for {
		w.mu.Lock()
		waited := false
		for _, p := range w.queue {
			waited = waited || p.done != nil
		}
		w.mu.Unlock()
		if !waited {
			select {
			case <-time.After(groupPutGather):
			case <-r.ctx.Done():
			}
		}
		w.mu.Lock()
		batch := w.queue
		w.queue = nil
		if len(batch) == 0 {
			w.running = false
			w.mu.Unlock()
			return
		}
		w.mu.Unlock()
		batch = latestRecords(batch)
		errs := r.sendGroups(batch)
		var done []func(s *state)
		for i, p := range batch {
			if p.done != nil {
				p, err := p, errs[i]
				done = append(done, func(s *state) { p.done(s, err) })
			} else if errs[i] != nil {
				glog.Warningf("recording placement group %s: %v", p.info.GroupId, errs[i])
			}
		}
		if len(done) > 0 {
			r.do(func(s *state) {
				for _, f := range done {
					f(s)
				}
			})
		}
	}
}

// A call that does not reach the control store is made storeAttempts times at most, storeRetry
// apart at first, twice as long each time after (see callStore).
const (
	storeAttempts = 5
	storeRetry    = 200 * time.Millisecond
)

// callStore makes a call to the control store (what says what it does), again while the store
// cannot be reached (a restart, a blip); an answer that refuses the call (a bad argument, no room)
// is final. It returns the last error, said in the log too; nil on an embedded node, which has no
// store. Called without the node's lock.
func (r *Raylet) callStore(what string, call func(ctx context.Context, store pb.ControlStoreClient) error) error {
	store := r.cfg.GCS
	if store == nil {
		return nil
	}
	wait := storeRetry
	for attempt := 1; ; attempt++ {
		ctx, cancel := context.WithTimeout(r.ctx, nameTimeout)
		err := call(ctx, store)
		cancel()
		if err == nil || r.ctx.Err() != nil {
			return err
		}
		if c := status.Code(err); attempt >= storeAttempts || c == codes.InvalidArgument || c == codes.ResourceExhausted {
			glog.Warningf("%s in the control store: %v", what, err)
			return err
		}
		glog.Warningf("%s in the control store: %v; trying again in %v", what, err, wait)
		select {
		case <-time.After(wait):
		case <-r.ctx.Done():
			return err
		}
		wait *= 2
	}
}

// latestRecords keeps of a batch, for each group, its last record and the records someone waits
// for (named groups' claims), in order: the control store needs only where each group is now.
func latestRecords(batch []groupPut) []groupPut {
	last := make(map[string]int, len(batch))
	for i, p := range batch {
		last[p.info.GroupId] = i
	}
	if len(last) == len(batch) {
		return batch
	}
	out := batch[:0]
	for i, p := range batch {
		if p.done != nil || last[p.info.GroupId] == i {
			out = append(out, p)
		}
	}
	return out
}

// sendGroups records a batch in the control store and returns each record's error.
func (r *Raylet) sendGroups(batch []groupPut) []error {
	errs := make([]error, len(batch))
	if r.cfg.GCS == nil {
		return errs
	}
	req := &pb.PutPlacementGroupsRequest{Groups: make([]*pb.PlacementGroupInfo, len(batch))}
	for i, p := range batch {
		req.Groups[i] = p.info
	}
	// (tried again while the store is away: a record lost would leave a group's name taken, or its
	// state stale, for good)
	var rep *pb.PutPlacementGroupsReply
	err := r.callStore(fmt.Sprintf("recording %d placement groups", len(batch)), func(ctx context.Context, store pb.ControlStoreClient) (err error) {
		rep, err = store.PutPlacementGroups(ctx, req)
		return err
	})
	if err == nil && len(rep.Errors) != len(batch) {
		err = fmt.Errorf("the control store answered %d of %d records", len(rep.Errors), len(batch))
	}
	for i := range batch {
		switch {
		case err != nil:
			errs[i] = fmt.Errorf("the control store cannot be reached: %w", err)
		case rep.Errors[i] != "":
			errs[i] = errors.New(rep.Errors[i])
		}
	}
	return errs
}

// getGroups looks groups up in the control store and delivers them as an event.
func (r *Raylet) getGroups(g groupGet) {
	store := r.cfg.GCS
	if store == nil {
		r.do(func(s *state) { g.done(s, nil, nil) })
		return
	}
	ctx, cancel := context.WithTimeout(r.ctx, nameTimeout)
	defer cancel()
	rep, err := store.GetPlacementGroups(ctx, g.req)
	var found []*pb.PlacementGroupInfo
	if err == nil {
		found = rep.Groups
	}
	r.do(func(s *state) { g.done(s, found, err) })
}

// listNodes answers a client's request for the cluster's nodes from the control store.
func (r *Raylet) listNodes(l nodeList) {
	rep := &pb.Reply{RequestId: l.requestID}
	if store := r.cfg.ControlStore; store == nil {
		rep.Error = "this node has no control store to ask for the cluster's nodes"
	} else {
		ctx, cancel := context.WithTimeout(r.ctx, nameTimeout)
		all, err := store.GetAllNodes(ctx, &pb.GetAllNodesRequest{})
		cancel()
		if err != nil {
			rep.Error = fmt.Sprintf("listing the cluster's nodes: %v", err)
		} else {
			rep.Nodes = all.Nodes
		}
	}
	r.do(func(s *state) { s.replyIf(l.c, rep) })
}
