package rustls_test

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io/fs"
	"log"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/gorustls/gorustls/rustls"
)

// Parse a PEM chain and key. The key must belong to the certificate; a
// mismatch (or malformed PEM) is an *Error matching ErrInvalidInput.
func ExampleNewCertifiedKey() {
	ca, leaf := examplePKI()
	key, err := rustls.NewCertifiedKey(leaf.ChainPEM, leaf.KeyPEM)
	if err != nil {
		log.Fatal(err)
	}
	// The caller owns key. Configs built from it take their own reference,
	// so it may be closed as soon as they are built.
	defer key.Close()
	fmt.Println("leaf:", key.Leaf().Subject.CommonName, "issued by", key.Leaf().Issuer.CommonName)

	other, _ := ca.Server("other.example")
	_, err = rustls.NewCertifiedKey(leaf.ChainPEM, other.KeyPEM) // someone else's key
	fmt.Println("mismatch is invalid input:", errors.Is(err, rustls.ErrInvalidInput))
	// Output:
	// leaf: localhost issued by example CA
	// mismatch is invalid input: true
}

// Load the chain and key from files, as a server does at start-up. A
// missing file is an *Error with CodeIO that wraps the os error.
func ExampleLoadCertifiedKey() {
	_, leaf := examplePKI()
	dir, err := os.MkdirTemp("", "gorustls-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, leaf.ChainPEM, 0o644); err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(keyFile, leaf.KeyPEM, 0o600); err != nil {
		log.Fatal(err)
	}

	key, err := rustls.LoadCertifiedKey(certFile, keyFile)
	if err != nil {
		log.Fatal(err)
	}
	defer key.Close()
	fmt.Println("loaded", key.Leaf().DNSNames)

	_, err = rustls.LoadCertifiedKey(filepath.Join(dir, "missing.pem"), keyFile)
	var e *rustls.Error
	fmt.Println("missing file:", errors.As(err, &e) && e.Code == rustls.CodeIO, errors.Is(err, fs.ErrNotExist))
	// Output:
	// loaded [localhost]
	// missing file: true true
}

// Convert a tls.Certificate, for code that already loads its certificates
// with crypto/tls (tls.LoadX509KeyPair, tls.X509KeyPair).
func ExampleCertifiedKeyFromTLS() {
	_, leaf := examplePKI()
	cert, err := tls.X509KeyPair(leaf.ChainPEM, leaf.KeyPEM)
	if err != nil {
		log.Fatal(err)
	}
	key, err := rustls.CertifiedKeyFromTLS(&cert)
	if err != nil {
		log.Fatal(err)
	}
	defer key.Close() // cert stays the caller's; key is a separate C object
	fmt.Println(key.Leaf().Subject.CommonName)

	_, err = rustls.CertifiedKeyFromTLS(&tls.Certificate{}) // no chain
	fmt.Println("empty certificate is invalid input:", errors.Is(err, rustls.ErrInvalidInput))
	// Output:
	// localhost
	// empty certificate is invalid input: true
}

// Staple an OCSP response: the server sends it to every client that asks
// (here a crypto/tls client, whose ConnectionState shows it).
func ExampleCertifiedKey_WithOCSP() {
	ca, leaf := examplePKI()
	// A response as the CA's responder would sign it.
	now := time.Now()
	resp, err := ocsp.CreateResponse(ca.Cert, ca.Cert, ocsp.Response{
		Status: ocsp.Good, SerialNumber: leaf.Cert.SerialNumber,
		ThisUpdate: now.Add(-time.Minute), NextUpdate: now.Add(time.Hour),
	}, ca.Key)
	if err != nil {
		log.Fatal(err)
	}

	key, err := rustls.NewCertifiedKey(leaf.ChainPEM, leaf.KeyPEM)
	if err != nil {
		log.Fatal(err)
	}
	defer key.Close()
	stapled, err := key.WithOCSP(resp) // a new key, owned by the caller; key is unchanged
	if err != nil {
		log.Fatal(err)
	}
	defer stapled.Close()
	serverCfg, err := rustls.NewServerConfig(rustls.ServerOptions{Certificates: []*rustls.CertifiedKey{stapled}})
	if err != nil {
		log.Fatal(err)
	}
	defer serverCfg.Close()

	ctx, cancel := exampleContext()
	defer cancel()
	cconn := exampleServe(ctx, rustls.NewAcceptor(serverCfg, rustls.StreamOptions{}).Accept, nil)
	c := tls.Client(cconn, &tls.Config{ServerName: "localhost", RootCAs: ca.Pool()})
	defer c.Close()
	if err := c.HandshakeContext(ctx); err != nil {
		log.Fatal(err)
	}
	st := c.ConnectionState()
	parsed, err := ocsp.ParseResponseForCert(st.OCSPResponse, st.PeerCertificates[0], ca.Cert)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("stapled:", key.OCSPStaple() == nil, len(stapled.OCSPStaple()) > 0)
	fmt.Println("client got status good:", parsed.Status == ocsp.Good)

	_, err = key.WithOCSP([]byte("not DER"))
	fmt.Println("garbage is invalid input:", errors.Is(err, rustls.ErrInvalidInput))
	// Output:
	// stapled: true true
	// client got status good: true
	// garbage is invalid input: true
}
