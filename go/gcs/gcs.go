// Package gcs is the control store of a goray cluster: its nodes, job ids and a small key-value
// store, served over gRPC. On the embedded node it runs as goroutines inside the driver.
package gcs

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/golang/glog"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"goray/placement"
	"goray/resources"
	"goray/rpc/peercred"
	pb "goray/rpc/proto"
)

// Server holds the control store's state and implements pb.ControlStoreServer.
type Server struct {
	pb.UnimplementedControlStoreServer

	mu        sync.Mutex
	nodes     map[string]*pb.NodeInfo
	kv        map[string]map[string][]byte
	nextJobID uint32
	jobs      map[string]*pb.JobInfo // the drivers' jobs, by id (jobs.go)
	health    Health
	codeDir   string // the code store (see code.go); "" for none
	groups    *placement.Directory

	servers    []*grpc.Server
	socketPath string
	serveDone  sync.WaitGroup
	stopSweep  chan struct{}
	stopOnce   sync.Once
}

// New returns an empty control store.
func New() *Server {
	return &Server{nodes: map[string]*pb.NodeInfo{}, kv: map[string]map[string][]byte{}, nextJobID: 1, jobs: map[string]*pb.JobInfo{},
		health: HealthFromEnv(), stopSweep: make(chan struct{}), groups: placement.NewDirectory()}
}

// Serve listens on the unix socket path (only this user's processes may connect) and serves
// until Stop, with opts (authentication) on every call.
func (s *Server) Serve(socketPath string, opts ...grpc.ServerOption) error {
	_ = os.Remove(socketPath)
	lis, err := peercred.Listen(socketPath)
	if err != nil {
		return fmt.Errorf("control store: listen on %s: %w", socketPath, err)
	}
	s.socketPath = socketPath
	s.serve(lis, opts)
	glog.Infof("control store listening on %s", socketPath)
	return nil
}

// ServeTCP listens on addr (host:port; port 0 picks a free one) and serves until Stop, with opts
// (authentication, TLS) on every call. It returns the address it listens on.
func (s *Server) ServeTCP(addr string, opts ...grpc.ServerOption) (net.Addr, error) {
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("control store: listen on %s: %w", addr, err)
	}
	s.serve(lis, opts)
	glog.Infof("control store listening on %s", lis.Addr())
	return lis.Addr(), nil
}

func (s *Server) serve(lis net.Listener, opts []grpc.ServerOption) {
	srv := grpc.NewServer(opts...)
	pb.RegisterControlStoreServer(srv, s)
	s.servers = append(s.servers, srv)
	s.serveDone.Add(1)
	go func() {
		defer s.serveDone.Done()
		if err := srv.Serve(lis); err != nil && !errors.Is(err, grpc.ErrServerStopped) { // (stopped before it served: a quick Stop)
			glog.Errorf("control store stopped serving: %v", err)
		}
	}()
}

// Stop ends serving (and the health checks) and removes the socket.
func (s *Server) Stop() {
	s.stopOnce.Do(func() { close(s.stopSweep) })
	for _, srv := range s.servers {
		srv.Stop()
	}
	s.serveDone.Wait()
	s.servers = nil
	if s.socketPath != "" {
		_ = os.Remove(s.socketPath)
	}
}

// RegisterNode adds or replaces a node. The node's id, address, resources and start time are
// validated first (validNode); a node that fails is refused with codes.InvalidArgument and the
// store is left as it was.
func (s *Server) RegisterNode(_ context.Context, req *pb.RegisterNodeRequest) (*pb.RegisterNodeReply, error) {
	n := req.GetNode()
	if n == nil {
		return nil, status.Error(codes.InvalidArgument, "RegisterNode needs a node")
	}
	if err := validNode(n, time.Now()); err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "RegisterNode: %v", err)
	}
	n.Alive = true
	n.DeathCause = ""
	n.LastReportMs = time.Now().UnixMilli()
	if n.Available == nil {
		n.Available = n.Resources
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nodes[string(n.NodeId)] = n
	glog.Infof("control store: node %x registered at %s with %v", n.NodeId, n.Address, n.Resources)
	return &pb.RegisterNodeReply{}, nil
}

// UnregisterNode marks a node dead.
func (s *Server) UnregisterNode(_ context.Context, req *pb.UnregisterNodeRequest) (*pb.UnregisterNodeReply, error) {
	if err := validNodeID(req.NodeId); err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "UnregisterNode: %v", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n, ok := s.nodes[string(req.NodeId)]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "no node %x", req.NodeId)
	}
	if n.Alive {
		n.Alive = false
		n.DeathCause = "the node was stopped"
		s.nodeDied(n)
	}
	return &pb.UnregisterNodeReply{}, nil
}

// GetAllNodes lists the nodes, ordered by start time.
func (s *Server) GetAllNodes(context.Context, *pb.GetAllNodesRequest) (*pb.GetAllNodesReply, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	reply := &pb.GetAllNodesReply{}
	for _, n := range s.nodes {
		reply.Nodes = append(reply.Nodes, proto.Clone(n).(*pb.NodeInfo)) // (reports change them meanwhile)
	}
	sort.Slice(reply.Nodes, func(i, j int) bool { return reply.Nodes[i].StartTimeMs < reply.Nodes[j].StartTimeMs })
	return reply, nil
}

