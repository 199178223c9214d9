package auth

import (
	"context"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"goray/internal/testutil"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	"google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
)

func TestGenerate(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 8; i++ {
		tok, err := Generate()
		if err != nil {
			t.Fatal(err)
		}
		if len(tok) != 64 {
			t.Fatalf("Generate() = %q: %d chars, want 64", tok, len(tok))
		}
		if _, err := hex.DecodeString(tok); err != nil {
			t.Fatalf("Generate() = %q: not hex: %v", tok, err)
		}
		if !Valid(tok) {
			t.Fatalf("Generate() = %q: not Valid", tok)
		}
		if seen[tok] {
			t.Fatalf("Generate() gave %q twice", tok)
		}
		seen[tok] = true
	}
}

func TestValid(t *testing.T) {
	for _, c := range []struct {
		tok  string
		want bool
	}{
		{"", false},
		{strings.Repeat("a", 15), false},
		{strings.Repeat("a", 16), true},
		{strings.Repeat("~", 1024), true},
		{strings.Repeat("a", 1025), false},
		{"abcdefgh ijklmnop", false},
		{"abcdefgh\tijklmnop", false},
		{"abcdefghijklmnop\n", false},
		{"abcdefghijklmnop\x7f", false},
		{"abcdefghijklmnopé", false},
		{"!#$%&'()*+,-./:;<=>?@[]^_`{|}~", true},
	} {
		if got := Valid(c.tok); got != c.want {
			t.Errorf("Valid(%q) = %v, want %v", c.tok, got, c.want)
		}
	}
}

func mustGenerate(t *testing.T) string {
	t.Helper()
	tok, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestWriteFileReadFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "missing", "dir")
	path := filepath.Join(dir, "token")
	tok := mustGenerate(t)
	if err := WriteFile(path, tok); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Errorf("token file mode %#o, want 0600", perm)
	}
	di, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if perm := di.Mode().Perm(); perm != 0o700 {
		t.Errorf("created directory mode %#o, want 0700", perm)
	}
	got, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got != tok {
		t.Errorf("ReadFile = %q, want %q", got, tok)
	}

	// It replaces an existing file, even one with an open mode, and leaves no temporary file.
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	tok2 := mustGenerate(t)
	if err := WriteFile(path, tok2); err != nil {
		t.Fatal(err)
	}
	if got, err := ReadFile(path); err != nil || got != tok2 {
		t.Errorf("after a second WriteFile: ReadFile = %q, %v; want %q", got, err, tok2)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("directory holds %v, want only the token file", names)
	}

	if err := WriteFile(path, "short"); err == nil {
		t.Error("WriteFile of an invalid token succeeded")
	}
}

