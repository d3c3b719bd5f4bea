package rustls

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// goServer runs a crypto/tls server with gcfg on one loopback connection and
// returns the client end plus a channel with the server's handshake state.
func goServer(t testing.TB, gcfg *tls.Config) (clientEnd net.Conn, state <-chan tls.ConnectionState) {
	t.Helper()
	cc, sc := tcpPair(t)
	ch := make(chan tls.ConnectionState, 1)
	go func() {
		s := tls.Server(sc, gcfg)
		defer s.Close()
		if err := s.HandshakeContext(testCtx(t)); err != nil {
			close(ch)
			return
		}
		ch <- s.ConnectionState()
		_, _ = io.Copy(s, s)
	}()
	t.Cleanup(func() { cc.Close() })
	return cc, ch
}

func TestClientConfigRoots(t *testing.T) {
	ca, _, _ := pki(t)
	scfg := serverConfig(t, nil)
	t.Run("RootCAs", func(t *testing.T) {
		mustPair(t, scfg, clientConfig(t, nil))
	})
	t.Run("RootCAFiles", func(t *testing.T) {
		f := writeTemp(t, "roots.pem", ca.certPEM)
		mustPair(t, scfg, clientConfig(t, func(o *ClientOptions) { o.RootCAs = nil; o.RootCAFiles = []string{f} }))
	})
	t.Run("bundle with several CAs", func(t *testing.T) {
		other := newTestCA(t, "another CA")
		bundle := append(append([]byte(nil), other.certPEM...), ca.certPEM...)
		f := writeTemp(t, "other.pem", other.certPEM)
		mustPair(t, scfg, clientConfig(t, func(o *ClientOptions) { o.RootCAs = bundle }))
		mustPair(t, scfg, clientConfig(t, func(o *ClientOptions) { o.RootCAFiles = []string{f} })) // RootCAs plus files
	})
	t.Run("unknown issuer", func(t *testing.T) {
		other := newTestCA(t, "untrusted CA")
		c, s := tryPair(t, scfg, clientConfig(t, func(o *ClientOptions) { o.RootCAs = other.certPEM }), "localhost")
		e := requireCode(t, c.err, CodeCertUnknownIssuer)
		assert.ErrorIs(t, e, ErrCertificate)
		assert.NotErrorIs(t, e, ErrProtocol)
		assert.Contains(t, e.Error(), "handshake")
		requireCode(t, s.err, CodeAlertUnknownCA)
	})
	t.Run("wrong name", func(t *testing.T) {
		c, _ := tryPair(t, scfg, clientConfig(t, nil), "other.test")
		e := requireCode(t, c.err, CodeCertNotValidForName)
		assert.ErrorIs(t, e, ErrCertificate)
	})
	t.Run("IP address name", func(t *testing.T) {
		c, s := tryPair(t, scfg, clientConfig(t, nil), "127.0.0.1")
		require.NoError(t, c.err)
		require.NoError(t, s.err)
		assert.Empty(t, s.s.ConnectionState().ServerName, "no SNI is sent for an IP address")
	})
}

// TestClientConfigSystemRoots: the platform verifier builds, and it is the
// verifier in use: it does not trust the tests' private CA.
func TestClientConfigSystemRoots(t *testing.T) {
	ccfg, err := NewClientConfig(ClientOptions{SystemRoots: true})
	require.NoError(t, err)
	defer ccfg.Close()
	c, s := tryPair(t, serverConfig(t, nil), ccfg, "localhost")
	require.Error(t, c.err)
	assert.ErrorIs(t, c.err, ErrCertificate, "got %v", c.err)
	assert.Error(t, s.err)

	t.Run("with a provider", func(t *testing.T) {
		ccfg, err := NewClientConfig(ClientOptions{SystemRoots: true, CipherSuites: []uint16{tls.TLS_AES_128_GCM_SHA256}})
		require.NoError(t, err)
		defer ccfg.Close()
		c, _ := tryPair(t, serverConfig(t, nil), ccfg, "localhost")
		assert.ErrorIs(t, c.err, ErrCertificate)
	})
}

