package rustls

import (
	"crypto"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"io"
	"math/big"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// PeerCertificates must name the peer rustls verified, end entity first.
// These tests build certificates that webpki accepts but crypto/x509
// refuses (a URI SAN that url.Parse rejects), so that dropping them would
// shift the list and report someone else.

var bothVersions = []uint16{VersionTLS13, VersionTLS12}

// badURI is a URI that url.Parse refuses (a space in the host).
const badURI = "https://mallory .example/"

var oidSubjectAltName = asn1.ObjectIdentifier{2, 5, 29, 17}

// sanExtension encodes a subjectAltName with DNS names and raw URIs.
func sanExtension(t testing.TB, dnsNames []string, uris []string) pkix.Extension {
	t.Helper()
	var names []asn1.RawValue
	for _, n := range dnsNames {
		names = append(names, asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 2, Bytes: []byte(n)})
	}
	for _, u := range uris {
		names = append(names, asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 6, Bytes: []byte(u)})
	}
	der, err := asn1.Marshal(names)
	require.NoError(t, err)
	return pkix.Extension{Id: oidSubjectAltName, Value: der}
}

// issue signs a certificate for a new key with ca and returns its DER and
// key; extra extensions replace those of the same type.
func (ca *testCA) issue(t testing.TB, cn string, client bool, extra ...pkix.Extension) ([]byte, crypto.Signer) {
	t.Helper()
	key := newKey(t, "p256")
	ca.serial++
	eku := x509.ExtKeyUsageServerAuth
	if client {
		eku = x509.ExtKeyUsageClientAuth
	}
	tmpl := &x509.Certificate{
		SerialNumber:    big.NewInt(ca.serial),
		Subject:         pkix.Name{CommonName: cn},
		NotBefore:       time.Now().Add(-time.Hour),
		NotAfter:        time.Now().Add(24 * time.Hour),
		KeyUsage:        x509.KeyUsageDigitalSignature,
		ExtKeyUsage:     []x509.ExtKeyUsage{eku},
		ExtraExtensions: extra,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, key.Public(), ca.key)
	require.NoError(t, err)
	return der, key
}

// identityPKI is a CA, a client certificate Go cannot parse (Mallory's),
// another user's certificate (Alice's), a server certificate Go cannot
// parse and a client certificate Go can parse (Carol's).
type identityPKI struct {
	ca             *testCA
	mallory, alice []byte
	malloryKey     crypto.Signer
	badServer      []byte
	badServerKey   crypto.Signer
	goodClient     []byte
	goodClientKey  crypto.Signer
}

func newIdentityPKI(t *testing.T) *identityPKI {
	ca := newTestCA(t, "identity CA")
	p := &identityPKI{ca: ca}
	p.mallory, p.malloryKey = ca.issue(t, "mallory", true, sanExtension(t, nil, []string{badURI}))
	p.alice, _ = ca.issue(t, "alice", true)
	p.badServer, p.badServerKey = ca.issue(t, "server", false, sanExtension(t, []string{"localhost"}, []string{badURI}))
	p.goodClient, p.goodClientKey = ca.issue(t, "carol", true)
	_, err := x509.ParseCertificate(p.mallory)
	require.ErrorContains(t, err, "cannot parse URI", "crypto/x509 must refuse the crafted certificate")
	_, err = x509.ParseCertificate(p.badServer)
	require.ErrorContains(t, err, "cannot parse URI")
	return p
}

// goClientWithChain is a crypto/tls client that sends chain (DER, as is)
// with key when asked for a certificate.
func goClientWithChain(t *testing.T, v uint16, chain [][]byte, key crypto.Signer) *tls.Config {
	c := goTLSClientConfig(t)
	c.MinVersion, c.MaxVersion = v, v
	c.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
		return &tls.Certificate{Certificate: chain, PrivateKey: key}, nil
	}
	return c
}

