// Package objxfer moves the bytes of a buffer from one process to another over a raw TCP (or TLS)
// connection, authorised by a one-time ticket. The holder offers a buffer to its Server and hands
// the ticket (and the Server's address) to the fetcher by some other channel; the fetcher calls
// Fetch, which reads the bytes straight into its destination.
//
// On the wire: the fetcher sends the ticket (TicketSize bytes); the server answers with the
// length of the offered buffer (8 bytes, big endian) and then the buffer, and closes the
// connection. An unknown or used ticket gets the connection closed without an answer.
package objxfer

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/golang/glog"
)

// TicketSize is the length of a ticket in bytes.
const TicketSize = 32

// ticketTimeout bounds how long the server waits for a connection's ticket (and its TLS
// handshake).
const ticketTimeout = 5 * time.Second

// dialTimeout bounds how long Fetch tries to connect.
const dialTimeout = 10 * time.Second

// maxWaiting bounds the connections a Server holds open before their tickets come: more are
// closed at once (a stranger opening connections by the thousand ties up little).
const maxWaiting = 64

// warnEvery bounds how often a Server logs refused connections (the rest are counted in the next
// line).
const warnEvery = time.Second

// ErrCanceled is what done reports for an offer cancelled before its bytes went out.
var ErrCanceled = errors.New("objxfer: offer cancelled")

// ErrClosed is what done reports for an offer whose Server was closed before its bytes went out.
var ErrClosed = errors.New("objxfer: server closed")

// DialError is the error of a Fetch that could not connect to the Server (nothing was sent).
type DialError struct {
	Addr string // the address dialed
	Err  error  // why it failed
}

// Error says which address could not be reached and why.
func (e *DialError) Error() string {
	return fmt.Sprintf("objxfer: connecting to %s: %v", e.Addr, e.Err)
}

// Unwrap returns the error of the dial.
func (e *DialError) Unwrap() error { return e.Err }

// Server serves offered buffers to the fetchers that present their tickets.
type Server struct {
	lis     net.Listener
	tlsConf *tls.Config
	wg      sync.WaitGroup // the accept loop and the connections' goroutines

	mu      sync.Mutex
	closed  bool
	offers  map[[TicketSize]byte]*offer // not yet claimed
	conns   map[net.Conn]bool           // open connections
	waiting int                         // connections whose tickets have not come yet

	warnMu     sync.Mutex
	lastWarn   time.Time
	suppressed int
}

// warn logs a refused connection, at most once per warnEvery (saying how many were not logged).
func (s *Server) warn(format string, args ...interface{}) {
	s.warnMu.Lock()
	now := time.Now()
	if now.Sub(s.lastWarn) < warnEvery {
		s.suppressed++
		s.warnMu.Unlock()
		return
	}
	n := s.suppressed
	s.lastWarn, s.suppressed = now, 0
	s.warnMu.Unlock()
	if n > 0 {
		format += fmt.Sprintf(" (and %d more refused since the last such line)", n)
	}
	glog.Warningf(format, args...)
}

// offer is one buffer offered for one fetch.
type offer struct {
	data []byte
	done chan error // buffered: receives the result once

	once     sync.Once
	conn     net.Conn // the connection that claimed it (with Server.mu)
	canceled bool     // (with Server.mu)
}

func (o *offer) finish(err error) {
	o.once.Do(func() { o.done <- err })
}

// Listen starts a Server at addr (host:port; port 0: one the system picks). With tlsConf (a
// server config) the connections are TLS.
func Listen(addr string, tlsConf *tls.Config) (*Server, error) {
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("objxfer: %w", err)
	}
	s := &Server{lis: lis, tlsConf: tlsConf, offers: map[[TicketSize]byte]*offer{}, conns: map[net.Conn]bool{}}
	s.wg.Add(1)
	go s.accept()
	return s, nil
}

// Addr is where the Server listens (host:port).
func (s *Server) Addr() string { return s.lis.Addr().String() }

// Offer registers data for exactly one fetch and returns its ticket. done receives the result
// once: nil when all the bytes were written to the fetcher's connection, else why not. cancel
// drops an offer not yet fetched (done gets ErrCanceled) and breaks off a transfer under way;
// after cancel, done still comes, and data is no longer read once it has. The caller keeps data
// unchanged until done.
func (s *Server) Offer(data []byte) (ticket []byte, done <-chan error, cancel func()) {
	o := &offer{data: data, done: make(chan error, 1)}
	var key [TicketSize]byte
	if _, err := io.ReadFull(rand.Reader, key[:]); err != nil {
		o.finish(fmt.Errorf("objxfer: making a ticket: %w", err))
		return key[:], o.done, func() {}
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		o.finish(ErrClosed)
		return key[:], o.done, func() {}
	}
	s.offers[key] = o
	s.mu.Unlock()
	cancel = func() {
		s.mu.Lock()
		o.canceled = true
		if s.offers[key] == o {
			delete(s.offers, key)
			s.mu.Unlock()
			o.finish(ErrCanceled)
			return
		}
		c := o.conn
		s.mu.Unlock()
		if c != nil {
			c.Close() // the transfer's goroutine reports on done
		}
	}
	return key[:], o.done, cancel
}

