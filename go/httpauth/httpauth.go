// Package httpauth closes goray's HTTP endpoints (the dashboard, the job API, the metrics) the way
// Ray's token mode closes its dashboard, and against the browser attacks Ray's job API fell to:
//   - a request must present the cluster's token: `Authorization: Bearer <token>`, the header
//     `X-Ray-Authorization` (with or without "Bearer "), or the cookie ray-authentication-token
//     (the dashboard's login form sets it); none is 401, another token 403;
//   - its Host must be an IP address, localhost, the machine's name or a name the server was
//     told: a page of another site whose name was made to point here (DNS rebinding) is refused;
//   - a request that changes something (any method but GET, HEAD and OPTIONS) from a browser page
//     of another origin (its Origin header, or Sec-Fetch-Site: cross-site) is refused, even with a
//     token (Ray's CVE-2026-27482).
//
// Paths a gate leaves public (a health check, the login page) skip the token only.
package httpauth

import (
	"crypto/subtle"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"

	"github.com/golang/glog"
)

// CookieName is the cookie that carries the token from a browser, as Ray's dashboard names it.
const CookieName = "ray-authentication-token"

// HeaderName is the second header a token may come in (Ray's, for proxies that keep
// Authorization for themselves).
const HeaderName = "X-Ray-Authorization"

// Gate is the check in front of a server's handlers.
type Gate struct {
	// Token is the cluster's token; "" leaves the token check out (the host and origin checks
	// stay).
	Token string
	// Hosts are host names (besides IP addresses, localhost and this machine's name) requests
	// may name in Host.
	Hosts []string
	// AnyHost leaves the Host check out: for a server only programs call (Prometheus scrapes
	// by any name), whose every path needs the token.
	AnyHost bool
	// Public tells which paths need no token (nil: none).
	Public func(path string) bool
	// What names the server in the messages of refusals ("the dashboard", "the metrics").
	What string
}

// Wrap returns h behind the gate.
func (g Gate) Wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if code, why := g.Check(req); code != 0 {
			if code == http.StatusForbidden {
				glog.Warningf("%s: refused %s %s from %s: %s", g.what(), req.Method, req.URL.Path, req.RemoteAddr, why)
			}
			http.Error(w, why, code)
			return
		}
		h.ServeHTTP(w, req)
	})
}

func (g Gate) what() string {
	if g.What == "" {
		return "this server"
	}
	return g.What
}

// Check returns the HTTP status a request is refused with and why (0: it may pass).
func (g Gate) Check(req *http.Request) (int, string) {
	if !g.AnyHost && !g.hostAllowed(req.Host) {
		return http.StatusForbidden, "forbidden: the Host " + quote(req.Host) + " is not an address of " + g.what() + " (a page of another site may not reach it)"
	}
	if changes(req.Method) && CrossSite(req) {
		return http.StatusForbidden, "forbidden: a request from a page of another origin may not change anything here"
	}
	if (g.Public != nil && g.Public(req.URL.Path)) || g.Admits(req) {
		return 0, ""
	}
	if len(TokensOf(req)) == 0 {
		return http.StatusUnauthorized, "unauthorized: " + g.what() + " needs the cluster's token (Authorization: Bearer <token>; `ray get-auth-token` prints it)"
	}
	return http.StatusForbidden, "forbidden: wrong token"
}

// Admits tells whether req presents the gate's token (any request does when the gate has none).
func (g Gate) Admits(req *http.Request) bool {
	if g.Token == "" {
		return true
	}
	for _, got := range TokensOf(req) {
		if g.Valid(got) {
			return true
		}
	}
	return false
}

// Valid tells whether token is the gate's, in constant time.
func (g Gate) Valid(token string) bool {
	return g.Token == "" || subtle.ConstantTimeCompare([]byte(token), []byte(g.Token)) == 1
}

// TokensOf are the tokens a request presents, in its headers and its cookie (a proxy in front
// may keep Authorization for its own credentials: any of them may be the cluster's).
func TokensOf(req *http.Request) []string {
	var out []string
	for _, h := range []string{"Authorization", HeaderName} {
		for _, v := range req.Header.Values(h) {
			if v = strings.TrimSpace(v); len(v) > 7 && strings.EqualFold(v[:7], "bearer ") {
				v = strings.TrimSpace(v[7:])
			}
			if v != "" {
				out = append(out, v)
			}
		}
	}
	if c, err := req.Cookie(CookieName); err == nil && c.Value != "" {
		out = append(out, c.Value)
	}
	return out
}

// changes tells whether a request of this method may change something.
func changes(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return false
	}
	return true
}

// CrossSite tells whether req comes from a browser page of an origin other than the server's:
// its Origin names another host (or is "null"), or the browser says so in Sec-Fetch-Site.
func CrossSite(req *http.Request) bool {
	if site := req.Header.Get("Sec-Fetch-Site"); site == "cross-site" || site == "same-site" {
		return true
	}
	origin := req.Header.Get("Origin")
	if origin == "" {
		return false // (not a browser's cross-origin request: browsers send Origin on those)
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return true
	}
	return !strings.EqualFold(u.Host, req.Host)
}

// hostAllowed tells whether a request's Host names this server: an IP address, localhost, this
// machine's name or one of g.Hosts, with any port.
func (g Gate) hostAllowed(host string) bool {
	if host == "" {
		return true // (HTTP/1.0 clients send none; browsers always do)
	}
	name := host
	if h, _, err := net.SplitHostPort(host); err == nil {
		name = h
	}
	name = strings.TrimSuffix(strings.TrimPrefix(name, "["), "]")
	if net.ParseIP(name) != nil || strings.EqualFold(name, "localhost") {
		return true
	}
	for _, h := range g.Hosts {
		if strings.EqualFold(name, h) {
			return true
		}
	}
	me, err := os.Hostname()
	return err == nil && strings.EqualFold(name, me)
}

func quote(s string) string {
	if len(s) > 80 {
		s = s[:80] + "..."
	}
	return "\"" + s + "\""
}
