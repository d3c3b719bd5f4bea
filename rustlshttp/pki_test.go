package rustlshttp

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"testing"
	"time"

	"github.com/gorustls/gorustls/rustls"
	"github.com/stretchr/testify/require"
)

// testPKI is an in-memory CA with one server leaf, for both stacks.
type testPKI struct {
	caPEM           []byte
	pool            *x509.CertPool
	certPEM, keyPEM []byte
	ca              *x509.Certificate
	caKey           *ecdsa.PrivateKey
}

func newPKI(t testing.TB) *testPKI {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "rustlshttp test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	require.NoError(t, err)
	ca, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	p := &testPKI{caPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), ca: ca, caKey: key, pool: x509.NewCertPool()}
	p.pool.AddCert(ca)
	p.certPEM, p.keyPEM = p.leaf(t, "localhost", "127.0.0.1")
	return p
}

func (p *testPKI) leaf(t testing.TB, names ...string) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: names[0]},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.ca, key.Public(), p.caKey)
	require.NoError(t, err)
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	require.NoError(t, err)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})
}

func (p *testPKI) serverConfig(t testing.TB, protos ...string) *rustls.ServerConfig {
	t.Helper()
	k, err := rustls.NewCertifiedKey(p.certPEM, p.keyPEM)
	require.NoError(t, err)
	defer k.Close()
	cfg, err := rustls.NewServerConfig(rustls.ServerOptions{Certificates: []*rustls.CertifiedKey{k}, NextProtos: protos})
	require.NoError(t, err)
	t.Cleanup(func() { cfg.Close() })
	return cfg
}

func (p *testPKI) clientConfig(t testing.TB, protos ...string) *rustls.ClientConfig {
	t.Helper()
	cfg, err := rustls.NewClientConfig(rustls.ClientOptions{RootCAs: p.caPEM, NextProtos: protos})
	require.NoError(t, err)
	t.Cleanup(func() { cfg.Close() })
	return cfg
}

func (p *testPKI) tlsCert(t testing.TB) tls.Certificate {
	c, err := tls.X509KeyPair(p.certPEM, p.keyPEM)
	require.NoError(t, err)
	return c
}
