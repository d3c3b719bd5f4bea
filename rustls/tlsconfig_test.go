package rustls

//lint:file-ignore SA1019 deprecated tls.Config fields are read on purpose, to refuse what cannot be carried over.

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func requireFieldErr(t *testing.T, err error, field string) {
	t.Helper()
	require.Error(t, err)
	assert.ErrorIs(t, err, ErrInvalidInput)
	assert.Contains(t, err.Error(), field)
}

func TestServerConfigFromTLSRefusedFields(t *testing.T) {
	_, srv, _ := pki(t)
	cert := srv.tlsCert(t)
	base := func() *tls.Config { return &tls.Config{Certificates: []tls.Certificate{cert}} }
	for _, tc := range []struct {
		field string
		mod   func(*tls.Config)
	}{
		{"Rand", func(c *tls.Config) { c.Rand = bytes.NewReader(nil) }},
		{"Time", func(c *tls.Config) { c.Time = time.Now }},
		{"VerifyPeerCertificate", func(c *tls.Config) {
			c.VerifyPeerCertificate = func([][]byte, [][]*x509.Certificate) error { return nil }
		}},
		{"SessionTicketKey", func(c *tls.Config) { c.SessionTicketKey[0] = 1 }},
		{"WrapSession", func(c *tls.Config) {
			c.WrapSession = func(tls.ConnectionState, *tls.SessionState) ([]byte, error) { return nil, nil }
		}},
		{"CurvePreferences", func(c *tls.Config) { c.CurvePreferences = []tls.CurveID{tls.X25519} }},
		{"Renegotiation", func(c *tls.Config) { c.Renegotiation = tls.RenegotiateOnceAsClient }},
		{"EncryptedClientHelloKeys", func(c *tls.Config) { c.EncryptedClientHelloKeys = []tls.EncryptedClientHelloKey{{}} }},
		{"NameToCertificate", func(c *tls.Config) { c.NameToCertificate = map[string]*tls.Certificate{} }},
		{"InsecureSkipVerify", func(c *tls.Config) { c.InsecureSkipVerify = true }},
		{"ClientAuth", func(c *tls.Config) { c.ClientAuth = tls.RequestClientCert }},
		{"ClientAuth", func(c *tls.Config) { c.ClientAuth = tls.RequireAnyClientCert }},
		{"ClientAuth", func(c *tls.Config) { c.ClientAuth = tls.RequireAndVerifyClientCert }}, // no ClientCAs
		{"ClientCAs", func(c *tls.Config) { c.ClientAuth = tls.VerifyClientCertIfGiven; c.ClientCAs = x509.NewCertPool() }},
		{"MaxVersion", func(c *tls.Config) { c.MaxVersion = tls.VersionTLS11 }},
		{"GetConfigForClient", func(c *tls.Config) {
			c.GetConfigForClient = func(*tls.ClientHelloInfo) (*tls.Config, error) { return nil, nil }
		}},
		{"Certificates", func(c *tls.Config) { c.Certificates = nil }},
		{"CipherSuites", func(c *tls.Config) {
			c.MaxVersion = tls.VersionTLS12
			c.CipherSuites = []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA}
		}},
	} {
		c := base()
		tc.mod(c)
		_, err := ServerConfigFromTLS(c, nil)
		requireFieldErr(t, err, tc.field)
	}
	_, err := ServerConfigFromTLS(nil, nil)
	assert.ErrorIs(t, err, ErrInvalidInput)
	// ClientCAs without client authentication is unused, as in crypto/tls.
	c := base()
	c.ClientCAs = x509.NewCertPool()
	sc, err := ServerConfigFromTLS(c, nil)
	require.NoError(t, err)
	sc.Close()
}

