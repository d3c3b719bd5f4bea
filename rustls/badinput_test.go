package rustls

import (
	"crypto/tls"
	"encoding/pem"
	"errors"
	"io"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gorustls/gorustls/cgo"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// badCase is one bad input: build returns its error; the error must be an
// *Error of class (and code, when set) whose message contains every want.
type badCase struct {
	name  string
	build func(t *testing.T) error
	class error
	code  Code
	want  []string
}

func runBadCases(t *testing.T, cases []badCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			require.NotPanics(t, func() { err = tc.build(t) })
			require.Error(t, err)
			var e *Error
			require.True(t, errors.As(err, &e), "want *Error, got %T: %v", err, err)
			assert.ErrorIs(t, err, tc.class, "class of %v", err)
			if tc.code != 0 {
				assert.Equal(t, tc.code, e.Code, "code of %v", err)
			}
			for _, w := range tc.want {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
}

// keyPair is a matching certificate chain and PKCS#8 key in PEM.
func keyPair(t testing.TB) (certPEM, keyPEM []byte) {
	_, srv, _ := pki(t)
	return srv.certPEM, srv.keyPEM
}

func encryptedPKCS8(t testing.TB) []byte {
	// The content does not matter: the PEM type alone marks it encrypted.
	return pemBlock("ENCRYPTED PRIVATE KEY", []byte{0x30, 0x03, 0x02, 0x01, 0x00})
}

func legacyEncryptedKey(t testing.TB) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY",
		Headers: map[string]string{"Proc-Type": "4,ENCRYPTED", "DEK-Info": "AES-128-CBC,00112233445566778899AABBCCDDEEFF"},
		Bytes:   []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}})
}

func TestBadInputCertifiedKey(t *testing.T) {
	cert, key := keyPair(t)
	other := newTestCA(t, "mismatch CA").leaf(t, leafOpts{}, "localhost")
	dir := t.TempDir()
	certFile := writeTemp(t, "cert.pem", cert)
	keyFile := writeTemp(t, "key.pem", key)
	garbageDER := pemBlock("CERTIFICATE", []byte("this is not DER"))
	newKey := func(c, k []byte) func(*testing.T) error {
		return func(*testing.T) error { _, err := NewCertifiedKey(c, k); return err }
	}
	runBadCases(t, []badCase{
		{"malformed certificate PEM", newKey([]byte("-----BEGIN CERTIFICATE-----\n!!!\n"), key), ErrInvalidInput, CodeCertificateParse,
			[]string{"no PEM block found in the certificate"}},
		{"empty certificate PEM", newKey(nil, key), ErrInvalidInput, CodeCertificateParse, []string{"certificate PEM is empty"}},
		{"blank certificate PEM", newKey([]byte(" \n\t\n"), key), ErrInvalidInput, CodeCertificateParse, []string{"certificate PEM is empty"}},
		{"certificate that is not DER", newKey(garbageDER, key), ErrInvalidInput, CodeCertificateParse,
			[]string{"certificate PEM block 0", "x509"}},
		{"key given as certificate", newKey(key, key), ErrInvalidInput, CodeCertificateParse,
			[]string{`"PRIVATE KEY", want CERTIFICATE`}},
		{"empty key PEM", newKey(cert, nil), ErrInvalidInput, CodePrivateKeyParse, []string{"private key PEM is empty"}},
		{"malformed key PEM", newKey(cert, []byte("not a key")), ErrInvalidInput, CodePrivateKeyParse,
			[]string{"no PRIVATE KEY PEM block"}},
		{"certificate given as key", newKey(cert, cert), ErrInvalidInput, CodePrivateKeyParse,
			[]string{`"CERTIFICATE" is not a private key`}},
		{"key that is not DER", newKey(cert, pemBlock("PRIVATE KEY", []byte("junk"))), ErrInvalidInput, CodePrivateKeyParse,
			[]string{"could not load the private key"}},
		{"key that does not match the certificate", newKey(cert, other.keyPEM), ErrInvalidInput, CodeKeysMismatch,
			[]string{"does not match the certificate"}},
		{"encrypted PKCS#8 key", newKey(cert, encryptedPKCS8(t)), ErrInvalidInput, CodePrivateKeyParse,
			[]string{"encrypted", "decrypt it first"}},
		{"legacy encrypted key (Proc-Type)", newKey(cert, legacyEncryptedKey(t)), ErrInvalidInput, CodePrivateKeyParse,
			[]string{"encrypted"}},
		{"missing certificate file", func(*testing.T) error {
			_, err := LoadCertifiedKey(filepath.Join(dir, "nope.pem"), keyFile)
			return err
		}, fs.ErrNotExist, CodeIO, []string{"certificate file", "nope.pem"}},
		{"missing key file", func(*testing.T) error {
			_, err := LoadCertifiedKey(certFile, filepath.Join(dir, "nokey.pem"))
			return err
		}, fs.ErrNotExist, CodeIO, []string{"private key file", "nokey.pem"}},
		{"unreadable certificate file (a directory)", func(*testing.T) error {
			_, err := LoadCertifiedKey(dir, keyFile)
			return err
		}, ErrIO, CodeIO, []string{"certificate file", dir}},
		{"mismatched files", func(*testing.T) error {
			_, err := LoadCertifiedKey(certFile, writeTemp(t, "other.pem", other.keyPEM))
			return err
		}, ErrInvalidInput, CodeKeysMismatch, []string{"does not match", "cert.pem", "other.pem"}},
	})
}

