package rustls_test

import (
	"context"
	"errors"
	"io"
	"log"
	"net"
	"strconv"
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
	ca, _ := examplePKI()
	return exampleServerConfig(ca, "localhost", rustls.ServerOptions{NextProtos: protos}),
		exampleClientConfig(rustls.ClientOptions{RootCAs: ca.PEM, NextProtos: protos})
}

// exampleKey parses leaf's chain and key. The caller closes the key.
func exampleKey(leaf *pki.Leaf) *rustls.CertifiedKey {
	key, err := rustls.NewCertifiedKey(leaf.ChainPEM, leaf.KeyPEM)
	if err != nil {
		log.Fatal(err)
	}
	return key
}

// exampleServerConfig returns a server config built from opts with, as
// its only certificate, a new one for name that ca signed. The caller
// closes the config.
func exampleServerConfig(ca *pki.CA, name string, opts rustls.ServerOptions) *rustls.ServerConfig {
	leaf, err := ca.Server(name)
	if err != nil {
		log.Fatal(err)
	}
	key := exampleKey(leaf)
	defer key.Close() // the config keeps its own reference
	opts.Certificates = []*rustls.CertifiedKey{key}
	cfg, err := rustls.NewServerConfig(opts)
	if err != nil {
		log.Fatal(err)
	}
	return cfg
}

// exampleSites returns a server config per name, each with a certificate
// for that name that ca signed, and a func that closes them all.
func exampleSites(ca *pki.CA, names ...string) (map[string]*rustls.ServerConfig, func()) {
	sites := map[string]*rustls.ServerConfig{}
	for _, name := range names {
		sites[name] = exampleServerConfig(ca, name, rustls.ServerOptions{})
	}
	return sites, func() {
		for _, cfg := range sites {
			cfg.Close()
		}
	}
}

// exampleClientConfig returns the client config opts describe. The caller
// closes it.
func exampleClientConfig(opts rustls.ClientOptions) *rustls.ClientConfig {
	cfg, err := rustls.NewClientConfig(opts)
	if err != nil {
		log.Fatal(err)
	}
	return cfg
}

// exampleAlert returns the TLS alert a handshake error carries (see
// ExampleError): sent, or received from the peer.
func exampleAlert(err error) string {
	var e *rustls.Error
	if !errors.As(err, &e) {
		return "none: " + err.Error()
	}
	if alert, ok := e.Alert(); ok {
		return strconv.Itoa(int(alert))
	}
	return "none: " + err.Error()
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

// exampleStrangerClientConfig returns a client config that trusts only a
// new CA, "stranger CA", that signs no server's certificate. The caller
// closes it.
func exampleStrangerClientConfig() *rustls.ClientConfig {
	stranger, err := pki.NewCA("stranger CA")
	if err != nil {
		log.Fatal(err)
	}
	return exampleClientConfig(rustls.ClientOptions{RootCAs: stranger.PEM})
}

// exampleTCPListener returns a plain TCP listener on a loopback port.
func exampleTCPListener() net.Listener {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	return ln
}

// exampleServe stands for the server: on a new goroutine it hands the
// server end of a new loopback TCP connection to accept (which closes it
// if the handshake fails), then gives the Stream to serve and closes it.
// A nil serve reads and drops all until the client closes. exampleServe
// returns the client end, for the Example's client to use.
func exampleServe(ctx context.Context, accept func(context.Context, net.Conn) (*rustls.Stream, error), serve func(*rustls.Stream)) net.Conn {
	cconn, sconn := exampleTCPPair()
	go func() {
		s, err := accept(ctx, sconn)
		if err != nil {
			return
		}
		defer s.Close() // sends what is buffered, then close_notify
		if serve == nil {
			_, _ = io.Copy(io.Discard, s)
			return
		}
		serve(s)
	}()
	return cconn
}

// exampleStream returns a client Stream made with opts and handshaken, as
// "localhost", with a server that exampleServe runs on a write-through
// Acceptor for serverCfg (serve as there). The caller closes the Stream.
func exampleStream(ctx context.Context, serverCfg *rustls.ServerConfig, clientCfg *rustls.ClientConfig, opts rustls.StreamOptions, serve func(*rustls.Stream)) *rustls.Stream {
	cconn := exampleServe(ctx, rustls.NewAcceptor(serverCfg, rustls.StreamOptions{WriteThrough: true}).Accept, serve)
	c, err := rustls.NewConnector(clientCfg, opts).Connect(ctx, cconn, "localhost")
	if err != nil {
		log.Fatal(err)
	}
	return c
}

// exampleClient stands for the client: on a new goroutine it connects
// with connector, as "localhost", over the client end of a new loopback
// TCP connection, then gives the Stream to talk (nil: read and drop all
// until the server closes) and closes it. exampleClient returns the
// server end, for the Example's server to use.
func exampleClient(ctx context.Context, connector *rustls.Connector, talk func(*rustls.Stream)) net.Conn {
	cconn, sconn := exampleTCPPair()
	go func() {
		c, err := connector.Connect(ctx, cconn, "localhost")
		if err != nil {
			return
		}
		defer c.Close()
		if talk == nil {
			_, _ = io.Copy(io.Discard, c)
			return
		}
		talk(c)
	}()
	return sconn
}

// exampleListenOnce returns a Listener on a loopback port that serves one
// connection: on a new goroutine it accepts a Stream (handshaken), gives
// it to serve and closes it. The caller closes the Listener.
func exampleListenOnce(server *rustls.ServerConfig, serve func(*rustls.Stream)) *rustls.Listener {
	ln, err := rustls.Listen("tcp", "127.0.0.1:0", server, rustls.StreamOptions{})
	if err != nil {
		log.Fatal(err)
	}
	go func() {
		if s, err := ln.AcceptStream(); err == nil {
			defer s.Close()
			serve(s)
		}
	}()
	return ln
}
