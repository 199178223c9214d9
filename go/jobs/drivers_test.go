package jobs

import (
	"testing"

	pb "goray/rpc/proto"
)

// Ray's job list: a submitted job's first driver gives it its job_id and driver_info; a driver no
// listed submission started is a DRIVER job (RUNNING while attached, SUCCEEDED once it left).
func TestWithDrivers(t *testing.T) {
	submitted := []Info{
		{Type: TypeSubmission, SubmissionID: "sub-a", Status: Succeeded, StartTime: 10},
		{Type: TypeSubmission, SubmissionID: "sub-b", Status: Running, StartTime: 30},
	}
	drivers := []*pb.JobInfo{
		{JobId: "01000000", SubmissionId: "sub-a", DriverPid: 7, DriverIp: "127.0.0.1", StartTimeMs: 11, IsDead: true, EndTimeMs: 12},
		{JobId: "02000000", SubmissionId: "sub-a", DriverPid: 8, StartTimeMs: 13}, // (a second driver of sub-a)
		{JobId: "03000000", DriverPid: 9, DriverIp: "127.0.0.2", DriverNodeId: []byte{0xab}, Entrypoint: "./prog", StartTimeMs: 20},
		{JobId: "04000000", SubmissionId: "deleted", StartTimeMs: 5, IsDead: true, EndTimeMs: 6},
	}
	out := WithDrivers(submitted, drivers)
	want := []struct {
		typ, sub, job, status string
		pid                   string
	}{
		{TypeDriver, "", "04000000", "SUCCEEDED", "0"},
		{TypeSubmission, "sub-a", "01000000", "SUCCEEDED", "7"},
		{TypeDriver, "", "02000000", "RUNNING", "8"},
		{TypeDriver, "", "03000000", "RUNNING", "9"},
		{TypeSubmission, "sub-b", "", "RUNNING", ""},
	}
	if len(out) != len(want) {
		t.Fatalf("%d jobs: %+v", len(out), out)
	}
	for i, w := range want {
		j := out[i]
		job, pid := "", ""
		if j.JobID != nil {
			job = *j.JobID
		}
		if j.DriverInfo != nil {
			pid = j.DriverInfo.PID
		}
		if j.Type != w.typ || j.SubmissionID != w.sub || job != w.job || string(j.Status) != w.status || pid != w.pid {
			t.Errorf("job %d: %+v, want %+v", i, j, w)
		}
	}
	if d := out[3]; d.Entrypoint != "./prog" || d.DriverNodeID != "ab" || d.DriverInfo.NodeIPAddress != "127.0.0.2" || d.EndTime != nil || d.Metadata == nil {
		t.Errorf("a running driver's job: %+v", d)
	}
	if d := out[0]; d.EndTime == nil || *d.EndTime != 6 {
		t.Errorf("an ended driver's job has its end: %+v", d)
	}
	if submitted[0].JobID != nil {
		t.Error("the submitted list is not changed")
	}
}
