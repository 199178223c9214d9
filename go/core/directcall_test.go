package core

import (
	"strings"
	"testing"

	"goray/ids"
	pb "goray/rpc/proto"
)

// When a stream to an actor breaks while calls taken for it are being sent, two things put calls
// back in the queue: the stream's end (the calls in flight that may go to the next incarnation)
// and the failed send (the calls it did not send). Whichever comes first, the queue ends up with
// each call once, in the order they were submitted.
func TestActorCallsRequeuedOnceInOrder(t *testing.T) {
	cases := []struct {
		name       string
		loseFirst  bool
		maxRetries int
		want       string // the queue after both: calls by name
	}{
		{"the stream's end first", true, -1, "a b c d"},
		{"the failed send first", false, -1, "a b c d"},
		{"the stream's end first, no retries: the calls taken fail with it", true, 0, "d"},
		{"the failed send first, no retries: the calls not sent go on", false, 0, "b c d"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// a, b and c were taken for the stream (a was sent, b and c not yet); d waits.
			spec := map[string]*pb.TaskSpec{}
			name := map[*pb.TaskSpec]string{}
			inflight := map[ids.ObjectID]sentCall{}
			for i, n := range []string{"a", "b", "c", "d"} {
				ret := ids.NewTaskID().ReturnID(1)
				spec[n] = &pb.TaskSpec{ReturnId: ret[:], FunctionName: n}
				name[spec[n]] = n
				if n != "d" {
					inflight[ret] = sentCall{spec[n], uint64(i + 1)}
				}
			}
			queue := []*pb.TaskSpec{spec["d"]}
			lose := func() { queue, _, _ = endInflight(inflight, tc.maxRetries, queue) }
			if tc.loseFirst {
				lose()
			}
			queue = requeueUnsent(inflight, []*pb.TaskSpec{spec["b"], spec["c"]}, queue)
			if !tc.loseFirst {
				lose()
			}
			var got []string
			for _, s := range queue {
				got = append(got, name[s])
			}
			if g := strings.Join(got, " "); g != tc.want {
				t.Errorf("queue %q, want %q", g, tc.want)
			}
		})
	}
}