func TestClientConfigFromTLSRefusedFields(t *testing.T) {
	for _, tc := range []struct {
		field string
		mod   func(*tls.Config)
	}{
		{"InsecureSkipVerify", func(c *tls.Config) { c.InsecureSkipVerify = true }},
		{"GetClientCertificate", func(c *tls.Config) {
			c.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return nil, nil }
		}},
		{"Certificates", func(c *tls.Config) { c.Certificates = make([]tls.Certificate, 2) }},
		{"ClientAuth", func(c *tls.Config) { c.ClientAuth = tls.RequireAndVerifyClientCert }},
		{"GetCertificate", func(c *tls.Config) {
			c.GetCertificate = func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return nil, nil }
		}},
		{"RootCAs", func(c *tls.Config) { c.RootCAs = x509.NewCertPool() }},
		{"EncryptedClientHelloRejectionVerify", func(c *tls.Config) {
			c.EncryptedClientHelloRejectionVerify = func(tls.ConnectionState) error { return nil }
		}},
		{"Renegotiation", func(c *tls.Config) { c.Renegotiation = tls.RenegotiateFreelyAsClient }},
		{"SessionTicketsDisabled", func(c *tls.Config) { c.SessionTicketsDisabled = true }},
	} {
		c := &tls.Config{}
		tc.mod(c)
		_, err := ClientConfigFromTLS(c, nil)
		requireFieldErr(t, err, tc.field)
	}
	_, err := ClientConfigFromTLS(nil, nil)
	assert.ErrorIs(t, err, ErrInvalidInput)
}

func TestFromTLSRootPEMMustMatchPool(t *testing.T) {
	ca, _, _ := pki(t)
	other := newTestCA(t, "other CA")
	_, err := ClientConfigFromTLS(&tls.Config{RootCAs: ca.pool()}, &FromTLSOptions{RootCAsPEM: other.certPEM})
	requireFieldErr(t, err, "RootCAs")
	_, err = ClientConfigFromTLS(&tls.Config{RootCAs: ca.pool()}, &FromTLSOptions{RootCAsPEM: []byte("not pem")})
	var e *Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, CodeCertificateParse, e.Code)
	_, err = ServerConfigFromTLS(&tls.Config{Certificates: []tls.Certificate{sharedServer.tlsCert(t)},
		ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: ca.pool()}, &FromTLSOptions{ClientCAsPEM: other.certPEM})
	requireFieldErr(t, err, "ClientCAs")
	// The system pool needs no PEM.
	sys, err := x509.SystemCertPool()
	require.NoError(t, err)
	c, err := ClientConfigFromTLS(&tls.Config{RootCAs: sys}, nil)
	require.NoError(t, err)
	c.Close()
}

// goServerFor runs a crypto/tls server with gcfg for one connection.
func goServerFor(t *testing.T, gcfg *tls.Config) (net.Conn, <-chan tls.ConnectionState) {
	cc, sc := tcpPair(t)
	ch := make(chan tls.ConnectionState, 1)
	go func() {
		defer sc.Close()
		s := tls.Server(sc, gcfg)
		if err := s.HandshakeContext(testCtx(t)); err != nil {
			close(ch)
			return
		}
		ch <- s.ConnectionState()
		_, _ = io.Copy(io.Discard, s)
	}()
	t.Cleanup(func() { cc.Close() })
	return cc, ch
}

