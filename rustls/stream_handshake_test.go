package rustls

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestStreamRustlsVersionsAndState(t *testing.T) {
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		t.Run(versionNames[v], func(t *testing.T) {
			scfg := serverConfig(t, func(o *ServerOptions) { o.Versions = []uint16{v} })
			ccfg := clientConfig(t, nil)
			c, s, cerr, serr := handshakePair(t, scfg, ccfg, "example.test", StreamOptions{}, StreamOptions{})
			require.NoError(t, cerr)
			require.NoError(t, serr)
			cs, ss := c.ConnectionState(), s.ConnectionState()
			for _, st := range []tls.ConnectionState{cs, ss} {
				assert.True(t, st.HandshakeComplete)
				assert.Equal(t, v, st.Version)
				assert.NotZero(t, st.CipherSuite)
				assert.NotZero(t, st.CurveID)
				assert.Equal(t, "example.test", st.ServerName)
				assert.False(t, st.DidResume)
				assert.Empty(t, st.NegotiatedProtocol)
			}
			assert.Equal(t, cs.CipherSuite, ss.CipherSuite)
			assert.Equal(t, cs.CurveID, ss.CurveID)
			assert.Equal(t, c.KeyExchangeGroup(), s.KeyExchangeGroup())
			assert.NotEmpty(t, c.KeyExchangeGroup())
			assert.Equal(t, c.CipherSuiteName(), s.CipherSuiteName())
			assert.Equal(t, HandshakeFull, c.HandshakeKind())
			require.Len(t, cs.PeerCertificates, 2, "leaf and CA")
			assert.Contains(t, cs.PeerCertificates[0].DNSNames, "example.test")
			assert.Empty(t, ss.PeerCertificates)
			echoPair(t, c, s, 100<<10)
		})
	}
}

// echoPair sends n bytes each way between two streams.
func echoPair(t *testing.T, a, b *Stream, n int) {
	t.Helper()
	for _, dir := range [][2]*Stream{{a, b}, {b, a}} {
		data := pattern(n, byte(n))
		errc := make(chan error, 1)
		go func() {
			_, err := dir[0].Write(data)
			if err == nil {
				err = dir[0].Flush()
			}
			errc <- err
		}()
		got := make([]byte, n)
		require.NoError(t, readFullWithin(dir[1], got, 10*time.Second))
		require.NoError(t, <-errc)
		require.Equal(t, data, got)
	}
}

func TestStreamALPN(t *testing.T) {
	cases := []struct {
		name         string
		server, cli  []string
		want         string
		serverCode   Code
		clientAlert  uint8
		clientFailed bool
	}{
		{name: "agreed", server: []string{"h2", "http/1.1"}, cli: []string{"http/1.1", "h2"}, want: "h2"},
		{name: "client offers none", server: []string{"h2"}, cli: nil, want: ""},
		{name: "server has none", server: nil, cli: []string{"h2"}, want: ""},
		{name: "no overlap", server: []string{"h2"}, cli: []string{"spdy/3"}, serverCode: CodeNoApplicationProtocol, clientAlert: 120, clientFailed: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			scfg := serverConfig(t, func(o *ServerOptions) { o.NextProtos = tc.server })
			ccfg := clientConfig(t, func(o *ClientOptions) { o.NextProtos = tc.cli })
			c, s, cerr, serr := handshakePair(t, scfg, ccfg, "localhost", StreamOptions{}, StreamOptions{})
			if !tc.clientFailed {
				require.NoError(t, cerr)
				require.NoError(t, serr)
				assert.Equal(t, tc.want, c.ConnectionState().NegotiatedProtocol)
				assert.Equal(t, tc.want, s.ConnectionState().NegotiatedProtocol)
				return
			}
			assert.Nil(t, c)
			assert.Nil(t, s)
			se := rustlsError(t, serr)
			assert.Equal(t, tc.serverCode, se.Code)
			assert.ErrorIs(t, serr, ErrProtocol)
			ce := rustlsError(t, cerr)
			assert.ErrorIs(t, cerr, ErrAlertReceived)
			alert, ok := ce.Alert()
			require.True(t, ok)
			assert.Equal(t, tc.clientAlert, alert)
		})
	}
}

