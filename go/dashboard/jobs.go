package dashboard

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/golang/glog"
	"golang.org/x/net/websocket"

	"goray/httpauth"
	"goray/jobs"
	pb "goray/rpc/proto"
	"goray/runtimeenv"
)

// maxSubmitBytes bounds a job submission's body.
const maxSubmitBytes = 1 << 20

// jobs serves /api/jobs/ and below, as Ray's job REST API:
//
//	POST   /api/jobs/               submit (JSON: entrypoint, submission_id, runtime_env, ...)
//	GET    /api/jobs/               every job
//	GET    /api/jobs/{id}           one job
//	GET    /api/jobs/{id}/logs      its log ({"logs": ...}; goray: ?offset=N reads on from N)
//	GET    /api/jobs/{id}/logs/tail its log as it grows, over a WebSocket (text messages), until
//	                                the job is over
//	POST   /api/jobs/{id}/stop      stop it ({"stopped": bool})
//	DELETE /api/jobs/{id}           forget a job that is over ({"deleted": true})
func (s *Server) jobs(w http.ResponseWriter, req *http.Request) {
	rest := strings.TrimPrefix(req.URL.Path, "/api/jobs/")
	if rest == "" {
		switch req.Method {
		case http.MethodPost:
			s.submit(w, req)
		default:
			if allow(w, req, http.MethodGet, http.MethodPost) {
				writeJSON(w, http.StatusOK, s.allJobs(req.Context()))
			}
		}
		return
	}
	id, action := rest, ""
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		id, action = rest[:i], rest[i+1:]
	}
	switch action {
	case "":
		if !allow(w, req, http.MethodGet, http.MethodDelete) {
			return
		}
		if req.Method == http.MethodDelete {
			if err := s.cfg.Jobs.Delete(id); err != nil {
				jobError(w, err)
				return
			}
			writeJSON(w, http.StatusOK, map[string]bool{"deleted": true})
			return
		}
		info, err := s.job(req.Context(), id)
		if err != nil {
			jobError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, info)
	case "logs":
		if !allow(w, req, http.MethodGet) {
			return
		}
		var offset int64
		if v := req.URL.Query().Get("offset"); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 {
				http.Error(w, fmt.Sprintf("offset %q is not a byte offset", v), http.StatusBadRequest)
				return
			}
			offset = n
		}
		logs, next, err := s.cfg.Jobs.Logs(id, offset)
		if err != nil {
			jobError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"logs": logs, "next_offset": next})
	case "logs/tail":
		s.tail(w, req, id)
	case "stop":
		if !allow(w, req, http.MethodPost) {
			return
		}
		stopped, err := s.cfg.Jobs.Stop(id)
		if err != nil {
			jobError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]bool{"stopped": stopped})
	default:
		http.Error(w, fmt.Sprintf("no such path: %s", req.URL.Path), http.StatusNotFound)
	}
}

// submit serves POST /api/jobs/.
func (s *Server) submit(w http.ResponseWriter, req *http.Request) {
	r, err := decodeSubmission(http.MaxBytesReader(w, req.Body, maxSubmitBytes))
	if err != nil {
		http.Error(w, "the job submission is not the JSON Ray's job API takes: "+err.Error(), http.StatusBadRequest)
		return
	}
	info, err := s.cfg.Jobs.Submit(r)
	if err != nil {
		jobError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"job_id": info.SubmissionID, "submission_id": info.SubmissionID})
}

// tailEvery is how often a WebSocket tail of a log looks for more.
const tailEvery = 100 * time.Millisecond

// tail serves GET /api/jobs/{id}/logs/tail as Ray's does: a WebSocket that sends the job's log
// as text messages as it grows, and closes once the job is over and its log sent.
func (s *Server) tail(w http.ResponseWriter, req *http.Request, id string) {
	if !allow(w, req, http.MethodGet) {
		return
	}
	if httpauth.CrossSite(req) {
		// (a page of another site may not read a log through a WebSocket of its own)
		http.Error(w, "forbidden: a page of another origin may not follow a job's log", http.StatusForbidden)
		return
	}
	if _, err := s.cfg.Jobs.Get(id); err != nil {
		jobError(w, err)
		return
	}
	ws := websocket.Server{Handler: func(conn *websocket.Conn) {
		defer conn.Close()
		var offset int64
		for {
			info, err := s.cfg.Jobs.Get(id)
			if err != nil {
				return
			}
			for {
				text, next, err := s.cfg.Jobs.Logs(id, offset)
				if err != nil {
					return
				}
				if text != "" {
					if err := websocket.Message.Send(conn, text); err != nil {
						return
					}
				}
				offset = next
				if len(text) < jobs.MaxLogRead {
					break
				}
			}
			if info.Status.Terminal() {
				return
			}
			select {
			case <-req.Context().Done():
				return
			case <-time.After(tailEvery):
			}
		}
	}}
	ws.ServeHTTP(w, req)
}

