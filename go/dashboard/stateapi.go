package dashboard

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	pb "goray/rpc/proto"
	"goray/state"
)

// StateSource is the cluster as Ray's state API reads it (package stategather).
type StateSource interface {
	// List returns the records of kind ("nodes", "actors", "tasks", "placement-groups",
	// "jobs"), saying in warn what it could not reach.
	List(ctx context.Context, kind string, warn io.Writer) ([]map[string]any, error)
	// AllReports returns every live node's report of kind ("actors", "tasks").
	AllReports(ctx context.Context, kind string, warn io.Writer) ([]*pb.NodeStateReply, error)
	// Objects returns the references of the nodes' processes, with the nodes' reports.
	Objects(ctx context.Context, warn io.Writer) ([]state.Object, []*pb.NodeStateReply, error)
}

// Ray's state API on the dashboard's port, as Ray's dashboard serves it to its SDK and its web
// page: GET /api/v0/{nodes,actors,tasks,objects,placement_groups,jobs} with limit, timeout and filters
// (filter_keys, filter_predicates "=" or "!=", filter_values: repeated, in step),
// /api/v0/{tasks,actors,objects}/summarize and /api/v0/tasks/timeline. Replies are Ray's envelope:
// {"result": ok, "msg": error, "data": {"result": ...}}.

// stateDefaultLimit and stateMaxLimit are Ray's default and greatest list limits.
const (
	stateDefaultLimit = 100
	stateMaxLimit     = 10000
)

// stateKindOf maps the API's path names to the state kinds.
var stateKindOf = map[string]string{
	"nodes": "nodes", "actors": "actors", "tasks": "tasks", "objects": "objects", "placement_groups": "placement-groups", "jobs": "jobs",
}

// listReply is Ray's ListApiResponse.
type listReply struct {
	Total                 int              `json:"total"`
	NumAfterTruncation    int              `json:"num_after_truncation"`
	NumFiltered           int              `json:"num_filtered"`
	Result                []map[string]any `json:"result"`
	PartialFailureWarning string           `json:"partial_failure_warning"`
	Warnings              []string         `json:"warnings"`
}

// stateAPI serves /api/v0/...
func (s *Server) stateAPI(w http.ResponseWriter, req *http.Request) {
	if !allow(w, req, http.MethodGet) {
		return
	}
	if s.cfg.State == nil {
		stateReply(w, http.StatusServiceUnavailable, "this dashboard has no state API", nil)
		return
	}
	rest := strings.Trim(strings.TrimPrefix(req.URL.Path, "/api/v0/"), "/")
	q := req.URL.Query()
	timeout := 30 * time.Second
	if t := q.Get("timeout"); t != "" {
		sec, err := strconv.Atoi(t)
		if err != nil || sec <= 0 {
			stateReply(w, http.StatusBadRequest, fmt.Sprintf("timeout %q: a number of seconds is needed", t), nil)
			return
		}
		timeout = time.Duration(sec) * time.Second
	}
	ctx, cancel := context.WithTimeout(req.Context(), timeout)
	defer cancel()
	var warn strings.Builder
	switch rest {
	case "tasks/summarize", "actors/summarize":
		s.summarize(ctx, w, strings.TrimSuffix(rest, "/summarize"), &warn)
		return
	case "objects/summarize":
		s.summarizeObjects(ctx, w, &warn)
		return
	case "tasks/timeline":
		reports, err := s.cfg.State.AllReports(ctx, "tasks", &warn)
		if err != nil {
			stateReply(w, http.StatusInternalServerError, err.Error(), nil)
			return
		}
		events := state.Timeline(reports)
		if q.Get("download") == "1" {
			w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=\"timeline-%s.json\"", time.Now().Format("2006-01-02_15-04-05")))
		}
		writeJSON(w, http.StatusOK, events)
		return
	}
	kind, ok := stateKindOf[rest]
	if !ok {
		stateReply(w, http.StatusNotFound, fmt.Sprintf("the state API has no %q: it lists nodes, actors, tasks, objects, placement_groups and jobs", rest), nil)
		return
	}
	limit := stateDefaultLimit
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n <= 0 || n > stateMaxLimit {
			stateReply(w, http.StatusBadRequest, fmt.Sprintf("limit %q: a number from 1 to %d is needed", l, stateMaxLimit), nil)
			return
		}
		limit = n
	}
	filters, err := filtersOf(req)
	if err != nil {
		stateReply(w, http.StatusBadRequest, err.Error(), nil)
		return
	}
	rows, err := s.cfg.State.List(ctx, kind, &warn)
	if err != nil {
		stateReply(w, http.StatusInternalServerError, err.Error(), nil)
		return
	}
	matched, _, err := state.Select(rows, filters, 0)
	if err != nil {
		stateReply(w, http.StatusBadRequest, err.Error(), nil)
		return
	}
	out := listReply{Total: len(rows), NumAfterTruncation: len(rows), NumFiltered: len(matched), Result: matched,
		PartialFailureWarning: warn.String()}
	if len(matched) > limit {
		out.Result = matched[:limit]
		out.Warnings = []string{fmt.Sprintf("the list is cut at limit %d of %d records", limit, len(matched))}
	}
	if out.Result == nil {
		out.Result = []map[string]any{}
	}
	stateReply(w, http.StatusOK, "", out)
}

