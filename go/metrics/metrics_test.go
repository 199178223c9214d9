package metrics

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	pb "goray/rpc/proto"
)

func scrape(t *testing.T, r *Registry) string {
	t.Helper()
	rec := httptest.NewRecorder()
	r.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Result().Body)
	return string(body)
}

// Each kind records as Ray's does and exports under "ray_<name>" with its tags as labels.
func TestRecordAndExport(t *testing.T) {
	r := NewRegistry()
	gauge := &pb.MetricDef{Name: "queue_len", Kind: Gauge, Description: "items waiting", Unit: "items", TagKeys: []string{"queue"}}
	counter := &pb.MetricDef{Name: "requests", Kind: Counter, TagKeys: []string{"route"}}
	sum := &pb.MetricDef{Name: "balance", Kind: Sum}
	hist := &pb.MetricDef{Name: "latency_ms", Kind: Histogram, Boundaries: []float64{1, 10, 100}}
	steps := []struct {
		def   *pb.MetricDef
		value float64
		tags  map[string]string
	}{
		{gauge, 5, map[string]string{"queue": "a"}},
		{gauge, 3, map[string]string{"queue": "a"}},
		{counter, 2, map[string]string{"route": "/x"}},
		{counter, 1, map[string]string{"route": "/x"}},
		{sum, 10, nil},
		{sum, -4, nil},
		{hist, 0.5, nil},
		{hist, 50, nil},
	}
	for _, s := range steps {
		if err := r.Record(s.def, s.value, s.tags); err != nil {
			t.Fatal(err)
		}
	}
	out := scrape(t, r)
	for _, want := range []string{
		`# HELP ray_queue_len items waiting (items)`,
		`ray_queue_len{queue="a"} 3`,
		`# TYPE ray_requests counter`,
		`ray_requests{route="/x"} 3`,
		`ray_balance 6`,
		`ray_latency_ms_bucket{le="1"} 1`,
		`ray_latency_ms_bucket{le="100"} 2`,
		`ray_latency_ms_count 2`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("no line %q in:\n%s", want, out)
		}
	}
}

// Bad definitions and records are refused with an error, and nothing else changes.
func TestBadRecords(t *testing.T) {
	r := NewRegistry()
	ok := &pb.MetricDef{Name: "ok", Kind: Gauge, TagKeys: []string{"k"}}
	cases := []struct {
		def  *pb.MetricDef
		val  float64
		tags map[string]string
		want string
	}{
		{&pb.MetricDef{Name: "bad name", Kind: Gauge}, 1, nil, "must match"},
		{&pb.MetricDef{Name: "k", Kind: 9}, 1, nil, "kind"},
		{&pb.MetricDef{Name: "dup", Kind: Gauge, TagKeys: []string{"a", "a"}}, 1, nil, "twice"},
		{&pb.MetricDef{Name: "h", Kind: Histogram, Boundaries: []float64{2, 1}}, 1, nil, "increase"},
		{&pb.MetricDef{Name: "h2", Kind: Histogram}, 1, nil, "boundaries"},
		{&pb.MetricDef{Name: "c", Kind: Counter}, -1, nil, "cannot go down"},
		{ok, 1, map[string]string{"nope": "x"}, "no tag key"},
		{&pb.MetricDef{Name: "ok", Kind: Counter, TagKeys: []string{"k"}}, 1, nil, "declared already"},
	}
	for _, c := range cases {
		if err := r.Record(c.def, c.val, c.tags); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.def.Name, err, c.want)
		}
	}
	if err := r.Record(ok, 7, map[string]string{"k": "v"}); err != nil {
		t.Fatal(err)
	}
	if out := scrape(t, r); !strings.Contains(out, `ray_ok{k="v"} 7`) {
		t.Errorf("after the bad records:\n%s", out)
	}
}

// The node's endpoint: served at /metrics, closed by the cluster's token when it has one.
func TestServeWithToken(t *testing.T) {
	r := NewRegistry()
	if err := r.Record(&pb.MetricDef{Name: "up", Kind: Gauge}, 1, nil); err != nil {
		t.Fatal(err)
	}
	s, err := Serve(r, "127.0.0.1", 0, "secret")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	url := "http://127.0.0.1:" + strconv.Itoa(s.Port()) + "/metrics"
	for _, c := range []struct {
		auth string
		code int
	}{{"", 401}, {"Bearer wrong", 403}, {"Bearer secret", 200}} {
		req, _ := http.NewRequest("GET", url, nil)
		if c.auth != "" {
			req.Header.Set("Authorization", c.auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.code {
			t.Errorf("%q: status %d, want %d", c.auth, resp.StatusCode, c.code)
		}
		if c.code == 200 && !strings.Contains(string(body), "ray_up 1") {
			t.Errorf("body: %s", body)
		}
	}
}

// A metric keeps at most MaxSeries tag combinations; values of those it has still count.
func TestSeriesBound(t *testing.T) {
	r := NewRegistry()
	d := &pb.MetricDef{Name: "per_user", Kind: Counter, TagKeys: []string{"user"}}
	for i := 0; i < MaxSeries; i++ {
		if err := r.Record(d, 1, map[string]string{"user": strconv.Itoa(i)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.Record(d, 1, map[string]string{"user": "one more"}); err == nil || !strings.Contains(err.Error(), "tag combinations") {
		t.Errorf("a series past the bound: %v", err)
	}
	if err := r.Record(d, 1, map[string]string{"user": "7"}); err != nil {
		t.Errorf("a known series: %v", err)
	}
}
