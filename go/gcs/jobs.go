package gcs

import (
	"context"
	"sort"
	"time"

	"github.com/golang/glog"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"goray/ids"
	pb "goray/rpc/proto"
)

// The control store's job table (Ray's): a record of each driver that joined the cluster, from
// the job id it took until its node says it left (MarkJobFinished) or the node dies.

// maxJobRecords bounds the table: past it, the records of the jobs that ended longest ago go.
const maxJobRecords = 10000

// Bounds of what a driver tells of itself.
const (
	maxEntrypoint   = 4096
	maxSubmissionID = 256
	maxNamespace    = 1024
)

// NextJobID hands out job ids, one per driver, and keeps the record of the driver's job.
func (s *Server) NextJobID(_ context.Context, req *pb.NextJobIDRequest) (*pb.NextJobIDReply, error) {
	d := req.GetDriver()
	if d != nil {
		switch {
		case len(d.SubmissionId) > maxSubmissionID:
			return nil, status.Errorf(codes.InvalidArgument, "NextJobID: a submission id of %d bytes (at most %d)", len(d.SubmissionId), maxSubmissionID)
		case len(d.Namespace) > maxNamespace:
			return nil, status.Errorf(codes.InvalidArgument, "NextJobID: a namespace of %d bytes (at most %d)", len(d.Namespace), maxNamespace)
		case len(d.DriverNodeId) > 0 && validNodeID(d.DriverNodeId) != nil:
			return nil, status.Errorf(codes.InvalidArgument, "NextJobID: %v", validNodeID(d.DriverNodeId))
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	id := s.nextJobID
	s.nextJobID++
	if d != nil {
		rec := proto.Clone(d).(*pb.JobInfo)
		if len(rec.Entrypoint) > maxEntrypoint {
			rec.Entrypoint = rec.Entrypoint[:maxEntrypoint] + "..."
		}
		rec.JobId, rec.StartTimeMs, rec.EndTimeMs, rec.IsDead = ids.JobIDHex(id), time.Now().UnixMilli(), 0, false
		if n := s.nodes[string(rec.DriverNodeId)]; n != nil && !n.Alive {
			rec.IsDead, rec.EndTimeMs = true, rec.StartTimeMs // (its node is gone already)
		}
		s.jobs[rec.JobId] = rec
		s.trimJobs()
	}
	return &pb.NextJobIDReply{JobId: id}, nil
}

// MarkJobFinished records that a job's driver left.
func (s *Server) MarkJobFinished(_ context.Context, req *pb.MarkJobFinishedRequest) (*pb.MarkJobFinishedReply, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec := s.jobs[req.JobId]
	if rec == nil {
		return nil, status.Errorf(codes.NotFound, "MarkJobFinished: no job %q", req.JobId)
	}
	s.jobEnded(rec, time.Now())
	return &pb.MarkJobFinishedReply{}, nil
}

// GetAllJobs lists the drivers' jobs, oldest first.
func (s *Server) GetAllJobs(context.Context, *pb.GetAllJobsRequest) (*pb.GetAllJobsReply, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rep := &pb.GetAllJobsReply{Jobs: make([]*pb.JobInfo, 0, len(s.jobs))}
	for _, j := range s.jobs {
		rep.Jobs = append(rep.Jobs, proto.Clone(j).(*pb.JobInfo))
	}
	sort.Slice(rep.Jobs, func(i, j int) bool {
		a, b := rep.Jobs[i], rep.Jobs[j]
		if a.StartTimeMs != b.StartTimeMs {
			return a.StartTimeMs < b.StartTimeMs
		}
		return a.JobId < b.JobId
	})
	return rep, nil
}

// jobEnded marks a job ended at now (once). Called with s.mu held.
func (s *Server) jobEnded(rec *pb.JobInfo, now time.Time) {
	if !rec.IsDead {
		rec.IsDead, rec.EndTimeMs = true, now.UnixMilli()
	}
}

// jobsOfDeadNode ends the jobs whose drivers were attached to a node that died. Called with
// s.mu held.
func (s *Server) jobsOfDeadNode(n *pb.NodeInfo, now time.Time) {
	k := 0
	for _, rec := range s.jobs {
		if !rec.IsDead && string(rec.DriverNodeId) == string(n.NodeId) {
			s.jobEnded(rec, now)
			k++
		}
	}
	if k > 0 {
		glog.Warningf("control store: %d jobs of dead node %x ended", k, n.NodeId)
	}
}

// trimJobs drops the records of the jobs that ended longest ago while the table holds more
// than maxJobRecords. Called with s.mu held.
func (s *Server) trimJobs() {
	if len(s.jobs) <= maxJobRecords {
		return
	}
	var ended []*pb.JobInfo
	for _, rec := range s.jobs {
		if rec.IsDead {
			ended = append(ended, rec)
		}
	}
	sort.Slice(ended, func(i, j int) bool { return ended[i].EndTimeMs < ended[j].EndTimeMs })
	for _, rec := range ended {
		if len(s.jobs) <= maxJobRecords {
			return
		}
		delete(s.jobs, rec.JobId)
	}
}
