package rustls

import (
	"bytes"
	"crypto/tls"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// countingStore is a SessionStore that records how rustls uses it.
type countingStore struct {
	inner *MemorySessionStore

	mu       sync.Mutex
	puts     [][]byte // keys
	gets     int
	takes    int // gets with remove set
	hits     int
	refuse   bool // Put reports failure
	panicGet bool
}

func newCountingStore() *countingStore {
	return &countingStore{inner: NewMemorySessionStore(0)}
}

func (s *countingStore) Get(key []byte, remove bool) ([]byte, bool) {
	s.mu.Lock()
	if remove {
		s.takes++
	} else {
		s.gets++
	}
	panicGet := s.panicGet
	s.mu.Unlock()
	if panicGet {
		panic("session store bug")
	}
	v, ok := s.inner.Get(key, remove)
	if ok {
		s.mu.Lock()
		s.hits++
		s.mu.Unlock()
	}
	return v, ok
}

func (s *countingStore) Put(key, value []byte) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.puts = append(s.puts, append([]byte(nil), key...))
	if s.refuse {
		return false
	}
	return s.inner.Put(key, value)
}

func (s *countingStore) counts() (puts, gets, takes, hits int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.puts), s.gets, s.takes, s.hits
}

// connectTwice makes two connections with the same configs, exchanging data
// on the first so that a TLS 1.3 client receives its tickets, and returns
// both pairs.
//
// The first connection is closed before the second starts, as clients do.
func connectTwice(t *testing.T, scfg *ServerConfig, ccfg *ClientConfig) (first, second [2]*Stream) {
	t.Helper()
	c1, s1 := mustPair(t, scfg, ccfg)
	assert.Equal(t, HandshakeFull, c1.HandshakeKind())
	assert.False(t, c1.ConnectionState().DidResume)
	require.NoError(t, c1.Close())
	require.NoError(t, s1.Close())
	c2, s2 := mustPair(t, scfg, ccfg)
	return [2]*Stream{c1, s1}, [2]*Stream{c2, s2}
}

func assertResumed(t *testing.T, c, s *Stream, want bool) {
	t.Helper()
	kind := HandshakeFull
	if want {
		kind = HandshakeResumed
	}
	assert.Equal(t, kind, c.HandshakeKind(), "client handshake kind")
	assert.Equal(t, kind, s.HandshakeKind(), "server handshake kind")
	assert.Equal(t, want, c.ConnectionState().DidResume)
	assert.Equal(t, want, s.ConnectionState().DidResume)
}

// TestSessionResumptionDefaultCache: rustls's built-in caches (the server's
// in-memory store, the client config's session cache) resume the second
// connection made from the same ClientConfig.
func TestSessionResumptionDefaultCache(t *testing.T) {
	for _, v := range []uint16{VersionTLS13, VersionTLS12} {
		t.Run(versionName(v), func(t *testing.T) {
			scfg := serverConfig(t, func(o *ServerOptions) { o.Versions = []uint16{v} })
			ccfg := clientConfig(t, nil)
			_, second := connectTwice(t, scfg, ccfg)
			assertResumed(t, second[0], second[1], true)
			assert.Equal(t, v, second[0].ConnectionState().Version)
			assert.NotEmpty(t, second[0].ConnectionState().PeerCertificates, "a resumed client still reports the server's chain")

			// Another ClientConfig has its own, empty cache.
			c, s := mustPair(t, scfg, clientConfig(t, nil))
			assertResumed(t, c, s, false)
		})
	}
}

// TestSessionStoreTLS12SessionIDs: with TLS 1.2 the server saves each
// session under its session ID (Put) and looks it up, without removing it,
// when the client offers that ID again (Get).
func TestSessionStoreTLS12SessionIDs(t *testing.T) {
	store := newCountingStore()
	scfg := serverConfig(t, func(o *ServerOptions) { o.SessionStore = store; o.Versions = []uint16{VersionTLS12} })
	ccfg := clientConfig(t, nil)

	first, second := connectTwice(t, scfg, ccfg)
	_ = first
	puts, gets, takes, hits := store.counts()
	assert.Len(t, store.puts[0], 64, "the key is the policy fingerprint and the 32-byte session ID")
	assertResumed(t, second[0], second[1], true)
	// A client that also offers TLS 1.3 sends a random legacy session ID
	// in its first ClientHello: the server looks it up too (a miss).
	assert.Equal(t, 2, gets, "looked up by session ID")
	assert.Equal(t, 0, takes, "TLS 1.2 sessions are not single-use")
	assert.Equal(t, 1, hits)
	assert.Equal(t, 1, puts, "a resumed session is not saved again")
	assert.Equal(t, 1, store.inner.Len())
}

// TestSessionStoreTLS13StatefulTickets: rustls-ffi offers no ticket
// encryption key, so a TLS 1.3 server issues stateful tickets: each ticket
// is a random 32-byte ID (stored after the policy prefix) whose session
// state goes to Put, and resumption takes it out (Get with remove: tickets
// are single-use).
func TestSessionStoreTLS13StatefulTickets(t *testing.T) {
	store := newCountingStore()
	scfg := serverConfig(t, func(o *ServerOptions) { o.SessionStore = store })
	ccfg := clientConfig(t, nil)

	c1, s1 := mustPair(t, scfg, ccfg)
	assertResumed(t, c1, s1, false)
	puts, _, _, _ := store.counts()
	require.GreaterOrEqual(t, puts, 1, "tickets are saved through the store")
	for _, k := range store.puts {
		assert.Len(t, k, 64, "policy fingerprint and ticket ID")
	}
	stored := store.inner.Len()
	assert.Equal(t, puts, stored)

	c2, s2 := mustPair(t, scfg, ccfg)
	assertResumed(t, c2, s2, true)
	puts2, gets, takes, hits := store.counts()
	assert.Equal(t, 0, gets)
	assert.Equal(t, 1, takes, "a ticket is taken out of the store (single use)")
	assert.Equal(t, 1, hits)
	// The resumed connection issues fresh tickets; the used one is gone.
	assert.Equal(t, stored-1+(puts2-puts), store.inner.Len())
}