func TestReadFileRefuses(t *testing.T) {
	dir := t.TempDir()
	tok := mustGenerate(t)

	open := filepath.Join(dir, "open")
	if err := os.WriteFile(open, []byte(tok), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(open, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := ReadFile(open)
	if err == nil {
		t.Fatal("ReadFile of a 0644 file succeeded")
	}
	if !strings.Contains(err.Error(), open) || !strings.Contains(err.Error(), "0644") {
		t.Errorf("error %q does not name the path and the mode", err)
	}
	if strings.Contains(err.Error(), tok) {
		t.Errorf("error %q shows the token", err)
	}

	for _, content := range []string{"", " \n\t\n"} {
		empty := filepath.Join(dir, "empty")
		if err := os.WriteFile(empty, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := ReadFile(empty); err == nil || !strings.Contains(err.Error(), empty) {
			t.Errorf("ReadFile of a file holding %q: err = %v, want an error naming the path", content, err)
		}
	}

	if _, err := ReadFile(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("ReadFile of a missing file: err = %v, want os.ErrNotExist", err)
	}
	if _, err := ReadFile(dir); err == nil {
		t.Error("ReadFile of a directory succeeded")
	}

	// Whitespace around the token goes.
	padded := filepath.Join(dir, "padded")
	if err := os.WriteFile(padded, []byte("  "+tok+"\n\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got, err := ReadFile(padded); err != nil || got != tok {
		t.Errorf("ReadFile(padded) = %q, %v; want %q", got, err, tok)
	}
}

func TestResolve(t *testing.T) {
	dir := t.TempDir()
	envTok, pathTok, def1Tok, def2Tok := mustGenerate(t), mustGenerate(t), mustGenerate(t), mustGenerate(t)
	write := func(name, tok string) string {
		p := filepath.Join(dir, name)
		if err := WriteFile(p, tok); err != nil {
			t.Fatal(err)
		}
		return p
	}
	pathFile := write("path", pathTok)
	def1 := write("def1", def1Tok)
	def2 := write("def2", def2Tok)
	missing := filepath.Join(dir, "missing")
	open := write("open", mustGenerate(t))
	if err := os.Chmod(open, 0o640); err != nil {
		t.Fatal(err)
	}

	for _, c := range []struct {
		name      string
		env, path string
		defaults  []string
		want      string
		noToken   bool // the error must be ErrNoToken
		wantErr   bool // some other error
	}{
		{name: "env beats path and defaults", env: envTok, path: pathFile, defaults: []string{def1}, want: envTok},
		{name: "env with whitespace", env: " " + envTok + "\n", want: envTok},
		{name: "path beats defaults", path: pathFile, defaults: []string{def1}, want: pathTok},
		{name: "first existing default", defaults: []string{missing, "", def1, def2}, want: def1Tok},
		{name: "second default", defaults: []string{missing, def2}, want: def2Tok},
		{name: "blank env falls through", env: "  ", defaults: []string{def1}, want: def1Tok},
		{name: "nothing", noToken: true},
		{name: "no default exists", defaults: []string{missing}, noToken: true},
		{name: "missing path file", path: missing, defaults: []string{def1}, wantErr: true},
		{name: "open path file", path: open, wantErr: true},
		{name: "open default file", defaults: []string{open, def1}, wantErr: true},
		{name: "invalid env token", env: "short", defaults: []string{def1}, wantErr: true},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv(EnvToken, c.env)
			t.Setenv(EnvTokenPath, c.path)
			got, err := Resolve(c.defaults...)
			switch {
			case c.noToken:
				if !errors.Is(err, ErrNoToken) {
					t.Fatalf("Resolve = %q, %v; want ErrNoToken", got, err)
				}
			case c.wantErr:
				if err == nil || errors.Is(err, ErrNoToken) {
					t.Fatalf("Resolve = %q, %v; want an error other than ErrNoToken", got, err)
				}
				for _, tok := range []string{envTok, pathTok, def1Tok, def2Tok} {
					if strings.Contains(err.Error(), tok) {
						t.Errorf("error %q shows a token", err)
					}
				}
			default:
				if err != nil || got != c.want {
					t.Fatalf("Resolve = %q, %v; want %q", got, err, c.want)
				}
			}
		})
	}
}

func TestResolveNoTokenSaysWhere(t *testing.T) {
	t.Setenv(EnvToken, "")
	t.Setenv(EnvTokenPath, "")
	missing := filepath.Join(t.TempDir(), "nope")
	_, err := Resolve(missing)
	if !errors.Is(err, ErrNoToken) {
		t.Fatalf("err = %v, want ErrNoToken", err)
	}
	for _, s := range []string{EnvToken, EnvTokenPath, missing} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not mention %s", err, s)
		}
	}
}

