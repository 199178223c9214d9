package dashboard

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"goray/httpauth"
	pb "goray/rpc/proto"
	"goray/state"
)

// fakeState is a cluster of fixed records.
type fakeState struct {
	rows    map[string][]map[string]any
	reports []*pb.NodeStateReply
	warn    string
	err     error
}

func (f fakeState) List(_ context.Context, kind string, warn io.Writer) ([]map[string]any, error) {
	if f.err != nil {
		return nil, f.err
	}
	_, _ = io.WriteString(warn, f.warn)
	return f.rows[kind], nil
}

func (f fakeState) AllReports(_ context.Context, _ string, warn io.Writer) ([]*pb.NodeStateReply, error) {
	if f.err != nil {
		return nil, f.err
	}
	_, _ = io.WriteString(warn, f.warn)
	return f.reports, nil
}

func (f fakeState) Objects(ctx context.Context, warn io.Writer) ([]state.Object, []*pb.NodeStateReply, error) {
	reports, err := f.AllReports(ctx, "objects", warn)
	return state.Objects(nil, reports), reports, err
}

// noRedirects is a client that shows redirects instead of following them.
var noRedirects = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func sendRaw(t *testing.T, req *http.Request) (*http.Response, string) {
	t.Helper()
	rep, err := noRedirects.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer rep.Body.Close()
	body, _ := io.ReadAll(rep.Body)
	return rep, string(body)
}

func newReq(t *testing.T, method, url string, body io.Reader) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

