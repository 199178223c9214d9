package state

import (
	"encoding/hex"
	"sort"
	"strings"

	pb "goray/rpc/proto"
)

// Task is a task as Ray's state API shows it: its latest run, or where it waits.
type Task struct {
	TaskID         string `json:"task_id"`
	AttemptNumber  int    `json:"attempt_number"`
	Name           string `json:"name"`
	State          string `json:"state"`
	JobID          string `json:"job_id"`
	ActorID        string `json:"actor_id,omitempty"`
	Type           string `json:"type"`
	FuncOrClass    string `json:"func_or_class_name"`
	NodeID         string `json:"node_id"`
	WorkerID       string `json:"worker_id"`
	WorkerPID      int32  `json:"worker_pid"`
	StartTimeMs    int64  `json:"start_time_ms,omitempty"`
	EndTimeMs      int64  `json:"end_time_ms,omitempty"`
	startUs, endUs int64  // (the run's times, for the timeline)
	attempt        int32  // which run (1: the first)
}

// taskTypes are Ray's names of the task types (TaskSpec.task_type).
var taskTypes = []string{"NORMAL_TASK", "ACTOR_CREATION_TASK", "ACTOR_TASK", "ACTOR_DESTROY_TASK"}

// stateRank orders a task's states: a later one says more (a run that ended beats the task
// waiting or running, as the node saw it when it answered).
var stateRank = map[string]int{"PENDING_ARGS_AVAIL": 1, "PENDING_NODE_ASSIGNMENT": 2, "RUNNING": 3, "FAILED": 4, "FINISHED": 4}

// runs are the nodes' task records as Tasks, one per run or wait, in no order.
func runs(reports []*pb.NodeStateReply) []Task {
	var out []Task
	for _, rep := range reports {
		node := hex.EncodeToString(rep.NodeId)
		for _, r := range rep.GetTasks() {
			ev := r.GetEvent()
			if ev == nil || len(ev.TaskId) == 0 {
				continue
			}
			t := Task{TaskID: hex.EncodeToString(ev.TaskId), Name: ev.Name, State: ev.State, JobID: r.JobId,
				Type: nameOf(taskTypes, ev.Type), FuncOrClass: ev.Name, NodeID: node, WorkerID: hex.EncodeToString(r.WorkerId),
				WorkerPID: r.WorkerPid, StartTimeMs: ev.StartUs / 1000, EndTimeMs: ev.EndUs / 1000, startUs: ev.StartUs, endUs: ev.EndUs,
				attempt: ev.Attempt}
			if t.attempt < 1 {
				t.attempt = 1 // (not known: a task sent straight to a leased worker, an actor call)
			}
			t.AttemptNumber = int(t.attempt) - 1
			if len(ev.ActorId) > 0 {
				t.ActorID = hex.EncodeToString(ev.ActorId)
			}
			if ev.ClassName != "" && ev.Type != 0 {
				t.FuncOrClass = ClassName(ev.ClassName) + "." + methodName(ev.Name)
			}
			out = append(out, t)
		}
	}
	return out
}

// methodName is a registered method's (or factory's) own name: "&Counter::Add" is Add.
func methodName(registered string) string {
	name := strings.TrimPrefix(registered, "&")
	if i := strings.LastIndex(name, "::"); i >= 0 {
		name = name[i+2:]
	}
	return name
}

// Tasks merges the nodes' task records: one per task, its latest attempt (attempt_number 0 is
// the first run), in the most advanced state the nodes saw it in (a run that ended beats the
// same run seen running). Sorted by start, then id.
func Tasks(reports []*pb.NodeStateReply) []Task {
	byID := map[string]*Task{}
	for _, t := range runs(reports) {
		t := t
		cur := byID[t.TaskID]
		switch {
		case cur == nil, t.attempt > cur.attempt,
			t.attempt == cur.attempt && stateRank[t.State] > stateRank[cur.State],
			t.attempt == cur.attempt && stateRank[t.State] == stateRank[cur.State] && t.startUs > cur.startUs:
			byID[t.TaskID] = &t
		}
	}
	out := make([]Task, 0, len(byID))
	for _, t := range byID {
		out = append(out, *t)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].startUs != out[j].startUs {
			return out[i].startUs < out[j].startUs
		}
		return out[i].TaskID < out[j].TaskID
	})
	return out
}

// ActorSummary is Ray's `ray summary actors` line of one class: how many of its actors are in
// each state.
type ActorSummary struct {
	ClassName   string         `json:"class_name"`
	StateCounts map[string]int `json:"state_counts"`
}

// SummarizeActors groups actors by class, by name.
func SummarizeActors(actors []Actor) []ActorSummary {
	by := map[string]map[string]int{}
	for _, a := range actors {
		if by[a.ClassName] == nil {
			by[a.ClassName] = map[string]int{}
		}
		by[a.ClassName][a.State]++
	}
	out := make([]ActorSummary, 0, len(by))
	for name, counts := range by {
		out = append(out, ActorSummary{ClassName: name, StateCounts: counts})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ClassName < out[j].ClassName })
	return out
}

// TaskSummary is Ray's `ray summary tasks` line of one function: how many of its tasks are in
// each state.
type TaskSummary struct {
	FuncOrClass  string         `json:"func_or_class_name"`
	Type         string         `json:"type"`
	StateCounts  map[string]int `json:"state_counts"`
	TotalTasks   int            `json:"-"`
	sortableName string
}

// SummarizeTasks groups tasks by function (and type), most tasks first.
func SummarizeTasks(tasks []Task) []TaskSummary {
	by := map[string]*TaskSummary{}
	for _, t := range tasks {
		key := t.FuncOrClass + "\x00" + t.Type
		s := by[key]
		if s == nil {
			s = &TaskSummary{FuncOrClass: t.FuncOrClass, Type: t.Type, StateCounts: map[string]int{}, sortableName: key}
			by[key] = s
		}
		s.StateCounts[t.State]++
		s.TotalTasks++
	}
	out := make([]TaskSummary, 0, len(by))
	for _, s := range by {
		out = append(out, *s)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].TotalTasks != out[j].TotalTasks {
			return out[i].TotalTasks > out[j].TotalTasks
		}
		return out[i].sortableName < out[j].sortableName
	})
	return out
}

// TraceEvent is an event of the Chrome trace format (chrome://tracing, Perfetto): a complete
// event ("X") of a run, on a row per worker process.
type TraceEvent struct {
	Name      string            `json:"name"`
	Category  string            `json:"cat"`
	Phase     string            `json:"ph"`
	Timestamp int64             `json:"ts"`
	Duration  int64             `json:"dur"`
	PID       string            `json:"pid"`
	TID       int32             `json:"tid"`
	Args      map[string]string `json:"args"`
}

// Timeline is every run of a task the nodes told of, as Chrome trace events: one process row
// per node, one thread row per worker process, as Ray's `ray timeline` lays them out.
func Timeline(reports []*pb.NodeStateReply) []TraceEvent {
	out := []TraceEvent{} // (none is an empty trace, [], not null)
	for _, t := range runs(reports) {
		if t.endUs == 0 {
			continue // (waiting or running: no run to draw yet)
		}
		out = append(out, TraceEvent{Name: t.FuncOrClass, Category: "task::" + t.Type, Phase: "X", Timestamp: t.startUs,
			Duration: t.endUs - t.startUs, PID: "Node " + t.NodeID, TID: t.WorkerPID,
			Args: map[string]string{"task_id": t.TaskID, "job_id": t.JobID, "state": t.State, "worker_id": t.WorkerID, "actor_id": t.ActorID}})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Timestamp < out[j].Timestamp })
	return out
}
