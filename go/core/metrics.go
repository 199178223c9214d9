package core

import (
	"sync"
	"unicode/utf8"

	"google.golang.org/protobuf/proto"

	"goray/metrics"
	pb "goray/rpc/proto"
)

// Users' metrics (ray/api/metric.h): a process defines a metric once (a handle) and records
// values with tags; its node keeps them (package metrics) and serves them. In local mode the
// process keeps them itself (LocalMetrics).

// metricTable is the metrics this process defined, by handle (1-based) and by name.
type metricTable struct {
	mu     sync.Mutex
	defs   []*pb.MetricDef
	byName map[string]uint64
	sent   map[string]bool // (node mode) metrics whose definition the node has
}

// maxProcessMetrics bounds the metrics one process defines.
const maxProcessMetrics = metrics.MaxMetrics

// DefineMetric defines a metric and returns its handle; defining one name again with the same
// kind, tag keys and boundaries returns the same handle, and otherwise is an error.
func (cw *CoreWorker) DefineMetric(def *pb.MetricDef) (uint64, error) {
	if cw.closed() {
		return 0, ErrShutdown
	}
	for _, s := range append([]string{def.Name, def.Description, def.Unit}, def.TagKeys...) {
		if !utf8.ValidString(s) {
			return 0, Errorf(CodeInvalidArgument, "metric %q: its name, description, unit and tag keys must be UTF-8", def.Name)
		}
	}
	t := &cw.metrics
	t.mu.Lock()
	defer t.mu.Unlock()
	h, ok := t.byName[def.Name]
	if !ok {
		if err := metrics.CheckDef(def); err != nil {
			return 0, Errorf(CodeInvalidArgument, "%v", err)
		}
	}
	if ok {
		old := t.defs[h-1]
		if !metrics.SameDef(old, def) {
			return 0, Errorf(CodeInvalidArgument, "metric %s is defined already in this process as another kind or with other tag keys or boundaries", def.Name)
		}
		return h, nil
	}
	if len(t.defs) >= maxProcessMetrics {
		return 0, Errorf(CodeInvalidArgument, "metric %s: this process has %d metrics, the most it may define", def.Name, maxProcessMetrics)
	}
	if t.byName == nil {
		t.byName = map[string]uint64{}
		t.sent = map[string]bool{}
	}
	t.defs = append(t.defs, proto.Clone(def).(*pb.MetricDef))
	h = uint64(len(t.defs))
	t.byName[def.Name] = h
	return h, nil
}

// RecordMetric records a value of the metric with handle: a gauge's new value, what a counter or
// a sum grows by, a histogram's observation. Tags name some of its tag keys; another key, or a
// counter going down, is an error.
func (cw *CoreWorker) RecordMetric(handle uint64, value float64, tags map[string]string) error {
	if cw.closed() {
		return ErrShutdown
	}
	t := &cw.metrics
	t.mu.Lock()
	if handle == 0 || handle > uint64(len(t.defs)) {
		t.mu.Unlock()
		return Errorf(CodeInvalidArgument, "no metric has handle %d in this process", handle)
	}
	def := t.defs[handle-1]
	first := !t.sent[def.Name]
	t.mu.Unlock()
	for k, v := range tags {
		if !utf8.ValidString(v) {
			return Errorf(CodeInvalidArgument, "metric %s: the value of tag %q is not UTF-8", def.Name, k)
		}
		known := false
		for _, key := range def.TagKeys {
			known = known || key == k
		}
		if !known {
			return Errorf(CodeInvalidArgument, "metric %s has no tag key %q (its tag keys: %v)", def.Name, k, def.TagKeys)
		}
	}
	if def.Kind == metrics.Counter && value < 0 {
		return Errorf(CodeInvalidArgument, "counter %s cannot go down (recorded %v)", def.Name, value)
	}
	p := &pb.MetricPoint{Name: def.Name, Value: value, Tags: tags}
	if first {
		p.Def = def
	}
	if err := cw.be.recordMetric(def, p); err != nil {
		return err
	}
	if first {
		t.mu.Lock()
		t.sent[def.Name] = true
		t.mu.Unlock()
	}
	return nil
}

// LocalMetrics is the registry of a local-mode process (nil in node mode: the node keeps them).
func (cw *CoreWorker) LocalMetrics() *metrics.Registry {
	if b, ok := cw.be.(*localBackend); ok {
		return b.metrics
	}
	return nil
}

func (b *nodeBackend) recordMetric(_ *pb.MetricDef, p *pb.MetricPoint) error {
	return b.queue(&pb.ClientMessage{Body: &pb.ClientMessage_RecordMetrics{RecordMetrics: &pb.RecordMetrics{Points: []*pb.MetricPoint{p}}}})
}

func (b *localBackend) recordMetric(def *pb.MetricDef, p *pb.MetricPoint) error {
	if err := b.metrics.Record(def, p.Value, p.Tags); err != nil {
		return Errorf(CodeInvalidArgument, "%v", err)
	}
	return nil
}
