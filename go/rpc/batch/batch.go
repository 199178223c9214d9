// Package batch sends messages on a gRPC stream in batches: whatever was queued while one Send
// was under way goes out together in the next, so many small messages cost few stream writes.
package batch

import (
	"errors"
	"sync"
)

// ErrClosed is returned by Queue once the sender has stopped.
var ErrClosed = errors.New("stream closed")

// maxBatch bounds the messages of one Send so one batch cannot grow without limit.
const maxBatch = 4096

// Sender queues messages of type M and sends them as batches made by wrap.
type Sender[M any] struct {
	mu      sync.Mutex
	queue   []M
	wake    chan struct{}
	stopped bool
	err     error
	done    chan struct{}
}

// NewSender starts a sender whose goroutine calls send(batch) until send fails or Close is called.
func NewSender[M any](send func([]M) error) *Sender[M] {
	s := &Sender[M]{wake: make(chan struct{}, 1), done: make(chan struct{})}
	go s.loop(send)
	return s
}

// Queue adds m to the next batch.
func (s *Sender[M]) Queue(m M) error {
	s.mu.Lock()
	if s.stopped {
		err := s.err
		s.mu.Unlock()
		if err == nil {
			err = ErrClosed
		}
		return err
	}
	s.queue = append(s.queue, m)
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
	return nil
}

// Close stops the sender after it has sent what is queued, and waits for its goroutine.
func (s *Sender[M]) Close() {
	s.mu.Lock()
	s.stopped = true
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
	<-s.done
}

// Done is closed when the sender's goroutine has ended.
func (s *Sender[M]) Done() <-chan struct{} { return s.done }

// Err is the send error that stopped the sender, if any.
func (s *Sender[M]) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

func (s *Sender[M]) loop(send func([]M) error) {
	defer close(s.done)
	for {
		s.mu.Lock()
		for len(s.queue) == 0 && !s.stopped {
			s.mu.Unlock()
			<-s.wake
			s.mu.Lock()
		}
		if len(s.queue) == 0 && s.stopped {
			s.mu.Unlock()
			return
		}
		n := len(s.queue)
		if n > maxBatch {
			n = maxBatch
		}
		out := make([]M, n)
		copy(out, s.queue)
		rest := copy(s.queue, s.queue[n:])
		for i := rest; i < len(s.queue); i++ {
			var zero M
			s.queue[i] = zero
		}
		s.queue = s.queue[:rest]
		s.mu.Unlock()
		if err := send(out); err != nil {
			s.mu.Lock()
			s.stopped = true
			s.err = err
			s.queue = nil
			s.mu.Unlock()
			return
		}
	}
}
