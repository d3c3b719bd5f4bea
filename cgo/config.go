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
	NoResumption      bool            // issue no TLS 1.3 tickets, store no sessions (C only)
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

// BuildServerConfig runs the rustls_server_config_builder for spec.
func BuildServerConfig(spec *ServerSpec) (*ServerConfig, error) {
	st, err := startBuilder(spec.Provider, spec.Versions)
	if err != nil {
		return nil, err
	}
	defer st.free()
	var b *C.struct_rustls_server_config_builder
	if !st.custom {
		b = C.rustls_server_config_builder_new()
	} else if err := check(C.rustls_server_config_builder_new_custom(st.prov, st.vp, st.vn, &b),
		"start server config (provider and versions)"); err != nil {
		return nil, err
	}
	built := false
	defer func() {
		if !built {
			C.rustls_server_config_builder_free(b)
		}
	}()
	if spec.ClientAuth != 0 {
		v, err := buildClientVerifier(spec, st.prov)
		if err != nil {
			return nil, err
		}
		C.rustls_server_config_builder_set_client_verifier(b, v)
		C.rustls_client_cert_verifier_free(v)
	}
	if err := setALPN(spec.ALPN, func(arr *C.struct_rustls_slice_bytes, n C.size_t) C.rustls_result {
		return C.rustls_server_config_builder_set_alpn_protocols(b, arr, n)
	}); err != nil {
		return nil, err
	}
	if spec.IgnoreClientOrder {
		if err := check(C.rustls_server_config_builder_set_ignore_client_order(b, true), "set ignore client order"); err != nil {
			return nil, err
		}
	}
	if err := setKeys(spec.Keys, "set server certificates", func(arr **C.struct_rustls_certified_key, n C.size_t) C.rustls_result {
		return C.rustls_server_config_builder_set_certified_keys(b, arr, n)
	}); err != nil {
		return nil, err
	}
	if err := setKeyLog(spec.KeylogSlot, spec.KeylogFile,
		func(cb C.rustls_keylog_log_callback) C.rustls_result {
			return C.rustls_server_config_builder_set_key_log(b, cb, nil)
		},
		func() C.rustls_result { return C.rustls_server_config_builder_set_key_log_file(b) }); err != nil {
		return nil, err
	}
	if spec.SessionStore {
		C.rustls_server_config_builder_set_persistence(b, C.rustls_session_store_get_callback(C.gr_session_get_cb),
			C.rustls_session_store_put_callback(C.gr_session_put_cb))
	}
	if spec.NoResumption {
		// No TLS 1.3 tickets, and a TLS 1.2 session ID that is never
		// stored, so never found: every handshake is a full one.
		if err := check(C.rustls_server_config_builder_set_send_tls13_tickets(b, 0), "disable session tickets"); err != nil {
			return nil, err
		}
		C.rustls_server_config_builder_set_persistence(b, C.rustls_session_store_get_callback(C.gr_session_none_get_cb),
			C.rustls_session_store_put_callback(C.gr_session_none_put_cb))
	}
	if spec.HelloCallback {
		if err := check(C.rustls_server_config_builder_set_hello_callback(b, C.rustls_client_hello_callback(C.gr_hello_cb)),
			"set certificate selection callback"); err != nil {
			return nil, err
		}
	}
	var out *C.struct_rustls_server_config
	built = true // build consumes the builder, on success and on failure
	if err := check(C.rustls_server_config_builder_build(b, &out), "build server config"); err != nil {
		return nil, err
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
	if err := addCRLs(spec.ClientCRLs, func(crl *C.uint8_t, n C.size_t) C.rustls_result {
		return C.rustls_web_pki_client_cert_verifier_builder_add_crl(vb, crl, n)
	}); err != nil {
		return nil, err
	}
	if spec.ClientAuth == 1 {
		if err := check(C.rustls_web_pki_client_cert_verifier_builder_allow_unauthenticated(vb), "allow unauthenticated clients"); err != nil {
			return nil, err
		}
	}
	var v *C.struct_rustls_client_cert_verifier
	if err := check(C.rustls_web_pki_client_cert_verifier_builder_build(vb, &v), "build client certificate verifier"); err != nil {
		return nil, err
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
	st, err := startBuilder(spec.Provider, spec.Versions)
	if err != nil {
		return nil, err
	}
	defer st.free()
	var b *C.struct_rustls_client_config_builder
	if !st.custom {
		b = C.rustls_client_config_builder_new()
	} else if err := check(C.rustls_client_config_builder_new_custom(st.prov, st.vp, st.vn, &b),
		"start client config (provider and versions)"); err != nil {
		return nil, err
	}
	built := false
	defer func() {
		if !built {
			C.rustls_client_config_builder_free(b)
		}
	}()
	if err := setServerVerifier(b, spec, st.prov); err != nil {
		return nil, err
	}
	if err := setALPN(spec.ALPN, func(arr *C.struct_rustls_slice_bytes, n C.size_t) C.rustls_result {
		return C.rustls_client_config_builder_set_alpn_protocols(b, arr, n)
	}); err != nil {
		return nil, err
	}
	if spec.DisableSNI {
		C.rustls_client_config_builder_set_enable_sni(b, false)
	}
	if err := setKeys(spec.Keys, "set client certificate", func(arr **C.struct_rustls_certified_key, n C.size_t) C.rustls_result {
		return C.rustls_client_config_builder_set_certified_key(b, arr, n)
	}); err != nil {
		return nil, err
	}
	if err := setKeyLog(spec.KeylogSlot, spec.KeylogFile,
		func(cb C.rustls_keylog_log_callback) C.rustls_result {
			return C.rustls_client_config_builder_set_key_log(b, cb, nil)
		},
		func() C.rustls_result { return C.rustls_client_config_builder_set_key_log_file(b) }); err != nil {
		return nil, err
	}
	if len(spec.ECHConfigList) > 0 || spec.ECHGrease {
		hpke := C.rustls_supported_hpke()
		if hpke == nil {
			return nil, &Error{Code: uint32(C.RUSTLS_RESULT_HPKE_ERROR), Op: "enable ECH", Detail: "the crypto provider offers no HPKE suites"}
		}
		if len(spec.ECHConfigList) > 0 {
			err = check(C.rustls_client_config_builder_enable_ech(b, bytesPtr(spec.ECHConfigList), C.size_t(len(spec.ECHConfigList)), hpke), "enable ECH")
		} else {
			err = check(C.rustls_client_config_builder_enable_ech_grease(b, hpke), "enable ECH GREASE")
		}
		if err != nil {
			return nil, err
		}
	}
	var out *C.struct_rustls_client_config
	built = true // build consumes the builder, on success and on failure
	if err := check(C.rustls_client_config_builder_build(b, &out), "build client config"); err != nil {
		return nil, err
	}
	return &ClientConfig{p: out}, nil
}

// setServerVerifier installs spec's way of verifying servers on b: the Go
// callback, the platform verifier or web-pki with spec.Roots (and CRLs);
// with none, b keeps none and its build fails saying so.
func setServerVerifier(b *C.struct_rustls_client_config_builder, spec *ClientSpec, prov *C.struct_rustls_crypto_provider) error {
	var v *C.struct_rustls_server_cert_verifier
	switch {
	case spec.Dangerous:
		return check(C.rustls_client_config_builder_dangerous_set_certificate_verifier(b,
			C.rustls_verify_server_cert_callback(C.gr_verify_server_cert_cb)), "set custom certificate verifier")
	case spec.PlatformRoots:
		var r C.rustls_result
		if prov != nil {
			r = C.rustls_platform_server_cert_verifier_try_with_provider(prov, &v)
		} else {
			r = C.rustls_platform_server_cert_verifier(&v)
		}
		if err := check(r, "load the platform certificate verifier"); err != nil {
			return err
		}
	case spec.Roots != nil:
		var vb *C.struct_rustls_web_pki_server_cert_verifier_builder
		if prov != nil {
			vb = C.rustls_web_pki_server_cert_verifier_builder_new_with_provider(prov, spec.Roots.p)
		} else {
			vb = C.rustls_web_pki_server_cert_verifier_builder_new(spec.Roots.p)
		}
		defer C.rustls_web_pki_server_cert_verifier_builder_free(vb)
		if err := addCRLs(spec.CRLs, func(crl *C.uint8_t, n C.size_t) C.rustls_result {
			return C.rustls_web_pki_server_cert_verifier_builder_add_crl(vb, crl, n)
		}); err != nil {
			return err
		}
		if err := check(C.rustls_web_pki_server_cert_verifier_builder_build(vb, &v), "build server certificate verifier"); err != nil {
			return err
		}
	default:
		return nil
	}
	C.rustls_client_config_builder_set_server_verifier(b, v)
	C.rustls_server_cert_verifier_free(v)
	return nil
}
