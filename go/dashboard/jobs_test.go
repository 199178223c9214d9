package dashboard

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/websocket"

	"goray/jobclient"
	"goray/jobs"
	pb "goray/rpc/proto"
)

const testToken = "0123456789abcdef0123456789abcdef"

// memPackages is a code store in a map.
type memPackages struct {
	mu    sync.Mutex
	files map[string][]byte
}

func (m *memPackages) Has(_ context.Context, sum string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, ok := m.files[sum]
	return ok, nil
}

func (m *memPackages) Put(_ context.Context, path, sum string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.files[sum] = data
	return nil
}

func (m *memPackages) fetch(_ context.Context, sum, dst string) error {
	m.mu.Lock()
	data, ok := m.files[sum]
	m.mu.Unlock()
	if !ok {
		return errors.New("not in the store")
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return err
	}
	return os.WriteFile(dst, data, 0o600)
}

func startServer(t *testing.T) (*Server, *memPackages) {
	t.Helper()
	return startServerWith(t, nil)
}

// startServerWith starts a server on a supervisor of a temporary directory, with its config
// changed by change (nil: as it is).
func startServerWith(t *testing.T, change func(*Config)) (*Server, *memPackages) {
	t.Helper()
	dir := t.TempDir()
	pkgs := &memPackages{files: map[string][]byte{}}
	sup, err := jobs.NewSupervisor(jobs.Config{LogsDir: filepath.Join(dir, "logs"), WorkDir: filepath.Join(dir, "work"),
		Env: []string{"PATH=" + os.Getenv("PATH")}, NodeID: "head", Fetch: pkgs.fetch, StopGrace: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Listen: "127.0.0.1:0", Token: testToken, Jobs: sup, Packages: pkgs, Version: "test", TempDir: dir}
	if change != nil {
		change(&cfg)
	}
	s, err := Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.Stop()
		sup.Close()
	})
	return s, pkgs
}

func TestJobAPIThroughTheClient(t *testing.T) {
	s, _ := startServer(t)
	c := jobclient.New(s.URL(), testToken)
	ctx := context.Background()
	id, err := c.Submit(ctx, jobs.Request{Entrypoint: "echo one; echo two", SubmissionID: "first", Metadata: map[string]string{"k": "v"}})
	if err != nil || id != "first" {
		t.Fatalf("submit: %q %v", id, err)
	}
	var out strings.Builder
	info, err := c.Follow(ctx, id, &out, 20*time.Millisecond)
	if err != nil || info.Status != jobs.Succeeded || out.String() != "one\ntwo\n" || info.Metadata["k"] != "v" {
		t.Fatalf("follow: %+v %q %v", info, out.String(), err)
	}
	if _, err := c.Submit(ctx, jobs.Request{Entrypoint: "true", SubmissionID: "first"}); !isStatus(err, 400) {
		t.Errorf("a second job of the same id: %v", err)
	}
	list, err := c.List(ctx)
	if err != nil || len(list) != 1 || list[0].SubmissionID != "first" {
		t.Errorf("list: %+v %v", list, err)
	}
	if stopped, err := c.Stop(ctx, id); stopped || err != nil {
		t.Errorf("stopping a job over already: %v %v", stopped, err)
	}
	if err := c.Delete(ctx, id); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Get(ctx, id); !isStatus(err, 404) {
		t.Errorf("a deleted job: %v", err)
	}
	if _, _, err := c.Logs(ctx, "nope", 0); !isStatus(err, 404) {
		t.Errorf("logs of an unknown job: %v", err)
	}
	long, _ := c.Submit(ctx, jobs.Request{Entrypoint: "sleep 30"})
	if err := c.Delete(ctx, long); !isStatus(err, 400) {
		t.Errorf("deleting a running job: %v", err)
	}
	if stopped, err := c.Stop(ctx, long); !stopped || err != nil {
		t.Errorf("stop: %v %v", stopped, err)
	}
	if info, err := c.Wait(ctx, long, 20*time.Millisecond); err != nil || info.Status != jobs.Stopped {
		t.Errorf("the stopped job: %+v %v", info, err)
	}
}

