package rustls

import (
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// clientSideFailure returns the client's handshake error or, when a TLS 1.3
// client finished its handshake before the server rejected it, the error of
// its first Read (the server's alert).
func clientSideFailure(t testing.TB, c hsResult) error {
	t.Helper()
	if c.err != nil {
		return c.err
	}
	_, err := c.s.Read(make([]byte, 1))
	require.Error(t, err, "the client should learn that the server refused it")
	return err
}

func TestServerConfigCertificateFromPEMAndFiles(t *testing.T) {
	ca, srv, _ := pki(t)
	ccfg := clientConfig(t, nil)

	t.Run("pem", func(t *testing.T) {
		c, _ := mustPair(t, serverConfig(t, nil), ccfg)
		peer := c.ConnectionState().PeerCertificates
		require.Len(t, peer, 2, "the chain (leaf and CA) is served")
		assert.True(t, peer[0].Equal(srv.cert))
		assert.True(t, peer[1].Equal(ca.cert))
	})
	t.Run("files", func(t *testing.T) {
		certFile := writeTemp(t, "chain.pem", srv.certPEM)
		keyFile := writeTemp(t, "key.pem", srv.keyPEM)
		k, err := LoadCertifiedKey(certFile, keyFile)
		require.NoError(t, err)
		defer k.Close()
		assert.True(t, k.Leaf().Equal(srv.cert))
		scfg, err := NewServerConfig(ServerOptions{Certificates: []*CertifiedKey{k}})
		require.NoError(t, err)
		defer scfg.Close()
		c, _ := mustPair(t, scfg, ccfg)
		assert.True(t, c.ConnectionState().PeerCertificates[0].Equal(srv.cert))
	})
	t.Run("key closed after the config is built", func(t *testing.T) {
		k := srv.certifiedKey(t)
		scfg, err := NewServerConfig(ServerOptions{Certificates: []*CertifiedKey{k}})
		require.NoError(t, err)
		defer scfg.Close()
		require.NoError(t, k.Close())
		require.NoError(t, k.Close(), "Close is idempotent")
		mustPair(t, scfg, ccfg)
	})
}

// TestServerConfigKeyFormats loads keys in every PEM form rustls reads.
func TestServerConfigKeyFormats(t *testing.T) {
	ca := newTestCA(t, "key formats CA")
	ccfg := clientConfig(t, func(o *ClientOptions) { o.RootCAs = ca.certPEM })
	for _, tc := range []struct{ name, alg, form string }{
		{"ecdsa pkcs8", "p256", "pkcs8"},
		{"ecdsa sec1", "p256", "sec1"},
		{"ecdsa p384 sec1", "p384", "sec1"},
		{"rsa pkcs8", "rsa2048", "pkcs8"},
		{"rsa pkcs1", "rsa2048", "pkcs1"},
		{"ed25519 pkcs8", "ed25519", "pkcs8"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := ca.leaf(t, leafOpts{alg: tc.alg}, "localhost")
			keyPEM := reencodeKey(t, l.keyPEM, tc.form)
			k, err := NewCertifiedKey(l.certPEM, keyPEM)
			require.NoError(t, err)
			defer k.Close()
			scfg, err := NewServerConfig(ServerOptions{Certificates: []*CertifiedKey{k}})
			require.NoError(t, err)
			defer scfg.Close()
			c, _ := mustPair(t, scfg, ccfg)
			assert.True(t, c.ConnectionState().PeerCertificates[0].Equal(l.cert))
		})
	}
}