// TestPeerIdentityUnparseableClientLeaf: Mallory's leaf verifies under the
// client CA but crypto/x509 cannot parse it; she sends [her leaf, Alice's
// certificate, CA]. The server must not report Alice as its peer: the
// handshake fails with CodeCertEncodingBad, as crypto/tls's fails, and the
// client does not get a working connection either.
func TestPeerIdentityUnparseableClientLeaf(t *testing.T) {
	p := newIdentityPKI(t)
	chain := [][]byte{p.mallory, p.alice, p.ca.cert.Raw}
	for _, v := range bothVersions {
		t.Run(versionName(v)+"/gorustls", func(t *testing.T) {
			scfg := serverConfig(t, func(o *ServerOptions) {
				o.Versions = []uint16{v}
				o.ClientAuth = RequireAndVerifyClientCert
				o.ClientCAs = p.ca.certPEM
			})
			r := goClientToServer(t, scfg, goClientWithChain(t, v, chain, p.malloryKey))
			if r.serverErr == nil {
				t.Fatalf("the server accepted the client as %q", r.server.ConnectionState().PeerCertificates[0].Subject.CommonName)
			}
			e := requireCode(t, r.serverErr, CodeCertEncodingBad)
			assert.ErrorIs(t, e, ErrCertificate)
			assert.Contains(t, e.Error(), "crypto/x509")
			assert.Contains(t, e.Error(), "end-entity certificate")
			assert.Error(t, r.clientErr, "the client has no working connection")
			assert.Nil(t, r.server)
		})
		t.Run(versionName(v)+"/crypto/tls", func(t *testing.T) {
			g := goTLSServerConfig(t)
			g.MinVersion, g.MaxVersion = v, v
			g.ClientAuth = tls.RequireAndVerifyClientCert
			g.ClientCAs = p.ca.pool()
			serr, cerr := goServerVsGoClient(t, g, goClientWithChain(t, v, chain, p.malloryKey))
			assert.ErrorContains(t, serr, "cannot parse URI")
			assert.Error(t, cerr)
		})
	}
}

// TestPeerIdentityLazyHandshakeFailure: the same refusal through a Stream
// whose handshake runs on first Read: Read and Write return the error, the
// state stays empty.
func TestPeerIdentityLazyHandshakeFailure(t *testing.T) {
	p := newIdentityPKI(t)
	scfg := serverConfig(t, func(o *ServerOptions) {
		o.ClientAuth = VerifyClientCertIfGiven
		o.ClientCAs = p.ca.certPEM
	})
	cc, sc := tcpPair(t)
	s, err := NewAcceptor(scfg, StreamOptions{HandshakeTimeout: 10 * time.Second}).Server(sc)
	require.NoError(t, err)
	defer s.Close()
	go func() {
		tc := tls.Client(cc, goClientWithChain(t, VersionTLS13, [][]byte{p.mallory, p.alice, p.ca.cert.Raw}, p.malloryKey))
		defer tc.Close()
		if tc.HandshakeContext(testCtx(t)) == nil {
			_, _ = tc.Write([]byte("hello"))
			_, _ = io.Copy(io.Discard, tc)
		}
	}()
	_, err = s.Read(make([]byte, 8))
	requireCode(t, err, CodeCertEncodingBad)
	_, werr := s.Write([]byte("x"))
	assert.Equal(t, err, werr, "the failed handshake is permanent")
	st := s.ConnectionState()
	assert.False(t, st.HandshakeComplete)
	assert.Empty(t, st.PeerCertificates)
	assert.Equal(t, HandshakeUnknown, s.HandshakeKind())
}

