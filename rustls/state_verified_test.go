package rustls

import (
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Tests of ConnectionState's VerifiedChains, OCSPResponse and the keying
// material exporter, through the public API.

// subCA makes an intermediate CA under parent, valid from nb to na.
func subCA(t testing.TB, parent *testCA, name string, nb, na time.Time) *testCA {
	t.Helper()
	key := newKey(t, "p256")
	parent.serial++
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(parent.serial),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             nb,
		NotAfter:              na,
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent.cert, key.Public(), parent.key)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	return &testCA{cert: cert, key: key, certPEM: pemBlock("CERTIFICATE", der), serial: 100}
}

// selfCA makes a root CA valid from nb to na.
func selfCA(t testing.TB, name string, nb, na time.Time) *testCA {
	t.Helper()
	key := newKey(t, "p256")
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             nb,
		NotAfter:              na,
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	return &testCA{cert: cert, key: key, certPEM: pemBlock("CERTIFICATE", der), serial: 1}
}

// uriLeaf issues a leaf with the given CommonName and URI SANs (SPIFFE
// IDs) besides DNS names; client selects client-auth usage.
func uriLeaf(t testing.TB, ca *testCA, client bool, cn string, uris []string, names ...string) *testLeaf {
	t.Helper()
	key := newKey(t, "p256")
	ca.serial++
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(ca.serial),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     names,
	}
	if client {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	for _, u := range uris {
		pu, err := url.Parse(u)
		require.NoError(t, err)
		tmpl.URIs = append(tmpl.URIs, pu)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, key.Public(), ca.key)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	require.NoError(t, err)
	return &testLeaf{certPEM: append(pemBlock("CERTIFICATE", der), ca.certPEM...), keyPEM: pemBlock("PRIVATE KEY", kder), cert: cert}
}

// requireChain asserts that chains holds exactly one chain, leaf first,
// made of want.
func requireChain(t testing.TB, chains [][]*x509.Certificate, want ...*x509.Certificate) {
	t.Helper()
	require.Len(t, chains, 1, "VerifiedChains")
	require.Len(t, chains[0], len(want))
	for i := range want {
		assert.True(t, chains[0][i].Equal(want[i]), "chain[%d] is %q, want %q", i, chains[0][i].Subject, want[i].Subject)
	}
}

func TestStateVerifiedChainsClientAndServer(t *testing.T) {
	ca, srv, cli := pki(t)
	for _, v := range []uint16{VersionTLS12, VersionTLS13} {
		t.Run(versionNames[v], func(t *testing.T) {
			scfg := serverConfig(t, func(o *ServerOptions) {
				o.Versions = []uint16{v}
				o.ClientAuth = RequireAndVerifyClientCert
				o.ClientCAs = ca.certPEM
			})
			ccfg := clientConfig(t, func(o *ClientOptions) { o.Certificate = cli.certifiedKey(t) })
			c, s := mustPair(t, scfg, ccfg)
			requireChain(t, c.ConnectionState().VerifiedChains, srv.cert, ca.cert)
			requireChain(t, s.ConnectionState().VerifiedChains, cli.cert, ca.cert)
		})
	}
}

