package bench

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"github.com/gorustls/gorustls/internal/pki"
)

// PKI is an in-memory CA with one server leaf per key type, valid for
// "localhost" and 127.0.0.1. Both stacks use the same certificates.
type PKI struct {
	CAPEM  []byte
	Leaves map[KeyType]*Leaf
	pool   *x509.CertPool
}

// Leaf is a server certificate chain (leaf then CA) with its PKCS#8 key.
type Leaf struct {
	ChainPEM []byte
	KeyPEM   []byte
	cert     tls.Certificate
}

// TLSCertificate returns the leaf for crypto/tls.
func (l *Leaf) TLSCertificate() tls.Certificate { return l.cert }

// Pool returns the CA as a pool for crypto/tls clients.
func (p *PKI) Pool() *x509.CertPool { return p.pool }

// Leaf returns the leaf for k.
func (p *PKI) Leaf(k KeyType) (*Leaf, error) {
	l, ok := p.Leaves[k]
	if !ok {
		return nil, fmt.Errorf("bench: no certificate for key type %q", k)
	}
	return l, nil
}

// NewPKI makes a fresh CA (ECDSA P-256) and one leaf per key type.
func NewPKI() (*PKI, error) {
	ca, err := pki.New(pki.CAOptions{Name: "gorustls bench CA", NotAfter: time.Now().Add(7 * 24 * time.Hour)})
	if err != nil {
		return nil, err
	}
	leaves := map[KeyType]*Leaf{}
	for kt, alg := range map[KeyType]pki.KeyType{KeyP256: pki.P256, KeyRSA2048: pki.RSA2048} {
		l, err := ca.Issue(pki.LeafOptions{Names: []string{"localhost", "127.0.0.1"}, Key: alg})
		if err != nil {
			return nil, err
		}
		leaves[kt] = &Leaf{ChainPEM: l.ChainPEM, KeyPEM: l.KeyPEM}
	}
	p := &PKI{CAPEM: ca.PEM, Leaves: leaves}
	return p, p.load()
}

// load parses the PEM fields (after NewPKI or after decoding a PKI sent
// to a child process).
func (p *PKI) load() error {
	p.pool = x509.NewCertPool()
	if !p.pool.AppendCertsFromPEM(p.CAPEM) {
		return errors.New("bench: bad CA PEM")
	}
	for k, l := range p.Leaves {
		c, err := tls.X509KeyPair(l.ChainPEM, l.KeyPEM)
		if err != nil {
			return fmt.Errorf("bench: leaf %s: %w", k, err)
		}
		l.cert = c
	}
	return nil
}
