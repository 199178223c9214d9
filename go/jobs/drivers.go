package jobs

import (
	"context"
	"encoding/hex"
	"sort"
	"strconv"

	"github.com/golang/glog"
	"google.golang.org/grpc"

	pb "goray/rpc/proto"
)

// maxDriversReply bounds the control store's reply of the drivers' jobs (its 10,000 records of up
// to a few KiB each).
const maxDriversReply = 64 << 20

// Drivers lists the drivers' jobs of the control store that a filter admits.
type Drivers func(ctx context.Context, filter *pb.GetAllJobsRequest) ([]*pb.JobInfo, error)

// DriversOf lists the drivers' jobs of the control store that store reaches.
func DriversOf(store pb.ControlStoreClient) Drivers {
	return func(ctx context.Context, filter *pb.GetAllJobsRequest) ([]*pb.JobInfo, error) {
		rep, err := store.GetAllJobs(ctx, filter, grpc.MaxCallRecvMsgSize(maxDriversReply))
		return rep.GetJobs(), err
	}
}

// ListWith is the submitted jobs completed with all the drivers' jobs (WithDrivers); when the
// control store cannot be asked (or drivers is nil), the submitted ones alone.
func ListWith(ctx context.Context, submitted []Info, drivers Drivers) []Info {
	if drivers == nil {
		return submitted
	}
	d, err := drivers(ctx, &pb.GetAllJobsRequest{})
	if err != nil {
		glog.Warningf("jobs: the drivers' jobs: %v", err)
		return submitted
	}
	return WithDrivers(submitted, d)
}

// WithDrivers completes the submitted jobs with the drivers' jobs of the control store, as Ray's
// job list shows them: a submitted job's first driver gives it its job_id and driver_info; any
// other driver (of no listed submission, or a submission's second) is a job of type DRIVER of its
// own (RUNNING while it is attached, SUCCEEDED once it left). The list is ordered by start time.
func WithDrivers(submitted []Info, drivers []*pb.JobInfo) []Info {
	out := append(make([]Info, 0, len(submitted)+len(drivers)), submitted...)
	bySubmission := map[string]int{}
	for i, j := range out {
		bySubmission[j.SubmissionID] = i
	}
	for _, d := range drivers {
		id := d.JobId
		driver := &DriverInfo{ID: id, NodeIPAddress: d.DriverIp, PID: strconv.Itoa(int(d.DriverPid))}
		if i, ok := bySubmission[d.SubmissionId]; ok && d.SubmissionId != "" && out[i].DriverInfo == nil {
			out[i].JobID, out[i].DriverInfo = &id, driver
			continue
		}
		rec := Info{Type: TypeDriver, JobID: &id, Status: Running, Entrypoint: d.Entrypoint, StartTime: d.StartTimeMs,
			Metadata: map[string]string{}, RuntimeEnv: map[string]any{}, DriverNodeID: hex.EncodeToString(d.DriverNodeId), DriverInfo: driver}
		if d.IsDead {
			end := d.EndTimeMs
			rec.Status, rec.EndTime = Succeeded, &end
		}
		out = append(out, rec)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].StartTime < out[j].StartTime })
	return out
}
