package rustls

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestAttack12PeerCacheConcurrentIdentities: one client config talks, at
// once, to servers presenting two different chains under two names, and
// one client-auth server config sees two different clients. Every
// connection must report its own peer: PeerCertificates[0] is the
// certificate that peer presented, VerifiedChains start with it and end at
// the CA, for the name (or client) of that connection only; a caller
// overwriting its state's slices changes no other connection's. Run under
// -race. VerifyConnection runs once per handshake on both sides, resumed
// ones included.
func TestAttack12PeerCacheConcurrentIdentities(t *testing.T) {
	ca := newTestCA(t, "attack12 CA")
	srvA := ca.leaf(t, leafOpts{}, "a.test")
	srvB := ca.leaf(t, leafOpts{}, "b.test")
	cli1 := ca.leaf(t, leafOpts{client: true})
	cli2 := ca.leaf(t, leafOpts{client: true})

	var serverHooks, clientHooks atomic.Int64
	mkServer := func(l *testLeaf) *ServerConfig {
		cfg, err := NewServerConfig(ServerOptions{
			Certificates: []*CertifiedKey{l.certifiedKey(t)},
			ClientAuth:   RequireAndVerifyClientCert,
			ClientCAs:    ca.certPEM,
			VerifyConnection: func(st tls.ConnectionState) error {
				serverHooks.Add(1)
				if len(st.PeerCertificates) == 0 || len(st.VerifiedChains) == 0 {
					t.Error("server hook: no peer chain")
				}
				return nil
			},
		})
		require.NoError(t, err)
		t.Cleanup(func() { cfg.Close() })
		return cfg
	}
	servers := map[string]*ServerConfig{"a.test": mkServer(srvA), "b.test": mkServer(srvB)}
	leafOf := map[string]*x509.Certificate{"a.test": srvA.cert, "b.test": srvB.cert}
	mkClient := func(l *testLeaf) *ClientConfig {
		cfg, err := NewClientConfig(ClientOptions{
			RootCAs:     ca.certPEM,
			Certificate: l.certifiedKey(t),
			VerifyConnection: func(st tls.ConnectionState) error {
				clientHooks.Add(1)
				return nil
			},
		})
		require.NoError(t, err)
		t.Cleanup(func() { cfg.Close() })
		return cfg
	}
	clients := []*ClientConfig{mkClient(cli1), mkClient(cli2)}
	clientLeaf := []*x509.Certificate{cli1.cert, cli2.cert}

	const rounds = 12
	var wg sync.WaitGroup
	var handshakes, resumed atomic.Int64
	for i := range rounds * 4 {
		if i == rounds*2 {
			wg.Wait() // the second wave resumes the first's sessions
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := []string{"a.test", "b.test"}[i%2]
			ci := (i / 2) % 2
			cc, sc := tcpPair(t)
			ctx, cancel := context.WithTimeout(context.Background(), 20e9)
			defer cancel()
			type res struct {
				s   *Stream
				err error
			}
			ch := make(chan res, 1)
			go func() {
				s, err := NewAcceptor(servers[name], StreamOptions{}).Accept(ctx, sc)
				ch <- res{s, err}
			}()
			c, err := NewConnector(clients[ci], StreamOptions{}).Connect(ctx, cc, name)
			r := <-ch
			if !assert.NoError(t, err) || !assert.NoError(t, r.err) {
				return
			}
			defer c.Close()
			defer r.s.Close()
			// One byte from the server: the client reads the session
			// tickets that came before it, so the second wave resumes.
			if _, err := r.s.Write([]byte{1}); !assert.NoError(t, err) || !assert.NoError(t, r.s.Flush()) {
				return
			}
			var one [1]byte
			if _, err := c.Read(one[:]); !assert.NoError(t, err) {
				return
			}
			handshakes.Add(1)
			if c.HandshakeKind() == HandshakeResumed {
				resumed.Add(1)
			}
			cs := c.ConnectionState()
			if assert.NotEmpty(t, cs.PeerCertificates) {
				assert.True(t, cs.PeerCertificates[0].Equal(leafOf[name]), "client to %s sees another server's leaf", name)
			}
			if assert.NotEmpty(t, cs.VerifiedChains, "client to %s", name) {
				for _, ch := range cs.VerifiedChains {
					assert.True(t, ch[0].Equal(leafOf[name]))
					assert.NoError(t, ch[0].VerifyHostname(name))
					assert.True(t, ch[len(ch)-1].Equal(ca.cert))
				}
			}
			ss := r.s.ConnectionState()
			if assert.NotEmpty(t, ss.PeerCertificates) {
				assert.True(t, ss.PeerCertificates[0].Equal(clientLeaf[ci]), "server sees another client's leaf")
			}
			if assert.NotEmpty(t, ss.VerifiedChains) {
				assert.True(t, ss.VerifiedChains[0][0].Equal(clientLeaf[ci]))
			}
			// Vandalise this connection's slices: no other connection
			// may see it.
			cs.PeerCertificates[0] = ca.cert
			cs.VerifiedChains[0][0] = ca.cert
			ss.PeerCertificates[0] = ca.cert
			ss.VerifiedChains[0][0] = ca.cert
		}()
	}
	wg.Wait()
	require.Equal(t, int64(rounds*4), handshakes.Load())
	assert.Equal(t, handshakes.Load(), clientHooks.Load(), "client VerifyConnection runs")
	assert.Equal(t, handshakes.Load(), serverHooks.Load(), "server VerifyConnection runs")
	assert.NotZero(t, resumed.Load(), "no handshake resumed")
}
