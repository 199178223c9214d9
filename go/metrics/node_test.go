package metrics

import (
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
			StoreUsed: 100, StoreCapacity: 1000, StoreSpilled: 4096, StoreObjects: 7,
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	body := scrape(t, r)
	for _, want := range []string{
		`ray_tasks{Name="Plus",State="FINISHED"} 3`,
		`ray_tasks{Name="Slow",State="RUNNING"} 1`,
		`ray_actors{Name="Counter",State="ALIVE"} 2`,
		`ray_resources{Name="CPU",State="USED"} 1.5`,
		`ray_resources{Name="CPU",State="AVAILABLE"} 0.5`,
		`ray_object_store_memory{Location="MMAP_SHM"} 100`,
		`ray_object_store_available_memory 900`,
		`ray_object_store_memory{Location="SPILLED"} 4096`,
		`ray_object_store_num_local_objects 7`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the scrape lacks %s:\n%s", want, body)
		}
	}
}
