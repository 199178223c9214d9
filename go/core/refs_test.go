package core

import (
	"fmt"
	"reflect"
	"testing"

	"goray/ids"
	"goray/objstore"
	pb "goray/rpc/proto"
)

// The notices a process sends its node about its references: an id the node counts the process
// as holding (put, submitted) is announced only when dropped; any other id when first held and
// when dropped; a direct call's result (markLocal) never, until it is published (takeLocal), from
// when on it is held like a put; a result the node stored for the process (heldByNode) too.
func TestRefNotices(t *testing.T) {
	a, b := ids.NewPutID(), ids.NewPutID()
	type step struct {
		op string // add, remove, markHeld, markLocal, takeLocal, heldByNode
		id ids.ObjectID
	}
	cases := []struct {
		name    string
		steps   []step
		notices []string // "+x" added, "-x" removed (x: a or b)
		taken   []string // what takeLocal returned, in order
		zero    []string // ids released in this process
	}{
		{"a ref to an object the node did not give this process", []step{{"add", a}, {"add", a}, {"remove", a}, {"remove", a}},
			[]string{"+a", "-a"}, nil, []string{"a"}},
		{"a put: held from the message that made it", []step{{"markHeld", a}, {"add", a}, {"remove", a}},
			[]string{"-a"}, nil, []string{"a"}},
		{"a direct call's result never published", []step{{"markLocal", a}, {"add", a}, {"add", a}, {"remove", a}, {"remove", a}},
			nil, nil, []string{"a"}},
		{"a direct call's result published once", []step{{"markLocal", a}, {"add", a}, {"takeLocal", a}, {"takeLocal", a}, {"add", a}, {"remove", a}, {"remove", a}},
			[]string{"-a"}, []string{"a"}, []string{"a"}},
		{"publishing takes local ids only", []step{{"markLocal", a}, {"add", a}, {"add", b}, {"takeLocal", b}, {"takeLocal", a}, {"remove", b}, {"remove", a}},
			[]string{"+b", "-b", "-a"}, []string{"a"}, []string{"b", "a"}},
		{"a large result the node stored for this process", []step{{"markLocal", a}, {"add", a}, {"heldByNode", a}, {"remove", a}},
			[]string{"-a"}, nil, []string{"a"}},
	}
	name := map[ids.ObjectID]string{a: "a", b: "b"}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var notices, taken, zero []string
			r := newRefCounter(func(id ids.ObjectID) { zero = append(zero, name[id]) })
			r.notify = func(added, removed []ids.ObjectID) {
				for _, id := range added {
					notices = append(notices, "+"+name[id])
				}
				for _, id := range removed {
					notices = append(notices, "-"+name[id])
				}
			}
			r.flush = func() {}
			for _, s := range c.steps {
				switch s.op {
				case "add":
					r.add(s.id)
				case "remove":
					r.remove(s.id)
				case "markHeld":
					r.markHeld(s.id)
				case "markLocal":
					r.markLocal(s.id)
				case "takeLocal":
					for _, id := range r.takeLocal([]ids.ObjectID{s.id}) {
						taken = append(taken, name[id])
					}
				case "heldByNode":
					if !r.heldByNode(s.id) {
						t.Fatalf("heldByNode(%s) = false with a reference held", name[s.id])
					}
				default:
					panic(fmt.Sprint("unknown step ", s.op))
				}
			}
			if !reflect.DeepEqual(notices, c.notices) || !reflect.DeepEqual(taken, c.taken) || !reflect.DeepEqual(zero, c.zero) {
				t.Errorf("notices %v, published %v, released %v; want %v, %v, %v", notices, taken, zero, c.notices, c.taken, c.zero)
			}
			if r.heldByNode(a) || r.known(a) {
				t.Errorf("an id every reference dropped is still known")
			}
		})
	}
}

// A process's report of its references (`ray memory`): ObjectRefs of user code apart from the
// process's own holds (arguments of calls in flight, refs inside objects it has), with the size
// of each copy it has.
func TestRefsReport(t *testing.T) {
	cw := newLocal(t, 1, func(*TaskCall) *objstore.Object { return nil })
	inner, err := cw.Put([]byte("inner"), nil)
	if err != nil {
		t.Fatal(err)
	}
	cw.AddRef(inner)
	outer, err := cw.Put([]byte("outer value"), []ids.ObjectID{inner})
	if err != nil {
		t.Fatal(err)
	}
	cw.AddRef(outer)
	cw.RemoveRef(inner) // (now only outer holds it)
	inFlight := ids.NewTaskID().ReturnID(1)
	cw.AddRef(inFlight)
	cw.AddRef(inFlight)
	cw.refs.add(inFlight) // (a call in flight takes it as an argument)

	got := map[ids.ObjectID]*pb.ObjectRefInfo{}
	for _, r := range cw.refsReport() {
		id, _ := ids.ObjectIDFromBytes(r.ObjectId)
		got[id] = r
	}
	cases := []struct {
		name                   string
		id                     ids.ObjectID
		local, submitted, size int64
		holders                int
		ready                  bool
	}{
		{"a ref held only inside another object", inner, 0, 0, 5, 1, true},
		{"an object user code refers to", outer, 1, 0, 11, 0, true},
		{"a result not here yet, also an argument in flight", inFlight, 2, 1, -1, 0, false},
	}
	for _, c := range cases {
		r := got[c.id]
		if r == nil {
			t.Errorf("%s: not reported", c.name)
			continue
		}
		if r.LocalRefCount != c.local || r.SubmittedTaskRefCount != c.submitted || r.ObjectSize != c.size || len(r.ContainedInOwned) != c.holders || r.Ready != c.ready {
			t.Errorf("%s: %+v", c.name, r)
		}
	}
	if len(got) != 3 {
		t.Errorf("3 objects, not %d", len(got))
	}
	if h := got[inner].GetContainedInOwned(); len(h) == 1 && string(h[0]) != string(outer[:]) {
		t.Errorf("inner is held by outer, not %x", h[0])
	}
}