func TestStreamMutualTLS(t *testing.T) {
	ca, _, cli := pki(t)
	otherCA := newTestCA(t, "other CA")
	stranger := otherCA.leaf(t, leafOpts{client: true})
	srv := func(mode ClientAuth) *ServerConfig {
		return serverConfig(t, func(o *ServerOptions) {
			o.ClientAuth = mode
			o.ClientCAs = ca.certPEM
		})
	}
	withCert := func(l *testLeaf) *ClientConfig {
		return clientConfig(t, func(o *ClientOptions) {
			if l != nil {
				o.Certificate = l.certifiedKey(t)
			}
		})
	}

	t.Run("required with cert", func(t *testing.T) {
		c, s, cerr, serr := handshakePair(t, srv(RequireAndVerifyClientCert), withCert(cli), "localhost", StreamOptions{}, StreamOptions{})
		require.NoError(t, cerr)
		require.NoError(t, serr)
		peers := s.ConnectionState().PeerCertificates
		require.NotEmpty(t, peers)
		assert.Equal(t, "client", peers[0].Subject.CommonName)
		echoPair(t, c, s, 1000)
	})

	t.Run("required without cert", func(t *testing.T) {
		c, _, cerr, serr := handshakePair(t, srv(RequireAndVerifyClientCert), withCert(nil), "localhost", StreamOptions{}, StreamOptions{})
		se := rustlsError(t, serr)
		assert.Equal(t, CodeNoCertificatesPresented, se.Code)
		// TLS 1.3: the client's handshake completes before the server
		// checks its certificate; the refusal arrives as an alert.
		require.NoError(t, cerr)
		_, err := readWithin(c, make([]byte, 10), 5*time.Second)
		ce := rustlsError(t, err)
		assert.ErrorIs(t, err, ErrAlertReceived)
		assert.Equal(t, CodeAlertCertificateRequired, ce.Code)
		alert, ok := ce.Alert()
		require.True(t, ok)
		assert.Equal(t, uint8(116), alert, "certificate_required")
		// The error is sticky.
		_, err2 := c.Read(make([]byte, 10))
		assert.Equal(t, err, err2)
	})

	t.Run("optional with cert", func(t *testing.T) {
		c, s, cerr, serr := handshakePair(t, srv(VerifyClientCertIfGiven), withCert(cli), "localhost", StreamOptions{}, StreamOptions{})
		require.NoError(t, cerr)
		require.NoError(t, serr)
		require.NotEmpty(t, s.ConnectionState().PeerCertificates)
		echoPair(t, c, s, 1000)
	})

	t.Run("optional without cert", func(t *testing.T) {
		c, s, cerr, serr := handshakePair(t, srv(VerifyClientCertIfGiven), withCert(nil), "localhost", StreamOptions{}, StreamOptions{})
		require.NoError(t, cerr)
		require.NoError(t, serr)
		assert.Empty(t, s.ConnectionState().PeerCertificates)
		echoPair(t, c, s, 1000)
	})

	t.Run("refused: wrong CA", func(t *testing.T) {
		c, _, cerr, serr := handshakePair(t, srv(RequireAndVerifyClientCert), withCert(stranger), "localhost", StreamOptions{}, StreamOptions{})
		se := rustlsError(t, serr)
		assert.ErrorIs(t, serr, ErrCertificate)
		assert.Equal(t, CodeCertUnknownIssuer, se.Code)
		require.NoError(t, cerr)
		_, err := readWithin(c, make([]byte, 10), 5*time.Second)
		assert.ErrorIs(t, err, ErrAlertReceived)
		ce := rustlsError(t, err)
		_, ok := ce.Alert()
		assert.True(t, ok)
	})

	t.Run("server cert from unknown CA", func(t *testing.T) {
		ccfg := clientConfig(t, func(o *ClientOptions) { o.RootCAs = otherCA.certPEM })
		_, _, cerr, serr := handshakePair(t, serverConfig(t, nil), ccfg, "localhost", StreamOptions{}, StreamOptions{})
		ce := rustlsError(t, cerr)
		assert.Equal(t, CodeCertUnknownIssuer, ce.Code)
		assert.ErrorIs(t, cerr, ErrCertificate)
		assert.ErrorIs(t, serr, ErrAlertReceived)
	})

	t.Run("server cert for another name", func(t *testing.T) {
		_, _, cerr, serr := handshakePair(t, serverConfig(t, nil), clientConfig(t, nil), "elsewhere.test", StreamOptions{}, StreamOptions{})
		ce := rustlsError(t, cerr)
		assert.Equal(t, CodeCertNotValidForName, ce.Code)
		assert.ErrorIs(t, serr, ErrAlertReceived)
	})
}

