package rustlshttp

import (
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"testing"

	"github.com/gorustls/gorustls/rustls"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// stateHandler answers with the TLS state the request carries.
var stateHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	if r.TLS == nil {
		fmt.Fprint(w, "no TLS state")
		return
	}
	fmt.Fprintf(w, "%s complete=%v version=%x suite=%v alpn=%q sni=%s",
		r.Proto, r.TLS.HandshakeComplete, r.TLS.Version, r.TLS.CipherSuite != 0, r.TLS.NegotiatedProtocol, r.TLS.ServerName)
})

// rustlshttp.Server handshakes each connection before net/http sees it, so
// Request.TLS is complete on HTTP/1.1 and on h2, whatever the TLS version.
func TestServerRequestTLSFilled(t *testing.T) {
	p := newPKI(t)
	_, url := startServer(t, &Server{Config: p.serverConfig(t, "h2", "http/1.1"), Handler: stateHandler})
	for _, tc := range []struct {
		name   string
		protos []string
		max    uint16
		want   string
	}{
		{"h2 TLS 1.3", []string{"h2"}, tls.VersionTLS13, `HTTP/2.0 complete=true version=304 suite=true alpn="h2" sni=localhost`},
		{"h2 TLS 1.2", []string{"h2"}, tls.VersionTLS12, `HTTP/2.0 complete=true version=303 suite=true alpn="h2" sni=localhost`},
		{"HTTP/1.1 TLS 1.3", []string{"http/1.1"}, tls.VersionTLS13, `HTTP/1.1 complete=true version=304 suite=true alpn="http/1.1" sni=localhost`},
		{"HTTP/1.1 TLS 1.2", []string{"http/1.1"}, tls.VersionTLS12, `HTTP/1.1 complete=true version=303 suite=true alpn="http/1.1" sni=localhost`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &http.Client{Transport: &http.Transport{ForceAttemptHTTP2: tc.protos[0] == "h2",
				TLSClientConfig: &tls.Config{RootCAs: p.pool, MaxVersion: tc.max, NextProtos: tc.protos}}}
			defer c.CloseIdleConnections()
			_, body := get(t, c, url, "")
			assert.Equal(t, tc.want, body)
		})
	}
}

// A plain http.Server reads a connection's state once, before its first
// Read: over a rustls.LazyListener (connections handshaken before Accept)
// Request.TLS is complete; over a rustls.Listener (handshake on first
// Read) it is the state before the handshake, HandshakeComplete false, as
// documented on rustls.Listener.
func TestPlainHTTPServerOverRustlsListeners(t *testing.T) {
	p := newPKI(t)
	cfg := p.serverConfig(t, "http/1.1")
	serve := func(t *testing.T, ln net.Listener) string {
		srv := &http.Server{Handler: stateHandler, ErrorLog: log.New(io.Discard, "", 0)}
		go func() { _ = srv.Serve(ln) }()
		t.Cleanup(func() { srv.Close() })
		_, port, _ := net.SplitHostPort(ln.Addr().String())
		c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: p.pool, NextProtos: []string{"http/1.1"}}}}
		defer c.CloseIdleConnections()
		_, body := get(t, c, "https://localhost:"+port+"/", "")
		return body
	}
	t.Run("LazyListener", func(t *testing.T) {
		inner, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		la := &rustls.LazyAcceptor{Choose: func(*rustls.ClientHello) (*rustls.ServerConfig, error) { return cfg, nil }}
		assert.Equal(t, `HTTP/1.1 complete=true version=304 suite=true alpn="http/1.1" sni=localhost`, serve(t, rustls.NewLazyListener(inner, la)))
	})
	t.Run("Listener", func(t *testing.T) {
		inner, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		assert.Equal(t, `HTTP/1.1 complete=true version=304 suite=true alpn="http/1.1" sni=localhost`, serve(t, rustls.NewListener(inner, cfg, rustls.StreamOptions{})))
	})
}