// echoDesc is a second, non-exempt service with one unary method, built by hand so the test needs
// no generated code: Echo answers SERVING to anything.
var echoDesc = grpc.ServiceDesc{
	ServiceName: "goray.test.Echo",
	HandlerType: (*interface{})(nil),
	Methods: []grpc.MethodDesc{{
		MethodName: "Echo",
		Handler: func(srv interface{}, ctx context.Context, dec func(interface{}) error, interceptor grpc.UnaryServerInterceptor) (interface{}, error) {
			in := new(grpc_health_v1.HealthCheckRequest)
			if err := dec(in); err != nil {
				return nil, err
			}
			h := func(ctx context.Context, req interface{}) (interface{}, error) {
				return &grpc_health_v1.HealthCheckResponse{Status: grpc_health_v1.HealthCheckResponse_SERVING}, nil
			}
			if interceptor == nil {
				return h(ctx, in)
			}
			return interceptor(ctx, in, &grpc.UnaryServerInfo{Server: srv, FullMethod: "/goray.test.Echo/Echo"}, h)
		},
	}},
}

// serve starts a server with ServerOptions(token) on 127.0.0.1 and returns its address.
func serve(t *testing.T, token string) string {
	t.Helper()
	opts, err := ServerOptions(token)
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer(opts...)
	grpc_health_v1.RegisterHealthServer(s, health.NewServer())
	s.RegisterService(&echoDesc, struct{}{})
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.Serve(lis)
	}()
	t.Cleanup(func() {
		s.Stop()
		<-done
	})
	return lis.Addr().String()
}

func dial(t *testing.T, addr string, opts ...grpc.DialOption) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.Dial(addr, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// calls makes the three kinds of call and returns their errors.
func calls(t *testing.T, conn *grpc.ClientConn) (check, echo, watch error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	hc := grpc_health_v1.NewHealthClient(conn)
	_, check = hc.Check(ctx, &grpc_health_v1.HealthCheckRequest{})
	echo = conn.Invoke(ctx, "/goray.test.Echo/Echo", &grpc_health_v1.HealthCheckRequest{}, &grpc_health_v1.HealthCheckResponse{})
	stream, err := hc.Watch(ctx, &grpc_health_v1.HealthCheckRequest{})
	if err != nil {
		return check, echo, err
	}
	resp, err := stream.Recv()
	if err == nil && resp.Status != grpc_health_v1.HealthCheckResponse_SERVING {
		err = fmt.Errorf("watch status %v, want SERVING", resp.Status)
	}
	return check, echo, err
}

func wantCode(t *testing.T, what string, err error, want codes.Code) {
	t.Helper()
	if got := status.Code(err); got != want {
		t.Errorf("%s: %v (code %v), want code %v", what, err, got, want)
	}
}

func clearEnv(t *testing.T) {
	for _, name := range []string{EnvToken, EnvTokenPath, EnvUseTLS, EnvTLSServerCert, EnvTLSServerKey, EnvTLSCACert} {
		t.Setenv(name, "")
	}
}

func TestServer(t *testing.T) {
	clearEnv(t)
	tok := mustGenerate(t)
	addr := serve(t, tok)

	right, err := DialOptions(tok)
	if err != nil {
		t.Fatal(err)
	}
	wrong, err := DialOptions(mustGenerate(t))
	if err != nil {
		t.Fatal(err)
	}
	insecureOnly := grpc.WithTransportCredentials(insecure.NewCredentials())

	for _, c := range []struct {
		name string
		opts []grpc.DialOption
		want codes.Code // of Echo and Watch; Check always succeeds
	}{
		{"right token", right, codes.OK},
		{"no token", []grpc.DialOption{insecureOnly}, codes.Unauthenticated},
		{"wrong token", wrong, codes.PermissionDenied},
		{"malformed header", []grpc.DialOption{insecureOnly, grpc.WithPerRPCCredentials(rawCreds("Basic " + tok))}, codes.Unauthenticated},
		{"empty bearer", []grpc.DialOption{insecureOnly, grpc.WithPerRPCCredentials(rawCreds("Bearer "))}, codes.Unauthenticated},
		{"lower-case scheme", []grpc.DialOption{insecureOnly, grpc.WithPerRPCCredentials(rawCreds("bearer " + tok))}, codes.OK},
	} {
		t.Run(c.name, func(t *testing.T) {
			check, echo, watch := calls(t, dial(t, addr, c.opts...))
			wantCode(t, "Check", check, codes.OK)
			wantCode(t, "Echo (unary)", echo, c.want)
			wantCode(t, "Watch (stream)", watch, c.want)
			for _, err := range []error{echo, watch} {
				if err != nil && strings.Contains(err.Error(), tok) {
					t.Errorf("error %q shows the token", err)
				}
			}
		})
	}
}

// rawCreds sends its value as the authorization metadata as it is.
type rawCreds string

func (c rawCreds) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": string(c)}, nil
}

