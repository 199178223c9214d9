package gcs

import (
	"context"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"goray/ids"
	pb "goray/rpc/proto"
)

// The job table: a node adds its driver's job and ends it when the driver leaves, in either
// order; a node's death ends its drivers' jobs; listed oldest first, by job or submission id.
func TestJobTable(t *testing.T) {
	s := New()
	ctx := context.Background()
	if _, err := s.RegisterNode(ctx, &pb.RegisterNodeRequest{Node: &pb.NodeInfo{NodeId: nodeID(1), Address: "127.0.0.2", Alive: true,
		StartTimeMs: time.Now().UnixMilli()}}); err != nil {
		t.Fatal(err)
	}
	add := func(j *pb.JobInfo) {
		t.Helper()
		if _, err := s.AddJob(ctx, &pb.AddJobRequest{Job: j}); err != nil {
			t.Fatal(err)
		}
	}
	end := func(id string) {
		t.Helper()
		if _, err := s.MarkJobFinished(ctx, &pb.MarkJobFinishedRequest{JobId: id}); err != nil {
			t.Fatal(err)
		}
	}
	list := func(f *pb.GetAllJobsRequest) map[string]*pb.JobInfo {
		t.Helper()
		rep, err := s.GetAllJobs(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]*pb.JobInfo{}
		for i, j := range rep.Jobs {
			if i > 0 && rep.Jobs[i-1].StartTimeMs > j.StartTimeMs {
				t.Error("oldest first")
			}
			out[j.JobId] = j
		}
		return out
	}
	a, b, c := ids.JobIDHex(1), ids.JobIDHex(2), ids.JobIDHex(3)
	add(&pb.JobInfo{JobId: a, DriverPid: 10, DriverNodeId: nodeID(1), Entrypoint: "./a", SubmissionId: "sub-a",
		IsDead: true, EndTimeMs: 5, StartTimeMs: 1}) // (the store sets those)
	end(b) // (b's end comes before its record)
	if got := list(&pb.GetAllJobsRequest{}); len(got) != 1 {
		t.Errorf("an end without its record is not listed: %v", got)
	}
	add(&pb.JobInfo{JobId: b, DriverPid: 11, DriverNodeId: nodeID(2), Entrypoint: strings.Repeat("é", 2000)})
	add(&pb.JobInfo{JobId: c, DriverPid: 12, DriverNodeId: nodeID(2)})

	all := list(&pb.GetAllJobsRequest{})
	ja, jb, jc := all[a], all[b], all[c]
	if len(all) != 3 || ja == nil || jb == nil || jc == nil {
		t.Fatalf("three records: %v", all)
	}
	if ja.IsDead || ja.EndTimeMs != 0 || ja.StartTimeMs < 1000 || ja.DriverIp != "127.0.0.2" || ja.SubmissionId != "sub-a" {
		t.Errorf("a's record: its times the store's, its IP its node's: %v", ja)
	}
	if !jb.IsDead || jb.EndTimeMs == 0 || jc.IsDead {
		t.Errorf("b ended before it was added; c lives: %v %v", jb, jc)
	}
	if len(jb.Entrypoint) > maxEntrypoint+3 || !utf8.ValidString(jb.Entrypoint) {
		t.Errorf("a long command line is cut on a character: %d bytes, valid %v", len(jb.Entrypoint), utf8.ValidString(jb.Entrypoint))
	}
	if got := list(&pb.GetAllJobsRequest{SubmissionId: "sub-a"}); len(got) != 1 || got[a] == nil {
		t.Errorf("by submission id: %v", got)
	}
	if got := list(&pb.GetAllJobsRequest{JobId: c}); len(got) != 1 || got[c] == nil {
		t.Errorf("by job id: %v", got)
	}
	if got := list(&pb.GetAllJobsRequest{JobId: "ffffffff"}); len(got) != 0 {
		t.Errorf("an unknown job id: %v", got)
	}

	if _, err := s.UnregisterNode(ctx, &pb.UnregisterNodeRequest{NodeId: nodeID(1)}); err != nil {
		t.Fatal(err)
	}
	all = list(&pb.GetAllJobsRequest{})
	if !all[a].IsDead || all[a].EndTimeMs == 0 || all[c].IsDead {
		t.Errorf("a's node died: a ended, c lives: %v", all)
	}
	endA := all[a].EndTimeMs
	end(a)
	add(&pb.JobInfo{JobId: a, DriverNodeId: nodeID(1)}) // (told twice)
	if j := list(&pb.GetAllJobsRequest{JobId: a})[a]; j.EndTimeMs != endA || !j.IsDead {
		t.Errorf("a job ends once: %v", j)
	}
	// A driver of a node that is dead already is over from the start.
	d := ids.JobIDHex(4)
	add(&pb.JobInfo{JobId: d, DriverNodeId: nodeID(1)})
	if !list(&pb.GetAllJobsRequest{JobId: d})[d].IsDead {
		t.Error("a job of a dead node")
	}

	for _, bad := range []*pb.JobInfo{
		nil,
		{JobId: "nothex!!", DriverNodeId: nodeID(1)},
		{JobId: "0100", DriverNodeId: nodeID(1)},
		{JobId: a, SubmissionId: strings.Repeat("s", maxSubmissionID+1), DriverNodeId: nodeID(1)},
		{JobId: a, Namespace: strings.Repeat("n", maxNamespace+1), DriverNodeId: nodeID(1)},
		{JobId: a, DriverNodeId: []byte{1, 2}},
	} {
		if _, err := s.AddJob(ctx, &pb.AddJobRequest{Job: bad}); status.Code(err) != codes.InvalidArgument {
			t.Errorf("%v: %v", bad, err)
		}
	}
	if _, err := s.MarkJobFinished(ctx, &pb.MarkJobFinishedRequest{JobId: "x"}); status.Code(err) != codes.InvalidArgument {
		t.Errorf("a bad job id to end: %v", err)
	}
}

