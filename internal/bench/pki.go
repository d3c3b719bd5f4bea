package bench

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"time"
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
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "gorustls bench CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(7 * 24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, caKey.Public(), caKey)
	if err != nil {
		return nil, err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, err
	}
	caPEM := pemBlock("CERTIFICATE", caDER)
	leaves := map[KeyType]*Leaf{}
	for i, kt := range []KeyType{KeyP256, KeyRSA2048} {
		var key crypto.Signer
		usage := x509.KeyUsageDigitalSignature
		if kt == KeyRSA2048 {
			key, err = rsa.GenerateKey(rand.Reader, 2048)
			usage |= x509.KeyUsageKeyEncipherment
		} else {
			key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		}
		if err != nil {
			return nil, err
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(int64(i + 2)),
			Subject:      pkix.Name{CommonName: "localhost"},
			NotBefore:    now.Add(-time.Hour),
			NotAfter:     now.Add(7 * 24 * time.Hour),
			KeyUsage:     usage,
			ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
			DNSNames:     []string{"localhost"},
			IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, key.Public(), caKey)
		if err != nil {
			return nil, err
		}
		kder, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			return nil, err
		}
		leaves[kt] = &Leaf{ChainPEM: append(pemBlock("CERTIFICATE", der), caPEM...), KeyPEM: pemBlock("PRIVATE KEY", kder)}
	}
	p := &PKI{CAPEM: caPEM, Leaves: leaves}
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

func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}
