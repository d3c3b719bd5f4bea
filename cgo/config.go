package cgo

/*
#include <stdlib.h>
#include <string.h>
#include "gorustls_shim.h"
*/
import "C"

import (
	"fmt"
	"unsafe"
)

// CertifiedKey is one reference to a rustls_certified_key (a certificate
// chain with its private key). Free releases it.
type CertifiedKey struct {
	p *C.struct_rustls_certified_key
}

// NewCertifiedKey parses a PEM chain and PEM private key and checks that the
// key matches the end-entity certificate.
func NewCertifiedKey(chainPEM, keyPEM []byte) (*CertifiedKey, error) {
	if len(chainPEM) == 0 || len(keyPEM) == 0 {
		return nil, &Error{Code: ResultInvalidParameter, Op: "build certified key", Detail: "empty PEM"}
	}
	// Copy into C memory: rustls keeps nothing, but the key should not linger
	// in the Go heap longer than the caller keeps it, and C owns this copy.
	cc := C.CBytes(chainPEM)
	defer C.free(cc)
	ck := C.CBytes(keyPEM)
	defer func() {
		C.memset(ck, 0, C.size_t(len(keyPEM)))
		C.free(ck)
	}()
	var out *C.struct_rustls_certified_key
	r := uint32(C.rustls_certified_key_build((*C.uint8_t)(cc), C.size_t(len(chainPEM)),
		(*C.uint8_t)(ck), C.size_t(len(keyPEM)), &out))
	if r != ResultOK {
		return nil, &Error{Code: r, Op: "build certified key"}
	}
	if r := uint32(C.rustls_certified_key_keys_match(out)); r != ResultOK {
		C.rustls_certified_key_free(out)
		return nil, &Error{Code: r, Op: "check that the private key matches the certificate"}
	}
	return &CertifiedKey{p: out}, nil
}

// Free releases this reference; later calls do nothing.
func (k *CertifiedKey) Free() {
	if k != nil && k.p != nil {
		C.rustls_certified_key_free(k.p)
		k.p = nil
	}
}

// CertDER returns a copy of certificate i of the chain, or nil.
func (k *CertifiedKey) CertDER(i int) []byte {
	c := C.rustls_certified_key_get_certificate(k.p, C.size_t(i))
	if c == nil {
		return nil
	}
	var der *C.uint8_t
	var n C.size_t
	if uint32(C.rustls_certificate_get_der(c, &der, &n)) != ResultOK || der == nil {
		return nil
	}
	return C.GoBytes(unsafe.Pointer(der), C.int(n))
}

// CloneWithOCSP returns a new key (rustls_certified_key_clone_with_ocsp):
// k's chain and private key with a copy of the DER OCSP response ocsp to
// staple, which must not be empty. k is unchanged and keeps its own
// reference; the caller frees the new one. k must stay referenced for the
// length of the call.
func (k *CertifiedKey) CloneWithOCSP(ocsp []byte) (*CertifiedKey, error) {
	const op = "add an OCSP response to a certified key"
	if k == nil || k.p == nil {
		return nil, &Error{Code: ResultInvalidParameter, Op: op, Detail: "no certified key"}
	}
	if len(ocsp) == 0 {
		// A NULL slice would clear the staple instead: never by accident.
		return nil, &Error{Code: ResultInvalidParameter, Op: op, Detail: "empty OCSP response"}
	}
	// rustls copies the bytes during the call; the slice descriptor must not
	// point into the Go heap (cgo's pointer rules), so copy to C memory.
	data := C.CBytes(ocsp)
	defer C.free(data)
	sl := (*C.struct_rustls_slice_bytes)(C.malloc(C.size_t(unsafe.Sizeof(C.struct_rustls_slice_bytes{}))))
	defer C.free(unsafe.Pointer(sl))
	sl.data = (*C.uint8_t)(data)
	sl.len = C.size_t(len(ocsp))
	var out *C.struct_rustls_certified_key
	if r := uint32(C.rustls_certified_key_clone_with_ocsp(k.p, sl, &out)); r != ResultOK {
		return nil, &Error{Code: r, Op: op}
	}
	return &CertifiedKey{p: out}, nil
}

// RootStore is one reference to a rustls_root_cert_store.
type RootStore struct {
	p *C.struct_rustls_root_cert_store
}