// filtersOf reads Ray's filter_keys, filter_predicates and filter_values.
func filtersOf(req *http.Request) ([]state.Filter, error) {
	q := req.URL.Query()
	keys, preds, values := q["filter_keys"], q["filter_predicates"], q["filter_values"]
	if len(keys) != len(values) || len(keys) != len(preds) {
		return nil, fmt.Errorf("filters come as filter_keys, filter_predicates and filter_values, as many of each (%d, %d, %d given)", len(keys), len(preds), len(values))
	}
	out := make([]state.Filter, len(keys))
	for i := range keys {
		switch preds[i] {
		case "=", "!=":
		default:
			return nil, fmt.Errorf("filter predicate %q: = or != is needed", preds[i])
		}
		out[i] = state.Filter{Key: keys[i], Equal: preds[i] == "=", Value: values[i]}
	}
	return out, nil
}

// taskSummaries is Ray's summary of tasks (or actors) on the whole cluster.
type taskSummaries struct {
	Summary   map[string]any `json:"summary"`
	Total     int            `json:"total"`
	SummaryBy string         `json:"summary_by"`
}

// summarize answers /api/v0/{tasks,actors}/summarize: Ray's SummaryApiResponse, all of the
// cluster under "cluster".
func (s *Server) summarize(ctx context.Context, w http.ResponseWriter, kind string, warn *strings.Builder) {
	reports, err := s.cfg.State.AllReports(ctx, kind, warn)
	if err != nil {
		stateReply(w, http.StatusInternalServerError, err.Error(), nil)
		return
	}
	sum := taskSummaries{Summary: map[string]any{}, SummaryBy: "func_name"}
	if kind == "tasks" {
		tasks := state.Tasks(reports)
		for _, t := range state.SummarizeTasks(tasks) {
			sum.Summary[t.FuncOrClass] = t
		}
		sum.Total = len(tasks)
	} else {
		actors := state.Actors(reports)
		for _, a := range state.SummarizeActors(actors) {
			sum.Summary[a.ClassName] = a
		}
		sum.Total, sum.SummaryBy = len(actors), "class"
	}
	stateReply(w, http.StatusOK, "", map[string]any{
		"total": sum.Total, "num_after_truncation": sum.Total, "num_filtered": sum.Total,
		"partial_failure_warning": warn.String(),
		"result":                  map[string]any{"node_id_to_summary": map[string]any{"cluster": sum}},
	})
}

// objectSummaries is Ray's summary of objects on the whole cluster, by call site.
type objectSummaries struct {
	Summary         map[string]state.ObjectSummary `json:"summary"`
	TotalObjects    int                            `json:"total_objects"`
	TotalSizeMB     float64                        `json:"total_size_mb"`
	CallsiteEnabled bool                           `json:"callsite_enabled"`
}

// summarizeObjects answers /api/v0/objects/summarize: Ray's SummaryApiResponse of objects.
func (s *Server) summarizeObjects(ctx context.Context, w http.ResponseWriter, warn *strings.Builder) {
	objects, _, err := s.cfg.State.Objects(ctx, warn)
	if err != nil {
		stateReply(w, http.StatusInternalServerError, err.Error(), nil)
		return
	}
	sum := objectSummaries{Summary: map[string]state.ObjectSummary{}}
	for _, o := range state.SummarizeObjects(objects) {
		sum.Summary[o.CallSite] = o
		sum.TotalObjects += o.TotalObjects
		sum.TotalSizeMB += o.TotalSizeMB
	}
	stateReply(w, http.StatusOK, "", map[string]any{
		"total": len(objects), "num_after_truncation": len(objects), "num_filtered": len(objects),
		"partial_failure_warning": warn.String(),
		"result":                  map[string]any{"node_id_to_summary": map[string]any{"cluster": sum}},
	})
}

// stateReply answers in Ray's envelope of its state API.
func stateReply(w http.ResponseWriter, code int, msg string, result any) {
	data := map[string]any{}
	if result != nil {
		data["result"] = result
	}
	writeJSON(w, code, map[string]any{"result": code == http.StatusOK, "msg": msg, "data": data})
}
