package core

import (
	"sync"
	"time"

	pb "goray/rpc/proto"
)

// Task events: each run of a task in this process (a normal task, an actor's creation or one of
// its calls) is told to the node, for Ray's state API (`ray list tasks`, `ray summary tasks`)
// and `ray timeline`. A run costs an append to a buffer; the buffer goes to the node in one
// message per eventFlushDelay, told not asked.

// eventFlushDelay is how long runs wait in the buffer: a process running many short calls tells
// of them in one message per delay.
const eventFlushDelay = 50 * time.Millisecond

// maxBufferedRuns bounds the buffer (a process the node stopped reading from drops the oldest).
const maxBufferedRuns = 10000

// taskRun is a run of a task, as the buffer keeps it.
type taskRun struct {
	taskID     []byte
	name       string
	typ        int32
	failed     bool
	start, end int64 // microseconds since the epoch
	actor      *actorContext
}

// runBuffer holds the runs not yet told.
type runBuffer struct {
	mu        sync.Mutex
	runs      []taskRun
	scheduled bool // a flush is due
}

// add buffers a run and reports whether a flush must be scheduled (the buffer was empty).
func (r *runBuffer) add(run taskRun) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.runs) >= maxBufferedRuns {
		copy(r.runs, r.runs[1:])
		r.runs = r.runs[:len(r.runs)-1]
	}
	r.runs = append(r.runs, run)
	if r.scheduled {
		return false
	}
	r.scheduled = true
	return true
}

// take empties the buffer.
func (r *runBuffer) take() []taskRun {
	r.mu.Lock()
	defer r.mu.Unlock()
	runs := r.runs
	r.runs, r.scheduled = nil, false
	return runs
}

// events are runs as the node takes them.
func events(runs []taskRun) []*pb.TaskEvent {
	out := make([]*pb.TaskEvent, len(runs))
	for i, run := range runs {
		ev := &pb.TaskEvent{TaskId: run.taskID, Name: run.name, Type: run.typ, State: "FINISHED", StartUs: run.start, EndUs: run.end}
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

// taskRan buffers a run and sends the buffer to the node within eventFlushDelay.
func (b *nodeBackend) taskRan(run taskRun) {
	if !b.runs.add(run) {
		return
	}
	time.AfterFunc(eventFlushDelay, func() {
		if runs := b.runs.take(); len(runs) > 0 {
			_ = b.sender.Queue(&pb.ClientMessage{Body: &pb.ClientMessage_TaskEvents{TaskEvents: &pb.TaskEvents{Events: events(runs)}}})
		}
	})
}

// taskRan: a local-mode process has no node to tell.
func (b *localBackend) taskRan(taskRun) {}
