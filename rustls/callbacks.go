package rustls

import (
	"context"
	"log/slog"
	"sync"

	"github.com/gorustls/gorustls/cgo"
)

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
	verifyErr error         // why the custom verifier refused, for the handshake error
	ocsp      []byte        // the staple the custom verifier accepted (ConnectionState)
	certErr   error         // why GetCertificate refused
	picked    *CertifiedKey // keeps the key GetCertificate returned alive
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
	cb.mu.Lock()
	cb.ocsp = ocsp
	cb.mu.Unlock()
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

func (cb *connCallbacks) SelectCert(h *cgo.HelloInfo) *cgo.CertifiedKey {
	if cb.getCert == nil {
		return nil
	}
	k, err := cb.getCert(&ClientHelloInfo{ServerName: h.ServerName, SupportedProtos: h.ALPN, SignatureSchemes: h.SignatureSchemes})
	cb.mu.Lock()
	defer cb.mu.Unlock()
	if err != nil || k == nil || k.k == nil {
		cb.certErr = err
		return nil
	}
	cb.picked = k
	return k.k
}

func (cb *connCallbacks) causes() error {
	cb.mu.Lock()
	defer cb.mu.Unlock()
	if cb.verifyErr != nil {
		return cb.verifyErr
	}
	return cb.certErr
}
