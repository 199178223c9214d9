package metrics

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/golang/glog"

	"goray/httpauth"
)

// PortFile is the file of a session directory that holds the port its metrics are served on.
const PortFile = "metrics_export_port"

// Server serves a registry at /metrics over HTTP.
type Server struct {
	srv  *http.Server
	addr net.Addr
	done chan struct{}
}

// Serve starts serving r at http://ip:port/metrics (port 0: any free port). With a token, every
// request must present it (Authorization: Bearer <token>, as Prometheus' scrape configs send
// it): one without is refused with 401, one with another with 403.
func Serve(r *Registry, ip string, port int, token string) (*Server, error) {
	lis, err := net.Listen("tcp", net.JoinHostPort(ip, strconv.Itoa(port)))
	if err != nil {
		return nil, fmt.Errorf("metrics: listen on %s:%d: %w", ip, port, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", httpauth.Gate{Token: token, AnyHost: true, What: "the metrics"}.Wrap(r.Handler()))
	s := &Server{srv: &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}, addr: lis.Addr(), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(lis); err != nil && !errors.Is(err, http.ErrServerClosed) {
			glog.Errorf("metrics server stopped: %v", err)
		}
	}()
	return s, nil
}

// Port is the port the server listens on.
func (s *Server) Port() int { return s.addr.(*net.TCPAddr).Port }

// WritePortFile writes the port to dir/PortFile, for tools (and tests) to find.
func (s *Server) WritePortFile(dir string) error {
	return os.WriteFile(filepath.Join(dir, PortFile), []byte(strconv.Itoa(s.Port())+"\n"), 0o644)
}

// Stop ends serving.
func (s *Server) Stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := s.srv.Shutdown(ctx); err != nil {
		_ = s.srv.Close() // (scrapes that hang are cut)
	}
	<-s.done
}
