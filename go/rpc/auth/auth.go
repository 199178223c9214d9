// Package auth closes goray's gRPC services to callers that do not hold the cluster's token, the
// way Ray's token auth mode does (Ray 2.52+): a client presents the token as the gRPC metadata
// "authorization: Bearer <token>", and a server refuses and logs any call without it. The token
// comes from the RAY_AUTH_TOKEN environment variable, else from the file named by
// RAY_AUTH_TOKEN_PATH, else from a default file (see Resolve). When RAY_USE_TLS is on, the
// connections are mutual TLS as well (see TLSFromEnv).
package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/golang/glog"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
)

// EnvToken is the environment variable that holds the token itself. It wins over EnvTokenPath
// and the default files.
const EnvToken = "RAY_AUTH_TOKEN"

// EnvTokenPath is the environment variable that names a file holding the token. It is read when
// EnvToken is unset or empty.
const EnvTokenPath = "RAY_AUTH_TOKEN_PATH"

// ErrNoToken is the error (wrapped) that Resolve returns when it finds no token anywhere.
var ErrNoToken = errors.New("no auth token found")

const (
	// metadataKey is the gRPC metadata key that carries the token (gRPC keys are lower case).
	metadataKey = "authorization"
	// bearer is the authorization scheme, followed by one space and the token.
	bearer = "Bearer"
	// healthCheckMethod is the one method that callers may use without a token, so that load
	// balancers and probes can tell whether a server is up.
	healthCheckMethod = "/grpc.health.v1.Health/Check"
	// maxFileSize bounds what ReadFile reads: a token is at most 1024 bytes.
	maxFileSize = 64 << 10
	// minLen and maxLen bound a valid token's length.
	minLen, maxLen = 16, 1024
)

