package rustls

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime/debug"
	"sync"
	"sync/atomic"

	"github.com/gorustls/gorustls/cgo"
)

// PanicError is the cause a handshake *Error wraps when a user callback
// panicked during that handshake: errors.As(err, new(*PanicError)) finds
// it. The panic is recovered, only that handshake fails, and the config
// keeps working for later ones. Callbacks that can fail a handshake this
// way: ServerOptions.GetCertificate, ClientOptions.DangerousVerifyPeerCertificate,
// the VerifyConnection hooks, a ServerOptions.SessionStore's Get and Put,
// and on the ClientHello path LazyAcceptor.Choose and the GetConfigForClient
// and GetCertificate of a converted tls.Config. Two callbacks never fail
// a handshake: a KeyLogWriter whose Write panics loses that line (later
// lines are still written), and a StreamOptions.Logger whose handler panics
// loses that record.
//
// A callback that ends its goroutine with runtime.Goexit (t.FailNow or
// t.Fatal inside it) is reported the same way, with Value cgo.ErrGoexit,
// but that goroutine never comes back: letting the Goexit unwind through
// rustls's frames would be undefined behaviour, so it is parked for good
// and the connection's C memory is leaked. The handshake ends as with a
// stuck callback, when its context ends or the Stream is closed (a
// HandshakeContext whose context never ends, run inline on the caller's
// goroutine, parks that goroutine). Call t.FailNow outside callbacks.
type PanicError struct {
	// Callback names what panicked: "GetCertificate",
	// "DangerousVerifyPeerCertificate", "VerifyConnection",
	// "SessionStore.Get", "SessionStore.Put", "LazyAcceptor.Choose",
	// "tls.Config.GetConfigForClient" or "tls.Config.GetCertificate".
	Callback string
	// Value is what the callback panicked with.
	Value any
	// Stack is the panicking goroutine's stack trace.
	Stack []byte
}

// Error returns "CALLBACK panicked: VALUE".
func (e *PanicError) Error() string { return fmt.Sprintf("%s panicked: %v", e.Callback, e.Value) }

// Unwrap returns the panic value when it is an error.
func (e *PanicError) Unwrap() error {
	err, _ := e.Value.(error)
	return err
}

// errClosedKey is why a handshake fails when GetCertificate returned a key
// that was closed before the connection could take its reference.
var errClosedKey = errors.New("GetCertificate returned a closed CertifiedKey")

// errNoKey is why a handshake fails when GetCertificate returned nil, nil.
var errNoKey = errors.New("GetCertificate returned no certificate")

// connCallbacks answers rustls's config-level callbacks for one connection.
// It is reached through an integer handle (never a Go pointer in C) and
// holds no reference to the Stream, so an abandoned Stream can still be
// collected. Its methods run on the goroutine inside a C call on the
// connection (core.mu held, and the in half during a handshake step or a
// Read); user code runs under recover with no other lock of ours held,
// marked as running (runner) so that Close never waits for those locks and
// the Stream's other methods refuse to.
type connCallbacks struct {
	logger  *slog.Logger
	verify  PeerVerifier
	store   SessionStore
	getCert func(*ClientHello) (*CertifiedKey, error)
	conn    net.Conn // the transport (ClientHello.Conn for GetCertificate)
	// userCode: user code can run inside this connection's C calls (one
	// of the above, or the config's KeyLogWriter). The handshake then
	// makes its C calls on a goroutine of their own, so that its context
	// and Close can end it while a callback is stuck (handshake.go).
	userCode bool
	// storeInternal: store is gorustls's own (a MemorySessionStore behind
	// the policy wrapper), called as internal code, not as a callback.
	storeInternal bool

	// runner is the goroutine running one of this connection's user
	// callbacks (0: none). Only one can: they run inside C calls on the
	// connection, which core.mu serializes (VerifyConnection runs under
	// the handshake's lock). Close reads it to avoid waiting for locks
	// that callback holds, the Stream's methods to refuse being called
	// from inside it.
	runner atomic.Uint64

	mu        sync.Mutex
	ctx       context.Context // the running handshake's (ClientHello.Context)
	verifyErr error           // why the custom verifier refused, for the handshake error
	certErr   error           // why no certificate was selected
	ocsp      []byte          // the staple the custom verifier accepted (ConnectionState)
	panicErr  *PanicError     // the first user callback that panicked
	// picked holds a reference to each key handed to rustls from
	// GetCertificate: rustls-ffi only borrows the pointer while it copies
	// the key, after the callback has returned. core.free drops them once
	// the connection is freed.
	picked []*cref[*cgo.CertifiedKey]
}

var _ cgo.Callbacks = (*connCallbacks)(nil)

// run calls fn, user code for the callback named name. A panic is
// recovered, recorded as this connection's failure and reported as false.
//
// A callback that calls runtime.Goexit (t.FailNow) is recorded as a panic
// with the value cgo.ErrGoexit; the cgo export below it then parks the
// goroutine for good rather than let the Goexit unwind through rustls.
func (cb *connCallbacks) run(name string, fn func()) (ok bool) {
	defer cb.leave(cb.enter())
	returned := false
	defer func() {
		if v := recover(); v != nil {
			cb.Panicked(name, v)
			ok = false
		} else if !returned {
			cb.Panicked(name, cgo.ErrGoexit)
		}
	}()
	fn()
	returned = true
	return true
}

// enter marks the calling goroutine as running a user callback of this
// connection; leave(enter()) ends it.
func (cb *connCallbacks) enter() (prev uint64) { return cb.runner.Swap(goid()) }

func (cb *connCallbacks) leave(prev uint64) { cb.runner.Store(prev) }

// busy reports whether a user callback of this connection is running.
func (cb *connCallbacks) busy() bool { return cb.runner.Load() != 0 }