func TestWorkingDirUpload(t *testing.T) {
	s, pkgs := startServer(t)
	c := jobclient.New(s.URL(), testToken)
	ctx := context.Background()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "run.sh"), []byte("echo ran in $(basename $PWD)\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	uri, err := c.UploadWorkingDir(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	if again, err := c.UploadWorkingDir(ctx, dir); err != nil || again != uri || len(pkgs.files) != 1 {
		t.Fatalf("a second upload: %q %v (%d packages)", again, err, len(pkgs.files))
	}
	id, err := c.Submit(ctx, jobs.Request{Entrypoint: "bash run.sh", SubmissionID: "wd", RuntimeEnv: map[string]any{"working_dir": uri}})
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	if info, err := c.Follow(ctx, id, &out, 20*time.Millisecond); err != nil || info.Status != jobs.Succeeded || out.String() != "ran in job_wd\n" {
		t.Errorf("the job in its working_dir: %+v %q %v", info, out.String(), err)
	}
	// A package whose body is not what its name says is refused.
	req, _ := http.NewRequest(http.MethodPut, s.URL()+"/api/packages/gcs/_ray_pkg_"+strings.Repeat("0", 64)+".zip", strings.NewReader("not it"))
	req.Header.Set("Authorization", "Bearer "+testToken)
	if code, body := send(t, req); code != 400 || !strings.Contains(body, "SHA-256") {
		t.Errorf("a package of the wrong hash: %d %q", code, body)
	}
}

func TestRefusals(t *testing.T) {
	s, _ := startServer(t)
	url := s.URL()
	cases := []struct {
		name    string
		method  string
		path    string
		body    string
		headers map[string]string
		code    int
		says    string
	}{
		{"no token", "GET", "/api/jobs/", "", nil, 401, "token"},
		{"wrong token", "GET", "/api/jobs/", "", map[string]string{"Authorization": "Bearer " + strings.Repeat("f", 32)}, 403, "wrong token"},
		{"submit without a token", "POST", "/api/jobs/", `{"entrypoint":"touch /tmp/pwned"}`, nil, 401, "token"},
		{"health check is open", "GET", "/api/gcs_healthz", "", nil, 200, "success"},
		{"version", "GET", "/api/version", "", map[string]string{"Authorization": "Bearer " + testToken}, 200, "ray_version"},
		{"cross-origin submit with a cookie", "POST", "/api/jobs/", `{"entrypoint":"true"}`, map[string]string{"Cookie": "ray-authentication-token=" + testToken, "Origin": "http://evil.example"}, 403, "another origin"},
		{"rebinding", "GET", "/api/jobs/", "", map[string]string{"Authorization": "Bearer " + testToken, "Host": "evil.example:8265"}, 403, "Host"},
		{"malformed json", "POST", "/api/jobs/", `{"entrypoint":`, map[string]string{"Authorization": "Bearer " + testToken}, 400, "JSON"},
		{"unknown field", "POST", "/api/jobs/", `{"entrypoint":"true","bogus":1}`, map[string]string{"Authorization": "Bearer " + testToken}, 400, "bogus"},
		{"wrong type", "POST", "/api/jobs/", `{"entrypoint":5}`, map[string]string{"Authorization": "Bearer " + testToken}, 400, "entrypoint"},
		{"no entrypoint", "POST", "/api/jobs/", `{}`, map[string]string{"Authorization": "Bearer " + testToken}, 400, "entrypoint is empty"},
		{"wrong method", "PUT", "/api/jobs/x/stop", "", map[string]string{"Authorization": "Bearer " + testToken}, 405, "not allowed"},
		{"unknown action", "GET", "/api/jobs/x/bogus", "", map[string]string{"Authorization": "Bearer " + testToken}, 404, "no such path"},
		{"bad package name", "GET", "/api/packages/gcs/whatever.zip", "", map[string]string{"Authorization": "Bearer " + testToken}, 404, "_ray_pkg_"},
		{"bad offset", "GET", "/api/jobs/x/logs?offset=-4", "", map[string]string{"Authorization": "Bearer " + testToken}, 400, "offset"},
	}
	for _, c := range cases {
		req, _ := http.NewRequest(c.method, url+c.path, strings.NewReader(c.body))
		for k, v := range c.headers {
			if k == "Host" {
				req.Host = v
				continue
			}
			req.Header.Set(k, v)
		}
		code, body := send(t, req)
		if code != c.code || !strings.Contains(body, c.says) {
			t.Errorf("%s: %d %q, want %d with %q", c.name, code, body, c.code, c.says)
		}
	}
	c := jobclient.New(url, testToken)
	if list, err := c.List(context.Background()); err != nil || len(list) != 0 {
		t.Errorf("refused submissions left jobs: %+v %v", list, err)
	}
}