// TestSessionStoreRefusingPut: when the store refuses every session, rustls
// issues no tickets and no session IDs, and nothing resumes.
func TestSessionStoreRefusingPut(t *testing.T) {
	for _, v := range []uint16{VersionTLS13, VersionTLS12} {
		t.Run(versionName(v), func(t *testing.T) {
			store := newCountingStore()
			store.refuse = true
			scfg := serverConfig(t, func(o *ServerOptions) { o.SessionStore = store; o.Versions = []uint16{v} })
			_, second := connectTwice(t, scfg, clientConfig(t, nil))
			assertResumed(t, second[0], second[1], false)
			puts, _, _, hits := store.counts()
			assert.GreaterOrEqual(t, puts, 1)
			assert.Equal(t, 0, hits)
		})
	}
}

// TestSessionStorePanic: a panicking store does not take the process down:
// the handshake that called it fails, naming SessionStore.Get, and the
// config keeps serving (TestPanicSessionStore covers Put and TLS 1.3).
func TestSessionStorePanic(t *testing.T) {
	store := newCountingStore()
	scfg := serverConfig(t, func(o *ServerOptions) { o.SessionStore = store; o.Versions = []uint16{VersionTLS12} })
	ccfg := clientConfig(t, nil)
	mustPair(t, scfg, ccfg)
	store.mu.Lock()
	store.panicGet = true
	store.mu.Unlock()
	_, s := tryPair(t, scfg, ccfg, "localhost")
	var pe *PanicError
	require.ErrorAs(t, s.err, &pe)
	assert.Equal(t, "SessionStore.Get", pe.Callback)
	_, gets, _, hits := store.counts()
	assert.Equal(t, 2, gets, "one lookup per handshake")
	assert.Equal(t, 0, hits)
	store.mu.Lock()
	store.panicGet = false
	store.mu.Unlock()
	mustPair(t, scfg, ccfg)
}

// TestSessionResumptionGoClient: a crypto/tls client with a session cache
// resumes against a gorustls server through the stateful TLS 1.3 tickets
// kept in a MemorySessionStore.
func TestSessionResumptionGoClient(t *testing.T) {
	store := NewMemorySessionStore(16)
	scfg := serverConfig(t, func(o *ServerOptions) { o.SessionStore = store })
	g := goTLSClientConfig(t)
	g.ClientSessionCache = tls.NewLRUClientSessionCache(4)
	r := goClientToServer(t, scfg, g)
	require.NoError(t, r.clientErr)
	assert.False(t, r.state.DidResume)
	assert.Greater(t, store.Len(), 0)
	r = goClientToServer(t, scfg, g)
	require.NoError(t, r.clientErr)
	assert.True(t, r.state.DidResume)
	assert.Equal(t, HandshakeResumed, r.server.HandshakeKind())
}

func TestMemorySessionStore(t *testing.T) {
	s := NewMemorySessionStore(2)
	v := []byte("value-a")
	assert.True(t, s.Put([]byte("a"), v))
	v[0] = 'X'
	got, ok := s.Get([]byte("a"), false)
	require.True(t, ok)
	assert.Equal(t, "value-a", string(got), "Put copies the value")

	assert.True(t, s.Put([]byte("b"), []byte("value-b")))
	assert.True(t, s.Put([]byte("c"), []byte("value-c")))
	assert.Equal(t, 2, s.Len())
	_, ok = s.Get([]byte("a"), false)
	assert.False(t, ok, "the oldest entry is evicted")

	assert.True(t, s.Put([]byte("b"), []byte("value-b2")), "replacing refreshes the entry")
	assert.True(t, s.Put([]byte("d"), []byte("value-d")))
	got, ok = s.Get([]byte("b"), false)
	require.True(t, ok)
	assert.Equal(t, "value-b2", string(got))
	_, ok = s.Get([]byte("c"), false)
	assert.False(t, ok)

	got, ok = s.Get([]byte("d"), true)
	require.True(t, ok)
	assert.True(t, bytes.Equal([]byte("value-d"), got))
	_, ok = s.Get([]byte("d"), false)
	assert.False(t, ok, "remove deletes the entry")
	assert.Equal(t, 1, s.Len())

	assert.Equal(t, 256, NewMemorySessionStore(0).max)

	t.Run("concurrent", func(t *testing.T) {
		s := NewMemorySessionStore(64)
		var wg sync.WaitGroup
		for g := 0; g < 8; g++ {
			wg.Add(1)
			go func(g int) {
				defer wg.Done()
				for i := 0; i < 200; i++ {
					k := []byte{byte(g), byte(i)}
					s.Put(k, k)
					s.Get(k, i%2 == 0)
				}
			}(g)
		}
		wg.Wait()
		assert.LessOrEqual(t, s.Len(), 64)
	})
}
