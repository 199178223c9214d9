// Package inproc connects a bidirectional stream's client and server inside one process without
// a socket: messages pass as pointers through channels, so neither side marshals them. The
// embedded node uses it for the driver's own stream to the node manager that runs in the same
// process (every process boundary still speaks gRPC). Both ends satisfy the generated gRPC stream
// interfaces, so the server's handler and the client's code are the ones used over a socket.
//
// Messages are shared, not copied: a sender must not change a message after sending it.
package inproc

import (
	"context"
	"errors"
	"io"

	"google.golang.org/grpc/metadata"
)

// queueLen is how many messages each direction buffers before Send waits for the receiver.
const queueLen = 64

// ErrServerDone is what the client's Send returns once the server's handler has returned.
var ErrServerDone = errors.New("in-process stream: the server ended the stream")

// Pipe is one stream: Client is its client end, Server its server end. C is the type of the
// client's messages, S of the server's.
type Pipe[C, S any] struct {
	client *ClientEnd[C, S]
	server *ServerEnd[C, S]
}

// New makes a stream. Cancelling clientCtx ends it for both ends, like a gRPC client
// cancelling its stream; cancelling serverCtx ends it as a stopping server would.
func New[C, S any](clientCtx, serverCtx context.Context) *Pipe[C, S] {
	sctx, cancel := context.WithCancel(serverCtx)
	s := &shared[C, S]{
		toServer:   make(chan C, queueLen),
		toClient:   make(chan S, queueLen),
		closeSend:  make(chan struct{}),
		serverDone: make(chan struct{}),
		clientCtx:  clientCtx,
		serverCtx:  sctx,
	}
	// The server's context ends with the client's too; the watcher ends with whichever ends first.
	go func() {
		select {
		case <-clientCtx.Done():
			cancel()
		case <-sctx.Done():
		}
	}()
	return &Pipe[C, S]{client: &ClientEnd[C, S]{s: s}, server: &ServerEnd[C, S]{s: s, cancel: cancel}}
}

// Client is the client's end.
func (p *Pipe[C, S]) Client() *ClientEnd[C, S] { return p.client }

// Server is the server's end; call Finish with the handler's result when the handler returns.
func (p *Pipe[C, S]) Server() *ServerEnd[C, S] { return p.server }

type shared[C, S any] struct {
	toServer   chan C
	toClient   chan S
	closeSend  chan struct{}
	serverDone chan struct{}
	serverErr  error // set before serverDone is closed
	clientCtx  context.Context
	serverCtx  context.Context
}

// ClientEnd is the client's end of a Pipe; it satisfies grpc.ClientStream.
type ClientEnd[C, S any] struct {
	s         *shared[C, S]
	sendClose bool
}

// Send hands m to the server; once the server has ended it returns io.EOF.
func (c *ClientEnd[C, S]) Send(m C) error {
	select {
	case <-c.s.serverDone:
		return io.EOF
	default:
	}
	select {
	case c.s.toServer <- m:
		return nil
	case <-c.s.serverDone:
		return io.EOF
	case <-c.s.clientCtx.Done():
		return c.s.clientCtx.Err()
	}
}

// Recv returns the server's next message; once the server has ended, what it sent before ending
// is still delivered, then its error (io.EOF when it returned nil).
func (c *ClientEnd[C, S]) Recv() (S, error) {
	return receive(c.s.toClient, c.s.clientCtx, c.s.serverDone, func() error {
		if c.s.serverErr != nil {
			return c.s.serverErr
		}
		return io.EOF
	})
}

// receive takes the next message from ch; once ended is closed, messages already queued are
// still delivered, then endErr(); a cancelled ctx ends it at once.
func receive[T any](ch <-chan T, ctx context.Context, ended <-chan struct{}, endErr func() error) (T, error) {
	var zero T
	select {
	case m := <-ch:
		return m, nil
	case <-ctx.Done():
		return zero, ctx.Err()
	case <-ended:
		select {
		case m := <-ch:
			return m, nil
		default:
		}
		return zero, endErr()
	}
}

// sendAs sends m with send when it is a T (SendMsg of both ends).
func sendAs[T any](m any, send func(T) error) error {
	v, ok := m.(T)
	if !ok {
		return errors.New("in-process stream: wrong message type")
	}
	return send(v)
}

// errRecvMsg is what RecvMsg returns: the generated stream code uses Recv.
var errRecvMsg = errors.New("in-process stream: RecvMsg is not supported, use Recv")

// CloseSend tells the server no more messages come (its Recv returns io.EOF).
func (c *ClientEnd[C, S]) CloseSend() error {
	if !c.sendClose {
		c.sendClose = true
		close(c.s.closeSend)
	}
	return nil
}

// Header returns no metadata: in-process streams carry none.
func (c *ClientEnd[C, S]) Header() (metadata.MD, error) { return nil, nil }

// Trailer returns no metadata.
func (c *ClientEnd[C, S]) Trailer() metadata.MD { return nil }

// Context is the client's context.
func (c *ClientEnd[C, S]) Context() context.Context { return c.s.clientCtx }

// SendMsg sends m, which must be a C.
func (c *ClientEnd[C, S]) SendMsg(m any) error { return sendAs(m, c.Send) }

// RecvMsg is not supported: use Recv.
func (c *ClientEnd[C, S]) RecvMsg(any) error { return errRecvMsg }

// ServerEnd is the server's end of a Pipe; it satisfies grpc.ServerStream.
type ServerEnd[C, S any] struct {
	s      *shared[C, S]
	cancel context.CancelFunc
}

// Send hands m to the client.
func (e *ServerEnd[C, S]) Send(m S) error {
	select {
	case e.s.toClient <- m:
		return nil
	case <-e.s.serverCtx.Done():
		return e.s.serverCtx.Err()
	}
}

// Recv returns the client's next message, io.EOF after CloseSend, or the context's error once
// the stream is cancelled.
func (e *ServerEnd[C, S]) Recv() (C, error) {
	return receive(e.s.toServer, e.s.serverCtx, e.s.closeSend, func() error { return io.EOF })
}

// Finish records the handler's result and ends the stream; call it once, when the handler returns.
func (e *ServerEnd[C, S]) Finish(err error) {
	e.s.serverErr = err
	close(e.s.serverDone)
	e.cancel()
}

// Context is the server's context: it ends when either side ends the stream.
func (e *ServerEnd[C, S]) Context() context.Context { return e.s.serverCtx }

// SetHeader is a no-op: in-process streams carry no metadata.
func (e *ServerEnd[C, S]) SetHeader(metadata.MD) error { return nil }

// SendHeader is a no-op.
func (e *ServerEnd[C, S]) SendHeader(metadata.MD) error { return nil }

// SetTrailer is a no-op.
func (e *ServerEnd[C, S]) SetTrailer(metadata.MD) {}

// SendMsg sends m, which must be an S.
func (e *ServerEnd[C, S]) SendMsg(m any) error { return sendAs(m, e.Send) }

// RecvMsg is not supported: use Recv.
func (e *ServerEnd[C, S]) RecvMsg(any) error { return errRecvMsg }