// inCallback reports whether the calling goroutine is inside one of this
// connection's user callbacks. One atomic load when none runs.
func (cb *connCallbacks) inCallback() bool {
	r := cb.runner.Load()
	return r != 0 && r == goid()
}

// setContext records the context of the handshake starting; clearContext
// forgets it when the handshake ends.
func (cb *connCallbacks) setContext(ctx context.Context) {
	cb.mu.Lock()
	cb.ctx = ctx
	cb.mu.Unlock()
}

func (cb *connCallbacks) clearContext() {
	cb.mu.Lock()
	cb.ctx = nil
	cb.mu.Unlock()
}

// context returns the running handshake's context (Background when none).
func (cb *connCallbacks) context() context.Context {
	cb.mu.Lock()
	defer cb.mu.Unlock()
	if cb.ctx == nil {
		return context.Background()
	}
	return cb.ctx
}

// Panicked records a recovered panic; the first one is the handshake's
// cause. The cgo layer calls it too, for a panic in its own glue.
func (cb *connCallbacks) Panicked(name string, v any) {
	p := &PanicError{Callback: name, Value: v, Stack: debug.Stack()}
	cb.mu.Lock()
	defer cb.mu.Unlock()
	if cb.panicErr == nil {
		cb.panicErr = p
	}
}

func (cb *connCallbacks) VerifyServerCert(ee []byte, inter [][]byte, name string, ocsp []byte) uint32 {
	if cb.verify == nil {
		return cgo.ResultCertAppFailure
	}
	chain := append([][]byte{ee}, inter...)
	var err error
	if !cb.run("DangerousVerifyPeerCertificate", func() { err = cb.verify(name, chain, ocsp) }) {
		return cgo.ResultCertAppFailure
	}
	if err != nil {
		cb.mu.Lock()
		cb.verifyErr = err
		cb.mu.Unlock()
		return cgo.ResultCertAppFailure
	}
	cb.mu.Lock()
	cb.ocsp = ocsp
	cb.mu.Unlock()
	return cgo.ResultOK
}

// Log forwards a rustls log record (levels: 1 error, 2 warn, 3 info, 4
// debug, 5 trace). A panicking handler loses the record and nothing else.
func (cb *connCallbacks) Log(level int, msg string) {
	if cb.logger == nil {
		return
	}
	var l slog.Level
	switch level {
	case 1:
		l = slog.LevelError
	case 2:
		l = slog.LevelWarn
	case 3:
		l = slog.LevelInfo
	default:
		l = slog.LevelDebug
	}
	defer cb.leave(cb.enter())
	defer func() { _ = recover() }()
	cb.logger.Log(context.Background(), l, msg, "source", "rustls")
}

func (cb *connCallbacks) SessionGet(key []byte, remove bool) (v []byte, ok bool) {
	if cb.store == nil {
		return nil, false
	}
	if cb.storeInternal {
		return cb.store.Get(key, remove)
	}
	if !cb.run("SessionStore.Get", func() { v, ok = cb.store.Get(key, remove) }) {
		return nil, false
	}
	return v, ok
}

func (cb *connCallbacks) SessionPut(key, val []byte) (ok bool) {
	if cb.store == nil {
		return false
	}
	if cb.storeInternal {
		return cb.store.Put(key, val)
	}
	if !cb.run("SessionStore.Put", func() { ok = cb.store.Put(key, val) }) {
		return false
	}
	return ok
}

// SelectCert runs GetCertificate and returns the chosen C key with a
// reference of this connection's own, so that a Close of the key on another
// goroutine cannot free it while rustls copies it.
func (cb *connCallbacks) SelectCert(h *cgo.HelloInfo) *cgo.CertifiedKey {
	if cb.getCert == nil {
		return nil
	}
	info := &ClientHello{ServerName: h.ServerName, ALPN: h.ALPN, SignatureSchemes: h.SignatureSchemes, conn: cb.conn, ctx: cb.context()}
	var k *CertifiedKey
	var err error
	if !cb.run("GetCertificate", func() { k, err = cb.getCert(info) }) {
		return nil
	}
	var c *cgo.CertifiedKey
	ok := false
	if err == nil && k != nil {
		c, ok = k.acquire()
	}
	cb.mu.Lock()
	defer cb.mu.Unlock()
	switch {
	case err != nil:
		cb.certErr = err
	case k == nil:
		cb.certErr = errNoKey
	case !ok:
		cb.certErr = errClosedKey
	default:
		cb.picked = append(cb.picked, k.r)
		return c
	}
	return nil
}

// causes returns why the handshake failed as far as callbacks know: a
// panic first, then the verifier's or GetCertificate's error.
func (cb *connCallbacks) causes() error {
	cb.mu.Lock()
	defer cb.mu.Unlock()
	switch {
	case cb.panicErr != nil:
		return cb.panicErr
	case cb.verifyErr != nil:
		return cb.verifyErr
	case cb.certErr != nil:
		return cb.certErr
	}
	return nil
}

// panicked returns the recorded panic, if any. A SessionStore panic leaves
// rustls going (to rustls it is a miss, or a ticket not issued), so the
// handshake checks this after every step.
func (cb *connCallbacks) panicked() error {
	cb.mu.Lock()
	defer cb.mu.Unlock()
	if cb.panicErr != nil {
		return cb.panicErr
	}
	return nil
}

// releaseKeys drops the references SelectCert took. core.free calls it once
// the C connection is freed (rustls has long copied the keys by then).
func (cb *connCallbacks) releaseKeys() {
	cb.mu.Lock()
	picked := cb.picked
	cb.picked = nil
	cb.mu.Unlock()
	for _, r := range picked {
		r.release()
	}
}
