package raylet

import (
	"errors"
	"fmt"

	"goray/objstore"
	pb "goray/rpc/proto"
	"goray/rpc/wire"
)

// Worker leases (see LeaseEnded in goray.proto). A client that sends many tasks of one shape to
// other nodes asks for a lease: a task of type taskLease with the shape's resources and strategy.
// The node places it as it would place a task of the shape (its own class, so it is never
// pipelined, and nothing is pipelined behind it):
//   - here, on the client's own node: it ends at once with an error result (no lease: this node
//     runs such tasks itself, through the usual path);
//   - on another node: forwarded like a task. That node runs it on an idle worker of the job with
//     the task's resources; the worker starts taking direct calls and reports its address as the
//     result. The worker then stays the lease's, with the resources, until it sends LeaseEnded
//     (its caller ended the call stream) or dies.

// taskLease is TaskSpec.task_type of a lease request (beyond ray_task_type of c_api.h: only the
// runtime makes them).
const taskLease = 100

// isLease tells whether t asks for a worker lease.
func (t *task) isLease() bool { return t.spec.GetTaskType() == taskLease }

// refuseLease ends a lease request without a lease, saying why. Called with r.mu held.
func (s *state) refuseLease(t *task, why string) {
	s.finish(t, &objstore.Object{Kind: objstore.KindTaskError, Data: []byte("no worker lease: " + why)})
}

// leaseStarted is the event of worker w reporting that it took the lease t (done carries the
// address it takes calls at, or an error): the worker stays the lease's, holding t's resources,
// until leaseEnded. Called with r.mu held.
func (s *state) leaseStarted(w *worker, t *task, done *pb.TaskDone) {
	if done.Result == nil {
		done.Result = &pb.Object{Kind: objstore.KindTaskError, Data: []byte("the worker returned no result")}
	}
	obj := wire.ObjectFromProto(done.Result)
	if obj.IsError() || obj.InShm {
		s.release(t)
		if obj.InShm {
			obj = &objstore.Object{Kind: objstore.KindTaskError, Data: []byte("the worker reported a lease's address in shared memory")}
		}
		s.finish(t, obj)
		s.workerIdle(w)
		return
	}
	w.lease, t.alloc = t.alloc, nil
	s.finish(t, obj)
}

// leaseEnded is the event of worker w's lease ending: the worker and its resources are the
// node's again. Called with r.mu held.
func (s *state) leaseEnded(w *worker) error {
	if w == nil {
		return errors.New("a driver reported the end of a worker lease")
	}
	if w.lease == nil {
		return fmt.Errorf("%s reported the end of a lease it did not hold", w)
	}
	if w.blocked {
		w.blocked = false
		s.blocked--
	}
	s.ledger.Release(w.lease)
	w.lease = nil
	s.workerIdle(w)
	return nil
}
