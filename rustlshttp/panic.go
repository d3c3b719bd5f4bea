package rustlshttp

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"

	"github.com/gorustls/gorustls/rustls"
)

// protect runs the user callback fn and reports whether it returned; a
// panic is logged with its stack (http.ErrAbortHandler quietly) and
// reported as false, so that the caller can close the connection.
func (s *Server) protect(what string, remote net.Addr, fn func()) (ok bool) {
	defer func() {
		if !ok {
			if v := recover(); v != nil && v != http.ErrAbortHandler {
				s.logPanic(what, remote, v)
			}
		}
	}()
	fn()
	return true
}

// logPanic logs a recovered panic at slog.LevelError with the stack of
// its goroutine, as net/http does for handlers. Call it from the deferred
// recover, so the stack is the panic's.
func (s *Server) logPanic(what string, remote net.Addr, v any) {
	s.logPanicError(remote, &rustls.PanicError{Callback: what, Value: v, Stack: debug.Stack()})
}

// logPanicError logs the panic p recovered while serving remote.
func (s *Server) logPanicError(remote net.Addr, p *rustls.PanicError) {
	s.log(slog.LevelError, "rustlshttp: panic serving connection", remote,
		slog.String("callback", p.Callback), slog.Any("panic", p.Value), slog.String("stack", string(p.Stack)))
}

// protectChoose is Lazy.Choose with a panic logged and turned into a
// refusal (an internal_error alert) naming the callback.
func (s *Server) protectChoose(remote net.Addr) func(*rustls.ClientHello) (*rustls.ServerConfig, error) {
	return func(h *rustls.ClientHello) (cfg *rustls.ServerConfig, err error) {
		defer func() {
			if v := recover(); v != nil {
				s.logPanic("Lazy.Choose", remote, v)
				cfg, err = nil, &rustls.RefuseError{Alert: alertInternalError, Reason: fmt.Sprintf("Lazy.Choose panicked: %v", v)}
			}
		}()
		return s.snap.choose(h)
	}
}

// alertInternalError is TLS's internal_error alert.
const alertInternalError uint8 = 80