func TestStateVerifiedChainsRootCAFilesAndIntermediate(t *testing.T) {
	root := newTestCA(t, "state root")
	inter := subCA(t, root, "state intermediate", time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	leaf := inter.leaf(t, leafOpts{}, "localhost") // sends leaf + intermediate
	scfg := serverConfig(t, func(o *ServerOptions) { o.Certificates = []*CertifiedKey{leaf.certifiedKey(t)} })
	ccfg := clientConfig(t, func(o *ClientOptions) {
		o.RootCAs = nil
		o.RootCAFiles = []string{writeTemp(t, "roots.pem", root.certPEM)}
	})
	c, _ := mustPair(t, scfg, ccfg)
	st := c.ConnectionState()
	require.Len(t, st.PeerCertificates, 2)
	requireChain(t, st.VerifiedChains, leaf.cert, inter.cert, root.cert)
}

// No VerifiedChains where rustls did not verify against roots we know.
func TestStateVerifiedChainsAbsent(t *testing.T) {
	ca, _, cli := pki(t)
	t.Run("DangerousVerifyPeerCertificate", func(t *testing.T) {
		ccfg := clientConfig(t, func(o *ClientOptions) {
			o.RootCAs = nil
			o.DangerousVerifyPeerCertificate = func(string, [][]byte, []byte) error { return nil }
		})
		c, _ := mustPair(t, serverConfig(t, nil), ccfg)
		st := c.ConnectionState()
		assert.NotEmpty(t, st.PeerCertificates)
		assert.Nil(t, st.VerifiedChains)
	})
	t.Run("server without client auth", func(t *testing.T) {
		ccfg := clientConfig(t, func(o *ClientOptions) { o.Certificate = cli.certifiedKey(t) })
		_, s := mustPair(t, serverConfig(t, nil), ccfg)
		st := s.ConnectionState()
		assert.Empty(t, st.PeerCertificates)
		assert.Nil(t, st.VerifiedChains)
	})
	t.Run("client sent no certificate", func(t *testing.T) {
		scfg := serverConfig(t, func(o *ServerOptions) {
			o.ClientAuth = VerifyClientCertIfGiven
			o.ClientCAs = ca.certPEM
		})
		c, s := mustPair(t, scfg, clientConfig(t, nil))
		assert.Nil(t, s.ConnectionState().VerifiedChains)
		assert.NotNil(t, c.ConnectionState().VerifiedChains)
	})
}

// A root whose own validity has ended: rustls (webpki) treats a trust
// anchor as a name and a key and accepts the chain; crypto/x509 refuses
// it. VerifiedChains is then nil rather than a chain crypto/x509 did not
// check; PeerCertificates is still reported.
func TestStateVerifiedChainsNilWhenGoDisagrees(t *testing.T) {
	root := selfCA(t, "expired root", time.Now().Add(-48*time.Hour), time.Now().Add(-time.Hour))
	leaf := root.leaf(t, leafOpts{}, "localhost")
	scfg := serverConfig(t, func(o *ServerOptions) { o.Certificates = []*CertifiedKey{leaf.certifiedKey(t)} })
	ccfg := clientConfig(t, func(o *ClientOptions) { o.RootCAs = root.certPEM })
	c, _ := mustPair(t, scfg, ccfg)
	st := c.ConnectionState()
	require.Len(t, st.PeerCertificates, 2) // leaf and the (expired) root
	assert.True(t, st.PeerCertificates[0].Equal(leaf.cert))
	assert.Nil(t, st.VerifiedChains)
	_, err := leaf.cert.Verify(x509.VerifyOptions{Roots: root.pool(), DNSName: "localhost"})
	var cie x509.CertificateInvalidError
	require.ErrorAs(t, err, &cie, "crypto/x509 must refuse this chain for the test to mean anything")
}

// VerifiedChains is computed once per connection and shared by every
// ConnectionState call, concurrent ones included.
func TestStateVerifiedChainsComputedOnce(t *testing.T) {
	c, _ := mustPair(t, serverConfig(t, nil), clientConfig(t, nil))
	var wg sync.WaitGroup
	got := make([][][]*x509.Certificate, 8)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i] = c.ConnectionState().VerifiedChains
		}()
	}
	wg.Wait()
	for i := range got {
		require.Len(t, got[i], 1)
		assert.Same(t, &got[0][0][0], &got[i][0][0], "call %d rebuilt the chains", i)
	}
}

func TestStateVerifiedChainsSystemRootsConfig(t *testing.T) {
	pc := newPeerCheck(nil, true, x509.ExtKeyUsageServerAuth, nil)
	assert.True(t, pc.verified)
	assert.Nil(t, pc.roots, "SystemRoots verifies with crypto/x509's system pool")
	pc = newPeerCheck(nil, false, x509.ExtKeyUsageServerAuth, nil)
	assert.False(t, pc.verified)
}

