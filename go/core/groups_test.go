package core

import (
	"testing"

	"goray/placement"
)

// The states a node tells a process of the groups it created: Wait answers from them once, when
// the group is known CREATED; the process's own removal and a REMOVED state forget the group;
// states of groups the process did not create (or forgot) are not kept.
func TestGroupStatesShown(t *testing.T) {
	type step struct {
		do    string // "create", "show", "remove", "wait"
		id    string
		state int32
		want  bool // wait: answered from what the node told
	}
	cases := []struct {
		name  string
		steps []step
	}{
		{"created, waited twice", []step{{do: "create", id: "g"}, {do: "show", id: "g", state: placement.Created},
			{do: "wait", id: "g", want: true}, {do: "wait", id: "g", want: false}}},
		{"pending", []step{{do: "create", id: "g"}, {do: "wait", id: "g", want: false}}},
		{"rescheduling", []step{{do: "create", id: "g"}, {do: "show", id: "g", state: placement.Created},
			{do: "show", id: "g", state: placement.Rescheduling}, {do: "wait", id: "g", want: false}}},
		{"removed here", []step{{do: "create", id: "g"}, {do: "show", id: "g", state: placement.Created},
			{do: "remove", id: "g"}, {do: "show", id: "g", state: placement.Created}, {do: "wait", id: "g", want: false}}},
		{"removed elsewhere", []step{{do: "create", id: "g"}, {do: "show", id: "g", state: placement.Removed},
			{do: "show", id: "g", state: placement.Created}, {do: "wait", id: "g", want: false}}},
		{"not this process's", []step{{do: "show", id: "h", state: placement.Created}, {do: "wait", id: "h", want: false}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := &nodeBackend{}
			for i, s := range c.steps {
				switch s.do {
				case "create":
					b.setGroupState(s.id, placement.Pending, true)
				case "show":
					b.groupStateShown(s.id, s.state)
				case "remove":
					b.setGroupState(s.id, placement.Removed, false)
				case "wait":
					if got := b.groupCreated(s.id); got != s.want {
						t.Errorf("step %d: wait answered from the node's word: %v, want %v", i, got, s.want)
					}
				}
			}
			if len(b.groupStates) > 1 {
				t.Errorf("kept %v", b.groupStates)
			}
		})
	}
}
