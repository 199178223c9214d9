package core

import (
	"sync"
	"time"

	"github.com/golang/glog"

	pb "goray/rpc/proto"
)

// Task events: each run of a task in this process (a normal task, an actor's creation or one of
// its calls) is told to the node, for Ray's state API (`ray list tasks`, `ray summary tasks`)
// and `ray timeline`. A run costs an append to a buffer; the buffer goes to the node in one
// message per eventFlushDelay, told not asked.

// eventFlushDelay is how long runs wait in the buffer: a process running many short calls tells
// of them in one message per delay.
const eventFlushDelay = 50 * time.Millisecond

// maxBufferedRuns bounds the buffer (more runs within a delay than this: the latest are dropped,
// and the node learns how many).
const maxBufferedRuns = 10000

// taskRun is a run of a task, as the buffer keeps it.
type taskRun struct {
	taskID     []byte
	name       string
	typ        int32
	attempt    int32
	failed     bool
	start, end int64 // microseconds since the epoch
	actor      *actorContext
}

// runBuffer holds the runs not yet told.
type runBuffer struct {
	mu        sync.Mutex
	runs      []taskRun
	scheduled bool // a flush is due
	dropped   int  // runs left out since the last take (the buffer was full)
}

// add buffers a run and reports whether a flush must be scheduled (the buffer was empty).
func (r *runBuffer) add(run taskRun) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.runs) >= maxBufferedRuns {
		r.dropped++
	} else {
		r.runs = append(r.runs, run)
	}
	if r.scheduled {
		return false
	}
	r.scheduled = true
	return true
}

// take empties the buffer; dropped is how many runs it had no room for.
func (r *runBuffer) take() (runs []taskRun, dropped int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	runs, dropped = r.runs, r.dropped
	r.runs, r.scheduled, r.dropped = nil, false, 0
	return runs, dropped
}

// events are runs as the node takes them.
func events(runs []taskRun) []*pb.TaskEvent {
	out := make([]*pb.TaskEvent, len(runs))
	for i, run := range runs {
		ev := &pb.TaskEvent{TaskId: run.taskID, Name: run.name, Type: run.typ, State: "FINISHED", StartUs: run.start, EndUs: run.end, Attempt: run.attempt}
		if run.failed {
			ev.State = "FAILED"
		}
		if a := run.actor; a != nil {
			ev.ActorId = append([]byte(nil), a.id[:]...)
			ev.ClassName = a.className
		}
		out[i] = ev
	}
	return out
}

// taskRan buffers a run. Within eventFlushDelay the buffer goes into the queue to the node, where
// the next message of this process (a task's result) takes it along; within another delay it is
// sent anyway.
func (b *nodeBackend) taskRan(run taskRun) {
	if !b.runs.add(run) {
		return
	}
	time.AfterFunc(eventFlushDelay, func() {
		if b.queueRuns() {
			time.AfterFunc(eventFlushDelay, func() { _ = b.sender.Flush() })
		}
	})
}

// queueRuns puts the buffered runs into the queue to the node (not sending them), and tells
// whether there were any.
func (b *nodeBackend) queueRuns() bool {
	runs, dropped := b.runs.take()
	if dropped > 0 {
		glog.Warningf("task events: %d runs of tasks within %v were more than this process keeps (%d): the node does not learn of them", dropped, eventFlushDelay, maxBufferedRuns)
	}
	if len(runs) == 0 {
		return false
	}
	_ = b.sender.Enqueue(&pb.ClientMessage{Body: &pb.ClientMessage_TaskEvents{TaskEvents: &pb.TaskEvents{Events: events(runs)}}})
	return true
}

// taskRan: a local-mode process has no node to tell.
func (b *localBackend) taskRan(taskRun) {}