// reencodeKey turns a PKCS#8 PEM key into the PEM form named by form.
func reencodeKey(t testing.TB, pkcs8PEM []byte, form string) []byte {
	t.Helper()
	blk, _ := pem.Decode(pkcs8PEM)
	key, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	require.NoError(t, err)
	switch form {
	case "pkcs8":
		return pkcs8PEM
	case "sec1":
		der, err := x509.MarshalECPrivateKey(key.(*ecdsa.PrivateKey))
		require.NoError(t, err)
		return pemBlock("EC PRIVATE KEY", der)
	case "pkcs1":
		return pemBlock("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(key.(*rsa.PrivateKey)))
	}
	t.Fatalf("unknown key form %q", form)
	return nil
}

// TestServerConfigPicksCertificateBySignatureScheme serves an ECDSA and an
// RSA certificate from one config: rustls picks the first whose key suits
// what the client can verify.
func TestServerConfigPicksCertificateBySignatureScheme(t *testing.T) {
	ca := newTestCA(t, "two keys CA")
	ec := ca.leaf(t, leafOpts{alg: "p256"}, "localhost")
	rs := ca.leaf(t, leafOpts{alg: "rsa2048"}, "localhost")
	ecKey, rsKey := ec.certifiedKey(t), rs.certifiedKey(t)
	build := func(keys ...*CertifiedKey) *ServerConfig {
		scfg, err := NewServerConfig(ServerOptions{Certificates: keys})
		require.NoError(t, err)
		t.Cleanup(func() { scfg.Close() })
		return scfg
	}
	ecFirst, rsaFirst := build(ecKey, rsKey), build(rsKey, ecKey)
	goClient := func(suites ...uint16) *tls.Config {
		cfg := &tls.Config{RootCAs: ca.pool(), ServerName: "localhost"}
		if len(suites) > 0 {
			cfg.MaxVersion = tls.VersionTLS12
			cfg.CipherSuites = suites
		}
		return cfg
	}
	for _, tc := range []struct {
		name    string
		scfg    *ServerConfig
		gcfg    *tls.Config
		wantRSA bool
		suite   uint16
	}{
		{"TLS 1.2 ECDHE_RSA only gets the RSA certificate", ecFirst, goClient(tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256), true, tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256},
		{"TLS 1.2 ECDHE_ECDSA only gets the ECDSA certificate", rsaFirst, goClient(tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384), false, tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384},
		{"TLS 1.3 gets the first certificate (ECDSA)", ecFirst, goClient(), false, 0},
		{"TLS 1.3 gets the first certificate (RSA)", rsaFirst, goClient(), true, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := goClientToServer(t, tc.scfg, tc.gcfg)
			require.NoError(t, r.clientErr)
			require.NoError(t, r.serverErr)
			leaf := r.state.PeerCertificates[0]
			_, isRSA := leaf.PublicKey.(*rsa.PublicKey)
			assert.Equal(t, tc.wantRSA, isRSA, "leaf key type %T", leaf.PublicKey)
			if tc.wantRSA {
				assert.True(t, leaf.Equal(rs.cert))
			} else {
				assert.True(t, leaf.Equal(ec.cert))
			}
			if tc.suite != 0 {
				assert.Equal(t, tc.suite, r.state.CipherSuite)
				assert.Equal(t, tc.suite, r.server.ConnectionState().CipherSuite)
			}
		})
	}
}

