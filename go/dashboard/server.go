// Package dashboard is the head's HTTP server, on Ray's dashboard port (8265): Ray's job REST
// API (jobs.go here) and the packages clients upload for jobs' working_dirs. Every path but the
// health check needs the cluster's token, and browsers' requests of other sites are refused
// (package httpauth).
package dashboard

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/golang/glog"

	"goray/httpauth"
	"goray/jobs"
)

// DefaultPort is Ray's dashboard port.
const DefaultPort = 8265

// Packages is the cluster's code store, where job clients put their working_dirs' packages.
type Packages interface {
	// Has tells whether the store has the package whose SHA-256 is sum.
	Has(ctx context.Context, sum string) (bool, error)
	// Put stores the package in file path, whose SHA-256 is sum.
	Put(ctx context.Context, path, sum string) error
}

// Config says what a server serves and where.
type Config struct {
	// Listen is host:port (port 0: any free one).
	Listen string
	// Token closes the server ("" leaves it open: tests only).
	Token string
	// Hosts are host names besides IP addresses, localhost and the machine's name that requests
	// may name (--dashboard-host's, when it is one).
	Hosts []string
	// Jobs runs the submitted jobs.
	Jobs *jobs.Supervisor
	// Packages stores working_dir packages.
	Packages Packages
	// Version is goray's version, for /api/version.
	Version string
	// TempDir is where uploads are kept while they are checked ("": the system's).
	TempDir string
	// State reads the cluster for Ray's state API and the web page (nil: neither has data).
	State StateSource
	// Drivers lists the drivers' jobs of the control store, which the job list shows beside the
	// submitted ones (nil: none).
	Drivers jobs.Drivers
}

// Server is a running dashboard server.
type Server struct {
	cfg  Config
	gate httpauth.Gate
	srv  *http.Server
	addr net.Addr
	done chan struct{}
}

// healthPath is the one path open without the token (Ray's, for load balancers and probes).
const healthPath = "/api/gcs_healthz"

// Start listens and serves.
func Start(cfg Config) (*Server, error) {
	lis, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("dashboard: listen on %s: %w", cfg.Listen, err)
	}
	s := &Server{cfg: cfg, addr: lis.Addr(), done: make(chan struct{})}
	s.gate = httpauth.Gate{Token: cfg.Token, Hosts: cfg.Hosts, What: "the dashboard", Public: public}
	s.srv = &http.Server{Handler: s.gate.Wrap(s.routes()), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(lis); err != nil && !errors.Is(err, http.ErrServerClosed) {
			glog.Errorf("dashboard server stopped: %v", err)
		}
	}()
	return s, nil
}

// routes is the server's handler of every path.
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc(healthPath, func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("success")) })
	mux.HandleFunc("/api/version", s.version)
	mux.HandleFunc("/api/jobs/", s.jobs)
	mux.HandleFunc("/api/packages/", s.packages)
	mux.HandleFunc("/api/v0/", s.stateAPI)
	mux.HandleFunc("/", s.page)
	mux.HandleFunc(loginPath, s.login)
	mux.HandleFunc(logoutPath, s.logout)
	mux.Handle(staticPath, s.static())
	mux.HandleFunc(faviconPath, func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	return mux
}

// public tells which paths need no token: the health check, and the web page's files and login
// (the page itself sends a browser without the token to the login form; its data is in the
// closed API).
func public(p string) bool {
	return p == healthPath || p == "/" || p == loginPath || p == logoutPath || p == faviconPath || strings.HasPrefix(p, staticPath)
}

// URL is the server's address as clients use it (http://host:port).
func (s *Server) URL() string { return "http://" + s.addr.String() }

// Addr is where the server listens.
func (s *Server) Addr() net.Addr { return s.addr }

// Stop ends serving.
func (s *Server) Stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := s.srv.Shutdown(ctx); err != nil {
		_ = s.srv.Close()
	}
	<-s.done
}

func (s *Server) version(w http.ResponseWriter, req *http.Request) {
	if !allow(w, req, http.MethodGet) {
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"version": "4", "ray_version": s.cfg.Version, "ray_commit": "goray"})
}

// allow answers 405 unless req's method is one of methods.
func allow(w http.ResponseWriter, req *http.Request, methods ...string) bool {
	for _, m := range methods {
		if req.Method == m || (m == http.MethodGet && req.Method == http.MethodHead) {
			return true
		}
	}
	w.Header().Set("Allow", strings.Join(methods, ", "))
	http.Error(w, fmt.Sprintf("method %s is not allowed on %s", req.Method, req.URL.Path), http.StatusMethodNotAllowed)
	return false
}

// writeJSON answers v as JSON (logs keep their <, > and &: no HTML escapes, which would make
// them up to six times longer).
func writeJSON(w http.ResponseWriter, code int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write(buf.Bytes())
}
