package objxfer

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"goray/internal/testutil"
	"io"
	"net"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

func listen(t *testing.T, conf *tls.Config) *Server {
	t.Helper()
	s, err := Listen("127.0.0.1:0", conf)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i>>12)
	}
	return b
}

func wait(t *testing.T, done <-chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("done never came")
		return nil
	}
}

func TestFetch(t *testing.T) {
	s := listen(t, nil)
	data := pattern(64 << 20)
	ticket, done, cancel := s.Offer(data)
	defer cancel()
	dst := make([]byte, len(data))
	if err := Fetch(context.Background(), s.Addr(), ticket, dst, nil); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(dst, data) {
		t.Fatal("the bytes fetched differ from those offered")
	}
	if err := wait(t, done); err != nil {
		t.Fatalf("done: %v", err)
	}
}

func TestEmpty(t *testing.T) {
	s := listen(t, nil)
	ticket, done, _ := s.Offer(nil)
	if err := Fetch(context.Background(), s.Addr(), ticket, []byte{}, nil); err != nil {
		t.Fatal(err)
	}
	if err := wait(t, done); err != nil {
		t.Fatalf("done: %v", err)
	}
}

func TestWrongTicket(t *testing.T) {
	s := listen(t, nil)
	data := pattern(1 << 20)
	ticket, done, _ := s.Offer(data)
	wrong := append([]byte(nil), ticket...)
	wrong[0] ^= 1
	dst := make([]byte, len(data))
	if err := Fetch(context.Background(), s.Addr(), wrong, dst, nil); err == nil || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("Fetch with a wrong ticket: %v, want refused", err)
	}
	if err := Fetch(context.Background(), s.Addr(), ticket[:5], dst, nil); err == nil {
		t.Fatal("Fetch with a short ticket succeeded")
	}
	// A connection that sends part of a ticket and hangs up disturbs nothing either.
	c, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	c.Write(ticket[:5])
	c.Close()
	if err := Fetch(context.Background(), s.Addr(), ticket, dst, nil); err != nil {
		t.Fatalf("Fetch with the right ticket after a wrong one: %v", err)
	}
	if !bytes.Equal(dst, data) {
		t.Fatal("the bytes fetched differ from those offered")
	}
	if err := wait(t, done); err != nil {
		t.Fatalf("done: %v", err)
	}
}

func TestTicketUsedOnce(t *testing.T) {
	s := listen(t, nil)
	data := pattern(4096)
	ticket, _, _ := s.Offer(data)
	dst := make([]byte, len(data))
	if err := Fetch(context.Background(), s.Addr(), ticket, dst, nil); err != nil {
		t.Fatal(err)
	}
	if err := Fetch(context.Background(), s.Addr(), ticket, dst, nil); err == nil || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("second Fetch with the same ticket: %v, want refused", err)
	}
}

func TestSizeMismatch(t *testing.T) {
	s := listen(t, nil)
	ticket, _, _ := s.Offer(pattern(1000))
	err := Fetch(context.Background(), s.Addr(), ticket, make([]byte, 999), nil)
	if err == nil || !strings.Contains(err.Error(), "offers 1000 bytes, want 999") {
		t.Fatalf("Fetch into a buffer of the wrong size: %v", err)
	}
}

func TestDialError(t *testing.T) {
	s, err := Listen("127.0.0.1:0", nil)
	if err != nil {
		t.Fatal(err)
	}
	addr := s.Addr()
	s.Close()
	err = Fetch(context.Background(), addr, make([]byte, TicketSize), make([]byte, 10), nil)
	var de *DialError
	if !errors.As(err, &de) {
		t.Fatalf("Fetch from a closed server: %v, want a *DialError", err)
	}
}

func TestCancelBeforeFetch(t *testing.T) {
	s := listen(t, nil)
	ticket, done, cancel := s.Offer(pattern(1000))
	cancel()
	if err := wait(t, done); !errors.Is(err, ErrCanceled) {
		t.Fatalf("done after cancel: %v, want ErrCanceled", err)
	}
	if err := Fetch(context.Background(), s.Addr(), ticket, make([]byte, 1000), nil); err == nil {
		t.Fatal("Fetch of a cancelled offer succeeded")
	}
	cancel() // (twice: nothing happens)
}

// stall is a client that presents ticket and reads nothing.
func stall(t *testing.T, addr string, ticket []byte) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := c.Write(ticket); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCancelDuringTransfer(t *testing.T) {
	s := listen(t, nil)
	ticket, done, cancel := s.Offer(make([]byte, 64<<20))
	stall(t, s.Addr(), ticket)
	time.Sleep(100 * time.Millisecond) // (claimed, its write blocked)
	cancel()
	if err := wait(t, done); !errors.Is(err, ErrCanceled) {
		t.Fatalf("done after cancel: %v, want ErrCanceled", err)
	}
}

func TestFetchContextCancel(t *testing.T) {
	// A server that takes the ticket and sends nothing.
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer lis.Close()
	go func() {
		c, err := lis.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		io.Copy(io.Discard, c)
	}()
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	err = Fetch(ctx, lis.Addr().String(), make([]byte, TicketSize), make([]byte, 1<<20), nil)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Fetch with its context cancelled: %v, want context.Canceled", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("Fetch took %v to notice its context was cancelled", d)
	}
}

