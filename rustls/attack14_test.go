package rustls

import (
	"bytes"
	"crypto/tls"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Attack review 14 (rustls package): regression tests for what the review
// found. Each test fails on the code it was written against.

// tamperStore is a shared SessionStore (think Redis) that someone other
// than the servers can write to: rewrite changes every stored value.
type tamperStore struct {
	mu sync.Mutex
	m  map[string][]byte
}

func (s *tamperStore) Get(key []byte, remove bool) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.m[string(key)]
	if remove {
		delete(s.m, string(key))
	}
	return v, ok
}

func (s *tamperStore) Put(key, value []byte) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string][]byte{}
	}
	s.m[string(key)] = bytes.Clone(value)
	return true
}

func (s *tamperStore) rewrite(f func(key, value []byte) []byte) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for k, v := range s.m {
		if nv := f([]byte(k), v); nv != nil {
			s.m[k] = nv
			n++
		}
	}
	return n
}

// swapLeaf replaces the certificate from (and the 24-bit lengths of the
// certificate and of the chain that hold it) in a stored session value;
// nil when from is not in v.
func swapLeaf(v, from, to []byte) []byte {
	i := bytes.Index(v, from)
	if i < 6 {
		return nil
	}
	u24 := func(b []byte) int { return int(b[0])<<16 | int(b[1])<<8 | int(b[2]) }
	put24 := func(b []byte, n int) { b[0], b[1], b[2] = byte(n>>16), byte(n>>8), byte(n) }
	if u24(v[i-3:]) != len(from) {
		return nil
	}
	out := bytes.Clone(v[:i])
	put24(out[i-6:], u24(v[i-6:])-len(from)+len(to))
	put24(out[i-3:], len(to))
	out = append(out, to...)
	return append(out, v[i+len(from):]...)
}

// TestAttack14StoreValueForgesClientIdentity: whoever can write to a
// shared SessionStore can make a server report any client identity. Mallory
// (a valid client) gets a session, the store's value is edited to carry
// Alice's public certificate instead of Mallory's, and Mallory resumes as
// Alice: PeerCertificates[0] is Alice, VerifyConnection sees Alice, and
// Mallory never had Alice's key. The values are neither authenticated nor
// bound to anything secret (the fingerprint prefix is a hash of public
// data), so rustls trusts what the store returns; docs/security.md and the
// SessionStore doc say a shared store, even between processes, is what the
// feature is for, and nowhere that the store must be trusted like a
// private key. crypto/tls's equivalent (shared ticket keys) authenticates
// every ticket, so a ticket store cannot forge identities.
//
// Since the fix the values are sealed, so Mallory's certificate is no
// longer visible in them; the attacker then does the best it can without
// the key: "edit" flips the ciphertext bytes that hold Mallory's leaf into
// Alice's (GCM encrypts with a stream: without the tag this would be a
// perfect forgery; the leaves have the same length), and "forge" writes a
// session Mallory made up herself, with her own secret and Alice's leaf, in
// the clear as before the fix (fingerprint prefix, then rustls's encoding).
// The test finds the leaf's place and Mallory's session by opening the
// value, which the attacker cannot do; Mallory knows both anyway (the
// format is public and the session is hers).
func TestAttack14StoreValueForgesClientIdentity(t *testing.T) {
	ca, _, _ := pki(t)
	mallory := ca.leaf(t, leafOpts{client: true})
	alice := ca.leaf(t, leafOpts{client: true})
	for range 100 {
		if len(alice.cert.Raw) == len(mallory.cert.Raw) {
			break
		}
		alice = ca.leaf(t, leafOpts{client: true})
	}
	require.Len(t, alice.cert.Raw, len(mallory.cert.Raw), "leaves of one length, for the ciphertext edit")
	open := func(key, val []byte) []byte {
		v, ok := newSessionSealer([][]byte{processStoreKey()}).open(key, val)
		if !ok {
			return nil
		}
		return v
	}
	attacks := map[string]func(key, val []byte) []byte{
		"edit": func(key, val []byte) []byte {
			if out := swapLeaf(val, mallory.cert.Raw, alice.cert.Raw); out != nil {
				return out // the value is in the clear
			}
			i := bytes.Index(open(key, val), mallory.cert.Raw)
			if i < 0 {
				return nil
			}
			out := bytes.Clone(val)
			at := len(val) - 16 - len(open(key, val)) + i // the tag is last
			for j := range mallory.cert.Raw {
				out[at+j] ^= mallory.cert.Raw[j] ^ alice.cert.Raw[j]
			}
			return out
		},
		"forge": func(key, val []byte) []byte {
			plain := open(key, val)
			if plain == nil {
				plain = val[32:] // in the clear after the fingerprint
			}
			forged := swapLeaf(plain, mallory.cert.Raw, alice.cert.Raw)
			if forged == nil {
				return nil
			}
			return append(bytes.Clone(key[:32]), forged...)
		},
	}
	for _, v := range resumeVersions {
		for name, attack := range attacks {
			t.Run(versionName(v)+"/"+name, func(t *testing.T) {
				store := &tamperStore{}
				var seen []string
				var mu sync.Mutex
				// The server's VerifyConnection authorizes by identity.
				scfg := serverConfig(t, func(o *ServerOptions) {
					o.Versions = []uint16{v}
					o.ClientAuth = RequireAndVerifyClientCert
					o.ClientCAs = ca.certPEM
					o.SessionStore = store
					o.VerifyConnection = func(st tls.ConnectionState) error {
						mu.Lock()
						defer mu.Unlock()
						if len(st.PeerCertificates) > 0 {
							seen = append(seen, st.PeerCertificates[0].SerialNumber.String())
						}
						return nil
					}
				})
				ccfg := clientConfig(t, func(o *ClientOptions) {
					o.Versions = []uint16{v}
					o.Certificate = mallory.certifiedKey(t)
				})
				c, s := mustPair(t, scfg, ccfg)
				pingPong(t, c, s)
				require.Equal(t, mallory.cert.SerialNumber, s.ConnectionState().PeerCertificates[0].SerialNumber)
				require.NoError(t, c.Close())
				require.NoError(t, s.Close())

				n := store.rewrite(attack)
				require.Positive(t, n, "the stored sessions carry Mallory's certificate")

				cr, sr := tryPair(t, scfg, ccfg, "localhost")
				if sr.err != nil || cr.err != nil {
					return // refused: what we want
				}
				st := sr.s.ConnectionState()
				require.NotEmpty(t, st.PeerCertificates)
				assert.NotEqual(t, alice.cert.SerialNumber.String(), st.PeerCertificates[0].SerialNumber.String(),
					"Mallory, who does not hold Alice's key, is reported as Alice (resumed=%v, VerifyConnection saw %v)", st.DidResume, seen)
				assert.False(t, st.DidResume, "a tampered session is a miss")
				assert.Equal(t, mallory.cert.SerialNumber.String(), st.PeerCertificates[0].SerialNumber.String())
			})
		}
	}
}

