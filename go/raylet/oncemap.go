package raylet

import (
	"context"
	"sync"
)

// onceMap runs a piece of setup once per key (fetching a job's code, setting up a working_dir
// package): callers of the same key wait for the first one's result; a failure is forgotten, so
// a later caller tries again.
type onceMap[V any] struct {
	mu      sync.Mutex
	running map[string]*onceResult[V]
}

// onceResult is one key's setup: done is closed once value and err are set.
type onceResult[V any] struct {
	done  chan struct{}
	value V
	err   error
}

// do returns key's result, running setup for it unless a caller did already (or does now). A
// waiter whose ctx ends first gets ctx's error; setup itself runs on the first caller's
// goroutine, with whatever context it closes over.
func (o *onceMap[V]) do(ctx context.Context, key string, setup func() (V, error)) (V, error) {
	o.mu.Lock()
	r := o.running[key]
	first := r == nil
	if first {
		r = &onceResult[V]{done: make(chan struct{})}
		if o.running == nil {
			o.running = map[string]*onceResult[V]{}
		}
		o.running[key] = r
	}
	o.mu.Unlock()
	if first {
		r.value, r.err = setup()
		if r.err != nil {
			o.mu.Lock()
			delete(o.running, key) // (a later caller tries again)
			o.mu.Unlock()
		}
		close(r.done)
	}
	select {
	case <-r.done:
		return r.value, r.err
	case <-ctx.Done():
		var zero V
		return zero, ctx.Err()
	}
}
