package rustls

import (
	"container/list"
	"sync"
)

// SessionStore keeps server-side TLS session state for resumption, in place
// of rustls's built-in in-memory cache (see ServerOptions.SessionStore for
// when rustls calls it). Implementations must be safe for concurrent use:
// rustls calls them from every connection's handshake, on the goroutine
// driving it. Keys and values are opaque bytes; Put must copy what it
// keeps. Each key starts with the 32-byte policy fingerprint of the config
// that uses it; each value is sealed (encrypted and authenticated) under
// ServerOptions.SessionStoreKey and bound to its key. A value that does not
// open under the resuming config's keys, or that was moved to another key,
// counts as a miss (a full handshake). So someone who can read the store
// learns nothing of the sessions, and someone who can write to it can
// cause full handshakes but cannot forge or alter a session; they can put
// back a value that was taken out, which lets the client holding that TLS
// 1.3 ticket use it again (see docs/security.md, Resumption). One store may
// serve several configs, even in several processes (those need a shared
// SessionStoreKey): a config only resumes sessions made under its own
// client-auth policy. A panic in Get or Put is recovered and fails that
// handshake only, with an *Error wrapping a *PanicError that names
// SessionStore.Get or SessionStore.Put; the config keeps working. gorustls
// holds no lock of its own while calling the store.
type SessionStore interface {
	// Get returns the value stored under key; with remove set, the value
	// must also be deleted (single-use tickets).
	Get(key []byte, remove bool) (value []byte, ok bool)
	// Put stores value under key and reports whether it was stored.
	Put(key, value []byte) bool
}

// MemorySessionStore is a bounded in-memory SessionStore that evicts the
// least recently stored entry when full. It is safe for concurrent use
// and may be shared by any number of configs (each config's keys start
// with its own policy fingerprint, so they never collide). It holds no C
// memory and needs no Close; Put copies the value it stores.
type MemorySessionStore struct {
	mu    sync.Mutex
	max   int
	order *list.List
	items map[string]*list.Element
}

type sessionEntry struct {
	key   string
	value []byte
}

// NewMemorySessionStore returns a store holding at most max sessions
// (256 when max <= 0).
func NewMemorySessionStore(max int) *MemorySessionStore {
	if max <= 0 {
		max = 256
	}
	return &MemorySessionStore{max: max, order: list.New(), items: map[string]*list.Element{}}
}

// Get implements SessionStore.
func (s *MemorySessionStore) Get(key []byte, remove bool) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.items[string(key)]
	if !ok {
		return nil, false
	}
	v := e.Value.(*sessionEntry).value
	if remove {
		s.order.Remove(e)
		delete(s.items, string(key))
	}
	return v, true
}

// Put implements SessionStore.
func (s *MemorySessionStore) Put(key, value []byte) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := string(key)
	if e, ok := s.items[k]; ok {
		e.Value.(*sessionEntry).value = append([]byte(nil), value...)
		s.order.MoveToBack(e)
		return true
	}
	for s.order.Len() >= s.max {
		old := s.order.Front()
		s.order.Remove(old)
		delete(s.items, old.Value.(*sessionEntry).key)
	}
	s.items[k] = s.order.PushBack(&sessionEntry{key: k, value: append([]byte(nil), value...)})
	return true
}

// Len returns the number of stored sessions.
func (s *MemorySessionStore) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.order.Len()
}
