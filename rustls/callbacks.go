package rustls

import (
	"context"
	"errors"
	"log/slog"
	"sync"

	"github.com/gorustls/gorustls/cgo"
)

// errClosedKey is why a handshake fails when GetCertificate returned a key
// that was closed before the connection could take its reference.
var errClosedKey = errors.New("GetCertificate returned a closed CertifiedKey")

// errNoKey is why a handshake fails when GetCertificate returned nil, nil.
var errNoKey = errors.New("GetCertificate returned no certificate")

// connCallbacks answers rustls's config-level callbacks for one connection.
// It is reached through an integer handle (never a Go pointer in C) and
// holds no reference to the Stream, so an abandoned Stream can still be
// collected.
type connCallbacks struct {
	logger  *slog.Logger
	verify  PeerVerifier
	store   SessionStore
	getCert func(*ClientHelloInfo) (*CertifiedKey, error)

	mu        sync.Mutex
	verifyErr error // why the custom verifier refused, for the handshake error
	certErr   error // why no certificate was selected
	// picked holds a reference to each key handed to rustls from
	// GetCertificate: rustls-ffi only borrows the pointer while it copies
	// the key, after the callback has returned. core.free drops them once
	// the connection is freed.
	picked []*cref[*cgo.CertifiedKey]
}

var _ cgo.Callbacks = (*connCallbacks)(nil)

func (cb *connCallbacks) VerifyServerCert(ee []byte, inter [][]byte, name string, ocsp []byte) uint32 {
	if cb.verify == nil {
		return cgo.ResultCertAppFailure
	}
	chain := append([][]byte{ee}, inter...)
	if err := cb.verify(name, chain, ocsp); err != nil {
		cb.mu.Lock()
		cb.verifyErr = err
		cb.mu.Unlock()
		return cgo.ResultCertAppFailure
	}
	return cgo.ResultOK
}

// rustls log levels: 1 error, 2 warn, 3 info, 4 debug, 5 trace.
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
	cb.logger.Log(context.Background(), l, msg, "source", "rustls")
}

func (cb *connCallbacks) SessionGet(key []byte, remove bool) ([]byte, bool) {
	if cb.store == nil {
		return nil, false
	}
	return cb.store.Get(key, remove)
}

func (cb *connCallbacks) SessionPut(key, val []byte) bool {
	if cb.store == nil {
		return false
	}
	return cb.store.Put(key, val)
}

// SelectCert runs GetCertificate and returns the chosen C key with a
// reference of this connection's own, so that a Close of the key on another
// goroutine cannot free it while rustls copies it.
func (cb *connCallbacks) SelectCert(h *cgo.HelloInfo) *cgo.CertifiedKey {
	if cb.getCert == nil {
		return nil
	}
	k, err := cb.getCert(&ClientHelloInfo{ServerName: h.ServerName, SupportedProtos: h.ALPN, SignatureSchemes: h.SignatureSchemes})
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

func (cb *connCallbacks) causes() error {
	cb.mu.Lock()
	defer cb.mu.Unlock()
	if cb.verifyErr != nil {
		return cb.verifyErr
	}
	return cb.certErr
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
