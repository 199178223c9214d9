// Package jobs runs the jobs submitted to a cluster, as Ray's job manager does: a job is a shell
// command (its entrypoint) that the head runs with RAY_ADDRESS set to the cluster, so a C++
// driver it starts joins the cluster; the job's state follows the command (PENDING, RUNNING,
// then SUCCEEDED, FAILED or STOPPED) and its output is kept in a log file per job.
//
// Table holds the jobs' records and decides every change of state (no processes, files or
// clocks: times come in with the events); Supervisor runs the commands and feeds it.
package jobs

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"sort"
	"strings"
	"time"

	"goray/runtimeenv"
)

// Status is a job's state, with Ray's names.
type Status string

// The states of a job. PENDING until its command starts, RUNNING while it runs, then one of the
// three terminal states.
const (
	Pending   Status = "PENDING"
	Running   Status = "RUNNING"
	Succeeded Status = "SUCCEEDED"
	Failed    Status = "FAILED"
	Stopped   Status = "STOPPED"
)

// Terminal tells whether a job in this state is over.
func (s Status) Terminal() bool { return s == Succeeded || s == Failed || s == Stopped }

// Errors of the table's events, for the callers to tell apart (errors.Is).
var (
	// ErrInvalid: the request is malformed (HTTP 400).
	ErrInvalid = errors.New("invalid job request")
	// ErrExists: a job has the submission id already (HTTP 400, as Ray answers).
	ErrExists = errors.New("job exists already")
	// ErrNotFound: no job has the submission id (HTTP 404).
	ErrNotFound = errors.New("no such job")
	// ErrNotTerminal: the job is not over yet (HTTP 400 for a delete).
	ErrNotTerminal = errors.New("job is not in a terminal state")
)

// Request is a job submission, with the fields of Ray's POST /api/jobs/.
type Request struct {
	Entrypoint          string             `json:"entrypoint"`
	SubmissionID        string             `json:"submission_id,omitempty"`
	JobID               string             `json:"job_id,omitempty"` // (Ray's older name of submission_id)
	RuntimeEnv          map[string]any     `json:"runtime_env,omitempty"`
	Metadata            map[string]string  `json:"metadata,omitempty"`
	EntrypointNumCPUs   float64            `json:"entrypoint_num_cpus,omitempty"`
	EntrypointNumGPUs   float64            `json:"entrypoint_num_gpus,omitempty"`
	EntrypointMemory    float64            `json:"entrypoint_memory,omitempty"`
	EntrypointResources map[string]float64 `json:"entrypoint_resources,omitempty"`
}

// Info is what is known of a job, with the fields of Ray's JobDetails (times in milliseconds
// since the epoch; null where Ray has null).
type Info struct {
	Type                string             `json:"type"`
	JobID               *string            `json:"job_id"`
	SubmissionID        string             `json:"submission_id"`
	Status              Status             `json:"status"`
	Entrypoint          string             `json:"entrypoint"`
	Message             string             `json:"message"`
	ErrorType           *string            `json:"error_type"`
	StartTime           int64              `json:"start_time"`
	EndTime             *int64             `json:"end_time"`
	Metadata            map[string]string  `json:"metadata"`
	RuntimeEnv          map[string]any     `json:"runtime_env"`
	DriverNodeID        string             `json:"driver_node_id"`
	DriverExitCode      *int               `json:"driver_exit_code"`
	DriverAgentAddress  *string            `json:"driver_agent_http_address"`
	EntrypointNumCPUs   float64            `json:"entrypoint_num_cpus"`
	EntrypointNumGPUs   float64            `json:"entrypoint_num_gpus"`
	EntrypointMemory    float64            `json:"entrypoint_memory"`
	EntrypointResources map[string]float64 `json:"entrypoint_resources"`
	// The job's driver, once one joined the cluster (see WithDrivers).
	DriverInfo *DriverInfo `json:"driver_info"`

	stopping bool // a stop was asked while it ran: its end is STOPPED
	env      *runtimeenv.Env
}

// Ray's job types: a job submitted through the job API, and a driver that joined the cluster
// on its own.
const (
	TypeSubmission = "SUBMISSION"
	TypeDriver     = "DRIVER"
)

// DriverInfo is a job's driver, as Ray's job list shows it.
type DriverInfo struct {
	ID            string `json:"id"`
	NodeIPAddress string `json:"node_ip_address"`
	PID           string `json:"pid"`
}

// ErrorTypes Ray reports in a job's error_type.
const (
	ErrorEntrypointFailed = "JOB_ENTRYPOINT_COMMAND_ERROR"
	ErrorRuntimeEnvSetup  = "RUNTIME_ENV_SETUP_FAILURE"
	ErrorStartFailed      = "JOB_SUPERVISOR_ACTOR_START_FAILURE"
)

// Table is the jobs' records and the rules of their states. It is not safe for concurrent
// use: its owner serializes the events.
type Table struct {
	jobs map[string]*Info
}

// NewTable returns an empty table.
func NewTable() *Table { return &Table{jobs: map[string]*Info{}} }