// The table keeps at most maxJobRecords: the jobs that ended longest ago go first (a tenth of the
// table at once); live ones stay, and a table full of live jobs refuses more.
func TestJobTableBound(t *testing.T) {
	s := New()
	ctx := context.Background()
	for i := uint32(1); i <= maxJobRecords; i++ {
		if _, err := s.AddJob(ctx, &pb.AddJobRequest{Job: &pb.JobInfo{JobId: ids.JobIDHex(i), DriverNodeId: nodeID(1)}}); err != nil {
			t.Fatal(err)
		}
		if i <= 2000 {
			rec := s.jobs[ids.JobIDHex(i)]
			rec.IsDead, rec.EndTimeMs = true, int64(100000-i) // (the later added, the earlier ended)
		}
	}
	if _, err := s.AddJob(ctx, &pb.AddJobRequest{Job: &pb.JobInfo{JobId: ids.JobIDHex(maxJobRecords + 1), DriverNodeId: nodeID(1)}}); err != nil {
		t.Fatal(err)
	}
	if len(s.jobs) != maxJobRecords-maxJobRecords/10+1 {
		t.Fatalf("%d records", len(s.jobs))
	}
	if _, kept := s.jobs[ids.JobIDHex(1)]; !kept {
		t.Error("the job that ended last stays")
	}
	if _, kept := s.jobs[ids.JobIDHex(2000)]; kept {
		t.Error("the job that ended first goes")
	}
	for i := uint32(maxJobRecords + 2); len(s.jobs) < maxJobRecords; i++ {
		s.jobs[ids.JobIDHex(i)] = &pb.JobInfo{JobId: ids.JobIDHex(i), StartTimeMs: 1}
	}
	for id, rec := range s.jobs {
		if rec.IsDead {
			delete(s.jobs, id)
			s.jobs[id] = &pb.JobInfo{JobId: id, StartTimeMs: 1} // (all live now)
		}
	}
	if _, err := s.AddJob(ctx, &pb.AddJobRequest{Job: &pb.JobInfo{JobId: "ffffffff", DriverNodeId: nodeID(1)}}); status.Code(err) != codes.ResourceExhausted {
		t.Errorf("a table full of live jobs: %v", err)
	}
}