func TestCloseEndsEverything(t *testing.T) {
	before := runtime.NumGoroutine()
	s, err := Listen("127.0.0.1:0", nil)
	if err != nil {
		t.Fatal(err)
	}
	_, unclaimed, _ := s.Offer(pattern(1000))
	ticket, claimed, _ := s.Offer(make([]byte, 64<<20))
	stall(t, s.Addr(), ticket)
	idle, err := net.Dial("tcp", s.Addr()) // connected, no ticket
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	time.Sleep(100 * time.Millisecond)
	s.Close()
	if err := wait(t, unclaimed); !errors.Is(err, ErrClosed) {
		t.Fatalf("unclaimed offer after Close: %v, want ErrClosed", err)
	}
	if err := wait(t, claimed); !errors.Is(err, ErrClosed) {
		t.Fatalf("offer under way after Close: %v, want ErrClosed", err)
	}
	if _, done, _ := s.Offer(nil); !errors.Is(wait(t, done), ErrClosed) {
		t.Fatal("an offer after Close did not fail")
	}
	s.Close() // (twice: nothing happens)
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines after Close, %d before:\n%s", runtime.NumGoroutine(), before, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// tlsConfigs makes a throwaway CA and a certificate for IP 127.0.0.1 signed by it, and mutual TLS
// configs like auth.TLSFromEnv's (the client's ServerName left empty).
func tlsConfigs(t *testing.T) (server, client *tls.Config) {
	t.Helper()
	certPath, keyPath, caPath := testutil.WriteCerts(t, t.TempDir(), "objxfer", "127.0.0.1")
	cert, err := tls.LoadX509KeyPair(certPath, keyPath)
	if err != nil {
		t.Fatal(err)
	}
	caPEM, err := os.ReadFile(caPath)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		t.Fatal("the test CA does not parse")
	}
	server = &tls.Config{Certificates: []tls.Certificate{cert}, ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS12}
	client = &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: pool, MinVersion: tls.VersionTLS12}
	return server, client
}

func TestTLS(t *testing.T) {
	serverConf, clientConf := tlsConfigs(t)
	s := listen(t, serverConf)
	data := pattern(8 << 20)
	ticket, done, _ := s.Offer(data)
	// A plain client gets nothing (and does not use the ticket up).
	if err := Fetch(context.Background(), s.Addr(), ticket, make([]byte, len(data)), nil); err == nil {
		t.Fatal("a plain TCP fetch from a TLS server succeeded")
	}
	// Nor does a client without a certificate.
	noCert := clientConf.Clone()
	noCert.Certificates = nil
	if err := Fetch(context.Background(), s.Addr(), ticket, make([]byte, len(data)), noCert); err == nil {
		t.Fatal("a fetch without a client certificate succeeded")
	}
	dst := make([]byte, len(data))
	if err := Fetch(context.Background(), s.Addr(), ticket, dst, clientConf); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(dst, data) {
		t.Fatal("the bytes fetched differ from those offered")
	}
	if err := wait(t, done); err != nil {
		t.Fatalf("done: %v", err)
	}
	if clientConf.ServerName != "" {
		t.Fatal("Fetch changed the caller's TLS config")
	}
	// cancel breaks off a TLS transfer under way too.
	ticket, done, cancel := s.Offer(make([]byte, 64<<20))
	conf := clientConf.Clone()
	conf.ServerName = "127.0.0.1"
	c, err := tls.Dial("tcp", s.Addr(), conf)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write(ticket); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	cancel()
	if err := wait(t, done); !errors.Is(err, ErrCanceled) {
		t.Fatalf("done after cancel: %v, want ErrCanceled", err)
	}
}

// A stranger that opens many connections and sends no ticket ties up at most maxWaiting of them:
// the others are closed at once, and an offer is still fetched meanwhile once they give up.
func TestTooManyWaitingConnectionsAreRefused(t *testing.T) {
	s := listen(t, nil)
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := 0; i < maxWaiting; i++ {
		c, err := net.Dial("tcp", s.Addr())
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	// Until the server has counted them all, a new one may still get in: wait for a refusal.
	refused := false
	for i := 0; i < 200 && !refused; i++ {
		c, err := net.Dial("tcp", s.Addr())
		if err != nil {
			t.Fatal(err)
		}
		_ = c.SetReadDeadline(time.Now().Add(time.Second))
		if _, err := c.Read(make([]byte, 1)); err == io.EOF {
			refused = true
		}
		c.Close()
	}
	if !refused {
		t.Fatalf("no connection beyond the %d waiting ones was refused", maxWaiting)
	}
	for _, c := range conns {
		c.Close()
	}
	conns = nil
	data := pattern(1 << 20)
	ticket, done, _ := s.Offer(data)
	dst := make([]byte, len(data))
	var err error
	for i := 0; i < 100; i++ { // (the server sees the strangers' connections close shortly)
		if err = Fetch(context.Background(), s.Addr(), ticket, dst, nil); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil || !bytes.Equal(dst, data) {
		t.Fatalf("fetch after the strangers left: %v", err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
