// Package batch sends messages on a gRPC stream in batches: whatever was queued while one Send
// was under way goes out together in the next, so many small messages cost few stream writes.
package batch

import (
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// ErrClosed is returned by Queue once the sender has stopped.
var ErrClosed = errors.New("stream closed")

// maxBatch bounds the messages of one Send so one batch cannot grow without limit.
const maxBatch = 4096

// BurstGap is how soon after the last QueueBurst another one counts as part of a burst. A caller
// that waits for an answer between messages (a sync call: a round trip takes 60 us and more)
// never comes within it; a loop submitting tasks (a few us apart) always does.
const BurstGap = 20 * time.Microsecond

// Sender queues messages of type M and sends them as batches.
//
// A Sender made by NewSender sends from its own goroutine, so Queue never waits for the stream.
// One made by NewInlineSender has no goroutine: Queue sends on the caller's goroutine when no
// send is under way (one goroutine hand-off less on a latency-bound path), and otherwise leaves
// the message for the goroutine that is sending, which sends it in its next batch. Queue on an
// inline sender may therefore wait for the stream: never call it while holding a lock the
// stream's peer could need. QueueBurst on an inline sender sends inline too, except within a burst
// (see BurstGap), whose messages a helper goroutine sends in batches while the caller goes on.
type Sender[M any] struct {
	mu      sync.Mutex
	queue   []M
	wake    chan struct{}
	stopped bool
	err     error
	done    chan struct{}

	inline   bool
	send     func([]M) error
	sending  bool          // inline: a goroutine is in send
	idle     chan struct{} // inline: closed and replaced whenever sending ends
	doneOnce sync.Once

	bursts     atomic.Bool   // inline: QueueBurst may hand off (AllowBursts)
	burstGap   time.Duration // inline: BurstGap (tests make it longer)
	lastBurst  time.Time     // inline: when QueueBurst was last called
	helperWake chan struct{} // inline: hands a drain to the helper (nil until the first burst)
	helperStop chan struct{}
}

// NewSender starts a sender whose goroutine calls send(batch) until send fails or Close is called.
func NewSender[M any](send func([]M) error) *Sender[M] {
	s := &Sender[M]{wake: make(chan struct{}, 1), done: make(chan struct{})}
	go s.loop(send)
	return s
}

// NewInlineSender makes a sender that calls send(batch) on the goroutines that call Queue.
func NewInlineSender[M any](send func([]M) error) *Sender[M] {
	return &Sender[M]{done: make(chan struct{}), inline: true, send: send, idle: make(chan struct{}), burstGap: BurstGap}
}

// Queue adds m to the next batch; an inline sender sends it from here unless a send is under way.
func (s *Sender[M]) Queue(m M) error {
	if err := s.Enqueue(m); err != nil {
		return err
	}
	return s.Flush()
}

// QueueBurst is Queue for a message that may be one of many queued back to back (a task
// submission). On an inline sender, a message queued within BurstGap of the previous QueueBurst
// is not sent from here: the sender's helper goroutine (started on the first burst) sends it, with
// whatever else the burst queues meanwhile, so the caller does not wait for the stream (nor for
// the peer, when the stream hands messages to it in place) once per message. A message on its
// own is sent from here as with Queue, and so is every message until AllowBursts(true). A
// goroutine sender treats it as Queue.
func (s *Sender[M]) QueueBurst(m M) error {
	if !s.inline || !s.bursts.Load() {
		return s.Queue(m)
	}
	now := time.Now()
	if err := s.addLocking(m); err != nil {
		return err
	}
	burst := !s.lastBurst.IsZero() && now.Sub(s.lastBurst) < s.burstGap
	s.lastBurst = now
	if s.sending {
		err := s.err // the goroutine that is sending sends it
		s.mu.Unlock()
		return err
	}
	s.sending = true
	if !burst {
		return s.drainLocked()
	}
	if s.helperWake == nil {
		s.helperWake = make(chan struct{}, 1)
		s.helperStop = make(chan struct{})
		go s.helper(s.helperWake, s.helperStop)
	}
	s.mu.Unlock()
	// One drain is handed over per time sending is set, so the buffer always has room.
	s.helperWake <- struct{}{}
	return nil
}

// AllowBursts turns QueueBurst's hand-off to the helper on or off (off: QueueBurst is Queue).
// Leave it off in a process with one Go thread (GOMAXPROCS 1): the helper could only run once
// the caller stopped running Go code, which a caller that goes back to C between messages does
// not do until the runtime takes its thread's P back, up to milliseconds later.
func (s *Sender[M]) AllowBursts(on bool) { s.bursts.Store(on) }

// helper sends what bursts leave to it: each wake is one drain, with sending already set.
func (s *Sender[M]) helper(wake, stop chan struct{}) {
	for {
		select {
		case <-wake:
			s.mu.Lock()
			_ = s.drainLocked() // a send error stops the sender: later calls return it
		case <-stop:
			return
		}
	}
}

// Enqueue adds m to the next batch without sending it from this goroutine: a goroutine sender
// wakes as with Queue; an inline sender sends it with the next Queue or Flush. It never blocks
// on the stream, so it may be called under a lock to keep messages in the order of the changes
// they describe.
func (s *Sender[M]) Enqueue(m M) error {
	if err := s.addLocking(m); err != nil {
		return err
	}
	s.mu.Unlock()
	if !s.inline {
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
	return nil
}

// EnqueueMerged is Enqueue for a message that merge may fold into the last message queued and
// not sent yet: merge(last) reports whether it did (it runs with the sender's lock held, and must
// only fold in where sending both in order would have the same effect); otherwise make() is
// queued. make is not called when merge folds, so a merged message costs no allocation.
func (s *Sender[M]) EnqueueMerged(merge func(last M) bool, make func() M) error {
	s.mu.Lock()
	if !s.stopped && len(s.queue) > 0 && merge(s.queue[len(s.queue)-1]) {
		s.mu.Unlock()
		return nil
	}
	s.mu.Unlock()
	return s.Enqueue(make())
}

// Flush sends what Enqueue left queued on an inline sender, unless a send is under way (which
// sends it); on a goroutine sender it does nothing.
func (s *Sender[M]) Flush() error {
	if !s.inline {
		return nil
	}
	s.mu.Lock()
	if s.sending || len(s.queue) == 0 {
		err := s.err
		s.mu.Unlock()
		return err
	}
	s.sending = true
	return s.drainLocked()
}

// drainLocked sends batches until the queue is empty; called with s.mu held and s.sending set,
// it returns with s.mu released.
func (s *Sender[M]) drainLocked() error {
	for len(s.queue) > 0 {
		out := s.takeLocked()
		s.mu.Unlock()
		err := s.send(out)
		s.mu.Lock()
		if err != nil {
			s.failLocked(err)
			break
		}
	}
	s.sending = false
	close(s.idle)
	s.idle = make(chan struct{})
	err := s.err
	s.mu.Unlock()
	return err
}

// addLocking locks the sender and appends m to the queue, returning with the lock held; on a
// stopped sender it returns, unlocked, the send error that stopped it or ErrClosed.
func (s *Sender[M]) addLocking(m M) error {
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
	return nil
}

func (s *Sender[M]) failLocked(err error) {
	s.stopped = true
	s.err = err
	s.queue = nil
	if s.inline {
		s.doneOnce.Do(func() { close(s.done) })
		if s.helperStop != nil {
			close(s.helperStop)
			s.helperStop = nil
		}
	}
}

// Close stops the sender after it has sent what is queued, and waits for its goroutine (or, for
// an inline sender, for the send under way).
func (s *Sender[M]) Close() {
	s.mu.Lock()
	s.stopped = true
	if s.inline {
		for s.sending {
			idle := s.idle
			s.mu.Unlock()
			<-idle
			s.mu.Lock()
		}
		if len(s.queue) > 0 && s.err == nil {
			// Enqueued and not flushed yet: send it now.
			s.sending = true
			_ = s.drainLocked()
			s.mu.Lock()
		}
		s.doneOnce.Do(func() { close(s.done) })
		if s.helperStop != nil {
			close(s.helperStop)
			s.helperStop = nil
		}
		s.mu.Unlock()
		return
	}
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
		out := s.takeLocked()
		s.mu.Unlock()
		if err := send(out); err != nil {
			s.mu.Lock()
			s.failLocked(err)
			s.mu.Unlock()
			return
		}
	}
}

// takeLocked removes the next batch (at most maxBatch messages) from the queue.
func (s *Sender[M]) takeLocked() []M {
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
	return out
}
