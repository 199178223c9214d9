package raylet

import (
	"sort"
	"strconv"
	"strings"
)

// schedClass is the ready tasks of one resource shape, in arrival order. Scheduling looks at each
// class once, not at each task, so a long queue costs nothing per scheduling pass.
type schedClass struct {
	resources  map[string]float64
	tasks      []*task
	infeasible bool // needs more than the node has in total (warned once)
}

// readyQueue holds the tasks whose arguments exist, by scheduling class.
type readyQueue struct {
	classes map[string]*schedClass
	order   []*schedClass // in order of first appearance
}

func newReadyQueue() *readyQueue {
	return &readyQueue{classes: map[string]*schedClass{}}
}

// classKey is the canonical form of a resource shape.
func classKey(res map[string]float64) string {
	keys := make([]string, 0, len(res))
	for k := range res {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(strconv.FormatFloat(res[k], 'g', -1, 64))
		b.WriteByte(';')
	}
	return b.String()
}

func (q *readyQueue) class(t *task) *schedClass {
	if t.class == nil {
		key := classKey(t.resources)
		c := q.classes[key]
		if c == nil {
			c = &schedClass{resources: t.resources}
			q.classes[key] = c
			q.order = append(q.order, c)
		}
		t.class = c
	}
	return t.class
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
