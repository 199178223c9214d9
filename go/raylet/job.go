package raylet

import (
	"fmt"
	"strings"

	"github.com/golang/glog"

	"goray/actorrule"
	"goray/objstore"
	pb "goray/rpc/proto"
	"goray/runtimeenv"
)

// job is the code a worker process runs and what it runs with: a driver's job. A pool worker
// runs the tasks of its own job only; an actor's process runs its job's code. The node's own job
// (defaultJob) comes with its configuration: the driver of an embedded node. A node started by
// `ray start` has no code of its own: each driver that joins brings its job (RegisterClient.job).
type job struct {
	id             string
	command        []string
	codeSearchPath []string
	driverExe      string
	namespace      string
	code           []*pb.CodeFile // its files in the cluster's code store (see jobcode.go)
	// What its driver told of itself, for the control store's job table.
	entrypoint, submissionID string
	// drivers counts the job's connected drivers; once the last has gone (ended), the job's idle
	// workers stop and its actors that are not detached die, as in Ray.
	drivers int
	ended   bool
	// starting counts the job's pool processes being spawned; prestart those to start without a
	// task waiting for them.
	starting int
	prestart int
	// A runtime environment's variant of a job runs the job's code in worker processes of its
	// own, with its env (see envJob): base is the job, and the job has its variants by env.
	env      *runtimeenv.Env
	envText  string
	base     *job
	variants map[string]*job
}

// String names the job in messages.
func (j *job) String() string {
	name := "job " + j.id
	if j.id == "" {
		name = "the node's job"
	}
	if j.envText != "" {
		name += " in runtime env " + j.envText
	}
	return name
}

// maxEnvsPerJob bounds the runtime environments of one job on a node (each has processes of
// its own).
const maxEnvsPerJob = 100

// envJob is the variant of job j whose work runs in runtime environment env (canonical JSON; ""
// for j itself), made the first time. Called with r.mu held.
func (s *state) envJob(j *job, env string) (*job, error) {
	if env == "" || j.envText == env {
		return j, nil
	}
	if j.base != nil {
		j = j.base
	}
	if v := j.variants[env]; v != nil {
		return v, nil
	}
	parsed, err := runtimeenv.Parse(env)
	if err != nil {
		return nil, err
	}
	if parsed.String() != env {
		return nil, fmt.Errorf("runtime env %s is not in its canonical form %s", env, parsed.String())
	}
	if len(j.variants) >= maxEnvsPerJob {
		return nil, fmt.Errorf("%s has %d runtime environments on this node already, the most it may have", j, maxEnvsPerJob)
	}
	v := &job{id: j.id, command: j.command, codeSearchPath: j.codeSearchPath, driverExe: j.driverExe,
		namespace: j.namespace, code: j.code, env: parsed, envText: env, base: j, ended: j.ended}
	if j.variants == nil {
		j.variants = map[string]*job{}
	}
	j.variants[env] = v
	return v, nil
}

// nodeJob is the job of the node's configuration (its embedded driver's code).
func nodeJob(cfg Config) *job {
	return &job{command: cfg.WorkerCommand, codeSearchPath: cfg.CodeSearchPath, driverExe: cfg.DriverExe, namespace: cfg.Namespace}
}

// maxJobs bounds the jobs a node remembers with no worker and no driver left.
const maxJobs = 1000

// jobOf returns the job a driver registers with, or another node forwards work of (nil config:
// the node's own job), making it the first time. Called with r.mu held.
func (s *state) jobOf(cfg *pb.JobConfig) (*job, error) {
	if cfg == nil {
		return s.defaultJob, nil
	}
	if cfg.JobId == "" || len(cfg.JobId) > 64 {
		return nil, fmt.Errorf("a job needs an id of 1 to 64 characters, not %q", cfg.JobId)
	}
	if len(cfg.WorkerCommand) == 0 || cfg.WorkerCommand[0] == "" {
		return nil, fmt.Errorf("job %s names no worker command", cfg.JobId)
	}
	if j := s.jobs[cfg.JobId]; j != nil {
		return j, nil // (another node's copy of it names that node's paths: this node keeps its own)
	}
	s.forgetOldJobs()
	j := &job{
		id: cfg.JobId, command: cfg.WorkerCommand, codeSearchPath: cfg.CodeSearchPath,
		driverExe: cfg.DriverExe, namespace: cfg.Namespace, code: cfg.Code, entrypoint: cfg.Entrypoint, submissionID: cfg.SubmissionId,
	}
	s.jobs[j.id] = j
	return j, nil
}

