package rustlshttp

import (
	"fmt"
	"net"
	"net/http"
	"runtime"

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

// logPanic logs a recovered panic with the stack of its goroutine, as
// net/http does for handlers.
func (s *Server) logPanic(what string, remote net.Addr, v any) {
	buf := make([]byte, 64<<10)
	buf = buf[:runtime.Stack(buf, false)]
	s.logf("rustlshttp: panic in %s serving %v: %v\n%s", what, remote, v, buf)
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