// Close stops the listener and every transfer, and waits for the Server's goroutines. Offers not
// fetched get ErrClosed on done.
func (s *Server) Close() {
	s.mu.Lock()
	s.closed = true
	offers := s.offers
	s.offers = map[[TicketSize]byte]*offer{}
	conns := s.conns
	s.conns = map[net.Conn]bool{}
	s.mu.Unlock()
	s.lis.Close()
	for c := range conns {
		c.Close()
	}
	for _, o := range offers {
		o.finish(ErrClosed)
	}
	s.wg.Wait()
}

func (s *Server) accept() {
	defer s.wg.Done()
	for {
		c, err := s.lis.Accept()
		if err != nil {
			s.mu.Lock()
			closed := s.closed
			s.mu.Unlock()
			if closed {
				return
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			glog.Errorf("objxfer: accepting on %s: %v", s.Addr(), err)
			time.Sleep(100 * time.Millisecond) // (out of descriptors, say)
			continue
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			c.Close()
			return
		}
		if s.waiting >= maxWaiting {
			s.mu.Unlock()
			c.Close()
			s.warn("objxfer: refused a connection from %s: %d connections wait for their tickets already", c.RemoteAddr(), maxWaiting)
			continue
		}
		s.waiting++
		if s.tlsConf != nil {
			c = tls.Server(c, s.tlsConf)
		}
		s.conns[c] = true
		s.wg.Add(1)
		s.mu.Unlock()
		go s.serve(c)
	}
}

// serve reads a connection's ticket and writes the offer it claims.
func (s *Server) serve(c net.Conn) {
	defer s.wg.Done()
	defer func() {
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
		c.Close()
	}()
	var key [TicketSize]byte
	_ = c.SetReadDeadline(time.Now().Add(ticketTimeout))
	_, err := io.ReadFull(c, key[:])
	s.mu.Lock()
	s.waiting--
	s.mu.Unlock()
	if err != nil {
		s.warn("objxfer: no ticket from %s: %v", c.RemoteAddr(), err)
		return
	}
	_ = c.SetReadDeadline(time.Time{})
	s.mu.Lock()
	o := s.offers[key]
	if o != nil {
		delete(s.offers, key)
		o.conn = c
	}
	s.mu.Unlock()
	if o == nil {
		s.warn("objxfer: refused a fetch from %s: unknown or used ticket", c.RemoteAddr())
		return
	}
	var head [8]byte
	binary.BigEndian.PutUint64(head[:], uint64(len(o.data)))
	_, err = c.Write(head[:])
	if err == nil {
		_, err = c.Write(o.data)
	}
	if err != nil {
		s.mu.Lock()
		canceled, closed := o.canceled, s.closed
		s.mu.Unlock()
		switch {
		case canceled:
			err = ErrCanceled
		case closed:
			err = ErrClosed
		default:
			err = fmt.Errorf("objxfer: sending %d bytes to %s: %w", len(o.data), c.RemoteAddr(), err)
		}
	}
	o.finish(err)
}

// Fetch connects to the Server at addr, presents ticket and reads the offered bytes into dst,
// which must be exactly as long as the offer. With tlsConf (a client config) the connection is
// TLS; its ServerName is set from addr's host when empty. Cancelling ctx breaks the transfer off.
// An error connecting is a *DialError.
func Fetch(ctx context.Context, addr string, ticket []byte, dst []byte, tlsConf *tls.Config) (err error) {
	if len(ticket) != TicketSize {
		return fmt.Errorf("objxfer: a ticket of %d bytes, want %d", len(ticket), TicketSize)
	}
	d := net.Dialer{Timeout: dialTimeout}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return &DialError{Addr: addr, Err: err}
	}
	if tlsConf != nil {
		if tlsConf.ServerName == "" {
			host, _, err := net.SplitHostPort(addr)
			if err != nil {
				c.Close()
				return fmt.Errorf("objxfer: %w", err)
			}
			tlsConf = tlsConf.Clone()
			tlsConf.ServerName = host
		}
		c = tls.Client(c, tlsConf)
	}
	stop := make(chan struct{})
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		select {
		case <-ctx.Done():
			c.Close()
		case <-stop:
		}
	}()
	defer func() {
		close(stop)
		<-watched
		c.Close()
		if err != nil && ctx.Err() != nil {
			err = fmt.Errorf("objxfer: fetching from %s: %w", addr, ctx.Err())
		}
	}()
	if _, err := c.Write(ticket); err != nil {
		return fmt.Errorf("objxfer: sending the ticket to %s: %w", addr, err)
	}
	var head [8]byte
	if _, err := io.ReadFull(c, head[:]); err != nil {
		if err == io.EOF {
			return fmt.Errorf("objxfer: %s refused the ticket (unknown, used or cancelled)", addr)
		}
		return fmt.Errorf("objxfer: reading from %s: %w", addr, err)
	}
	if n := binary.BigEndian.Uint64(head[:]); n != uint64(len(dst)) {
		return fmt.Errorf("objxfer: %s offers %d bytes, want %d", addr, n, len(dst))
	}
	if _, err := io.ReadFull(c, dst); err != nil {
		return fmt.Errorf("objxfer: reading %d bytes from %s: %w", len(dst), addr, err)
	}
	return nil
}
