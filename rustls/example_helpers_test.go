package rustls_test

import (
	"context"
	"log"
	"net"
	"time"

	"github.com/gorustls/gorustls/internal/pki"
	"github.com/gorustls/gorustls/rustls"
)

// The helpers below keep the Examples short. They make throw-away
// certificates in memory (internal/pki) and connect over loopback TCP;
// real programs load their certificates from files (LoadCertifiedKey,
// ClientOptions.RootCAFiles) and dial or accept real connections.

// examplePKI returns a new CA and a server certificate for "localhost"
// that it signed.
func examplePKI() (*pki.CA, *pki.Leaf) {
	ca, err := pki.NewCA("example CA")
	if err != nil {
		log.Fatal(err)
	}
	leaf, err := ca.Server("localhost")
	if err != nil {
		log.Fatal(err)
	}
	return ca, leaf
}

// exampleConfigs returns a server config for "localhost" and a client
// config that trusts its CA, both offering ALPN protos. The caller closes
// both.
func exampleConfigs(protos ...string) (*rustls.ServerConfig, *rustls.ClientConfig) {
	ca, leaf := examplePKI()
	key, err := rustls.NewCertifiedKey(leaf.ChainPEM, leaf.KeyPEM)
	if err != nil {
		log.Fatal(err)
	}
	defer key.Close() // the config keeps its own reference
	server, err := rustls.NewServerConfig(rustls.ServerOptions{Certificates: []*rustls.CertifiedKey{key}, NextProtos: protos})
	if err != nil {
		log.Fatal(err)
	}
	client, err := rustls.NewClientConfig(rustls.ClientOptions{RootCAs: ca.PEM, NextProtos: protos})
	if err != nil {
		log.Fatal(err)
	}
	return server, client
}

// exampleTCPPair returns the two ends of a new loopback TCP connection.
func exampleTCPPair() (client, server net.Conn) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		log.Fatal(err)
	}
	server = <-accepted
	if server == nil {
		log.Fatal("accept failed")
	}
	return client, server
}

// exampleContext bounds an Example's handshakes, so that a broken build
// fails instead of hanging.
func exampleContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 10*time.Second)
}
