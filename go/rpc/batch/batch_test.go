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
		checkSentInOrder(t, got, 10000)
		if batches > 10000 {
			t.Fatalf("%d batches", batches)
		}
		if err := s.Queue(1); err != ErrClosed {
			t.Fatalf("queue after close: %v", err)
		}
	})
}

// closeWhileSending calls Close on a goroutine, checks that it waits for the send under way, and
// returns what is closed once Close returns.
func closeWhileSending[M any](t *testing.T, s *Sender[M]) <-chan struct{} {
	t.Helper()
	closed := make(chan struct{})
	go func() { s.Close(); close(closed) }()
	select {
	case <-closed:
		t.Fatal("Close returned while a send was under way")
	case <-time.After(20 * time.Millisecond):
	}
	return closed
}

// checkSentInOrder checks that got is 0, 1, ..., n-1.
func checkSentInOrder(t *testing.T, got []int, n int) {
	t.Helper()
	if len(got) != n {
		t.Fatalf("sent %d of %d", len(got), n)
	}
	for i, v := range got {
		if v != i {
			t.Fatalf("message %d is %d: out of order", i, v)
		}
	}
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
	closed := closeWhileSending(t, s)
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

// QueueBurst: a message on its own goes out on the caller's goroutine; within a burst the helper
// sends, in batches and in the order queued (Queue and Enqueue included), while the caller goes
// on; Close waits for the helper's send and stops it.
func TestQueueBurstHandsBurstsToHelper(t *testing.T) {
	release := make(chan struct{})
	var mu sync.Mutex
	var got []int
	var batches int
	caller := make(chan bool, 1) // whether the first send ran before QueueBurst returned
	s := NewInlineSender(func(b []int) error {
		mu.Lock()
		first := batches == 0
		batches++
		got = append(got, b...)
		mu.Unlock()
		if first {
			caller <- true
		}
		if len(b) > 0 && b[0] == 1 {
			<-release // the helper's first batch: the caller must not wait for it
		}
		return nil
	})
	s.AllowBursts(true)
	s.burstGap = time.Hour // every QueueBurst after the first is part of the burst, however slow the test runs
	if err := s.QueueBurst(0); err != nil {
		t.Fatal(err)
	}
	select {
	case <-caller:
	default:
		t.Fatal("a message on its own was not sent before QueueBurst returned")
	}
	// The next ones come within BurstGap: the helper sends them; QueueBurst does not block on it.
	start := time.Now()
	for i := 1; i <= 1000; i++ {
		var err error
		switch i % 3 {
		case 0:
			err = s.QueueBurst(i)
		case 1:
			err = s.QueueBurst(i)
		default:
			err = s.Enqueue(i)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Queue(1001); err != nil { // a send is under way: left for the helper
		t.Fatal(err)
	}
	if time.Since(start) > time.Second {
		t.Fatal("QueueBurst waited for the helper's send")
	}
	closed := closeWhileSending(t, s)
	close(release)
	<-closed
	checkSentInOrder(t, got, 1002)
	if batches > 10 {
		t.Fatalf("%d batches for a burst of 1001", batches)
	}
	if err := s.QueueBurst(5); err != ErrClosed {
		t.Fatalf("QueueBurst after Close: %v", err)
	}
}

// Without AllowBursts, and on goroutine senders, QueueBurst is Queue.
func TestQueueBurstWithoutBursts(t *testing.T) {
	var got []int
	s := NewInlineSender(func(b []int) error { got = append(got, b...); return nil })
	for i := 0; i < 100; i++ {
		if err := s.QueueBurst(i); err != nil {
			t.Fatal(err)
		}
		if len(got) != i+1 { // sent from here, before QueueBurst returned
			t.Fatalf("after QueueBurst(%d): sent %d", i, len(got))
		}
	}
	s.Close()
	var mu sync.Mutex
	n := 0
	g := NewSender(func(b []int) error { mu.Lock(); n += len(b); mu.Unlock(); return nil })
	g.AllowBursts(true)
	for i := 0; i < 100; i++ {
		_ = g.QueueBurst(i)
	}
	g.Close()
	if n != 100 {
		t.Fatalf("goroutine sender sent %d of 100", n)
	}
}

// A send error in the helper stops the sender: later calls return it and the helper ends.
func TestQueueBurstHelperError(t *testing.T) {
	boom := errors.New("boom")
	calls := 0
	s := NewInlineSender(func(b []int) error {
		calls++
		if calls > 1 {
			return boom
		}
		return nil
	})
	s.AllowBursts(true)
	s.burstGap = time.Hour
	_ = s.QueueBurst(0)
	_ = s.QueueBurst(1) // within the gap: to the helper, which fails
	select {
	case <-s.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the sender did not stop after the helper's send failed")
	}
	if err := s.QueueBurst(2); err != boom {
		t.Fatalf("QueueBurst after the failure: %v", err)
	}
	s.Close()
}

// EnqueueMerged folds a message into the last one queued when merge says so, never into one
// already taken for sending, and queues it otherwise.
func TestEnqueueMerged(t *testing.T) {
	kinds(t, func(t *testing.T, newSender func(func([][]int) error) *Sender[[]int]) {
		var mu sync.Mutex
		var got [][]int
		inSend := make(chan struct{}, 1)
		release := make(chan struct{})
		s := newSender(func(b [][]int) error {
			select {
			case inSend <- struct{}{}:
			default:
			}
			<-release
			mu.Lock()
			defer mu.Unlock()
			got = append(got, b...)
			return nil
		})
		// Folds m into last's spare slot; a negative value never merges.
		merged := func(m []int) (func([]int) bool, func() []int) {
			return func(last []int) bool {
					if m[0] < 0 {
						return false
					}
					last[len(last)-1] = m[0]
					return true
				}, func() []int {
					return m
				}
		}
		// A first message, taken for sending and held there.
		go func() { _ = s.Queue([]int{9, 0}) }()
		<-inSend
		if err := s.EnqueueMerged(merged([]int{8})); err != nil { // nothing queued: on its own
			t.Fatal(err)
		}
		if err := s.Enqueue([]int{1, 0}); err != nil {
			t.Fatal(err)
		}
		if err := s.EnqueueMerged(merged([]int{2})); err != nil { // folded into [1, 0]
			t.Fatal(err)
		}
		if err := s.EnqueueMerged(merged([]int{-3})); err != nil { // queued on its own
			t.Fatal(err)
		}
		close(release)
		s.Close()
		want := [][]int{{9, 0}, {8}, {1, 2}, {-3}}
		if len(got) != len(want) {
			t.Fatalf("sent %v, want %v", got, want)
		}
		for i := range want {
			for j := range want[i] {
				if len(got[i]) != len(want[i]) || got[i][j] != want[i][j] {
					t.Fatalf("sent %v, want %v", got, want)
				}
			}
		}
		if err := s.EnqueueMerged(merged([]int{4})); err != ErrClosed {
			t.Fatalf("after Close: %v", err)
		}
	})
}
