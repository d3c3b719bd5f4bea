package rustls

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"

	"github.com/gorustls/gorustls/cgo"
)

// CertifiedKey is a certificate chain with its private key, ready for a
// server (or for a client doing mutual TLS). It is safe for concurrent use,
// Close included. Everything that hands the key to rustls takes its own
// reference first: configs built from it, and each connection whose
// GetCertificate returned it (held until the connection is freed). So Close
// may be called at any moment, on any goroutine (certificate rotation:
// swap the key GetCertificate returns, then Close the old one); the C key is
// freed when its last reference goes.
type CertifiedKey struct {
	r       *cref[*cgo.CertifiedKey]
	leaf    *x509.Certificate
	ocsp    []byte // the OCSP response stapled (WithOCSP), never modified
	once    sync.Once
	cleanup runtime.Cleanup
}

// NewCertifiedKey parses a PEM certificate chain (end entity first, then
// the intermediates the peer needs) and a PEM private key (PKCS#8, PKCS#1
// or SEC1; RSA, ECDSA or Ed25519), and checks that the key belongs to the
// certificate. Encrypted keys are refused: decrypt them first. Errors are
// *Error values with errors.Is(err, ErrInvalidInput) whose message says
// what is wrong (empty or malformed PEM, wrong block type, key mismatch).
// A CertifiedKey that is dropped without Close is freed by a cleanup.
func NewCertifiedKey(certPEM, keyPEM []byte) (*CertifiedKey, error) {
	const op = "load certificate and key"
	leaf, err := checkCertPEM(certPEM, op, "certificate")
	if err != nil {
		return nil, err
	}
	if err := checkKeyPEM(keyPEM, op); err != nil {
		return nil, err
	}
	k, err := cgo.NewCertifiedKey(certPEM, keyPEM)
	if err != nil {
		e := fromCgo(err).(*Error)
		switch e.Code {
		case CodeKeysMismatch:
			e.Detail = "the private key does not match the certificate's public key"
		case CodePrivateKeyParse:
			e.Detail = "the private key could not be parsed"
		case CodeGeneral:
			// rustls-ffi reports the crypto provider's refusal to load a
			// key that parsed as PEM as a general error (the text is lost).
			e.Code = CodePrivateKeyParse
			e.Detail = "the crypto provider could not load the private key (malformed, or an unsupported key type)"
		case CodeCertificateParse:
			e.Detail = "the certificate chain could not be parsed"
		}
		return nil, e
	}
	return wrapCertifiedKey(k, leaf, nil), nil
}

// wrapCertifiedKey makes the owner of a new C key, with its own reference
// count, freed by a cleanup if it is dropped without Close.
func wrapCertifiedKey(k *cgo.CertifiedKey, leaf *x509.Certificate, ocsp []byte) *CertifiedKey {
	ck := &CertifiedKey{r: newCRef(k, (*cgo.CertifiedKey).Free), leaf: leaf, ocsp: ocsp}
	ck.cleanup = runtime.AddCleanup(ck, func(r *cref[*cgo.CertifiedKey]) { r.close() }, ck.r)
	return ck
}

// LoadCertifiedKey reads a PEM certificate chain and a PEM private key from
// files; see NewCertifiedKey. A file that cannot be read gives an *Error
// with CodeIO naming it, which wraps the os error (errors.Is(err,
// fs.ErrNotExist) works).
func LoadCertifiedKey(certFile, keyFile string) (*CertifiedKey, error) {
	c, err := readPEMFile(certFile, "certificate")
	if err != nil {
		return nil, err
	}
	k, err := readPEMFile(keyFile, "private key")
	if err != nil {
		return nil, err
	}
	ck, err := NewCertifiedKey(c, k)
	if e, ok := err.(*Error); ok {
		e.Detail = strings.TrimSpace(e.Detail + " [" + certFile + ", " + keyFile + "]")
	}
	return ck, err
}

// Leaf returns the parsed end-entity certificate. It is shared, not a
// copy: callers must not modify it. It stays valid after Close.
func (k *CertifiedKey) Leaf() *x509.Certificate { return k.leaf }

// Close releases the caller's reference. Configs built with the key, and
// connections whose GetCertificate returned it, keep working: they hold
// their own. Close is idempotent and always returns nil. Afterwards a config
// built with the key fails with an error saying it is closed, and a
// handshake whose GetCertificate returns it fails the same way.
func (k *CertifiedKey) Close() error {
	k.once.Do(func() {
		k.cleanup.Stop()
		if k.r != nil {
			k.r.close()
		}
	})
	return nil
}

