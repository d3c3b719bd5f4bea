package rustls

import (
	"sync"

	"github.com/gorustls/gorustls/cgo"
)

// configLife tracks the C reference a config owns, the connections being
// made from it and the streams made from it. The owner's reference is
// dropped at Close; the C config is freed once, when no connection is being
// made from it any more (each connection holds its own C reference once
// made). The key-log slot is released only when the C config is freed and
// no stream made from it remains, since rustls-ffi's key-log callback cannot
// tell configs apart. mu is never held across a C call that can run user
// code: making a connection can (rustls may log keys while it takes the
// ClientHello), so acquire counts a reference instead of holding mu.
type configLife struct {
	mu      sync.Mutex
	free    func()
	slot    int
	closed  bool // the owner's reference has been dropped
	refs    int  // the owner's reference (until closed) plus connections being made
	streams int
	tries   uint64     // acquire calls so far, refused ones included
	peer    *peerCheck // how streams report and check the peer (peer_check.go)
	keylog  bool       // the config has a KeyLogWriter (user code in its connections' C calls)
}

func newConfigLife(free func(), slot int) *configLife {
	return &configLife{free: free, slot: slot, refs: 1, keylog: slot >= 0}
}

// userCode reports whether config-level user code can run inside the C
// calls of a connection made from this config: a KeyLogWriter, or a
// VerifyConnection hook (run by the handshake, not inside a C call).
func (l *configLife) userCode() bool {
	return l.keylog || (l.peer != nil && l.peer.verifyConn != nil)
}

// acquire runs fn (which creates a connection from the C config) with a
// reference of its own to the config, so that a concurrent close cannot
// free it meanwhile, and counts a stream on success. A closed config is an
// error.
func (l *configLife) acquire(fn func() error) error {
	l.mu.Lock()
	l.tries++
	if l.closed {
		l.mu.Unlock()
		return &Error{Code: CodeInvalidParameter, Op: "start connection", Detail: "the config is closed"}
	}
	l.refs++
	l.mu.Unlock()
	err := fn()
	l.mu.Lock()
	defer l.mu.Unlock()
	if err == nil {
		l.streams++
	}
	l.drop()
	return err
}

// acquired returns how many times acquire was called: a cache that handed
// the config out n times and sees n tries may close it without failing a
// connection that was about to be made from it.
func (l *configLife) acquired() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.tries
}

// release is called once per stream when its connection is freed.
func (l *configLife) release() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.streams--
	l.maybeFinish()
}

// close drops the owner's reference, once.
func (l *configLife) close() {
	if l == nil { // a zero-value config (not made by New*Config)
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return
	}
	l.closed = true
	l.drop()
}

// drop drops one reference; the last one frees the C config.
func (l *configLife) drop() {
	l.refs--
	if l.refs == 0 {
		l.free()
	}
	l.maybeFinish()
}

// maybeFinish releases the slot, once, when no C reference to the config
// remains.
func (l *configLife) maybeFinish() {
	if l.refs == 0 && l.streams == 0 && l.slot >= 0 {
		cgo.ReleaseKeylogSlot(l.slot)
		l.slot = -1
	}
}

// cref counts the Go-side references to one C object that Go hands to
// rustls (a certified key, a crypto provider). The owner (CertifiedKey,
// Provider) holds one until its Close or cleanup; every piece of code that
// passes the C pointer to rustls takes its own with acquire first and drops
// it with release once rustls surely holds its own C reference. The C
// object is freed when the count reaches zero, so Close at any moment on
// any goroutine cannot free memory rustls is still reading. mu is a leaf
// lock: nothing else is locked and no user code runs while it is held.
type cref[T any] struct {
	mu     sync.Mutex
	c      T
	refs   int  // the owner's reference (until closed) plus one per borrower
	closed bool // the owner's reference has been dropped
	free   func(T)
}

func newCRef[T any](c T, free func(T)) *cref[T] {
	return &cref[T]{c: c, refs: 1, free: free}
}

// acquire takes a reference and returns the C object; ok is false once the
// owner has closed it.
func (r *cref[T]) acquire() (c T, ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return c, false
	}
	r.refs++
	return r.c, true
}

// release drops a reference taken by acquire.
func (r *cref[T]) release() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.drop()
}

// close drops the owner's reference, once.
func (r *cref[T]) close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return
	}
	r.closed = true
	r.drop()
}

func (r *cref[T]) drop() {
	r.refs--
	if r.refs == 0 {
		r.free(r.c)
	}
}
