package main

import (
	"crypto/tls"
	"crypto/x509"

	"github.com/gorustls/gorustls/internal/pki"
	"github.com/gorustls/gorustls/rustls"
)

// memCA is a throw-away in-memory CA (serve without -cert, and demo).
type memCA struct {
	ca  *pki.CA
	pem []byte
}

// memLeaf is a certificate issued by a memCA, in PEM and for crypto/tls.
type memLeaf struct {
	certPEM, keyPEM []byte
	tls             tls.Certificate
}

func newMemCA(name string) (*memCA, error) {
	ca, err := pki.NewCA(name)
	if err != nil {
		return nil, err
	}
	return &memCA{ca: ca, pem: ca.PEM}, nil
}

// leaf issues a certificate for names (DNS names or IP addresses); client
// makes it a client certificate with the first name as its CN.
func (ca *memCA) leaf(client bool, names ...string) (*memLeaf, error) {
	o := pki.LeafOptions{Names: names}
	if client {
		o = pki.LeafOptions{CommonName: names[0], Client: true}
	}
	l, err := ca.ca.Issue(o)
	if err != nil {
		return nil, err
	}
	return &memLeaf{certPEM: l.CertPEM, keyPEM: l.KeyPEM, tls: l.TLSCertificate()}, nil
}

func (l *memLeaf) certifiedKey() (*rustls.CertifiedKey, error) {
	return rustls.NewCertifiedKey(l.certPEM, l.keyPEM)
}

func (ca *memCA) pool() *x509.CertPool { return ca.ca.Pool() }