func TestStreamSNI(t *testing.T) {
	for _, name := range []string{"localhost", "example.test"} {
		c, s, cerr, serr := handshakePair(t, serverConfig(t, nil), clientConfig(t, nil), name, StreamOptions{}, StreamOptions{})
		require.NoError(t, cerr)
		require.NoError(t, serr)
		assert.Equal(t, name, s.ConnectionState().ServerName)
		assert.Equal(t, name, c.ConnectionState().ServerName)
	}
	// An IP address is verified but never sent as SNI.
	_, s, cerr, serr := handshakePair(t, serverConfig(t, nil), clientConfig(t, nil), "127.0.0.1", StreamOptions{}, StreamOptions{})
	require.NoError(t, cerr)
	require.NoError(t, serr)
	assert.Empty(t, s.ConnectionState().ServerName)
	// DisableSNI.
	_, s, cerr, serr = handshakePair(t, serverConfig(t, nil), clientConfig(t, func(o *ClientOptions) { o.DisableSNI = true }), "localhost", StreamOptions{}, StreamOptions{})
	require.NoError(t, cerr)
	require.NoError(t, serr)
	assert.Empty(t, s.ConnectionState().ServerName)
}

func TestStreamResumption(t *testing.T) {
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		t.Run(versionNames[v], func(t *testing.T) {
			scfg := serverConfig(t, func(o *ServerOptions) { o.Versions = []uint16{v} })
			ccfg := clientConfig(t, nil)
			for i := 0; i < 3; i++ {
				c, s, cerr, serr := handshakePair(t, scfg, ccfg, "localhost", StreamOptions{}, StreamOptions{})
				require.NoError(t, cerr)
				require.NoError(t, serr)
				// Exchange data so the client processes the TLS 1.3 tickets.
				echoPair(t, c, s, 10)
				if i == 0 {
					assert.False(t, c.ConnectionState().DidResume)
					assert.Equal(t, HandshakeFull, c.HandshakeKind())
					continue
				}
				assert.True(t, c.ConnectionState().DidResume, "connection %d", i)
				assert.True(t, s.ConnectionState().DidResume, "connection %d", i)
				assert.Equal(t, HandshakeResumed, c.HandshakeKind())
				// A resumed client still reports the server's certificates.
				assert.NotEmpty(t, c.ConnectionState().PeerCertificates)
			}
		})
	}
}

// TestStreamHandshakeStateBefore checks the zero state before a handshake.
func TestStreamHandshakeStateBefore(t *testing.T) {
	cc, _ := tcpPair(t)
	c, err := NewConnector(clientConfig(t, nil), StreamOptions{}).Client(cc, "localhost")
	require.NoError(t, err)
	defer c.Close()
	st := c.ConnectionState()
	assert.False(t, st.HandshakeComplete)
	assert.Zero(t, st.Version)
	assert.Empty(t, c.KeyExchangeGroup())
	assert.Equal(t, HandshakeUnknown, c.HandshakeKind())
}