// KVPut stores a value; without overwrite an existing key is kept and added is false.
func (s *Server) KVPut(_ context.Context, req *pb.KVPutRequest) (*pb.KVPutReply, error) {
	if err := validKVKey(req.Namespace, req.Key); err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "KVPut: %v", err)
	}
	if len(req.Value) > MaxKVValueBytes {
		return nil, status.Errorf(codes.InvalidArgument, "KVPut: the value of key %q is %d bytes: values must be at most %d bytes", truncate(req.Key), len(req.Value), MaxKVValueBytes)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ns := s.kv[req.Namespace]
	if ns == nil {
		ns = map[string][]byte{}
		s.kv[req.Namespace] = ns
	}
	if _, exists := ns[req.Key]; exists && !req.Overwrite {
		return &pb.KVPutReply{Added: false}, nil
	}
	ns[req.Key] = append([]byte(nil), req.Value...)
	return &pb.KVPutReply{Added: true}, nil
}

// KVGet reads a value.
func (s *Server) KVGet(_ context.Context, req *pb.KVGetRequest) (*pb.KVGetReply, error) {
	if err := validKVKey(req.Namespace, req.Key); err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "KVGet: %v", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.kv[req.Namespace][req.Key]
	return &pb.KVGetReply{Found: ok, Value: v}, nil
}

// ReportNode takes a node's periodic report: it is alive, what it has in total (when it says)
// and what it has free. A node the store holds dead (or never had) is told so: it must register
// again.
func (s *Server) ReportNode(_ context.Context, req *pb.ReportNodeRequest) (*pb.ReportNodeReply, error) {
	if err := validNodeID(req.NodeId); err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "ReportNode: %v", err)
	}
	what := fmt.Sprintf("node %x", req.NodeId)
	if err := resources.Validate(what+" available", req.Available, resources.Total); err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "ReportNode: %v", err)
	}
	if err := resources.Validate(what+" totals", req.Total, resources.Total); err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "ReportNode: %v", err)
	}
	if len(req.Demands) > maxDemands {
		return nil, status.Errorf(codes.InvalidArgument, "ReportNode: %s reports %d demands, at most %d", what, len(req.Demands), maxDemands)
	}
	for _, d := range req.Demands {
		if err := resources.Validate(what+" demand", d.Shape, resources.Total); err != nil || d.Count < 0 {
			return nil, status.Errorf(codes.InvalidArgument, "ReportNode: %s: a bad demand (%v, count %d)", what, err, d.Count)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n, ok := s.nodes[string(req.NodeId)]
	if !ok || !n.Alive {
		return &pb.ReportNodeReply{Dead: true}, nil
	}
	n.LastReportMs = time.Now().UnixMilli()
	if len(req.Total) > 0 {
		n.Resources = req.Total
	}
	n.Available = req.Available
	n.Demands = req.Demands
	rep := &pb.ReportNodeReply{}
	for _, other := range s.nodes {
		rep.Nodes = append(rep.Nodes, proto.Clone(other).(*pb.NodeInfo))
	}
	return rep, nil
}

// maxDemands bounds the resource shapes a node reports.
const maxDemands = 1000

// SweepHealth marks dead, at now, the nodes that missed their health checks (all but the head's,
// which runs in the store's own process); it returns the nodes it marked.
func (s *Server) SweepHealth(now time.Time) []*pb.NodeInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	var dead []*pb.NodeInfo
	for _, n := range s.nodes {
		if !n.Alive || n.IsHead {
			continue // (the head's node lives in this process: it is alive while the store is)
		}
		if cause := s.health.Dead(time.UnixMilli(n.LastReportMs), now); cause != "" {
			n.Alive = false
			n.DeathCause = cause
			glog.Warningf("control store: node %x at %s is dead: %s", n.NodeId, n.Address, cause)
			s.nodeDied(n)
			dead = append(dead, n)
		}
	}
	return dead
}

// RunHealthChecks sweeps the nodes every health-check period until Stop.
func (s *Server) RunHealthChecks() {
	s.serveDone.Add(1)
	go func() {
		defer s.serveDone.Done()
		t := time.NewTicker(s.health.Period)
		defer t.Stop()
		for {
			select {
			case <-s.stopSweep:
				return
			case now := <-t.C:
				s.SweepHealth(now)
			}
		}
	}()
}

// KVDel deletes a key, only while its value is req.IfValue when that is set.
func (s *Server) KVDel(_ context.Context, req *pb.KVDelRequest) (*pb.KVDelReply, error) {
	if err := validKVKey(req.Namespace, req.Key); err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "KVDel: %v", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.kv[req.Namespace][req.Key]
	if !ok || (len(req.IfValue) > 0 && string(v) != string(req.IfValue)) {
		return &pb.KVDelReply{}, nil
	}
	delete(s.kv[req.Namespace], req.Key)
	return &pb.KVDelReply{Deleted: true}, nil
}