// submissionIDPattern is what a submission id may be made of (it names the job's log file and
// directory): no "." or ".." or any name starting with a dot.
var submissionIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,127}$`)

// CheckSubmissionID tells what is wrong with id as a submission id (nil: nothing).
func CheckSubmissionID(id string) error {
	if !submissionIDPattern.MatchString(id) {
		return fmt.Errorf("%w: submission_id %q: use 1 to 128 letters, digits, '_', '-' or '.' (not first)", ErrInvalid, shorten(id))
	}
	return nil
}

// Submit records a new PENDING job of req at now, on node nodeID; newID makes a submission id
// when req has none. It returns the job's record (a copy).
func (t *Table) Submit(req Request, now time.Time, nodeID string, newID func() string) (Info, error) {
	if req.SubmissionID == "" {
		req.SubmissionID = req.JobID
	} else if req.JobID != "" && req.JobID != req.SubmissionID {
		return Info{}, fmt.Errorf("%w: job_id %q and submission_id %q differ (job_id is the older name of submission_id)", ErrInvalid, req.JobID, req.SubmissionID)
	}
	if strings.TrimSpace(req.Entrypoint) == "" {
		return Info{}, fmt.Errorf("%w: the entrypoint is empty (the shell command the job runs)", ErrInvalid)
	}
	if strings.ContainsRune(req.Entrypoint, 0) {
		return Info{}, fmt.Errorf("%w: the entrypoint holds a NUL byte", ErrInvalid)
	}
	id := req.SubmissionID
	if id == "" {
		id = newID()
	}
	if err := CheckSubmissionID(id); err != nil {
		return Info{}, err
	}
	if _, dup := t.jobs[id]; dup {
		return Info{}, fmt.Errorf("%w: a job with submission_id %s exists already: please use a different submission_id", ErrExists, id)
	}
	for _, q := range []struct {
		name string
		v    float64
	}{{"entrypoint_num_cpus", req.EntrypointNumCPUs}, {"entrypoint_num_gpus", req.EntrypointNumGPUs}, {"entrypoint_memory", req.EntrypointMemory}} {
		if q.v < 0 || math.IsNaN(q.v) || math.IsInf(q.v, 0) {
			return Info{}, fmt.Errorf("%w: %s must be a number of 0 or more, not %v", ErrInvalid, q.name, q.v)
		}
	}
	for name, v := range req.EntrypointResources {
		if name == "" || v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
			return Info{}, fmt.Errorf("%w: entrypoint_resources: %q: %v is not a resource amount (a name and a number of 0 or more)", ErrInvalid, shorten(name), v)
		}
	}
	env, err := parseEnv(req.RuntimeEnv)
	if err != nil {
		return Info{}, err
	}
	if req.Metadata == nil {
		req.Metadata = map[string]string{}
	}
	if req.RuntimeEnv == nil {
		req.RuntimeEnv = map[string]any{}
	}
	j := &Info{
		Type: TypeSubmission, SubmissionID: id, Status: Pending, Entrypoint: req.Entrypoint,
		Message: "Job has not started yet.", StartTime: now.UnixMilli(), Metadata: req.Metadata,
		RuntimeEnv: req.RuntimeEnv, DriverNodeID: nodeID, EntrypointNumCPUs: req.EntrypointNumCPUs,
		EntrypointNumGPUs: req.EntrypointNumGPUs, EntrypointMemory: req.EntrypointMemory,
		EntrypointResources: req.EntrypointResources, env: env,
	}
	t.jobs[id] = j
	return j.copy(), nil
}

// parseEnv checks a job's runtime_env: Ray's fields as tasks have them, with a working_dir that
// is a package in the cluster's code store (the client uploads a local directory first).
func parseEnv(raw map[string]any) (*runtimeenv.Env, error) {
	if len(raw) == 0 {
		return &runtimeenv.Env{}, nil
	}
	text, err := jsonText(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: runtime_env: %v", ErrInvalid, err)
	}
	env, err := runtimeenv.Parse(text)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if env.WorkingDir != "" {
		if _, ok := runtimeenv.PackageSum(env.WorkingDir); !ok {
			return nil, fmt.Errorf("%w: runtime_env working_dir %q: a job's working_dir is a package uploaded to the cluster first (gcs://_ray_pkg_<sha256>.zip): `ray job submit --working-dir DIR` uploads DIR", ErrInvalid, shorten(env.WorkingDir))
		}
	}
	return env, nil
}

// Submitted returns a copy of a job's record and its runtime environment (its working_dir a
// package URI, or "").
func (t *Table) Submitted(id string) (Info, *runtimeenv.Env, error) {
	j, err := t.job(id)
	if err != nil {
		return Info{}, nil, err
	}
	return j.copy(), j.env, nil
}

// Start is the event of the job's command starting at now. A job stopped before it started
// stays STOPPED: ok is false and the command must not run.
func (t *Table) Start(id string, now time.Time) (ok bool, err error) {
	j, err := t.job(id)
	if err != nil {
		return false, err
	}
	if j.Status != Pending {
		return false, nil
	}
	j.Status, j.Message = Running, "Job is currently running."
	return true, nil
}

// Finish is the event of the job's command ending at now with exitCode (-1 when a signal ended
// it); tail is the end of its log, quoted in a failure's message as Ray does.
func (t *Table) Finish(id string, exitCode int, now time.Time, tail string) error {
	j, err := t.job(id)
	if err != nil {
		return err
	}
	if j.Status.Terminal() {
		return nil
	}
	code := exitCode
	j.DriverExitCode = &code
	switch {
	case j.stopping:
		j.Status, j.Message = Stopped, "Job was intentionally stopped."
	case exitCode == 0:
		j.Status, j.Message = Succeeded, "Job finished successfully."
	default:
		j.Status = Failed
		j.Message = fmt.Sprintf("Job entrypoint command failed with exit code %d, last available logs (truncated to 20,000 chars):\n%s", exitCode, tail)
		if exitCode < 0 {
			j.Message = fmt.Sprintf("Job entrypoint command was ended by a signal, last available logs (truncated to 20,000 chars):\n%s", tail)
		}
		et := ErrorEntrypointFailed
		j.ErrorType = &et
	}
	end := now.UnixMilli()
	j.EndTime = &end
	return nil
}

// Fail is the event of the job failing before its command ran (its working_dir could not be set
// up, its command could not start): errorType says which, why how.
func (t *Table) Fail(id, errorType, why string, now time.Time) error {
	j, err := t.job(id)
	if err != nil {
		return err
	}
	if j.Status.Terminal() {
		return nil
	}
	if j.stopping {
		j.Status, j.Message = Stopped, "Job was intentionally stopped."
	} else {
		j.Status, j.Message, j.ErrorType = Failed, why, &errorType
	}
	end := now.UnixMilli()
	j.EndTime = &end
	return nil
}

// Stop is the event of a user stopping the job at now. A PENDING job is STOPPED at once; a
// RUNNING one is marked, and signal tells the caller to end its command (it becomes STOPPED
// when it ends). stopped is false for a job over already, as Ray answers.
func (t *Table) Stop(id string, now time.Time) (stopped, signal bool, err error) {
	j, err := t.job(id)
	if err != nil {
		return false, false, err
	}
	switch {
	case j.Status.Terminal():
		return false, false, nil
	case j.Status == Pending:
		j.stopping = true // (a setup in progress ends as STOPPED)
		j.Status, j.Message = Stopped, "Job was intentionally stopped."
		end := now.UnixMilli()
		j.EndTime = &end
		return true, false, nil
	}
	j.stopping = true
	return true, true, nil
}

// Waiting is the event of a PENDING job waiting (for its entrypoint's resources): why is its
// message.
func (t *Table) Waiting(id, why string) {
	if j := t.jobs[id]; j != nil && j.Status == Pending {
		j.Message = why
	}
}

// entrypointResources are the resources a job's entrypoint asks for, with Ray's names (nil:
// none).
func (j *Info) entrypointResources() map[string]float64 {
	res := map[string]float64{}
	for name, v := range j.EntrypointResources {
		if v > 0 {
			res[name] = v
		}
	}
	for _, r := range []struct {
		name string
		v    float64
	}{{"CPU", j.EntrypointNumCPUs}, {"GPU", j.EntrypointNumGPUs}, {"memory", j.EntrypointMemory}} {
		if r.v > 0 {
			res[r.name] = r.v
		}
	}
	if len(res) == 0 {
		return nil
	}
	return res
}

// Stopping tells whether a stop was asked for the job.
func (t *Table) Stopping(id string) bool {
	j := t.jobs[id]
	return j != nil && j.stopping
}

// Delete forgets a job that is over.
func (t *Table) Delete(id string) error {
	j, err := t.job(id)
	if err != nil {
		return err
	}
	if !j.Status.Terminal() {
		return fmt.Errorf("%w: job %s is %s: stop it first (ray job stop %s)", ErrNotTerminal, id, j.Status, id)
	}
	delete(t.jobs, id)
	return nil
}

// Get returns a copy of a job's record.
func (t *Table) Get(id string) (Info, error) {
	j, err := t.job(id)
	if err != nil {
		return Info{}, err
	}
	return j.copy(), nil
}

// List returns copies of every job's record, oldest first.
func (t *Table) List() []Info {
	out := make([]Info, 0, len(t.jobs))
	for _, j := range t.jobs {
		out = append(out, j.copy())
	}
	sort.Slice(out, func(a, b int) bool {
		if out[a].StartTime != out[b].StartTime {
			return out[a].StartTime < out[b].StartTime
		}
		return out[a].SubmissionID < out[b].SubmissionID
	})
	return out
}

func (t *Table) job(id string) (*Info, error) {
	j := t.jobs[id]
	if j == nil {
		return nil, fmt.Errorf("%w: job %s does not exist", ErrNotFound, shorten(id))
	}
	return j, nil
}

// copy is the record as callers see it (the maps are not changed after Submit: shared).
func (j *Info) copy() Info {
	c := *j
	c.stopping, c.env = false, nil
	return c
}

func shorten(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}