// NewRootStore builds a root store from PEM bundles and PEM files. Each
// bundle must hold at least one parseable certificate.
func NewRootStore(pems [][]byte, files []string) (*RootStore, error) {
	b := C.rustls_root_cert_store_builder_new()
	defer C.rustls_root_cert_store_builder_free(b)
	for i, pem := range pems {
		if len(pem) == 0 {
			return nil, &Error{Code: ResultCertificateParse, Op: "add root certificates", Detail: fmt.Sprintf("PEM bundle %d is empty", i)}
		}
		r := uint32(C.rustls_root_cert_store_builder_add_pem(b, bytesPtr(pem), C.size_t(len(pem)), true))
		if r != ResultOK {
			return nil, &Error{Code: r, Op: "add root certificates", Detail: fmt.Sprintf("PEM bundle %d", i)}
		}
	}
	for _, f := range files {
		cf := C.CString(f)
		r := uint32(C.rustls_root_cert_store_builder_load_roots_from_file(b, cf, true))
		C.free(unsafe.Pointer(cf))
		if r != ResultOK {
			return nil, &Error{Code: r, Op: "load root certificates", Detail: f}
		}
	}
	var out *C.struct_rustls_root_cert_store
	if r := uint32(C.rustls_root_cert_store_builder_build(b, &out)); r != ResultOK {
		return nil, &Error{Code: r, Op: "build root store"}
	}
	return &RootStore{p: out}, nil
}

// Free releases this reference; later calls do nothing.
func (s *RootStore) Free() {
	if s != nil && s.p != nil {
		C.rustls_root_cert_store_free(s.p)
		s.p = nil
	}
}

// ResultCertificateParse is RUSTLS_RESULT_CERTIFICATE_PARSE_ERROR.
const ResultCertificateParse = uint32(C.RUSTLS_RESULT_CERTIFICATE_PARSE_ERROR)

// ResultPrivateKeyParse is RUSTLS_RESULT_PRIVATE_KEY_PARSE_ERROR.
const ResultPrivateKeyParse = uint32(C.RUSTLS_RESULT_PRIVATE_KEY_PARSE_ERROR)

// ResultIncompatibleVersions is RUSTLS_RESULT_BUILDER_INCOMPATIBLE_TLS_VERSIONS.
const ResultIncompatibleVersions = uint32(C.RUSTLS_RESULT_BUILDER_INCOMPATIBLE_TLS_VERSIONS)

// ResultECHInvalidConfigList is RUSTLS_RESULT_INVALID_ENCRYPTED_CLIENT_HELLO_INVALID_CONFIG_LIST.
const ResultECHInvalidConfigList = uint32(C.RUSTLS_RESULT_INVALID_ENCRYPTED_CLIENT_HELLO_INVALID_CONFIG_LIST)

// ServerSpec lists everything a server config can be built from.
type ServerSpec struct {
	Provider          *Provider       // nil: the default provider
	Versions          []uint16        // nil: rustls's defaults
	Keys              []*CertifiedKey // certificates to serve (the config takes its own references)
	ClientAuth        int             // 0 none, 1 optional, 2 required
	ClientRoots       *RootStore      // CAs for client certificates (ClientAuth != 0)
	ClientCRLs        [][]byte        // PEM CRLs for client certificates
	ALPN              [][]byte        // ALPN protocols in preference order
	IgnoreClientOrder bool            // prefer the server's suite order
	KeylogSlot        int             // -1: none
	KeylogFile        bool            // SSLKEYLOGFILE (when KeylogSlot is -1)
	SessionStore      bool            // route session persistence to Go (connection userdata)
	HelloCallback     bool            // choose certificates in Go (connection userdata)
}

// ServerConfig is one reference to a rustls_server_config.
type ServerConfig struct {
	p *C.struct_rustls_server_config
}

