package raylet

import (
	"fmt"

	"github.com/golang/glog"

	pb "goray/rpc/proto"
)

// maxMetricDefsPerClient bounds the metric definitions the node keeps for one process.
const maxMetricDefsPerClient = 10000

// recordMetrics is the event of a process's recorded metric values: each goes to the node's
// registry (a process sends a metric's definition with its first value). A bad one is logged and
// dropped; the others count. Called with r.mu held.
func (s *state) recordMetrics(c *client, m *pb.RecordMetrics) error {
	reg := s.cfg.Metrics
	var first error
	for _, p := range m.GetPoints() {
		def := p.GetDef()
		if def != nil {
			if c.metrics == nil {
				c.metrics = map[string]*pb.MetricDef{}
			}
			if len(c.metrics) < maxMetricDefsPerClient || c.metrics[def.Name] != nil {
				c.metrics[def.Name] = def
			}
		} else {
			def = c.metrics[p.Name]
		}
		var err error
		switch {
		case def == nil:
			err = fmt.Errorf("a value of metric %q, which the process never defined", p.Name)
		case reg != nil:
			err = reg.Record(def, p.Value, p.Tags)
		}
		if err != nil && first == nil {
			first = err
		}
	}
	if first != nil {
		glog.Warningf("metrics of %s: %v", c, first)
	}
	return nil
}