// decodeSubmission reads a job submission. A field goray does not know is refused unless it is
// null (Ray's SDK sends every field of its request, newer ones as null).
func decodeSubmission(body io.Reader) (jobs.Request, error) {
	var r jobs.Request
	var fields map[string]json.RawMessage
	if err := json.NewDecoder(body).Decode(&fields); err != nil {
		return r, err
	}
	for name, v := range fields {
		if string(v) == "null" {
			delete(fields, name)
		}
	}
	data, _ := json.Marshal(fields)
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	err := dec.Decode(&r)
	return r, err
}

// jobError answers a job operation's error with its status.
func jobError(w http.ResponseWriter, err error) {
	code := http.StatusInternalServerError
	switch {
	case errors.Is(err, jobs.ErrNotFound):
		code = http.StatusNotFound
	case errors.Is(err, jobs.ErrInvalid), errors.Is(err, jobs.ErrExists), errors.Is(err, jobs.ErrNotTerminal):
		code = http.StatusBadRequest
	}
	http.Error(w, err.Error(), code)
}

// packages serves /api/packages/gcs/_ray_pkg_<sha256>.zip: GET tells whether the cluster has the
// package (200 or 404), PUT uploads it (the body, checked against the name's hash).
func (s *Server) packages(w http.ResponseWriter, req *http.Request) {
	name := strings.TrimPrefix(req.URL.Path, "/api/packages/")
	sum, ok := runtimeenv.PackageSum(strings.Replace(name, "gcs/", "gcs://", 1))
	if !ok || !strings.HasPrefix(name, "gcs/") {
		http.Error(w, fmt.Sprintf("package %q: goray's packages are gcs/_ray_pkg_<sha256>.zip", name), http.StatusNotFound)
		return
	}
	if !allow(w, req, http.MethodGet, http.MethodPut) {
		return
	}
	if s.cfg.Packages == nil {
		http.Error(w, "this server keeps no packages", http.StatusNotFound)
		return
	}
	if req.Method != http.MethodPut {
		has, err := s.cfg.Packages.Has(req.Context(), sum)
		switch {
		case err != nil:
			http.Error(w, err.Error(), http.StatusInternalServerError)
		case !has:
			http.Error(w, "the cluster has no package "+name, http.StatusNotFound)
		default:
			writeJSON(w, http.StatusOK, map[string]bool{"exists": true})
		}
		return
	}
	tmp, err := os.CreateTemp(s.cfg.TempDir, "upload-*.zip")
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(tmp, h), http.MaxBytesReader(w, req.Body, runtimeenv.MaxPackageBytes+1<<20))
	if err != nil {
		http.Error(w, fmt.Sprintf("package %s: the upload failed after %d bytes: %v (a working_dir may be at most %d MiB)", name, n, err, runtimeenv.MaxPackageBytes>>20), http.StatusBadRequest)
		return
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != sum {
		http.Error(w, fmt.Sprintf("package %s: the body's SHA-256 is %s", name, got), http.StatusBadRequest)
		return
	}
	if err := tmp.Close(); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	if err := s.cfg.Packages.Put(req.Context(), tmp.Name(), sum); err != nil {
		http.Error(w, fmt.Sprintf("package %s: %v", name, err), http.StatusInternalServerError)
		return
	}
	writeJSON(w, http.StatusOK, map[string]bool{"uploaded": true})
}

// allJobs lists the submitted jobs and the drivers' jobs (Ray's job list); when the control store
// cannot be asked, the submitted ones alone.
func (s *Server) allJobs(ctx context.Context) []jobs.Info {
	return jobs.ListWith(ctx, s.cfg.Jobs.List(), s.cfg.Drivers)
}

// job is one job by its submission id (with its driver's job id), or by the job id of a driver
// of its own.
func (s *Server) job(ctx context.Context, id string) (jobs.Info, error) {
	info, err := s.cfg.Jobs.Get(id)
	if s.cfg.Drivers == nil || err != nil && !errors.Is(err, jobs.ErrNotFound) {
		return info, err
	}
	if err == nil {
		d, derr := s.cfg.Drivers(ctx, &pb.GetAllJobsRequest{SubmissionId: id})
		if derr != nil {
			glog.Warningf("dashboard: the drivers of job %s: %v", id, derr)
			return info, nil
		}
		for _, j := range jobs.WithDrivers([]jobs.Info{info}, d) {
			if j.Type == jobs.TypeSubmission {
				return j, nil // (its first driver's job id and driver_info)
			}
		}
		return info, nil
	}
	d, derr := s.cfg.Drivers(ctx, &pb.GetAllJobsRequest{JobId: id})
	if derr != nil || len(d) == 0 {
		return info, err // (not found)
	}
	return jobs.WithDrivers(nil, d)[0], nil
}