func TestStreamHandshakeEOF(t *testing.T) {
	t.Run("server: client closes before ClientHello", func(t *testing.T) {
		cc, sc := tcpPair(t)
		cc.Close()
		_, err := NewAcceptor(serverConfig(t, nil), StreamOptions{}).Accept(testCtx(t), sc)
		assert.ErrorIs(t, err, io.ErrUnexpectedEOF)
		rustlsError(t, err)
	})
	t.Run("server: client closes after a partial ClientHello", func(t *testing.T) {
		cc, sc := tcpPair(t)
		go func() {
			cc.Write([]byte{0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00})
			cc.Close()
		}()
		_, err := NewAcceptor(serverConfig(t, nil), StreamOptions{}).Accept(testCtx(t), sc)
		assert.ErrorIs(t, err, io.ErrUnexpectedEOF)
	})
	t.Run("client: server closes after reading the ClientHello", func(t *testing.T) {
		cc, sc := tcpPair(t)
		go func() {
			buf := make([]byte, 4096)
			sc.Read(buf)
			sc.Close()
		}()
		_, err := NewConnector(clientConfig(t, nil), StreamOptions{}).Connect(testCtx(t), cc, "localhost")
		assert.ErrorIs(t, err, io.ErrUnexpectedEOF)
	})
	t.Run("client: server sends part of a record then closes", func(t *testing.T) {
		cc, sc := tcpPair(t)
		// Forward only the first bytes of the server's first flight.
		go func() {
			buf := make([]byte, 4096)
			sc.Read(buf)
			sc.Write([]byte{0x16, 0x03, 0x03, 0x00, 0x40, 0x02})
			sc.Close()
		}()
		_, err := NewConnector(clientConfig(t, nil), StreamOptions{}).Connect(testCtx(t), cc, "localhost")
		assert.ErrorIs(t, err, io.ErrUnexpectedEOF)
	})
}

func TestStreamHandshakeGarbage(t *testing.T) {
	garbage := []byte("\x00\x01\x02garbage that is not TLS at all\r\n\r\n")
	t.Run("server", func(t *testing.T) {
		cc, sc := tcpPair(t)
		go cc.Write(garbage)
		_, err := NewAcceptor(serverConfig(t, nil), StreamOptions{}).Accept(testCtx(t), sc)
		e := rustlsError(t, err)
		assert.ErrorIs(t, err, ErrProtocol, "code %d %v", e.Code, e)
		cc.Close()
	})
	t.Run("client", func(t *testing.T) {
		cc, sc := tcpPair(t)
		go func() {
			sc.Read(make([]byte, 4096))
			sc.Write(garbage)
		}()
		_, err := NewConnector(clientConfig(t, nil), StreamOptions{}).Connect(testCtx(t), cc, "localhost")
		e := rustlsError(t, err)
		assert.ErrorIs(t, err, ErrProtocol, "code %d %v", e.Code, e)
		sc.Close()
	})
	t.Run("after the handshake", func(t *testing.T) {
		// A raw TCP man in the middle lets the handshake through, then
		// injects garbage records.
		c, s := rustlsPair(t, serverConfig(t, nil), clientConfig(t, nil), StreamOptions{}, StreamOptions{})
		_, err := s.NetConn().Write([]byte{0x17, 0x03, 0x03, 0x00, 0x20, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32})
		require.NoError(t, err)
		_, err = readWithin(c, make([]byte, 100), 5*time.Second)
		e := rustlsError(t, err)
		assert.Equal(t, CodeDecryptError, e.Code)
		assert.ErrorIs(t, err, ErrProtocol)
		// The client told the server with an alert.
		_, err = readWithin(s, make([]byte, 100), 5*time.Second)
		assert.ErrorIs(t, err, ErrAlertReceived)
		// Writes fail too, with the same error.
		_, werr := c.Write([]byte("x"))
		assert.Error(t, werr)
	})
}