// TestPeerIdentityUnparseableChainCertificate: a valid leaf followed by a
// certificate crypto/x509 cannot parse. gorustls does not report a chain
// with a hole in it: the handshake fails, as crypto/tls's does.
func TestPeerIdentityUnparseableChainCertificate(t *testing.T) {
	p := newIdentityPKI(t)
	chain := [][]byte{p.goodClient, p.mallory, p.ca.cert.Raw}
	for _, v := range bothVersions {
		t.Run(versionName(v)+"/gorustls", func(t *testing.T) {
			scfg := serverConfig(t, func(o *ServerOptions) {
				o.Versions = []uint16{v}
				o.ClientAuth = RequireAndVerifyClientCert
				o.ClientCAs = p.ca.certPEM
			})
			r := goClientToServer(t, scfg, goClientWithChain(t, v, chain, p.goodClientKey))
			e := requireCode(t, r.serverErr, CodeCertEncodingBad)
			assert.Contains(t, e.Error(), "certificate 1 in the chain")
			assert.Error(t, r.clientErr)
		})
		t.Run(versionName(v)+"/crypto/tls", func(t *testing.T) {
			g := goTLSServerConfig(t)
			g.MinVersion, g.MaxVersion = v, v
			g.ClientAuth = tls.RequireAndVerifyClientCert
			g.ClientCAs = p.ca.pool()
			serr, cerr := goServerVsGoClient(t, g, goClientWithChain(t, v, chain, p.goodClientKey))
			assert.ErrorContains(t, serr, "cannot parse URI")
			assert.Error(t, cerr)
		})
	}
}

// TestPeerIdentityUnparseableServerLeaf: the client side. A server whose
// leaf webpki accepts for "localhost" but crypto/x509 cannot parse sends
// [its leaf, Alice's certificate, CA]: Connect fails with
// CodeCertEncodingBad rather than naming Alice as the server, as
// crypto/tls's client fails, and the server's handshake fails too.
func TestPeerIdentityUnparseableServerLeaf(t *testing.T) {
	p := newIdentityPKI(t)
	chain := [][]byte{p.badServer, p.alice, p.ca.cert.Raw}
	for _, v := range bothVersions {
		gsrv := func() *tls.Config {
			return &tls.Config{
				MinVersion: v, MaxVersion: v,
				Certificates: []tls.Certificate{{Certificate: chain, PrivateKey: p.badServerKey}},
			}
		}
		t.Run(versionName(v)+"/gorustls", func(t *testing.T) {
			ccfg := clientConfig(t, func(o *ClientOptions) { o.Versions = []uint16{v}; o.RootCAs = p.ca.certPEM })
			cc, sc := tcpPair(t)
			res := goTLSServe(sc, gsrv())
			c, err := NewConnector(ccfg, StreamOptions{}).Connect(testCtx(t), cc, "localhost")
			if err == nil {
				c.Close()
				t.Fatalf("the client accepted the server as %q", c.ConnectionState().PeerCertificates[0].Subject.CommonName)
			}
			e := requireCode(t, err, CodeCertEncodingBad)
			assert.ErrorIs(t, e, ErrCertificate)
			assert.Contains(t, e.Error(), "crypto/x509")
			r := <-res
			defer r.c.Close()
			if r.err == nil {
				// TLS 1.2: the server's handshake ended first; its
				// first read finds the connection gone.
				_, r.err = r.c.Read(make([]byte, 1))
			}
			assert.Error(t, r.err)
		})
		t.Run(versionName(v)+"/crypto/tls", func(t *testing.T) {
			g := goTLSClientConfig(t)
			g.MinVersion, g.MaxVersion = v, v
			g.RootCAs = p.ca.pool()
			serr, cerr := goServerVsGoClient(t, gsrv(), g)
			assert.ErrorContains(t, cerr, "cannot parse URI")
			assert.Error(t, serr)
		})
	}
}

// goServerVsGoClient runs a crypto/tls handshake and a one-byte exchange,
// and returns the first error each side met.
func goServerVsGoClient(t *testing.T, server, client *tls.Config) (serverErr, clientErr error) {
	cc, sc := tcpPair(t)
	ctx := testCtx(t)
	ch := make(chan error, 1)
	go func() {
		ts := tls.Server(sc, server)
		defer ts.Close()
		err := ts.HandshakeContext(ctx)
		if err == nil {
			_, err = io.ReadFull(ts, make([]byte, 1))
		}
		ch <- err
	}()
	tc := tls.Client(cc, client)
	defer tc.Close()
	clientErr = tc.HandshakeContext(ctx)
	if clientErr == nil {
		if _, clientErr = tc.Write([]byte("x")); clientErr == nil {
			_, clientErr = tc.Read(make([]byte, 1))
		}
	}
	tc.Close()
	serverErr = <-ch
	return serverErr, clientErr
}
