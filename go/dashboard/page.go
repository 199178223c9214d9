package dashboard

import (
	"embed"
	"html/template"
	"io/fs"
	"net/http"
	"strings"

	"github.com/golang/glog"

	"goray/httpauth"
)

// The web page of the cluster at /: a static page (web/) whose script reads the closed API
// (/api/v0/..., /api/jobs/) every two seconds. A browser without the token is sent to the login
// form, which sets the token in an HttpOnly, SameSite=Strict cookie (as Ray's dashboard names it)
// that the browser then presents with every request of the page, and no script can read.

//go:embed web
var webFiles embed.FS

const (
	loginPath   = "/login"
	logoutPath  = "/logout"
	staticPath  = "/static/"
	faviconPath = "/favicon.ico"
)

// loginPage is the login form, with what went wrong with the last try.
var loginPage = template.Must(template.New("login").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>goray dashboard: sign in</title>
<link rel="stylesheet" href="/static/style.css"></head>
<body class="login"><main>
<h1>goray dashboard</h1>
<p>This cluster is closed: enter its token (<code>ray get-auth-token</code> prints it on a machine of the cluster).</p>
{{if .}}<p class="error" id="login-error">{{.}}</p>{{end}}
<form method="post" action="/login">
<label for="token">Token</label>
<input type="password" id="token" name="token" autocomplete="current-password" autofocus required>
<button type="submit" id="sign-in">Sign in</button>
</form>
</main></body></html>
`))

// pageHeaders are the headers of the page's files: no framing by other sites, no script but the
// page's own, no guessing of types, no caching of what may hold the cluster's data.
func pageHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	// (same-origin, not no-referrer: under no-referrer the browser sends its forms with
	// "Origin: null", which the gate takes for another site's)
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cache-Control", "no-store")
}

// page serves the web page at /, or sends a browser without the token to the login form.
func (s *Server) page(w http.ResponseWriter, req *http.Request) {
	if req.URL.Path != "/" {
		http.NotFound(w, req)
		return
	}
	if !allow(w, req, http.MethodGet) {
		return
	}
	if !s.gate.Admits(req) {
		http.Redirect(w, req, loginPath, http.StatusSeeOther)
		return
	}
	data, err := webFiles.ReadFile("web/index.html")
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	pageHeaders(w)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = w.Write(data)
}

// maxLoginForm bounds the login form's body.
const maxLoginForm = 16 << 10

// login shows the login form (GET) and takes the token (POST): the right one is set in the
// cookie and the browser goes to the page; a wrong one is refused (403) and set nowhere.
func (s *Server) login(w http.ResponseWriter, req *http.Request) {
	if !allow(w, req, http.MethodGet, http.MethodPost) {
		return
	}
	pageHeaders(w)
	if req.Method != http.MethodPost {
		if s.gate.Admits(req) {
			http.Redirect(w, req, "/", http.StatusSeeOther)
			return
		}
		s.loginForm(w, http.StatusOK, "")
		return
	}
	req.Body = http.MaxBytesReader(w, req.Body, maxLoginForm)
	if err := req.ParseForm(); err != nil {
		s.loginForm(w, http.StatusBadRequest, "The form could not be read: "+err.Error())
		return
	}
	token := strings.TrimSpace(req.PostForm.Get("token"))
	switch {
	case token == "":
		s.loginForm(w, http.StatusBadRequest, "Enter the cluster's token.")
		return
	case !s.gate.Valid(token):
		glog.Warningf("dashboard: a wrong token at the login form from %s", req.RemoteAddr)
		s.loginForm(w, http.StatusForbidden, "Wrong token: this is not the cluster's token.")
		return
	}
	http.SetCookie(w, tokenCookie(token, 0))
	http.Redirect(w, req, "/", http.StatusSeeOther)
}

// tokenCookie is the cookie that carries the token from the browser: for this site's requests
// only (SameSite=Strict), out of reach of scripts (HttpOnly). maxAge < 0 deletes it.
func tokenCookie(token string, maxAge int) *http.Cookie {
	return &http.Cookie{Name: httpauth.CookieName, Value: token, Path: "/", MaxAge: maxAge, HttpOnly: true,
		SameSite: http.SameSiteStrictMode}
}

func (s *Server) loginForm(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	if err := loginPage.Execute(w, msg); err != nil {
		glog.Warningf("dashboard: the login page: %v", err)
	}
}

// logout forgets the browser's cookie (POST).
func (s *Server) logout(w http.ResponseWriter, req *http.Request) {
	if !allow(w, req, http.MethodPost) {
		return
	}
	http.SetCookie(w, tokenCookie("", -1))
	http.Redirect(w, req, loginPath, http.StatusSeeOther)
}

// static serves the page's script and style.
func (s *Server) static() http.Handler {
	sub, err := fs.Sub(webFiles, "web")
	if err != nil {
		panic(err) // (the files are embedded: only a build without them gets here)
	}
	files := http.StripPrefix(staticPath, http.FileServer(http.FS(sub)))
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if !allow(w, req, http.MethodGet) {
			return
		}
		if strings.HasSuffix(req.URL.Path, "/") {
			http.NotFound(w, req) // (no listings)
			return
		}
		pageHeaders(w)
		files.ServeHTTP(w, req)
	})
}
