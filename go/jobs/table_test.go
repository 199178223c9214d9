package jobs

import (
	"errors"
	"strings"
	"testing"
	"time"
)

var t0 = time.Unix(1700000000, 0)

func fixedID() string { return "raysubmit_fixed" }

func TestSubmitChecksRequests(t *testing.T) {
	cases := []struct {
		name string
		req  Request
		want error // nil: accepted
		msg  string
	}{
		{"plain", Request{Entrypoint: "echo hi"}, nil, ""},
		{"empty entrypoint", Request{Entrypoint: "  "}, ErrInvalid, "entrypoint is empty"},
		{"nul in entrypoint", Request{Entrypoint: "echo \x00"}, ErrInvalid, "NUL"},
		{"bad submission id", Request{Entrypoint: "true", SubmissionID: "../etc"}, ErrInvalid, "submission_id"},
		{"dot", Request{Entrypoint: "true", SubmissionID: "."}, ErrInvalid, "submission_id"},
		{"dot dot", Request{Entrypoint: "true", SubmissionID: ".."}, ErrInvalid, "submission_id"},
		{"hidden", Request{Entrypoint: "true", SubmissionID: ".x"}, ErrInvalid, "submission_id"},
		{"dots inside", Request{Entrypoint: "true", SubmissionID: "v1.2"}, nil, ""},
		{"job_id as old name", Request{Entrypoint: "true", JobID: "mine"}, nil, ""},
		{"job_id differs", Request{Entrypoint: "true", JobID: "a", SubmissionID: "b"}, ErrInvalid, "differ"},
		{"negative cpus", Request{Entrypoint: "true", EntrypointNumCPUs: -1}, ErrInvalid, "entrypoint_num_cpus"},
		{"negative resource", Request{Entrypoint: "true", EntrypointResources: map[string]float64{"r": -2}}, ErrInvalid, "entrypoint_resources"},
		{"env vars", Request{Entrypoint: "true", RuntimeEnv: map[string]any{"env_vars": map[string]any{"A": "b"}}}, nil, ""},
		{"env vars not strings", Request{Entrypoint: "true", RuntimeEnv: map[string]any{"env_vars": map[string]any{"A": 1}}}, ErrInvalid, "env_vars"},
		{"pip", Request{Entrypoint: "true", RuntimeEnv: map[string]any{"pip": []any{"x"}}}, ErrInvalid, "Python only"},
		{"local working_dir", Request{Entrypoint: "true", RuntimeEnv: map[string]any{"working_dir": "/etc"}}, ErrInvalid, "uploaded"},
		{"package working_dir", Request{Entrypoint: "true", RuntimeEnv: map[string]any{"working_dir": "gcs://_ray_pkg_" + strings.Repeat("ab", 32) + ".zip"}}, nil, ""},
	}
	for _, c := range cases {
		tb := NewTable()
		info, err := tb.Submit(c.req, t0, "node", fixedID)
		switch {
		case c.want == nil && err != nil:
			t.Errorf("%s: refused: %v", c.name, err)
		case c.want != nil && (!errors.Is(err, c.want) || !strings.Contains(err.Error(), c.msg)):
			t.Errorf("%s: error %v, want %v with %q", c.name, err, c.want, c.msg)
		case c.want == nil && (info.Status != Pending || info.Type != "SUBMISSION" || info.StartTime != t0.UnixMilli()):
			t.Errorf("%s: record %+v", c.name, info)
		}
	}
}

func TestSubmitIDs(t *testing.T) {
	tb := NewTable()
	a, _ := tb.Submit(Request{Entrypoint: "true"}, t0, "n", fixedID)
	if a.SubmissionID != "raysubmit_fixed" {
		t.Errorf("made id %q", a.SubmissionID)
	}
	if _, err := tb.Submit(Request{Entrypoint: "true", SubmissionID: "raysubmit_fixed"}, t0, "n", fixedID); !errors.Is(err, ErrExists) {
		t.Errorf("a second job of the same id: %v", err)
	}
	b, _ := tb.Submit(Request{Entrypoint: "true", JobID: "old-name"}, t0, "n", fixedID)
	if b.SubmissionID != "old-name" {
		t.Errorf("job_id gave %q", b.SubmissionID)
	}
	if id := NewSubmissionID(); !strings.HasPrefix(id, "raysubmit_") || len(id) != len("raysubmit_")+16 || !submissionIDPattern.MatchString(id) {
		t.Errorf("NewSubmissionID made %q", id)
	}
}