func TestBadInputServerConfig(t *testing.T) {
	ca, srv, _ := pki(t)
	key := srv.certifiedKey(t)
	closedKey := srv.certifiedKey(t)
	closedKey.Close()
	dir := t.TempDir()
	build := func(mod func(*ServerOptions)) func(*testing.T) error {
		return func(t *testing.T) error {
			o := ServerOptions{Certificates: []*CertifiedKey{key}}
			mod(&o)
			cfg, err := NewServerConfig(o)
			if cfg != nil {
				cfg.Close()
			}
			return err
		}
	}
	runBadCases(t, []badCase{
		{"no certificate", build(func(o *ServerOptions) { o.Certificates = nil }), ErrInvalidInput, CodeInvalidParameter,
			[]string{"no Certificates"}},
		{"nil certificate", build(func(o *ServerOptions) { o.Certificates = []*CertifiedKey{key, nil} }), ErrInvalidInput, CodeInvalidParameter,
			[]string{"Certificates[1]"}},
		{"closed certificate", build(func(o *ServerOptions) { o.Certificates = []*CertifiedKey{closedKey} }), ErrInvalidInput, CodeInvalidParameter,
			[]string{"Certificates[0]", "closed"}},
		{"client auth required without CAs", build(func(o *ServerOptions) { o.ClientAuth = RequireAndVerifyClientCert }),
			ErrInvalidInput, CodeInvalidParameter, []string{"ClientAuth required needs ClientCAs or ClientCAFiles"}},
		{"client auth optional without CAs", build(func(o *ServerOptions) { o.ClientAuth = VerifyClientCertIfGiven }),
			ErrInvalidInput, CodeInvalidParameter, []string{"ClientAuth optional needs ClientCAs"}},
		{"unknown client auth", build(func(o *ServerOptions) { o.ClientAuth = 7 }), ErrInvalidInput, CodeInvalidParameter,
			[]string{"unknown ClientAuth 7"}},
		{"malformed client CA PEM", build(func(o *ServerOptions) {
			o.ClientAuth = RequireAndVerifyClientCert
			o.ClientCAs = []byte("garbage")
		}), ErrInvalidInput, CodeCertificateParse, []string{"client CA"}},
		{"empty client CA PEM", build(func(o *ServerOptions) {
			o.ClientAuth = RequireAndVerifyClientCert
			o.ClientCAs = []byte("\n\n")
		}), ErrInvalidInput, CodeCertificateParse, []string{"client CA PEM is empty"}},
		{"missing client CA file", build(func(o *ServerOptions) {
			o.ClientAuth = RequireAndVerifyClientCert
			o.ClientCAFiles = []string{filepath.Join(dir, "ca.pem")}
		}), fs.ErrNotExist, CodeIO, []string{"client CA file", "ca.pem"}},
		{"unreadable client CA file", build(func(o *ServerOptions) {
			o.ClientAuth = RequireAndVerifyClientCert
			o.ClientCAFiles = []string{dir}
		}), ErrIO, CodeIO, []string{"client CA file", dir}},
		{"client CA file without certificates", build(func(o *ServerOptions) {
			o.ClientAuth = RequireAndVerifyClientCert
			o.ClientCAFiles = []string{writeTemp(t, "keyonly.pem", srv.keyPEM)}
		}), ErrInvalidInput, CodeCertificateParse, []string{"client CA file", "keyonly.pem", "want CERTIFICATE"}},
		{"malformed CRL", build(func(o *ServerOptions) {
			o.ClientAuth = RequireAndVerifyClientCert
			o.ClientCAs = ca.certPEM
			o.ClientCRLs = [][]byte{pemBlock("X509 CRL", []byte("junk"))}
		}), ErrCRL, CodeCRLParse, []string{"ClientCRLs[0]", "does not parse", "malformed crl"}},
		{"empty CRL", build(func(o *ServerOptions) {
			o.ClientAuth = RequireAndVerifyClientCert
			o.ClientCAs = ca.certPEM
			o.ClientCRLs = [][]byte{ca.crl(t), nil}
		}), ErrCRL, CodeCRLParse, []string{"ClientCRLs[1]", "empty"}},
		{"CRLs without client auth", build(func(o *ServerOptions) { o.ClientCRLs = [][]byte{ca.crl(t)} }),
			ErrInvalidInput, CodeInvalidParameter, []string{"ClientCRLs", "ClientAuth"}},
		{"empty ALPN protocol", build(func(o *ServerOptions) { o.NextProtos = []string{"h2", ""} }), ErrInvalidInput, CodeInvalidParameter,
			[]string{"ALPN protocol 1 is empty"}},
		{"ALPN protocol too long", build(func(o *ServerOptions) { o.NextProtos = []string{strings.Repeat("a", 256)} }),
			ErrInvalidInput, CodeInvalidParameter, []string{"ALPN protocol 0 is longer than 255 bytes"}},
		{"TLS 1.0 only", build(func(o *ServerOptions) { o.Versions = []uint16{tls.VersionTLS10} }), ErrInvalidInput, CodeInvalidParameter,
			[]string{"unsupported TLS version 0x0301"}},
		{"version listed twice", build(func(o *ServerOptions) { o.Versions = []uint16{VersionTLS13, VersionTLS13} }),
			ErrInvalidInput, CodeInvalidParameter, []string{"TLS 1.3 listed twice"}},
		{"unknown cipher suite", build(func(o *ServerOptions) { o.CipherSuites = []uint16{tls.TLS_AES_128_GCM_SHA256, 0x1234} }),
			ErrInvalidInput, CodeNotFound, []string{"cipher suite 0x1234 is not offered"}},
		{"TLS 1.3 with only TLS 1.2 suites", build(func(o *ServerOptions) {
			o.Versions = []uint16{VersionTLS13}
			o.CipherSuites = []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}
		}), ErrInvalidInput, CodeInvalidParameter, []string{"no cipher suite", "usable with Versions [TLS 1.3]"}},
		{"closed provider", build(func(o *ServerOptions) { o.Provider = closedProvider(t) }), ErrInvalidInput, CodeInvalidParameter,
			[]string{"Provider is closed"}},
	})
}

