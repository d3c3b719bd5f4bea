package cgo

/*
#include "gorustls_shim.h"
*/
import "C"

import "unsafe"

// Provider is one reference to a rustls_crypto_provider. Free releases it.
type Provider struct {
	p *C.struct_rustls_crypto_provider
}

// SuiteInfo describes one cipher suite of a provider.
type SuiteInfo struct {
	ID      uint16 // IANA value
	Name    string // rustls's name
	Version uint16 // protocol version, 0x0303 or 0x0304
}

// installErr is the outcome of installing the process default provider.
var installErr error

func init() {
	if r := uint32(C.gr_provider_install_default()); r != ResultOK {
		installErr = &Error{Code: r, Op: "install aws-lc-rs as the default crypto provider"}
	}
}

// HasRingAESGCM reports whether librustls carries both aws-lc-rs and ring,
// which RingAESGCMProvider needs (the bundled default build does).
func HasRingAESGCM() bool { return C.gr_provider_has_ring_aes_gcm() != 0 }

// RingAESGCMProvider returns the default (aws-lc-rs) provider with each
// AES-GCM cipher suite replaced by ring's implementation of that suite.
func RingAESGCMProvider() (*Provider, error) {
	var p *C.struct_rustls_crypto_provider
	var replaced C.size_t
	r := uint32(C.gr_provider_ring_aes_gcm(&p, &replaced))
	if r == ResultNotFound {
		return nil, &Error{Code: r, Op: "build the aws-lc-rs provider with ring's AES-GCM",
			Detail: "this librustls was not built with both aws-lc-rs and ring (the bundled aws-lc-rs build is)"}
	}
	if r != ResultOK {
		return nil, &Error{Code: r, Op: "build the aws-lc-rs provider with ring's AES-GCM"}
	}
	if replaced == 0 {
		C.rustls_crypto_provider_free(p)
		return nil, &Error{Code: ResultNotFound, Op: "build the aws-lc-rs provider with ring's AES-GCM",
			Detail: "the default provider has no AES-GCM cipher suite"}
	}
	return &Provider{p: p}, nil
}

// DefaultProvider returns a new reference to the process default provider,
// installing the one librustls was built with when none is set yet.
func DefaultProvider() (*Provider, error) {
	if installErr != nil {
		return nil, installErr
	}
	var b *C.struct_rustls_crypto_provider_builder
	if r := uint32(C.rustls_crypto_provider_builder_new_from_default(&b)); r != ResultOK {
		return nil, &Error{Code: r, Op: "load the default crypto provider"}
	}
	defer C.rustls_crypto_provider_builder_free(b)
	var p *C.struct_rustls_crypto_provider
	if r := uint32(C.rustls_crypto_provider_builder_build(b, &p)); r != ResultOK {
		return nil, &Error{Code: r, Op: "build the default crypto provider"}
	}
	return &Provider{p: p}, nil
}

// Free releases this reference. Safe to call once; later calls do nothing.
func (p *Provider) Free() {
	if p != nil && p.p != nil {
		C.rustls_crypto_provider_free(p.p)
		p.p = nil
	}
}

// Suites lists the provider's cipher suites in preference order.
func (p *Provider) Suites() []SuiteInfo {
	n := int(C.rustls_crypto_provider_ciphersuites_len(p.p))
	out := make([]SuiteInfo, 0, n)
	for i := 0; i < n; i++ {
		s := C.rustls_crypto_provider_ciphersuites_get(p.p, C.size_t(i))
		if s == nil {
			continue
		}
		out = append(out, SuiteInfo{
			ID:      uint16(C.rustls_supported_ciphersuite_get_suite(s)),
			Name:    goStr(C.rustls_supported_ciphersuite_get_name(s)),
			Version: uint16(C.rustls_supported_ciphersuite_protocol_version(s)),
		})
	}
	return out
}

// WithSuites returns a new provider limited to the given suite IDs, in the
// given order. Unknown IDs give ResultNotFound with the ID in Detail.
func (p *Provider) WithSuites(ids []uint16) (*Provider, error) {
	n := int(C.rustls_crypto_provider_ciphersuites_len(p.p))
	picked := make([]*C.struct_rustls_supported_ciphersuite, 0, len(ids))
	for _, id := range ids {
		var found *C.struct_rustls_supported_ciphersuite
		for i := 0; i < n; i++ {
			s := C.rustls_crypto_provider_ciphersuites_get(p.p, C.size_t(i))
			if s != nil && uint16(C.rustls_supported_ciphersuite_get_suite(s)) == id {
				found = s
				break
			}
		}
		if found == nil {
			return nil, &Error{Code: ResultNotFound, Op: "restrict cipher suites", Detail: suiteDetail(id)}
		}
		picked = append(picked, found)
	}
	if len(picked) == 0 {
		return nil, &Error{Code: ResultInvalidParameter, Op: "restrict cipher suites", Detail: "no cipher suite given"}
	}
	b := C.rustls_crypto_provider_builder_new_with_base(p.p)
	if b == nil {
		return nil, &Error{Code: ResultGeneral, Op: "restrict cipher suites"}
	}
	defer C.rustls_crypto_provider_builder_free(b)
	// The array of suite pointers lives in C memory for the call.
	arr := (*[1 << 20]*C.struct_rustls_supported_ciphersuite)(C.malloc(C.size_t(len(picked)) * C.size_t(unsafe.Sizeof(picked[0]))))
	defer C.free(unsafe.Pointer(arr))
	copy(arr[:len(picked)], picked)
	if r := uint32(C.rustls_crypto_provider_builder_set_cipher_suites(b, &arr[0], C.size_t(len(picked)))); r != ResultOK {
		return nil, &Error{Code: r, Op: "restrict cipher suites"}
	}
	var out *C.struct_rustls_crypto_provider
	if r := uint32(C.rustls_crypto_provider_builder_build(b, &out)); r != ResultOK {
		return nil, &Error{Code: r, Op: "build the restricted crypto provider"}
	}
	return &Provider{p: out}, nil
}

// FIPS reports whether the provider is in FIPS mode.
func (p *Provider) FIPS() bool { return bool(C.rustls_crypto_provider_fips(p.p)) }

// Random fills b with random bytes from the provider.
func (p *Provider) Random(b []byte) error {
	if len(b) == 0 {
		return nil
	}
	if r := uint32(C.rustls_crypto_provider_random(p.p, bytesPtr(b), C.size_t(len(b)))); r != ResultOK {
		return &Error{Code: r, Op: "random bytes"}
	}
	return nil
}

// HPKESupported reports whether the provider offers HPKE (needed for ECH).
func HPKESupported() bool { return C.rustls_supported_hpke() != nil }

func suiteDetail(id uint16) string {
	const hex = "0123456789abcdef"
	return "cipher suite 0x" + string([]byte{hex[id>>12], hex[id>>8&15], hex[id>>4&15], hex[id&15]}) + " is not offered by the provider"
}
