package rustls

import (
	"bytes"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"runtime/debug"
	"time"
)

// Building the *tls.ClientHelloInfo that converted crypto/tls callbacks
// (GetConfigForClient, GetCertificate) receive.
//
// Its context and its config are unexported fields that only crypto/tls
// sets: Context() is nil and SupportsCertificate ignores the config on a
// ClientHelloInfo made with a composite literal. So the ClientHelloInfo is
// made by crypto/tls itself: a crypto/tls server handshake, bounded by the
// real handshake's context, reads a minimal in-memory ClientHello and calls
// GetConfigForClient, where every exported field is replaced by what rustls
// and the ClientHello reader found and the callback runs; then the
// crypto/tls handshake is abandoned. Context() is therefore a child of the
// handshake's context (its deadline and cancellation), live while the
// callback runs and cancelled when it returns (crypto/tls cancels it when
// its whole handshake ends), and SupportsCertificate sees the config whose
// callback runs, as under crypto/tls.

// errInfoBuilt ends the crypto/tls handshake that built a ClientHelloInfo.
var errInfoBuilt = errors.New("rustls: ClientHelloInfo built")

// minimalHello is a TLS 1.2 ClientHello record with one cipher suite and no
// extensions: enough for crypto/tls to reach GetConfigForClient.
var minimalHello = func() []byte {
	body := []byte{3, 3}                     // legacy_version
	body = append(body, make([]byte, 32)...) // random
	body = append(body, 0)                   // no session ID
	body = append(body, 0, 2, 0xc0, 0x2b)    // one cipher suite
	body = append(body, 1, 0)                // null compression
	msg := append([]byte{1, 0, byte(len(body) >> 8), byte(len(body))}, body...)
	return append([]byte{22, 3, 1, byte(len(msg) >> 8), byte(len(msg))}, msg...)
}()

// infoConn feeds minimalHello to crypto/tls and discards what it writes;
// its addresses are the real connection's.
type infoConn struct {
	r    *bytes.Reader
	real net.Conn
}

func (c *infoConn) Read(p []byte) (int, error)  { return c.r.Read(p) }
func (c *infoConn) Write(p []byte) (int, error) { return len(p), nil }
func (c *infoConn) Close() error                { return nil }
func (c *infoConn) LocalAddr() net.Addr {
	if c.real != nil {
		return c.real.LocalAddr()
	}
	return &net.TCPAddr{}
}
func (c *infoConn) RemoteAddr() net.Addr {
	if c.real != nil {
		return c.real.RemoteAddr()
	}
	return &net.TCPAddr{}
}
func (c *infoConn) SetDeadline(time.Time) error      { return nil }
func (c *infoConn) SetReadDeadline(time.Time) error  { return nil }
func (c *infoConn) SetWriteDeadline(time.Time) error { return nil }

// fillHelloInfo sets every exported field crypto/tls fills from h.
func fillHelloInfo(info *tls.ClientHelloInfo, h *ClientHello) {
	info.CipherSuites = h.CipherSuites
	info.ServerName = h.ServerName
	info.SupportedCurves = nil
	for _, g := range h.SupportedGroups {
		info.SupportedCurves = append(info.SupportedCurves, tls.CurveID(g))
	}
	info.SupportedPoints = h.SupportedPoints
	info.SignatureSchemes = nil
	for _, s := range h.SignatureSchemes {
		info.SignatureSchemes = append(info.SignatureSchemes, tls.SignatureScheme(s))
	}
	info.SupportedProtos = h.ALPN
	info.SupportedVersions = h.SupportedVersions
	info.Extensions = h.Extensions
	info.Conn = h.conn
	info.HelloRetryRequest = false
}

// withClientHelloInfo calls fn once with the ClientHelloInfo crypto/tls
// would give cfg's callbacks for h (see above). Should crypto/tls not
// reach GetConfigForClient, fn gets one made here, whose Context() is nil
// and whose SupportsCertificate ignores cfg.
func withClientHelloInfo(h *ClientHello, cfg *tls.Config, fn func(*tls.ClientHelloInfo)) {
	called := false
	c := cfg.Clone()
	c.GetConfigForClient = func(info *tls.ClientHelloInfo) (*tls.Config, error) {
		called = true
		fillHelloInfo(info, h)
		fn(info)
		return nil, errInfoBuilt
	}
	c.GetEncryptedClientHelloKeys = nil
	_ = tls.Server(&infoConn{r: bytes.NewReader(minimalHello), real: h.conn}, c).HandshakeContext(h.Context())
	if !called {
		info := &tls.ClientHelloInfo{}
		fillHelloInfo(info, h)
		fn(info)
	}
}

// callbackPanic is the error for a recovered panic in the callback named
// name on the ClientHello path: an *Error wrapping the *PanicError (with
// the stack of the panicking goroutine), "rustls: accept: NAME panicked:
// VALUE". Call it from the deferred recover, so the stack is the panic's.
func callbackPanic(name string, v any) *Error {
	return &Error{Op: "accept", Err: &PanicError{Callback: name, Value: v, Stack: debug.Stack()}}
}

// isCallbackPanic reports whether err comes from a recovered panic.
func isCallbackPanic(err error) bool {
	var p *PanicError
	return errors.As(err, &p)
}

// logPanic reports a recovered panic to logger, if any, at
// slog.LevelError with the stack (see logConnError).
func logPanic(logger *slog.Logger, conn net.Conn, e *Error) {
	logConnError(logger, slog.LevelError, "gorustls: callback panicked; connection refused", conn, e)
}

// protect runs fn, turning a panic into an error naming the callback.
func protect(name string, logger *slog.Logger, conn net.Conn, fn func() error) (err error) {
	defer func() {
		if v := recover(); v != nil {
			e := callbackPanic(name, v)
			logPanic(logger, conn, e)
			err = e
		}
	}()
	return fn()
}
