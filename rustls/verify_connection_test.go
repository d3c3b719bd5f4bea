package rustls

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Tests of ClientOptions.VerifyConnection and ServerOptions.VerifyConnection.

var errWrongIdentity = errors.New("wrong SPIFFE ID")

// requireSPIFFE is a SPIFFE-style identity check: the verified leaf must
// carry exactly the URI id.
func requireSPIFFE(id string) func(tls.ConnectionState) error {
	return func(st tls.ConnectionState) error {
		if len(st.VerifiedChains) == 0 {
			return errors.New("no verified chain")
		}
		leaf := st.VerifiedChains[0][0]
		if len(leaf.URIs) != 1 || leaf.URIs[0].String() != id {
			return fmt.Errorf("%w: %v", errWrongIdentity, leaf.URIs)
		}
		return nil
	}
}

// spiffePKI returns a CA and a server leaf for "localhost" with SPIFFE ID
// spiffe://example.org/server, and a client leaf with CN "alice" and
// spiffe://example.org/alice.
func spiffePKI(t *testing.T) (ca *testCA, srv, cli *testLeaf) {
	ca = newTestCA(t, "spiffe CA")
	srv = uriLeaf(t, ca, false, "server", []string{"spiffe://example.org/server"}, "localhost")
	cli = uriLeaf(t, ca, true, "alice", []string{"spiffe://example.org/alice"})
	return ca, srv, cli
}

// serverSeesNoData asserts that a server whose peer failed the handshake
// delivers no application data: its handshake failed, or its first read
// does.
func serverSeesNoData(t *testing.T, s *Stream, serr error) {
	t.Helper()
	if serr != nil {
		return
	}
	require.NotNil(t, s)
	buf := make([]byte, 16)
	n, err := readWithin(s, buf, 10*time.Second)
	assert.Zero(t, n)
	assert.Error(t, err)
}

func TestVerifyConnectionClientSPIFFE(t *testing.T) {
	ca, srv, _ := spiffePKI(t)
	for _, v := range []uint16{VersionTLS12, VersionTLS13} {
		t.Run(versionNames[v], func(t *testing.T) {
			scfg := serverConfig(t, func(o *ServerOptions) {
				o.Certificates = []*CertifiedKey{srv.certifiedKey(t)}
				o.Versions = []uint16{v}
			})
			t.Run("accept", func(t *testing.T) {
				var calls atomic.Int32
				ccfg := clientConfig(t, func(o *ClientOptions) {
					o.RootCAs = ca.certPEM
					o.VerifyConnection = func(st tls.ConnectionState) error {
						calls.Add(1)
						assert.True(t, st.HandshakeComplete)
						assert.Equal(t, v, st.Version)
						assert.Equal(t, "localhost", st.ServerName)
						require.NotEmpty(t, st.PeerCertificates)
						return requireSPIFFE("spiffe://example.org/server")(st)
					}
				})
				mustPair(t, scfg, ccfg)
				assert.Equal(t, int32(1), calls.Load())
			})
			t.Run("reject", func(t *testing.T) {
				ccfg := clientConfig(t, func(o *ClientOptions) {
					o.RootCAs = ca.certPEM
					o.VerifyConnection = requireSPIFFE("spiffe://example.org/someone-else")
				})
				c, s, cerr, serr := handshakePair(t, scfg, ccfg, "localhost", StreamOptions{}, StreamOptions{})
				assert.Nil(t, c)
				e := requireCode(t, cerr, CodeCertApplicationFailure)
				assert.ErrorIs(t, cerr, errWrongIdentity)
				assert.ErrorIs(t, cerr, ErrCertificate)
				assert.Contains(t, e.Error(), "VerifyConnection")
				serverSeesNoData(t, s, serr)
			})
		})
	}
}

// The hook runs only after rustls's own verification succeeded: a server
// rustls refuses never reaches it.
func TestVerifyConnectionAfterRustlsVerification(t *testing.T) {
	other := newTestCA(t, "other CA")
	var calls atomic.Int32
	ccfg := clientConfig(t, func(o *ClientOptions) {
		o.RootCAs = other.certPEM
		o.VerifyConnection = func(tls.ConnectionState) error { calls.Add(1); return nil }
	})
	_, _, cerr, _ := handshakePair(t, serverConfig(t, nil), ccfg, "localhost", StreamOptions{}, StreamOptions{})
	requireCode(t, cerr, CodeCertUnknownIssuer)
	assert.Zero(t, calls.Load())
}

