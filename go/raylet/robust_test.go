package raylet

import (
	"math"
	"math/rand"
	"path/filepath"
	"testing"
	"time"

	"goray/ids"
	"goray/internal/testutil"
	pb "goray/rpc/proto"
)

// garbage makes protobuf-valid messages with arbitrary field values: ids of every length, known
// and unknown ids, wrong kinds, shared-memory ranges nobody reserved, odd resources.
type garbage struct {
	rng   *rand.Rand
	known [][]byte
}

func (g *garbage) id() []byte {
	switch g.rng.Intn(5) {
	case 0:
		return nil
	case 1:
		b := make([]byte, g.rng.Intn(40))
		g.rng.Read(b)
		return b
	case 2:
		id := ids.NewPutID()
		return id[:]
	default:
		if len(g.known) == 0 {
			return nil
		}
		return g.known[g.rng.Intn(len(g.known))]
	}
}

func (g *garbage) ids() [][]byte {
	out := make([][]byte, g.rng.Intn(4))
	for i := range out {
		out[i] = g.id()
	}
	return out
}

// holder is a SealObject's holder id: none, arbitrary bytes, or a worker id nobody has.
func (g *garbage) holder() []byte {
	switch g.rng.Intn(3) {
	case 0:
		return nil
	case 1:
		return g.id()
	default:
		id := ids.NewUniqueID()
		return id[:]
	}
}

func (g *garbage) num() int64 {
	return []int64{0, -1, 1, 63, 64, 4096, 1 << 20, math.MaxInt64, math.MinInt64, g.rng.Int63()}[g.rng.Intn(10)]
}

func (g *garbage) object() *pb.Object {
	if g.rng.Intn(6) == 0 {
		return nil
	}
	return &pb.Object{Data: []byte("d"), Kind: int32(g.rng.Intn(14) - 3), ContainedIds: g.ids(),
		InShm: g.rng.Intn(2) == 0, ShmOffset: g.num(), ShmSize: g.num()}
}

func (g *garbage) spec() *pb.TaskSpec {
	if g.rng.Intn(8) == 0 {
		return nil
	}
	s := &pb.TaskSpec{TaskId: g.id(), FunctionName: []string{"", "F", "Echo"}[g.rng.Intn(3)],
		ReturnId: g.id(), MaxRetries: int32(g.rng.Intn(5) - 2), CallerId: g.id(),
		TaskType: int32(g.rng.Intn(6) - 1), ActorId: g.id(), Resources: map[string]float64{}}
	for i := g.rng.Intn(3); i > 0; i-- {
		s.Resources[[]string{"", "CPU", "GPU", "x"}[g.rng.Intn(4)]] = []float64{0, -1, 0.5, 1, 1e9, math.NaN(), math.Inf(1)}[g.rng.Intn(7)]
	}
	for i := g.rng.Intn(4); i > 0; i-- {
		s.Args = append(s.Args, &pb.TaskArg{IsRef: g.rng.Intn(2) == 0, Data: []byte("a"), ObjectId: g.id(),
			ContainedIds: g.ids(), InShm: g.rng.Intn(3) == 0, ShmOffset: g.num(), ShmSize: g.num()})
	}
	return s
}