func TestStreamHandshakeContext(t *testing.T) {
	t.Run("peer never sends ClientHello", func(t *testing.T) {
		_, sc := tcpPair(t)
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := NewAcceptor(serverConfig(t, nil), StreamOptions{}).Accept(ctx, sc)
		assert.Less(t, time.Since(start), 3*time.Second)
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		rustlsError(t, err)
		// Accept closed the connection.
		_, werr := sc.Write([]byte("x"))
		assert.ErrorIs(t, werr, net.ErrClosed)
	})
	t.Run("cancel", func(t *testing.T) {
		cc, _ := tcpPair(t)
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(100*time.Millisecond, cancel)
		_, err := NewConnector(clientConfig(t, nil), StreamOptions{}).Connect(ctx, cc, "localhost")
		assert.ErrorIs(t, err, context.Canceled)
	})
	t.Run("already expired", func(t *testing.T) {
		_, sc := tcpPair(t)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := NewAcceptor(serverConfig(t, nil), StreamOptions{}).Accept(ctx, sc)
		assert.ErrorIs(t, err, context.Canceled)
	})
	t.Run("deadlines restored after a fallible failure", func(t *testing.T) {
		cc, sc := tcpPair(t)
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		_, err := NewAcceptor(serverConfig(t, nil), StreamOptions{}).AcceptFallible(ctx, sc)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		// sc is usable again: the handshake's forced deadline is gone.
		go cc.Write([]byte("late"))
		buf := make([]byte, 4)
		_, err = io.ReadFull(sc, buf)
		require.NoError(t, err)
		assert.Equal(t, "late", string(buf))
	})
	t.Run("implicit handshake bounded by HandshakeTimeout", func(t *testing.T) {
		_, sc := tcpPair(t)
		s, err := NewAcceptor(serverConfig(t, nil), StreamOptions{HandshakeTimeout: 150 * time.Millisecond}).Server(sc)
		require.NoError(t, err)
		defer s.Close()
		start := time.Now()
		_, err = s.Read(make([]byte, 1))
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Less(t, time.Since(start), 3*time.Second)
	})
	t.Run("implicit handshake on first Write", func(t *testing.T) {
		cc, sc := tcpPair(t)
		s, err := NewAcceptor(serverConfig(t, nil), StreamOptions{}).Server(sc)
		require.NoError(t, err)
		defer s.Close()
		c, err := NewConnector(clientConfig(t, nil), StreamOptions{WriteThrough: true}).Client(cc, "localhost")
		require.NoError(t, err)
		defer c.Close()
		go c.Write([]byte("hi"))
		buf := make([]byte, 2)
		require.NoError(t, readFullWithin(s, buf, 5*time.Second))
		assert.Equal(t, "hi", string(buf))
	})
}