// A job's life, as tables of events and the record after each.
func TestLifecycle(t *testing.T) {
	type step struct {
		event  string // start, exit0, exit3, signal, stop, fail, delete
		status Status
		errIs  error
	}
	cases := []struct {
		name  string
		steps []step
	}{
		{"succeeds", []step{{"start", Running, nil}, {"exit0", Succeeded, nil}, {"delete", "", nil}}},
		{"fails", []step{{"start", Running, nil}, {"exit3", Failed, nil}}},
		{"killed by a signal", []step{{"start", Running, nil}, {"signal", Failed, nil}}},
		{"stopped while running", []step{{"start", Running, nil}, {"stop", Running, nil}, {"signal", Stopped, nil}}},
		{"stopped, ends with 0", []step{{"start", Running, nil}, {"stop", Running, nil}, {"exit0", Stopped, nil}}},
		{"stopped while pending", []step{{"stop", Stopped, nil}, {"start", Stopped, nil}}},
		{"stopped during setup that fails", []step{{"stop", Stopped, nil}, {"fail", Stopped, nil}}},
		{"setup fails", []step{{"fail", Failed, nil}, {"start", Failed, nil}}},
		{"delete while running", []step{{"start", Running, nil}, {"delete", Running, ErrNotTerminal}}},
		{"delete while pending", []step{{"delete", Pending, ErrNotTerminal}}},
		{"stop when over", []step{{"start", Running, nil}, {"exit0", Succeeded, nil}, {"stop", Succeeded, nil}}},
	}
	for _, c := range cases {
		tb := NewTable()
		info, _ := tb.Submit(Request{Entrypoint: "run"}, t0, "n", fixedID)
		id := info.SubmissionID
		for i, s := range c.steps {
			now := t0.Add(time.Duration(i+1) * time.Second)
			var err error
			switch s.event {
			case "start":
				_, err = tb.Start(id, now)
			case "exit0":
				err = tb.Finish(id, 0, now, "")
			case "exit3":
				err = tb.Finish(id, 3, now, "boom\n")
			case "signal":
				err = tb.Finish(id, -1, now, "")
			case "stop":
				_, _, err = tb.Stop(id, now)
			case "fail":
				err = tb.Fail(id, ErrorRuntimeEnvSetup, "no package", now)
			case "delete":
				err = tb.Delete(id)
			}
			if !errors.Is(err, s.errIs) {
				t.Fatalf("%s: step %d (%s): error %v, want %v", c.name, i, s.event, err, s.errIs)
			}
			got, err := tb.Get(id)
			if s.status == "" {
				if !errors.Is(err, ErrNotFound) {
					t.Fatalf("%s: step %d: the job is still there after its delete", c.name, i)
				}
				continue
			}
			if got.Status != s.status {
				t.Fatalf("%s: step %d (%s): status %s, want %s", c.name, i, s.event, got.Status, s.status)
			}
			if got.Status.Terminal() != (got.EndTime != nil) {
				t.Fatalf("%s: step %d: %s with end_time %v", c.name, i, got.Status, got.EndTime)
			}
		}
	}
}

func TestFailureMessages(t *testing.T) {
	tb := NewTable()
	info, _ := tb.Submit(Request{Entrypoint: "false"}, t0, "n", fixedID)
	_, _ = tb.Start(info.SubmissionID, t0)
	_ = tb.Finish(info.SubmissionID, 3, t0, "the last words\n")
	got, _ := tb.Get(info.SubmissionID)
	if got.DriverExitCode == nil || *got.DriverExitCode != 3 || got.ErrorType == nil || *got.ErrorType != ErrorEntrypointFailed ||
		!strings.Contains(got.Message, "exit code 3") || !strings.Contains(got.Message, "the last words") {
		t.Errorf("a failed job's record: %+v", got)
	}
	stopped, signal, err := tb.Stop("nope", t0)
	if stopped || signal || !errors.Is(err, ErrNotFound) {
		t.Errorf("stopping an unknown job: %v %v %v", stopped, signal, err)
	}
}

func TestListOldestFirst(t *testing.T) {
	tb := NewTable()
	for i, id := range []string{"c", "a", "b"} {
		_, _ = tb.Submit(Request{Entrypoint: "true", SubmissionID: id}, t0.Add(time.Duration(i)*time.Second), "n", fixedID)
	}
	var ids []string
	for _, j := range tb.List() {
		ids = append(ids, j.SubmissionID)
	}
	if strings.Join(ids, ",") != "c,a,b" {
		t.Errorf("listed %v", ids)
	}
}