func (g *garbage) message() *pb.ClientMessage {
	switch g.rng.Intn(18) {
	case 0:
		return &pb.ClientMessage{Body: &pb.ClientMessage_Submit{Submit: g.spec()}}
	case 1:
		id := g.id()
		if len(id) == ids.ObjectIDSize {
			g.known = append(g.known, id)
		}
		return &pb.ClientMessage{Body: &pb.ClientMessage_Put{Put: &pb.PutObject{ObjectId: id, Object: g.object()}}}
	case 2:
		return &pb.ClientMessage{Body: &pb.ClientMessage_Subscribe{Subscribe: &pb.SubscribeObjects{ObjectIds: g.ids()}}}
	case 3:
		return &pb.ClientMessage{Body: &pb.ClientMessage_Done{Done: &pb.TaskDone{TaskId: g.id(), ReturnId: g.id(), Result: g.object()}}}
	case 4:
		return &pb.ClientMessage{Body: &pb.ClientMessage_Blocked{Blocked: &pb.WorkerBlocked{Blocked: g.rng.Intn(2) == 0}}}
	case 5:
		return &pb.ClientMessage{Body: &pb.ClientMessage_CreateActor{CreateActor: &pb.CreateActor{RequestId: uint64(g.rng.Intn(3)),
			ActorId: g.id(), Creation: g.spec(), ClassName: "C", Name: []string{"", "a"}[g.rng.Intn(2)],
			MaxRestarts: int32(g.rng.Intn(4) - 2), MaxConcurrency: int32(g.rng.Intn(4) - 1), Detached: g.rng.Intn(2) == 0}}}
	case 6:
		return &pb.ClientMessage{Body: &pb.ClientMessage_KillActor{KillActor: &pb.KillActor{ActorId: g.id(), NoRestart: g.rng.Intn(2) == 0}}}
	case 7:
		return &pb.ClientMessage{Body: &pb.ClientMessage_GetActor{GetActor: &pb.GetActor{RequestId: 1, Name: []string{"", "a"}[g.rng.Intn(2)]}}}
	case 8:
		return &pb.ClientMessage{Body: &pb.ClientMessage_ActorExiting{ActorExiting: &pb.ActorExiting{}}}
	case 9:
		return &pb.ClientMessage{Body: &pb.ClientMessage_ReturnTasks{ReturnTasks: &pb.ReturnTasks{ReturnIds: g.ids()}}}
	case 10:
		return &pb.ClientMessage{Body: &pb.ClientMessage_UpdateRefs{UpdateRefs: &pb.UpdateRefs{Added: g.ids(), Removed: g.ids()}}}
	case 11:
		id := g.id()
		if len(id) == ids.ObjectIDSize {
			g.known = append(g.known, id)
		}
		return &pb.ClientMessage{Body: &pb.ClientMessage_CreateObject{CreateObject: &pb.CreateObject{RequestId: 2, ObjectId: id, Size: g.num()}}}
	case 12:
		return &pb.ClientMessage{Body: &pb.ClientMessage_SealObject{SealObject: &pb.SealObject{ObjectId: g.id(), ContainedIds: g.ids(), Abort: g.rng.Intn(3) == 0,
			HolderId: g.holder(), RequestId: uint64(g.rng.Intn(2))}}}
	case 13:
		return &pb.ClientMessage{Body: &pb.ClientMessage_ReleaseObjects{ReleaseObjects: &pb.ReleaseObjects{ObjectIds: g.ids()}}}
	case 14:
		return &pb.ClientMessage{Body: &pb.ClientMessage_WaitActor{WaitActor: &pb.WaitActor{RequestId: 3, ActorId: g.id(), AfterIncarnation: int32(g.rng.Intn(4) - 2)}}}
	case 15:
		return &pb.ClientMessage{Body: &pb.ClientMessage_ExpectObjects{ExpectObjects: &pb.ExpectObjects{ObjectIds: g.ids()}}}
	case 16:
		return &pb.ClientMessage{Body: &pb.ClientMessage_Barrier{Barrier: &pb.Barrier{RequestId: uint64(g.rng.Intn(3))}}}
	default:
		id := ids.NewUniqueID()
		return &pb.ClientMessage{Body: &pb.ClientMessage_Register{Register: &pb.RegisterClient{WorkerId: id[:], IsDriver: true}}}
	}
}

// A driver that sends thousands of arbitrary (well-formed protobuf, nonsensical) messages does
// not bring the node down: afterwards a fresh driver still puts and gets an object.
func TestArbitraryMessagesDoNotBreakTheNode(t *testing.T) {
	dir := testutil.ShortTempDir(t)
	r := New(Config{SessionDir: dir, LogsDir: dir, SocketPath: filepath.Join(dir, "raylet"),
		Resources: map[string]float64{"CPU": 1}, WorkerCommand: []string{"/bin/true"},
		ObjectStoreMemory: 4 << 20, ArenaPath: filepath.Join(dir, "arena"), SpillDir: filepath.Join(dir, "spill")})
	if err := r.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Stop)
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	g := &garbage{rng: rand.New(rand.NewSource(seed))}
	for round := 0; round < 20; round++ {
		stream := openStream(t, r)
		driver := ids.NewUniqueID()
		batch := []*pb.ClientMessage{{Body: &pb.ClientMessage_Register{Register: &pb.RegisterClient{WorkerId: driver[:], IsDriver: true}}}}
		for i := 0; i < 200; i++ {
			batch = append(batch, g.message())
		}
		if err := stream.Send(&pb.ClientBatch{Messages: batch}); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		_ = stream.CloseSend()
		// The node ends the stream once it handled everything the driver sent.
		for {
			if _, err := stream.Recv(); err != nil {
				break
			}
		}
	}
	putAndSubscribe(t, r)
}

// putAndSubscribe checks that the node serves a new driver: a put, then the object back.
func putAndSubscribe(t *testing.T, r *Raylet) {
	t.Helper()
	stream := openStream(t, r)
	driver := ids.NewUniqueID()
	good := ids.NewPutID()
	err := stream.Send(&pb.ClientBatch{Messages: []*pb.ClientMessage{
		{Body: &pb.ClientMessage_Register{Register: &pb.RegisterClient{WorkerId: driver[:], IsDriver: true}}},
		{Body: &pb.ClientMessage_Put{Put: &pb.PutObject{ObjectId: good[:], Object: &pb.Object{Data: []byte("v")}}}},
		{Body: &pb.ClientMessage_Subscribe{Subscribe: &pb.SubscribeObjects{ObjectIds: [][]byte{good[:]}}}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if o := awaitObject(t, stream, good[:]); string(o.Object.Data) != "v" {
		t.Fatalf("got %q, want v", o.Object.Data)
	}
}
