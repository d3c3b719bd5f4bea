package interop

import (
	"bufio"
	"crypto/tls"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"github.com/gorustls/gorustls/rustls"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var versionOf = map[string]uint16{"1.2": tls.VersionTLS12, "1.3": tls.VersionTLS13}

// goClient connects crypto/tls to a gorustls server.
func goClient(t testing.TB, addr string, cfg *tls.Config) (*tls.Conn, error) {
	t.Helper()
	if cfg.RootCAs == nil {
		cfg.RootCAs = pk.ca.pool()
	}
	if cfg.ServerName == "" {
		cfg.ServerName = "localhost"
	}
	d := &net.Dialer{Timeout: 5 * time.Second}
	c, err := tls.DialWithDialer(d, "tcp", addr, cfg)
	if err == nil {
		_ = c.SetDeadline(time.Now().Add(peerTimeout))
		t.Cleanup(func() { c.Close() })
	}
	return c, err
}

// goEcho runs a crypto/tls echo exchange with the gorustls server.
func goEcho(t *testing.T, srv *tserver, cfg *tls.Config) (tls.ConnectionState, connResult) {
	c, err := goClient(t, srv.addr, cfg)
	require.NoError(t, err)
	_, err = io.WriteString(c, "hello interop\nbye\n")
	require.NoError(t, err)
	got, err := io.ReadAll(c)
	require.NoError(t, err, "the server's close_notify gives a clean EOF")
	assert.Equal(t, "hello interop\nbye\n", string(got))
	r := srv.next(t)
	require.NoError(t, r.err)
	return c.ConnectionState(), r
}

func TestServerGoTLS(t *testing.T) {
	const peerName, role = "crypto/tls", "server"
	for _, v := range []string{"1.2", "1.3"} {
		for _, kt := range keyTypes {
			cell(t, peerName, role, "TLS "+v+" "+kt+" certificate", func(t *testing.T) {
				srv := startServer(t, acceptWith(serverCfg(t, kt, nil)), echoLines)
				st, r := goEcho(t, srv, &tls.Config{MinVersion: versionOf[v], MaxVersion: versionOf[v]})
				assert.Equal(t, versionOf[v], st.Version)
				assert.Equal(t, versionOf[v], r.state.Version)
			})
		}
	}
	for _, id := range []uint16{0x1301, 0x1302, 0x1303, 0xc02b, 0xc02c, 0xcca9} {
		name := tls.CipherSuiteName(id)
		cell(t, peerName, role, "suite "+name, func(t *testing.T) {
			srv := startServer(t, acceptWith(serverCfg(t, "p256", func(o *rustls.ServerOptions) { o.CipherSuites = []uint16{id} })), echoLines)
			st, _ := goEcho(t, srv, &tls.Config{})
			assert.Equal(t, id, st.CipherSuite)
		})
	}
	for _, c := range []struct {
		name  string
		offer []string
		want  string
	}{{"ALPN h2", []string{"h2", "http/1.1"}, "h2"}, {"ALPN http/1.1", []string{"http/1.1"}, "http/1.1"}, {"ALPN none offered", nil, ""}} {
		cell(t, peerName, role, c.name, func(t *testing.T) {
			srv := startServer(t, acceptWith(serverCfg(t, "p256", func(o *rustls.ServerOptions) { o.NextProtos = []string{"h2", "http/1.1"} })), echoLines)
			st, r := goEcho(t, srv, &tls.Config{NextProtos: c.offer})
			assert.Equal(t, c.want, st.NegotiatedProtocol)
			assert.Equal(t, c.want, r.state.NegotiatedProtocol)
		})
	}
	cell(t, peerName, role, "ALPN no overlap -> no_application_protocol", func(t *testing.T) {
		srv := startServer(t, acceptWith(serverCfg(t, "p256", func(o *rustls.ServerOptions) { o.NextProtos = []string{"h2"} })), echoLines)
		_, err := goClient(t, srv.addr, &tls.Config{NextProtos: []string{"spdy/1"}})
		require.ErrorContains(t, err, "no application protocol")
		requireCode(t, srv.next(t).err, rustls.CodeNoApplicationProtocol)
	})
	mtls := func(t *testing.T, auth rustls.ClientAuth) *tserver {
		return startServer(t, acceptWith(serverCfg(t, "p256", func(o *rustls.ServerOptions) {
			o.ClientAuth, o.ClientCAs, o.ClientCRLs = auth, pk.ca.pem, [][]byte{pk.crlPEM}
		})), echoLines)
	}
	cell(t, peerName, role, "mTLS required, certificate given", func(t *testing.T) {
		_, r := goEcho(t, mtls(t, rustls.RequireAndVerifyClientCert), &tls.Config{Certificates: []tls.Certificate{pk.client.tlsCert()}})
		assert.NotEmpty(t, r.state.PeerCertificates)
	})
	cell(t, peerName, role, "mTLS optional, no certificate", func(t *testing.T) {
		_, r := goEcho(t, mtls(t, rustls.VerifyClientCertIfGiven), &tls.Config{})
		assert.Empty(t, r.state.PeerCertificates)
	})
	for _, c := range []struct {
		name string
		cert *leaf
		code rustls.Code
	}{
		{"mTLS required, no certificate -> refused", nil, rustls.CodeNoCertificatesPresented},
		{"mTLS client certificate from the wrong CA -> refused", pk.otherCli, rustls.CodeCertUnknownIssuer},
		{"mTLS revoked client certificate (CRL) -> refused", pk.revokedCli, rustls.CodeCertRevoked},
	} {
		cell(t, peerName, role, c.name, func(t *testing.T) {
			srv := mtls(t, rustls.RequireAndVerifyClientCert)
			cfg := &tls.Config{}
			if c.cert != nil {
				// Sent even when its issuer is not among the CAs the
				// server names (crypto/tls would otherwise send none).
				cert := c.cert.tlsCert()
				cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &cert, nil }
			}
			c2, err := goClient(t, srv.addr, cfg)
			if err == nil { // TLS 1.3: the client learns of the refusal on its first read
				_, err = c2.Read(make([]byte, 1))
			}
			require.Error(t, err)
			requireCode(t, srv.next(t).err, c.code)
		})
	}
	cell(t, peerName, role, "SNI routing (LazyAcceptor) a.test", func(t *testing.T) {
		srv := startServer(t, sniAcceptor(t).Accept, echoLines)
		st, r := goEcho(t, srv, &tls.Config{ServerName: "a.test"})
		assert.Equal(t, "a.test", r.state.ServerName)
		assert.Equal(t, pk.sni["a.test"].cert.Raw, st.PeerCertificates[0].Raw)
	})
	cell(t, peerName, role, "TLS 1.3 session resumption", func(t *testing.T) {
		srv := startServer(t, acceptWith(serverCfg(t, "p256", nil)), echoLines)
		cfg := &tls.Config{MinVersion: tls.VersionTLS13, ClientSessionCache: tls.NewLRUClientSessionCache(4)}
		st, r := goEcho(t, srv, cfg)
		assert.False(t, st.DidResume)
		assert.Equal(t, rustls.HandshakeFull, r.kind)
		st, r = goEcho(t, srv, cfg.Clone())
		assert.True(t, st.DidResume)
		assert.Equal(t, rustls.HandshakeResumed, r.kind)
	})
	// crypto/tls resumes TLS 1.2 only with tickets, and rustls-ffi 0.15
	// offers servers no ticketer (session IDs only): both handshakes are
	// full, and nothing fails.
	cell(t, peerName, role, "TLS 1.2 resumption: no tickets in rustls-ffi -> full handshakes", func(t *testing.T) {
		srv := startServer(t, acceptWith(serverCfg(t, "p256", nil)), echoLines)
		cfg := &tls.Config{MaxVersion: tls.VersionTLS12, ClientSessionCache: tls.NewLRUClientSessionCache(4)}
		for i := 0; i < 2; i++ {
			st, r := goEcho(t, srv, cfg.Clone())
			assert.False(t, st.DidResume)
			assert.Equal(t, rustls.HandshakeFull, r.kind)
		}
	})
	cell(t, peerName, role, "TLS 1.3 key update (server KeyUpdate)", func(t *testing.T) {
		srv := startServer(t, acceptWith(serverCfg(t, "p256", nil)), echoLines)
		c, err := goClient(t, srv.addr, &tls.Config{})
		require.NoError(t, err)
		br := bufio.NewReader(c)
		for _, line := range []string{"one\n", "rekey\n", "two\n", "rekey\n", "three\n"} {
			_, err = io.WriteString(c, line)
			require.NoError(t, err)
			got, err := br.ReadString('\n')
			require.NoError(t, err)
			require.Equal(t, line, got)
		}
		require.NoError(t, c.Close())
		r := srv.next(t)
		require.NoError(t, r.err)
		assert.Equal(t, io.EOF, r.end)
	})
	cell(t, peerName, role, "64 MiB download, SHA-256", func(t *testing.T) {
		_, _ = bigFile(t)
		srv := startServer(t, acceptWith(serverCfg(t, "p256", nil)), sendBig)
		c, err := goClient(t, srv.addr, &tls.Config{})
		require.NoError(t, err)
		sum, n, err := sinkSum(c)
		require.NoError(t, err)
		assert.Equal(t, int64(bigSize), n)
		r := srv.next(t)
		require.NoError(t, r.err)
		assert.Equal(t, r.info, sum)
	})
	cell(t, peerName, role, "64 MiB upload, SHA-256", func(t *testing.T) {
		path, want := bigFile(t)
		srv := startServer(t, acceptWith(serverCfg(t, "p256", nil)), func(s *rustls.Stream, r *connResult) {
			r.info, _, r.end = sinkSum(s)
		})
		c, err := goClient(t, srv.addr, &tls.Config{})
		require.NoError(t, err)
		f, err := os.Open(path)
		require.NoError(t, err)
		defer f.Close()
		_, err = io.Copy(c, f)
		require.NoError(t, err)
		require.NoError(t, c.Close())
		r := srv.next(t)
		require.NoError(t, r.err)
		require.NoError(t, r.end, "close_notify ends the upload cleanly")
		assert.Equal(t, want, r.info)
	})
	cell(t, peerName, role, "client close_notify -> io.EOF", func(t *testing.T) {
		srv := startServer(t, acceptWith(serverCfg(t, "p256", nil)), echoLines)
		c, err := goClient(t, srv.addr, &tls.Config{})
		require.NoError(t, err)
		_, err = io.WriteString(c, "x\n")
		require.NoError(t, err)
		require.NoError(t, c.Close())
		r := srv.next(t)
		require.NoError(t, r.err)
		assert.Equal(t, io.EOF, r.end)
	})
	cell(t, peerName, role, "client TCP close without close_notify -> io.ErrUnexpectedEOF", func(t *testing.T) {
		srv := startServer(t, acceptWith(serverCfg(t, "p256", nil)), echoLines)
		c, err := goClient(t, srv.addr, &tls.Config{})
		require.NoError(t, err)
		_, err = io.WriteString(c, "x\n")
		require.NoError(t, err)
		require.NoError(t, c.NetConn().Close())
		r := srv.next(t)
		require.NoError(t, r.err)
		assert.ErrorIs(t, r.end, io.ErrUnexpectedEOF)
	})
	cell(t, peerName, role, "version mismatch (server 1.3 only, client 1.2) -> refused", func(t *testing.T) {
		srv := startServer(t, acceptWith(serverCfg(t, "p256", func(o *rustls.ServerOptions) { o.Versions = []uint16{rustls.VersionTLS13} })), echoLines)
		_, err := goClient(t, srv.addr, &tls.Config{MaxVersion: tls.VersionTLS12})
		require.Error(t, err)
		requireCode(t, srv.next(t).err, rustls.CodePeerIncompatible)
	})
}