// forgetOldJobs drops ended jobs that no worker or actor uses any more, once the node knows
// maxJobs of them. Called with r.mu held.
func (s *state) forgetOldJobs() {
	if len(s.jobs) < maxJobs {
		return
	}
	used := map[*job]bool{}
	for _, w := range s.workers {
		used[w.job] = true
	}
	for _, a := range s.actors {
		if a.state != actorDead {
			used[a.job] = true
		}
	}
	for id, j := range s.jobs {
		if j.ended && !used[j] {
			delete(s.jobs, id)
		}
	}
}

// driverJoined counts a driver of j and prestarts a pool for it (as far as the node has room
// for processes: idle workers of other jobs stay). Called with r.mu held.
func (s *state) driverJoined(c *client, j *job) {
	j.drivers++
	j.ended = false
	for _, v := range j.variants {
		v.ended = false
	}
	if j == s.defaultJob {
		return
	}
	glog.Infof("%s joined with %s", j, strings.Join(j.command, " "))
	s.eff.jobsStarted = append(s.eff.jobsStarted, &pb.JobInfo{JobId: j.id, DriverPid: c.pid, DriverNodeId: append([]byte(nil), s.nodeID[:]...),
		Entrypoint: j.entrypoint, Namespace: j.namespace, SubmissionId: j.submissionID})
	j.prestart = s.poolSize()
	if j.prestart > s.starts.maxConcurrent {
		j.prestart = s.starts.maxConcurrent
	}
	s.startProcesses(nil)
}

// driverLeft counts a driver of j gone. When it was the last, the job ends: its idle workers
// stop, and its actors that are not detached die (their owner is gone). Called with r.mu held.
func (s *state) driverLeft(j *job) {
	j.drivers--
	if j.drivers > 0 || j == s.defaultJob || s.stopped {
		return
	}
	j.ended = true
	j.prestart = 0
	glog.Infof("%s ended: its last driver is gone", j)
	s.eff.jobsEnded = append(s.eff.jobsEnded, j.id) // (for the control store's job table)
	s.removeJobGroups(j.id)
	for _, v := range j.variants {
		s.jobEnded(v)
	}
	s.jobEnded(j)
}

// jobEnded stops a job's idle workers and its actors that are not detached, and drops its
// tasks that wait. Called with r.mu held.
func (s *state) jobEnded(j *job) {
	j.ended = true
	j.prestart = 0
	for _, w := range append([]*worker(nil), s.idle...) {
		if w.job == j {
			s.removeIdle(w)
			s.kill(w)
		}
	}
	for _, a := range s.actors {
		if a.job == j && !a.detached && a.state != actorDead {
			a.noRestart = true
			s.actorDied(a, actorrule.CauseOwnerDied, true)
		}
	}
	// Its tasks that wait for room (or for a node that could run them) will never be read.
	for _, c := range s.ready.order {
		if c.job != j || len(c.tasks) == 0 {
			continue
		}
		dropped := c.tasks
		c.tasks = nil
		for _, t := range dropped {
			s.finish(t, &objstore.Object{Kind: objstore.KindTaskError, Data: []byte(fmt.Sprintf("%s was cancelled: the driver of %s exited", taskLabel(t), j))})
		}
	}
}

// takeIdle takes an idle worker of j, the one idle longest; nil when there is none.
// Called with r.mu held.
func (s *state) takeIdle(j *job) *worker {
	for i, w := range s.idle {
		if w.job == j {
			s.idle = append(s.idle[:i], s.idle[i+1:]...)
			return w
		}
	}
	return nil
}

// hasIdle tells whether a worker of j is idle. Called with r.mu held.
func (s *state) hasIdle(j *job) bool {
	for _, w := range s.idle {
		if w.job == j {
			return true
		}
	}
	return false
}

// evictIdle stops up to n idle workers of jobs other than j, to make room in the pool for j's
// workers; it returns how many it stopped. Called with r.mu held.
func (s *state) evictIdle(j *job, n int) int {
	stopped := 0
	for i := 0; i < len(s.idle) && stopped < n; {
		w := s.idle[i]
		if w.job == j {
			i++
			continue
		}
		s.idle = append(s.idle[:i], s.idle[i+1:]...)
		glog.V(1).Infof("stopping idle %s of %s: the pool needs room for %s", w, w.job, j)
		s.kill(w)
		stopped++
	}
	return stopped
}
