package interop

import (
	"bufio"
	"crypto/tls"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gorustls/gorustls/rustls"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// goServer runs a crypto/tls server on loopback; serve runs per connection.
func goServer(t testing.TB, cfg *tls.Config, serve func(c *tls.Conn)) string {
	t.Helper()
	if cfg.Certificates == nil {
		cfg.Certificates = []tls.Certificate{pk.servers["p256"].tlsCert()}
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	require.NoError(t, err)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_ = c.SetDeadline(time.Now().Add(peerTimeout))
			go func() {
				defer c.Close()
				serve(c.(*tls.Conn))
			}()
		}
	}()
	t.Cleanup(func() { ln.Close(); <-done })
	return ln.Addr().String()
}

// goUpper echoes lines in upper case until EOF, then closes (close_notify).
func goUpper(c *tls.Conn) {
	br := bufio.NewReader(c)
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return
		}
		if _, err := io.WriteString(c, strings.ToUpper(line)); err != nil {
			return
		}
	}
}

func upperExchange(t testing.TB, s *rustls.Stream) {
	t.Helper()
	br := bufio.NewReader(s)
	for _, line := range []string{"hello\n", "interop\n"} {
		_, err := io.WriteString(s, line)
		require.NoError(t, err)
		got, err := br.ReadString('\n')
		require.NoError(t, err)
		require.Equal(t, strings.ToUpper(line), got)
	}
}

