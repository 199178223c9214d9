// Package metrics is the users' metrics of a node (or of a local-mode process): Ray's Gauge,
// Counter, Histogram and Sum (ray/api/metric.h), recorded by drivers, tasks and actors and
// exported in Prometheus' text format through the Prometheus Go client, under Ray's names
// ("ray_" and the metric's name).
package metrics

import (
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	pb "goray/rpc/proto"
)

// Kinds of metric; their values are those of ray_metric_kind in include/ray/c_api.h.
const (
	Gauge     int32 = 0
	Counter   int32 = 1
	Histogram int32 = 2
	Sum       int32 = 3
)

// Prefix is what Ray puts before a user metric's name when it exports it.
const Prefix = "ray_"

// MaxMetrics bounds the metrics one registry keeps (a process declaring ever-new names cannot
// grow it without limit), and MaxSeries the tag combinations (series) of one metric.
const (
	MaxMetrics = 10000
	MaxSeries  = 10000
)

var (
	nameRe  = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*$`)
	labelRe = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)
)

// CheckDef validates a metric's definition: a Prometheus name, a known kind, tag keys that are
// label names (none twice, none Prometheus reserves), and for a histogram increasing bucket
// boundaries.
func CheckDef(d *pb.MetricDef) error {
	if d == nil {
		return fmt.Errorf("a metric without its definition")
	}
	if !nameRe.MatchString(d.Name) || len(d.Name) > 200 {
		return fmt.Errorf("metric name %q: it must match [a-zA-Z_:][a-zA-Z0-9_:]* (at most 200 bytes)", d.Name)
	}
	if d.Kind < Gauge || d.Kind > Sum {
		return fmt.Errorf("metric %s: kind %d is none of gauge, counter, histogram, sum", d.Name, d.Kind)
	}
	seen := map[string]bool{}
	for _, k := range d.TagKeys {
		if !labelRe.MatchString(k) || len(k) >= 2 && k[:2] == "__" || k == "le" && d.Kind == Histogram {
			return fmt.Errorf("metric %s: tag key %q is not a label name Prometheus takes", d.Name, k)
		}
		if seen[k] {
			return fmt.Errorf("metric %s: tag key %q is given twice", d.Name, k)
		}
		seen[k] = true
	}
	if d.Kind == Histogram {
		if len(d.Boundaries) == 0 {
			return fmt.Errorf("histogram %s: it needs bucket boundaries", d.Name)
		}
		if !sort.Float64sAreSorted(d.Boundaries) {
			return fmt.Errorf("histogram %s: boundaries %v must increase", d.Name, d.Boundaries)
		}
		for i := 1; i < len(d.Boundaries); i++ {
			if d.Boundaries[i] == d.Boundaries[i-1] {
				return fmt.Errorf("histogram %s: boundary %v is given twice", d.Name, d.Boundaries[i])
			}
		}
	} else if len(d.Boundaries) > 0 {
		return fmt.Errorf("metric %s: only a histogram has boundaries", d.Name)
	}
	return nil
}

// SameDef tells whether two definitions of one name agree (kind, tag keys, boundaries).
func SameDef(a, b *pb.MetricDef) bool {
	if a.Kind != b.Kind || len(a.TagKeys) != len(b.TagKeys) || len(a.Boundaries) != len(b.Boundaries) {
		return false
	}
	for i := range a.TagKeys {
		if a.TagKeys[i] != b.TagKeys[i] {
			return false
		}
	}
	for i := range a.Boundaries {
		if a.Boundaries[i] != b.Boundaries[i] {
			return false
		}
	}
	return true
}

// metric is one declared metric and its Prometheus collector.
type metric struct {
	def       *pb.MetricDef
	series    map[string]bool // the tag combinations recorded so far
	gauge     *prometheus.GaugeVec
	counter   *prometheus.CounterVec
	histogram *prometheus.HistogramVec
}

// Registry keeps a node's user metrics. It is safe for concurrent use.
type Registry struct {
	mu      sync.Mutex
	reg     *prometheus.Registry
	metrics map[string]*metric
	rpc     *rpcMetrics // the gRPC servers' metrics, once asked for (rpc.go)
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{reg: prometheus.NewRegistry(), metrics: map[string]*metric{}}
}

// help is a metric's description as exported, with its unit.
func help(d *pb.MetricDef) string {
	h := d.Description
	if h == "" {
		h = d.Name
	}
	if d.Unit != "" {
		h += " (" + d.Unit + ")"
	}
	return h
}

// declare registers d, or finds it declared alike; a name declared otherwise is an error.
// Called with r.mu held.
func (r *Registry) declare(d *pb.MetricDef) (*metric, error) {
	if m := r.metrics[d.Name]; m != nil {
		if !SameDef(m.def, d) {
			return nil, fmt.Errorf("metric %s is declared already as another kind or with other tag keys or boundaries", d.Name)
		}
		return m, nil
	}
	if err := CheckDef(d); err != nil {
		return nil, err
	}
	if len(r.metrics) >= MaxMetrics {
		return nil, fmt.Errorf("metric %s: this node has %d metrics already, the most it keeps", d.Name, MaxMetrics)
	}
	m := &metric{def: d}
	name := Prefix + d.Name
	var c prometheus.Collector
	switch d.Kind {
	case Gauge, Sum:
		m.gauge = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help(d)}, d.TagKeys)
		c = m.gauge
	case Counter:
		m.counter = prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help(d)}, d.TagKeys)
		c = m.counter
	case Histogram:
		m.histogram = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: help(d), Buckets: d.Boundaries}, d.TagKeys)
		c = m.histogram
	}
	if err := r.reg.Register(c); err != nil {
		return nil, fmt.Errorf("metric %s: %w", d.Name, err)
	}
	r.metrics[d.Name] = m
	return m, nil
}

// Record applies one recorded value: a gauge is set to it, a counter and a sum grow by it, a
// histogram observes it. Tags name some of the metric's tag keys (the others are ""); a tag
// key the metric does not have, or a counter going down, is an error.
func (r *Registry) Record(d *pb.MetricDef, value float64, tags map[string]string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	m, err := r.declare(d)
	if err != nil {
		return err
	}
	labels := make(prometheus.Labels, len(m.def.TagKeys))
	for _, k := range m.def.TagKeys {
		labels[k] = tags[k]
	}
	for k := range tags {
		if _, ok := labels[k]; !ok {
			return fmt.Errorf("metric %s has no tag key %q (its keys: %v)", d.Name, k, m.def.TagKeys)
		}
	}
	var sb strings.Builder
	for _, k := range m.def.TagKeys {
		sb.WriteString(labels[k])
		sb.WriteByte(0)
	}
	if series := sb.String(); !m.series[series] {
		if len(m.series) >= MaxSeries {
			return fmt.Errorf("metric %s has %d tag combinations already, the most a node keeps", d.Name, MaxSeries)
		}
		if m.series == nil {
			m.series = map[string]bool{}
		}
		m.series[series] = true
	}
	switch m.def.Kind {
	case Gauge:
		m.gauge.With(labels).Set(value)
	case Sum:
		m.gauge.With(labels).Add(value)
	case Counter:
		if value < 0 {
			return fmt.Errorf("counter %s cannot go down (recorded %v)", d.Name, value)
		}
		m.counter.With(labels).Add(value)
	case Histogram:
		m.histogram.With(labels).Observe(value)
	}
	return nil
}

// Handler serves the registry in Prometheus' text format.
func (r *Registry) Handler() http.Handler {
	return promhttp.HandlerFor(r.reg, promhttp.HandlerOpts{})
}
