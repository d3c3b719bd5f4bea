package cgo

/*
#include "gorustls_shim.h"
*/
import "C"

import (
	"errors"
	"runtime/cgo"
	"sync"
	"unsafe"
)

// Callbacks is what the Go side of one connection answers for rustls's
// config-level callbacks. Methods run on the goroutine that is inside a cgo
// call for that connection; they must not call back into that Conn. They
// should recover panics in the code they call themselves; every export here
// also recovers (a Go panic must never unwind into C) and reports what it
// caught, outside such a recover, to Panicked.
type Callbacks interface {
	// VerifyServerCert returns ResultOK or a certificate error code.
	VerifyServerCert(endEntity []byte, intermediates [][]byte, serverName string, ocsp []byte) uint32
	// Log receives one rustls log record (level: 1 error .. 5 trace).
	Log(level int, msg string)
	// SessionGet returns the stored value for key (and removes it if asked).
	SessionGet(key []byte, remove bool) ([]byte, bool)
	// SessionPut stores a session value; false reports failure.
	SessionPut(key, val []byte) bool
	// SelectCert picks the server certificate for a ClientHello; nil refuses.
	// rustls-ffi only borrows the returned key until it has copied it, after
	// the callback returns: the caller must hold a reference to it that no
	// other goroutine can drop until the connection is freed.
	SelectCert(h *HelloInfo) *CertifiedKey
	// Panicked reports a panic recovered in the named callback; the
	// callback has already answered rustls with a failure.
	Panicked(callback string, v any)
}

// HelloInfo is the part of a ClientHello that the hello callback sees.
type HelloInfo struct {
	ServerName       string   // SNI, empty when none was sent
	SignatureSchemes []uint16 // the client's signature schemes
	ALPN             []string // the client's ALPN protocols
}

// NewHandle registers cb and returns the integer handle to pass as a
// connection's userdata. ReleaseHandle must be called when the connection is
// freed.
func NewHandle(cb Callbacks) uintptr { return uintptr(cgo.NewHandle(cb)) }

// ReleaseHandle releases a handle made by NewHandle.
func ReleaseHandle(h uintptr) {
	if h != 0 {
		cgo.Handle(h).Delete()
	}
}

func lookup(ud C.uintptr_t) Callbacks {
	if ud == 0 {
		return nil
	}
	cb, _ := cgo.Handle(ud).Value().(Callbacks)
	return cb
}

// report passes a panic recovered in a callback export to cb.Panicked, if
// there is a cb; a second panic there is dropped.
func report(cb Callbacks, callback string, v any) {
	if cb == nil {
		return
	}
	defer func() { _ = recover() }()
	cb.Panicked(callback, v)
}

// ErrGoexit is the value Callbacks.Panicked receives when user code inside
// a callback called runtime.Goexit (what t.FailNow and t.Fatal do).
var ErrGoexit = errors.New("runtime.Goexit was called inside the callback (t.FailNow or t.Fatal?): its goroutine is parked for good and the connection's C memory is never freed")

// holdGoexit runs in an export's deferred function when the export neither
// returned nor panicked: user code called runtime.Goexit. Letting it go on
// would unwind the goroutine through rustls's frames between this export
// and the cgo call, skipping them without their destructors (undefined
// behaviour for Rust, stale stack state for C). So the goroutine stops
// here, for good, after reporting to cb: the connection then behaves as one
// whose callback is stuck (its handshake ends with its context or Close),
// and its C connection, still inside the call, is leaked rather than freed.
func holdGoexit(cb Callbacks, callback string) {
	report(cb, callback, ErrGoexit)
	select {}
}

func goBytes(p *C.uint8_t, n C.size_t) []byte {
	if p == nil || n == 0 {
		return nil
	}
	return C.GoBytes(unsafe.Pointer(p), C.int(n))
}

//export grVerifyServerCert
func grVerifyServerCert(ud C.uintptr_t, ee *C.uint8_t, eeLen C.size_t, inter *C.struct_rustls_slice_slice_bytes,
	name *C.char, nameLen C.size_t, ocsp *C.uint8_t, ocspLen C.size_t) (res C.uint32_t) {
	res = C.uint32_t(ResultCertAppFailure)
	var cb Callbacks
	returned := false
	defer func() {
		if v := recover(); v != nil {
			res = C.uint32_t(ResultCertAppFailure)
			report(cb, "server certificate verification", v)
		} else if !returned {
			holdGoexit(cb, "server certificate verification")
		}
	}()
	cb = lookup(ud)
	if cb == nil {
		returned = true
		return res
	}
	var chain [][]byte
	if inter != nil {
		n := int(C.rustls_slice_slice_bytes_len(inter))
		for i := 0; i < n; i++ {
			s := C.rustls_slice_slice_bytes_get(inter, C.size_t(i))
			chain = append(chain, goBytes(s.data, s.len))
		}
	}
	sn := ""
	if name != nil {
		sn = C.GoStringN(name, C.int(nameLen))
	}
	r := cb.VerifyServerCert(goBytes(ee, eeLen), chain, sn, goBytes(ocsp, ocspLen))
	returned = true
	return C.uint32_t(r)
}

// grLog forwards a log record. A panic is recovered and the record lost:
// logging never fails a handshake.
//
//export grLog
func grLog(ud C.uintptr_t, level C.size_t, msg *C.char, n C.size_t) {
	var cb Callbacks
	returned := false
	defer func() {
		if v := recover(); v == nil && !returned {
			holdGoexit(cb, "log")
		}
	}()
	if cb = lookup(ud); cb != nil && msg != nil {
		cb.Log(int(level), C.GoStringN(msg, C.int(n)))
	}
	returned = true
}