// Free releases this reference; later calls do nothing.
func (c *ServerConfig) Free() {
	if c != nil && c.p != nil {
		C.rustls_server_config_free(c.p)
		c.p = nil
	}
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

// BuildServerConfig runs the rustls_server_config_builder for spec.
func BuildServerConfig(spec *ServerSpec) (*ServerConfig, error) {
	var b *C.struct_rustls_server_config_builder
	vp, vn := versionsArg(spec.Versions)
	if vp != nil {
		defer C.free(unsafe.Pointer(vp))
	}
	prov := providerPtr(spec.Provider)
	if prov == nil && vp == nil {
		b = C.rustls_server_config_builder_new()
	} else {
		if prov == nil {
			dp, err := DefaultProvider()
			if err != nil {
				return nil, err
			}
			defer dp.Free()
			prov = dp.p
		}
		if vp == nil {
			vp, vn = &C.RUSTLS_DEFAULT_VERSIONS[0], C.RUSTLS_DEFAULT_VERSIONS_LEN
		}
		if r := uint32(C.rustls_server_config_builder_new_custom(prov, vp, vn, &b)); r != ResultOK {
			return nil, &Error{Code: r, Op: "start server config (provider and versions)"}
		}
	}
	built := false
	defer func() {
		if !built {
			C.rustls_server_config_builder_free(b)
		}
	}()
	if spec.ClientAuth != 0 {
		v, err := buildClientVerifier(spec, prov)
		if err != nil {
			return nil, err
		}
		C.rustls_server_config_builder_set_client_verifier(b, v)
		C.rustls_client_cert_verifier_free(v)
	}
	if len(spec.ALPN) > 0 {
		arr, free := alpnArg(spec.ALPN)
		r := uint32(C.rustls_server_config_builder_set_alpn_protocols(b, arr, C.size_t(len(spec.ALPN))))
		free()
		if r != ResultOK {
			return nil, &Error{Code: r, Op: "set ALPN protocols"}
		}
	}
	if spec.IgnoreClientOrder {
		if r := uint32(C.rustls_server_config_builder_set_ignore_client_order(b, true)); r != ResultOK {
			return nil, &Error{Code: r, Op: "set ignore client order"}
		}
	}
	if len(spec.Keys) > 0 {
		arr, free := certKeysArg(spec.Keys)
		r := uint32(C.rustls_server_config_builder_set_certified_keys(b, arr, C.size_t(len(spec.Keys))))
		free()
		if r != ResultOK {
			return nil, &Error{Code: r, Op: "set server certificates"}
		}
	}
	if spec.KeylogSlot >= 0 {
		if r := uint32(C.rustls_server_config_builder_set_key_log(b, C.gr_keylog_slot(C.int(spec.KeylogSlot)), nil)); r != ResultOK {
			return nil, &Error{Code: r, Op: "set key log"}
		}
	} else if spec.KeylogFile {
		if r := uint32(C.rustls_server_config_builder_set_key_log_file(b)); r != ResultOK {
			return nil, &Error{Code: r, Op: "set key log file"}
		}
	}
	if spec.SessionStore {
		C.rustls_server_config_builder_set_persistence(b, C.rustls_session_store_get_callback(C.gr_session_get_cb),
			C.rustls_session_store_put_callback(C.gr_session_put_cb))
	}
	if spec.HelloCallback {
		if r := uint32(C.rustls_server_config_builder_set_hello_callback(b, C.rustls_client_hello_callback(C.gr_hello_cb))); r != ResultOK {
			return nil, &Error{Code: r, Op: "set certificate selection callback"}
		}
	}
	var out *C.struct_rustls_server_config
	built = true // build consumes the builder, on success and on failure
	if r := uint32(C.rustls_server_config_builder_build(b, &out)); r != ResultOK {
		return nil, &Error{Code: r, Op: "build server config"}
	}
	return &ServerConfig{p: out}, nil
}

func buildClientVerifier(spec *ServerSpec, prov *C.struct_rustls_crypto_provider) (*C.struct_rustls_client_cert_verifier, error) {
	if spec.ClientRoots == nil {
		return nil, &Error{Code: uint32(C.RUSTLS_RESULT_CLIENT_CERT_VERIFIER_BUILDER_NO_ROOT_ANCHORS), Op: "build client certificate verifier", Detail: "no client CA roots given"}
	}
	var vb *C.struct_rustls_web_pki_client_cert_verifier_builder
	if prov != nil {
		vb = C.rustls_web_pki_client_cert_verifier_builder_new_with_provider(prov, spec.ClientRoots.p)
	} else {
		vb = C.rustls_web_pki_client_cert_verifier_builder_new(spec.ClientRoots.p)
	}
	defer C.rustls_web_pki_client_cert_verifier_builder_free(vb)
	for i, crl := range spec.ClientCRLs {
		if len(crl) == 0 {
			return nil, &Error{Code: uint32(C.RUSTLS_RESULT_CERT_REVOCATION_LIST_PARSE_ERROR), Op: "add CRL", Detail: fmt.Sprintf("CRL %d is empty", i)}
		}
		if r := uint32(C.rustls_web_pki_client_cert_verifier_builder_add_crl(vb, bytesPtr(crl), C.size_t(len(crl)))); r != ResultOK {
			return nil, &Error{Code: r, Op: "add CRL", Detail: fmt.Sprintf("CRL %d", i)}
		}
	}
	if spec.ClientAuth == 1 {
		if r := uint32(C.rustls_web_pki_client_cert_verifier_builder_allow_unauthenticated(vb)); r != ResultOK {
			return nil, &Error{Code: r, Op: "allow unauthenticated clients"}
		}
	}
	var v *C.struct_rustls_client_cert_verifier
	if r := uint32(C.rustls_web_pki_client_cert_verifier_builder_build(vb, &v)); r != ResultOK {
		return nil, &Error{Code: r, Op: "build client certificate verifier"}
	}
	return v, nil
}

// ClientSpec lists everything a client config can be built from.
type ClientSpec struct {
	Provider      *Provider       // nil: the default provider
	Versions      []uint16        // nil: rustls's defaults
	Roots         *RootStore      // web-pki verification against these roots
	PlatformRoots bool            // the platform verifier (system roots)
	CRLs          [][]byte        // PEM CRLs for server certificates (with Roots)
	Dangerous     bool            // verification by a Go callback (connection userdata)
	Keys          []*CertifiedKey // client certificate for mutual TLS
	ALPN          [][]byte        // ALPN protocols in preference order
	DisableSNI    bool            // send no SNI
	KeylogSlot    int             // -1: none
	KeylogFile    bool            // SSLKEYLOGFILE (when KeylogSlot is -1)
	ECHConfigList []byte          // enable ECH with this ECHConfigList
	ECHGrease     bool            // send GREASE ECH (when ECHConfigList is empty)
}

// ClientConfig is one reference to a rustls_client_config.
type ClientConfig struct {
	p *C.struct_rustls_client_config
}

// Free releases this reference; later calls do nothing.
func (c *ClientConfig) Free() {
	if c != nil && c.p != nil {
		C.rustls_client_config_free(c.p)
		c.p = nil
	}
}

// BuildClientConfig runs the rustls_client_config_builder for spec.
func BuildClientConfig(spec *ClientSpec) (*ClientConfig, error) {
	var b *C.struct_rustls_client_config_builder
	vp, vn := versionsArg(spec.Versions)
	if vp != nil {
		defer C.free(unsafe.Pointer(vp))
	}
	prov := providerPtr(spec.Provider)
	if prov == nil && vp == nil {
		b = C.rustls_client_config_builder_new()
	} else {
		if prov == nil {
			dp, err := DefaultProvider()
			if err != nil {
				return nil, err
			}
			defer dp.Free()
			prov = dp.p
		}
		if vp == nil {
			vp, vn = &C.RUSTLS_DEFAULT_VERSIONS[0], C.RUSTLS_DEFAULT_VERSIONS_LEN
		}
		if r := uint32(C.rustls_client_config_builder_new_custom(prov, vp, vn, &b)); r != ResultOK {
			return nil, &Error{Code: r, Op: "start client config (provider and versions)"}
		}
	}
	built := false
	defer func() {
		if !built {
			C.rustls_client_config_builder_free(b)
		}
	}()
	switch {
	case spec.Dangerous:
		if r := uint32(C.rustls_client_config_builder_dangerous_set_certificate_verifier(b,
			C.rustls_verify_server_cert_callback(C.gr_verify_server_cert_cb))); r != ResultOK {
			return nil, &Error{Code: r, Op: "set custom certificate verifier"}
		}
	case spec.PlatformRoots:
		var v *C.struct_rustls_server_cert_verifier
		var r uint32
		if prov != nil {
			r = uint32(C.rustls_platform_server_cert_verifier_try_with_provider(prov, &v))
		} else {
			r = uint32(C.rustls_platform_server_cert_verifier(&v))
		}
		if r != ResultOK {
			return nil, &Error{Code: r, Op: "load the platform certificate verifier"}
		}
		C.rustls_client_config_builder_set_server_verifier(b, v)
		C.rustls_server_cert_verifier_free(v)
	case spec.Roots != nil:
		var vb *C.struct_rustls_web_pki_server_cert_verifier_builder
		if prov != nil {
			vb = C.rustls_web_pki_server_cert_verifier_builder_new_with_provider(prov, spec.Roots.p)
		} else {
			vb = C.rustls_web_pki_server_cert_verifier_builder_new(spec.Roots.p)
		}
		defer C.rustls_web_pki_server_cert_verifier_builder_free(vb)
		for i, crl := range spec.CRLs {
			if len(crl) == 0 {
				return nil, &Error{Code: uint32(C.RUSTLS_RESULT_CERT_REVOCATION_LIST_PARSE_ERROR), Op: "add CRL", Detail: fmt.Sprintf("CRL %d is empty", i)}
			}
			if r := uint32(C.rustls_web_pki_server_cert_verifier_builder_add_crl(vb, bytesPtr(crl), C.size_t(len(crl)))); r != ResultOK {
				return nil, &Error{Code: r, Op: "add CRL", Detail: fmt.Sprintf("CRL %d", i)}
			}
		}
		var v *C.struct_rustls_server_cert_verifier
		if r := uint32(C.rustls_web_pki_server_cert_verifier_builder_build(vb, &v)); r != ResultOK {
			return nil, &Error{Code: r, Op: "build server certificate verifier"}
		}
		C.rustls_client_config_builder_set_server_verifier(b, v)
		C.rustls_server_cert_verifier_free(v)
	}
	if len(spec.ALPN) > 0 {
		arr, free := alpnArg(spec.ALPN)
		r := uint32(C.rustls_client_config_builder_set_alpn_protocols(b, arr, C.size_t(len(spec.ALPN))))
		free()
		if r != ResultOK {
			return nil, &Error{Code: r, Op: "set ALPN protocols"}
		}
	}
	if spec.DisableSNI {
		C.rustls_client_config_builder_set_enable_sni(b, false)
	}
	if len(spec.Keys) > 0 {
		arr, free := certKeysArg(spec.Keys)
		r := uint32(C.rustls_client_config_builder_set_certified_key(b, arr, C.size_t(len(spec.Keys))))
		free()
		if r != ResultOK {
			return nil, &Error{Code: r, Op: "set client certificate"}
		}
	}
	if spec.KeylogSlot >= 0 {
		if r := uint32(C.rustls_client_config_builder_set_key_log(b, C.gr_keylog_slot(C.int(spec.KeylogSlot)), nil)); r != ResultOK {
			return nil, &Error{Code: r, Op: "set key log"}
		}
	} else if spec.KeylogFile {
		if r := uint32(C.rustls_client_config_builder_set_key_log_file(b)); r != ResultOK {
			return nil, &Error{Code: r, Op: "set key log file"}
		}
	}
	if len(spec.ECHConfigList) > 0 || spec.ECHGrease {
		hpke := C.rustls_supported_hpke()
		if hpke == nil {
			return nil, &Error{Code: uint32(C.RUSTLS_RESULT_HPKE_ERROR), Op: "enable ECH", Detail: "the crypto provider offers no HPKE suites"}
		}
		if len(spec.ECHConfigList) > 0 {
			r := uint32(C.rustls_client_config_builder_enable_ech(b, bytesPtr(spec.ECHConfigList), C.size_t(len(spec.ECHConfigList)), hpke))
			if r != ResultOK {
				return nil, &Error{Code: r, Op: "enable ECH"}
			}
		} else if r := uint32(C.rustls_client_config_builder_enable_ech_grease(b, hpke)); r != ResultOK {
			return nil, &Error{Code: r, Op: "enable ECH GREASE"}
		}
	}
	var out *C.struct_rustls_client_config
	built = true // build consumes the builder, on success and on failure
	if r := uint32(C.rustls_client_config_builder_build(b, &out)); r != ResultOK {
		return nil, &Error{Code: r, Op: "build client config"}
	}
	return &ClientConfig{p: out}, nil
}
