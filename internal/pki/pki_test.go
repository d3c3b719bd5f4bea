package pki

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestServerLeafVerifies(t *testing.T) {
	ca, err := NewCA("pki test CA")
	require.NoError(t, err)
	l, err := ca.Server("localhost", "127.0.0.1")
	require.NoError(t, err)
	assert.Equal(t, []string{"localhost"}, l.Cert.DNSNames)
	require.Len(t, l.Cert.IPAddresses, 1)
	assert.True(t, l.Cert.IPAddresses[0].Equal(net.ParseIP("127.0.0.1")))
	for _, name := range []string{"localhost", "127.0.0.1"} {
		_, err = l.Cert.Verify(x509.VerifyOptions{DNSName: name, Roots: ca.Pool()})
		assert.NoError(t, err, name)
	}
	_, err = l.Cert.Verify(x509.VerifyOptions{DNSName: "other.test", Roots: ca.Pool()})
	assert.Error(t, err)

	// The PEM forms round-trip through crypto/tls.
	kp, err := tls.X509KeyPair(l.ChainPEM, l.KeyPEM)
	require.NoError(t, err)
	assert.Len(t, kp.Certificate, 2)
	assert.Equal(t, l.Cert.Raw, kp.Certificate[0])
	assert.Equal(t, ca.Cert.Raw, kp.Certificate[1])
	b, _ := pem.Decode(l.KeyPEM)
	require.NotNil(t, b)
	assert.Equal(t, "PRIVATE KEY", b.Type)
	_, err = tls.X509KeyPair(l.CertPEM, l.KeyPEM)
	require.NoError(t, err)
	assert.Equal(t, kp.Certificate, l.TLSCertificate().Certificate)
}

func TestClientLeafAndKeyTypes(t *testing.T) {
	ca, err := NewCA("pki test CA")
	require.NoError(t, err)
	c, err := ca.Client("a client")
	require.NoError(t, err)
	assert.Equal(t, "a client", c.Cert.Subject.CommonName)
	_, err = c.Cert.Verify(x509.VerifyOptions{Roots: ca.Pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	assert.NoError(t, err)
	_, err = c.Cert.Verify(x509.VerifyOptions{Roots: ca.Pool()}) // serverAuth by default
	assert.Error(t, err)

	for _, kt := range KeyTypes {
		if kt == RSA4096 {
			continue // covered by GenerateKey's switch; slow under -race
		}
		l, err := ca.Issue(LeafOptions{Names: []string{"k.test"}, Key: kt})
		require.NoError(t, err, kt)
		_, err = tls.X509KeyPair(l.ChainPEM, l.KeyPEM)
		assert.NoError(t, err, kt)
	}
	_, err = GenerateKey("dsa")
	assert.ErrorContains(t, err, `"dsa"`)
	_, err = ca.Issue(LeafOptions{})
	assert.Error(t, err)
}

func TestValidityAndCRL(t *testing.T) {
	ca, err := New(CAOptions{Name: "p384 CA", Key: P384})
	require.NoError(t, err)
	past := time.Now().Add(-48 * time.Hour).Truncate(time.Second)
	old, err := ca.Issue(LeafOptions{Names: []string{"old.test"}, NotBefore: past, NotAfter: past.Add(time.Hour)})
	require.NoError(t, err)
	assert.True(t, old.Cert.NotAfter.Equal(past.Add(time.Hour)))
	short, err := New(CAOptions{Name: "short CA", NotAfter: time.Now().Add(time.Hour)})
	require.NoError(t, err)
	sl, err := short.Server("s.test")
	require.NoError(t, err)
	assert.Equal(t, short.Cert.NotAfter, sl.Cert.NotAfter, "a default leaf ends with its CA")
	_, err = old.Cert.Verify(x509.VerifyOptions{DNSName: "old.test", Roots: ca.Pool()})
	assert.Error(t, err)

	crlPEM, err := ca.CRL(old.Cert)
	require.NoError(t, err)
	b, _ := pem.Decode(crlPEM)
	require.NotNil(t, b)
	assert.Equal(t, "X509 CRL", b.Type)
	crl, err := x509.ParseRevocationList(b.Bytes)
	require.NoError(t, err)
	require.NoError(t, crl.CheckSignatureFrom(ca.Cert))
	require.Len(t, crl.RevokedCertificateEntries, 1)
	assert.Equal(t, old.Cert.SerialNumber, crl.RevokedCertificateEntries[0].SerialNumber)
}