func send(t *testing.T, req *http.Request) (int, string) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(data)
}

func isStatus(err error, code int) bool {
	var st *jobclient.StatusError
	return errors.As(err, &st) && st.Code == code
}

// A large log full of what JSON would escape comes back whole, in pages.
func TestLargeLogs(t *testing.T) {
	s, _ := startServer(t)
	c := jobclient.New(s.URL(), testToken)
	ctx := context.Background()
	// 12 MiB of '<' and '&' (more than a page), then a last line.
	id, err := c.Submit(ctx, jobs.Request{Entrypoint: `head -c 12582912 /dev/zero | tr '\0' '<' ; echo; echo '&done'`})
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	info, err := c.Follow(ctx, id, &out, 50*time.Millisecond)
	if err != nil || info.Status != jobs.Succeeded {
		t.Fatalf("follow: %+v %v", info, err)
	}
	if out.Len() != 12582912+1+len("&done\n") || !strings.HasSuffix(out.String(), "<\n&done\n") {
		t.Errorf("the log came back as %d bytes, ending %q", out.Len(), out.String()[out.Len()-10:])
	}
}

// Ray's SDK sends every field of its request, those goray does not know as null.
func TestRaySDKRequestShape(t *testing.T) {
	s, _ := startServer(t)
	body := `{"entrypoint": "echo sdk", "submission_id": "sdk", "runtime_env": null, "metadata": null,
		"entrypoint_num_cpus": null, "entrypoint_num_gpus": null, "entrypoint_memory": null,
		"entrypoint_resources": null, "entrypoint_label_selector": null}`
	req, _ := http.NewRequest(http.MethodPost, s.URL()+"/api/jobs/", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+testToken)
	if code, out := send(t, req); code != 200 || !strings.Contains(out, `"submission_id":"sdk"`) {
		t.Fatalf("the SDK's request: %d %q", code, out)
	}
	req, _ = http.NewRequest(http.MethodPost, s.URL()+"/api/jobs/", strings.NewReader(`{"entrypoint": "true", "entrypoint_label_selector": {"a": "b"}}`))
	req.Header.Set("Authorization", "Bearer "+testToken)
	if code, out := send(t, req); code != 400 || !strings.Contains(out, "entrypoint_label_selector") {
		t.Errorf("a field goray does not apply, set: %d %q", code, out)
	}
}

// Ids that are no submission ids ("." and "..", which paths would clean away) are refused by the
// client before they reach the server.
func TestClientRefusesDotIDs(t *testing.T) {
	s, _ := startServer(t)
	c := jobclient.New(s.URL(), testToken)
	for _, id := range []string{".", "..", "a/b"} {
		if err := c.Delete(context.Background(), id); !errors.Is(err, jobs.ErrInvalid) {
			t.Errorf("delete %q: %v", id, err)
		}
		if _, err := c.Stop(context.Background(), id); !errors.Is(err, jobs.ErrInvalid) {
			t.Errorf("stop %q: %v", id, err)
		}
	}
}

