package interop

import (
	"io"
	"testing"

	"github.com/gorustls/gorustls/rustls"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// gnutlsEcho runs one echo exchange between gnutls-cli and a gorustls
// server; the server closes with close_notify.
func gnutlsEcho(t *testing.T, cfg *rustls.ServerConfig, name, prio string, want []string, extra ...string) connResult {
	srv := startServer(t, acceptWith(cfg), echoLines)
	if cfg == nil {
		srv = startServer(t, sniAcceptor(t).Accept, echoLines)
	}
	p := gnutlsCli(t, srv.port, name, prio, extra...)
	p.send("hello interop\nbye\n")
	p.requireOut(append([]string{"hello interop\nbye\n", "Peer has closed the GnuTLS connection"}, want...)...)
	p.requireExit(true)
	r := srv.next(t)
	require.NoError(t, r.err)
	require.Equal(t, io.EOF, r.end)
	return r
}

func TestServerGnuTLS(t *testing.T) {
	const peerName, role = "gnutls-cli", "server"
	for _, c := range []struct {
		v, prio string
		kts     []string
	}{
		{"1.2", prioTLS12, []string{"p256", "rsa2048", "ed25519"}},
		{"1.3", prioTLS13, []string{"p256", "p384", "rsa4096", "ed25519"}},
	} {
		for _, kt := range c.kts {
			cell(t, peerName, role, "TLS "+c.v+" "+kt+" certificate", func(t *testing.T) {
				gnutlsEcho(t, serverCfg(t, kt, nil), "", c.prio, []string{"(TLS" + c.v + "-X.509)"})
			})
		}
	}
	cell(t, peerName, role, "TLS 1.3 suite CHACHA20-POLY1305", func(t *testing.T) {
		r := gnutlsEcho(t, serverCfg(t, "p256", nil), "", prioChaCha13, []string{"(CHACHA20-POLY1305)"})
		assert.Equal(t, uint16(0x1303), r.state.CipherSuite)
	})
	cell(t, peerName, role, "TLS 1.2 suite ECDHE-ECDSA-CHACHA20-POLY1305", func(t *testing.T) {
		r := gnutlsEcho(t, serverCfg(t, "p256", nil), "", prioChaCha12, []string{"(CHACHA20-POLY1305)"})
		assert.Equal(t, uint16(0xcca9), r.state.CipherSuite)
	})
	cell(t, peerName, role, "TLS 1.3 suite AES-128-GCM", func(t *testing.T) {
		r := gnutlsEcho(t, serverCfg(t, "p256", nil), "", prioAES12813, []string{"(AES-128-GCM)"})
		assert.Equal(t, uint16(0x1301), r.state.CipherSuite)
	})
	cell(t, peerName, role, "ALPN h2", func(t *testing.T) {
		cfg := serverCfg(t, "p256", func(o *rustls.ServerOptions) { o.NextProtos = []string{"h2", "http/1.1"} })
		r := gnutlsEcho(t, cfg, "", "", []string{"- Application protocol: h2"}, "--alpn", "h2")
		assert.Equal(t, "h2", r.state.NegotiatedProtocol)
	})
	cell(t, peerName, role, "mTLS required, certificate given", func(t *testing.T) {
		cfg := serverCfg(t, "p256", func(o *rustls.ServerOptions) {
			o.ClientAuth, o.ClientCAs = rustls.RequireAndVerifyClientCert, pk.ca.pem
		})
		r := gnutlsEcho(t, cfg, "", "", nil, certArgs(pk.client)...)
		require.NotEmpty(t, r.state.PeerCertificates)
		assert.Equal(t, pk.client.cert.Raw, r.state.PeerCertificates[0].Raw)
	})
	cell(t, peerName, role, "mTLS client certificate from the wrong CA -> refused", func(t *testing.T) {
		cfg := serverCfg(t, "p256", func(o *rustls.ServerOptions) {
			o.ClientAuth, o.ClientCAs = rustls.RequireAndVerifyClientCert, pk.ca.pem
		})
		srv := startServer(t, acceptWith(cfg), echoLines)
		p := gnutlsCli(t, srv.port, "", "", certArgs(pk.otherCli)...)
		p.send("hello\n")
		p.requireExit(false)
		requireCode(t, srv.next(t).err, rustls.CodeCertUnknownIssuer)
	})
	cell(t, peerName, role, "SNI routing (LazyAcceptor) b.test", func(t *testing.T) {
		r := gnutlsEcho(t, nil, "b.test", "", []string{"subject `CN=sni-b'"})
		assert.Equal(t, "b.test", r.state.ServerName)
	})
	for _, c := range []struct{ v, prio string }{{"1.2", prioTLS12}, {"1.3", prioTLS13}} {
		cell(t, peerName, role, "TLS "+c.v+" session resumption", func(t *testing.T) {
			// gnutls-cli --resume reconnects without sending anything: the
			// tickets travel with the server's first write (see
			// greetThenEcho and docs/design.md).
			srv := startServer(t, acceptWith(serverCfg(t, "p256", nil)), greetThenEcho)
			p := gnutlsCli(t, srv.port, "", c.prio, "--resume")
			p.requireOut("This is a resumed session")
			p.send("bye\n")
			p.requireOut("bye\n")
			p.requireExit(true)
			first, second := srv.next(t), srv.next(t)
			require.NoError(t, first.err)
			require.NoError(t, second.err)
			assert.Equal(t, rustls.HandshakeFull, first.kind)
			assert.Equal(t, rustls.HandshakeResumed, second.kind)
		})
	}
	cell(t, peerName, role, "client close_notify -> io.EOF", func(t *testing.T) {
		srv := startServer(t, acceptWith(serverCfg(t, "p256", nil)), echoLines)
		p := gnutlsCli(t, srv.port, "", "")
		p.send("hello\n")
		p.requireOut("hello\n")
		require.NoError(t, p.stdin.Close())
		p.requireExit(true)
		r := srv.next(t)
		require.NoError(t, r.err)
		assert.Equal(t, io.EOF, r.end)
	})
	cell(t, peerName, role, "client killed (truncation) -> io.ErrUnexpectedEOF", func(t *testing.T) {
		srv := startServer(t, acceptWith(serverCfg(t, "p256", nil)), echoLines)
		p := gnutlsCli(t, srv.port, "", "")
		p.send("hello\n")
		p.requireOut("hello\n")
		p.kill()
		r := srv.next(t)
		require.NoError(t, r.err)
		assert.ErrorIs(t, r.end, io.ErrUnexpectedEOF)
	})
	cell(t, peerName, role, "version mismatch (server 1.2 only, client 1.3) -> refused", func(t *testing.T) {
		cfg := serverCfg(t, "p256", func(o *rustls.ServerOptions) { o.Versions = []uint16{rustls.VersionTLS12} })
		srv := startServer(t, acceptWith(cfg), echoLines)
		p := gnutlsCli(t, srv.port, "", prioTLS13)
		p.requireExit(false)
		requireCode(t, srv.next(t).err, rustls.CodePeerIncompatible)
	})
}
