package batch

import (
	"errors"
	"sync"
	"testing"
	"time"
)

// kinds runs a test against both kinds of sender.
func kinds[M any](t *testing.T, test func(t *testing.T, make func(func([]M) error) *Sender[M])) {
	t.Run("goroutine", func(t *testing.T) { test(t, NewSender[M]) })
	t.Run("inline", func(t *testing.T) { test(t, NewInlineSender[M]) })
}

func TestSendsEverythingInOrder(t *testing.T) {
	kinds(t, func(t *testing.T, newSender func(func([]int) error) *Sender[int]) {
		var mu sync.Mutex
		var got []int
		batches := 0
		s := newSender(func(b []int) error {
			mu.Lock()
			defer mu.Unlock()
			got = append(got, b...)
			batches++
			return nil
		})
		for i := 0; i < 10000; i++ {
			if err := s.Queue(i); err != nil {
				t.Fatal(err)
			}
		}
		s.Close()
		if len(got) != 10000 {
			t.Fatalf("sent %d of 10000", len(got))
		}
		for i, v := range got {
			if v != i {
				t.Fatalf("message %d is %d: out of order", i, v)
			}
		}
		if batches > 10000 {
			t.Fatalf("%d batches", batches)
		}
		if err := s.Queue(1); err != ErrClosed {
			t.Fatalf("queue after close: %v", err)
		}
	})
}

func TestSendErrorStops(t *testing.T) {
	kinds(t, func(t *testing.T, newSender func(func([]string) error) *Sender[string]) {
		boom := errors.New("boom")
		s := newSender(func(b []string) error { return boom })
		_ = s.Queue("x")
		<-s.Done()
		if s.Err() != boom {
			t.Fatalf("err = %v", s.Err())
		}
		if err := s.Queue("y"); err != boom {
			t.Fatalf("queue after failure: %v", err)
		}
		s.Close()
	})
}

// While one goroutine's send is under way, what others queue goes out together after it, in
// the order queued, and Close waits for it.
func TestInlineSenderBatchesWhileSending(t *testing.T) {
	release := make(chan struct{})
	var mu sync.Mutex
	var batches [][]int
	s := NewInlineSender(func(b []int) error {
		mu.Lock()
		batches = append(batches, b)
		first := len(batches) == 1
		mu.Unlock()
		if first {
			<-release
		}
		return nil
	})
	firstDone := make(chan error)
	go func() { firstDone <- s.Queue(0) }()
	for {
		mu.Lock()
		n := len(batches)
		mu.Unlock()
		if n == 1 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	for i := 1; i <= 100; i++ {
		if err := s.Queue(i); err != nil {
			t.Fatal(err)
		}
	}
	closed := make(chan struct{})
	go func() { s.Close(); close(closed) }()
	select {
	case <-closed:
		t.Fatal("Close returned while a send was under way")
	case <-time.After(20 * time.Millisecond):
	}
	close(release)
	if err := <-firstDone; err != nil {
		t.Fatal(err)
	}
	<-closed
	if len(batches) != 2 || len(batches[1]) != 100 || batches[1][0] != 1 || batches[1][99] != 100 {
		t.Fatalf("batches = %v, want [0] then 1..100", batches)
	}
}

func TestEnqueueWaitsForFlushOnInlineSenders(t *testing.T) {
	kinds(t, func(t *testing.T, newSender func(func([]int) error) *Sender[int]) {
		var mu sync.Mutex
		var got []int
		s := newSender(func(b []int) error {
			mu.Lock()
			defer mu.Unlock()
			got = append(got, b...)
			return nil
		})
		for i := 0; i < 3; i++ {
			if err := s.Enqueue(i); err != nil {
				t.Fatal(err)
			}
		}
		if s.inline {
			mu.Lock()
			n := len(got)
			mu.Unlock()
			if n != 0 {
				t.Fatalf("an inline sender sent %d enqueued messages before Flush", n)
			}
		}
		if err := s.Flush(); err != nil {
			t.Fatal(err)
		}
		// Close sends what is enqueued and not flushed yet.
		if err := s.Enqueue(3); err != nil {
			t.Fatal(err)
		}
		s.Close()
		if len(got) != 4 || got[0] != 0 || got[3] != 3 {
			t.Fatalf("sent %v, want [0 1 2 3]", got)
		}
	})
}