func TestClientConfigFromTLSCarriesFields(t *testing.T) {
	ca, srv, cli := pki(t)
	var keylog bytes.Buffer
	gc := &tls.Config{
		RootCAs:      ca.pool(),
		Certificates: []tls.Certificate{cli.tlsCert(t)},
		NextProtos:   []string{"b", "a"},
		MinVersion:   tls.VersionTLS12,
		MaxVersion:   tls.VersionTLS12,
		CipherSuites: []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305},
		KeyLogWriter: &keylog,
		ServerName:   "example.test",
		// Accepted and ignored: rustls keeps its own cache.
		ClientSessionCache: tls.NewLRUClientSessionCache(4),
	}
	d, err := DialerFromTLS(gc, &FromTLSOptions{RootCAsPEM: ca.certPEM})
	require.NoError(t, err)
	defer d.Config.Close()
	assert.Equal(t, "example.test", d.ServerName)
	assert.Equal(t, []string{"b", "a"}, d.Config.NextProtos())

	var seenClientCert atomic.Bool
	conn, state := goServerFor(t, &tls.Config{
		Certificates: []tls.Certificate{srv.tlsCert(t)},
		NextProtos:   []string{"a", "b"},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    ca.pool(),
		VerifyConnection: func(cs tls.ConnectionState) error {
			seenClientCert.Store(len(cs.PeerCertificates) > 0)
			return nil
		},
	})
	s, err := NewConnector(d.Config, StreamOptions{}).Connect(testCtx(t), conn, d.ServerName)
	require.NoError(t, err)
	defer s.Close()
	st := <-state
	assert.Equal(t, uint16(tls.VersionTLS12), st.Version)                       // MaxVersion
	assert.Equal(t, tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305, st.CipherSuite) // CipherSuites
	assert.Equal(t, "a", st.NegotiatedProtocol)                                 // NextProtos (server's order)
	assert.Equal(t, "example.test", st.ServerName)                              // ServerName
	assert.True(t, seenClientCert.Load())                                       // Certificates
	assert.Contains(t, keylog.String(), "CLIENT_RANDOM ")                       // KeyLogWriter

	// Without RootCAs the system roots are used: our private CA is unknown.
	sysCfg, err := ClientConfigFromTLS(&tls.Config{}, nil)
	require.NoError(t, err)
	defer sysCfg.Close()
	conn2, _ := goServerFor(t, &tls.Config{Certificates: []tls.Certificate{srv.tlsCert(t)}})
	_, err = NewConnector(sysCfg, StreamOptions{}).Connect(testCtx(t), conn2, "localhost")
	assert.ErrorIs(t, err, ErrCertificate)
}

func TestServerConfigFromTLSCarriesFields(t *testing.T) {
	ca, srv, cli := pki(t)
	var keylog bytes.Buffer
	scfg, err := ServerConfigFromTLS(&tls.Config{
		Certificates: []tls.Certificate{srv.tlsCert(t)},
		ClientAuth:   tls.VerifyClientCertIfGiven,
		ClientCAs:    ca.pool(),
		NextProtos:   []string{"h2", "http/1.1"},
		MinVersion:   tls.VersionTLS13,
		KeyLogWriter: &keylog,
		// Accepted and ignored.
		PreferServerCipherSuites:    true,
		DynamicRecordSizingDisabled: true,
	}, &FromTLSOptions{ClientCAsPEM: ca.certPEM})
	require.NoError(t, err)
	defer scfg.Close()

	for _, withCert := range []bool{true, false} {
		gcfg := &tls.Config{RootCAs: ca.pool(), ServerName: "localhost", NextProtos: []string{"http/1.1", "h2"}, MaxVersion: tls.VersionTLS12}
		if withCert {
			gcfg.Certificates = []tls.Certificate{cli.tlsCert(t)}
		}
		r := goClientToServer(t, scfg, gcfg)
		require.Error(t, r.clientErr, "MinVersion TLS 1.3 must refuse a TLS 1.2-only client")
		gcfg.MaxVersion = 0
		r = goClientToServer(t, scfg, gcfg)
		require.NoError(t, r.clientErr)
		assert.Equal(t, uint16(tls.VersionTLS13), r.state.Version)
		assert.Equal(t, "h2", r.state.NegotiatedProtocol)
		assert.Equal(t, withCert, len(r.server.ConnectionState().PeerCertificates) > 0)
	}
	assert.Contains(t, keylog.String(), "SERVER_HANDSHAKE_TRAFFIC_SECRET ")

	// A client certificate from another CA is never accepted: crypto/tls
	// does not even send it (the server names its CAs), so the connection
	// goes on without one.
	other := newTestCA(t, "other CA").leaf(t, leafOpts{client: true})
	r := goClientToServer(t, scfg, &tls.Config{RootCAs: ca.pool(), ServerName: "localhost", Certificates: []tls.Certificate{other.tlsCert(t)}})
	if firstErr(r.clientErr, r.serverErr) == nil {
		assert.Empty(t, r.server.ConnectionState().PeerCertificates)
	}
}

