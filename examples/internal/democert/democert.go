// Package democert makes throw-away certificates in memory for the
// examples, so that they run with no files and no set-up. Never use such
// certificates outside a demonstration.
package democert

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"sync/atomic"
	"time"

	"github.com/gorustls/gorustls/rustls"
)

// CA is an in-memory certificate authority.
type CA struct {
	cert   *x509.Certificate
	key    *ecdsa.PrivateKey
	PEM    []byte // the CA certificate, for clients' RootCAs
	serial atomic.Int64
}

// Leaf is a certificate and its key in PEM.
type Leaf struct {
	CertPEM, KeyPEM []byte
}

// NewCA makes a CA valid for a day.
func NewCA() (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "gorustls example CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	ca := &CA{cert: cert, key: key, PEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
	ca.serial.Store(1)
	return ca, nil
}

// Server issues a server certificate for names (DNS names or IPs).
func (ca *CA) Server(names ...string) (*Leaf, error) { return ca.issue(false, names) }

// Client issues a client certificate whose common name is cn.
func (ca *CA) Client(cn string) (*Leaf, error) { return ca.issue(true, []string{cn}) }

func (ca *CA) issue(client bool, names []string) (*Leaf, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(ca.serial.Add(1)), Subject: pkix.Name{CommonName: names[0]},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	if client {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	} else {
		for _, n := range names {
			if ip := net.ParseIP(n); ip != nil {
				tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
			} else {
				tmpl.DNSNames = append(tmpl.DNSNames, n)
			}
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, key.Public(), ca.key)
	if err != nil {
		return nil, err
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	return &Leaf{
		CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		KeyPEM:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}),
	}, nil
}

// CertifiedKey loads the leaf for a gorustls config. The caller closes it
// once the configs that use it are built.
func (l *Leaf) CertifiedKey() (*rustls.CertifiedKey, error) {
	return rustls.NewCertifiedKey(l.CertPEM, l.KeyPEM)
}

// ServerConfig builds a server config for the leaf with ALPN protocols.
func (l *Leaf) ServerConfig(protos ...string) (*rustls.ServerConfig, error) {
	k, err := l.CertifiedKey()
	if err != nil {
		return nil, err
	}
	defer k.Close()
	return rustls.NewServerConfig(rustls.ServerOptions{Certificates: []*rustls.CertifiedKey{k}, NextProtos: protos})
}

// ClientConfig builds a client config trusting the CA, offering protos.
func (ca *CA) ClientConfig(protos ...string) (*rustls.ClientConfig, error) {
	return rustls.NewClientConfig(rustls.ClientOptions{RootCAs: ca.PEM, NextProtos: protos})
}
