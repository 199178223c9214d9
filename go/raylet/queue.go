package raylet

import (
	"fmt"
	"strings"

	"goray/resources"
	"goray/scheduling"
)

// schedClass is the ready tasks of one resource shape, in arrival order. Scheduling looks at each
// class once, not at each task, so a long queue costs nothing per scheduling pass.
type schedClass struct {
	key        string
	job        *job // its tasks' job: a worker runs only its own job's tasks
	demand     resources.Set
	req        scheduling.Request // what its tasks ask the policy
	tasks      []*task
	infeasible bool // needs more than the node has in total (warned once)
	lease      bool // its tasks are worker lease requests (see lease.go)
	pruned     bool // forgotten by the queue (see prune): its tasks find their class again
}

// pruneAbove is how many classes the queue keeps before it forgets those without ready tasks
// (so tasks of ever-new shapes do not grow it, and each scheduling pass, without bound).
const pruneAbove = 32

// readyQueue holds the tasks whose arguments exist, by scheduling class.
type readyQueue struct {
	classes map[string]*schedClass
	order   []*schedClass // in order of first appearance
}

func newReadyQueue() *readyQueue {
	return &readyQueue{classes: map[string]*schedClass{}}
}

func (q *readyQueue) class(t *task) *schedClass {
	if t.class == nil || t.class.pruned {
		var key string
		if t.class != nil {
			key = t.class.key
		} else {
			key = t.demand.String()
			if t.job != nil && t.job.id != "" {
				key = t.job.id + " " + key
			}
			if t.job != nil && t.job.envText != "" {
				key += " env " + t.job.envText // (its variant's workers run it)
			}
			if len(t.spec.GetForwardedBy()) > 0 {
				key += " via " + strings.Join(t.spec.GetForwardedBy(), ",")
			}
			if t.preferLocal {
				key += " forwarded"
			} else if k := t.spec.GetSchedulingStrategy(); k != 0 {
				key += fmt.Sprintf(" strategy %d %s %v", k, t.spec.AffinityNodeId, t.spec.AffinitySoft)
			}
			if t.isLease() {
				key += " lease"
			}
		}
		c := q.classes[key]
		if c == nil {
			c = &schedClass{key: key, job: t.job, demand: t.demand, req: requestOf(t.spec, t.demand, t.preferLocal), lease: t.isLease()}
			for _, id := range t.spec.GetForwardedBy() {
				c.req.Visited = append(c.req.Visited, scheduling.NodeID(id))
			}
			q.classes[key] = c
			q.order = append(q.order, c)
		}
		t.class = c
	}
	return t.class
}

// prune forgets the classes that have no ready task, once the queue holds more than pruneAbove.
func (q *readyQueue) prune() {
	if len(q.order) <= pruneAbove {
		return
	}
	keep := q.order[:0]
	for _, c := range q.order {
		if len(c.tasks) > 0 {
			keep = append(keep, c)
			continue
		}
		c.pruned = true
		delete(q.classes, c.key)
	}
	for i := len(keep); i < len(q.order); i++ {
		q.order[i] = nil
	}
	q.order = keep
}

// sameClass tells whether two tasks' classes are one shape (a class may have been pruned and
// made again since one of them was queued).
func sameClass(a, b *schedClass) bool {
	return a == b || (a != nil && b != nil && a.key == b.key)
}

// push adds a task at the back of its class.
func (q *readyQueue) push(t *task) {
	c := q.class(t)
	c.tasks = append(c.tasks, t)
}

// pushFront puts a task back at the head of its class (a retry goes first).
func (q *readyQueue) pushFront(t *task) {
	c := q.class(t)
	c.tasks = append([]*task{t}, c.tasks...)
}

// len is the number of ready tasks.
func (q *readyQueue) len() int {
	n := 0
	for _, c := range q.order {
		n += len(c.tasks)
	}
	return n
}

func (c *schedClass) pop() *task {
	t := c.tasks[0]
	c.tasks[0] = nil
	c.tasks = c.tasks[1:]
	return t
}
