package raylet

import (
	"testing"

	pb "goray/rpc/proto"
)

// A link brings a job's config with its first task and names the job only after that: the
// running end keeps the configs it got and fills them in; a task naming a job it never got the
// config of has none.
func TestForwardServerJobConfig(t *testing.T) {
	fs := &forwardServer{}
	full := &pb.JobConfig{JobId: "01000000", WorkerCommand: []string{"/bin/w"}, Namespace: "ns"}
	cases := []struct {
		name string
		in   *pb.JobConfig
		want *pb.JobConfig
	}{
		{"no job", nil, nil},
		{"no job id", &pb.JobConfig{WorkerCommand: []string{"/bin/w"}}, nil},
		{"a job named before its config came", &pb.JobConfig{JobId: "01000000"}, nil},
		{"its config", full, full},
		{"named after", &pb.JobConfig{JobId: "01000000"}, full},
		{"another job, named only", &pb.JobConfig{JobId: "02000000"}, nil},
	}
	for _, c := range cases {
		if got := fs.jobConfig(c.in); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}
