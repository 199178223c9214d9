package inproc

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"google.golang.org/grpc"
)

// The ends must satisfy the gRPC stream interfaces the generated code embeds.
var (
	_ grpc.ClientStream = (*ClientEnd[int, string])(nil)
	_ grpc.ServerStream = (*ServerEnd[int, string])(nil)
)

// echoServer answers every client message n with "n" repeated n times, then returns err.
func echoServer(p *Pipe[int, string], ret error) chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv := p.Server()
		for {
			n, err := srv.Recv()
			if err != nil {
				if ret == nil && !errors.Is(err, io.EOF) {
					ret = err
				}
				srv.Finish(ret)
				return
			}
			out := ""
			for i := 0; i < n; i++ {
				out += "x"
			}
			if err := srv.Send(out); err != nil {
				srv.Finish(err)
				return
			}
		}
	}()
	return done
}

func TestMessagesFlowInOrderAndCloseSendEndsTheServer(t *testing.T) {
	p := New[int, string](context.Background(), context.Background())
	done := echoServer(p, nil)
	c := p.Client()
	sent := make(chan error, 1)
	go func() {
		for i := 0; i < 200; i++ {
			if err := c.Send(i % 7); err != nil {
				sent <- err
				return
			}
		}
		sent <- nil
	}()
	for i := 0; i < 200; i++ {
		got, err := c.Recv()
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != i%7 {
			t.Fatalf("reply %d has length %d, want %d", i, len(got), i%7)
		}
	}
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	if err := c.CloseSend(); err != nil {
		t.Fatal(err)
	}
	<-done
	if _, err := c.Recv(); !errors.Is(err, io.EOF) {
		t.Fatalf("Recv after the server returned nil: %v, want io.EOF", err)
	}
	if err := c.Send(1); !errors.Is(err, io.EOF) {
		t.Fatalf("Send after the server ended: %v, want io.EOF", err)
	}
}

func TestServerErrorReachesClientAfterItsMessages(t *testing.T) {
	p := New[int, string](context.Background(), context.Background())
	srv := p.Server()
	go func() {
		_ = srv.Send("last words")
		srv.Finish(errors.New("refused"))
	}()
	got, err := p.Client().Recv()
	if err != nil || got != "last words" {
		t.Fatalf("first Recv = %q, %v", got, err)
	}
	if _, err := p.Client().Recv(); err == nil || err.Error() != "refused" {
		t.Fatalf("second Recv error = %v, want the server's", err)
	}
}

func TestCancellingEitherSideEndsTheStream(t *testing.T) {
	for _, side := range []string{"client", "server"} {
		t.Run(side, func(t *testing.T) {
			cctx, ccancel := context.WithCancel(context.Background())
			sctx, scancel := context.WithCancel(context.Background())
			defer ccancel()
			defer scancel()
			p := New[int, string](cctx, sctx)
			done := echoServer(p, nil)
			if side == "client" {
				ccancel()
			} else {
				scancel()
			}
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				t.Fatal("the server's Recv did not end")
			}
			if _, err := p.Client().Recv(); err == nil {
				t.Fatal("the client's Recv succeeded on an ended stream")
			}
			if p.Server().Context().Err() == nil {
				t.Fatal("the server's context is still live")
			}
		})
	}
}

func TestSendBlocksOnlyUntilTheStreamEnds(t *testing.T) {
	cctx, ccancel := context.WithCancel(context.Background())
	p := New[int, string](cctx, context.Background())
	// Nobody receives: the client fills the queue, then its Send waits until the cancel.
	errc := make(chan error, 1)
	go func() {
		for {
			if err := p.Client().Send(1); err != nil {
				errc <- err
				return
			}
		}
	}()
	time.Sleep(20 * time.Millisecond)
	ccancel()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Send ended with %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Send stayed blocked after the stream was cancelled")
	}
	if err := p.Client().SendMsg("not an int"); err == nil {
		t.Fatal("SendMsg accepted a message of the wrong type")
	}
}
