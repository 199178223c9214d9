package raylet

import (
	"testing"

	pb "goray/rpc/proto"
)

func TestTaskLogKeepsTheLatest(t *testing.T) {
	var l taskLog
	for i := 0; i < maxTaskLog+3; i++ {
		l.add(&pb.TaskRecord{WorkerPid: int32(i)})
	}
	all := l.all()
	if len(all) != maxTaskLog || all[0].WorkerPid != 3 || all[len(all)-1].WorkerPid != maxTaskLog+2 {
		t.Fatalf("the ring holds %d runs, from %d to %d", len(all), all[0].WorkerPid, all[len(all)-1].WorkerPid)
	}
	for i := 1; i < len(all); i++ {
		if all[i].WorkerPid != all[i-1].WorkerPid+1 {
			t.Fatalf("out of order at %d: %d after %d", i, all[i].WorkerPid, all[i-1].WorkerPid)
		}
	}
}

func TestTasksRanFromWorkersOnly(t *testing.T) {
	var s state
	driver := &client{pid: 1}
	s.tasksRan(driver, []*pb.TaskEvent{{TaskId: []byte{1}}})
	if n := len(s.taskLog.all()); n != 0 {
		t.Errorf("a driver's events were kept: %d", n)
	}
	w := &client{pid: 2, worker: &worker{pid: 2}, job: &job{id: "01000000"}}
	s.tasksRan(w, []*pb.TaskEvent{{TaskId: []byte{1}, State: "FINISHED"}, {TaskId: []byte{2}, State: "FAILED"}})
	got := s.taskLog.all()
	if len(got) != 2 || got[0].JobId != "01000000" || got[1].WorkerPid != 2 || got[1].Event.State != "FAILED" {
		t.Errorf("a worker's events: %v", got)
	}
}
