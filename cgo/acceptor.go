package cgo

/*
#include "gorustls_shim.h"
*/
import "C"

import "sync"

// The three ClientHello-path objects below each guard their C pointer with
// a mutex: every C call on the object and its free happen under it, so a
// Free racing another method (or a second Free) on another goroutine can
// neither free the object twice nor free it under a running call. After
// Free, methods do nothing and report failure.

// Acceptor reads a ClientHello before a server config is chosen.
type Acceptor struct {
	mu sync.Mutex
	p  *C.struct_rustls_acceptor
}

// NewAcceptor allocates an acceptor. Free must be called.
func NewAcceptor() *Acceptor { return &Acceptor{p: C.rustls_acceptor_new()} }

// Free releases the acceptor; later calls do nothing. Safe to call from
// any goroutine, more than once.
func (a *Acceptor) Free() {
	if a == nil {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.p != nil {
		C.rustls_acceptor_free(a.p)
		a.p = nil
	}
}

// Feed hands ciphertext (or EOF, with an empty in) to the acceptor. After
// Free it returns ResultInvalidParameter and consumes nothing.
func (a *Acceptor) Feed(in []byte, eof bool) IO {
	var ip *C.uint8_t
	if len(in) > 0 {
		ip = bytesPtr(in)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.p == nil {
		return IO{Result: ResultInvalidParameter}
	}
	return toIO(C.gr_acceptor_feed(a.p, ip, C.size_t(len(in)), cbool(eof)))
}

// Accept tries to parse the ClientHello. It returns ResultAcceptorNotReady
// when more input is needed; on an error the alert (possibly nil) should be
// sent and freed. After Free it returns ResultInvalidParameter.
func (a *Acceptor) Accept() (*Accepted, *Alert, uint32) {
	var acc *C.struct_rustls_accepted
	var al *C.struct_rustls_accepted_alert
	a.mu.Lock()
	if a.p == nil {
		a.mu.Unlock()
		return nil, nil, ResultInvalidParameter
	}
	r := uint32(C.rustls_acceptor_accept(a.p, &acc, &al))
	a.mu.Unlock()
	var alert *Alert
	if al != nil {
		alert = &Alert{p: al}
	}
	if r != ResultOK {
		return nil, alert, r
	}
	return &Accepted{p: acc}, alert, r
}

// Accepted is a parsed ClientHello waiting for its server config.
type Accepted struct {
	mu sync.Mutex
	p  *C.struct_rustls_accepted
}

// Hello copies the ClientHello's fields into Go memory (all empty after
// Free).
func (a *Accepted) Hello() (serverName string, alpn []string, suites, sigSchemes []uint16) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.p == nil {
		return
	}
	serverName = goStr(C.rustls_accepted_server_name(a.p))
	for i := 0; ; i++ {
		s := C.rustls_accepted_alpn(a.p, C.size_t(i))
		// Past the end rustls-ffi returns an empty slice whose data pointer
		// is not NULL; ALPN protocols are never empty.
		if s.data == nil || s.len == 0 {
			break
		}
		alpn = append(alpn, string(goBytes(s.data, s.len)))
	}
	for i := 0; ; i++ {
		s := uint16(C.rustls_accepted_cipher_suite(a.p, C.size_t(i)))
		if s == 0 {
			break
		}
		suites = append(suites, s)
	}
	for i := 0; ; i++ {
		s := uint16(C.rustls_accepted_signature_scheme(a.p, C.size_t(i)))
		if s == 0 {
			break
		}
		sigSchemes = append(sigSchemes, s)
	}
	return
}

// IntoConn turns the accepted hello into a connection with cfg. The
// Accepted must still be freed afterwards. After Free it fails with
// ResultInvalidParameter.
func (a *Accepted) IntoConn(cfg *ServerConfig) (*Conn, *Alert, error) {
	var c *C.struct_rustls_connection
	var al *C.struct_rustls_accepted_alert
	a.mu.Lock()
	if a.p == nil {
		a.mu.Unlock()
		return nil, nil, &Error{Code: ResultInvalidParameter, Op: "start server connection from ClientHello", Detail: "the ClientHello was already used or freed"}
	}
	r := uint32(C.rustls_accepted_into_connection(a.p, cfg.p, &c, &al))
	a.mu.Unlock()
	var alert *Alert
	if al != nil {
		alert = &Alert{p: al}
	}
	if r != ResultOK {
		return nil, alert, &Error{Code: r, Op: "start server connection from ClientHello"}
	}
	return newConn(c), alert, nil
}

// Free releases the accepted hello; later calls do nothing. Safe to call
// from any goroutine, more than once.
func (a *Accepted) Free() {
	if a == nil {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.p != nil {
		C.rustls_accepted_free(a.p)
		a.p = nil
	}
}

// Alert is a TLS alert the acceptor wants sent.
type Alert struct {
	mu sync.Mutex
	p  *C.struct_rustls_accepted_alert
}

// Drain copies the alert's bytes into out and returns how many (0 after
// Free).
func (al *Alert) Drain(out []byte) int {
	if al == nil || len(out) == 0 {
		return 0
	}
	al.mu.Lock()
	defer al.mu.Unlock()
	if al.p == nil {
		return 0
	}
	return int(C.gr_alert_drain(al.p, bytesPtr(out), C.size_t(len(out))).out)
}

// Free releases the alert; later calls do nothing. Safe to call from any
// goroutine, more than once.
func (al *Alert) Free() {
	if al == nil {
		return
	}
	al.mu.Lock()
	defer al.mu.Unlock()
	if al.p != nil {
		C.rustls_accepted_alert_free(al.p)
		al.p = nil
	}
}