func TestVerifyConnectionServerByCommonName(t *testing.T) {
	ca, srv, cli := spiffePKI(t)
	bob := uriLeaf(t, ca, true, "bob", []string{"spiffe://example.org/bob"})
	allowAlice := func(st tls.ConnectionState) error {
		if len(st.VerifiedChains) == 0 || st.VerifiedChains[0][0].Subject.CommonName != "alice" {
			return errWrongIdentity
		}
		return nil
	}
	for _, v := range []uint16{VersionTLS12, VersionTLS13} {
		t.Run(versionNames[v], func(t *testing.T) {
			scfg := serverConfig(t, func(o *ServerOptions) {
				o.Certificates = []*CertifiedKey{srv.certifiedKey(t)}
				o.Versions = []uint16{v}
				o.ClientAuth = RequireAndVerifyClientCert
				o.ClientCAs = ca.certPEM
				o.VerifyConnection = allowAlice
			})
			t.Run("alice", func(t *testing.T) {
				ccfg := clientConfig(t, func(o *ClientOptions) {
					o.RootCAs = ca.certPEM
					o.Certificate = cli.certifiedKey(t)
				})
				_, s := mustPair(t, scfg, ccfg)
				assert.Equal(t, "alice", s.ConnectionState().PeerCertificates[0].Subject.CommonName)
			})
			t.Run("bob", func(t *testing.T) {
				ccfg := clientConfig(t, func(o *ClientOptions) {
					o.RootCAs = ca.certPEM
					o.Certificate = bob.certifiedKey(t)
				})
				c, s, cerr, serr := handshakePair(t, scfg, ccfg, "localhost", StreamOptions{}, StreamOptions{})
				assert.Nil(t, s)
				requireCode(t, serr, CodeCertApplicationFailure)
				assert.ErrorIs(t, serr, errWrongIdentity)
				if cerr == nil {
					// The client's handshake ended before the server's:
					// its first read fails, no data arrives.
					buf := make([]byte, 16)
					n, err := readWithin(c, buf, 10*time.Second)
					assert.Zero(t, n)
					assert.Error(t, err)
				}
			})
			t.Run("crypto/tls client", func(t *testing.T) {
				gcfg := goTLSClientConfig(t)
				gcfg.RootCAs = ca.pool()
				gcfg.Certificates = []tls.Certificate{bob.tlsCert(t)}
				r := goClientToServer(t, scfg, gcfg)
				assert.Error(t, r.clientErr)
				requireCode(t, r.serverErr, CodeCertApplicationFailure)
			})
		})
	}
}

func TestVerifyConnectionPanic(t *testing.T) {
	t.Run("client", func(t *testing.T) {
		ccfg := clientConfig(t, func(o *ClientOptions) {
			o.VerifyConnection = func(tls.ConnectionState) error { panic("boom") }
		})
		_, s, cerr, serr := handshakePair(t, serverConfig(t, nil), ccfg, "localhost", StreamOptions{}, StreamOptions{})
		requireCode(t, cerr, CodeCertApplicationFailure)
		assert.Contains(t, cerr.Error(), "VerifyConnection panicked")
		assert.Contains(t, cerr.Error(), "boom")
		serverSeesNoData(t, s, serr)
	})
	t.Run("server", func(t *testing.T) {
		scfg := serverConfig(t, func(o *ServerOptions) {
			o.VerifyConnection = func(tls.ConnectionState) error { panic(errors.New("kaboom")) }
		})
		_, _, _, serr := handshakePair(t, scfg, clientConfig(t, nil), "localhost", StreamOptions{}, StreamOptions{})
		requireCode(t, serr, CodeCertApplicationFailure)
		assert.Contains(t, serr.Error(), "VerifyConnection panicked")
	})
	// A panicking hook leaves nothing locked: the next handshakes work.
	var n atomic.Int32
	ccfg := clientConfig(t, func(o *ClientOptions) {
		o.VerifyConnection = func(tls.ConnectionState) error {
			if n.Add(1) == 1 {
				panic("first only")
			}
			return nil
		}
	})
	scfg := serverConfig(t, nil)
	_, _, cerr, _ := handshakePair(t, scfg, ccfg, "localhost", StreamOptions{}, StreamOptions{})
	require.Error(t, cerr)
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, cerr, serr := handshakePair(t, scfg, ccfg, "localhost", StreamOptions{}, StreamOptions{})
			assert.NoError(t, cerr)
			assert.NoError(t, serr)
		}()
	}
	wg.Wait()
}

