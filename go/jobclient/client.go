// Package jobclient talks to a cluster's job REST API (Ray's, on the dashboard port): what
// `ray job ...` runs on. It finds the server as Ray's CLI does (an http:// address, or a cluster
// address whose head tells where its dashboard is) and presents the cluster's token.
package jobclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"goray/jobs"
	"goray/runtimeenv"
)

// KVNamespace and KVKey are where the head keeps its dashboard's address (host:port) in the
// control store's KV, as Ray does.
const (
	KVNamespace = "dashboard"
	KVKey       = "dashboard"
)

// ErrHTTP is wrapped by the errors of requests the server answered with a failure status.
var ErrHTTP = errors.New("job API request failed")

// Client is a job API client.
type Client struct {
	base  string // http://host:port
	token string
	http  *http.Client
}

// New returns a client of the server at base (http://host:port) presenting token.
func New(base, token string) *Client {
	return &Client{base: strings.TrimRight(base, "/"), token: token, http: &http.Client{
		Timeout: 2 * time.Minute,
		// (a redirect would change a DELETE or POST into a GET: the answer is the redirect)
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// Base is the server's address.
func (c *Client) Base() string { return c.base }

// StatusError is a failure status the server answered, with its message.
type StatusError struct {
	Code    int
	Message string
}

// Error is the status and the server's message (with a hint for a missing token).
func (e *StatusError) Error() string {
	msg := strings.TrimSpace(e.Message)
	switch e.Code {
	case http.StatusUnauthorized:
		msg += " (set RAY_AUTH_TOKEN to the output of `ray get-auth-token` on the head, or RAY_AUTH_TOKEN_PATH to a file holding it)"
	}
	return fmt.Sprintf("%d %s: %s", e.Code, http.StatusText(e.Code), msg)
}

// Unwrap makes errors.Is(err, ErrHTTP) true.
func (e *StatusError) Unwrap() error { return ErrHTTP }

// do sends a request and decodes a JSON answer into out (nil: ignored).
func (c *Client) do(ctx context.Context, method, path string, body io.Reader, contentType string, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("the job API at %s: %w", c.base, err)
	}
	defer resp.Body.Close()
	// (a page of a log is at most MaxLogRead bytes, JSON-escaped: at most six times longer)
	data, err := io.ReadAll(io.LimitReader(resp.Body, 6*jobs.MaxLogRead+1<<20))
	if err != nil {
		return fmt.Errorf("the job API at %s: %w", c.base, err)
	}
	if resp.StatusCode/100 != 2 {
		return &StatusError{Code: resp.StatusCode, Message: string(data)}
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("the job API at %s answered %s %s with what is not its JSON: %w", c.base, method, path, err)
	}
	return nil
}

// Submit submits a job and returns its submission id.
func (c *Client) Submit(ctx context.Context, r jobs.Request) (string, error) {
	data, err := json.Marshal(r)
	if err != nil {
		return "", err
	}
	var out struct {
		SubmissionID string `json:"submission_id"`
	}
	if err := c.do(ctx, http.MethodPost, "/api/jobs/", bytes.NewReader(data), "application/json", &out); err != nil {
		return "", err
	}
	return out.SubmissionID, nil
}

// Get returns a job's record.
func (c *Client) Get(ctx context.Context, id string) (jobs.Info, error) {
	var info jobs.Info
	if err := jobs.CheckSubmissionID(id); err != nil {
		return info, err
	}
	err := c.do(ctx, http.MethodGet, "/api/jobs/"+url.PathEscape(id), nil, "", &info)
	return info, err
}

// List returns every job's record.
func (c *Client) List(ctx context.Context) ([]jobs.Info, error) {
	var list []jobs.Info
	err := c.do(ctx, http.MethodGet, "/api/jobs/", nil, "", &list)
	return list, err
}

// Logs returns a job's log from byte offset on, and the offset after it.
func (c *Client) Logs(ctx context.Context, id string, offset int64) (string, int64, error) {
	var out struct {
		Logs       string `json:"logs"`
		NextOffset int64  `json:"next_offset"`
	}
	if err := jobs.CheckSubmissionID(id); err != nil {
		return "", 0, err
	}
	err := c.do(ctx, http.MethodGet, "/api/jobs/"+url.PathEscape(id)+"/logs?offset="+strconv.FormatInt(offset, 10), nil, "", &out)
	return out.Logs, out.NextOffset, err
}

// Stop stops a job; false when it was over already.
func (c *Client) Stop(ctx context.Context, id string) (bool, error) {
	var out struct {
		Stopped bool `json:"stopped"`
	}
	if err := jobs.CheckSubmissionID(id); err != nil {
		return false, err
	}
	err := c.do(ctx, http.MethodPost, "/api/jobs/"+url.PathEscape(id)+"/stop", nil, "", &out)
	return out.Stopped, err
}

// Delete forgets a job that is over.
func (c *Client) Delete(ctx context.Context, id string) error {
	if err := jobs.CheckSubmissionID(id); err != nil {
		return err
	}
	return c.do(ctx, http.MethodDelete, "/api/jobs/"+url.PathEscape(id), nil, "", nil)
}

// UploadWorkingDir packs directory dir and uploads it unless the cluster has it already; it
// returns the package's URI, the runtime_env working_dir of a job.
func (c *Client) UploadWorkingDir(ctx context.Context, dir string) (string, error) {
	pkg, sum, err := runtimeenv.Pack(dir)
	if err != nil {
		return "", err
	}
	defer os.Remove(pkg)
	path := "/api/packages/gcs/_ray_pkg_" + sum + ".zip"
	err = c.do(ctx, http.MethodGet, path, nil, "", nil)
	var st *StatusError
	switch {
	case err == nil:
		return runtimeenv.PackageURI(sum), nil // (uploaded before)
	case !errors.As(err, &st) || st.Code != http.StatusNotFound:
		return "", err
	}
	f, err := os.Open(pkg)
	if err != nil {
		return "", err
	}
	defer f.Close()
	if err := c.do(ctx, http.MethodPut, path, f, "application/zip", nil); err != nil {
		return "", fmt.Errorf("uploading working_dir %s: %w", dir, err)
	}
	return runtimeenv.PackageURI(sum), nil
}

// Wait polls a job until it is over and returns its last record.
func (c *Client) Wait(ctx context.Context, id string, every time.Duration) (jobs.Info, error) {
	for {
		info, err := c.Get(ctx, id)
		if err != nil || info.Status.Terminal() {
			return info, err
		}
		select {
		case <-ctx.Done():
			return info, ctx.Err()
		case <-time.After(every):
		}
	}
}

// Follow writes a job's log to w as it grows, from the start, until the job is over and its
// log read to the end; it returns the job's last record.
func (c *Client) Follow(ctx context.Context, id string, w io.Writer, every time.Duration) (jobs.Info, error) {
	var offset int64
	for {
		// The state first, then the log: a job over by then has all its log written.
		info, err := c.Get(ctx, id)
		if err != nil {
			return info, err
		}
		for {
			text, next, err := c.Logs(ctx, id, offset)
			if err != nil {
				return info, err
			}
			if _, err := io.WriteString(w, text); err != nil {
				return info, err
			}
			offset = next
			if len(text) < jobs.MaxLogRead {
				break
			}
		}
		if info.Status.Terminal() {
			return info, nil
		}
		select {
		case <-ctx.Done():
			return info, ctx.Err()
		case <-time.After(every):
		}
	}
}

// EnvAPIServerAddress names the job server for job clients, before RAY_ADDRESS (Ray's).
const EnvAPIServerAddress = "RAY_API_SERVER_ADDRESS"

// ResolveAddress is the job server a client of address talks to (as Ray's job CLI finds it):
// address, else RAY_API_SERVER_ADDRESS, else RAY_ADDRESS, else the cluster last started on this
// machine. An http:// or https:// address is the server's; any other is a cluster's (host:port
// of its control store, or "auto"), which lookup asks for its dashboard's host:port.
func ResolveAddress(address string, lookup func(cluster string) (string, error)) (string, error) {
	for _, v := range []string{address, os.Getenv(EnvAPIServerAddress), os.Getenv("RAY_ADDRESS")} {
		if v = strings.TrimSpace(v); v != "" {
			address = v
			break
		}
	}
	if address == "" {
		address = "auto"
	}
	if strings.HasPrefix(address, "http://") || strings.HasPrefix(address, "https://") {
		u, err := url.Parse(address)
		if err != nil || u.Host == "" {
			return "", fmt.Errorf("job server address %q is not a URL", address)
		}
		return strings.TrimRight(address, "/"), nil
	}
	hostPort, err := lookup(address)
	if err != nil {
		return "", err
	}
	return "http://" + hostPort, nil
}
