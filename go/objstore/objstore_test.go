package objstore

import (
	"context"
	"sync"
	"testing"
	"time"

	"goray/ids"
)

func TestPutGetDelete(t *testing.T) {
	s := NewMemoryStore()
	id := ids.NewPutID()
	if _, ok := s.Get(id); ok {
		t.Fatal("empty store has an object")
	}
	if !s.Put(id, &Object{Data: []byte("a")}) {
		t.Fatal("first put refused")
	}
	if s.Put(id, &Object{Data: []byte("b")}) {
		t.Fatal("second put of the same id accepted")
	}
	o, ok := s.Get(id)
	if !ok || string(o.Data) != "a" {
		t.Fatalf("got %v %v, want the first value", o, ok)
	}
	if s.Len() != 1 {
		t.Fatalf("len %d", s.Len())
	}
	s.Delete(id)
	if _, ok := s.Get(id); ok || s.Len() != 0 {
		t.Fatal("delete kept the object")
	}
}

// waitNAsync runs WaitN(want, n) on a goroutine and hands over its flags (an error fails t).
func waitNAsync(t *testing.T, s *MemoryStore, want []ids.ObjectID, n int) <-chan []bool {
	done := make(chan []bool, 1)
	go func() {
		ready, err := s.WaitN(context.Background(), want, n)
		if err != nil {
			t.Error(err)
		}
		done <- ready
	}()
	return done
}

func TestWaitNWakesOnPut(t *testing.T) {
	s := NewMemoryStore()
	a, b, c := ids.NewPutID(), ids.NewPutID(), ids.NewPutID()
	s.Put(a, &Object{})
	done := waitNAsync(t, s, []ids.ObjectID{a, b, c}, 2)
	time.Sleep(20 * time.Millisecond)
	select {
	case <-done:
		t.Fatal("WaitN returned with one of two objects")
	default:
	}
	s.Put(c, &Object{})
	ready := <-done
	if !ready[0] || ready[1] || !ready[2] {
		t.Fatalf("ready = %v, want [true false true]", ready)
	}
}

func TestWaitNTimeout(t *testing.T) {
	s := NewMemoryStore()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	ready, err := s.WaitN(ctx, []ids.ObjectID{ids.NewPutID()}, 1)
	if err == nil || ready[0] {
		t.Fatalf("WaitN on a missing object: %v %v", ready, err)
	}
	checkNoWaiters(t, s)
}

// checkNoWaiters checks that no waiter is left registered on any id.
func checkNoWaiters(t *testing.T, s *MemoryStore) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.waiters) != 0 {
		t.Fatalf("%d waiter entries left behind", len(s.waiters))
	}
}

func TestWaitNDuplicatesAndLargeN(t *testing.T) {
	s := NewMemoryStore()
	a := ids.NewPutID()
	s.Put(a, &Object{})
	ready, err := s.WaitN(context.Background(), []ids.ObjectID{a, a}, 5)
	if err != nil || !ready[0] || !ready[1] {
		t.Fatalf("%v %v", ready, err)
	}
}

func TestConcurrentWaiters(t *testing.T) {
	s := NewMemoryStore()
	id := ids.NewPutID()
	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := s.WaitN(context.Background(), []ids.ObjectID{id}, 1); err != nil {
				t.Error(err)
			}
		}()
	}
	time.Sleep(10 * time.Millisecond)
	s.Put(id, &Object{Kind: KindTaskError})
	wg.Wait()
	if o, _ := s.Get(id); !o.IsError() {
		t.Fatal("error kind lost")
	}
}

func TestScanPresentAppendMissingAnyMissing(t *testing.T) {
	s := NewMemoryStore()
	var list []ids.ObjectID
	present := 0
	for i := 0; i < 3*scanChunk+5; i++ { // several chunks
		id := ids.NewPutID()
		if i%3 == 1 {
			s.Put(id, &Object{Data: []byte{byte(i)}})
			present++
		}
		list = append(list, id)
	}
	list = append(list, list[1]) // present twice
	var seen []int
	s.ScanPresent(list, func(i int, obj *Object) bool {
		if obj.Data[0] != byte(i%256) && i != len(list)-1 {
			t.Fatalf("index %d got object %d", i, obj.Data[0])
		}
		seen = append(seen, i)
		return true
	})
	if len(seen) != present+1 || seen[0] != 1 || seen[1] != 4 || seen[len(seen)-1] != len(list)-1 {
		t.Fatalf("visited %v", seen)
	}
	// Stops when told.
	n := 0
	s.ScanPresent(list, func(int, *Object) bool { n++; return n < 2 })
	if n != 2 {
		t.Fatalf("visited %d after stop", n)
	}
	miss := s.AppendMissing(nil, list)
	if len(miss) != len(list)-len(seen) || miss[0] != list[0] || miss[1] != list[2] {
		t.Fatalf("missing %d of %d", len(miss), len(list))
	}
	if !s.AnyMissing(list) || s.AnyMissing([]ids.ObjectID{list[1], list[4]}) || s.AnyMissing(nil) {
		t.Fatal("AnyMissing")
	}
}

// An id listed twice and missing counts once: waiting for both entries waits for the one object.
func TestWaitNDuplicateMissing(t *testing.T) {
	s := NewMemoryStore()
	a, b := ids.NewPutID(), ids.NewPutID()
	done := waitNAsync(t, s, []ids.ObjectID{b, a, b}, 3)
	time.Sleep(10 * time.Millisecond)
	s.Put(b, &Object{})
	select {
	case <-done:
		t.Fatal("returned with one of two objects")
	case <-time.After(20 * time.Millisecond):
	}
	s.Put(a, &Object{})
	ready := <-done
	if !ready[0] || !ready[1] || !ready[2] {
		t.Fatalf("ready %v", ready)
	}
	checkNoWaiters(t, s)
}

// Several waiters on the same ids, leaving in any order, leave no entry behind; the ones still
// waiting are woken.
func TestWaitNManyWaitersLeave(t *testing.T) {
	s := NewMemoryStore()
	a, b := ids.NewPutID(), ids.NewPutID()
	var wg sync.WaitGroup
	woken := make(chan int, 8)
	for i := 0; i < 8; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), time.Duration(5+5*(i%2))*time.Millisecond)
		if i >= 4 {
			ctx, cancel = context.WithCancel(context.Background())
		}
		wg.Add(1)
		go func(i int, ctx context.Context, cancel context.CancelFunc) {
			defer wg.Done()
			defer cancel()
			ready, err := s.WaitN(ctx, []ids.ObjectID{a, b}, 1)
			if i >= 4 && (err != nil || !ready[1]) {
				t.Errorf("waiter %d: %v %v", i, ready, err)
			}
			if i < 4 && err == nil {
				t.Errorf("waiter %d did not time out", i)
			}
			woken <- i
		}(i, ctx, cancel)
	}
	time.Sleep(30 * time.Millisecond) // the first four time out and leave
	s.mu.Lock()
	if ws := s.waiters[a]; ws.first == nil || len(ws.more) != 3 {
		t.Errorf("waiters on a after four left: first %v, %d more", ws.first != nil, len(ws.more))
	}
	s.mu.Unlock()
	s.Put(b, &Object{})
	wg.Wait()
	checkNoWaiters(t, s)
}
