package core

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/golang/glog"
	"google.golang.org/grpc/metadata"

	"goray/ids"
	"goray/objstore"
	pb "goray/rpc/proto"
)

// The worker's side of worker leases (see LeaseEnded in goray.proto and leases.go). A pool worker
// that its node gives a lease task starts taking direct calls on TCP (the same service an actor
// serves) and reports the address as the lease task's result. From then on it runs the normal
// tasks its caller sends on that stream, one at a time, and answers each on the stream; the node
// sends it nothing meanwhile. The lease ends when the caller ends its stream (after the tasks it
// sent), or when no caller comes within leaseClaimWait: the worker then tells the node
// (LeaseEnded), which takes it back with its resources.

// TaskLease is TaskSpec.task_type of a lease request (see raylet's taskLease).
const TaskLease int32 = 100

// leaseClaimWait bounds how long a leased worker waits for its caller to open the call stream.
const leaseClaimWait = 10 * time.Second

// leaseEndSpec marks, in the execution queue, the end of a lease caller's stream: the lease ends
// there, after the tasks that caller sent.
var leaseEndSpec = &pb.TaskSpec{FunctionName: "(end of a worker lease)"}

// leaseState is what a worker process knows of its lease (guarded by nodeBackend.mu).
type leaseState struct {
	active  bool
	gen     uint64 // counts the leases taken, so a late claim timer knows its own
	streams int    // callers' streams open on this lease
	claimed bool   // a caller opened a stream
}

// startLease takes the lease the node gave this worker (the lease task spec): it serves direct
// calls on TCP and reports where.
func (b *nodeBackend) startLease(spec *pb.TaskSpec) {
	address, err := b.leaseAddress()
	var obj *objstore.Object
	if err != nil {
		obj = &objstore.Object{Kind: objstore.KindTaskError, Data: []byte("the worker cannot take a lease: " + err.Error())}
	} else {
		b.mu.Lock()
		b.lease = leaseState{active: true, gen: b.lease.gen + 1}
		gen := b.lease.gen
		b.mu.Unlock()
		node := "?"
		if id := b.cw.ownerNode.Load(); id != nil {
			node = id.Hex()
		}
		// The answer: where to call, the node (for messages), and the lease's number.
		obj = &objstore.Object{Data: []byte(fmt.Sprintf("%s %s %d", address, node, gen))}
		time.AfterFunc(leaseClaimWait, func() { b.leaseUnclaimed(gen) })
		glog.Infof("took a worker lease (pid %d): its caller sends its tasks to %s", os.Getpid(), address)
		glog.Flush() // (rare, and the process may be killed with its lease)
	}
	b.reportDone(spec, obj, "")
}

// leaseAddress is where this worker takes a lease's calls: its TCP call server, started once.
func (b *nodeBackend) leaseAddress() (string, error) {
	if s := b.callServerOf(); s != nil {
		if s.address == "" {
			return "", errors.New("its call server takes no TCP connections")
		}
		return s.address, nil
	}
	ip := b.cw.opts.ActorIP
	if ip == "" {
		return "", errors.New("its node gave it no IP address to take calls at (not a cluster's node)")
	}
	return b.serveCallsTCP(ip)
}

// leaseUnclaimed ends lease gen if no caller came for it.
func (b *nodeBackend) leaseUnclaimed(gen uint64) {
	b.mu.Lock()
	end := b.lease.active && b.lease.gen == gen && !b.lease.claimed
	if end {
		b.lease = leaseState{gen: gen}
	}
	b.mu.Unlock()
	if end {
		glog.Warningf("no caller came for this worker's lease within %v: the lease ends", leaseClaimWait)
		b.leaseOver()
	}
}

// claimLease counts a caller's stream opening; it reports whether the stream is a lease's: the
// caller names lease gen (see leaseGenOf), which this worker holds now.
func (b *nodeBackend) claimLease(gen uint64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if gen == 0 || b.actor != nil || !b.lease.active || b.lease.gen != gen {
		return false
	}
	b.lease.streams++
	b.lease.claimed = true
	return true
}