func TestClientGoTLS(t *testing.T) {
	const peerName, role = "crypto/tls", "client"
	for _, v := range []string{"1.2", "1.3"} {
		for _, kt := range keyTypes {
			cell(t, peerName, role, "TLS "+v+" "+kt+" certificate", func(t *testing.T) {
				addr := goServer(t, &tls.Config{Certificates: []tls.Certificate{pk.servers[kt].tlsCert()},
					MinVersion: versionOf[v], MaxVersion: versionOf[v]}, goUpper)
				s, err := dial(t, clientCfg(t, nil), addr, "localhost")
				require.NoError(t, err)
				upperExchange(t, s)
				assert.Equal(t, versionOf[v], s.ConnectionState().Version)
			})
		}
	}
	for _, id := range []uint16{0x1301, 0x1302, 0x1303, 0xc02b, 0xcca9} {
		cell(t, peerName, role, "suite "+tls.CipherSuiteName(id), func(t *testing.T) {
			addr := goServer(t, &tls.Config{}, goUpper)
			s, err := dial(t, clientCfg(t, func(o *rustls.ClientOptions) { o.CipherSuites = []uint16{id} }), addr, "localhost")
			require.NoError(t, err)
			upperExchange(t, s)
			assert.Equal(t, id, s.ConnectionState().CipherSuite)
		})
	}
	for _, c := range []struct {
		name  string
		offer []string
		want  string
	}{{"ALPN h2", []string{"h2", "http/1.1"}, "h2"}, {"ALPN http/1.1", []string{"http/1.1"}, "http/1.1"}, {"ALPN none offered", nil, ""}} {
		cell(t, peerName, role, c.name, func(t *testing.T) {
			addr := goServer(t, &tls.Config{NextProtos: []string{"h2", "http/1.1"}}, goUpper)
			s, err := dial(t, clientCfg(t, func(o *rustls.ClientOptions) { o.NextProtos = c.offer }), addr, "localhost")
			require.NoError(t, err)
			upperExchange(t, s)
			assert.Equal(t, c.want, s.ConnectionState().NegotiatedProtocol)
		})
	}
	cell(t, peerName, role, "ALPN no overlap -> no_application_protocol alert", func(t *testing.T) {
		addr := goServer(t, &tls.Config{NextProtos: []string{"h2"}}, goUpper)
		_, err := dial(t, clientCfg(t, func(o *rustls.ClientOptions) { o.NextProtos = []string{"spdy/1"} }), addr, "localhost")
		requireCode(t, err, rustls.CodeAlertNoApplicationProto)
	})
	mtlsServer := func(t *testing.T, auth tls.ClientAuthType) string {
		return goServer(t, &tls.Config{ClientAuth: auth, ClientCAs: pk.ca.pool()}, goUpper)
	}
	cell(t, peerName, role, "mTLS required, certificate given", func(t *testing.T) {
		s, err := dial(t, clientCfg(t, func(o *rustls.ClientOptions) { o.Certificate = certKey(t, pk.client) }), mtlsServer(t, tls.RequireAndVerifyClientCert), "localhost")
		require.NoError(t, err)
		upperExchange(t, s)
	})
	cell(t, peerName, role, "mTLS optional, no certificate", func(t *testing.T) {
		s, err := dial(t, clientCfg(t, nil), mtlsServer(t, tls.VerifyClientCertIfGiven), "localhost")
		require.NoError(t, err)
		upperExchange(t, s)
	})
	cell(t, peerName, role, "mTLS required, no certificate -> certificate_required alert", func(t *testing.T) {
		s, err := dial(t, clientCfg(t, nil), mtlsServer(t, tls.RequireAndVerifyClientCert), "localhost")
		if err == nil {
			_, err = s.Read(make([]byte, 1))
		}
		requireCode(t, err, rustls.CodeAlertCertificateRequired)
	})
	cell(t, peerName, role, "mTLS client certificate from the wrong CA -> bad_certificate alert", func(t *testing.T) {
		s, err := dial(t, clientCfg(t, func(o *rustls.ClientOptions) { o.Certificate = certKey(t, pk.otherCli) }), mtlsServer(t, tls.RequireAndVerifyClientCert), "localhost")
		if err == nil {
			_, err = s.Read(make([]byte, 1))
		}
		requireCode(t, err, rustls.CodeAlertBadCertificate, rustls.CodeAlertUnknownCA)
	})
	cell(t, peerName, role, "SNI sent and seen by the server", func(t *testing.T) {
		names := make(chan string, 1)
		addr := goServer(t, &tls.Config{GetCertificate: func(h *tls.ClientHelloInfo) (*tls.Certificate, error) {
			names <- h.ServerName
			c := pk.sni["b.test"].tlsCert()
			return &c, nil
		}}, goUpper)
		s, err := dial(t, clientCfg(t, nil), addr, "b.test")
		require.NoError(t, err)
		upperExchange(t, s)
		assert.Equal(t, "b.test", <-names)
	})
	for _, v := range []string{"1.2", "1.3"} {
		cell(t, peerName, role, "TLS "+v+" session resumption", func(t *testing.T) {
			addr := goServer(t, &tls.Config{MinVersion: versionOf[v], MaxVersion: versionOf[v]}, goUpper)
			ccfg := clientCfg(t, nil)
			for i, kind := range []rustls.HandshakeKind{rustls.HandshakeFull, rustls.HandshakeResumed} {
				s, err := dial(t, ccfg, addr, "localhost")
				require.NoError(t, err)
				upperExchange(t, s)
				assert.Equal(t, kind, s.HandshakeKind(), "connection %d", i)
				require.NoError(t, s.Close())
			}
		})
	}
	cell(t, peerName, role, "TLS 1.3 key update (client KeyUpdate)", func(t *testing.T) {
		addr := goServer(t, &tls.Config{}, goUpper)
		s, err := dial(t, clientCfg(t, nil), addr, "localhost")
		require.NoError(t, err)
		upperExchange(t, s)
		require.NoError(t, s.KeyUpdate())
		upperExchange(t, s)
		require.NoError(t, s.KeyUpdate())
		require.NoError(t, s.KeyUpdate())
		upperExchange(t, s)
	})
	cell(t, peerName, role, "64 MiB upload and download, SHA-256", func(t *testing.T) {
		path, want := bigFile(t)
		addr := goServer(t, &tls.Config{}, func(c *tls.Conn) {
			// Echo everything back, then close_notify after the client's.
			_, _ = io.Copy(c, c)
		})
		s, err := dial(t, clientCfg(t, nil), addr, "localhost")
		require.NoError(t, err)
		f, err := os.Open(path)
		require.NoError(t, err)
		defer f.Close()
		errc := make(chan error, 1)
		go func() {
			_, err := io.Copy(s, f)
			if err == nil {
				err = s.CloseWrite()
			}
			errc <- err
		}()
		sum, n, err := sinkSum(s)
		require.NoError(t, err)
		require.NoError(t, <-errc)
		assert.Equal(t, int64(bigSize), n)
		assert.Equal(t, want, sum)
	})
	cell(t, peerName, role, "server close_notify -> io.EOF", func(t *testing.T) {
		addr := goServer(t, &tls.Config{}, func(c *tls.Conn) { _, _ = io.WriteString(c, "bye\n") })
		s, err := dial(t, clientCfg(t, nil), addr, "localhost")
		require.NoError(t, err)
		got, err := io.ReadAll(s)
		require.NoError(t, err)
		assert.Equal(t, "bye\n", string(got))
		_, err = s.Read(make([]byte, 1))
		assert.Equal(t, io.EOF, err)
	})
	cell(t, peerName, role, "server TCP close without close_notify -> io.ErrUnexpectedEOF", func(t *testing.T) {
		addr := goServer(t, &tls.Config{}, func(c *tls.Conn) {
			_, _ = io.WriteString(c, "bye\n")
			_ = c.NetConn().Close()
		})
		s, err := dial(t, clientCfg(t, nil), addr, "localhost")
		require.NoError(t, err)
		got, err := io.ReadAll(s)
		assert.ErrorIs(t, err, io.ErrUnexpectedEOF)
		assert.Equal(t, "bye\n", string(got))
	})
	negative := []struct {
		name string
		srv  *tls.Config
		mod  func(*rustls.ClientOptions)
		code rustls.Code
	}{
		{"expired certificate -> CertExpired", &tls.Config{Certificates: []tls.Certificate{pk.expired.tlsCert()}}, nil, rustls.CodeCertExpired},
		{"wrong host name -> CertNotValidForName", &tls.Config{Certificates: []tls.Certificate{pk.wrongName.tlsCert()}}, nil, rustls.CodeCertNotValidForName},
		{"unknown CA -> CertUnknownIssuer", &tls.Config{Certificates: []tls.Certificate{pk.otherSrv.tlsCert()}}, nil, rustls.CodeCertUnknownIssuer},
		{"revoked certificate (CRL) -> CertRevoked", &tls.Config{Certificates: []tls.Certificate{pk.revoked.tlsCert()}},
			func(o *rustls.ClientOptions) { o.CRLs = [][]byte{pk.crlPEM} }, rustls.CodeCertRevoked},
		{"version mismatch (server 1.2, client 1.3 only) -> protocol_version alert", &tls.Config{MaxVersion: tls.VersionTLS12},
			func(o *rustls.ClientOptions) { o.Versions = []uint16{rustls.VersionTLS13} }, rustls.CodeAlertProtocolVersion},
		{"suite mismatch (server TLS 1.2 AES-GCM, client ChaCha20 only) -> handshake_failure alert",
			&tls.Config{MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{0xc02b}},
			func(o *rustls.ClientOptions) { o.CipherSuites = []uint16{0xcca9} }, rustls.CodeAlertHandshakeFailure},
	}
	for _, c := range negative {
		cell(t, peerName, role, c.name, func(t *testing.T) {
			addr := goServer(t, c.srv, goUpper)
			_, err := dial(t, clientCfg(t, c.mod), addr, "localhost")
			requireCode(t, err, c.code)
		})
	}
}

