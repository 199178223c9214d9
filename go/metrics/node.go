package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
)

// NodeStats is what a node exports of itself, under Ray's system metric names: its tasks and
// actors by name and state, its resources used and available, and its object store's use.
type NodeStats struct {
	// Tasks counts tasks by function name and state (ray_tasks{Name, State}).
	Tasks map[[2]string]int
	// Actors counts actors by class name and state (ray_actors{Name, State}).
	Actors map[[2]string]int
	// Total and Available are the node's resources (ray_resources{Name, State=USED|AVAILABLE}).
	Total, Available map[string]float64
	// StoreUsed and StoreCapacity are the shared-memory object store's bytes
	// (ray_object_store_memory{Location="MMAP_SHM"}, ray_object_store_available_memory).
	StoreUsed, StoreCapacity int64
	// StoreSpilled is the bytes of the objects on disk now (ray_object_store_memory{Location="SPILLED"}),
	// StoreObjects the objects in the store (ray_object_store_num_local_objects).
	StoreSpilled int64
	StoreObjects int
}

var (
	tasksDesc     = prometheus.NewDesc("ray_tasks", "Current number of tasks (remote functions and actor calls) by state, of those the node knows.", []string{"Name", "State"}, nil)
	actorsDesc    = prometheus.NewDesc("ray_actors", "Current number of actors by state, of those the node owns.", []string{"Name", "State"}, nil)
	resourcesDesc = prometheus.NewDesc("ray_resources", "Logical resources of the node, USED or AVAILABLE.", []string{"Name", "State"}, nil)
	storeDesc     = prometheus.NewDesc("ray_object_store_memory", "Bytes of the node's object store in use.", []string{"Location"}, nil)
	storeFreeDesc = prometheus.NewDesc("ray_object_store_available_memory", "Bytes of the node's object store free.", nil, nil)
	storeObjsDesc = prometheus.NewDesc("ray_object_store_num_local_objects", "Objects in the node's object store.", nil, nil)
)

// nodeCollector exports a node's stats, read at each scrape.
type nodeCollector struct{ stats func() NodeStats }

// Describe implements prometheus.Collector.
func (c nodeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{tasksDesc, actorsDesc, resourcesDesc, storeDesc, storeFreeDesc, storeObjsDesc} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c nodeCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.stats()
	for k, n := range s.Tasks {
		ch <- prometheus.MustNewConstMetric(tasksDesc, prometheus.GaugeValue, float64(n), k[0], k[1])
	}
	for k, n := range s.Actors {
		ch <- prometheus.MustNewConstMetric(actorsDesc, prometheus.GaugeValue, float64(n), k[0], k[1])
	}
	for name, total := range s.Total {
		free := s.Available[name]
		ch <- prometheus.MustNewConstMetric(resourcesDesc, prometheus.GaugeValue, total-free, name, "USED")
		ch <- prometheus.MustNewConstMetric(resourcesDesc, prometheus.GaugeValue, free, name, "AVAILABLE")
	}
	ch <- prometheus.MustNewConstMetric(storeDesc, prometheus.GaugeValue, float64(s.StoreUsed), "MMAP_SHM")
	ch <- prometheus.MustNewConstMetric(storeDesc, prometheus.GaugeValue, float64(s.StoreSpilled), "SPILLED")
	ch <- prometheus.MustNewConstMetric(storeObjsDesc, prometheus.GaugeValue, float64(s.StoreObjects))
	ch <- prometheus.MustNewConstMetric(storeFreeDesc, prometheus.GaugeValue, float64(s.StoreCapacity-s.StoreUsed))
}

// ExportNode adds the node's own metrics (Ray's system metrics) to the registry: stats is
// called at each scrape.
func (r *Registry) ExportNode(stats func() NodeStats) error {
	return r.reg.Register(nodeCollector{stats: stats})
}
