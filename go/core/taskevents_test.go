package core

import (
	"testing"

	"goray/ids"
)

func TestRunBuffer(t *testing.T) {
	var b runBuffer
	if !b.add(taskRun{name: "a"}) {
		t.Error("the first run did not ask for a flush")
	}
	if b.add(taskRun{name: "b"}) {
		t.Error("a second run asked for another flush")
	}
	if runs, dropped := b.take(); len(runs) != 2 || runs[0].name != "a" || runs[1].name != "b" || dropped != 0 {
		t.Errorf("took %+v, %d dropped", runs, dropped)
	}
	if !b.add(taskRun{name: "c"}) {
		t.Error("after a flush, a run did not ask for the next")
	}
	for i := 0; i < maxBufferedRuns+5; i++ {
		b.add(taskRun{name: "x", start: int64(i)})
	}
	runs, dropped := b.take()
	if len(runs) != maxBufferedRuns || runs[len(runs)-1].start != maxBufferedRuns-2 || dropped != 6 {
		t.Errorf("a full buffer kept %d runs, the last from %d, and dropped %d", len(runs), runs[len(runs)-1].start, dropped)
	}
}

func TestEvents(t *testing.T) {
	actor := &actorContext{id: ids.NewUniqueID(), className: "7Counter"}
	evs := events([]taskRun{
		{taskID: []byte{1}, name: "Plus", typ: TaskNormal, start: 10, end: 20, attempt: 2},
		{taskID: []byte{2}, name: "&Counter::Add", typ: TaskActorMethod, failed: true, start: 30, end: 40, actor: actor},
	})
	if e := evs[0]; e.State != "FINISHED" || e.Name != "Plus" || e.StartUs != 10 || e.EndUs != 20 || e.ActorId != nil || e.Attempt != 2 {
		t.Errorf("a task's event %v", e)
	}
	if e := evs[1]; e.State != "FAILED" || e.ClassName != "7Counter" || string(e.ActorId) != string(actor.id[:]) || e.Type != TaskActorMethod {
		t.Errorf("an actor call's event %v", e)
	}
}