// Ray's clients follow a log through /logs/tail, a WebSocket of text messages.
func TestTailOverWebSocket(t *testing.T) {
	s, _ := startServer(t)
	c := jobclient.New(s.URL(), testToken)
	id, err := c.Submit(context.Background(), jobs.Request{Entrypoint: "echo one; sleep 0.3; echo two"})
	if err != nil {
		t.Fatal(err)
	}
	wsURL := "ws" + strings.TrimPrefix(s.URL(), "http") + "/api/jobs/" + id + "/logs/tail"
	cfg, err := websocket.NewConfig(wsURL, s.URL())
	if err != nil {
		t.Fatal(err)
	}
	cfg.Header.Set("Authorization", "Bearer "+testToken)
	conn, err := websocket.DialConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var got strings.Builder
	for {
		var msg string
		if err := websocket.Message.Receive(conn, &msg); err != nil {
			break // (closed once the job is over)
		}
		got.WriteString(msg)
	}
	if got.String() != "one\ntwo\n" {
		t.Errorf("tailed %q", got.String())
	}
	// Another origin may not open it, nor may a caller without the token.
	cfg.Origin, _ = url.Parse("http://evil.example")
	if _, err := websocket.DialConfig(cfg); err == nil {
		t.Errorf("a page of another origin tailed the log")
	}
	cfg, _ = websocket.NewConfig(wsURL, s.URL())
	if _, err := websocket.DialConfig(cfg); err == nil {
		t.Errorf("a caller without the token tailed the log")
	}
}

// The job list holds the drivers' jobs of the control store beside the submitted ones: a
// submitted job gets its driver's job id; a driver of its own is a DRIVER job, found by its job
// id too. When the control store cannot be asked, the submitted jobs are still listed.
func TestJobListWithDrivers(t *testing.T) {
	var fail error
	s, _ := startServerWith(t, func(c *Config) {
		c.Drivers = func(_ context.Context, f *pb.GetAllJobsRequest) ([]*pb.JobInfo, error) {
			var out []*pb.JobInfo
			for _, j := range []*pb.JobInfo{{JobId: "01000000", SubmissionId: "sub", DriverPid: 5, StartTimeMs: 1},
				{JobId: "02000000", DriverPid: 6, Entrypoint: "./prog", StartTimeMs: 2, IsDead: true, EndTimeMs: 3}} {
				if (f.JobId == "" || f.JobId == j.JobId) && (f.SubmissionId == "" || f.SubmissionId == j.SubmissionId) {
					out = append(out, j)
				}
			}
			return out, fail
		}
	})
	c := jobclient.New(s.URL(), testToken)
	ctx := context.Background()
	if _, err := c.Submit(ctx, jobs.Request{Entrypoint: "true", SubmissionID: "sub"}); err != nil {
		t.Fatal(err)
	}
	list, err := c.List(ctx)
	if err != nil || len(list) != 2 {
		t.Fatalf("list: %+v %v", list, err)
	}
	byType := map[string]jobs.Info{}
	for _, j := range list {
		byType[j.Type] = j
	}
	if sub := byType[jobs.TypeSubmission]; sub.JobID == nil || *sub.JobID != "01000000" || sub.DriverInfo == nil || sub.DriverInfo.PID != "5" {
		t.Errorf("the submitted job with its driver: %+v", sub)
	}
	if info, err := c.Get(ctx, "02000000"); err != nil || info.Type != jobs.TypeDriver || info.Status != jobs.Succeeded || info.Entrypoint != "./prog" {
		t.Errorf("a driver's job by its id: %+v %v", info, err)
	}
	if info, err := c.Get(ctx, "sub"); err != nil || info.JobID == nil || *info.JobID != "01000000" {
		t.Errorf("a submitted job by its submission id: %+v %v", info, err)
	}
	if _, err := c.Get(ctx, "03000000"); !isStatus(err, 404) {
		t.Errorf("an unknown job id: %v", err)
	}
	fail = errors.New("the control store is away")
	if list, err := c.List(ctx); err != nil || len(list) != 1 || list[0].SubmissionID != "sub" {
		t.Errorf("without the control store: %+v %v", list, err)
	}
	if info, err := c.Get(ctx, "sub"); err != nil || info.SubmissionID != "sub" || info.JobID != nil {
		t.Errorf("a submitted job without the control store: %+v %v", info, err)
	}
}