func (rawCreds) RequireTransportSecurity() bool { return false }

func TestOptionsRefuseInvalidToken(t *testing.T) {
	clearEnv(t)
	if _, err := ServerOptions(""); err == nil {
		t.Error("ServerOptions(\"\") succeeded")
	}
	if _, err := DialOptions("short"); err == nil {
		t.Error("DialOptions(\"short\") succeeded")
	}
}

func TestTokenCredsHideToken(t *testing.T) {
	tok := mustGenerate(t)
	c := tokenCreds{token: tok}
	for _, s := range []string{fmt.Sprint(c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c)} {
		if strings.Contains(s, tok) {
			t.Errorf("formatting shows the token: %s", s)
		}
	}
}

func setTLSEnv(t *testing.T, cert, key, ca string) {
	t.Setenv(EnvUseTLS, "1")
	t.Setenv(EnvTLSServerCert, cert)
	t.Setenv(EnvTLSServerKey, key)
	t.Setenv(EnvTLSCACert, ca)
}

func TestTLS(t *testing.T) {
	clearEnv(t)
	dir := t.TempDir()
	cert, key, ca := testutil.WriteCerts(t, dir, "cluster", "127.0.0.1")
	setTLSEnv(t, cert, key, ca)
	tok := mustGenerate(t)
	addr := serve(t, tok)

	right, err := DialOptions(tok)
	if err != nil {
		t.Fatal(err)
	}
	check, echo, watch := calls(t, dial(t, addr, right...))
	wantCode(t, "TLS client with token: Check", check, codes.OK)
	wantCode(t, "TLS client with token: Echo", echo, codes.OK)
	wantCode(t, "TLS client with token: Watch", watch, codes.OK)

	// TLS but no token: the token is still required.
	_, client, err := TLSFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	_, echo, _ = calls(t, dial(t, addr, grpc.WithTransportCredentials(credentials.NewTLS(client))))
	wantCode(t, "TLS client without token: Echo", echo, codes.Unauthenticated)

	tokenOnly := grpc.WithPerRPCCredentials(tokenCreds{token: tok})

	// A plain client cannot talk to a TLS server, token or not.
	check, echo, _ = calls(t, dial(t, addr, tokenOnly, grpc.WithTransportCredentials(insecure.NewCredentials())))
	wantCode(t, "insecure client: Check", check, codes.Unavailable)
	wantCode(t, "insecure client: Echo", echo, codes.Unavailable)

	// Mutual TLS: a client that trusts the CA but shows no certificate is refused.
	noCert := client.Clone()
	noCert.Certificates = nil
	check, _, _ = calls(t, dial(t, addr, tokenOnly, grpc.WithTransportCredentials(credentials.NewTLS(noCert))))
	wantCode(t, "TLS client without a certificate: Check", check, codes.Unavailable)

	// A client of another cluster (another CA) is refused, and does not trust this server either.
	otherCert, otherKey, otherCA := testutil.WriteCerts(t, dir, "other", "127.0.0.1")
	setTLSEnv(t, otherCert, otherKey, otherCA)
	other, err := DialOptions(tok)
	if err != nil {
		t.Fatal(err)
	}
	check, _, _ = calls(t, dial(t, addr, other...))
	wantCode(t, "client of another CA: Check", check, codes.Unavailable)
}