// TestAttack14LazyFromTLSCloneBuildsConfigPerConnection: the usual
// crypto/tls pattern GetConfigForClient: func(h) { c := base.Clone(); ...;
// return c, nil } returns a new *tls.Config per connection. The converted
// configs are cached per *tls.Config pointer, so every connection builds a
// whole rustls ServerConfig (key export, root store, provider) from the
// attacker's ClientHello onwards (CPU amplification), and, since each
// config has its own session cache, no client ever resumes. crypto/tls
// resumes here (a Clone keeps the ticket keys). Expected: as crypto/tls
// (convert by content, not by pointer), or the doc warning about it.
func TestAttack14LazyFromTLSCloneBuildsConfigPerConnection(t *testing.T) {
	_, srv, _ := pki(t)
	base := &tls.Config{Certificates: []tls.Certificate{srv.tlsCert(t)}}
	base.GetConfigForClient = func(*tls.ClientHelloInfo) (*tls.Config, error) {
		c := base.Clone()
		c.GetConfigForClient = nil
		return c, nil
	}
	la, err := LazyAcceptorFromTLS(base, nil)
	require.NoError(t, err)
	client := goTLSClientConfig(t)
	client.ClientSessionCache = tls.NewLRUClientSessionCache(8)
	var resumed []bool
	for i := 0; i < 3; i++ {
		cc, sc := tcpPair(t)
		ch := make(chan error, 1)
		go func() {
			s, err := la.Accept(testCtx(t), sc)
			if err == nil {
				buf := make([]byte, 1)
				_, _ = s.Read(buf)
				_, _ = s.Write([]byte("x"))
				s.Close() // flushes the tickets and the data
			}
			ch <- err
		}()
		tc := tls.Client(cc, client)
		require.NoError(t, tc.HandshakeContext(testCtx(t)))
		_, err := tc.Write([]byte("y"))
		require.NoError(t, err)
		buf := make([]byte, 1)
		_, err = tc.Read(buf) // the data, and the tickets before it
		require.NoError(t, err)
		require.NoError(t, <-ch)
		resumed = append(resumed, tc.ConnectionState().DidResume)
		tc.Close()
	}
	assert.Equal(t, []bool{false, true, true}, resumed, "sessions resumed through a GetConfigForClient that clones")
}