func TestServerConfigFromTLSGetCertificate(t *testing.T) {
	ca := newTestCA(t, "GetCertificate CA")
	certs := map[string]tls.Certificate{}
	for _, n := range []string{"a.test", "b.test"} {
		certs[n] = ca.leaf(t, leafOpts{}, n).tlsCert(t)
	}
	var calls atomic.Int32
	var lastInfo atomic.Pointer[tls.ClientHelloInfo]
	ptrs := map[string]*tls.Certificate{}
	for n, c := range certs {
		ptrs[n] = &c
	}
	scfg, err := ServerConfigFromTLS(&tls.Config{GetCertificate: func(h *tls.ClientHelloInfo) (*tls.Certificate, error) {
		calls.Add(1)
		lastInfo.Store(h)
		if c, ok := ptrs[h.ServerName]; ok {
			return c, nil
		}
		return nil, fmt.Errorf("no certificate for %q", h.ServerName)
	}}, nil)
	require.NoError(t, err)
	defer scfg.Close()
	for _, n := range []string{"a.test", "b.test", "a.test"} {
		r := goClientToServer(t, scfg, &tls.Config{RootCAs: ca.pool(), ServerName: n, NextProtos: []string{"p"}})
		require.NoError(t, r.clientErr)
		assert.Equal(t, []string{n}, r.state.PeerCertificates[0].DNSNames)
		assert.Equal(t, []string{"p"}, lastInfo.Load().SupportedProtos)
		assert.NotEmpty(t, lastInfo.Load().SignatureSchemes)
	}
	assert.Equal(t, int32(3), calls.Load())
	r := goClientToServer(t, scfg, &tls.Config{RootCAs: ca.pool(), ServerName: "c.test"})
	require.Error(t, r.clientErr)
}

func TestLazyAcceptorFromTLS(t *testing.T) {
	ca := newTestCA(t, "lazy tls CA")
	a := ca.leaf(t, leafOpts{}, "a.test").tlsCert(t)
	b := ca.leaf(t, leafOpts{}, "b.test").tlsCert(t)
	special := ca.leaf(t, leafOpts{}, "special.test").tlsCert(t)
	var forClient atomic.Int32
	specialCfg := &tls.Config{Certificates: []tls.Certificate{special}, NextProtos: []string{"special"}}
	base := &tls.Config{
		Certificates: []tls.Certificate{a, b}, // chosen by name, as crypto/tls does
		NextProtos:   []string{"h2"},
		GetConfigForClient: func(h *tls.ClientHelloInfo) (*tls.Config, error) {
			forClient.Add(1)
			switch h.ServerName {
			case "special.test":
				return specialCfg, nil
			case "evil.test":
				return nil, errors.New("go away")
			}
			return nil, nil
		},
	}
	la, err := LazyAcceptorFromTLS(base, &FromTLSOptions{Options: StreamOptions{WriteThrough: true}})
	require.NoError(t, err)
	ccfg, err := NewClientConfig(ClientOptions{RootCAs: ca.certPEM, NextProtos: []string{"h2", "special"}})
	require.NoError(t, err)
	defer ccfg.Close()
	for _, tc := range []struct{ name, alpn string }{{"a.test", "h2"}, {"b.test", "h2"}, {"special.test", "special"}, {"b.test", "h2"}} {
		conn, res := lazyServe(t, la)
		c, err := NewConnector(ccfg, StreamOptions{WriteThrough: true}).Connect(testCtx(t), conn, tc.name)
		require.NoError(t, err, tc.name)
		assert.Equal(t, []string{tc.name}, c.ConnectionState().PeerCertificates[0].DNSNames)
		assert.Equal(t, tc.alpn, c.ConnectionState().NegotiatedProtocol)
		_, err = c.Write([]byte("z"))
		require.NoError(t, err)
		_, err = c.Read(make([]byte, 1))
		require.NoError(t, err)
		require.NoError(t, <-res)
		c.Close()
	}
	assert.Equal(t, int32(4), forClient.Load())
	// Configs are cached per (config, certificate).
	lz := la.Choose
	h := &ClientHello{ServerName: "a.test"}
	c1, err := lz(h)
	require.NoError(t, err)
	c2, err := lz(h)
	require.NoError(t, err)
	assert.Same(t, c1, c2)

	conn, res := lazyServe(t, la)
	_, err = NewConnector(ccfg, StreamOptions{}).Connect(testCtx(t), conn, "evil.test")
	require.ErrorIs(t, err, ErrAlertReceived)
	var re *RefuseError
	require.ErrorAs(t, <-res, &re)
	assert.Equal(t, AlertHandshakeFailure, re.Alert)
	assert.True(t, strings.Contains(re.Reason, "go away"))

	_, err = LazyAcceptorFromTLS(&tls.Config{}, nil)
	requireFieldErr(t, err, "Certificates")
	_, err = LazyAcceptorFromTLS(&tls.Config{Certificates: []tls.Certificate{a}, ClientAuth: tls.RequireAnyClientCert}, nil)
	requireFieldErr(t, err, "ClientAuth")
}