func TestServerConfigClientAuth(t *testing.T) {
	ca, _, cli := pki(t)
	other := newTestCA(t, "unknown client CA")
	stranger := other.leaf(t, leafOpts{client: true})
	revokedCA := newTestCA(t, "revoking CA")
	revoked := revokedCA.leaf(t, leafOpts{client: true})
	good := revokedCA.leaf(t, leafOpts{client: true})
	crl := revokedCA.crl(t, revoked.cert)
	caFile := writeTemp(t, "client-ca.pem", ca.certPEM)

	withCert := func(l *testLeaf) *ClientConfig {
		return clientConfig(t, func(o *ClientOptions) { o.Certificate = l.certifiedKey(t) })
	}
	noCert := clientConfig(t, nil)

	t.Run("none: no certificate is asked for", func(t *testing.T) {
		_, s := mustPair(t, serverConfig(t, nil), withCert(cli))
		assert.Empty(t, s.ConnectionState().PeerCertificates)
	})
	t.Run("optional without a certificate", func(t *testing.T) {
		scfg := serverConfig(t, func(o *ServerOptions) { o.ClientAuth = VerifyClientCertIfGiven; o.ClientCAs = ca.certPEM })
		_, s := mustPair(t, scfg, noCert)
		assert.Empty(t, s.ConnectionState().PeerCertificates)
	})
	t.Run("optional with a certificate", func(t *testing.T) {
		scfg := serverConfig(t, func(o *ServerOptions) { o.ClientAuth = VerifyClientCertIfGiven; o.ClientCAs = ca.certPEM })
		_, s := mustPair(t, scfg, withCert(cli))
		peer := s.ConnectionState().PeerCertificates
		require.NotEmpty(t, peer)
		assert.True(t, peer[0].Equal(cli.cert))
	})
	t.Run("optional refuses a certificate from an unknown CA", func(t *testing.T) {
		scfg := serverConfig(t, func(o *ServerOptions) { o.ClientAuth = VerifyClientCertIfGiven; o.ClientCAs = ca.certPEM })
		c, s := tryPair(t, scfg, withCert(stranger), "localhost")
		requireCode(t, s.err, CodeCertUnknownIssuer)
		assert.ErrorIs(t, s.err, ErrCertificate)
		assert.ErrorIs(t, clientSideFailure(t, c), ErrAlertReceived)
	})
	t.Run("required with a certificate from ClientCAFiles", func(t *testing.T) {
		scfg := serverConfig(t, func(o *ServerOptions) { o.ClientAuth = RequireAndVerifyClientCert; o.ClientCAFiles = []string{caFile} })
		_, s := mustPair(t, scfg, withCert(cli))
		assert.True(t, s.ConnectionState().PeerCertificates[0].Equal(cli.cert))
	})
	t.Run("required without a certificate", func(t *testing.T) {
		scfg := serverConfig(t, func(o *ServerOptions) { o.ClientAuth = RequireAndVerifyClientCert; o.ClientCAs = ca.certPEM })
		c, s := tryPair(t, scfg, noCert, "localhost")
		requireCode(t, s.err, CodeNoCertificatesPresented)
		cerr := clientSideFailure(t, c)
		e := requireCode(t, cerr, CodeAlertCertificateRequired)
		n, ok := e.Alert()
		assert.True(t, ok)
		assert.Equal(t, uint8(116), n, "certificate_required")
	})
	t.Run("required with a crypto/tls client certificate", func(t *testing.T) {
		scfg := serverConfig(t, func(o *ServerOptions) { o.ClientAuth = RequireAndVerifyClientCert; o.ClientCAs = ca.certPEM })
		g := goTLSClientConfig(t)
		g.Certificates = []tls.Certificate{cli.tlsCert(t)}
		r := goClientToServer(t, scfg, g)
		require.NoError(t, r.clientErr)
		require.NoError(t, r.serverErr)
		assert.True(t, r.server.ConnectionState().PeerCertificates[0].Equal(cli.cert))
	})
	t.Run("CRL: a revoked client certificate is refused", func(t *testing.T) {
		scfg := serverConfig(t, func(o *ServerOptions) {
			o.ClientAuth = RequireAndVerifyClientCert
			o.ClientCAs = revokedCA.certPEM
			o.ClientCRLs = [][]byte{crl}
		})
		c, s := tryPair(t, scfg, clientConfig(t, func(o *ClientOptions) { o.Certificate = revoked.certifiedKey(t) }), "localhost")
		requireCode(t, s.err, CodeCertRevoked)
		assert.ErrorIs(t, s.err, ErrCertificate)
		e := requireCode(t, clientSideFailure(t, c), CodeAlertCertificateRevoked)
		assert.ErrorIs(t, e, ErrAlertReceived)

		// The same config accepts a certificate the CRL does not list.
		_, s2 := mustPair(t, scfg, clientConfig(t, func(o *ClientOptions) { o.Certificate = good.certifiedKey(t) }))
		assert.True(t, s2.ConnectionState().PeerCertificates[0].Equal(good.cert))
	})
	t.Run("String", func(t *testing.T) {
		assert.Equal(t, "none", NoClientCert.String())
		assert.Equal(t, "optional", VerifyClientCertIfGiven.String())
		assert.Equal(t, "required", RequireAndVerifyClientCert.String())
		assert.Equal(t, "ClientAuth(9)", ClientAuth(9).String())
	})
}

