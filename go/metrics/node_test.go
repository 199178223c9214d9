package metrics

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestExportNode(t *testing.T) {
	r := NewRegistry()
	err := r.ExportNode(func() NodeStats {
		return NodeStats{
			Tasks:  map[[2]string]int{{"Plus", "FINISHED"}: 3, {"Slow", "RUNNING"}: 1},
			Actors: map[[2]string]int{{"Counter", "ALIVE"}: 2},
			Total:  map[string]float64{"CPU": 2}, Available: map[string]float64{"CPU": 0.5},
			StoreUsed: 100, StoreCapacity: 1000,
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	r.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	for _, want := range []string{
		`ray_tasks{Name="Plus",State="FINISHED"} 3`,
		`ray_tasks{Name="Slow",State="RUNNING"} 1`,
		`ray_actors{Name="Counter",State="ALIVE"} 2`,
		`ray_resources{Name="CPU",State="USED"} 1.5`,
		`ray_resources{Name="CPU",State="AVAILABLE"} 0.5`,
		`ray_object_store_memory{Location="MMAP_SHM"} 100`,
		`ray_object_store_available_memory 900`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("the scrape lacks %s:\n%s", want, body)
		}
	}
}
