package cgo

/*
#include <stdlib.h>
#include "gorustls_shim.h"
*/
import "C"

import (
	"runtime"
	"sync/atomic"
	"unique"
	"unsafe"
)

// Calls returns how many calls from Go into C the process has made so far
// (runtime.NumCgoCall: every cgo call, not only gorustls's data path).
// Tests and the bench use it to check the budget of one cgo call per
// steady-state Read or Write. The runtime keeps the count per thread, so
// the data path pays for no shared counter.
func Calls() uint64 { return uint64(runtime.NumCgoCall()) }

// FlagNewOutput is set by Read when the call queued records for the peer
// (alerts, KeyUpdate replies, tickets) while nothing was queued before; it
// leaves alone what a writer has buffered and not flushed yet.
const FlagNewOutput = uint32(C.GR_NEW_OUTPUT)

// live counts connections made and not yet freed.
var live atomic.Int64

// LiveConns returns how many C connections exist (made and not yet freed),
// for leak tests.
func LiveConns() int64 { return live.Load() }

func newConn(p *C.struct_rustls_connection) *Conn {
	live.Add(1)
	return &Conn{p: p}
}

// IO is the result of one batched connection call.
type IO struct {
	Result   uint32 // rustls_result; ResultOK when fine
	Flags    uint32 // Flag* bits sampled after the call
	Errno    int32  // errno from read_tls/write_tls, 0 when none
	N        int    // plaintext bytes read or accepted
	Consumed int    // ciphertext bytes consumed from the input
	Out      int    // ciphertext bytes written into the output buffer
}

func toIO(r C.gr_io) IO {
	return IO{
		Result:   uint32(r.result),
		Flags:    uint32(r.flags),
		Errno:    int32(r.io_errno),
		N:        int(r.n),
		Consumed: int(r.consumed),
		Out:      int(r.out),
	}
}

// Conn is a rustls_connection. It is not safe for concurrent use: the
// caller serializes every method call, and Free must not race any of them.
type Conn struct {
	p *C.struct_rustls_connection
}

// NewClientConn starts a client connection to serverName. rustls-ffi
// 0.15.7 copies the name (0.15.3 borrowed it for rustls's whole life), so
// the C string is freed as soon as the call returns. Callers must refuse
// names with a NUL byte first: C would see only the part before it.
func NewClientConn(cfg *ClientConfig, serverName string) (*Conn, error) {
	cs := C.CString(serverName)
	defer C.free(unsafe.Pointer(cs))
	var c *C.struct_rustls_connection
	if r := uint32(C.rustls_client_connection_new(cfg.p, cs, &c)); r != ResultOK {
		return nil, &Error{Code: r, Op: "start client connection", Detail: "server name " + quote(serverName)}
	}
	return newConn(c), nil
}

// NewServerConn starts a server connection.
func NewServerConn(cfg *ServerConfig) (*Conn, error) {
	var c *C.struct_rustls_connection
	if r := uint32(C.rustls_server_connection_new(cfg.p, &c)); r != ResultOK {
		return nil, &Error{Code: r, Op: "start server connection"}
	}
	return newConn(c), nil
}

// Valid reports whether the connection has not been freed.
func (c *Conn) Valid() bool { return c.p != nil }

// Free releases the connection; later calls to Free do nothing.
func (c *Conn) Free() {
	if c.p != nil {
		C.rustls_connection_free(c.p)
		c.p = nil
		live.Add(-1)
	}
}

// SetUserdata sets the value handed to config-level callbacks. It must be an
// integer handle, never a Go pointer.
func (c *Conn) SetUserdata(h uintptr) {
	C.gr_conn_set_userdata(c.p, C.uintptr_t(h))
}

// EnableLog routes rustls's log records for this connection to grLog.
func (c *Conn) EnableLog() {
	C.rustls_connection_set_log_callback(c.p, C.rustls_log_callback(C.gr_log_cb))
}

// SetBufferLimit caps rustls's outgoing TLS buffer (0: no limit).
func (c *Conn) SetBufferLimit(n int) { C.rustls_connection_set_buffer_limit(c.p, C.size_t(n)) }

// Read feeds ciphertext from in (and the transport EOF when eof is set and
// in is used up), then reads plaintext into buf (IO.N bytes) and, once buf
// is full, into spill (IO.Out bytes). len(buf) must be > 0; spill may be
// empty. A Result other than ResultOK and ResultPlaintextEmpty may come with
// plaintext (N, Out > 0): the plaintext of the records before the one that
// failed, to be delivered before the error. After such a failure pass no
// more input (rustls re-reports its sticky error only when fed).
func (c *Conn) Read(buf, spill, in []byte, eof bool) IO {
	var ip, sp *C.uint8_t
	if len(in) > 0 {
		ip = bytesPtr(in)
	}
	if len(spill) > 0 {
		sp = bytesPtr(spill)
	}
	return toIO(C.gr_conn_read(c.p, bytesPtr(buf), C.size_t(len(buf)), sp, C.size_t(len(spill)),
		ip, C.size_t(len(in)), cbool(eof)))
}

