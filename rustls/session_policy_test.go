package rustls

import (
	"bytes"
	"encoding/binary"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// recordingStore keeps every key and value rustls stores, as the user's
// store sees them.
type recordingStore struct {
	*MemorySessionStore
	mu     sync.Mutex
	keys   [][]byte
	values [][]byte
}

func (s *recordingStore) Put(key, value []byte) bool {
	s.mu.Lock()
	s.keys = append(s.keys, bytes.Clone(key))
	s.values = append(s.values, bytes.Clone(value))
	s.mu.Unlock()
	return s.MemorySessionStore.Put(key, value)
}

// encodeServerSession writes a session in rustls's encoding (see
// parseServerSession), for the store tests.
func encodeServerSession(certs [][]byte, created time.Time) []byte {
	b := []byte{1, 9}
	b = append(b, "localhost"...)
	b = append(b, 0x03, 0x04, 0x13, 0x01) // version, suite
	b = append(b, 32)
	b = append(b, make([]byte, 32)...) // secret
	b = append(b, 1)                   // extended master secret
	if certs == nil {
		b = append(b, 0)
	} else {
		var list []byte
		for _, c := range certs {
			list = append(list, byte(len(c)>>16), byte(len(c)>>8), byte(len(c)))
			list = append(list, c...)
		}
		b = append(b, 1, byte(len(list)>>16), byte(len(list)>>8), byte(len(list)))
		b = append(b, list...)
	}
	b = append(b, 1, 2, 'h', '2') // ALPN
	b = append(b, 0, 0)           // application data
	b = binary.BigEndian.AppendUint64(b, uint64(created.Unix()))
	return append(b, 0, 0, 0, 0)
}

// TestParseServerSessionFromRustls: the values rustls 0.23 stores parse,
// carry the client's chain and the creation time; any truncation or
// trailing byte is refused.
func TestParseServerSessionFromRustls(t *testing.T) {
	ca, _, cli := pki(t)
	for _, v := range resumeVersions {
		t.Run(versionName(v), func(t *testing.T) {
			store := &recordingStore{MemorySessionStore: NewMemorySessionStore(0)}
			scfg := serverConfig(t, func(o *ServerOptions) {
				o.Versions = []uint16{v}
				o.SessionStore = store
				o.ClientAuth = RequireAndVerifyClientCert
				o.ClientCAs = ca.certPEM
			})
			mustPair(t, scfg, clientConfig(t, func(o *ClientOptions) { o.Certificate = cli.certifiedKey(t) }))
			store.mu.Lock()
			keys, values := store.keys, store.values
			store.mu.Unlock()
			require.NotEmpty(t, values)
			sealer := newSessionSealer([][]byte{processStoreKey()})
			for i, val := range values {
				assert.NotContains(t, string(val), string(cli.cert.Raw), "stored values are encrypted")
				raw, ok := sealer.open(keys[i], val)
				require.True(t, ok, "sealed under the process key, for its store key")
				s, ok := parseServerSession(raw)
				require.True(t, ok)
				require.Len(t, s.clientCerts, 2)
				assert.Equal(t, cli.cert.Raw, s.clientCerts[0])
				assert.Equal(t, ca.cert.Raw, s.clientCerts[1])
				assert.InDelta(t, time.Now().Unix(), int64(s.created), 60)
				for i := range raw {
					_, ok := parseServerSession(raw[:i])
					assert.False(t, ok, "truncated to %d bytes", i)
				}
				_, ok = parseServerSession(append(bytes.Clone(raw), 0))
				assert.False(t, ok, "trailing byte")
			}
		})
	}
}

// TestPolicyFingerprint: the fingerprint ignores the order and repetition
// of CAs and CRLs, and changes with the mode, the CAs and the CRLs.
func TestPolicyFingerprint(t *testing.T) {
	ca, _, cli := pki(t)
	other := newTestCA(t, "other CA")
	crl := ca.crl(t, cli.cert)
	base := policyFingerprint(RequireAndVerifyClientCert, [][]byte{ca.certPEM, other.certPEM}, nil)
	assert.Equal(t, base, policyFingerprint(RequireAndVerifyClientCert, [][]byte{append(bytes.Clone(other.certPEM), ca.certPEM...), ca.certPEM}, nil))
	assert.NotEqual(t, base, policyFingerprint(VerifyClientCertIfGiven, [][]byte{ca.certPEM, other.certPEM}, nil))
	assert.NotEqual(t, base, policyFingerprint(RequireAndVerifyClientCert, [][]byte{ca.certPEM}, nil))
	assert.NotEqual(t, base, policyFingerprint(RequireAndVerifyClientCert, [][]byte{ca.certPEM, other.certPEM}, [][]byte{crl}))
	assert.NotEqual(t, policyFingerprint(RequireAndVerifyClientCert, [][]byte{ca.certPEM}, [][]byte{crl}),
		policyFingerprint(RequireAndVerifyClientCert, [][]byte{ca.certPEM}, [][]byte{ca.crl(t)}))
	assert.Equal(t, policyFingerprint(NoClientCert, nil, nil), policyFingerprint(NoClientCert, [][]byte{ca.certPEM}, nil))
}

// TestPolicyStoreGet: what the wrapper hands rustls, and what it refuses.
func TestPolicyStoreGet(t *testing.T) {
	ca, _, cli := pki(t)
	expired := ca.leaf(t, leafOpts{client: true, notAfter: time.Now().Add(-time.Minute)})
	fp := policyFingerprint(RequireAndVerifyClientCert, [][]byte{ca.certPEM}, nil)
	inner := NewMemorySessionStore(0)
	sealer := newSessionSealer([][]byte{testStoreKey(t)})
	s := newPolicyStore(inner, fp, RequireAndVerifyClientCert, sealer)
	chain := [][]byte{cli.cert.Raw, ca.cert.Raw}
	good := encodeServerSession(chain, time.Now())

	require.True(t, s.Put([]byte("id"), good))
	got, ok := s.Get([]byte("id"), false)
	require.True(t, ok)
	assert.Equal(t, good, got)
	_, ok = inner.Get([]byte("id"), false)
	assert.False(t, ok, "the key is prefixed")

	for name, val := range map[string][]byte{
		"no client certificate":  encodeServerSession(nil, time.Now()),
		"expired certificate":    encodeServerSession([][]byte{expired.cert.Raw, ca.cert.Raw}, time.Now()),
		"unparseable cert":       encodeServerSession([][]byte{{0x30, 0x00}}, time.Now()),
		"older than 7 days":      encodeServerSession(chain, time.Now().Add(-maxSessionAge-time.Minute)),
		"not a rustls session":   []byte("garbage"),
		"empty certificate list": encodeServerSession([][]byte{}, time.Now()),
	} {
		t.Run(name, func(t *testing.T) {
			require.True(t, s.Put([]byte(name), val))
			_, ok := s.Get([]byte(name), false)
			assert.False(t, ok)
			_, ok = inner.Get(s.key([]byte(name)), false)
			assert.False(t, ok, "a session that can never resume is dropped")
		})
	}

	t.Run("another policy's value under this key", func(t *testing.T) {
		other := newPolicyStore(inner, policyFingerprint(VerifyClientCertIfGiven, [][]byte{ca.certPEM}, nil), VerifyClientCertIfGiven, sealer)
		require.True(t, other.Put([]byte("x"), good))
		v, ok := inner.Get(other.key([]byte("x")), false)
		require.True(t, ok)
		require.True(t, inner.Put(s.key([]byte("x")), v))
		_, ok = s.Get([]byte("x"), true)
		assert.False(t, ok)
	})
	t.Run("no client auth refuses sessions with certificates", func(t *testing.T) {
		none := newPolicyStore(inner, policyFingerprint(NoClientCert, nil, nil), NoClientCert, sealer)
		require.True(t, none.Put([]byte("y"), good))
		_, ok := none.Get([]byte("y"), false)
		assert.False(t, ok)
		require.True(t, none.Put([]byte("z"), encodeServerSession(nil, time.Now())))
		_, ok = none.Get([]byte("z"), true)
		assert.True(t, ok)
	})
}

// FuzzParseServerSession: arbitrary stored bytes never panic the parser,
// and what it accepts is well formed.
func FuzzParseServerSession(f *testing.F) {
	f.Add(encodeServerSession(nil, time.Now()))
	f.Add(encodeServerSession([][]byte{{1, 2, 3}, {4}}, time.Now()))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		s, ok := parseServerSession(b)
		if !ok {
			return
		}
		for _, c := range s.clientCerts {
			if len(c) == 0 {
				t.Fatal("empty certificate accepted")
			}
		}
	})
}