func TestClientConfigCRLs(t *testing.T) {
	ca := newTestCA(t, "CRL CA")
	revoked := ca.leaf(t, leafOpts{}, "localhost")
	good := ca.leaf(t, leafOpts{}, "localhost")
	crl := ca.crl(t, revoked.cert)
	ccfg := clientConfig(t, func(o *ClientOptions) { o.RootCAs = ca.certPEM; o.CRLs = [][]byte{crl} })
	server := func(l *testLeaf) *ServerConfig {
		return serverConfig(t, func(o *ServerOptions) { o.Certificates = []*CertifiedKey{l.certifiedKey(t)} })
	}

	c, s := tryPair(t, server(revoked), ccfg, "localhost")
	e := requireCode(t, c.err, CodeCertRevoked)
	assert.ErrorIs(t, e, ErrCertificate)
	assert.Contains(t, e.Error(), "Revoked")
	e = requireCode(t, s.err, CodeAlertCertificateRevoked)
	assert.ErrorIs(t, e, ErrAlertReceived)

	mustPair(t, server(good), ccfg)

	t.Run("CRL from another issuer is not authoritative", func(t *testing.T) {
		otherCRL := newTestCA(t, "unrelated").crl(t)
		cfg := clientConfig(t, func(o *ClientOptions) { o.RootCAs = ca.certPEM; o.CRLs = [][]byte{otherCRL} })
		c, _ := tryPair(t, server(good), cfg, "localhost")
		// webpki refuses to decide revocation without an authoritative CRL.
		require.Error(t, c.err)
		assert.ErrorIs(t, c.err, ErrCertificate)
	})
}

func TestClientConfigClientCertificate(t *testing.T) {
	ca, _, cli := pki(t)
	g := goTLSServerConfig(t)
	g.ClientAuth = tls.RequireAndVerifyClientCert
	g.ClientCAs = ca.pool()
	conn, state := goServer(t, g)
	ccfg := clientConfig(t, func(o *ClientOptions) { o.Certificate = cli.certifiedKey(t) })
	c, err := NewConnector(ccfg, StreamOptions{}).Connect(testCtx(t), conn, "localhost")
	require.NoError(t, err)
	defer c.Close()
	st, ok := <-state
	require.True(t, ok, "the crypto/tls server's handshake failed")
	require.NotEmpty(t, st.PeerCertificates)
	assert.True(t, st.PeerCertificates[0].Equal(cli.cert))
}

func TestClientConfigALPN(t *testing.T) {
	ccfg := clientConfig(t, func(o *ClientOptions) { o.NextProtos = []string{"h2", "http/1.1"} })
	assert.Equal(t, []string{"h2", "http/1.1"}, ccfg.NextProtos())
	ccfg.NextProtos()[0] = "x"
	assert.Equal(t, []string{"h2", "http/1.1"}, ccfg.NextProtos(), "NextProtos returns a copy")

	g := goTLSServerConfig(t)
	g.NextProtos = []string{"http/1.1"}
	conn, state := goServer(t, g)
	c, err := NewConnector(ccfg, StreamOptions{}).Connect(testCtx(t), conn, "localhost")
	require.NoError(t, err)
	defer c.Close()
	assert.Equal(t, "http/1.1", c.ConnectionState().NegotiatedProtocol)
	assert.Equal(t, "http/1.1", (<-state).NegotiatedProtocol)
}