// leaseStreamEnded queues the end of a lease caller's stream behind the task of that caller
// running now, if any: those it sent that have not started are dropped (a caller ends its stream
// once it has every result, so they are left only by a caller that went away).
func (b *nodeBackend) leaseStreamEnded(o *callOrigin) {
	b.mu.Lock()
	keep := b.execQueue[:0]
	for _, item := range b.execQueue {
		if item.origin != o {
			keep = append(keep, item)
		}
	}
	for i := len(keep); i < len(b.execQueue); i++ {
		b.execQueue[i] = execItem{}
	}
	if dropped := len(b.execQueue) - len(keep); dropped > 0 {
		glog.Warningf("a lease's caller went away: %d of its tasks that had not started are dropped", dropped)
	}
	b.execQueue = append(keep, execItem{spec: leaseEndSpec, origin: o})
	b.mu.Unlock()
	b.wakeExec()
}

// endLeaseStream is the execution queue reaching the end of lease caller o's stream (every task
// it sent is answered): the stream's handler may return, and the lease ends with its last stream.
func (b *nodeBackend) endLeaseStream(o *callOrigin) {
	o.sender.Close()
	close(o.ended)
	b.mu.Lock()
	b.lease.streams--
	end := b.lease.active && b.lease.streams <= 0
	if end {
		b.lease = leaseState{gen: b.lease.gen}
	}
	b.mu.Unlock()
	if end {
		b.leaseOver()
	}
}

// leaseOver tells the node this worker is its own again.
func (b *nodeBackend) leaseOver() {
	glog.Infof("the worker lease ended")
	glog.Flush() // (rare, as taking one)
	_ = b.queue(&pb.ClientMessage{Body: &pb.ClientMessage_LeaseEnded{LeaseEnded: &pb.LeaseEnded{}}})
}

// leaseGenMetadata is the call stream metadata by which a lease's caller names the lease (its
// number in the lease's answer).
const leaseGenMetadata = "goray-lease"

// leaseGenOf is the lease a call stream's caller names (0: none).
func leaseGenOf(ctx context.Context) uint64 {
	md, _ := metadata.FromIncomingContext(ctx)
	if v := md.Get(leaseGenMetadata); len(v) == 1 {
		if gen, err := strconv.ParseUint(v[0], 10, 64); err == nil {
			return gen
		}
	}
	return 0
}

// handBack tells whether a normal task that came on o goes back to its caller at once (Returned)
// instead of running here: o is not a stream of this worker's current lease (it ended, say, or
// the caller came late), or the running task waits in Get (it may wait for this one, and another
// worker can run it now). Called with b.mu held.
func (b *nodeBackend) handBack(o *callOrigin) bool {
	return !o.lease || !b.lease.active || b.blockedNow
}

// giveBack hands the tasks that lease callers sent and that have not started back to their
// callers (the running task waits in Get: they may be what it waits for, and other workers can
// run them now).
func (b *nodeBackend) giveBack(items []execItem) {
	if len(items) > 0 {
		logHandedBack(len(items))
	}
	for _, item := range items {
		_ = item.origin.sender.Queue(&pb.CallResult{ReturnId: item.spec.ReturnId, Returned: true})
	}
}

// logHandedBack says that n tasks of lease callers went back to them (rare: once per wait in Get
// with tasks queued or arriving).
func logHandedBack(n int) {
	glog.Infof("the running task waits in Get: %d tasks of lease callers go back to them", n)
	glog.Flush()
}

// refuseLeaseCall says why a normal task that came on a lease's call stream is not run ("": it
// is). Called with b.mu held.
func (b *nodeBackend) refuseLeaseCall(spec *pb.TaskSpec) string {
	if len(spec.ReturnId) != len(ids.ObjectID{}) {
		return "a task without a valid return id"
	}
	return ""
}