// acquire takes a reference to the C key for code about to hand it to
// rustls; ok is false when the key is closed (or is not one made by
// NewCertifiedKey). The caller drops it with k.r.release() once rustls
// holds its own.
func (k *CertifiedKey) acquire() (c *cgo.CertifiedKey, ok bool) {
	if k == nil || k.r == nil {
		return nil, false
	}
	c, ok = k.r.acquire()
	// k's cleanup must not drop the owner's reference before acquire has
	// taken ours.
	runtime.KeepAlive(k)
	return c, ok
}

func readPEMFile(name, what string) ([]byte, error) {
	b, err := os.ReadFile(name)
	if err != nil {
		return nil, &Error{Code: CodeIO, Op: "read " + what + " file", Detail: name, Err: err}
	}
	return b, nil
}

// checkCertPEM checks that b holds one or more CERTIFICATE blocks that
// parse, and returns the first.
func checkCertPEM(b []byte, op, what string) (*x509.Certificate, error) {
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, &Error{Code: CodeCertificateParse, Op: op, Detail: what + " PEM is empty"}
	}
	var first *x509.Certificate
	rest := b
	for i := 0; ; i++ {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			if i == 0 {
				return nil, &Error{Code: CodeCertificateParse, Op: op, Detail: "no PEM block found in the " + what + " data"}
			}
			if len(bytes.TrimSpace(rest)) > 0 {
				return nil, &Error{Code: CodeCertificateParse, Op: op, Detail: fmt.Sprintf("%s PEM: unparseable data after block %d", what, i)}
			}
			return first, nil
		}
		if blk.Type != "CERTIFICATE" {
			return nil, &Error{Code: CodeCertificateParse, Op: op, Detail: fmt.Sprintf("%s PEM block %d is %q, want CERTIFICATE", what, i, blk.Type)}
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, &Error{Code: CodeCertificateParse, Op: op, Detail: fmt.Sprintf("%s PEM block %d", what, i), Err: err}
		}
		if first == nil {
			first = c
		}
	}
}

func checkKeyPEM(b []byte, op string) error {
	if len(bytes.TrimSpace(b)) == 0 {
		return &Error{Code: CodePrivateKeyParse, Op: op, Detail: "private key PEM is empty"}
	}
	rest := b
	for {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			return &Error{Code: CodePrivateKeyParse, Op: op, Detail: "no PRIVATE KEY PEM block found in the key data"}
		}
		switch {
		case blk.Type == "ENCRYPTED PRIVATE KEY" || blk.Headers["Proc-Type"] == "4,ENCRYPTED":
			return &Error{Code: CodePrivateKeyParse, Op: op, Detail: "the private key is encrypted; decrypt it first (for example with openssl pkey)"}
		case blk.Type == "PRIVATE KEY" || blk.Type == "RSA PRIVATE KEY" || blk.Type == "EC PRIVATE KEY":
			return nil
		case blk.Type == "EC PARAMETERS":
			continue
		default:
			return &Error{Code: CodePrivateKeyParse, Op: op, Detail: fmt.Sprintf("PEM block %q is not a private key", blk.Type)}
		}
	}
}

// checkCRLs checks that each entry holds one or more PEM "X509 CRL" blocks
// that parse, so that a bad CRL is named before rustls sees it.
func checkCRLs(crls [][]byte, op, field string) error {
	for i, b := range crls {
		bad := func(detail string, err error) error {
			return &Error{Code: CodeCRLParse, Op: op, Detail: fmt.Sprintf("%s[%d]: %s", field, i, detail), Err: err}
		}
		if len(bytes.TrimSpace(b)) == 0 {
			return bad("the CRL is empty", nil)
		}
		rest, n := b, 0
		for {
			var blk *pem.Block
			blk, rest = pem.Decode(rest)
			if blk == nil {
				break
			}
			if blk.Type != "X509 CRL" {
				return bad(fmt.Sprintf("PEM block %d is %q, want X509 CRL", n, blk.Type), nil)
			}
			if _, err := x509.ParseRevocationList(blk.Bytes); err != nil {
				return bad(fmt.Sprintf("PEM block %d does not parse", n), err)
			}
			n++
		}
		if n == 0 {
			return bad("no X509 CRL PEM block found", nil)
		}
	}
	return nil
}
