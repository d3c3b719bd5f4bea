// Package cgo is the only gorustls package that imports "C".
//
// It holds thin typed wrappers over rustls-ffi 0.15.x (librustls) plus the
// batched C shims declared in include/gorustls_shim.h. Nothing here decides
// policy: the public package github.com/gorustls/gorustls/rustls validates
// input, owns lifetimes and turns results into typed errors.
//
// Linking: librustls is found with pkg-config (package "rustls"). The
// Makefile points PKG_CONFIG_PATH at the bundled static build; a system
// librustls 0.15.x installed with cargo-c is found the same way. The crypto
// provider prototypes are selected with build tags: the default is aws-lc-rs,
// and the tag gorustls_ring selects ring (the library must be built to match).
//
// Concurrency: configs, certified keys, providers and verifiers are
// reference counted and thread-safe in C. A Conn must never be used by two
// goroutines at once: callers serialize every Conn method with their own
// mutex.
package cgo

/*
#cgo pkg-config: rustls
#cgo CFLAGS: -I${SRCDIR}/../include -O2 -Wall -Wno-unused-function
#include "gorustls_shim.h"
*/
import "C"

import "unsafe"

// Result codes the Go side needs by name (rustls_result values).
const (
	ResultOK                = uint32(C.RUSTLS_RESULT_OK)
	ResultIO                = uint32(C.RUSTLS_RESULT_IO)
	ResultPlaintextEmpty    = uint32(C.RUSTLS_RESULT_PLAINTEXT_EMPTY)
	ResultUnexpectedEOF     = uint32(C.RUSTLS_RESULT_UNEXPECTED_EOF)
	ResultAcceptorNotReady  = uint32(C.RUSTLS_RESULT_ACCEPTOR_NOT_READY)
	ResultNotFound          = uint32(C.RUSTLS_RESULT_NOT_FOUND)
	ResultInvalidParameter  = uint32(C.RUSTLS_RESULT_INVALID_PARAMETER)
	ResultInsufficientSize  = uint32(C.RUSTLS_RESULT_INSUFFICIENT_SIZE)
	ResultGeneral           = uint32(C.RUSTLS_RESULT_GENERAL)
	ResultCertUnknownIssuer = uint32(C.RUSTLS_RESULT_CERT_UNKNOWN_ISSUER)
	ResultCertOtherError    = uint32(C.RUSTLS_RESULT_CERT_OTHER_ERROR)
	ResultCertBadSignature  = uint32(C.RUSTLS_RESULT_CERT_BAD_SIGNATURE)
	ResultCertExpired       = uint32(C.RUSTLS_RESULT_CERT_EXPIRED)
	ResultCertNotValidName  = uint32(C.RUSTLS_RESULT_CERT_NOT_VALID_FOR_NAME)
	ResultCertAppFailure    = uint32(C.RUSTLS_RESULT_CERT_APPLICATION_VERIFICATION_FAILURE)
)

// Flags returned in IO.Flags (see include/gorustls_shim.h).
const (
	FlagWantsWrite   = uint32(C.GR_WANTS_WRITE)
	FlagHandshaking  = uint32(C.GR_HANDSHAKING)
	FlagCloseNotify  = uint32(C.GR_CLOSE_NOTIFY)
	FlagMorePlain    = uint32(C.GR_MORE_PLAIN)
	FlagWantsRead    = uint32(C.GR_WANTS_READ)
	KeylogSlots      = int(C.GR_KEYLOG_SLOTS)
	HeaderVersionMaj = int(C.RUSTLS_VERSION_MAJOR)
	HeaderVersionMin = int(C.RUSTLS_VERSION_MINOR)
	HeaderVersionPat = int(C.RUSTLS_VERSION_PATCH)
	// CertCompression is true when librustls's pkg-config file declares a
	// build with rustls's certificate compression (brotli and zlib).
	CertCompression = C.GR_CERT_COMPRESSION != 0
)

// Version returns rustls_version(): "rustls-ffi/X.Y.Z/rustls/A.B.C/provider".
func Version() string {
	return goStr(C.rustls_version())
}

// ResultText returns rustls-ffi's fixed description of a result code.
func ResultText(code uint32) string {
	var buf [512]byte
	var n C.size_t
	C.rustls_error(C.uint(code), (*C.char)(unsafe.Pointer(&buf[0])), C.size_t(len(buf)), &n)
	return string(buf[:int(n)])
}

// IsCertError reports whether code is a certificate error.
func IsCertError(code uint32) bool {
	return bool(C.rustls_result_is_cert_error(C.uint(code)))
}

// goStr copies a rustls_str into Go memory.
func goStr(s C.struct_rustls_str) string {
	if s.data == nil || s.len == 0 {
		return ""
	}
	return C.GoStringN(s.data, C.int(s.len))
}

// bytesPtr returns a C pointer to b's first byte; b must not be empty.
func bytesPtr(b []byte) *C.uint8_t {
	return (*C.uint8_t)(unsafe.Pointer(unsafe.SliceData(b)))
}