func TestClientConfigDisableSNI(t *testing.T) {
	scfg := serverConfig(t, nil)
	_, s := mustPair(t, scfg, clientConfig(t, nil))
	assert.Equal(t, "localhost", s.ConnectionState().ServerName, "SNI is sent by default")

	c, s := mustPair(t, scfg, clientConfig(t, func(o *ClientOptions) { o.DisableSNI = true }))
	assert.Empty(t, s.ConnectionState().ServerName, "the server sees no SNI")
	assert.Equal(t, "localhost", c.ConnectionState().ServerName, "the client still verifies for its name")

	// crypto/tls confirms it from the other side.
	g := goTLSServerConfig(t)
	conn, state := goServer(t, g)
	cs, err := NewConnector(clientConfig(t, func(o *ClientOptions) { o.DisableSNI = true }), StreamOptions{}).
		Connect(testCtx(t), conn, "localhost")
	require.NoError(t, err)
	defer cs.Close()
	assert.Empty(t, (<-state).ServerName)
}

func TestClientConfigVersionsAndSuites(t *testing.T) {
	scfg := serverConfig(t, nil)
	for _, tc := range []struct {
		name     string
		versions []uint16
		suites   []uint16
		version  uint16
		suite    uint16
	}{
		{"1.2 only", []uint16{VersionTLS12}, nil, VersionTLS12, 0},
		{"1.3 only", []uint16{VersionTLS13}, nil, VersionTLS13, 0},
		{"both", []uint16{VersionTLS13, VersionTLS12}, nil, VersionTLS13, 0},
		{"chacha20 1.3", nil, []uint16{tls.TLS_CHACHA20_POLY1305_SHA256}, VersionTLS13, tls.TLS_CHACHA20_POLY1305_SHA256},
		{"1.2 suite only", nil, []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384}, VersionTLS12, tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ccfg := clientConfig(t, func(o *ClientOptions) { o.Versions = tc.versions; o.CipherSuites = tc.suites })
			c, s := mustPair(t, scfg, ccfg)
			assert.Equal(t, tc.version, c.ConnectionState().Version)
			assert.Equal(t, tc.version, s.ConnectionState().Version)
			if tc.suite != 0 {
				assert.Equal(t, tc.suite, c.ConnectionState().CipherSuite)
				assert.Equal(t, tc.suite, s.ConnectionState().CipherSuite)
			}
		})
	}
	t.Run("Provider with CipherSuites narrows the provider", func(t *testing.T) {
		def, err := DefaultProvider()
		require.NoError(t, err)
		defer def.Close()
		p, err := def.WithCipherSuites(tls.TLS_AES_256_GCM_SHA384, tls.TLS_AES_128_GCM_SHA256)
		require.NoError(t, err)
		defer p.Close()
		ccfg := clientConfig(t, func(o *ClientOptions) { o.Provider = p; o.CipherSuites = []uint16{tls.TLS_AES_128_GCM_SHA256} })
		c, _ := mustPair(t, scfg, ccfg)
		assert.Equal(t, tls.TLS_AES_128_GCM_SHA256, c.ConnectionState().CipherSuite)
	})
}

func TestClientConfigECH(t *testing.T) {
	if !echAvailable() {
		// The ring provider has no HPKE suites: every ECH config is refused,
		// clearly.
		for _, o := range []ClientOptions{{ECHConfigList: []byte{0x00, 0x05, 1, 2, 3}}, {ECHGrease: true}} {
			o.RootCAs = sharedCAPEM(t)
			_, err := NewClientConfig(o)
			requireNoHPKE(t, err)
		}
		return
	}
	t.Run("invalid config list", func(t *testing.T) {
		_, err := NewClientConfig(ClientOptions{RootCAs: sharedCAPEM(t), ECHConfigList: []byte{0x00, 0x05, 1, 2, 3}})
		e := requireCode(t, err, CodeECHInvalidConfigList)
		assert.ErrorIs(t, err, ErrInvalidInput)
		assert.Contains(t, e.Error(), "ECH")
	})
	t.Run("GREASE", func(t *testing.T) {
		ccfg := clientConfig(t, func(o *ClientOptions) { o.ECHGrease = true })
		c, _ := mustPair(t, serverConfig(t, nil), ccfg)
		assert.Equal(t, uint16(VersionTLS13), c.ConnectionState().Version)

		conn, state := goServer(t, goTLSServerConfig(t))
		cs, err := NewConnector(ccfg, StreamOptions{}).Connect(testCtx(t), conn, "localhost")
		require.NoError(t, err, "a crypto/tls server ignores GREASE ECH")
		defer cs.Close()
		_, ok := <-state
		assert.True(t, ok)
	})
	t.Run("GREASE with TLS 1.3 listed", func(t *testing.T) {
		ccfg := clientConfig(t, func(o *ClientOptions) { o.ECHGrease = true; o.Versions = []uint16{VersionTLS13} })
		mustPair(t, serverConfig(t, nil), ccfg)
	})
}

