package rustls_test

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"
	"strings"

	"github.com/gorustls/gorustls/rustls"
)

// Mutual TLS: the server requires a client certificate from its CA and
// sees the verified chain in ConnectionState; the client presents one.
func ExampleNewServerConfig_mutualTLS() {
	ca, leaf := examplePKI()
	clientLeaf, err := ca.Client("client-1")
	if err != nil {
		log.Fatal(err)
	}
	serverKey, err := rustls.NewCertifiedKey(leaf.ChainPEM, leaf.KeyPEM)
	if err != nil {
		log.Fatal(err)
	}
	defer serverKey.Close()
	clientKey, err := rustls.NewCertifiedKey(clientLeaf.ChainPEM, clientLeaf.KeyPEM)
	if err != nil {
		log.Fatal(err)
	}
	defer clientKey.Close()

	serverCfg, err := rustls.NewServerConfig(rustls.ServerOptions{
		Certificates: []*rustls.CertifiedKey{serverKey},
		ClientAuth:   rustls.RequireAndVerifyClientCert,
		ClientCAs:    ca.PEM,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer serverCfg.Close()
	clientCfg, err := rustls.NewClientConfig(rustls.ClientOptions{RootCAs: ca.PEM, Certificate: clientKey})
	if err != nil {
		log.Fatal(err)
	}
	defer clientCfg.Close()

	ctx, cancel := exampleContext()
	defer cancel()
	sconn := exampleClient(ctx, rustls.NewConnector(clientCfg, rustls.StreamOptions{}), nil)
	s, err := rustls.NewAcceptor(serverCfg, rustls.StreamOptions{}).Accept(ctx, sconn)
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	fmt.Println("client:", s.ConnectionState().PeerCertificates[0].Subject.CommonName)

	// ClientAuth without a CA to verify against is refused at build time.
	_, err = rustls.NewServerConfig(rustls.ServerOptions{
		Certificates: []*rustls.CertifiedKey{serverKey},
		ClientAuth:   rustls.RequireAndVerifyClientCert,
	})
	fmt.Println("no ClientCAs is invalid input:", errors.Is(err, rustls.ErrInvalidInput))
	// Output:
	// client: client-1
	// no ClientCAs is invalid input: true
}

// Convert a crypto/tls server config. An x509.CertPool cannot be listed,
// so the PEM of ClientCAs travels in FromTLSOptions (and is checked
// against the pool).
func ExampleServerConfigFromTLS() {
	ca, leaf := examplePKI()
	cert, err := tls.X509KeyPair(leaf.ChainPEM, leaf.KeyPEM)
	if err != nil {
		log.Fatal(err)
	}
	goCfg := &tls.Config{
		Certificates: []tls.Certificate{cert},
		NextProtos:   []string{"h2", "http/1.1"},
		MinVersion:   tls.VersionTLS13,
		ClientAuth:   tls.VerifyClientCertIfGiven,
		ClientCAs:    ca.Pool(),
	}
	cfg, err := rustls.ServerConfigFromTLS(goCfg, &rustls.FromTLSOptions{ClientCAsPEM: ca.PEM})
	if err != nil {
		log.Fatal(err)
	}
	defer cfg.Close() // goCfg is not used after the call
	fmt.Println("ALPN:", cfg.NextProtos())

	_, err = rustls.ServerConfigFromTLS(goCfg, nil) // ClientCAs without its PEM
	fmt.Println("missing ClientCAsPEM is invalid input:", errors.Is(err, rustls.ErrInvalidInput))
	// Output:
	// ALPN: [h2 http/1.1]
	// missing ClientCAsPEM is invalid input: true
}

// Convert a crypto/tls client config. A nil RootCAs means the system
// roots; a private pool needs its PEM in FromTLSOptions.RootCAsPEM. The
// server name is not part of a ClientConfig: pass it to Connect.
func ExampleClientConfigFromTLS() {
	ca, _ := examplePKI()
	goCfg := &tls.Config{RootCAs: ca.Pool(), NextProtos: []string{"h2"}}
	cfg, err := rustls.ClientConfigFromTLS(goCfg, &rustls.FromTLSOptions{RootCAsPEM: ca.PEM})
	if err != nil {
		log.Fatal(err)
	}
	defer cfg.Close()
	fmt.Println("ALPN:", cfg.NextProtos())

	other, _ := examplePKI()
	_, err = rustls.ClientConfigFromTLS(goCfg, &rustls.FromTLSOptions{RootCAsPEM: other.PEM}) // not the pool's CA
	fmt.Println("PEM that does not match the pool is invalid input:", errors.Is(err, rustls.ErrInvalidInput))
	// Output:
	// ALPN: [h2]
	// PEM that does not match the pool is invalid input: true
}

// Keep server sessions in a store of your own (here the bounded in-memory
// one) so that clients resume; a store may be shared by several configs.
// The second connection of the same client config resumes.
func ExampleNewMemorySessionStore() {
	ca, _ := examplePKI()
	store := rustls.NewMemorySessionStore(1000) // safe for concurrent use
	serverCfg := exampleServerConfig(ca, "localhost", rustls.ServerOptions{
		SessionStore: store, // SessionStoreKey nil: a random key per process
	})
	defer serverCfg.Close()
	clientCfg := exampleClientConfig(rustls.ClientOptions{RootCAs: ca.PEM})
	defer clientCfg.Close()
	acceptor := rustls.NewAcceptor(serverCfg, rustls.StreamOptions{WriteThrough: true})
	connector := rustls.NewConnector(clientCfg, rustls.StreamOptions{})

	ctx, cancel := exampleContext()
	defer cancel()
	for i := 0; i < 2; i++ {
		cconn := exampleServe(ctx, acceptor.Accept, func(s *rustls.Stream) {
			_, _ = s.Write([]byte("hi\n"))
			_, _ = io.Copy(io.Discard, s)
		})
		c, err := connector.Connect(ctx, cconn, "localhost")
		if err != nil {
			log.Fatal(err)
		}
		// TLS 1.3 tickets follow the handshake: read something so that
		// the client stores them before the next connection.
		if _, err := bufio.NewReader(c).ReadString('\n'); err != nil {
			log.Fatal(err)
		}
		fmt.Println("connection", i+1, "resumed:", c.HandshakeKind() == rustls.HandshakeResumed)
		c.Close()
	}
	fmt.Println("store holds sessions:", store.Len() > 0)
	// Output:
	// connection 1 resumed: false
	// connection 2 resumed: true
	// store holds sessions: true
}

// Take the default provider explicitly: to list or restrict its suites, or
// to share one restricted provider between configs.
func ExampleDefaultProvider() {
	p, err := rustls.DefaultProvider()
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close() // configs built from p keep their own reference
	tls13 := 0
	for _, s := range p.CipherSuites() {
		if s.Version == rustls.VersionTLS13 {
			tls13++
		}
	}
	fmt.Println("TLS 1.3 suites:", tls13, "FIPS:", p.FIPS())

	_, leaf := examplePKI()
	key := exampleKey(leaf)
	defer key.Close()
	cfg, err := rustls.NewServerConfig(rustls.ServerOptions{Certificates: []*rustls.CertifiedKey{key}, Provider: p})
	if err != nil {
		log.Fatal(err)
	}
	cfg.Close()

	p.Close() // a closed provider is refused, with an error saying so
	_, err = rustls.NewServerConfig(rustls.ServerOptions{Certificates: []*rustls.CertifiedKey{key}, Provider: p})
	fmt.Println("closed provider is invalid input:", errors.Is(err, rustls.ErrInvalidInput))
	// Output:
	// TLS 1.3 suites: 3 FIPS: false
	// closed provider is invalid input: true
}

// Report what the program runs on: the librustls linked in and the header
// it was compiled against.
func ExampleVersion() {
	v := rustls.Version() // "rustls-ffi/0.15.7/rustls/0.23.46/aws-lc-rs"
	fmt.Println(strings.HasPrefix(v, "rustls-ffi/0.15."))
	major, minor, _ := rustls.HeaderVersion()
	fmt.Println("header:", major, minor)
	// Output:
	// true
	// header: 0 15
}

// Write TLS secrets for Wireshark to a private file (never in production:
// they break the security of every connection logged).
func ExampleOpenKeyLogFile() {
	dir, err := os.MkdirTemp("", "gorustls-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	f, err := rustls.OpenKeyLogFile(filepath.Join(dir, "keys.log")) // created 0600
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close() // the caller owns the file

	ca, _ := examplePKI()
	serverCfg := exampleServerConfig(ca, "localhost", rustls.ServerOptions{})
	defer serverCfg.Close()
	clientCfg, err := rustls.NewClientConfig(rustls.ClientOptions{RootCAs: ca.PEM, KeyLogWriter: f})
	if err != nil {
		log.Fatal(err)
	}
	defer clientCfg.Close()

	ctx, cancel := exampleContext()
	defer cancel()
	exampleStream(ctx, serverCfg, clientCfg, rustls.StreamOptions{}, nil).Close() // one handshake

	info, _ := f.Stat()
	logged, _ := os.ReadFile(f.Name())
	fmt.Println(info.Mode().Perm(), strings.Contains(string(logged), "CLIENT_TRAFFIC_SECRET_0 "))

	_, err = rustls.OpenKeyLogFile(filepath.Join(dir, "no-such-dir", "keys.log"))
	var e *rustls.Error
	fmt.Println("unopenable file:", errors.As(err, &e) && e.Code == rustls.CodeIO)
	// Output:
	// -rw------- true
	// unopenable file: true
}
