package gcs

import (
	"context"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"goray/ids"
	pb "goray/rpc/proto"
)

func hexJob(n uint32) string { return ids.JobIDHex(n) }

// The job table: a record from each driver's job id on; ended when its node says the driver
// left, or when its node dies; listed oldest first.
func TestJobTable(t *testing.T) {
	s := New()
	ctx := context.Background()
	if _, err := s.RegisterNode(ctx, &pb.RegisterNodeRequest{Node: &pb.NodeInfo{NodeId: nodeID(1), Address: "127.0.0.2", Alive: true,
		StartTimeMs: time.Now().UnixMilli()}}); err != nil {
		t.Fatal(err)
	}
	next := func(d *pb.JobInfo) uint32 {
		t.Helper()
		rep, err := s.NextJobID(ctx, &pb.NextJobIDRequest{Driver: d})
		if err != nil {
			t.Fatal(err)
		}
		return rep.JobId
	}
	plain := next(nil)
	a := next(&pb.JobInfo{DriverPid: 10, DriverNodeId: nodeID(1), DriverIp: "127.0.0.2", Entrypoint: "./a", SubmissionId: "sub-a",
		JobId: "forged", IsDead: true, EndTimeMs: 5}) // (the store sets those)
	time.Sleep(2 * time.Millisecond)
	b := next(&pb.JobInfo{DriverPid: 11, DriverNodeId: nodeID(2), Entrypoint: strings.Repeat("x", 5000)})
	jobs := func() map[string]*pb.JobInfo {
		rep, err := s.GetAllJobs(ctx, &pb.GetAllJobsRequest{})
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
	all := jobs()
	ja, jb := all[hexJob(a)], all[hexJob(b)]
	if len(all) != 2 || ja == nil || jb == nil || a+1 != b || a != plain+1 {
		t.Fatalf("two records, by Ray's hex ids: %v (ids %d %d %d)", all, plain, a, b)
	}
	if ja.IsDead || ja.EndTimeMs != 0 || ja.StartTimeMs == 0 || ja.SubmissionId != "sub-a" || ja.DriverPid != 10 {
		t.Errorf("a's record, its times the store's: %v", ja)
	}
	if len(jb.Entrypoint) > maxEntrypoint+3 {
		t.Errorf("a long command line is cut: %d bytes", len(jb.Entrypoint))
	}

	if _, err := s.MarkJobFinished(ctx, &pb.MarkJobFinishedRequest{JobId: hexJob(b)}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.MarkJobFinished(ctx, &pb.MarkJobFinishedRequest{JobId: "ffffffff"}); status.Code(err) != codes.NotFound {
		t.Errorf("an unknown job: %v", err)
	}
	if _, err := s.UnregisterNode(ctx, &pb.UnregisterNodeRequest{NodeId: nodeID(1)}); err != nil {
		t.Fatal(err)
	}
	all = jobs()
	if !all[hexJob(a)].IsDead || all[hexJob(a)].EndTimeMs == 0 || !all[hexJob(b)].IsDead {
		t.Errorf("a's node died, b's driver left: both ended: %v", all)
	}
	end := all[hexJob(b)].EndTimeMs
	if _, err := s.MarkJobFinished(ctx, &pb.MarkJobFinishedRequest{JobId: hexJob(b)}); err != nil || jobs()[hexJob(b)].EndTimeMs != end {
		t.Errorf("a job ends once: %v", err)
	}
	// A driver of a node that is dead already is over from the start.
	if id := next(&pb.JobInfo{DriverNodeId: nodeID(1)}); !jobs()[hexJob(id)].IsDead {
		t.Error("a job of a dead node")
	}

	for _, bad := range []*pb.JobInfo{
		{SubmissionId: strings.Repeat("s", maxSubmissionID+1)},
		{Namespace: strings.Repeat("n", maxNamespace+1)},
		{DriverNodeId: []byte{1, 2}},
	} {
		if _, err := s.NextJobID(ctx, &pb.NextJobIDRequest{Driver: bad}); status.Code(err) != codes.InvalidArgument {
			t.Errorf("%v: %v", bad, err)
		}
	}
}

// The table keeps at most maxJobRecords: the jobs that ended longest ago go first, live ones stay.
func TestJobTableBound(t *testing.T) {
	s := New()
	ctx := context.Background()
	for i := 0; i < maxJobRecords+5; i++ {
		rep, _ := s.NextJobID(ctx, &pb.NextJobIDRequest{Driver: &pb.JobInfo{}})
		if i < 10 {
			s.jobs[hexJob(rep.JobId)].IsDead = true
			s.jobs[hexJob(rep.JobId)].EndTimeMs = int64(100 - i) // (the tenth ended first)
		}
	}
	if len(s.jobs) != maxJobRecords {
		t.Fatalf("%d records", len(s.jobs))
	}
	for i := uint32(1); i <= 10; i++ {
		_, kept := s.jobs[hexJob(i)]
		if want := i <= 5; kept != want {
			t.Errorf("job %d kept %v, want %v (the five that ended last stay)", i, kept, want)
		}
	}
}
