package rustls

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"sync/atomic"
	"testing"

	ipki "github.com/gorustls/gorustls/internal/pki"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Tests of certificate compression (RFC 8879), which the bundled librustls
// is built with (build/Cargo.toml, feature cert-compression): bytes on the
// wire between two gorustls endpoints, against crypto/tls (which offers no
// compression) as the uncompressed reference.

// countConn counts the bytes read from and written to a net.Conn.
type countConn struct {
	net.Conn
	read, written atomic.Int64
}

func (c *countConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.read.Add(int64(n))
	return n, err
}

func (c *countConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.written.Add(int64(n))
	return n, err
}

// testChain is a server (or client) certificate chain: a leaf and its CA.
type testChain struct {
	key      *CertifiedKey
	caPEM    []byte
	pool     *x509.CertPool // the CA, for crypto/tls
	derBytes int            // the chain's DER size: leaf plus CA certificate
	tls      tls.Certificate
}

// newChain issues a chain whose CA and leaf both have key type kt; the
// leaf gets names (many names make a large, compressible certificate).
func newChain(t testing.TB, kt ipki.KeyType, client bool, names ...string) *testChain {
	t.Helper()
	ca, err := ipki.New(ipki.CAOptions{Name: "compression test CA " + string(kt), Key: kt})
	require.NoError(t, err)
	o := ipki.LeafOptions{Names: names, Key: kt}
	if client {
		o = ipki.LeafOptions{CommonName: "client", Names: names, Key: kt, Client: true}
	}
	l, err := ca.Issue(o)
	require.NoError(t, err)
	k, err := NewCertifiedKey(l.ChainPEM, l.KeyPEM)
	require.NoError(t, err)
	t.Cleanup(func() { k.Close() })
	return &testChain{key: k, caPEM: ca.PEM, pool: ca.Pool(), derBytes: len(l.Cert.Raw) + len(ca.Cert.Raw),
		tls: l.TLSCertificate()}
}

// manyNames returns n DNS names sharing most of their text.
func manyNames(n int) []string {
	names := []string{"localhost"}
	for i := range n {
		names = append(names, fmt.Sprintf("replica-%03d.frontend.eu-west.service.example.test", i))
	}
	return names
}

// flight is what one full handshake put on the wire.
type flight struct {
	server int64 // bytes the client read before its handshake completed: the server's flight
	client int64 // bytes the client wrote during its handshake
	group  string
}

// rustlsFlight runs a full TLS 1.3 handshake between a gorustls client and
// server and counts the bytes the client saw. rustls sends its TLS 1.3
// tickets only after the client's Finished, so they are not counted.
func rustlsFlight(t testing.TB, scfg *ServerConfig, ccfg *ClientConfig) flight {
	t.Helper()
	cc, sc := tcpPair(t)
	counted := &countConn{Conn: cc}
	ctx := testCtx(t)
	ch := make(chan hsResult, 1)
	go func() {
		s, err := NewAcceptor(scfg, StreamOptions{WriteThrough: true}).Accept(ctx, sc)
		ch <- hsResult{s, err}
	}()
	c, err := NewConnector(ccfg, StreamOptions{WriteThrough: true}).Connect(ctx, counted, "localhost")
	require.NoError(t, err)
	f := flight{server: counted.read.Load(), client: counted.written.Load(), group: c.KeyExchangeGroup()}
	r := <-ch
	require.NoError(t, r.err)
	require.Equal(t, HandshakeFull, c.HandshakeKind())
	pingPong(t, c, r.s)
	c.Close()
	r.s.Close()
	return f
}

// goTLSFlight is rustlsFlight with a crypto/tls client.
func goTLSFlight(t testing.TB, scfg *ServerConfig, gcfg *tls.Config) flight {
	t.Helper()
	cc, sc := tcpPair(t)
	counted := &countConn{Conn: cc}
	ctx := testCtx(t)
	ch := make(chan hsResult, 1)
	go func() {
		s, err := NewAcceptor(scfg, StreamOptions{WriteThrough: true}).Accept(ctx, sc)
		ch <- hsResult{s, err}
	}()
	tc := tls.Client(counted, gcfg)
	require.NoError(t, tc.HandshakeContext(ctx))
	f := flight{server: counted.read.Load(), client: counted.written.Load(), group: tls.CurveID(tc.ConnectionState().CurveID).String()}
	r := <-ch
	require.NoError(t, r.err)
	tc.Close()
	r.s.Close()
	return f
}