func loginForm(t *testing.T, s *Server, token string) *http.Request {
	req := newReq(t, http.MethodPost, s.URL()+"/login", strings.NewReader(url.Values{"token": {token}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return req
}

func TestPageNeedsTheLogin(t *testing.T) {
	s, _ := startServer(t)
	// A browser without the token is sent to the form; the form is open, and tells how to get in.
	rep, _ := sendRaw(t, newReq(t, http.MethodGet, s.URL()+"/", nil))
	if rep.StatusCode != http.StatusSeeOther || rep.Header.Get("Location") != "/login" {
		t.Fatalf("/ without the token: %d to %q", rep.StatusCode, rep.Header.Get("Location"))
	}
	rep, body := sendRaw(t, newReq(t, http.MethodGet, s.URL()+"/login", nil))
	if rep.StatusCode != http.StatusOK || !strings.Contains(body, `name="token"`) || !strings.Contains(body, "ray get-auth-token") {
		t.Fatalf("the login form: %d %s", rep.StatusCode, body)
	}
	// (same-origin: under no-referrer, browsers send the form with "Origin: null", refused)
	if csp := rep.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") || !strings.Contains(csp, "script-src 'self'") || rep.Header.Get("Referrer-Policy") != "same-origin" {
		t.Errorf("the form's policy: %q", csp)
	}

	// A wrong token and no token set no cookie.
	for token, code := range map[string]int{"wrong": http.StatusForbidden, "  ": http.StatusBadRequest} {
		rep, body = sendRaw(t, loginForm(t, s, token))
		if rep.StatusCode != code || len(rep.Cookies()) != 0 {
			t.Errorf("login with %q: %d, cookies %v", token, rep.StatusCode, rep.Cookies())
		}
		if code == http.StatusForbidden && !strings.Contains(body, "Wrong token") {
			t.Errorf("a wrong token's page: %s", body)
		}
	}

	// The right one sets the cookie, HttpOnly and SameSite=Strict, and sends the browser to the page.
	rep, _ = sendRaw(t, loginForm(t, s, testToken))
	if rep.StatusCode != http.StatusSeeOther || rep.Header.Get("Location") != "/" {
		t.Fatalf("login: %d to %q", rep.StatusCode, rep.Header.Get("Location"))
	}
	var cookie *http.Cookie
	for _, c := range rep.Cookies() {
		if c.Name == httpauth.CookieName {
			cookie = c
		}
	}
	if cookie == nil || cookie.Value != testToken || !cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode || cookie.Path != "/" {
		t.Fatalf("the login's cookie: %+v", cookie)
	}

	// With it: the page, its script, and the closed API.
	for _, path := range []string{"/", "/static/app.js", "/api/jobs/"} {
		req := newReq(t, http.MethodGet, s.URL()+path, nil)
		req.AddCookie(cookie)
		rep, body = sendRaw(t, req)
		if rep.StatusCode != http.StatusOK {
			t.Errorf("%s with the cookie: %d %s", path, rep.StatusCode, body)
		}
	}
	req := newReq(t, http.MethodGet, s.URL()+"/", nil)
	req.AddCookie(cookie)
	if rep, body = sendRaw(t, req); !strings.Contains(body, `<table id="nodes">`) || rep.Header.Get("X-Frame-Options") != "DENY" {
		t.Errorf("the page: %v %s", rep.Header, body)
	}
	// Signed in, the form sends the browser on to the page.
	req = newReq(t, http.MethodGet, s.URL()+"/login", nil)
	req.AddCookie(cookie)
	if rep, _ = sendRaw(t, req); rep.StatusCode != http.StatusSeeOther {
		t.Errorf("the form when signed in: %d", rep.StatusCode)
	}

	// The page's files are open (they hold no data), but nothing else is (not even to say what
	// exists), nor are listings.
	if rep, _ = sendRaw(t, newReq(t, http.MethodGet, s.URL()+"/static/app.js", nil)); rep.StatusCode != http.StatusOK || rep.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("the script without the token: %d", rep.StatusCode)
	}
	for path, code := range map[string]int{"/static/": http.StatusNotFound, "/api/v0/nodes": http.StatusUnauthorized, "/elsewhere": http.StatusUnauthorized} {
		if rep, _ = sendRaw(t, newReq(t, http.MethodGet, s.URL()+path, nil)); rep.StatusCode != code {
			t.Errorf("%s without the token: %d, not %d", path, rep.StatusCode, code)
		}
	}

	// A page of another site may not sign a browser in (login CSRF), nor out.
	for _, path := range []string{"/login", "/logout"} {
		req = loginForm(t, s, testToken)
		req.URL.Path = path
		req.Header.Set("Origin", "http://evil.example")
		if rep, _ = sendRaw(t, req); rep.StatusCode != http.StatusForbidden || len(rep.Cookies()) != 0 {
			t.Errorf("cross-origin %s: %d %v", path, rep.StatusCode, rep.Cookies())
		}
	}

	// Sign out forgets the cookie.
	rep, _ = sendRaw(t, newReq(t, http.MethodPost, s.URL()+"/logout", nil))
	if rep.StatusCode != http.StatusSeeOther || len(rep.Cookies()) != 1 || rep.Cookies()[0].MaxAge >= 0 {
		t.Errorf("sign out: %d %v", rep.StatusCode, rep.Cookies())
	}
}

// stateGet asks the state API for path with the token and decodes Ray's envelope.
func stateGet(t *testing.T, s *Server, path string) (int, map[string]any) {
	t.Helper()
	req := newReq(t, http.MethodGet, s.URL()+path, nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	rep, body := sendRaw(t, req)
	var v map[string]any
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatalf("%s: %d %q: %v", path, rep.StatusCode, body, err)
	}
	return rep.StatusCode, v
}

func TestStateAPI(t *testing.T) {
	actors, _ := state.Rows([]state.Actor{
		{ActorID: "a1", ClassName: "Counter", State: "ALIVE", Name: "c1"},
		{ActorID: "a2", ClassName: "Counter", State: "DEAD", Name: "c2"},
		{ActorID: "a3", ClassName: "Keeper", State: "ALIVE"},
	})
	task := func(id byte, name, st string) *pb.TaskRecord {
		return &pb.TaskRecord{Event: &pb.TaskEvent{TaskId: []byte{id}, Name: name, State: st, Attempt: 1, StartUs: 1000, EndUs: 2000}}
	}
	fake := fakeState{rows: map[string][]map[string]any{"actors": actors}, warn: "warning: node x did not answer\n",
		reports: []*pb.NodeStateReply{{NodeId: []byte{1},
			Tasks:   []*pb.TaskRecord{task(1, "Plus", "FINISHED"), task(2, "Plus", "FINISHED"), task(3, "Plus", "FAILED"), task(4, "Sleep", "FINISHED")},
			Actors:  []*pb.ActorState{{ActorId: []byte{9}, ClassName: "Counter", State: "ALIVE", Owned: true}},
			Objects: []*pb.ObjectRecord{{Ref: &pb.ObjectRefInfo{ObjectId: []byte{5}, LocalRefCount: 1, ObjectSize: 2 << 20}, Pid: 3, TaskStatus: "NIL"}}}}}
	s, _ := startServerWith(t, func(c *Config) { c.State = fake })

	code, v := stateGet(t, s, "/api/v0/actors?filter_keys=state&filter_predicates=%3D&filter_values=alive&limit=1")
	res := v["data"].(map[string]any)["result"].(map[string]any)
	if code != http.StatusOK || v["result"] != true || res["total"].(float64) != 3 || res["num_filtered"].(float64) != 2 ||
		len(res["result"].([]any)) != 1 || res["partial_failure_warning"] != "warning: node x did not answer\n" {
		t.Errorf("a filtered, limited list: %d %v", code, v)
	}
	code, v = stateGet(t, s, "/api/v0/actors?filter_keys=class_name&filter_predicates=!%3D&filter_values=counter")
	res = v["data"].(map[string]any)["result"].(map[string]any)
	if rows := res["result"].([]any); code != http.StatusOK || len(rows) != 1 || rows[0].(map[string]any)["actor_id"] != "a3" {
		t.Errorf("a != filter: %v", v)
	}
	code, v = stateGet(t, s, "/api/v0/placement_groups")
	if res = v["data"].(map[string]any)["result"].(map[string]any); code != http.StatusOK || len(res["result"].([]any)) != 0 {
		t.Errorf("an empty list is [] : %v", v)
	}

	code, v = stateGet(t, s, "/api/v0/tasks/summarize")
	sum := v["data"].(map[string]any)["result"].(map[string]any)["result"].(map[string]any)["node_id_to_summary"].(map[string]any)["cluster"].(map[string]any)
	plus := sum["summary"].(map[string]any)["Plus"].(map[string]any)["state_counts"].(map[string]any)
	if code != http.StatusOK || sum["total"].(float64) != 4 || plus["FINISHED"].(float64) != 2 || plus["FAILED"].(float64) != 1 {
		t.Errorf("the tasks' summary: %v", v)
	}
	code, v = stateGet(t, s, "/api/v0/actors/summarize")
	sum = v["data"].(map[string]any)["result"].(map[string]any)["result"].(map[string]any)["node_id_to_summary"].(map[string]any)["cluster"].(map[string]any)
	if code != http.StatusOK || sum["summary"].(map[string]any)["Counter"] == nil {
		t.Errorf("the actors' summary: %v", v)
	}

	code, v = stateGet(t, s, "/api/v0/objects/summarize")
	osum := v["data"].(map[string]any)["result"].(map[string]any)["result"].(map[string]any)["node_id_to_summary"].(map[string]any)["cluster"].(map[string]any)
	if code != http.StatusOK || osum["total_objects"].(float64) != 1 || osum["total_size_mb"].(float64) != 2 ||
		osum["summary"].(map[string]any)["disabled"].(map[string]any)["ref_type_counts"].(map[string]any)["LOCAL_REFERENCE"].(float64) != 1 {
		t.Errorf("the objects' summary: %v", v)
	}
	if code, v = stateGet(t, s, "/api/v0/objects"); code != http.StatusOK {
		t.Errorf("the objects' list: %d %v", code, v)
	}

	// Bad requests are 400 with Ray's envelope and a reason; an unknown list is 404.
	for path, want := range map[string]int{
		"/api/v0/actors?limit=0":          http.StatusBadRequest,
		"/api/v0/actors?limit=x":          http.StatusBadRequest,
		"/api/v0/actors?limit=10001":      http.StatusBadRequest,
		"/api/v0/actors?timeout=-1":       http.StatusBadRequest,
		"/api/v0/actors?filter_keys=name": http.StatusBadRequest,
		"/api/v0/actors?filter_keys=name&filter_predicates=~&filter_values=c":       http.StatusBadRequest,
		"/api/v0/actors?filter_keys=colour&filter_predicates=%3D&filter_values=red": http.StatusBadRequest,
		"/api/v0/objects_of_mars": http.StatusNotFound,
	} {
		code, v = stateGet(t, s, path)
		if code != want || v["result"] != false || v["msg"] == "" {
			t.Errorf("%s: %d %v, not %d", path, code, v, want)
		}
	}
	// The timeline is a Chrome trace.
	req := newReq(t, http.MethodGet, s.URL()+"/api/v0/tasks/timeline?download=1", nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	rep, body := sendRaw(t, req)
	var events []map[string]any
	if err := json.Unmarshal([]byte(body), &events); err != nil || rep.StatusCode != http.StatusOK || len(events) != 4 ||
		!strings.HasPrefix(rep.Header.Get("Content-Disposition"), "attachment") {
		t.Errorf("the timeline: %d %v %s", rep.StatusCode, err, body)
	}
}

func TestStateAPIWhenTheClusterFails(t *testing.T) {
	s, _ := startServerWith(t, func(c *Config) { c.State = fakeState{err: errors.New("the control store is gone")} })
	code, v := stateGet(t, s, "/api/v0/nodes")
	if code != http.StatusInternalServerError || v["result"] != false || !strings.Contains(v["msg"].(string), "control store is gone") {
		t.Errorf("a failing cluster: %d %v", code, v)
	}
	s2, _ := startServer(t) // (no state source)
	if code, v = stateGet(t, s2, "/api/v0/nodes"); code != http.StatusServiceUnavailable {
		t.Errorf("no state source: %d %v", code, v)
	}
}
