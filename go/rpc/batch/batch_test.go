package batch

import (
	"errors"
	"sync"
	"testing"
)

func TestSendsEverythingInOrder(t *testing.T) {
	var mu sync.Mutex
	var got []int
	batches := 0
	s := NewSender(func(b []int) error {
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
}

func TestSendErrorStops(t *testing.T) {
	boom := errors.New("boom")
	s := NewSender(func(b []string) error { return boom })
	_ = s.Queue("x")
	<-s.Done()
	if s.Err() != boom {
		t.Fatalf("err = %v", s.Err())
	}
	if err := s.Queue("y"); err != boom {
		t.Fatalf("queue after failure: %v", err)
	}
	s.Close()
}
