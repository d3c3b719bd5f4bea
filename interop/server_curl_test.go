package interop

import (
	"testing"

	"github.com/gorustls/gorustls/rustls"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// curlGet fetches https://localhost:port/ from a gorustls server.
func curlGet(t testing.TB, port int, args ...string) *peer {
	t.Helper()
	base := []string{"curl", "-sS", "--max-time", "15", "--cacert", pk.ca.file,
		"--resolve", "localhost:" + itoa(port) + ":127.0.0.1", "-w", "\nhttp_version=%{http_version}\n"}
	base = append(base, args...)
	return startPeer(t, peerSpec{args: append(base, "https://localhost:"+itoa(port)+"/"), dir: pk.dir})
}

func TestServerCurl(t *testing.T) {
	const peerName, role = "curl", "server"
	h2cfg := func(t *testing.T, mod func(*rustls.ServerOptions)) *rustls.ServerConfig {
		return serverCfg(t, "p256", func(o *rustls.ServerOptions) {
			o.NextProtos = []string{"h2", "http/1.1"}
			if mod != nil {
				mod(o)
			}
		})
	}
	for _, c := range []struct {
		name, alpn, proto string
		args              []string
	}{
		{"HTTP/2 (ALPN h2)", "h2", "HTTP/2.0", []string{"--http2"}},
		{"HTTP/1.1 (ALPN http/1.1)", "http/1.1", "HTTP/1.1", []string{"--http1.1"}},
		{"HTTP/1.1 without ALPN", "", "HTTP/1.1", []string{"--http1.1", "--no-alpn"}},
		{"TLS 1.2 HTTP/2", "h2", "HTTP/2.0", []string{"--http2", "--tlsv1.2", "--tls-max", "1.2"}},
		{"TLS 1.3 ChaCha20 HTTP/1.1", "http/1.1", "HTTP/1.1", []string{"--http1.1", "--tlsv1.3", "--tls13-ciphers", "TLS_CHACHA20_POLY1305_SHA256"}},
	} {
		cell(t, peerName, role, c.name, func(t *testing.T) {
			srv := startServer(t, acceptWith(h2cfg(t, nil)), serveHTTP)
			p := curlGet(t, srv.port, c.args...)
			p.requireExit(true)
			assert.Contains(t, p.out.String(), "hello from gorustls over "+c.proto)
			r := srv.next(t)
			require.NoError(t, r.err)
			assert.Equal(t, c.alpn, r.state.NegotiatedProtocol)
		})
	}
	cell(t, peerName, role, "mTLS required, certificate given (HTTP/2)", func(t *testing.T) {
		cfg := h2cfg(t, func(o *rustls.ServerOptions) {
			o.ClientAuth, o.ClientCAs = rustls.RequireAndVerifyClientCert, pk.ca.pem
		})
		srv := startServer(t, acceptWith(cfg), serveHTTP)
		p := curlGet(t, srv.port, "--http2", "--cert", pk.client.certFile, "--key", pk.client.keyFile)
		p.requireExit(true)
		assert.Contains(t, p.out.String(), "hello from gorustls over HTTP/2.0")
		r := srv.next(t)
		require.NoError(t, r.err)
		assert.NotEmpty(t, r.state.PeerCertificates)
	})
	cell(t, peerName, role, "mTLS required, no certificate -> refused", func(t *testing.T) {
		cfg := h2cfg(t, func(o *rustls.ServerOptions) {
			o.ClientAuth, o.ClientCAs = rustls.RequireAndVerifyClientCert, pk.ca.pem
		})
		srv := startServer(t, acceptWith(cfg), serveHTTP)
		p := curlGet(t, srv.port, "--http2")
		p.requireExit(false)
		requireCode(t, srv.next(t).err, rustls.CodeNoCertificatesPresented)
	})
	cell(t, peerName, role, "plaintext HTTP client -> protocol error", func(t *testing.T) {
		srv := startServer(t, acceptWith(h2cfg(t, nil)), serveHTTP)
		p := startPeer(t, peerSpec{args: []string{"curl", "-sS", "--max-time", "15", "http://127.0.0.1:" + itoa(srv.port) + "/"}})
		p.requireExit(false)
		e := requireCode(t, srv.next(t).err, rustls.CodeMessageInvalidContentType, rustls.CodePeerMisbehaved, rustls.CodeInappropriateMessage, 7136)
		assert.ErrorIs(t, e, rustls.ErrProtocol)
	})
}
