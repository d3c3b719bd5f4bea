package pki

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"net"
	"time"
)

// LeafOptions describes a certificate for CA.Issue.
type LeafOptions struct {
	// Names are the subject alternative names: each is an IP address if
	// it parses as one, else a DNS name.
	Names []string
	// CommonName is the subject's common name; empty means Names[0].
	CommonName string
	// Client makes a client certificate (extended key usage clientAuth);
	// otherwise it is a server certificate (serverAuth).
	Client bool
	// Key is the leaf key's type; empty means P256. Ignored if Signer is set.
	Key KeyType
	// Signer is the leaf's private key, if the caller made it already.
	Signer crypto.Signer
	// NotBefore and NotAfter override the default validity when NotAfter
	// is set (a zero NotBefore then means an hour ago). The default ends
	// no later than the CA certificate.
	NotBefore, NotAfter time.Time
}

// Leaf is a certificate issued by a CA, with its private key.
type Leaf struct {
	// Cert is the parsed certificate.
	Cert *x509.Certificate
	// Key is its private key.
	Key crypto.Signer
	// CertPEM is the certificate alone in PEM.
	CertPEM []byte
	// ChainPEM is the certificate then its issuer's, in PEM.
	ChainPEM []byte
	// KeyPEM is the private key in PEM (PKCS #8, "PRIVATE KEY").
	KeyPEM []byte

	caDER []byte
}

// Server issues a P-256 server certificate for names (DNS names or IP
// addresses) with the default validity.
func (ca *CA) Server(names ...string) (*Leaf, error) {
	return ca.Issue(LeafOptions{Names: names})
}

// Client issues a P-256 client certificate whose common name is cn, with
// the default validity.
func (ca *CA) Client(cn string) (*Leaf, error) {
	return ca.Issue(LeafOptions{CommonName: cn, Client: true})
}

// Issue makes a key (unless o.Signer is set) and a certificate for it
// signed by the CA.
func (ca *CA) Issue(o LeafOptions) (*Leaf, error) {
	cn := o.CommonName
	if cn == "" {
		if len(o.Names) == 0 {
			return nil, errors.New("pki: a leaf needs a common name or at least one name")
		}
		cn = o.Names[0]
	}
	key := o.Signer
	if key == nil {
		var err error
		if key, err = GenerateKey(o.Key); err != nil {
			return nil, err
		}
	}
	nb, na := validity(o.NotBefore, o.NotAfter)
	if o.NotAfter.IsZero() && na.After(ca.Cert.NotAfter) {
		na = ca.Cert.NotAfter // by default a leaf outlives not its issuer
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(ca.serial.Add(1)),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    nb,
		NotAfter:     na,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	if o.Client {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	if _, ok := key.(*rsa.PrivateKey); ok {
		tmpl.KeyUsage |= x509.KeyUsageKeyEncipherment
	}
	for _, n := range o.Names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, key.Public(), ca.Key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	certPEM := EncodePEM("CERTIFICATE", der)
	return &Leaf{
		Cert:     cert,
		Key:      key,
		CertPEM:  certPEM,
		ChainPEM: append(certPEM[:len(certPEM):len(certPEM)], ca.PEM...),
		KeyPEM:   EncodePEM("PRIVATE KEY", kder),
		caDER:    ca.Cert.Raw,
	}, nil
}

// TLSCertificate returns the leaf, its issuer and its key for crypto/tls.
func (l *Leaf) TLSCertificate() tls.Certificate {
	return tls.Certificate{Certificate: [][]byte{l.Cert.Raw, l.caDER}, PrivateKey: l.Key, Leaf: l.Cert}
}