// TestClientPlaintext covers servers that do not speak TLS.
func TestClientPlaintext(t *testing.T) {
	const peerName, role = "plain TCP", "client"
	plain := func(t *testing.T, reply string) string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				_, _ = c.Read(make([]byte, 4096))
				_, _ = io.WriteString(c, reply)
				_ = c.Close()
			}
		}()
		t.Cleanup(func() { ln.Close() })
		return ln.Addr().String()
	}
	cell(t, peerName, role, "server speaks plaintext HTTP -> protocol error", func(t *testing.T) {
		_, err := dial(t, clientCfg(t, nil), plain(t, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"), "localhost")
		e := requireCode(t, err, rustls.CodeMessageInvalidContentType, rustls.CodePeerMisbehaved, rustls.CodeInappropriateMessage, 7136)
		assert.ErrorIs(t, e, rustls.ErrProtocol)
	})
	cell(t, peerName, role, "server speaks SMTP banner -> protocol error", func(t *testing.T) {
		_, err := dial(t, clientCfg(t, nil), plain(t, "220 mail.example ESMTP ready\r\n"), "localhost")
		e := requireCode(t, err, rustls.CodeMessageInvalidContentType, rustls.CodePeerMisbehaved, rustls.CodeInappropriateMessage, 7136)
		assert.ErrorIs(t, e, rustls.ErrProtocol)
	})
	cell(t, peerName, role, "server closes at once -> io.ErrUnexpectedEOF", func(t *testing.T) {
		_, err := dial(t, clientCfg(t, nil), plain(t, ""), "localhost")
		e := requireCode(t, err, rustls.CodeUnexpectedEOF)
		assert.ErrorIs(t, e, io.ErrUnexpectedEOF)
	})
}
