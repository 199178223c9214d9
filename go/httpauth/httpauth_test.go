package httpauth

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestGateDecisions(t *testing.T) {
	const token = "0123456789abcdef0123456789abcdef"
	gate := Gate{Token: token, Hosts: []string{"head.example"}, What: "the dashboard",
		Public: func(p string) bool { return p == "/api/gcs_healthz" }}
	cases := []struct {
		name    string
		method  string
		host    string
		path    string
		headers map[string]string
		cookie  string
		want    int
	}{
		{"no token", "GET", "127.0.0.1:8265", "/api/jobs/", nil, "", 401},
		{"bearer token", "GET", "127.0.0.1:8265", "/api/jobs/", map[string]string{"Authorization": "Bearer " + token}, "", 0},
		{"wrong bearer token", "GET", "127.0.0.1:8265", "/api/jobs/", map[string]string{"Authorization": "Bearer nope"}, "", 403},
		{"ray's header, bare", "GET", "127.0.0.1:8265", "/api/jobs/", map[string]string{HeaderName: token}, "", 0},
		{"ray's header, bearer", "GET", "127.0.0.1:8265", "/api/jobs/", map[string]string{HeaderName: "Bearer " + token}, "", 0},
		{"lower-case bearer", "GET", "127.0.0.1:8265", "/api/jobs/", map[string]string{"Authorization": "bearer " + token}, "", 0},
		{"a proxy's credentials and ray's header", "GET", "127.0.0.1:8265", "/api/jobs/", map[string]string{"Authorization": "Basic dXNlcjpwdw==", HeaderName: token}, "", 0},
		{"only a proxy's credentials", "GET", "127.0.0.1:8265", "/api/jobs/", map[string]string{"Authorization": "Basic dXNlcjpwdw=="}, "", 403},
		{"cookie", "GET", "127.0.0.1:8265", "/", nil, token, 0},
		{"wrong cookie", "GET", "127.0.0.1:8265", "/", nil, "x", 403},
		{"public path without token", "GET", "127.0.0.1:8265", "/api/gcs_healthz", nil, "", 0},
		{"public path, rebinding host", "GET", "evil.example:8265", "/api/gcs_healthz", nil, "", 403},
		{"rebinding host with token", "GET", "evil.example:8265", "/api/jobs/", map[string]string{"Authorization": "Bearer " + token}, "", 403},
		{"localhost", "GET", "localhost:8265", "/api/jobs/", map[string]string{"Authorization": "Bearer " + token}, "", 0},
		{"a host named to the gate", "GET", "HEAD.example:8265", "/api/jobs/", map[string]string{"Authorization": "Bearer " + token}, "", 0},
		{"ipv6 host", "GET", "[::1]:8265", "/api/jobs/", map[string]string{"Authorization": "Bearer " + token}, "", 0},
		{"post from another origin with the cookie", "POST", "127.0.0.1:8265", "/api/jobs/", map[string]string{"Origin": "http://evil.example"}, token, 403},
		{"post from another port of the host", "POST", "127.0.0.1:8265", "/api/jobs/", map[string]string{"Origin": "http://127.0.0.1:3000"}, token, 403},
		{"post from a null origin", "POST", "127.0.0.1:8265", "/api/jobs/", map[string]string{"Origin": "null"}, token, 403},
		{"post the browser calls cross-site", "DELETE", "127.0.0.1:8265", "/api/jobs/x", map[string]string{"Sec-Fetch-Site": "cross-site"}, token, 403},
		{"post from the page itself", "POST", "127.0.0.1:8265", "/api/jobs/", map[string]string{"Origin": "http://127.0.0.1:8265", "Sec-Fetch-Site": "same-origin"}, token, 0},
		{"post from a program", "POST", "127.0.0.1:8265", "/api/jobs/", map[string]string{"Authorization": "Bearer " + token}, "", 0},
		{"get from another origin still needs its token", "GET", "127.0.0.1:8265", "/api/jobs/", map[string]string{"Origin": "http://evil.example"}, "", 401},
	}
	for _, c := range cases {
		req := httptest.NewRequest(c.method, "http://"+c.host+c.path, nil)
		req.Host = c.host
		for k, v := range c.headers {
			req.Header.Set(k, v)
		}
		if c.cookie != "" {
			req.AddCookie(&http.Cookie{Name: CookieName, Value: c.cookie})
		}
		got, why := gate.Check(req)
		if got != c.want {
			t.Errorf("%s: status %d (%s), want %d", c.name, got, why, c.want)
		}
	}
}

func TestWrapAnswersRefusals(t *testing.T) {
	inner := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) })
	h := Gate{Token: "0123456789abcdef0123456789abcdef", What: "the metrics"}.Wrap(inner)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "http://127.0.0.1/metrics", nil))
	if rec.Code != 401 || !strings.Contains(rec.Body.String(), "the metrics needs the cluster's token") {
		t.Errorf("no token: %d %q", rec.Code, rec.Body.String())
	}
	rec = httptest.NewRecorder()
	req := httptest.NewRequest("GET", "http://127.0.0.1/metrics", nil)
	req.Header.Set("Authorization", "Bearer 0123456789abcdef0123456789abcdef")
	h.ServeHTTP(rec, req)
	if rec.Code != 200 || rec.Body.String() != "ok" {
		t.Errorf("with the token: %d %q", rec.Code, rec.Body.String())
	}
}
