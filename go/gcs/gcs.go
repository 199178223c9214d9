// Package gcs is the control store of a goray cluster: its nodes, job ids and a small key-value
// store, served over gRPC. On the embedded node it runs as goroutines inside the driver.
package gcs

import (
	"context"
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

	grpcServer *grpc.Server
	listener   net.Listener
	socketPath string
	serveDone  chan struct{}
}

// New returns an empty control store.
func New() *Server {
	return &Server{nodes: map[string]*pb.NodeInfo{}, kv: map[string]map[string][]byte{}, nextJobID: 1}
}

// Serve listens on the unix socket path and serves until Stop.
func (s *Server) Serve(socketPath string) error {
	_ = os.Remove(socketPath)
	lis, err := peercred.Listen(socketPath)
	if err != nil {
		return fmt.Errorf("control store: listen on %s: %w", socketPath, err)
	}
	s.listener = lis
	s.socketPath = socketPath
	s.grpcServer = grpc.NewServer()
	pb.RegisterControlStoreServer(s.grpcServer, s)
	s.serveDone = make(chan struct{})
	go func() {
		defer close(s.serveDone)
		if err := s.grpcServer.Serve(lis); err != nil {
			glog.Errorf("control store stopped serving: %v", err)
		}
	}()
	glog.Infof("control store listening on %s", socketPath)
	return nil
}

// Stop ends serving and removes the socket.
func (s *Server) Stop() {
	if s.grpcServer == nil {
		return
	}
	s.grpcServer.Stop()
	<-s.serveDone
	_ = os.Remove(s.socketPath)
	s.grpcServer = nil
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
	n.Alive = false
	return &pb.UnregisterNodeReply{}, nil
}

// GetAllNodes lists the nodes, ordered by start time.
func (s *Server) GetAllNodes(context.Context, *pb.GetAllNodesRequest) (*pb.GetAllNodesReply, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	reply := &pb.GetAllNodesReply{}
	for _, n := range s.nodes {
		reply.Nodes = append(reply.Nodes, n)
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

// NextJobID hands out job ids, one per driver.
func (s *Server) NextJobID(context.Context, *pb.NextJobIDRequest) (*pb.NextJobIDReply, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := s.nextJobID
	s.nextJobID++
	return &pb.NextJobIDReply{JobId: id}, nil
}