// Feed feeds handshake ciphertext from in (and EOF) while handshaking.
func (c *Conn) Feed(in []byte, eof bool) IO {
	var ip *C.uint8_t
	if len(in) > 0 {
		ip = bytesPtr(in)
	}
	return toIO(C.gr_conn_feed(c.p, ip, C.size_t(len(in)), cbool(eof)))
}

// NoFD, passed as Write's or Drain's fd, moves ciphertext out by copying
// only.
const NoFD = -1

// Queue values for Drain: a record to queue before moving output out.
const (
	QueueNone        = int(C.GR_QUEUE_NONE)
	QueueCloseNotify = int(C.GR_QUEUE_CLOSE_NOTIFY)
	QueueKeyUpdate   = int(C.GR_QUEUE_KEY_UPDATE) // TLS 1.3 only: Result reports a refusal
)

// Write hands plaintext p to rustls and, when rustls refuses more or drain
// is set, moves ciphertext out. With fd NoFD it is copied into out (count
// in Out). With fd a connected, non-blocking stream socket it goes straight
// from rustls's buffers to fd (one send or sendmsg for all queued records;
// count in Consumed) while the socket takes it, and the rest is copied into
// out for the caller to write. Pass an fd only when nothing of the caller's is
// waiting to be written before it, and keep fd open for the call
// (syscall.RawConn.Write does). len(out) must be > 0.
func (c *Conn) Write(p []byte, fd int, out []byte, drain bool) IO {
	var pp *C.uint8_t
	if len(p) > 0 {
		pp = bytesPtr(p)
	}
	return toIO(C.gr_conn_write(c.p, pp, C.size_t(len(p)), C.int(fd), bytesPtr(out), C.size_t(len(out)), cbool(drain)))
}

// Drain queues what (QueueNone, QueueCloseNotify or QueueKeyUpdate), then
// moves out what rustls holds, as Write does. len(out) must be > 0.
func (c *Conn) Drain(fd int, out []byte, what int) IO {
	return toIO(C.gr_conn_drain(c.p, C.int(fd), bytesPtr(out), C.size_t(len(out)), C.int(what)))
}

// Flags samples wants_write, is_handshaking and wants_read.
func (c *Conn) Flags() uint32 {
	var f uint32
	if C.rustls_connection_wants_write(c.p) {
		f |= FlagWantsWrite
	}
	if C.rustls_connection_is_handshaking(c.p) {
		f |= FlagHandshaking
	}
	return f
}

// ProtocolVersion returns the negotiated TLS version (0 before it is known).
func (c *Conn) ProtocolVersion() uint16 {
	return uint16(C.rustls_connection_get_protocol_version(c.p))
}

// State is the negotiated parameters of a connection.
type State struct {
	Version       uint16
	Suite         uint16
	Group         uint16
	HandshakeKind int // 1 full, 2 full with HelloRetryRequest, 3 resumed
	ALPN          string
	ServerName    string // server side only
	SuiteName     string
	GroupName     string
}

// State copies the negotiated parameters out in one call.
func (c *Conn) State(server bool) State {
	st := (*C.gr_state)(C.malloc(C.size_t(unsafe.Sizeof(C.gr_state{}))))
	defer C.free(unsafe.Pointer(st))
	C.gr_conn_state(c.p, cbool(server), st)
	return State{
		Version:       uint16(st.version),
		Suite:         uint16(st.suite),
		Group:         uint16(st.group),
		HandshakeKind: int(st.handshake_kind),
		ALPN:          intern(C.GoStringN((*C.char)(unsafe.Pointer(&st.alpn[0])), C.int(st.alpn_len))),
		ServerName:    C.GoStringN((*C.char)(unsafe.Pointer(&st.sni[0])), C.int(st.sni_len)),
		SuiteName:     intern(C.GoStringN(&st.suite_name[0], C.int(st.suite_name_len))),
		GroupName:     intern(C.GoStringN(&st.group_name[0], C.int(st.group_name_len))),
	}
}

// intern returns the canonical copy of s: the names a connection keeps for
// its whole life (suite, group, ALPN) come from a handful of values, so
// connections share them instead of holding one copy each.
func intern(s string) string {
	if s == "" {
		return s
	}
	return unique.Make(s).Value()
}

// PeerCertificates copies the peer's certificate chain (DER), end entity first.
func (c *Conn) PeerCertificates() [][]byte {
	var out [][]byte
	for i := 0; ; i++ {
		n := C.gr_conn_peer_cert(c.p, C.size_t(i), nil, 0)
		if n == 0 {
			return out
		}
		b := make([]byte, int(n))
		C.gr_conn_peer_cert(c.p, C.size_t(i), bytesPtr(b), n)
		out = append(out, b)
	}
}

func cbool(b bool) C.int {
	if b {
		return 1
	}
	return 0
}

func quote(s string) string { return "\"" + s + "\"" }