func TestServerConfigALPN(t *testing.T) {
	scfg := serverConfig(t, func(o *ServerOptions) { o.NextProtos = []string{"h2", "http/1.1"} })
	assert.Equal(t, []string{"h2", "http/1.1"}, scfg.NextProtos())
	got := scfg.NextProtos()
	got[0] = "changed"
	assert.Equal(t, []string{"h2", "http/1.1"}, scfg.NextProtos(), "NextProtos returns a copy")

	t.Run("server preference wins", func(t *testing.T) {
		c, s := mustPair(t, scfg, clientConfig(t, func(o *ClientOptions) { o.NextProtos = []string{"http/1.1", "h2"} }))
		assert.Equal(t, "h2", c.ConnectionState().NegotiatedProtocol)
		assert.Equal(t, "h2", s.ConnectionState().NegotiatedProtocol)
	})
	t.Run("single common protocol", func(t *testing.T) {
		c, s := mustPair(t, scfg, clientConfig(t, func(o *ClientOptions) { o.NextProtos = []string{"spdy/3", "http/1.1"} }))
		assert.Equal(t, "http/1.1", c.ConnectionState().NegotiatedProtocol)
		assert.Equal(t, "http/1.1", s.ConnectionState().NegotiatedProtocol)
	})
	t.Run("client offers none", func(t *testing.T) {
		c, s := mustPair(t, scfg, clientConfig(t, nil))
		assert.Empty(t, c.ConnectionState().NegotiatedProtocol)
		assert.Empty(t, s.ConnectionState().NegotiatedProtocol)
	})
	t.Run("no common protocol", func(t *testing.T) {
		c, s := tryPair(t, scfg, clientConfig(t, func(o *ClientOptions) { o.NextProtos = []string{"imap"} }), "localhost")
		requireCode(t, s.err, CodeNoApplicationProtocol)
		requireCode(t, clientSideFailure(t, c), CodeAlertNoApplicationProto)
	})
	t.Run("crypto/tls client", func(t *testing.T) {
		g := goTLSClientConfig(t)
		g.NextProtos = []string{"http/1.1"}
		r := goClientToServer(t, scfg, g)
		require.NoError(t, r.clientErr)
		assert.Equal(t, "http/1.1", r.state.NegotiatedProtocol)
	})
}

func TestServerConfigVersions(t *testing.T) {
	both := []uint16{VersionTLS12, VersionTLS13}
	for _, tc := range []struct {
		name           string
		server, client []uint16
		want           uint16
	}{
		{"server 1.2 only", []uint16{VersionTLS12}, nil, VersionTLS12},
		{"server 1.3 only", []uint16{VersionTLS13}, nil, VersionTLS13},
		{"server both", both, nil, VersionTLS13},
		{"server default", nil, nil, VersionTLS13},
		{"server both, client 1.2", both, []uint16{VersionTLS12}, VersionTLS12},
	} {
		t.Run(tc.name, func(t *testing.T) {
			scfg := serverConfig(t, func(o *ServerOptions) { o.Versions = tc.server })
			ccfg := clientConfig(t, func(o *ClientOptions) { o.Versions = tc.client })
			c, s := mustPair(t, scfg, ccfg)
			assert.Equal(t, tc.want, c.ConnectionState().Version)
			assert.Equal(t, tc.want, s.ConnectionState().Version)
		})
	}
	t.Run("crypto/tls client against a 1.2-only server", func(t *testing.T) {
		r := goClientToServer(t, serverConfig(t, func(o *ServerOptions) { o.Versions = []uint16{VersionTLS12} }), goTLSClientConfig(t))
		require.NoError(t, r.clientErr)
		assert.Equal(t, uint16(VersionTLS12), r.state.Version)
	})
	t.Run("no common version", func(t *testing.T) {
		scfg := serverConfig(t, func(o *ServerOptions) { o.Versions = []uint16{VersionTLS13} })
		ccfg := clientConfig(t, func(o *ClientOptions) { o.Versions = []uint16{VersionTLS12} })
		c, s := tryPair(t, scfg, ccfg, "localhost")
		requireCode(t, s.err, CodePeerIncompatible)
		assert.ErrorIs(t, s.err, ErrProtocol)
		e := requireCode(t, c.err, CodeAlertProtocolVersion)
		assert.ErrorIs(t, e, ErrAlertReceived)
	})
}