func TestStreamFallible(t *testing.T) {
	t.Run("plaintext HTTP to AcceptFallible", func(t *testing.T) {
		cc, sc := tcpPair(t)
		defer cc.Close()
		go cc.Write([]byte("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"))
		s, err := NewAcceptor(serverConfig(t, nil), StreamOptions{}).AcceptFallible(testCtx(t), sc)
		require.Error(t, err)
		assert.Nil(t, s)
		rustlsError(t, err)
		// The conn is handed back open: answer in plaintext.
		_, err = sc.Write([]byte("HTTP/1.0 400 Bad Request\r\n\r\nThis is a TLS port.\n"))
		require.NoError(t, err)
		require.NoError(t, sc.Close())
		_ = cc.SetReadDeadline(time.Now().Add(5 * time.Second))
		got, err := io.ReadAll(cc)
		require.NoError(t, err)
		i := strings.Index(string(got), "HTTP/1.0 400")
		require.GreaterOrEqual(t, i, 0, "%q", got)
		assert.True(t, strings.HasSuffix(string(got), "This is a TLS port.\n"))
	})
	t.Run("Accept closes the conn", func(t *testing.T) {
		cc, sc := tcpPair(t)
		go cc.Write([]byte("GET / HTTP/1.1\r\n\r\n"))
		_, err := NewAcceptor(serverConfig(t, nil), StreamOptions{}).Accept(testCtx(t), sc)
		require.Error(t, err)
		_, err = sc.Write([]byte("x"))
		assert.ErrorIs(t, err, net.ErrClosed)
	})
	t.Run("ConnectFallible hands the conn back", func(t *testing.T) {
		cc, sc := tcpPair(t)
		go func() {
			sc.Read(make([]byte, 4096))
			sc.Write([]byte("HTTP/1.0 400 Bad Request\r\n\r\n"))
		}()
		_, err := NewConnector(clientConfig(t, nil), StreamOptions{}).ConnectFallible(testCtx(t), cc, "localhost")
		require.Error(t, err)
		// Still open: writes reach the server.
		_, err = cc.Write([]byte("x"))
		assert.NoError(t, err)
		cc.Close()
		sc.Close()
	})
	t.Run("bad input", func(t *testing.T) {
		cc, _ := tcpPair(t)
		_, err := NewConnector(clientConfig(t, nil), StreamOptions{}).Connect(testCtx(t), cc, "")
		e := rustlsError(t, err)
		assert.Equal(t, CodeInvalidDNSName, e.Code)
		_, err = NewConnector(nil, StreamOptions{}).ConnectFallible(testCtx(t), cc, "localhost")
		assert.ErrorIs(t, err, ErrInvalidInput)
		_, err = NewAcceptor(nil, StreamOptions{}).AcceptFallible(testCtx(t), cc)
		assert.ErrorIs(t, err, ErrInvalidInput)
		_, err = NewConnector(clientConfig(t, nil), StreamOptions{}).ConnectFallible(testCtx(t), cc, "not a valid name!")
		assert.ErrorIs(t, err, ErrInvalidInput)
	})
}

// TestStreamResumptionNamesOutliveConnections: rustls keeps the client's
// server name (borrowed from the string gorustls hands it) in the config's
// session cache after the connection ends. If that string were freed with
// the connection, its memory would be reused (here by the next
// connection's name) and the cache entry for the first name would no
// longer match: resumption would silently stop working, or worse.
func TestStreamResumptionNamesOutliveConnections(t *testing.T) {
	ca, _, _ := pki(t)
	leaf := ca.leaf(t, leafOpts{}, "aaaa.test", "bbbb.test")
	scfg := serverConfig(t, func(o *ServerOptions) { o.Certificates = []*CertifiedKey{leaf.certifiedKey(t)} })
	ccfg := clientConfig(t, nil)
	for round := 0; round < 5; round++ {
		// A ticket for aaaa.test, then the connection ends.
		c, s, cerr, serr := handshakePair(t, scfg, ccfg, "aaaa.test", StreamOptions{}, StreamOptions{})
		require.NoError(t, cerr)
		require.NoError(t, serr)
		echoPair(t, c, s, 10)
		c.Close()
		s.Close()
		// Another name of the same length, kept open.
		b, bs, cerr, serr := handshakePair(t, scfg, ccfg, "bbbb.test", StreamOptions{}, StreamOptions{})
		require.NoError(t, cerr)
		require.NoError(t, serr)
		echoPair(t, b, bs, 10)
		// aaaa.test again: it must resume.
		c, s, cerr, serr = handshakePair(t, scfg, ccfg, "aaaa.test", StreamOptions{}, StreamOptions{})
		require.NoError(t, cerr)
		require.NoError(t, serr)
		echoPair(t, c, s, 10)
		assert.True(t, c.ConnectionState().DidResume, "round %d", round)
		b.Close()
		bs.Close()
	}
}