func TestStateOCSPResponse(t *testing.T) {
	staple := []byte("an OCSP response, opaque to TLS")
	for _, v := range []uint16{VersionTLS12, VersionTLS13} {
		t.Run(versionNames[v], func(t *testing.T) {
			connect := func(t *testing.T, mod func(*ClientOptions)) (*Stream, []byte) {
				gcfg := goTLSServerConfig(t)
				gcfg.Certificates[0].OCSPStaple = staple
				gcfg.MinVersion, gcfg.MaxVersion = v, v
				cc, sc := tcpPair(t)
				res := goTLSServe(sc, gcfg)
				var seen []byte
				ccfg := clientConfig(t, func(o *ClientOptions) {
					if mod != nil {
						mod(o)
					}
					if o.DangerousVerifyPeerCertificate != nil {
						o.DangerousVerifyPeerCertificate = func(_ string, _ [][]byte, ocsp []byte) error {
							seen = ocsp
							return nil
						}
					}
				})
				c, err := NewConnector(ccfg, StreamOptions{}).Connect(testCtx(t), cc, "localhost")
				require.NoError(t, err)
				r := <-res
				require.NoError(t, r.err)
				t.Cleanup(func() { c.Close(); r.c.Close() })
				return c, seen
			}
			t.Run("custom verifier", func(t *testing.T) {
				c, seen := connect(t, func(o *ClientOptions) {
					o.RootCAs = nil
					o.DangerousVerifyPeerCertificate = func(string, [][]byte, []byte) error { return nil }
				})
				assert.Equal(t, staple, seen)
				assert.Equal(t, staple, c.ConnectionState().OCSPResponse)
			})
			t.Run("rustls verifies", func(t *testing.T) {
				// rustls-ffi does not hand the staple out: documented.
				c, _ := connect(t, nil)
				assert.Nil(t, c.ConnectionState().OCSPResponse)
			})
		})
	}
	t.Run("none stapled", func(t *testing.T) {
		ccfg := clientConfig(t, func(o *ClientOptions) {
			o.RootCAs = nil
			o.DangerousVerifyPeerCertificate = func(string, [][]byte, []byte) error { return nil }
		})
		c, s := mustPair(t, serverConfig(t, nil), ccfg)
		assert.Nil(t, c.ConnectionState().OCSPResponse)
		assert.Nil(t, s.ConnectionState().OCSPResponse)
	})
}

func TestStateExportKeyingMaterial(t *testing.T) {
	c, s := mustPair(t, serverConfig(t, nil), clientConfig(t, nil))
	for _, st := range []*Stream{c, s} {
		out, err := st.ExportKeyingMaterial("EXPORTER-test", []byte("ctx"), 32)
		assert.Nil(t, out)
		e := rustlsError(t, err)
		assert.Equal(t, "export keying material", e.Op)
		assert.True(t, errors.Is(err, errors.ErrUnsupported))
		assert.Contains(t, err.Error(), "no keying-material exporter")
	}
	// What ConnectionState's doc says: crypto/tls's method panics on a
	// state made outside crypto/tls.
	state := c.ConnectionState()
	assert.Panics(t, func() { _, _ = state.ExportKeyingMaterial("EXPORTER-test", nil, 32) })
	// Before (or without) a handshake: the same error, no panic.
	cc, sc := tcpPair(t)
	defer sc.Close()
	st, err := NewConnector(clientConfig(t, nil), StreamOptions{}).Client(cc, "localhost")
	require.NoError(t, err)
	defer st.Close()
	_, err = st.ExportKeyingMaterial("EXPORTER-test", nil, 32)
	assert.ErrorIs(t, err, errors.ErrUnsupported)
}
