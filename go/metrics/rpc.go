package metrics

import (
	"context"
	"strings"
	"time"

	"github.com/golang/glog"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/status"
)

// The gRPC servers of a node, measured under Ray's names: every call and stream started
// (ray_grpc_server_req_new), and of the unary calls, how long each took to handle
// (ray_grpc_server_req_process_time_ms, a histogram), how many finished and how many failed
// (ray_grpc_server_req_finished, ray_grpc_server_req_failed). Method is Ray's form of the name,
// "Service.grpc_server.Method".

// rpcMetrics are a registry's collectors of its gRPC servers' calls.
type rpcMetrics struct {
	started, finished, failed *prometheus.CounterVec
	latency                   *prometheus.HistogramVec
}

// rpcBuckets are the latency histogram's bounds, in milliseconds.
var rpcBuckets = []float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000}

func newRPCMetrics() *rpcMetrics {
	counter := func(name, help string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, []string{"Method"})
	}
	return &rpcMetrics{
		started:  counter("ray_grpc_server_req_new", "gRPC calls and streams started on the node's servers."),
		finished: counter("ray_grpc_server_req_finished", "Unary gRPC calls the node's servers handled."),
		failed:   counter("ray_grpc_server_req_failed", "Unary gRPC calls the node's servers answered with an error."),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "ray_grpc_server_req_process_time_ms",
			Help: "Time the node's gRPC servers took to handle a unary call (ms).", Buckets: rpcBuckets}, []string{"Method"}),
	}
}

// RPCServerOptions returns the interceptors that measure a gRPC server's calls into r (none for
// a nil registry). Put them before the authentication's, so that refused calls count as failed.
func (r *Registry) RPCServerOptions() []grpc.ServerOption {
	if r == nil {
		return nil
	}
	r.mu.Lock()
	if r.rpc == nil {
		m := newRPCMetrics()
		for _, c := range []prometheus.Collector{m.started, m.finished, m.failed, m.latency} {
			if err := r.reg.Register(c); err != nil {
				// (a user metric took the name first; the servers' calls go unmeasured)
				glog.Warningf("metrics: the gRPC servers' metrics: %v", err)
			}
		}
		r.rpc = m
	}
	m := r.rpc
	r.mu.Unlock()
	return []grpc.ServerOption{grpc.ChainUnaryInterceptor(m.unary), grpc.ChainStreamInterceptor(m.stream)}
}

// rpcMethod is Ray's name of a gRPC method: "/goray.rpc.NodePeer/NodeState" is
// "NodePeer.grpc_server.NodeState".
func rpcMethod(full string) string {
	full = strings.TrimPrefix(full, "/")
	i := strings.LastIndexByte(full, '/')
	if i < 0 {
		return full
	}
	service := full[:i]
	if j := strings.LastIndexByte(service, '.'); j >= 0 {
		service = service[j+1:]
	}
	return service + ".grpc_server." + full[i+1:]
}

func (m *rpcMetrics) unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	method := rpcMethod(info.FullMethod)
	m.started.WithLabelValues(method).Inc()
	start := time.Now()
	rep, err := handler(ctx, req)
	m.latency.WithLabelValues(method).Observe(float64(time.Since(start)) / float64(time.Millisecond))
	m.finished.WithLabelValues(method).Inc()
	if status.Code(err) != 0 {
		m.failed.WithLabelValues(method).Inc()
	}
	return rep, err
}

func (m *rpcMetrics) stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	m.started.WithLabelValues(rpcMethod(info.FullMethod)).Inc()
	return handler(srv, ss)
}