func TestCertifiedKeyFromTLS(t *testing.T) {
	_, srv, _ := pki(t)
	c := srv.tlsCert(t)
	k, err := CertifiedKeyFromTLS(&c)
	require.NoError(t, err)
	assert.Equal(t, srv.cert.Raw, k.Leaf().Raw)
	k.Close()
	for _, alg := range []string{"rsa2048", "ed25519", "p384"} {
		l := sharedCA.leaf(t, leafOpts{alg: alg}, "localhost").tlsCert(t)
		k, err := CertifiedKeyFromTLS(&l)
		require.NoError(t, err, alg)
		k.Close()
	}
	_, err = CertifiedKeyFromTLS(&tls.Certificate{})
	assert.ErrorIs(t, err, ErrInvalidInput)
	_, err = CertifiedKeyFromTLS(&tls.Certificate{Certificate: c.Certificate})
	assert.ErrorIs(t, err, ErrInvalidInput)
	_, err = CertifiedKeyFromTLS(&tls.Certificate{Certificate: c.Certificate, PrivateKey: struct{}{}})
	assert.ErrorIs(t, err, ErrInvalidInput)
}

func TestServerConfigFromTLSSeveralCertificatesByName(t *testing.T) {
	ca := newTestCA(t, "several CA")
	a := ca.leaf(t, leafOpts{}, "a.test").tlsCert(t)
	b := ca.leaf(t, leafOpts{alg: "rsa2048"}, "b.test").tlsCert(t)
	scfg, err := ServerConfigFromTLS(&tls.Config{Certificates: []tls.Certificate{a, b}}, nil)
	require.NoError(t, err)
	defer scfg.Close()
	for _, n := range []string{"a.test", "b.test"} {
		r := goClientToServer(t, scfg, &tls.Config{RootCAs: ca.pool(), ServerName: n})
		require.NoError(t, r.clientErr, n)
		assert.Equal(t, []string{n}, r.state.PeerCertificates[0].DNSNames)
	}
	// GetCertificate returning nil falls back to Certificates.
	scfg2, err := ServerConfigFromTLS(&tls.Config{Certificates: []tls.Certificate{a, b},
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return nil, nil }}, nil)
	require.NoError(t, err)
	defer scfg2.Close()
	r := goClientToServer(t, scfg2, &tls.Config{RootCAs: ca.pool(), ServerName: "b.test"})
	require.NoError(t, r.clientErr)
	assert.Equal(t, []string{"b.test"}, r.state.PeerCertificates[0].DNSNames)
}

