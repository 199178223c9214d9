package raylet

import (
	"fmt"
	"strings"
	"testing"

	"goray/ids"
	"goray/placement"
)

// The GPUs a worker is told to see (CUDA_VISIBLE_DEVICES), as a table: each case submits tasks
// (their GPU demands) to a node with 2 GPUs and 4 idle workers, all at once; then says what each
// task's worker was told ("-": not told at all, "()": told none).
func TestVisibleDevices(t *testing.T) {
	cases := []struct {
		name  string
		names []string // the node's GPU names (nil: indexes)
		noSet bool
		gpus  []float64
		want  string
	}{
		{"whole GPUs, one each", nil, false, []float64{1, 1}, "0 1"},
		{"two GPUs for one task", nil, false, []float64{2}, "0,1"},
		{"halves share a GPU", nil, false, []float64{0.5, 0.5, 0.5}, "0 0 1"},
		{"no GPU: told none", nil, false, []float64{0}, "()"},
		{"the node's own names", []string{"3", "5"}, false, []float64{1, 1}, "3 5"},
		{"left alone when asked to", nil, true, []float64{1, 0}, "- -"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, map[string]float64{"CPU": 4, "GPU": 2})
			h.s.cfg.GPUNames, h.s.cfg.NoSetVisibleDevices = c.names, c.noSet
			h.s.defaultJob.prestart = 0
			var workers []*conn
			for i := 0; i < 4; i++ {
				workers = append(workers, h.worker(nil))
			}
			d := h.driver()
			for i, g := range c.gpus {
				res := map[string]float64{"CPU": 1}
				if g > 0 {
					res["GPU"] = g
				}
				h.submit(d, fmt.Sprintf("t%d", i), res, 0)
			}
			told := map[string]string{}
			for _, w := range workers {
				for _, m := range w.out.take() {
					if e := m.GetExecute(); e != nil {
						switch {
						case !e.Spec.SetVisibleDevices:
							told[e.Spec.FunctionName] = "-"
						case e.Spec.VisibleDevices == "":
							told[e.Spec.FunctionName] = "()"
						default:
							told[e.Spec.FunctionName] = e.Spec.VisibleDevices
						}
					}
				}
			}
			var got []string
			for i := range c.gpus {
				got = append(got, told[fmt.Sprintf("t%d", i)])
			}
			if g := strings.Join(got, " "); g != c.want {
				t.Errorf("told %q, want %q", g, c.want)
			}
		})
	}
}

// Work in a placement group's bundle sees the GPUs the bundle holds on its node.
func TestVisibleDevicesInBundle(t *testing.T) {
	h := newHarness(t, map[string]float64{"CPU": 4, "GPU": 2})
	h.s.defaultJob.prestart = 0
	group := ids.NewGroupID(ids.NewUniqueID())
	var err error
	h.do(func(s *state) {
		if err = s.prepareBundles(group, []int{0, 1}, []map[string]float64{{"GPU": 1}, {"GPU": 1, "CPU": 1}}, 1); err == nil {
			err = s.commitBundle(group, 0)
		}
		if err == nil {
			err = s.commitBundle(group, 1)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	w := h.worker(nil)
	demand, _ := placement.Demand(map[string]float64{"GPU": 0.5, "CPU": 1}, group, 1)
	h.submit(h.driver(), "inBundle1", demand, 0)
	var told []string
	for _, m := range w.out.take() {
		if e := m.GetExecute(); e != nil {
			told = append(told, e.Spec.VisibleDevices)
		}
	}
	if fmt.Sprint(told) != "[1]" {
		t.Errorf("a task in bundle 1 was told %v, want [1] (the bundle's GPU)", told)
	}
}

// A task holding GPUs is not queued behind a busy worker (its devices are chosen when it starts).
func TestGPUTasksNotPipelined(t *testing.T) {
	h := newHarness(t, map[string]float64{"CPU": 4, "GPU": 1})
	h.s.defaultJob.prestart = 0
	w := h.worker(nil)
	d := h.driver()
	h.submit(d, "first", map[string]float64{"CPU": 1, "GPU": 1}, 0)
	h.submit(d, "second", map[string]float64{"CPU": 1, "GPU": 1}, 0)
	h.do(func(s *state) { s.pipeline() })
	if got := executed(w.out.take()); fmt.Sprint(got) != "[first]" {
		t.Errorf("the worker was sent %v, want only [first]", got)
	}
}