func TestServerConfigCipherSuites(t *testing.T) {
	t.Run("TLS 1.3 suite by ID", func(t *testing.T) {
		scfg := serverConfig(t, func(o *ServerOptions) { o.CipherSuites = []uint16{tls.TLS_AES_256_GCM_SHA384} })
		c, s := mustPair(t, scfg, clientConfig(t, nil))
		assert.Equal(t, tls.TLS_AES_256_GCM_SHA384, c.ConnectionState().CipherSuite)
		assert.Equal(t, tls.TLS_AES_256_GCM_SHA384, s.ConnectionState().CipherSuite)
		assert.Equal(t, "TLS13_AES_256_GCM_SHA384", s.CipherSuiteName())
	})
	t.Run("TLS 1.2 suite with a restricted Provider", func(t *testing.T) {
		def, err := DefaultProvider()
		require.NoError(t, err)
		defer def.Close()
		p, err := def.WithCipherSuites(tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256)
		require.NoError(t, err)
		suites := p.CipherSuites()
		require.Len(t, suites, 1)
		assert.Equal(t, CipherSuite{ID: tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
			Name: "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", Version: VersionTLS12}, suites[0])
		scfg := serverConfig(t, func(o *ServerOptions) { o.Provider = p })
		require.NoError(t, p.Close(), "the config keeps its own reference")
		c, s := mustPair(t, scfg, clientConfig(t, nil))
		assert.Equal(t, uint16(VersionTLS12), c.ConnectionState().Version)
		assert.Equal(t, tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, s.ConnectionState().CipherSuite)
		assert.Equal(t, "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", c.CipherSuiteName())
	})
	t.Run("no common suite", func(t *testing.T) {
		scfg := serverConfig(t, func(o *ServerOptions) { o.CipherSuites = []uint16{tls.TLS_AES_256_GCM_SHA384} })
		ccfg := clientConfig(t, func(o *ClientOptions) { o.CipherSuites = []uint16{tls.TLS_AES_128_GCM_SHA256} })
		c, s := tryPair(t, scfg, ccfg, "localhost")
		// rustls narrows the client's signature schemes to those usable with
		// the suites both sides share; with none shared no certificate
		// resolves, and rustls answers access_denied.
		requireCode(t, s.err, CodeGeneral)
		e := requireCode(t, c.err, codeAlertAccessDenied)
		assert.ErrorIs(t, e, ErrAlertReceived)
		n, _ := e.Alert()
		assert.Equal(t, uint8(49), n, "access_denied")
	})
}

func TestServerConfigCipherOrder(t *testing.T) {
	// The client prefers AES-128, the server AES-256.
	ccfg := clientConfig(t, func(o *ClientOptions) {
		o.CipherSuites = []uint16{tls.TLS_AES_128_GCM_SHA256, tls.TLS_AES_256_GCM_SHA384}
	})
	serverOrder := []uint16{tls.TLS_AES_256_GCM_SHA384, tls.TLS_AES_128_GCM_SHA256}
	for _, tc := range []struct {
		name string
		mod  func(*ServerOptions)
		want uint16
	}{
		{"default: the server's order", func(*ServerOptions) {}, tls.TLS_AES_256_GCM_SHA384},
		{"deprecated IgnoreClientOrder", func(o *ServerOptions) { o.IgnoreClientOrder = true }, tls.TLS_AES_256_GCM_SHA384},
		{"PreferClientCipherOrder", func(o *ServerOptions) { o.PreferClientCipherOrder = true }, tls.TLS_AES_128_GCM_SHA256},
	} {
		scfg := serverConfig(t, func(o *ServerOptions) { o.CipherSuites = serverOrder; tc.mod(o) })
		c, s := mustPair(t, scfg, ccfg)
		assert.Equal(t, tc.want, c.ConnectionState().CipherSuite, tc.name)
		assert.Equal(t, tc.want, s.ConnectionState().CipherSuite, tc.name)
	}
	_, srv, _ := pki(t)
	_, err := NewServerConfig(ServerOptions{Certificates: []*CertifiedKey{srv.certifiedKey(t)},
		IgnoreClientOrder: true, PreferClientCipherOrder: true})
	assert.ErrorIs(t, err, ErrInvalidInput)
}

// TestServerDefaultCipherOrderTLS12: with the default provider order, a
// TLS 1.2 client gets the server's first choice whichever order it lists
// the suites in, which is how TLS scanners test for a server order.
func TestServerDefaultCipherOrderTLS12(t *testing.T) {
	scfg := serverConfig(t, nil)
	fwd := []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384}
	rev := []uint16{fwd[2], fwd[1], fwd[0]}
	for _, list := range [][]uint16{fwd, rev} {
		ccfg := clientConfig(t, func(o *ClientOptions) { o.Versions = []uint16{VersionTLS12}; o.CipherSuites = list })
		c, s := mustPair(t, scfg, ccfg)
		assert.Equal(t, tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, c.ConnectionState().CipherSuite, "client order %x", list)
		assert.Equal(t, tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, s.ConnectionState().CipherSuite, "client order %x", list)
	}
	// crypto/tls clients list AES-128-GCM first.
	r := goClientToServer(t, scfg, goTLSClientConfig(t))
	require.NoError(t, r.clientErr)
	assert.Equal(t, tls.TLS_AES_256_GCM_SHA384, r.state.CipherSuite)
}

