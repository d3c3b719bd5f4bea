package rustls

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"hash/crc32"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var versionNames = map[uint16]string{tls.VersionTLS12: "TLS12", tls.VersionTLS13: "TLS13"}

// echoRoundTrip sends n bytes through a (writer side) and expects them
// echoed back unchanged.
func echoRoundTrip(t *testing.T, c io.ReadWriter, flush func() error, n int) {
	t.Helper()
	data := pattern(n, 7)
	errc := make(chan error, 1)
	go func() {
		_, err := c.Write(data)
		if err == nil && flush != nil {
			err = flush()
		}
		errc <- err
	}()
	got := make([]byte, n)
	_, err := io.ReadFull(c, got)
	require.NoError(t, err)
	require.NoError(t, <-errc)
	require.Equal(t, crc32.ChecksumIEEE(data), crc32.ChecksumIEEE(got))
}

// echo copies everything it reads back until EOF or an error.
func echoStream(s *Stream) {
	buf := make([]byte, 32<<10)
	for {
		n, err := s.Read(buf)
		if n > 0 {
			if _, werr := s.Write(buf[:n]); werr != nil {
				return
			}
			if s.Flush() != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func TestInteropRustlsClientGoServer(t *testing.T) {
	ca, _, cli := pki(t)
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		t.Run(versionNames[v], func(t *testing.T) {
			gcfg := goTLSServerConfig(t)
			gcfg.MaxVersion = v
			gcfg.MinVersion = v
			gcfg.NextProtos = []string{"h2", "http/1.1"}
			gcfg.ClientAuth = tls.RequireAndVerifyClientCert
			gcfg.ClientCAs = ca.pool()
			cc, sc := tcpPair(t)
			res := goTLSServe(sc, gcfg)
			ccfg := clientConfig(t, func(o *ClientOptions) {
				o.NextProtos = []string{"http/1.1"}
				o.Certificate = cli.certifiedKey(t)
			})
			c, err := NewConnector(ccfg, StreamOptions{}).Connect(testCtx(t), cc, "example.test")
			require.NoError(t, err)
			defer c.Close()
			r := <-res
			require.NoError(t, r.err)
			defer r.c.Close()
			go func() { io.Copy(r.c, r.c) }()

			gs := r.c.ConnectionState()
			st := c.ConnectionState()
			assert.True(t, st.HandshakeComplete)
			assert.Equal(t, v, st.Version)
			assert.Equal(t, gs.CipherSuite, st.CipherSuite)
			assert.Equal(t, gs.CurveID, st.CurveID)
			assert.NotEmpty(t, c.KeyExchangeGroup())
			assert.NotEmpty(t, c.CipherSuiteName())
			assert.Equal(t, "http/1.1", st.NegotiatedProtocol)
			assert.Equal(t, "http/1.1", gs.NegotiatedProtocol)
			assert.Equal(t, "example.test", st.ServerName)
			assert.Equal(t, "example.test", gs.ServerName)
			require.NotEmpty(t, st.PeerCertificates)
			assert.Contains(t, st.PeerCertificates[0].DNSNames, "example.test")
			require.NotEmpty(t, gs.PeerCertificates)
			assert.Equal(t, "client", gs.PeerCertificates[0].Subject.CommonName)
			assert.False(t, st.DidResume)

			echoRoundTrip(t, c, c.Flush, 1<<20)
		})
	}
}

func TestInteropGoClientRustlsServer(t *testing.T) {
	ca, _, cli := pki(t)
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		t.Run(versionNames[v], func(t *testing.T) {
			scfg := serverConfig(t, func(o *ServerOptions) {
				o.NextProtos = []string{"h2", "http/1.1"}
				o.ClientAuth = RequireAndVerifyClientCert
				o.ClientCAs = ca.certPEM
			})
			cc, sc := tcpPair(t)
			ch := make(chan *Stream, 1)
			go func() {
				s, err := NewAcceptor(scfg, StreamOptions{}).Accept(testCtx(t), sc)
				assert.NoError(t, err)
				ch <- s
				if s != nil {
					echoStream(s)
				}
			}()
			gc := goTLSClientConfig(t)
			gc.ServerName = "example.test"
			gc.MaxVersion = v
			gc.MinVersion = v
			gc.NextProtos = []string{"h2"}
			gc.Certificates = []tls.Certificate{cli.tlsCert(t)}
			tc := tls.Client(cc, gc)
			require.NoError(t, tc.HandshakeContext(testCtx(t)))
			defer tc.Close()
			s := <-ch
			require.NotNil(t, s)
			defer s.Close()

			gs := tc.ConnectionState()
			st := s.ConnectionState()
			assert.Equal(t, v, st.Version)
			assert.Equal(t, gs.Version, st.Version)
			assert.Equal(t, gs.CipherSuite, st.CipherSuite)
			assert.Equal(t, gs.CurveID, st.CurveID)
			assert.NotEmpty(t, s.KeyExchangeGroup())
			assert.Equal(t, "h2", st.NegotiatedProtocol)
			assert.Equal(t, "h2", gs.NegotiatedProtocol)
			assert.Equal(t, "example.test", st.ServerName)
			require.NotEmpty(t, st.PeerCertificates)
			assert.IsType(t, &x509.Certificate{}, st.PeerCertificates[0])
			assert.Equal(t, "client", st.PeerCertificates[0].Subject.CommonName)

			echoRoundTrip(t, tc, nil, 1<<20)
		})
	}
}

func TestInteropALPNNoOverlap(t *testing.T) {
	t.Run("gorustls client, crypto/tls server", func(t *testing.T) {
		gcfg := goTLSServerConfig(t)
		gcfg.NextProtos = []string{"h2"}
		cc, sc := tcpPair(t)
		res := goTLSServe(sc, gcfg)
		// Not "http/1.1": crypto/tls lets a client offering only that fall
		// back to no ALPN.
		ccfg := clientConfig(t, func(o *ClientOptions) { o.NextProtos = []string{"spdy/3"} })
		_, err := NewConnector(ccfg, StreamOptions{}).Connect(testCtx(t), cc, "localhost")
		e := rustlsError(t, err)
		assert.ErrorIs(t, err, ErrAlertReceived)
		alert, ok := e.Alert()
		assert.True(t, ok)
		assert.Equal(t, uint8(120), alert, "no_application_protocol")
		r := <-res
		require.Error(t, r.err)
	})
	t.Run("crypto/tls client, gorustls server", func(t *testing.T) {
		scfg := serverConfig(t, func(o *ServerOptions) { o.NextProtos = []string{"h2"} })
		cc, sc := tcpPair(t)
		errc := make(chan error, 1)
		go func() {
			_, err := NewAcceptor(scfg, StreamOptions{}).Accept(testCtx(t), sc)
			errc <- err
		}()
		gc := goTLSClientConfig(t)
		gc.NextProtos = []string{"http/1.1"}
		tc := tls.Client(cc, gc)
		err := tc.HandshakeContext(testCtx(t))
		require.Error(t, err)
		assert.Contains(t, err.Error(), "no application protocol")
		tc.Close()
		serr := <-errc
		se := rustlsError(t, serr)
		assert.Equal(t, CodeNoApplicationProtocol, se.Code)
	})
}

// TestInteropCipherSuites checks that every suite both stacks share
// carries data.
func TestInteropCipherSuites(t *testing.T) {
	suites := []uint16{
		tls.TLS_AES_128_GCM_SHA256, tls.TLS_AES_256_GCM_SHA384, tls.TLS_CHACHA20_POLY1305_SHA256,
		tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
		tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	}
	for _, suite := range suites {
		t.Run(fmt.Sprintf("%04x", suite), func(t *testing.T) {
			v := uint16(tls.VersionTLS12)
			if suite < 0x1400 && suite > 0x1300 {
				v = tls.VersionTLS13
			}
			gcfg := goTLSServerConfig(t)
			gcfg.MaxVersion = v
			cc, sc := tcpPair(t)
			res := goTLSServe(sc, gcfg)
			ccfg := clientConfig(t, func(o *ClientOptions) { o.CipherSuites = []uint16{suite} })
			c, err := NewConnector(ccfg, StreamOptions{}).Connect(testCtx(t), cc, "localhost")
			require.NoError(t, err)
			defer c.Close()
			r := <-res
			require.NoError(t, r.err)
			defer r.c.Close()
			go func() { io.Copy(r.c, r.c) }()
			assert.Equal(t, suite, c.ConnectionState().CipherSuite)
			echoRoundTrip(t, c, c.Flush, 64<<10)
		})
	}
}
