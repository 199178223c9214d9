package raylet

import (
	"testing"
)

func shapedTask(cpu float64) *task {
	demand, err := taskDemand(map[string]float64{"CPU": cpu})
	if err != nil {
		panic(err)
	}
	return &task{demand: demand}
}

// Classes without ready tasks are forgotten once there are many; their tasks, queued again, find
// a class of their shape, and pipelining still sees two tasks of one shape as one class.
func TestReadyQueuePrunesEmptyClasses(t *testing.T) {
	q := newReadyQueue()
	var first []*task
	for i := 0; i < 100; i++ {
		tk := shapedTask(float64(i+1) / 1000)
		q.push(tk)
		first = append(first, tk)
	}
	keep := shapedTask(0.5)
	q.push(keep)
	for _, c := range q.order[:100] {
		c.pop()
	}
	q.prune()
	if len(q.order) != 1 || len(q.classes) != 1 || q.order[0] != keep.class {
		t.Fatalf("after pruning: %d classes in order, %d by key", len(q.order), len(q.classes))
	}
	// A task of a forgotten class goes back to the queue (its worker died, say).
	old := first[7].class
	q.pushFront(first[7])
	if !old.pruned || first[7].class == old || len(q.order) != 2 || q.len() != 2 {
		t.Fatalf("a requeued task of a pruned class: %d classes, %d tasks", len(q.order), q.len())
	}
	if !sameClass(old, first[7].class) || sameClass(old, keep.class) {
		t.Fatal("sameClass does not compare shapes")
	}
	// Few classes are kept as they are.
	q2 := newReadyQueue()
	for i := 0; i < pruneAbove; i++ {
		q2.push(shapedTask(float64(i + 1)))
		q2.order[i].pop()
	}
	q2.prune()
	if len(q2.order) != pruneAbove {
		t.Fatalf("%d classes pruned below the bound", pruneAbove-len(q2.order))
	}
}