func closedProvider(t testing.TB) *Provider {
	p, err := DefaultProvider()
	require.NoError(t, err)
	p.Close()
	return p
}

func TestBadInputClientConfig(t *testing.T) {
	ca, srv, cli := pki(t)
	dir := t.TempDir()
	closedKey := cli.certifiedKey(t)
	closedKey.Close()
	build := func(mod func(*ClientOptions)) func(*testing.T) error {
		return func(t *testing.T) error {
			o := ClientOptions{RootCAs: ca.certPEM}
			mod(&o)
			cfg, err := NewClientConfig(o)
			if cfg != nil {
				cfg.Close()
			}
			return err
		}
	}
	runBadCases(t, []badCase{
		{"no verifier", build(func(o *ClientOptions) { o.RootCAs = nil }), ErrInvalidInput, CodeNoServerCertVerifier,
			[]string{"RootCAs", "SystemRoots", "DangerousVerifyPeerCertificate"}},
		{"empty RootCAs slice is no verifier", build(func(o *ClientOptions) { o.RootCAs = []byte{} }), ErrInvalidInput, CodeNoServerCertVerifier,
			[]string{"RootCAs"}},
		{"two verifiers", build(func(o *ClientOptions) { o.SystemRoots = true }), ErrInvalidInput, CodeInvalidParameter,
			[]string{"choose one of"}},
		{"empty root store", build(func(o *ClientOptions) { o.RootCAs = []byte("\n") }), ErrInvalidInput, CodeCertificateParse,
			[]string{"root CA PEM is empty"}},
		{"malformed roots", build(func(o *ClientOptions) { o.RootCAs = []byte("-----BEGIN CERTIFICATE-----\nxx") }), ErrInvalidInput,
			CodeCertificateParse, []string{"no PEM block found in the root CA data"}},
		{"roots that are keys", build(func(o *ClientOptions) { o.RootCAs = srv.keyPEM }), ErrInvalidInput, CodeCertificateParse,
			[]string{"root CA PEM block 0", "want CERTIFICATE"}},
		{"missing root CA file", build(func(o *ClientOptions) { o.RootCAs = nil; o.RootCAFiles = []string{filepath.Join(dir, "roots.pem")} }),
			fs.ErrNotExist, CodeIO, []string{"root CA file", "roots.pem"}},
		{"unreadable root CA file", build(func(o *ClientOptions) { o.RootCAs = nil; o.RootCAFiles = []string{dir} }),
			ErrIO, CodeIO, []string{"root CA file", dir}},
		{"empty root CA file", build(func(o *ClientOptions) { o.RootCAs = nil; o.RootCAFiles = []string{writeTemp(t, "empty.pem", nil)} }),
			ErrInvalidInput, CodeCertificateParse, []string{"root CA file", "empty.pem", "empty"}},
		{"CRLs without roots", build(func(o *ClientOptions) { o.RootCAs = nil; o.SystemRoots = true; o.CRLs = [][]byte{ca.crl(t)} }),
			ErrInvalidInput, CodeInvalidParameter, []string{"CRLs need RootCAs"}},
		{"malformed CRL", build(func(o *ClientOptions) { o.CRLs = [][]byte{[]byte("junk")} }), ErrCRL, CodeCRLParse,
			[]string{"CRLs[0]", "no X509 CRL PEM block"}},
		{"certificate given as CRL", build(func(o *ClientOptions) { o.CRLs = [][]byte{ca.crl(t), ca.certPEM} }), ErrCRL, CodeCRLParse,
			[]string{"CRLs[1]", `"CERTIFICATE", want X509 CRL`}},
		{"empty CRL", build(func(o *ClientOptions) { o.CRLs = [][]byte{{}} }), ErrCRL, CodeCRLParse, []string{"CRLs[0]", "empty"}},
		{"closed client certificate", build(func(o *ClientOptions) { o.Certificate = closedKey }), ErrInvalidInput, CodeInvalidParameter,
			[]string{"Certificate is closed"}},
		{"empty ALPN protocol", build(func(o *ClientOptions) { o.NextProtos = []string{""} }), ErrInvalidInput, CodeInvalidParameter,
			[]string{"ALPN protocol 0 is empty"}},
		{"TLS 1.0 only", build(func(o *ClientOptions) { o.Versions = []uint16{tls.VersionTLS10} }), ErrInvalidInput, CodeInvalidParameter,
			[]string{"unsupported TLS version 0x0301"}},
		{"TLS 1.2 only with only TLS 1.3 suites", build(func(o *ClientOptions) {
			o.Versions = []uint16{VersionTLS12}
			o.CipherSuites = []uint16{tls.TLS_AES_256_GCM_SHA384}
		}), ErrInvalidInput, CodeInvalidParameter, []string{"no cipher suite", "usable with Versions [TLS 1.2]"}},
		{"unknown cipher suite", build(func(o *ClientOptions) { o.CipherSuites = []uint16{0xfefe} }), ErrInvalidInput, CodeNotFound,
			[]string{"cipher suite 0xfefe is not offered"}},
		{"ECH with TLS 1.2 only", build(func(o *ClientOptions) {
			o.Versions = []uint16{VersionTLS12}
			o.ECHConfigList = []byte{0, 1, 2}
		}), ErrInvalidInput, CodeIncompatibleTLSVersions, []string{"ECH needs TLS 1.3"}},
		{"ECH GREASE with TLS 1.2 only", build(func(o *ClientOptions) { o.Versions = []uint16{VersionTLS12}; o.ECHGrease = true }),
			ErrInvalidInput, CodeIncompatibleTLSVersions, []string{"ECH needs TLS 1.3"}},
		{"invalid ECH config list", build(func(o *ClientOptions) { o.ECHConfigList = []byte("not an ECHConfigList") }),
			ErrInvalidInput, echListCode(), []string{"ECH"}},
		{"closed provider", build(func(o *ClientOptions) { o.Provider = closedProvider(t) }), ErrInvalidInput, CodeInvalidParameter,
			[]string{"Provider is closed"}},
	})
}

