package raylet

import (
	"testing"

	pb "goray/rpc/proto"
)

// A client's request for the cluster's nodes is answered from the control store, off the node's
// lock: the node asks for it as an effect naming the client and its request.
func TestGetNodesIsAnEffect(t *testing.T) {
	h := newHarness(t, map[string]float64{"CPU": 1})
	d := h.driver()
	h.takeEffects()
	h.send(d, &pb.ClientMessage{Body: &pb.ClientMessage_GetNodes{GetNodes: &pb.GetNodes{RequestId: 7}}})
	lists := h.takeEffects().nodeLists
	if len(lists) != 1 || lists[0].c != d.c || lists[0].requestID != 7 {
		t.Fatalf("node lists %+v, want one for the driver's request 7", lists)
	}
	if got := d.out.take(); len(got) != 0 {
		t.Errorf("answered at once: %v", got)
	}
}
