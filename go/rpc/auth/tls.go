package auth

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"strings"
)

// EnvUseTLS is the environment variable that turns TLS on: "1" or "true" (any case) for on; unset,
// "", "0" or "false" for off.
const EnvUseTLS = "RAY_USE_TLS"

// EnvTLSServerCert is the environment variable that names the PEM certificate (chain) that servers
// and clients present. It must be good for both server and client authentication (extended key
// usages serverAuth and clientAuth, or none), and its SANs must name the addresses clients dial
// (for example IP 127.0.0.1 or "localhost").
const EnvTLSServerCert = "RAY_TLS_SERVER_CERT"

// EnvTLSServerKey is the environment variable that names the PEM private key of EnvTLSServerCert.
const EnvTLSServerKey = "RAY_TLS_SERVER_KEY"

// EnvTLSCACert is the environment variable that names the PEM CA certificates that peers'
// certificates are verified against, on both sides.
const EnvTLSCACert = "RAY_TLS_CA_CERT"

// TLSFromEnv reads the TLS settings from the environment. RAY_USE_TLS "1" or "true" (any case)
// turns TLS on; unset, "", "0" or "false" leave it off, and it returns nil configs; anything else
// is an error. When it is on, RAY_TLS_SERVER_CERT, RAY_TLS_SERVER_KEY and RAY_TLS_CA_CERT must all
// name loadable PEM files, and it returns mutual TLS configs: server presents the certificate and
// requires and verifies a client certificate against the CA; client presents the same certificate
// and verifies the server against the CA. Both need at least TLS 1.2. client leaves ServerName
// empty: gRPC sets it from the dial target's host, so a certificate whose SANs hold IP 127.0.0.1
// verifies when dialing 127.0.0.1:port, and one with DNS name "localhost" when dialing
// localhost:port.
func TLSFromEnv() (server *tls.Config, client *tls.Config, err error) {
	v := os.Getenv(EnvUseTLS)
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "", "0", "false":
		return nil, nil, nil
	case "1", "true":
	default:
		return nil, nil, fmt.Errorf("%s=%q: want 1 or true to turn TLS on, or 0, false or nothing to leave it off", EnvUseTLS, v)
	}
	paths := map[string]string{}
	for _, name := range []string{EnvTLSServerCert, EnvTLSServerKey, EnvTLSCACert} {
		p := os.Getenv(name)
		if p == "" {
			return nil, nil, fmt.Errorf("%s is on but %s is unset: it must name a PEM file", EnvUseTLS, name)
		}
		paths[name] = p
	}
	certPath, keyPath, caPath := paths[EnvTLSServerCert], paths[EnvTLSServerKey], paths[EnvTLSCACert]
	cert, err := tls.LoadX509KeyPair(certPath, keyPath)
	if err != nil {
		return nil, nil, fmt.Errorf("loading the TLS certificate %s=%s with key %s=%s: %w", EnvTLSServerCert, certPath, EnvTLSServerKey, keyPath, err)
	}
	caPEM, err := os.ReadFile(caPath)
	if err != nil {
		return nil, nil, fmt.Errorf("loading the TLS CA certificate %s=%s: %w", EnvTLSCACert, caPath, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, nil, fmt.Errorf("loading the TLS CA certificate %s=%s: no PEM certificate in it", EnvTLSCACert, caPath)
	}
	server = &tls.Config{
		Certificates: []tls.Certificate{cert},
		ClientCAs:    pool,
		ClientAuth:   tls.RequireAndVerifyClientCert,
		MinVersion:   tls.VersionTLS12,
	}
	client = &tls.Config{
		Certificates: []tls.Certificate{cert},
		RootCAs:      pool,
		MinVersion:   tls.VersionTLS12,
	}
	return server, client, nil
}