func TestPickCertificate(t *testing.T) {
	ca := newTestCA(t, "pick CA")
	ec := ca.leaf(t, leafOpts{}, "x.test").tlsCert(t)
	rs := ca.leaf(t, leafOpts{alg: "rsa2048"}, "x.test").tlsCert(t)
	ed := ca.leaf(t, leafOpts{alg: "ed25519"}, "y.test").tlsCert(t)
	certs := []tls.Certificate{ec, rs, ed}
	rsaOnly := []uint16{uint16(tls.PSSWithSHA256), uint16(tls.PKCS1WithSHA256)}
	assert.Same(t, &certs[0], pickCertificate(certs, "x.test", nil))
	assert.Same(t, &certs[1], pickCertificate(certs, "x.test", rsaOnly))
	assert.Same(t, &certs[2], pickCertificate(certs, "y.test", rsaOnly), "the name wins over the key type")
	assert.Same(t, &certs[1], pickCertificate(certs, "", rsaOnly))
	assert.Same(t, &certs[2], pickCertificate(certs, "unknown.test", []uint16{uint16(tls.Ed25519)}))
	assert.Same(t, &certs[0], pickCertificate(certs, "unknown.test", nil))
	assert.Nil(t, pickCertificate(nil, "x.test", nil))
}

func TestLazyListenerCloseBeforeAccept(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ln := NewLazyListener(inner, &LazyAcceptor{Choose: func(*ClientHello) (*ServerConfig, error) { return nil, nil }})
	require.NoError(t, ln.Close())
	_, err = ln.Accept()
	assert.ErrorIs(t, err, net.ErrClosed)
}

// TestFromTLSVerifyConnection: tls.Config.VerifyConnection carries over to
// the rustls configs on both sides and refuses the handshake when it
// returns an error.
func TestFromTLSVerifyConnection(t *testing.T) {
	ca, srv, cli := pki(t)
	refuse := errors.New("not on the allow list")
	var serverSaw, clientSaw atomic.Value
	scfg, err := ServerConfigFromTLS(&tls.Config{
		Certificates: []tls.Certificate{srv.tlsCert(t)},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    ca.pool(),
		VerifyConnection: func(cs tls.ConnectionState) error {
			serverSaw.Store(cs.PeerCertificates[0].Subject.CommonName)
			return nil
		},
	}, &FromTLSOptions{ClientCAsPEM: ca.certPEM})
	require.NoError(t, err)
	defer scfg.Close()
	for _, allow := range []bool{true, false} {
		ccfg, err := ClientConfigFromTLS(&tls.Config{
			RootCAs:      ca.pool(),
			Certificates: []tls.Certificate{cli.tlsCert(t)},
			VerifyConnection: func(cs tls.ConnectionState) error {
				clientSaw.Store(cs.PeerCertificates[0].DNSNames[0])
				if !allow {
					return refuse
				}
				return nil
			},
		}, &FromTLSOptions{RootCAsPEM: ca.certPEM})
		require.NoError(t, err)
		c, s := tcpPair(t)
		accepted := make(chan struct{})
		go func() {
			defer close(accepted)
			if st, err := NewAcceptor(scfg, StreamOptions{}).Accept(testCtx(t), s); err == nil {
				_ = st.Close()
			}
		}()
		st, err := NewConnector(ccfg, StreamOptions{}).Connect(testCtx(t), c, "localhost")
		if allow {
			require.NoError(t, err)
			_ = st.Close()
			// The server checks the client's certificate once it has
			// read the client's last flight, after the client is done:
			// wait for its Accept (the client's Close no longer waits
			// for the server to take that flight).
			<-accepted
			assert.Equal(t, cli.cert.Subject.CommonName, serverSaw.Load())
		} else {
			require.ErrorIs(t, err, refuse)
		}
		assert.Equal(t, "localhost", clientSaw.Load())
		ccfg.Close()
	}
}