// codeAlertAccessDenied is rustls-ffi's code for a received access_denied.
const codeAlertAccessDenied Code = 7215

// TestServerConfigNoSuitableCertificate: a server whose only key is Ed25519
// cannot serve a TLS 1.2 client limited to ECDHE_RSA suites; both sides get
// a clear error and nothing hangs.
func TestServerConfigNoSuitableCertificate(t *testing.T) {
	ca := newTestCA(t, "ed25519 CA")
	l := ca.leaf(t, leafOpts{alg: "ed25519"}, "localhost")
	scfg, err := NewServerConfig(ServerOptions{Certificates: []*CertifiedKey{l.certifiedKey(t)}})
	require.NoError(t, err)
	defer scfg.Close()
	g := &tls.Config{RootCAs: ca.pool(), ServerName: "localhost", MaxVersion: tls.VersionTLS12,
		CipherSuites: []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256}}
	r := goClientToServer(t, scfg, g)
	require.Error(t, r.clientErr)
	assert.Contains(t, r.clientErr.Error(), "access denied")
	requireCode(t, r.serverErr, CodeGeneral)
}

// errNoSuchSite is what the test's GetCertificate returns for unknown names.
var errNoSuchSite = errors.New("no certificate for this site")

// TestServerConfigGetCertificate picks the certificate per connection from
// the ClientHello.
func TestServerConfigGetCertificate(t *testing.T) {
	ca := newTestCA(t, "SNI CA")
	a := ca.leaf(t, leafOpts{}, "a.test")
	b := ca.leaf(t, leafOpts{alg: "ed25519"}, "b.test")
	keyA, keyB := a.certifiedKey(t), b.certifiedKey(t)
	var mu sync.Mutex
	var seen []*ClientHello
	scfg, err := NewServerConfig(ServerOptions{NextProtos: []string{"h2"}, GetCertificate: func(h *ClientHello) (*CertifiedKey, error) {
		mu.Lock()
		seen = append(seen, h)
		mu.Unlock()
		switch h.ServerName {
		case "a.test":
			return keyA, nil
		case "b.test":
			return keyB, nil
		case "nil.test":
			return nil, nil
		case "panic.test":
			panic("GetCertificate bug")
		}
		return nil, errNoSuchSite
	}})
	require.NoError(t, err)
	defer scfg.Close()
	ccfg := clientConfig(t, func(o *ClientOptions) { o.RootCAs = ca.certPEM; o.NextProtos = []string{"h2", "x"} })

	for _, tc := range []struct {
		name string
		leaf *testLeaf
	}{{"a.test", a}, {"b.test", b}} {
		c, s := tryPair(t, scfg, ccfg, tc.name)
		require.NoError(t, c.err)
		require.NoError(t, s.err)
		pingPong(t, c.s, s.s)
		assert.True(t, c.s.ConnectionState().PeerCertificates[0].Equal(tc.leaf.cert))
		assert.Equal(t, tc.name, s.s.ConnectionState().ServerName)
	}
	mu.Lock()
	require.Len(t, seen, 2)
	assert.Equal(t, []string{"h2", "x"}, seen[0].ALPN)
	assert.NotEmpty(t, seen[0].SignatureSchemes)
	mu.Unlock()

	t.Run("an error refuses the connection and is reachable", func(t *testing.T) {
		c, s := tryPair(t, scfg, ccfg, "unknown.test")
		require.Error(t, s.err)
		assert.ErrorIs(t, s.err, errNoSuchSite)
		var e *Error
		require.ErrorAs(t, s.err, &e)
		assert.Error(t, c.err)
		assert.ErrorIs(t, c.err, ErrAlertReceived)
	})
	for _, name := range []string{"nil.test", "panic.test"} {
		t.Run(name, func(t *testing.T) {
			c, s := tryPair(t, scfg, ccfg, name)
			var e *Error
			require.ErrorAs(t, s.err, &e)
			assert.ErrorIs(t, c.err, ErrAlertReceived)
		})
	}
}