func sharedCAPEM(t testing.TB) []byte {
	ca, _, _ := pki(t)
	return ca.certPEM
}

// errPinned is what the test verifier returns to refuse a server.
var errPinned = errors.New("certificate is not the pinned one")

func TestClientConfigDangerousVerifyPeerCertificate(t *testing.T) {
	ca, srv, _ := pki(t)
	scfg := serverConfig(t, nil)
	var mu sync.Mutex
	var gotName string
	var gotChain [][]byte
	accept := true
	ccfg, err := NewClientConfig(ClientOptions{DangerousVerifyPeerCertificate: func(name string, raw [][]byte, ocsp []byte) error {
		mu.Lock()
		defer mu.Unlock()
		gotName, gotChain = name, raw
		if !accept {
			return errPinned
		}
		return nil
	}})
	require.NoError(t, err)
	defer ccfg.Close()

	mustPair(t, scfg, ccfg)
	mu.Lock()
	assert.Equal(t, "localhost", gotName)
	require.Len(t, gotChain, 2)
	assert.True(t, bytes.Equal(srv.cert.Raw, gotChain[0]), "end entity first")
	assert.True(t, bytes.Equal(ca.cert.Raw, gotChain[1]))
	accept = false
	mu.Unlock()

	c, s := tryPair(t, scfg, ccfg, "example.test")
	require.Error(t, c.err)
	assert.ErrorIs(t, c.err, errPinned, "errors.Is reaches the verifier's error")
	assert.Equal(t, errPinned, errors.Unwrap(c.err))
	var e *Error
	require.ErrorAs(t, c.err, &e)
	assert.Equal(t, CodeCertApplicationFailure, e.Code)
	assert.ErrorIs(t, c.err, ErrCertificate)
	assert.Contains(t, c.err.Error(), errPinned.Error())
	assert.Error(t, s.err, "the server sees the client's alert")
	mu.Lock()
	assert.Equal(t, "example.test", gotName)
	mu.Unlock()

	t.Run("a panicking verifier refuses the server", func(t *testing.T) {
		cfg, err := NewClientConfig(ClientOptions{DangerousVerifyPeerCertificate: func(string, [][]byte, []byte) error {
			panic("verifier bug")
		}})
		require.NoError(t, err)
		defer cfg.Close()
		c, _ := tryPair(t, scfg, cfg, "localhost")
		requireCode(t, c.err, CodeCertApplicationFailure)
	})
	t.Run("verifier that checks with crypto/x509", func(t *testing.T) {
		cfg, err := NewClientConfig(ClientOptions{DangerousVerifyPeerCertificate: func(name string, raw [][]byte, _ []byte) error {
			leaf, err := x509.ParseCertificate(raw[0])
			if err != nil {
				return err
			}
			_, err = leaf.Verify(x509.VerifyOptions{Roots: ca.pool(), DNSName: name})
			return err
		}})
		require.NoError(t, err)
		defer cfg.Close()
		mustPair(t, scfg, cfg)
		c, _ := tryPair(t, scfg, cfg, "wrong.test")
		var hn x509.HostnameError
		assert.ErrorAs(t, c.err, &hn)
	})
}
