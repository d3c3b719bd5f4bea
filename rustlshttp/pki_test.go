package rustlshttp

import (
	"crypto/tls"
	"crypto/x509"
	"testing"
	"time"

	"github.com/gorustls/gorustls/internal/pki"
	"github.com/gorustls/gorustls/rustls"
	"github.com/stretchr/testify/require"
)

// testPKI is an in-memory CA with one server leaf, for both stacks.
type testPKI struct {
	caPEM           []byte
	pool            *x509.CertPool
	certPEM, keyPEM []byte
	ca              *pki.CA
}

func newPKI(t testing.TB) *testPKI {
	t.Helper()
	ca, err := pki.New(pki.CAOptions{Name: "rustlshttp test CA", NotAfter: time.Now().Add(time.Hour)})
	require.NoError(t, err)
	p := &testPKI{caPEM: ca.PEM, ca: ca, pool: ca.Pool()}
	p.certPEM, p.keyPEM = p.leaf(t, "localhost", "127.0.0.1")
	return p
}

func (p *testPKI) leaf(t testing.TB, names ...string) (certPEM, keyPEM []byte) {
	t.Helper()
	l, err := p.ca.Server(names...)
	require.NoError(t, err)
	return l.CertPEM, l.KeyPEM
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