// The hooks run on resumed connections too, with the peer's certificates
// as verified when the session was made, and can refuse them.
func TestVerifyConnectionResumption(t *testing.T) {
	ca, srv, cli := spiffePKI(t)
	for _, v := range []uint16{VersionTLS12, VersionTLS13} {
		t.Run(versionNames[v], func(t *testing.T) {
			var refuse atomic.Bool
			type seen struct {
				resumed bool
				leaf    *x509.Certificate
				chains  int
			}
			var mu sync.Mutex
			var clientSaw, serverSaw []seen
			record := func(to *[]seen) func(tls.ConnectionState) error {
				return func(st tls.ConnectionState) error {
					mu.Lock()
					defer mu.Unlock()
					s := seen{resumed: st.DidResume, chains: len(st.VerifiedChains)}
					if len(st.PeerCertificates) > 0 {
						s.leaf = st.PeerCertificates[0]
					}
					*to = append(*to, s)
					if refuse.Load() {
						return errWrongIdentity
					}
					return nil
				}
			}
			scfg := serverConfig(t, func(o *ServerOptions) {
				o.Certificates = []*CertifiedKey{srv.certifiedKey(t)}
				o.Versions = []uint16{v}
				o.ClientAuth = RequireAndVerifyClientCert
				o.ClientCAs = ca.certPEM
				o.VerifyConnection = record(&serverSaw)
			})
			ccfg := clientConfig(t, func(o *ClientOptions) {
				o.RootCAs = ca.certPEM
				o.Certificate = cli.certifiedKey(t)
				o.VerifyConnection = record(&clientSaw)
			})
			c, _ := mustPair(t, scfg, ccfg) // pingPong: the client has its ticket
			assert.Equal(t, HandshakeFull, c.HandshakeKind())
			c, _ = mustPair(t, scfg, ccfg)
			require.Equal(t, HandshakeResumed, c.HandshakeKind())

			mu.Lock()
			require.Len(t, clientSaw, 2)
			require.Len(t, serverSaw, 2)
			for i, want := range []bool{false, true} {
				assert.Equal(t, want, clientSaw[i].resumed, "client handshake %d", i)
				assert.Equal(t, want, serverSaw[i].resumed, "server handshake %d", i)
				require.NotNil(t, clientSaw[i].leaf)
				require.NotNil(t, serverSaw[i].leaf)
				assert.True(t, clientSaw[i].leaf.Equal(srv.cert))
				assert.True(t, serverSaw[i].leaf.Equal(cli.cert))
				assert.Equal(t, 1, clientSaw[i].chains)
				assert.Equal(t, 1, serverSaw[i].chains)
			}
			mu.Unlock()

			// Both hooks now refuse; the resumed handshake fails.
			mustPair(t, scfg, ccfg) // refresh the ticket used above
			refuse.Store(true)
			cr, sr := tryPair(t, scfg, ccfg, "localhost")
			err := firstErr(cr.err, sr.err)
			requireCode(t, err, CodeCertApplicationFailure)
			assert.ErrorIs(t, err, errWrongIdentity)
			mu.Lock()
			last := clientSaw[len(clientSaw)-1]
			if cr.err == nil {
				last = serverSaw[len(serverSaw)-1]
			}
			mu.Unlock()
			assert.True(t, last.resumed, "the refused handshake was a resumption")
		})
	}
}

// Under DangerousVerifyPeerCertificate the hook still runs, after the
// custom verifier, with VerifiedChains nil.
func TestVerifyConnectionWithCustomVerifier(t *testing.T) {
	var order []string
	ccfg := clientConfig(t, func(o *ClientOptions) {
		o.RootCAs = nil
		o.DangerousVerifyPeerCertificate = func(string, [][]byte, []byte) error {
			order = append(order, "verifier")
			return nil
		}
		o.VerifyConnection = func(st tls.ConnectionState) error {
			order = append(order, "VerifyConnection")
			assert.Nil(t, st.VerifiedChains)
			assert.NotEmpty(t, st.PeerCertificates)
			return nil
		}
	})
	mustPair(t, serverConfig(t, nil), ccfg)
	assert.Equal(t, []string{"verifier", "VerifyConnection"}, order)
}