func TestTLSFromEnv(t *testing.T) {
	clearEnv(t)
	dir := t.TempDir()
	cert, key, ca := testutil.WriteCerts(t, dir, "cluster", "127.0.0.1")

	for _, v := range []string{"", "0", "false", "FALSE", "False"} {
		t.Setenv(EnvUseTLS, v)
		s, c, err := TLSFromEnv()
		if s != nil || c != nil || err != nil {
			t.Errorf("%s=%q: TLSFromEnv = %v, %v, %v; want nil, nil, nil", EnvUseTLS, v, s, c, err)
		}
	}
	// Off means off even with the files set.
	t.Setenv(EnvTLSServerCert, cert)
	if s, c, err := TLSFromEnv(); s != nil || c != nil || err != nil {
		t.Errorf("TLS off with a cert set: TLSFromEnv = %v, %v, %v; want nil, nil, nil", s, c, err)
	}

	for _, v := range []string{"1", "true", "TRUE", "True"} {
		setTLSEnv(t, cert, key, ca)
		t.Setenv(EnvUseTLS, v)
		s, c, err := TLSFromEnv()
		if err != nil {
			t.Fatalf("%s=%q: %v", EnvUseTLS, v, err)
		}
		if s == nil || c == nil {
			t.Fatalf("%s=%q: nil config", EnvUseTLS, v)
		}
		if s.ClientAuth != tls.RequireAndVerifyClientCert || s.ClientCAs == nil || len(s.Certificates) != 1 || s.MinVersion != tls.VersionTLS12 {
			t.Errorf("server config %+v: want mutual TLS 1.2+", s)
		}
		if c.RootCAs == nil || len(c.Certificates) != 1 || c.ServerName != "" || c.MinVersion != tls.VersionTLS12 {
			t.Errorf("client config %+v: want a client cert, the CA and no ServerName", c)
		}
	}

	t.Setenv(EnvUseTLS, "maybe")
	if _, _, err := TLSFromEnv(); err == nil || !strings.Contains(err.Error(), EnvUseTLS) {
		t.Errorf("%s=maybe: err = %v, want an error naming %s", EnvUseTLS, err, EnvUseTLS)
	}

	notPEM := filepath.Join(dir, "not.pem")
	if err := os.WriteFile(notPEM, []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.pem")
	for _, c := range []struct {
		name, variable, value string
		mention               []string
	}{
		{"no CA", EnvTLSCACert, "", []string{EnvTLSCACert}},
		{"no cert", EnvTLSServerCert, "", []string{EnvTLSServerCert}},
		{"no key", EnvTLSServerKey, "", []string{EnvTLSServerKey}},
		{"missing CA file", EnvTLSCACert, missing, []string{EnvTLSCACert, missing}},
		{"CA not PEM", EnvTLSCACert, notPEM, []string{EnvTLSCACert, notPEM}},
		{"missing cert file", EnvTLSServerCert, missing, []string{EnvTLSServerCert, missing}},
		{"key not PEM", EnvTLSServerKey, notPEM, []string{EnvTLSServerKey, notPEM}},
	} {
		t.Run(c.name, func(t *testing.T) {
			setTLSEnv(t, cert, key, ca)
			t.Setenv(c.variable, c.value)
			s, cl, err := TLSFromEnv()
			if err == nil {
				t.Fatalf("TLSFromEnv = %v, %v, nil; want an error", s, cl)
			}
			for _, m := range c.mention {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("error %q does not mention %s", err, m)
				}
			}
			if _, err := ServerOptions(mustGenerate(t)); err == nil {
				t.Error("ServerOptions succeeded with bad TLS settings")
			}
			if _, err := DialOptions(mustGenerate(t)); err == nil {
				t.Error("DialOptions succeeded with bad TLS settings")
			}
		})
	}
}
