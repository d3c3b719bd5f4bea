package pki

import (
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"sync/atomic"
	"time"
)

// DefaultValidity is how long certificates and CRLs stay valid when no
// other bounds are given: from an hour ago (to allow for clock skew) until
// this long from now.
const DefaultValidity = 7 * 24 * time.Hour

// CAOptions describes a certificate authority for New.
type CAOptions struct {
	// Name is the CA certificate's common name.
	Name string
	// Key is the CA key's type; empty means P256.
	Key KeyType
	// NotBefore and NotAfter override the default validity when NotAfter
	// is set (a zero NotBefore then means an hour ago).
	NotBefore, NotAfter time.Time
}

// CA is an in-memory certificate authority. Its methods are safe for
// concurrent use.
type CA struct {
	// Cert is the self-signed CA certificate.
	Cert *x509.Certificate
	// Key is the CA's private key.
	Key crypto.Signer
	// PEM is Cert in PEM, for peers' trust anchors.
	PEM []byte

	serial atomic.Int64
	crlNum atomic.Int64
}

// NewCA makes a P-256 CA named name with the default validity.
func NewCA(name string) (*CA, error) { return New(CAOptions{Name: name}) }

// New makes a CA as o describes.
func New(o CAOptions) (*CA, error) {
	key, err := GenerateKey(o.Key)
	if err != nil {
		return nil, err
	}
	nb, na := validity(o.NotBefore, o.NotAfter)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: o.Name},
		NotBefore:             nb,
		NotAfter:              na,
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	ca := &CA{Cert: cert, Key: key, PEM: EncodePEM("CERTIFICATE", der)}
	ca.serial.Store(1)
	return ca, nil
}

// validity returns the bounds to use: the defaults unless notAfter is set.
func validity(notBefore, notAfter time.Time) (time.Time, time.Time) {
	now := time.Now()
	if notAfter.IsZero() {
		return now.Add(-time.Hour), now.Add(DefaultValidity)
	}
	if notBefore.IsZero() {
		notBefore = now.Add(-time.Hour)
	}
	return notBefore, notAfter
}

// Pool returns a new certificate pool holding only the CA certificate.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.Cert)
	return p
}

// CRL returns, in PEM, a revocation list signed by the CA that revokes
// the given certificates (as of a minute ago). Each call gets the next
// CRL number.
func (ca *CA) CRL(revoked ...*x509.Certificate) ([]byte, error) {
	now := time.Now()
	entries := make([]x509.RevocationListEntry, 0, len(revoked))
	for _, r := range revoked {
		entries = append(entries, x509.RevocationListEntry{SerialNumber: r.SerialNumber, RevocationTime: now.Add(-time.Minute)})
	}
	der, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{
		Number:                    big.NewInt(ca.crlNum.Add(1)),
		ThisUpdate:                now.Add(-time.Hour),
		NextUpdate:                now.Add(DefaultValidity),
		RevokedCertificateEntries: entries,
	}, ca.Cert, ca.Key)
	if err != nil {
		return nil, err
	}
	return EncodePEM("X509 CRL", der), nil
}
