// Command consumer is a program in a module of its own that uses gorustls
// the way a user's module does: `go get` (here a replace to the checkout)
// and librustls found through pkg-config from an installed prefix. It runs
// one TLS handshake and a round trip over loopback TCP and prints the
// negotiated version and what came back.
//
// build/test-install.sh copies this folder out of the checkout, installs
// librustls with `make install PREFIX=...`, and builds and runs it against
// that prefix only.
package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"time"

	"github.com/gorustls/gorustls/rustls"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "consumer:", err)
		os.Exit(1)
	}
}

// selfSigned returns a PEM certificate for localhost and its PEM key.
func selfSigned() (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "localhost"},
		DNSNames:              []string{"localhost"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	k, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: k}), nil
}

func run() error {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	certPEM, keyPEM, err := selfSigned()
	if err != nil {
		return err
	}
	key, err := rustls.NewCertifiedKey(certPEM, keyPEM)
	if err != nil {
		return err
	}
	scfg, err := rustls.NewServerConfig(rustls.ServerOptions{Certificates: []*rustls.CertifiedKey{key}})
	if err != nil {
		return err
	}
	defer scfg.Close()
	ccfg, err := rustls.NewClientConfig(rustls.ClientOptions{RootCAs: certPEM})
	if err != nil {
		return err
	}
	defer ccfg.Close()

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer ln.Close()
	served := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			served <- err
			return
		}
		s, err := rustls.NewAcceptor(scfg, rustls.StreamOptions{WriteThrough: true}).Accept(ctx, c)
		if err != nil {
			served <- err
			return
		}
		defer s.Close()
		_, err = io.Copy(s, io.LimitReader(s, 5))
		served <- err
	}()

	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		return err
	}
	s, err := rustls.NewConnector(ccfg, rustls.StreamOptions{WriteThrough: true}).Connect(ctx, c, "localhost")
	if err != nil {
		return err
	}
	defer s.Close()
	if _, err := s.Write([]byte("hello")); err != nil {
		return err
	}
	got := make([]byte, 5)
	if _, err := io.ReadFull(s, got); err != nil {
		return err
	}
	if err := <-served; err != nil {
		return err
	}
	fmt.Printf("consumer: %s handshake with %s, echoed %q\n", tls.VersionName(s.ConnectionState().Version), rustls.Version(), got)
	return nil
}
