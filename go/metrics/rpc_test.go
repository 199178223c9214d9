package metrics

import (
	"context"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// The gRPC servers' calls under Ray's names: each call started, finished and (with an error)
// failed, its handling time in a histogram, by Ray's form of the method's name; streams counted
// as they start.
func TestRPCMetrics(t *testing.T) {
	r := NewRegistry()
	opts := r.RPCServerOptions()
	if len(opts) != 2 || len(r.RPCServerOptions()) != 2 {
		t.Fatalf("the interceptors, once registered: %d", len(opts))
	}
	if (*Registry)(nil).RPCServerOptions() != nil {
		t.Error("a nil registry measures nothing")
	}
	m := r.rpc
	calls := []struct {
		method string
		err    error
	}{
		{"/goray.rpc.NodePeer/NodeState", nil},
		{"/goray.rpc.NodePeer/NodeState", nil},
		{"/goray.rpc.NodePeer/NodeState", status.Error(codes.Unauthenticated, "no token")},
		{"/goray.rpc.ControlStore/GetAllNodes", nil},
	}
	for _, c := range calls {
		_, err := m.unary(context.Background(), nil, &grpc.UnaryServerInfo{FullMethod: c.method},
			func(context.Context, any) (any, error) { return nil, c.err })
		if err != c.err {
			t.Errorf("%s: the handler's error is the call's: %v", c.method, err)
		}
	}
	_ = m.stream(nil, nil, &grpc.StreamServerInfo{FullMethod: "/goray.rpc.NodeManager/Connect"}, func(any, grpc.ServerStream) error { return nil })
	body := scrape(t, r)
	for _, want := range []string{
		`ray_grpc_server_req_new{Method="NodePeer.grpc_server.NodeState"} 3`,
		`ray_grpc_server_req_finished{Method="NodePeer.grpc_server.NodeState"} 3`,
		`ray_grpc_server_req_failed{Method="NodePeer.grpc_server.NodeState"} 1`,
		`ray_grpc_server_req_process_time_ms_count{Method="NodePeer.grpc_server.NodeState"} 3`,
		`ray_grpc_server_req_process_time_ms_bucket{Method="ControlStore.grpc_server.GetAllNodes",le="+Inf"} 1`,
		`ray_grpc_server_req_new{Method="NodeManager.grpc_server.Connect"} 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the scrape lacks %s:\n%s", want, body)
		}
	}
	if strings.Contains(body, `ray_grpc_server_req_failed{Method="ControlStore`) {
		t.Errorf("a call that succeeded counted as failed:\n%s", body)
	}
}

func TestRPCMethodName(t *testing.T) {
	for in, want := range map[string]string{
		"/goray.rpc.NodePeer/NodeState": "NodePeer.grpc_server.NodeState",
		"/Svc/Do":                       "Svc.grpc_server.Do",
		"odd":                           "odd",
	} {
		if got := rpcMethod(in); got != want {
			t.Errorf("%q: %q, not %q", in, got, want)
		}
	}
}
