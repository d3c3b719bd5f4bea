// Package democert makes throw-away certificates in memory for the
// examples, so that they run with no files and no set-up. Never use such
// certificates outside a demonstration. It is a thin layer over
// internal/pki that adds gorustls configs.
package democert

import (
	"time"

	"github.com/gorustls/gorustls/internal/pki"
	"github.com/gorustls/gorustls/rustls"
)

// CA is an in-memory certificate authority.
type CA struct {
	ca  *pki.CA
	PEM []byte // the CA certificate, for clients' RootCAs
}

// Leaf is a certificate and its key in PEM.
type Leaf struct {
	CertPEM, KeyPEM []byte
}

// NewCA makes a CA valid for a day.
func NewCA() (*CA, error) {
	ca, err := pki.New(pki.CAOptions{Name: "gorustls example CA", NotAfter: time.Now().Add(24 * time.Hour)})
	if err != nil {
		return nil, err
	}
	return &CA{ca: ca, PEM: ca.PEM}, nil
}

// Server issues a server certificate for names (DNS names or IPs).
func (ca *CA) Server(names ...string) (*Leaf, error) { return leaf(ca.ca.Server(names...)) }

// Client issues a client certificate whose common name is cn.
func (ca *CA) Client(cn string) (*Leaf, error) { return leaf(ca.ca.Client(cn)) }

// ServerKey issues a server certificate for names and loads it for a
// gorustls config: Server and Leaf.CertifiedKey in one step. The caller
// closes the key once the configs that use it are built.
func (ca *CA) ServerKey(names ...string) (*rustls.CertifiedKey, error) {
	return certifiedKey(ca.Server(names...))
}

// ClientKey issues a client certificate whose common name is cn and loads
// it for a gorustls config, as ServerKey does.
func (ca *CA) ClientKey(cn string) (*rustls.CertifiedKey, error) {
	return certifiedKey(ca.Client(cn))
}

func certifiedKey(l *Leaf, err error) (*rustls.CertifiedKey, error) {
	if err != nil {
		return nil, err
	}
	return l.CertifiedKey()
}

func leaf(l *pki.Leaf, err error) (*Leaf, error) {
	if err != nil {
		return nil, err
	}
	return &Leaf{CertPEM: l.CertPEM, KeyPEM: l.KeyPEM}, nil
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
