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

func TestWaitNWakesOnPut(t *testing.T) {
	s := NewMemoryStore()
	a, b, c := ids.NewPutID(), ids.NewPutID(), ids.NewPutID()
	s.Put(a, &Object{})
	done := make(chan []bool)
	go func() {
		ready, err := s.WaitN(context.Background(), []ids.ObjectID{a, b, c}, 2)
		if err != nil {
			t.Error(err)
		}
		done <- ready
	}()
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
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.waiters) != 0 {
		t.Fatalf("timed-out waiter left behind: %d", len(s.waiters))
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
