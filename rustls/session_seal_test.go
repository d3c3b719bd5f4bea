package rustls

import (
	"bytes"
	"crypto/rand"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func testStoreKey(t testing.TB) []byte {
	k := make([]byte, SessionStoreKeySize)
	_, err := rand.Read(k)
	require.NoError(t, err)
	return k
}

// TestSessionSealer: a sealed value opens only under a key that sealed it
// (or a rotation list holding it), only for the store key it was sealed
// for, and not after any change; it does not show the plaintext.
func TestSessionSealer(t *testing.T) {
	k1, k2 := testStoreKey(t), testStoreKey(t)
	s1 := newSessionSealer([][]byte{k1})
	plain := []byte("a rustls session with a secret in it")
	key := []byte("fingerprint and ticket id")

	sealed := s1.seal(key, plain)
	assert.Len(t, sealed, len(plain)+sealOverhead)
	assert.NotContains(t, string(sealed), "secret", "encrypted")
	assert.NotEqual(t, sealed, s1.seal(key, plain), "each value has its own salt")
	got, ok := s1.open(key, sealed)
	require.True(t, ok)
	assert.Equal(t, plain, got)

	t.Run("another key", func(t *testing.T) {
		_, ok := newSessionSealer([][]byte{k2}).open(key, sealed)
		assert.False(t, ok)
	})
	t.Run("another store key", func(t *testing.T) {
		_, ok := s1.open([]byte("fingerprint and ticket iD"), sealed)
		assert.False(t, ok)
		_, ok = s1.open(key[:len(key)-1], sealed)
		assert.False(t, ok)
	})
	t.Run("any byte changed", func(t *testing.T) {
		for i := range sealed {
			bad := bytes.Clone(sealed)
			bad[i] ^= 0x01
			_, ok := s1.open(key, bad)
			assert.False(t, ok, "byte %d flipped", i)
		}
	})
	t.Run("truncated or extended", func(t *testing.T) {
		for i := range sealed {
			_, ok := s1.open(key, sealed[:i])
			assert.False(t, ok, "truncated to %d", i)
		}
		_, ok := s1.open(key, append(bytes.Clone(sealed), 0))
		assert.False(t, ok)
		_, ok = s1.open(key, make([]byte, maxSealedValue+1))
		assert.False(t, ok)
	})
	t.Run("rotation", func(t *testing.T) {
		rotated := newSessionSealer([][]byte{k2, k1})
		got, ok := rotated.open(key, sealed)
		require.True(t, ok, "the second key opens")
		assert.Equal(t, plain, got)
		fresh := rotated.seal(key, plain)
		_, ok = s1.open(key, fresh)
		assert.False(t, ok, "the first key seals")
		_, ok = newSessionSealer([][]byte{k2}).open(key, fresh)
		assert.True(t, ok)
	})
}

// TestPolicyStoreRefusesForeignValues: what a config reads from the store
// is a miss unless the config sealed it itself, under this very key: a
// value sealed under another SessionStoreKey, a value moved from another
// key (another ticket of the same config, another config's), and the
// plain values of older gorustls versions (fingerprint, then the session).
func TestPolicyStoreRefusesForeignValues(t *testing.T) {
	ca, _, cli := pki(t)
	fp := policyFingerprint(RequireAndVerifyClientCert, [][]byte{ca.certPEM}, nil)
	good := encodeServerSession([][]byte{cli.cert.Raw, ca.cert.Raw}, time.Now())
	inner := NewMemorySessionStore(0)
	mine := newPolicyStore(inner, fp, RequireAndVerifyClientCert, newSessionSealer([][]byte{testStoreKey(t)}))
	theirs := newPolicyStore(inner, fp, RequireAndVerifyClientCert, newSessionSealer([][]byte{testStoreKey(t)}))

	require.True(t, mine.Put([]byte("a"), good))
	got, ok := mine.Get([]byte("a"), false)
	require.True(t, ok)
	assert.Equal(t, good, got)

	t.Run("sealed under another key", func(t *testing.T) {
		require.True(t, theirs.Put([]byte("b"), good))
		_, ok := mine.Get([]byte("b"), false)
		assert.False(t, ok)
		_, ok = inner.Get(mine.key([]byte("b")), false)
		assert.True(t, ok, "a TLS 1.2 lookup leaves another key's value alone")
		_, ok = theirs.Get([]byte("b"), false)
		assert.True(t, ok, "and its owner still resumes it")
	})
	t.Run("moved to another key", func(t *testing.T) {
		v, ok := inner.Get(mine.key([]byte("a")), false)
		require.True(t, ok)
		require.True(t, inner.Put(mine.key([]byte("c")), v))
		_, ok = mine.Get([]byte("c"), true)
		assert.False(t, ok)
	})
	t.Run("moved to another policy's key", func(t *testing.T) {
		optional := newPolicyStore(inner, policyFingerprint(VerifyClientCertIfGiven, [][]byte{ca.certPEM}, nil), VerifyClientCertIfGiven, mine.sealer)
		v, ok := inner.Get(mine.key([]byte("a")), false)
		require.True(t, ok)
		require.True(t, inner.Put(optional.key([]byte("a")), v))
		_, ok = optional.Get([]byte("a"), true)
		assert.False(t, ok)
	})
	t.Run("plain value of older versions", func(t *testing.T) {
		require.True(t, inner.Put(mine.key([]byte("d")), append(fp[:len(fp):len(fp)], good...)))
		_, ok := mine.Get([]byte("d"), true)
		assert.False(t, ok)
		require.True(t, inner.Put(mine.key([]byte("e")), good))
		_, ok = mine.Get([]byte("e"), true)
		assert.False(t, ok)
	})
}

// TestSessionStoreKeySharing: configs resume each other's sessions through
// a shared store exactly when they seal under a common key: the same
// explicit SessionStoreKey, a rotation list holding the sealing key, or no
// key at all in one process (the process-wide default key). Configs with
// different keys, or one with an explicit key and one with the default,
// run full handshakes.
func TestSessionStoreKeySharing(t *testing.T) {
	k1, k2 := testStoreKey(t), testStoreKey(t)
	keyed := func(k []byte) func(*ServerOptions) {
		return func(o *ServerOptions) { o.SessionStoreKey = k }
	}
	rotated := func(ks ...[]byte) func(*ServerOptions) {
		return func(o *ServerOptions) { o.SessionStoreKeys = ks }
	}
	none := func(*ServerOptions) {}
	for _, v := range resumeVersions {
		for _, tc := range []struct {
			name   string
			a, b   func(*ServerOptions)
			resume bool
		}{
			{"same explicit key", keyed(k1), keyed(k1), true},
			{"different keys", keyed(k1), keyed(k2), false},
			{"process default key", none, none, true},
			{"explicit key and default", keyed(k1), none, false},
			{"old key still opens", keyed(k1), rotated(k2, k1), true},
			{"rotation seals under the first key", rotated(k2, k1), keyed(k2), true},
			{"rotation does not seal under the old key", rotated(k2, k1), keyed(k1), false},
		} {
			t.Run(versionName(v)+"/"+tc.name, func(t *testing.T) {
				store := NewMemorySessionStore(0)
				server := func(mod func(*ServerOptions)) *ServerConfig {
					return serverConfig(t, func(o *ServerOptions) {
						o.Versions = []uint16{v}
						o.SessionStore = store
						mod(o)
					})
				}
				a, b := server(tc.a), server(tc.b)
				ccfg := clientConfig(t, func(o *ClientOptions) { o.Versions = []uint16{v} })
				c, s := mustPair(t, a, ccfg)
				assertResumed(t, c, s, false)
				require.NoError(t, c.Close())
				require.NoError(t, s.Close())
				require.Positive(t, store.Len())
				c, s = mustPair(t, b, ccfg)
				assertResumed(t, c, s, tc.resume)
			})
		}
	}
}

// TestSessionStoreKeyOptions: SessionStoreKey and SessionStoreKeys take
// exactly 32 bytes that are not all zero, one field at a time, and only
// with a SessionStore; anything else is refused with ErrInvalidInput
// naming the field. The key is copied at build time.
func TestSessionStoreKeyOptions(t *testing.T) {
	_, srv, _ := pki(t)
	store := NewMemorySessionStore(0)
	good := testStoreKey(t)
	for _, tc := range []struct {
		name string
		mod  func(*ServerOptions)
		want string
	}{
		{"short key", func(o *ServerOptions) { o.SessionStoreKey = good[:31] }, "SessionStoreKey is 31 bytes"},
		{"long key", func(o *ServerOptions) { o.SessionStoreKey = append(bytes.Clone(good), 1) }, "SessionStoreKey is 33 bytes"},
		{"empty key", func(o *ServerOptions) { o.SessionStoreKey = []byte{} }, "SessionStoreKey is 0 bytes"},
		{"zero key", func(o *ServerOptions) { o.SessionStoreKey = make([]byte, 32) }, "SessionStoreKey is all zeros"},
		{"both fields", func(o *ServerOptions) { o.SessionStoreKey, o.SessionStoreKeys = good, [][]byte{good} }, "both set"},
		{"empty key list", func(o *ServerOptions) { o.SessionStoreKeys = [][]byte{} }, "SessionStoreKeys is empty"},
		{"bad key in list", func(o *ServerOptions) { o.SessionStoreKeys = [][]byte{good, good[:16]} }, "SessionStoreKeys[1] is 16 bytes"},
		{"zero key in list", func(o *ServerOptions) { o.SessionStoreKeys = [][]byte{make([]byte, 32)} }, "SessionStoreKeys[0] is all zeros"},
		{"key without store", func(o *ServerOptions) { o.SessionStore, o.SessionStoreKey = nil, good }, "without a SessionStore"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := ServerOptions{Certificates: []*CertifiedKey{srv.certifiedKey(t)}, SessionStore: store}
			tc.mod(&o)
			cfg, err := NewServerConfig(o)
			require.Error(t, err)
			assert.Nil(t, cfg)
			assert.True(t, errors.Is(err, ErrInvalidInput), "%v", err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}

	t.Run("copied at build time", func(t *testing.T) {
		k := bytes.Clone(good)
		a := serverConfig(t, func(o *ServerOptions) { o.SessionStore, o.SessionStoreKey = store, k })
		for i := range k {
			k[i] = 0xff
		}
		b := serverConfig(t, func(o *ServerOptions) { o.SessionStore, o.SessionStoreKey = store, good })
		ccfg := clientConfig(t, nil)
		c, s := mustPair(t, a, ccfg)
		require.NoError(t, c.Close())
		require.NoError(t, s.Close())
		c, s = mustPair(t, b, ccfg)
		assertResumed(t, c, s, true)
	})
}
