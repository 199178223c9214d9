package gcs

import (
	"context"
	"encoding/hex"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/golang/glog"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	pb "goray/rpc/proto"
)

// The control store's job table (Ray's): a record of each driver that joined the cluster, which
// the driver's node adds when the driver attaches (AddJob) and ends when it leaves
// (MarkJobFinished), or which ends when that node dies. The node sends both at once from
// goroutines of their own, so either may come first: an end that comes first leaves a mark that
// the record, when it comes, ends at once.

// maxJobRecords bounds the table: past it, the records of the jobs that ended longest ago go;
// when every record is of a live job, a new one is refused.
const maxJobRecords = 10000

// Bounds of what a node tells of a driver.
const (
	maxEntrypoint   = 1024
	maxSubmissionID = 256
	maxNamespace    = 1024
)

// NextJobID hands out job ids, one per driver.
func (s *Server) NextJobID(context.Context, *pb.NextJobIDRequest) (*pb.NextJobIDReply, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := s.nextJobID
	s.nextJobID++
	return &pb.NextJobIDReply{JobId: id}, nil
}

// validJobID checks a job id: 8 hex digits, as NextJobID's are printed.
func validJobID(id string) error {
	if _, err := hex.DecodeString(id); err != nil || len(id) != 8 {
		return status.Errorf(codes.InvalidArgument, "job id %q: 8 hex digits are needed", id)
	}
	return nil
}

// cutText cuts s to at most n bytes of valid UTF-8 (a cut one ends in "...").
func cutText(s string, n int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}

// AddJob records a driver's job, as its node tells it.
func (s *Server) AddJob(_ context.Context, req *pb.AddJobRequest) (*pb.AddJobReply, error) {
	j := req.GetJob()
	if j == nil {
		return nil, status.Error(codes.InvalidArgument, "AddJob: no job")
	}
	if err := validJobID(j.JobId); err != nil {
		return nil, err
	}
	switch {
	case len(j.SubmissionId) > maxSubmissionID:
		return nil, status.Errorf(codes.InvalidArgument, "AddJob: a submission id of %d bytes (at most %d)", len(j.SubmissionId), maxSubmissionID)
	case len(j.Namespace) > maxNamespace:
		return nil, status.Errorf(codes.InvalidArgument, "AddJob: a namespace of %d bytes (at most %d)", len(j.Namespace), maxNamespace)
	}
	if err := validNodeID(j.DriverNodeId); err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "AddJob: %v", err)
	}
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.jobs[j.JobId]
	if old == nil && s.trimJobs() {
		return nil, status.Errorf(codes.ResourceExhausted, "AddJob: the job table holds %d live jobs, the most it keeps", maxJobRecords)
	}
	rec := &pb.JobInfo{JobId: j.JobId, DriverPid: j.DriverPid, DriverNodeId: j.DriverNodeId, DriverIp: j.DriverIp,
		Entrypoint: cutText(j.Entrypoint, maxEntrypoint), Namespace: j.Namespace, SubmissionId: j.SubmissionId, StartTimeMs: now.UnixMilli()}
	n := s.nodes[string(j.DriverNodeId)]
	if rec.DriverIp == "" && n != nil {
		rec.DriverIp = n.Address
	}
	switch {
	case old != nil && old.StartTimeMs != 0:
		rec.StartTimeMs, rec.IsDead, rec.EndTimeMs = old.StartTimeMs, old.IsDead, old.EndTimeMs // (told twice)
	case old != nil:
		rec.IsDead, rec.EndTimeMs = true, old.EndTimeMs // (its end came first)
	case n != nil && !n.Alive:
		rec.IsDead, rec.EndTimeMs = true, rec.StartTimeMs // (its node is gone already)
	}
	s.jobs[rec.JobId] = rec
	return &pb.AddJobReply{}, nil
}

// MarkJobFinished records that a job's driver left.
func (s *Server) MarkJobFinished(_ context.Context, req *pb.MarkJobFinishedRequest) (*pb.MarkJobFinishedReply, error) {
	if err := validJobID(req.JobId); err != nil {
		return nil, err
	}
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	rec := s.jobs[req.JobId]
	if rec == nil {
		// The end came before the record: a mark (no start time), which AddJob completes.
		if s.trimJobs() {
			return nil, status.Errorf(codes.ResourceExhausted, "MarkJobFinished: the job table holds %d live jobs, the most it keeps", maxJobRecords)
		}
		rec = &pb.JobInfo{JobId: req.JobId}
		s.jobs[rec.JobId] = rec
	}
	s.jobEnded(rec, now)
	return &pb.MarkJobFinishedReply{}, nil
}

// GetAllJobs lists the drivers' jobs (those of a job id, or of a submission id, when asked),
// oldest first.
func (s *Server) GetAllJobs(_ context.Context, req *pb.GetAllJobsRequest) (*pb.GetAllJobsReply, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rep := &pb.GetAllJobsReply{}
	add := func(j *pb.JobInfo) {
		if j != nil && j.StartTimeMs != 0 && (req.SubmissionId == "" || j.SubmissionId == req.SubmissionId) {
			rep.Jobs = append(rep.Jobs, proto.Clone(j).(*pb.JobInfo))
		}
	}
	if req.JobId != "" {
		add(s.jobs[req.JobId])
		return rep, nil
	}
	for _, j := range s.jobs {
		add(j)
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

// trimJobs makes room for one more record: when the table is full, the records of the jobs that
// ended longest ago go, a tenth of the table at once (not a sort per new job). It reports true
// when there is no room (every record is of a live job). Called with s.mu held.
func (s *Server) trimJobs() (full bool) {
	if len(s.jobs) < maxJobRecords {
		return false
	}
	var ended []*pb.JobInfo
	for _, rec := range s.jobs {
		if rec.IsDead {
			ended = append(ended, rec)
		}
	}
	sort.Slice(ended, func(i, j int) bool { return ended[i].EndTimeMs < ended[j].EndTimeMs })
	for _, rec := range ended {
		if len(s.jobs) <= maxJobRecords-maxJobRecords/10 {
			break
		}
		delete(s.jobs, rec.JobId)
	}
	return len(s.jobs) >= maxJobRecords
}
