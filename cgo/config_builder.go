package cgo

/*
#include <stdlib.h>
#include "gorustls_shim.h"
*/
import "C"

import (
	"fmt"
	"unsafe"
)

// This file holds what the client and the server config builders do
// alike; each step takes the side's own C setter as a small function, so
// BuildClientConfig and BuildServerConfig differ only in what really
// differs (verifiers, SNI, ECH, session store, hello callback).

// check is nil for RUSTLS_RESULT_OK, else an *Error with r and op.
func check(r C.rustls_result, op string) error {
	if uint32(r) == ResultOK {
		return nil
	}
	return &Error{Code: uint32(r), Op: op}
}

// builderStart is how a config builder is started: with rustls's
// defaults (custom false: the builder's plain _new), or with a provider
// and versions (_new_custom). prov is the provider the verifiers must use
// too (nil: the default, as with a plain builder).
type builderStart struct {
	custom bool
	prov   *C.struct_rustls_crypto_provider
	vp     *C.uint16_t
	vn     C.size_t
	free   func()
}

// startBuilder resolves a spec's provider and versions: nil and empty mean
// rustls's defaults; when only one of them is given, the other is filled
// with the default provider or RUSTLS_DEFAULT_VERSIONS, because
// _new_custom takes both. free releases what it allocated (call it once
// the builder is built or freed).
func startBuilder(p *Provider, versions []uint16) (builderStart, error) {
	st := builderStart{prov: providerPtr(p), free: func() {}}
	vp, vn := versionsArg(versions)
	if st.prov == nil && vp == nil {
		return st, nil
	}
	st.custom = true
	var frees []func()
	st.free = func() {
		for _, f := range frees {
			f()
		}
	}
	if vp != nil {
		frees = append(frees, func() { C.free(unsafe.Pointer(vp)) })
	} else {
		vp, vn = &C.RUSTLS_DEFAULT_VERSIONS[0], C.RUSTLS_DEFAULT_VERSIONS_LEN
	}
	if st.prov == nil {
		dp, err := DefaultProvider()
		if err != nil {
			st.free()
			return builderStart{}, err
		}
		frees = append(frees, dp.Free)
		st.prov = dp.p
	}
	st.vp, st.vn = vp, vn
	return st, nil
}

// setALPN hands protos (when there are any) to a builder's ALPN setter.
func setALPN(protos [][]byte, set func(*C.struct_rustls_slice_bytes, C.size_t) C.rustls_result) error {
	if len(protos) == 0 {
		return nil
	}
	arr, free := alpnArg(protos)
	defer free()
	return check(set(arr, C.size_t(len(protos))), "set ALPN protocols")
}

// setKeys hands keys (when there are any) to a builder's certified-key
// setter, which takes its own references; op names the step.
func setKeys(keys []*CertifiedKey, op string, set func(**C.struct_rustls_certified_key, C.size_t) C.rustls_result) error {
	if len(keys) == 0 {
		return nil
	}
	arr, free := certKeysArg(keys)
	defer free()
	return check(set(arr, C.size_t(len(keys))), op)
}

// setKeyLog installs the key log: the Go registry's slot (slot >= 0), else
// SSLKEYLOGFILE when file is set, else nothing.
func setKeyLog(slot int, file bool, setCB func(C.rustls_keylog_log_callback) C.rustls_result, setFile func() C.rustls_result) error {
	if slot >= 0 {
		return check(setCB(C.gr_keylog_slot(C.int(slot))), "set key log")
	}
	if file {
		return check(setFile(), "set key log file")
	}
	return nil
}

// addCRLs hands each PEM CRL to a web-pki verifier builder's add_crl; an
// empty one is refused here (rustls would take NULL for it).
func addCRLs(crls [][]byte, add func(*C.uint8_t, C.size_t) C.rustls_result) error {
	for i, crl := range crls {
		if len(crl) == 0 {
			return &Error{Code: uint32(C.RUSTLS_RESULT_CERT_REVOCATION_LIST_PARSE_ERROR), Op: "add CRL", Detail: fmt.Sprintf("CRL %d is empty", i)}
		}
		if r := add(bytesPtr(crl), C.size_t(len(crl))); uint32(r) != ResultOK {
			return &Error{Code: uint32(r), Op: "add CRL", Detail: fmt.Sprintf("CRL %d", i)}
		}
	}
	return nil
}

func providerPtr(p *Provider) *C.struct_rustls_crypto_provider {
	if p == nil {
		return nil
	}
	return p.p
}

// versionsArg returns a C array of versions (caller frees) or nil.
func versionsArg(v []uint16) (*C.uint16_t, C.size_t) {
	if len(v) == 0 {
		return nil, 0
	}
	p := (*C.uint16_t)(C.malloc(C.size_t(2 * len(v))))
	s := unsafe.Slice(p, len(v))
	for i, x := range v {
		s[i] = C.uint16_t(x)
	}
	return p, C.size_t(len(v))
}

// alpnArg copies protocol names into one C block plus a slice array.
func alpnArg(protos [][]byte) (*C.struct_rustls_slice_bytes, func()) {
	total := 0
	for _, p := range protos {
		total += len(p)
	}
	arr := (*C.struct_rustls_slice_bytes)(C.malloc(C.size_t(len(protos)) * C.size_t(unsafe.Sizeof(C.struct_rustls_slice_bytes{}))))
	data := (*C.uint8_t)(C.malloc(C.size_t(total + 1)))
	as := unsafe.Slice(arr, len(protos))
	ds := unsafe.Slice(data, total+1)
	off := 0
	for i, p := range protos {
		for j, b := range p {
			ds[off+j] = C.uint8_t(b)
		}
		as[i].data = &ds[off]
		as[i].len = C.size_t(len(p))
		off += len(p)
	}
	return arr, func() { C.free(unsafe.Pointer(arr)); C.free(unsafe.Pointer(data)) }
}

func certKeysArg(keys []*CertifiedKey) (**C.struct_rustls_certified_key, func()) {
	arr := (**C.struct_rustls_certified_key)(C.malloc(C.size_t(len(keys)) * C.size_t(unsafe.Sizeof(uintptr(0)))))
	s := unsafe.Slice(arr, len(keys))
	for i, k := range keys {
		s[i] = k.p
	}
	return arr, func() { C.free(unsafe.Pointer(arr)) }
}
