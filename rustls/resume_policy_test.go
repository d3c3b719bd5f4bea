package rustls

import (
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Resumption must never let in a client that a full handshake with the
// resuming config would refuse. Each scenario runs on gorustls servers
// sharing one SessionStore, on gorustls servers with rustls's per-config
// cache, and on crypto/tls servers sharing ticket keys (crypto/tls's
// equivalent of a shared store), and every stack must see the same
// outcomes.

// serverPolicy is who a scenario's server lets in.
type serverPolicy struct {
	auth    ClientAuth
	ca      *testCA             // issues the client certificates it accepts
	revoked []*x509.Certificate // refused by a CRL (crypto/tls: VerifyConnection)
}

// resumeStep is what a server saw of one connection.
type resumeStep struct {
	Refused   bool   // the server's handshake failed
	Resumed   bool   // the server resumed a session
	PeerCerts int    // len(PeerCertificates) on the server
	Leaf      string // the serial number of PeerCertificates[0]
}

var (
	stepFull    = resumeStep{}
	stepResumed = resumeStep{Resumed: true}
	stepRefused = resumeStep{Refused: true}
)

// withClient is the step with the client's chain (leaf and CA) reported.
func (s resumeStep) withClient(leaf *testLeaf) resumeStep {
	s.PeerCerts, s.Leaf = 2, leaf.cert.SerialNumber.String()
	return s
}

// resumeStack makes servers and clients of one TLS stack for one version.
type resumeStack interface {
	server(t *testing.T, p serverPolicy) any
	client(t *testing.T, cert *testLeaf) any
	// connect makes one connection, exchanges a message when both
	// handshakes succeed (so that TLS 1.3 clients get their tickets), and
	// returns what the server saw and the server's error.
	connect(t *testing.T, server, client any) (resumeStep, error)
}

type namedStack struct {
	name  string
	stack resumeStack
}

// resumeStacks returns fresh stacks for version v: a new shared store, new
// ticket keys.
func resumeStacks(t *testing.T, v uint16) []namedStack {
	var key [32]byte
	_, err := rand.Read(key[:])
	require.NoError(t, err)
	return []namedStack{
		{"gorustls shared SessionStore", &rustlsStack{v: v, store: NewMemorySessionStore(0)}},
		{"gorustls per-config cache", &rustlsStack{v: v}},
		{"crypto/tls shared ticket keys", &goStack{v: v, key: key}},
	}
}

// rustlsStack: gorustls servers (sharing store, or each with rustls's own
// cache when store is nil) and gorustls clients.
type rustlsStack struct {
	v     uint16
	store SessionStore
}

func (st *rustlsStack) server(t *testing.T, p serverPolicy) any {
	return serverConfig(t, func(o *ServerOptions) {
		o.Versions = []uint16{st.v}
		o.SessionStore = st.store
		o.ClientAuth = p.auth
		if p.auth != NoClientCert {
			o.ClientCAs = p.ca.certPEM
		}
		if len(p.revoked) > 0 {
			o.ClientCRLs = [][]byte{p.ca.crl(t, p.revoked...)}
		}
	})
}

func (st *rustlsStack) client(t *testing.T, cert *testLeaf) any {
	return clientConfig(t, func(o *ClientOptions) {
		o.Versions = []uint16{st.v}
		if cert != nil {
			o.Certificate = cert.certifiedKey(t)
		}
	})
}

func (st *rustlsStack) connect(t *testing.T, server, client any) (resumeStep, error) {
	t.Helper()
	cr, sr := tryPair(t, server.(*ServerConfig), client.(*ClientConfig), "localhost")
	if sr.err != nil {
		return stepRefused, sr.err
	}
	require.NoError(t, cr.err, "the server accepted, the client did not")
	pingPong(t, cr.s, sr.s)
	step := stepOf(sr.s.ConnectionState())
	assert.Equal(t, step.Resumed, cr.s.ConnectionState().DidResume, "client and server agree on resumption")
	require.NoError(t, cr.s.Close())
	require.NoError(t, sr.s.Close())
	return step, nil
}

func stepOf(st tls.ConnectionState) resumeStep {
	s := resumeStep{Resumed: st.DidResume, PeerCerts: len(st.PeerCertificates)}
	if len(st.PeerCertificates) > 0 {
		s.Leaf = st.PeerCertificates[0].SerialNumber.String()
	}
	return s
}

// goStack: crypto/tls servers sharing session ticket keys, crypto/tls
// clients with a session cache.
type goStack struct {
	v   uint16
	key [32]byte
}

func (st *goStack) server(t *testing.T, p serverPolicy) any {
	c := goTLSServerConfig(t)
	c.MinVersion, c.MaxVersion = st.v, st.v
	c.SetSessionTicketKeys([][32]byte{st.key})
	switch p.auth {
	case VerifyClientCertIfGiven:
		c.ClientAuth = tls.VerifyClientCertIfGiven
	case RequireAndVerifyClientCert:
		c.ClientAuth = tls.RequireAndVerifyClientCert
	}
	if p.ca != nil {
		c.ClientCAs = p.ca.pool()
	}
	if len(p.revoked) > 0 {
		// crypto/tls has no CRLs: revocation belongs in VerifyConnection,
		// which also runs on resumed connections.
		revoked := p.revoked
		c.VerifyConnection = func(cs tls.ConnectionState) error {
			for _, r := range revoked {
				if len(cs.PeerCertificates) > 0 && cs.PeerCertificates[0].Equal(r) {
					return errors.New("client certificate revoked")
				}
			}
			return nil
		}
	}
	return c
}

func (st *goStack) client(t *testing.T, cert *testLeaf) any {
	c := goTLSClientConfig(t)
	c.MinVersion, c.MaxVersion = st.v, st.v
	c.ClientSessionCache = tls.NewLRUClientSessionCache(8)
	if cert != nil {
		c.Certificates = []tls.Certificate{cert.tlsCert(t)}
	}
	return c
}

func (st *goStack) connect(t *testing.T, server, client any) (resumeStep, error) {
	t.Helper()
	cc, sc := tcpPair(t)
	ctx := testCtx(t)
	type result struct {
		state tls.ConnectionState
		err   error
	}
	ch := make(chan result, 1)
	go func() {
		ts := tls.Server(sc, server.(*tls.Config))
		defer ts.Close()
		err := ts.HandshakeContext(ctx)
		if err == nil {
			buf := make([]byte, 4)
			if _, err = io.ReadFull(ts, buf); err == nil {
				_, err = ts.Write(buf)
			}
		}
		ch <- result{ts.ConnectionState(), err}
	}()
	tc := tls.Client(cc, client.(*tls.Config))
	defer tc.Close()
	cerr := tc.HandshakeContext(ctx)
	if cerr == nil {
		if _, cerr = tc.Write([]byte("ping")); cerr == nil {
			_, cerr = io.ReadFull(tc, make([]byte, 4))
		}
	} else {
		cc.Close()
	}
	r := <-ch
	if r.err != nil {
		return stepRefused, r.err
	}
	require.NoError(t, cerr, "the server accepted, the client did not")
	assert.Equal(t, r.state.DidResume, tc.ConnectionState().DidResume, "client and server agree on resumption")
	return stepOf(r.state), nil
}

var resumeVersions = []uint16{VersionTLS13, VersionTLS12}

// TestResumptionSharedStoreClientAuth: two configs share one store, A
// without client authentication, B requiring it. A client without a
// certificate that holds a session from A must not get into B by resuming
// it: B runs a full handshake and refuses the client, as it refuses a
// client that comes without a session.
func TestResumptionSharedStoreClientAuth(t *testing.T) {
	ca, _, _ := pki(t)
	for _, v := range resumeVersions {
		for _, ns := range resumeStacks(t, v) {
			t.Run(versionName(v)+"/"+ns.name, func(t *testing.T) {
				st := ns.stack
				a := st.server(t, serverPolicy{auth: NoClientCert})
				b := st.server(t, serverPolicy{auth: RequireAndVerifyClientCert, ca: ca})
				cli := st.client(t, nil)
				var got []resumeStep
				var errs []error
				for _, c := range []struct{ server, client any }{
					{a, cli},               // full handshake: a session
					{a, cli},               // A resumes it
					{b, cli},               // B must not
					{b, st.client(t, nil)}, // a client without a session
				} {
					step, err := st.connect(t, c.server, c.client)
					got, errs = append(got, step), append(errs, err)
				}
				assert.Equal(t, []resumeStep{stepFull, stepResumed, stepRefused, stepRefused}, got)
				if rs, ok := st.(*rustlsStack); ok {
					requireCode(t, errs[2], CodeNoCertificatesPresented)
					if rs.store != nil {
						// B's lookups never reach A's sessions.
						assert.NotContains(t, fmt.Sprint(errs[2]), "resumed session")
					}
				}
			})
		}
	}
}

// TestResumptionSharedStoreRevokedClient: a config is rebuilt with a CRL
// that revokes a client certificate, keeping the shared store. The revoked
// client must not keep coming in on the sessions it got before (TLS 1.3
// would hand it new tickets on each resumption). Resumed connections carry
// the client's certificates, as full ones do.
func TestResumptionSharedStoreRevokedClient(t *testing.T) {
	ca, _, _ := pki(t)
	for _, v := range resumeVersions {
		for _, ns := range resumeStacks(t, v) {
			t.Run(versionName(v)+"/"+ns.name, func(t *testing.T) {
				st := ns.stack
				leaf := ca.leaf(t, leafOpts{client: true})
				before := st.server(t, serverPolicy{auth: RequireAndVerifyClientCert, ca: ca})
				after := st.server(t, serverPolicy{auth: RequireAndVerifyClientCert, ca: ca, revoked: []*x509.Certificate{leaf.cert}})
				cli := st.client(t, leaf)
				var got []resumeStep
				var errs []error
				for _, c := range []struct{ server, client any }{
					{before, cli},
					{before, cli},
					{after, cli},
					{after, st.client(t, leaf)},
				} {
					step, err := st.connect(t, c.server, c.client)
					got, errs = append(got, step), append(errs, err)
				}
				assert.Equal(t, []resumeStep{stepFull.withClient(leaf), stepResumed.withClient(leaf), stepRefused, stepRefused}, got)
				if _, ok := st.(*rustlsStack); ok {
					requireCode(t, errs[2], CodeCertRevoked)
					requireCode(t, errs[3], CodeCertRevoked)
				}
			})
		}
	}
}

// TestResumptionOptionalClientAuth: under VerifyClientCertIfGiven a resumed
// session reports the client's certificates when the client sent some, and
// none when it did not, exactly like the full handshake that made it.
func TestResumptionOptionalClientAuth(t *testing.T) {
	ca, _, _ := pki(t)
	for _, v := range resumeVersions {
		for _, ns := range resumeStacks(t, v) {
			t.Run(versionName(v)+"/"+ns.name, func(t *testing.T) {
				st := ns.stack
				leaf := ca.leaf(t, leafOpts{client: true})
				srv := st.server(t, serverPolicy{auth: VerifyClientCertIfGiven, ca: ca})
				with, without := st.client(t, leaf), st.client(t, nil)
				var got []resumeStep
				for _, cli := range []any{with, with, without, without} {
					step, err := st.connect(t, srv, cli)
					require.NoError(t, err)
					got = append(got, step)
				}
				assert.Equal(t, []resumeStep{stepFull.withClient(leaf), stepResumed.withClient(leaf), stepFull, stepResumed}, got)
			})
		}
	}
}

// TestResumptionExpiredClientCert: a client whose certificate expires after
// it got a session must not keep resuming on the same config: the server
// refuses it as a full handshake would. With a SessionStore the stale
// session is not even resumed (a full handshake refuses the certificate);
// with rustls's own cache the resumed handshake is failed by gorustls.
func TestResumptionExpiredClientCert(t *testing.T) {
	for _, v := range resumeVersions {
		for _, ns := range resumeStacks(t, v) {
			t.Run(versionName(v)+"/"+ns.name, func(t *testing.T) {
				t.Parallel()
				ca := newTestCA(t, "expiring client CA")
				// Certificate times have whole seconds; the first
				// handshake runs well within the certificate's life.
				expiry := time.Now().Add(3 * time.Second).Truncate(time.Second)
				leaf := ca.leaf(t, leafOpts{client: true, notAfter: expiry})
				st := ns.stack
				srv := st.server(t, serverPolicy{auth: RequireAndVerifyClientCert, ca: ca})
				cli := st.client(t, leaf)
				step, err := st.connect(t, srv, cli)
				require.NoError(t, err)
				require.Equal(t, stepFull.withClient(leaf), step)

				time.Sleep(time.Until(expiry) + 1500*time.Millisecond)
				step, err = st.connect(t, srv, cli)
				assert.Equal(t, stepRefused, step)
				if rs, ok := st.(*rustlsStack); ok {
					e := requireCode(t, err, CodeCertExpired)
					if rs.store != nil {
						assert.NotContains(t, e.Detail, "resumed session", "the store refuses the stale session; the full handshake refuses the client")
					} else {
						assert.Contains(t, e.Detail, "resumed session")
					}
				}
				// And a client that comes without a session is refused too.
				step, _ = st.connect(t, srv, st.client(t, leaf))
				assert.Equal(t, stepRefused, step)
			})
		}
	}
}

// TestResumptionRebuiltConfigDefaultCache: without a SessionStore each
// config has its own cache, so a config rebuilt with a CRL starts empty and
// the revoked client gets a full handshake, which refuses it.
func TestResumptionRebuiltConfigDefaultCache(t *testing.T) {
	ca, _, _ := pki(t)
	for _, v := range resumeVersions {
		t.Run(versionName(v), func(t *testing.T) {
			st := &rustlsStack{v: v}
			leaf := ca.leaf(t, leafOpts{client: true})
			before := st.server(t, serverPolicy{auth: RequireAndVerifyClientCert, ca: ca})
			cli := st.client(t, leaf)
			for range 2 {
				_, err := st.connect(t, before, cli)
				require.NoError(t, err)
			}
			after := st.server(t, serverPolicy{auth: RequireAndVerifyClientCert, ca: ca, revoked: []*x509.Certificate{leaf.cert}})
			step, err := st.connect(t, after, cli)
			assert.Equal(t, stepRefused, step)
			requireCode(t, err, CodeCertRevoked)
		})
	}
}

// TestResumptionStoreKeysSeparatePolicies: configs with different policies
// sharing a store use disjoint keys, each prefixed by the config's policy
// fingerprint, and a lookup from another policy leaves the entry alone
// (TLS 1.3 tickets are taken out when found).
func TestResumptionStoreKeysSeparatePolicies(t *testing.T) {
	ca, _, _ := pki(t)
	store := newCountingStore()
	st := &rustlsStack{v: VersionTLS13, store: store}
	a := st.server(t, serverPolicy{auth: NoClientCert})
	b := st.server(t, serverPolicy{auth: RequireAndVerifyClientCert, ca: ca})
	cli := st.client(t, nil)
	_, err := st.connect(t, a, cli)
	require.NoError(t, err)
	puts, _, _, _ := store.counts()
	require.Positive(t, puts)
	stored := store.inner.Len()
	_, err = st.connect(t, b, cli)
	require.Error(t, err)
	_, _, takes, hits := store.counts()
	assert.Equal(t, 1, takes, "B looked the ticket up")
	assert.Equal(t, 0, hits, "under its own prefix, where there is nothing")
	assert.Equal(t, stored, store.inner.Len(), "A's tickets are untouched")

	store.mu.Lock()
	keys := slices.Clone(store.puts)
	store.mu.Unlock()
	for _, k := range keys {
		assert.Len(t, k, 64)
		assert.Equal(t, keys[0][:32], k[:32], "one prefix per config")
	}
}

// TestClientSessionCacheBoundToTrust: a client config's session cache only
// serves that config. A server that a config resumed with is verified in
// full by another config that trusts other roots or revokes its
// certificate, and refused. crypto/tls, even with one cache shared by two
// configs, refuses the same way.
func TestClientSessionCacheBoundToTrust(t *testing.T) {
	ca, srv, _ := pki(t)
	other := newTestCA(t, "another CA")
	for _, v := range resumeVersions {
		t.Run(versionName(v)+"/gorustls", func(t *testing.T) {
			scfg := serverConfig(t, func(o *ServerOptions) { o.Versions = []uint16{v} })
			x := clientConfig(t, func(o *ClientOptions) { o.Versions = []uint16{v} })
			mustPair(t, scfg, x)
			c, s := mustPair(t, scfg, x)
			require.True(t, c.ConnectionState().DidResume)
			require.True(t, s.ConnectionState().DidResume)

			y := clientConfig(t, func(o *ClientOptions) { o.Versions = []uint16{v}; o.RootCAs = other.certPEM })
			cr, _ := tryPair(t, scfg, y, "localhost")
			requireCode(t, cr.err, CodeCertUnknownIssuer)

			z := clientConfig(t, func(o *ClientOptions) { o.Versions = []uint16{v}; o.CRLs = [][]byte{ca.crl(t, srv.cert)} })
			cr, _ = tryPair(t, scfg, z, "localhost")
			requireCode(t, cr.err, CodeCertRevoked)
		})
		t.Run(versionName(v)+"/crypto/tls", func(t *testing.T) {
			st := &goStack{v: v}
			_, err := rand.Read(st.key[:])
			require.NoError(t, err)
			gsrv := st.server(t, serverPolicy{})
			x := st.client(t, nil).(*tls.Config)
			for range 2 {
				_, err := st.connect(t, gsrv, x)
				require.NoError(t, err)
			}
			y := x.Clone() // the same ClientSessionCache
			y.RootCAs = other.pool()
			cc, sc := tcpPair(t)
			go func() {
				ts := tls.Server(sc, gsrv.(*tls.Config))
				_ = ts.HandshakeContext(testCtx(t))
				ts.Close()
			}()
			tc := tls.Client(cc, y)
			defer tc.Close()
			var uerr x509.UnknownAuthorityError
			require.ErrorAs(t, tc.HandshakeContext(testCtx(t)), &uerr)
		})
	}
}

// TestClientVerifierNotCalledOnResumption: a resumed connection does not
// verify the server's certificate again, so DangerousVerifyPeerCertificate
// runs for full handshakes only, like crypto/tls's VerifyPeerCertificate.
// The session it resumes was made by the same config, under the same
// verifier.
func TestClientVerifierNotCalledOnResumption(t *testing.T) {
	ca, _, _ := pki(t)
	for _, v := range resumeVersions {
		t.Run(versionName(v)+"/gorustls", func(t *testing.T) {
			var calls atomic.Int32
			scfg := serverConfig(t, func(o *ServerOptions) { o.Versions = []uint16{v} })
			ccfg := clientConfig(t, func(o *ClientOptions) {
				o.Versions = []uint16{v}
				o.RootCAs = nil
				o.DangerousVerifyPeerCertificate = func(name string, raw [][]byte, _ []byte) error {
					calls.Add(1)
					leaf, err := x509.ParseCertificate(raw[0])
					if err != nil {
						return err
					}
					_, err = leaf.Verify(x509.VerifyOptions{Roots: ca.pool(), DNSName: name})
					return err
				}
			})
			mustPair(t, scfg, ccfg)
			assert.EqualValues(t, 1, calls.Load())
			c, _ := mustPair(t, scfg, ccfg)
			require.True(t, c.ConnectionState().DidResume)
			assert.EqualValues(t, 1, calls.Load(), "not called for the resumed connection")
			assert.NotEmpty(t, c.ConnectionState().PeerCertificates, "the chain verified when the session was made")
		})
		t.Run(versionName(v)+"/crypto/tls", func(t *testing.T) {
			var calls atomic.Int32
			st := &goStack{v: v}
			_, err := rand.Read(st.key[:])
			require.NoError(t, err)
			gsrv := st.server(t, serverPolicy{})
			cli := st.client(t, nil).(*tls.Config)
			cli.InsecureSkipVerify = true
			cli.VerifyPeerCertificate = func([][]byte, [][]*x509.Certificate) error { calls.Add(1); return nil }
			for _, want := range []resumeStep{stepFull, stepResumed} {
				step, err := st.connect(t, gsrv, cli)
				require.NoError(t, err)
				require.Equal(t, want, step)
			}
			assert.EqualValues(t, 1, calls.Load())
		})
	}
}