// TestCertCompressionNegotiated: between two gorustls endpoints the
// server's certificate chain travels compressed, so its whole first flight
// is smaller than the chain's DER; a crypto/tls client, which offers no
// compression, gets it whole. The same holds for a client certificate
// (mutual TLS). A librustls built without compression sends every chain
// whole.
func TestCertCompressionNegotiated(t *testing.T) {
	srv := newChain(t, ipki.P256, false, manyNames(120)...)
	cli := newChain(t, ipki.P256, true, manyNames(120)[1:]...)
	scfg := serverConfig(t, func(o *ServerOptions) {
		o.Certificates = []*CertifiedKey{srv.key}
		o.ClientAuth = RequireAndVerifyClientCert
		o.ClientCAs = cli.caPEM
		o.Versions = []uint16{VersionTLS13}
	})
	ccfg := clientConfig(t, func(o *ClientOptions) {
		o.RootCAs = srv.caPEM
		o.Certificate = cli.key
	})
	require.Greater(t, srv.derBytes, 5000, "the test chain should be large")

	rf := rustlsFlight(t, scfg, ccfg)
	gf := goTLSFlight(t, scfg, &tls.Config{RootCAs: srv.pool, ServerName: "localhost", Certificates: []tls.Certificate{cli.tls}})
	t.Logf("chain DER %d bytes; server flight to gorustls %d, to crypto/tls %d; client flight of gorustls %d, of crypto/tls %d (client chain DER %d)",
		srv.derBytes, rf.server, gf.server, rf.client, gf.client, cli.derBytes)
	assert.Greater(t, gf.server, int64(srv.derBytes), "crypto/tls gets the chain whole")
	assert.Greater(t, gf.client, int64(cli.derBytes), "crypto/tls sends its chain whole")
	if CertificateCompression() {
		assert.Less(t, rf.server, int64(srv.derBytes), "the server's chain travels compressed")
		assert.Less(t, rf.client, int64(cli.derBytes), "the client's chain travels compressed")
	} else {
		assert.Greater(t, rf.server, int64(srv.derBytes), "no compression in this librustls")
		assert.Greater(t, rf.client, int64(cli.derBytes), "no compression in this librustls")
	}
}

// TestCertCompressionHandshakeBytes logs the bytes of a full TLS 1.3
// handshake's server flight for typical chains (docs/interop.md), and
// checks that with compression a gorustls client gets less than a
// crypto/tls client from the same server, and without it about as much
// (ECDSA signatures vary by a few bytes).
func TestCertCompressionHandshakeBytes(t *testing.T) {
	t.Logf("librustls %s, certificate compression %v", Version(), CertificateCompression())
	for _, c := range []struct {
		name  string
		kt    ipki.KeyType
		names []string
	}{
		{"P-256 leaf + P-256 CA", ipki.P256, []string{"localhost", "127.0.0.1"}},
		{"RSA-2048 leaf + RSA-2048 CA", ipki.RSA2048, []string{"localhost", "127.0.0.1"}},
		{"P-256, 120 names", ipki.P256, manyNames(120)},
	} {
		t.Run(c.name, func(t *testing.T) {
			ch := newChain(t, c.kt, false, c.names...)
			scfg := serverConfig(t, func(o *ServerOptions) {
				o.Certificates = []*CertifiedKey{ch.key}
				o.Versions = []uint16{VersionTLS13}
			})
			ccfg := clientConfig(t, func(o *ClientOptions) { o.RootCAs = ch.caPEM })
			rf := rustlsFlight(t, scfg, ccfg)
			gf := goTLSFlight(t, scfg, &tls.Config{RootCAs: ch.pool, ServerName: "localhost"})
			t.Logf("| %s | %d | %d | %d | %s / %s |", c.name, ch.derBytes, rf.server, gf.server, rf.group, gf.group)
			if CertificateCompression() {
				assert.Less(t, rf.server, gf.server)
			} else {
				assert.InDelta(t, gf.server, rf.server, 16)
			}
		})
	}
}