// Generate returns a new random token: 32 bytes from crypto/rand, hex encoded (64 characters).
func Generate() (string, error) {
	b := make([]byte, 32)
	if _, err := io.ReadFull(rand.Reader, b); err != nil {
		return "", fmt.Errorf("generating an auth token: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// Valid reports whether token is well-formed: 16 to 1024 printable ASCII characters, none of them
// a space.
func Valid(token string) bool {
	if len(token) < minLen || len(token) > maxLen {
		return false
	}
	for i := 0; i < len(token); i++ {
		if c := token[i]; c <= ' ' || c > '~' {
			return false
		}
	}
	return true
}

// errInvalid says why a token from source is refused, without showing the token.
func errInvalid(source string) error {
	return fmt.Errorf("the auth token in %s is not valid: want %d to %d printable ASCII characters without spaces", source, minLen, maxLen)
}

// WriteFile writes token (and a newline) to path with mode 0600, creating the parent directory
// with mode 0700 if it is missing. It writes a temporary file in the same directory and renames it
// over path, so a reader sees the old file or the new one, never a part; an existing file is
// replaced. It refuses a token that is not Valid.
func WriteFile(path, token string) (err error) {
	if !Valid(token) {
		return fmt.Errorf("writing %s: %w", path, errInvalid("the argument"))
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("writing the auth token file %s: %w", path, err)
	}
	// CreateTemp makes the file with mode 0600 whatever the umask.
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("writing the auth token file %s: %w", path, err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err := f.Chmod(0o600); err != nil {
		return fmt.Errorf("writing the auth token file %s: %w", path, err)
	}
	if _, err := f.WriteString(token + "\n"); err != nil {
		return fmt.Errorf("writing the auth token file %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("writing the auth token file %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing the auth token file %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("writing the auth token file %s: %w", path, err)
	}
	// Make the rename itself durable; a failure here does not undo the write.
	if d, err := os.Open(dir); err == nil {
		if err := d.Sync(); err != nil {
			glog.Warningf("auth: syncing directory %s after writing %s: %v", dir, path, err)
		}
		d.Close()
	}
	return nil
}

// ReadFile reads the token in the file path, without surrounding whitespace. It refuses a file
// that group or others may use (any of the mode bits 0o077 set), a file that is not a regular
// file, and a file with no token in it; its errors name the path (and the mode) but never show
// what the file holds.
func ReadFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("reading the auth token file: %w", err)
	}
	defer f.Close()
	// Stat the file that is open, not the path, so the checks are about what is read.
	fi, err := f.Stat()
	if err != nil {
		return "", fmt.Errorf("reading the auth token file %s: %w", path, err)
	}
	if !fi.Mode().IsRegular() {
		return "", fmt.Errorf("the auth token file %s is not a regular file (mode %v)", path, fi.Mode())
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return "", fmt.Errorf("the auth token file %s has mode %#o: group or others may read it; run chmod 600 %s", path, perm, path)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return "", fmt.Errorf("reading the auth token file %s: %w", path, err)
	}
	if len(b) > maxFileSize {
		return "", fmt.Errorf("the auth token file %s is larger than %d bytes: not a token file", path, maxFileSize)
	}
	token := strings.TrimSpace(string(b))
	if token == "" {
		return "", fmt.Errorf("the auth token file %s is empty", path)
	}
	return token, nil
}

// Resolve finds the token a client presents and a server expects. It takes, in this order:
//   - the value of RAY_AUTH_TOKEN, if it is set and not empty (surrounding whitespace removed);
//   - else the file named by RAY_AUTH_TOKEN_PATH, if that is set and not empty: an error if the
//     file cannot be read (see ReadFile);
//   - else the first of defaults that exists (empty strings skipped): an error if it exists but
//     is refused by ReadFile;
//   - else an error wrapping ErrNoToken that says where it looked.
//
// The token it finds must be Valid, or it returns an error naming where the token came from.
func Resolve(defaults ...string) (string, error) {
	if v := strings.TrimSpace(os.Getenv(EnvToken)); v != "" {
		if !Valid(v) {
			return "", errInvalid(EnvToken)
		}
		return v, nil
	}
	if p := os.Getenv(EnvTokenPath); p != "" {
		token, err := ReadFile(p)
		if err != nil {
			return "", fmt.Errorf("%s=%s: %w", EnvTokenPath, p, err)
		}
		if !Valid(token) {
			return "", errInvalid(fmt.Sprintf("%s (from %s)", p, EnvTokenPath))
		}
		return token, nil
	}
	var looked []string
	for _, p := range defaults {
		if p == "" {
			continue
		}
		looked = append(looked, p)
		if _, err := os.Stat(p); err != nil {
			if errors.Is(err, os.ErrNotExist) {
				continue
			}
			return "", fmt.Errorf("looking for the auth token file: %w", err)
		}
		token, err := ReadFile(p)
		if err != nil {
			return "", err
		}
		if !Valid(token) {
			return "", errInvalid(p)
		}
		return token, nil
	}
	where := "no default file was given"
	if len(looked) > 0 {
		where = "none of " + strings.Join(looked, ", ") + " exists"
	}
	return "", fmt.Errorf("%w: %s is unset or empty, %s is unset, and %s", ErrNoToken, EnvToken, EnvTokenPath, where)
}

// ServerOptions returns the grpc.ServerOptions that close a server to callers without token: every
// unary and stream call must carry the metadata "authorization: Bearer <token>". A call without
// it, or with a malformed one, fails with codes.Unauthenticated; a call with another token fails
// with codes.PermissionDenied; each refusal is logged with the method and the peer's address
// (never the token presented). The gRPC health check "/grpc.health.v1.Health/Check" needs no
// token. The interceptors are added with grpc.ChainUnaryInterceptor and
// grpc.ChainStreamInterceptor, so the caller may chain more. When TLSFromEnv says TLS is on, the
// options also hold grpc.Creds with its server config (mutual TLS). It refuses a token that is
// not Valid, and returns TLSFromEnv's error.
func ServerOptions(token string) ([]grpc.ServerOption, error) {
	if !Valid(token) {
		return nil, fmt.Errorf("auth server options: %w", errInvalid("the argument"))
	}
	a := &authorizer{want: sha256.Sum256([]byte(token))}
	opts := []grpc.ServerOption{
		grpc.ChainUnaryInterceptor(a.unary),
		grpc.ChainStreamInterceptor(a.stream),
	}
	server, _, err := TLSFromEnv()
	if err != nil {
		return nil, err
	}
	if server != nil {
		opts = append(opts, grpc.Creds(credentials.NewTLS(server)))
	}
	return opts, nil
}

// authorizer checks the token of incoming calls. It keeps only the token's digest, so that the
// comparison takes the same time whatever the presented token's length.
type authorizer struct {
	want [sha256.Size]byte
}

func (a *authorizer) unary(ctx context.Context, req interface{}, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (interface{}, error) {
	if err := a.check(ctx, info.FullMethod); err != nil {
		return nil, err
	}
	return handler(ctx, req)
}

func (a *authorizer) stream(srv interface{}, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	if err := a.check(ss.Context(), info.FullMethod); err != nil {
		return err
	}
	return handler(srv, ss)
}

// check returns nil if the call of method in ctx may go on, else a status error (and logs it).
func (a *authorizer) check(ctx context.Context, method string) error {
	if method == healthCheckMethod {
		return nil
	}
	presented, why := bearerToken(ctx)
	if why != "" {
		glog.Warningf("auth: refused a call of %s from %s: %s", method, peerAddr(ctx), why)
		return status.Errorf(codes.Unauthenticated, "%s: this cluster requires an auth token (set %s or %s)", why, EnvToken, EnvTokenPath)
	}
	got := sha256.Sum256([]byte(presented))
	if subtle.ConstantTimeCompare(got[:], a.want[:]) != 1 {
		glog.Warningf("auth: refused a call of %s from %s: wrong auth token", method, peerAddr(ctx))
		return status.Error(codes.PermissionDenied, "wrong auth token")
	}
	return nil
}

// bearerToken returns the token in ctx's "authorization: Bearer <token>" metadata, or why there is
// none (words safe to log: they never hold the token).
func bearerToken(ctx context.Context) (token, why string) {
	md, ok := metadata.FromIncomingContext(ctx)
	if !ok {
		return "", "no metadata"
	}
	vals := md.Get(metadataKey)
	switch {
	case len(vals) == 0:
		return "", "no authorization metadata"
	case len(vals) > 1:
		return "", fmt.Sprintf("%d authorization metadata values, want one", len(vals))
	}
	scheme, token, found := strings.Cut(vals[0], " ")
	// The scheme is case-insensitive (RFC 7235).
	if !found || !strings.EqualFold(scheme, bearer) {
		return "", "authorization metadata is not \"Bearer <token>\""
	}
	if token == "" {
		return "", "empty bearer token"
	}
	return token, ""
}

// peerAddr returns the address of the caller in ctx, for logs.
func peerAddr(ctx context.Context) string {
	p, ok := peer.FromContext(ctx)
	if !ok || p.Addr == nil {
		return "an unknown peer"
	}
	if s := p.Addr.String(); s != "" {
		return s
	}
	// A unix socket client has no address of its own.
	return p.Addr.Network() + " peer"
}

// DialOptions returns the grpc.DialOptions of a client of a server made with ServerOptions: a
// credentials.PerRPCCredentials that puts "authorization: Bearer <token>" on every call (it does
// not require transport security, so it works over insecure loopback and unix sockets too), and
// the transport credentials: TLS with TLSFromEnv's client config when TLS is on, else insecure.
// It refuses a token that is not Valid, and returns TLSFromEnv's error.
func DialOptions(token string) ([]grpc.DialOption, error) {
	if !Valid(token) {
		return nil, fmt.Errorf("auth dial options: %w", errInvalid("the argument"))
	}
	_, client, err := TLSFromEnv()
	if err != nil {
		return nil, err
	}
	transport := insecure.NewCredentials()
	if client != nil {
		transport = credentials.NewTLS(client)
	}
	return []grpc.DialOption{
		grpc.WithPerRPCCredentials(tokenCreds{token: token}),
		grpc.WithTransportCredentials(transport),
	}, nil
}

// tokenCreds puts the token on each call.
type tokenCreds struct {
	token string
}

// GetRequestMetadata returns the authorization metadata.
func (c tokenCreds) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{metadataKey: bearer + " " + c.token}, nil
}

// RequireTransportSecurity is false: goray also talks over loopback and unix sockets without TLS.
func (tokenCreds) RequireTransportSecurity() bool { return false }

// String hides the token from %v and %+v.
func (tokenCreds) String() string { return "auth.tokenCreds{token: <redacted>}" }

// GoString hides the token from %#v.
func (c tokenCreds) GoString() string { return c.String() }