//export grSessionGet
func grSessionGet(ud C.uintptr_t, key *C.uint8_t, keyLen C.size_t, removeAfter C.int,
	buf *C.uint8_t, count C.size_t, outN *C.size_t) (res C.uint32_t) {
	res = C.uint32_t(ResultNotFound)
	var cb Callbacks
	returned := false
	defer func() {
		if v := recover(); v != nil {
			res = C.uint32_t(ResultNotFound)
			report(cb, "session store get", v)
		} else if !returned {
			holdGoexit(cb, "session store get")
		}
	}()
	cb = lookup(ud)
	if cb == nil {
		returned = true
		return res
	}
	v, ok := cb.SessionGet(goBytes(key, keyLen), removeAfter != 0)
	returned = true
	if !ok || len(v) > int(count) || len(v) == 0 {
		return res
	}
	copy(unsafe.Slice((*byte)(unsafe.Pointer(buf)), int(count)), v)
	*outN = C.size_t(len(v))
	return C.uint32_t(ResultOK)
}

//export grSessionPut
func grSessionPut(ud C.uintptr_t, key *C.uint8_t, keyLen C.size_t, val *C.uint8_t, valLen C.size_t) (res C.uint32_t) {
	res = C.uint32_t(ResultGeneral)
	var cb Callbacks
	returned := false
	defer func() {
		if v := recover(); v != nil {
			res = C.uint32_t(ResultGeneral)
			report(cb, "session store put", v)
		} else if !returned {
			holdGoexit(cb, "session store put")
		}
	}()
	cb = lookup(ud)
	if cb == nil {
		returned = true
		return res
	}
	ok := cb.SessionPut(goBytes(key, keyLen), goBytes(val, valLen))
	returned = true
	if ok {
		return C.uint32_t(ResultOK)
	}
	return res
}

//export grHello
func grHello(ud C.uintptr_t, name *C.char, nameLen C.size_t, sigs *C.uint16_t, nsigs C.size_t,
	alpn *C.struct_rustls_slice_slice_bytes) (res *C.struct_rustls_certified_key) {
	var cb Callbacks
	returned := false
	defer func() {
		if v := recover(); v != nil {
			res = nil
			report(cb, "certificate selection", v)
		} else if !returned {
			holdGoexit(cb, "certificate selection")
		}
	}()
	cb = lookup(ud)
	if cb == nil {
		returned = true
		return nil
	}
	h := &HelloInfo{}
	if name != nil {
		h.ServerName = C.GoStringN(name, C.int(nameLen))
	}
	if sigs != nil {
		h.SignatureSchemes = append(h.SignatureSchemes, unsafe.Slice((*uint16)(unsafe.Pointer(sigs)), int(nsigs))...)
	}
	if alpn != nil {
		n := int(C.rustls_slice_slice_bytes_len(alpn))
		for i := 0; i < n; i++ {
			s := C.rustls_slice_slice_bytes_get(alpn, C.size_t(i))
			h.ALPN = append(h.ALPN, string(goBytes(s.data, s.len)))
		}
	}
	k := cb.SelectCert(h)
	returned = true
	if k == nil {
		return nil
	}
	// rustls-ffi borrows the pointer until it has copied the key, after
	// this returns: SelectCert hands it out with a reference of the
	// connection's own (see Callbacks.SelectCert).
	return k.p
}

// Key logging: rustls-ffi gives key-log callbacks no userdata, so each
// config that logs keys takes one of KeylogSlots distinct C functions.
var keylog struct {
	sync.RWMutex
	fns [KeylogSlots]func(label string, clientRandom, secret []byte)
}

// AcquireKeylogSlot binds fn to a free slot. ok is false when all slots are
// taken.
func AcquireKeylogSlot(fn func(label string, clientRandom, secret []byte)) (slot int, ok bool) {
	keylog.Lock()
	defer keylog.Unlock()
	for i := range keylog.fns {
		if keylog.fns[i] == nil {
			keylog.fns[i] = fn
			return i, true
		}
	}
	return -1, false
}

// ReleaseKeylogSlot frees a slot. Only call it once no connection made from
// the config that holds the slot can still log.
func ReleaseKeylogSlot(slot int) {
	if slot < 0 || slot >= KeylogSlots {
		return
	}
	keylog.Lock()
	keylog.fns[slot] = nil
	keylog.Unlock()
}

// grKeylog forwards a key-log line to its slot's function. A panic there
// is recovered and the line lost: there is no connection to fail.
//
//export grKeylog
func grKeylog(slot C.int, label *C.char, labelLen C.size_t, cr *C.uint8_t, crLen C.size_t, secret *C.uint8_t, secretLen C.size_t) {
	returned := false
	defer func() {
		if v := recover(); v == nil && !returned {
			holdGoexit(nil, "key log")
		}
	}()
	if slot < 0 || int(slot) >= KeylogSlots {
		returned = true
		return
	}
	keylog.RLock()
	fn := keylog.fns[slot]
	keylog.RUnlock()
	if fn != nil && label != nil {
		fn(C.GoStringN(label, C.int(labelLen)), goBytes(cr, crLen), goBytes(secret, secretLen))
	}
	returned = true
}