// TestBadInputReleasesKeylogSlots: a config build that fails after taking a
// key-log slot gives it back.
func TestBadInputReleasesKeylogSlots(t *testing.T) {
	ca, srv, _ := pki(t)
	key := srv.certifiedKey(t)
	base := settledFreeKeylogSlots()
	// More failures than there are slots: a leaked slot per failure would
	// turn the later errors into "too many live configs".
	for i := 0; i < 2*cgo.KeylogSlots; i++ {
		_, err := NewServerConfig(ServerOptions{Certificates: []*CertifiedKey{key}, KeyLogWriter: io.Discard,
			Versions: []uint16{VersionTLS13}, CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}})
		require.ErrorContains(t, err, "no cipher suite")
		_, err = NewClientConfig(ClientOptions{RootCAs: ca.certPEM, KeyLogWriter: io.Discard, ECHConfigList: []byte{1}})
		if echAvailable() {
			requireCode(t, err, CodeECHInvalidConfigList)
		} else {
			requireNoHPKE(t, err)
		}
	}
	assert.GreaterOrEqual(t, freeKeylogSlots(), base)
}

// TestBadInputClosedProvider: a closed Provider reports nothing and refuses
// to narrow, instead of crashing.
func TestBadInputClosedProvider(t *testing.T) {
	p := closedProvider(t)
	assert.NotPanics(t, func() {
		assert.Empty(t, p.CipherSuites())
		assert.False(t, p.FIPS())
		_, err := p.WithCipherSuites(tls.TLS_AES_128_GCM_SHA256)
		assert.ErrorIs(t, err, ErrInvalidInput)
		assert.Contains(t, err.Error(), "closed")
	})
}

// echListCode is the code of an unusable ECHConfigList: the list's own
// error where the provider has HPKE suites, else the missing suites'.
func echListCode() Code {
	if echAvailable() {
		return CodeECHInvalidConfigList
	}
	return Code(7019)
}
