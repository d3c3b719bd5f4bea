package rustls_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"time"

	"github.com/gorustls/gorustls/rustls"
)

// exampleCertificates makes a CA and a certificate for "localhost" signed
// by it, in PEM. Real programs load theirs from files (LoadCertifiedKey,
// RootCAFiles).
func exampleCertificates() (caPEM, chainPEM, keyPEM []byte) {
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "example CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, _ := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, caKey.Public(), caKey)
	caCert, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "localhost"}, DNSNames: []string{"localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, caCert, key.Public(), caKey)
	keyDER, _ := x509.MarshalPKCS8PrivateKey(key)
	caPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	chainPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	return caPEM, chainPEM, keyPEM
}

// Build a server config from a PEM certificate chain and key.
func ExampleNewServerConfig() {
	_, chainPEM, keyPEM := exampleCertificates()

	key, err := rustls.NewCertifiedKey(chainPEM, keyPEM) // or rustls.LoadCertifiedKey(certFile, keyFile)
	if err != nil {
		log.Fatal(err)
	}
	defer key.Close() // the config keeps its own reference

	cfg, err := rustls.NewServerConfig(rustls.ServerOptions{
		Certificates: []*rustls.CertifiedKey{key},
		NextProtos:   []string{"h2", "http/1.1"},
		Versions:     []uint16{rustls.VersionTLS12, rustls.VersionTLS13},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer cfg.Close()
	fmt.Println("serving", key.Leaf().Subject.CommonName, "with ALPN", cfg.NextProtos())
	// Output: serving localhost with ALPN [h2 http/1.1]
}

// Build a client config that trusts a private CA, and see how bad input is
// reported.
func ExampleNewClientConfig() {
	caPEM, _, _ := exampleCertificates()

	cfg, err := rustls.NewClientConfig(rustls.ClientOptions{
		RootCAs:    caPEM, // or RootCAFiles, or SystemRoots: true
		NextProtos: []string{"h2"},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer cfg.Close()
	fmt.Println("client ALPN:", cfg.NextProtos())

	_, err = rustls.NewClientConfig(rustls.ClientOptions{RootCAs: caPEM, NextProtos: []string{""}})
	var e *rustls.Error
	if errors.As(err, &e) {
		fmt.Println("invalid input:", errors.Is(err, rustls.ErrInvalidInput), "-", e.Detail)
	}
	// Output:
	// client ALPN: [h2]
	// invalid input: true - ALPN protocol 0 is empty
}

// Connect a gorustls client to a gorustls server over loopback TCP.
func ExampleConnector_Connect() {
	caPEM, chainPEM, keyPEM := exampleCertificates()
	key, err := rustls.NewCertifiedKey(chainPEM, keyPEM)
	if err != nil {
		log.Fatal(err)
	}
	defer key.Close()
	serverCfg, err := rustls.NewServerConfig(rustls.ServerOptions{
		Certificates: []*rustls.CertifiedKey{key}, NextProtos: []string{"echo/1"}})
	if err != nil {
		log.Fatal(err)
	}
	defer serverCfg.Close()
	clientCfg, err := rustls.NewClientConfig(rustls.ClientOptions{RootCAs: caPEM, NextProtos: []string{"echo/1"}})
	if err != nil {
		log.Fatal(err)
	}
	defer clientCfg.Close()

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	defer ln.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	// The server echoes one message.
	acceptor := rustls.NewAcceptor(serverCfg, rustls.StreamOptions{WriteThrough: true})
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		s, err := acceptor.Accept(ctx, conn)
		if err != nil {
			return
		}
		defer s.Close()
		buf := make([]byte, 5)
		if _, err := io.ReadFull(s, buf); err == nil {
			_, _ = s.Write(buf)
		}
	}()

	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		log.Fatal(err)
	}
	connector := rustls.NewConnector(clientCfg, rustls.StreamOptions{})
	s, err := connector.Connect(ctx, conn, "localhost")
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Write([]byte("hello")); err != nil {
		log.Fatal(err)
	}
	if err := s.Flush(); err != nil { // without WriteThrough, Flush sends
		log.Fatal(err)
	}
	reply := make([]byte, 5)
	if _, err := io.ReadFull(s, reply); err != nil {
		log.Fatal(err)
	}
	st := s.ConnectionState()
	fmt.Println(tls.VersionName(st.Version), st.NegotiatedProtocol, st.PeerCertificates[0].Subject.CommonName)
	fmt.Println(string(reply))
	// Output:
	// TLS 1.3 echo/1 localhost
	// hello
}

// List the cipher suites of the crypto provider librustls was built with.
func ExampleCipherSuites() {
	suites, err := rustls.CipherSuites()
	if err != nil {
		log.Fatal(err)
	}
	for _, s := range suites {
		if s.ID == tls.TLS_AES_128_GCM_SHA256 {
			fmt.Println(s.Name, tls.VersionName(s.Version))
		}
	}
	// Output: TLS13_AES_128_GCM_SHA256 TLS 1.3
}

// Restrict a config to chosen cipher suites and check what was negotiated
// with Stream.ConnectionState().CipherSuite.
func ExampleProvider_WithCipherSuites() {
	p, err := rustls.DefaultProvider()
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close()
	only, err := p.WithCipherSuites(tls.TLS_CHACHA20_POLY1305_SHA256)
	if err != nil {
		log.Fatal(err)
	}
	defer only.Close() // configs built from it keep their own reference
	for _, s := range only.CipherSuites() {
		fmt.Println(s.Name)
	}
	_, err = p.WithCipherSuites(0x1234)
	fmt.Println(err)
	// Output:
	// TLS13_CHACHA20_POLY1305_SHA256
	// rustls: restrict cipher suites: the item was not found (cipher suite 0x1234 is not offered by the provider)
}
