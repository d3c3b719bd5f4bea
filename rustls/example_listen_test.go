package rustls_test

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"

	"github.com/gorustls/gorustls/rustls"
)

// Examples for the net.Conn hand-outs (listeners and dialers, all
// write-through) and the handshake entry points.

// An echo server on a Listener: Accept returns handshaken, write-through
// Streams; a client that fails its handshake never reaches Accept and is
// reported to the Listener's Logger.
func ExampleListen() {
	server, client := exampleConfigs()
	defer server.Close()
	defer client.Close()

	ln, err := rustls.Listen("tcp", "127.0.0.1:0", server, rustls.StreamOptions{})
	if err != nil {
		log.Fatal(err)
	}
	defer ln.Close()
	ln.Logger = slog.New(slog.DiscardHandler) // failed handshakes land here
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return // net.ErrClosed after ln.Close
			}
			go func() {
				defer c.Close()
				_, _ = io.Copy(c, c) // every Write is sent: no Flush
			}()
		}
	}()

	ctx, cancel := exampleContext()
	defer cancel()
	d := &rustls.Dialer{Config: client, ServerName: "localhost"}
	c, err := d.DialContext(ctx, "tcp", ln.Addr().String())
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintln(c, "ping")
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		log.Fatal(err)
	}
	fmt.Print(line)
	// Output: ping
}

// Wrap a listener you already have (here one net/http serves). Streams
// from a Listener are handshaken, so a plain http.Server fills
// Request.TLS; use rustlshttp.Server for HTTP/2.
func ExampleNewListener() {
	server, client := exampleConfigs("http/1.1")
	defer server.Close()
	defer client.Close()

	inner := exampleTCPListener()
	ln := rustls.NewListener(inner, server, rustls.StreamOptions{})
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s over %s", r.Proto, tls.VersionName(r.TLS.Version))
	})}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()

	ctx, cancel := exampleContext()
	defer cancel()
	d := &rustls.Dialer{Config: client, ServerName: "localhost"}
	hc := &http.Client{Transport: &http.Transport{DialTLSContext: d.DialContext}}
	defer hc.CloseIdleConnections()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	req, _ := http.NewRequestWithContext(ctx, "GET", "https://localhost:"+port+"/", nil)
	resp, err := hc.Do(req)
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(string(body))
	// Output: HTTP/1.1 over TLS 1.3
}

// A LazyListener picks the config per connection from the ClientHello:
// here one certificate per server name, refusing the others.
func ExampleNewLazyListener() {
	ca, _ := examplePKI()
	sites, closeSites := exampleSites(ca, "a.example", "b.example")
	defer closeSites() // the listener does not own the configs
	inner := exampleTCPListener()
	ln := rustls.NewLazyListener(inner, &rustls.LazyAcceptor{
		Choose: func(h *rustls.ClientHello) (*rustls.ServerConfig, error) {
			if cfg := sites[h.ServerName]; cfg != nil {
				return cfg, nil
			}
			return nil, fmt.Errorf("no site %q", h.ServerName) // alert unrecognized_name
		},
	})
	defer ln.Close()
	go func() {
		for {
			s, err := ln.AcceptStream()
			if err != nil {
				return
			}
			fmt.Fprintf(s, "hello from %s\n", s.ConnectionState().ServerName)
			s.Close()
		}
	}()

	client := exampleClientConfig(rustls.ClientOptions{RootCAs: ca.PEM})
	defer client.Close()
	ctx, cancel := exampleContext()
	defer cancel()
	for _, name := range []string{"b.example", "c.example"} {
		d := &rustls.Dialer{Config: client, ServerName: name}
		c, err := d.DialContext(ctx, "tcp", ln.Addr().String())
		if err != nil {
			fmt.Println(name, "refused:", err)
			continue
		}
		line, _ := bufio.NewReader(c).ReadString('\n')
		c.Close()
		fmt.Print(line)
	}
	// Output:
	// hello from b.example
	// c.example refused: rustls: handshake: received fatal alert: UnrecognisedName
}

// Dial connects and handshakes in one call; the server name is the
// address's host. Its Streams are write-through.
func ExampleDial() {
	server, client := exampleConfigs()
	defer server.Close()
	defer client.Close()
	ln := exampleListenOnce(server, func(s *rustls.Stream) { fmt.Fprintln(s, "welcome") })
	defer ln.Close()

	_, port, _ := net.SplitHostPort(ln.Addr().String())
	s, err := rustls.Dial("tcp", net.JoinHostPort("localhost", port), client, rustls.StreamOptions{})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	line, _ := bufio.NewReader(s).ReadString('\n')
	fmt.Print(line, s.ConnectionState().ServerName)
	// Output:
	// welcome
	// localhost
}

// DialContext is Dial bounded by a context (the dial and the handshake).
// A server the client does not trust fails with an error that errors.As
// maps to crypto/x509's.
func ExampleDialContext() {
	server, _ := exampleConfigs()
	defer server.Close()
	client := exampleStrangerClientConfig() // trusts only a CA that did not sign the server's certificate
	defer client.Close()
	ln := exampleListenOnce(server, func(*rustls.Stream) {})
	defer ln.Close()

	ctx, cancel := exampleContext()
	defer cancel()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	_, err := rustls.DialContext(ctx, "tcp", net.JoinHostPort("localhost", port), client, rustls.StreamOptions{})
	var unknown x509.UnknownAuthorityError
	fmt.Println(errors.As(err, &unknown))
	// Output: true
}

// DialerFromTLS carries an existing *tls.Config over; a Dialer's
// DialContext fits http.Transport.DialTLSContext.
func ExampleDialerFromTLS() {
	caPEM, _, _ := exampleCertificates()
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	d, err := rustls.DialerFromTLS(&tls.Config{RootCAs: pool, ServerName: "localhost"},
		&rustls.FromTLSOptions{RootCAsPEM: caPEM})
	if err != nil {
		log.Fatal(err)
	}
	defer d.CurrentConfig().Close()
	fmt.Println(d.ServerName)
	tr := &http.Transport{DialTLSContext: d.DialContext}
	defer tr.CloseIdleConnections()
	// Output: localhost
}

// HandshakeContext runs the handshake now, bounded by ctx; without it the
// first Read or Write runs it (bounded by StreamOptions.HandshakeTimeout).
// Handshake is the context-free form.
func ExampleStream_HandshakeContext() {
	server, client := exampleConfigs()
	defer server.Close()
	defer client.Close()
	cc, sc := exampleTCPPair()
	srv, err := rustls.NewAcceptor(server, rustls.StreamOptions{}).Server(sc)
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	go func() { _ = srv.Handshake() }() // bounded by DefaultHandshakeTimeout

	cli, err := rustls.NewConnector(client, rustls.StreamOptions{}).Client(cc, "localhost")
	if err != nil {
		log.Fatal(err)
	}
	defer cli.Close()
	fmt.Println(cli.ConnectionState().HandshakeComplete) // before: never blocks
	ctx, cancel := exampleContext()
	defer cancel()
	if err := cli.HandshakeContext(ctx); err != nil {
		log.Fatal(err)
	}
	fmt.Println(cli.ConnectionState().HandshakeComplete, tls.VersionName(cli.ConnectionState().Version))
	// Output:
	// false
	// true TLS 1.3
}

// GetCertificate picks the certificate per connection from the
// *ClientHello (here by server name).
func ExampleClientHello() {
	ca, _ := examplePKI()
	keys := map[string]*rustls.CertifiedKey{}
	for _, name := range []string{"a.example", "b.example"} {
		leaf, err := ca.Server(name)
		if err != nil {
			log.Fatal(err)
		}
		keys[name] = exampleKey(leaf)
		defer keys[name].Close() // the caller owns the keys GetCertificate returns
	}
	server, err := rustls.NewServerConfig(rustls.ServerOptions{
		GetCertificate: func(h *rustls.ClientHello) (*rustls.CertifiedKey, error) {
			fmt.Fprintf(os.Stdout, "asked for %s, from %v\n", h.ServerName, h.Conn() != nil)
			if k := keys[h.ServerName]; k != nil {
				return k, nil
			}
			return nil, fmt.Errorf("no certificate for %q", h.ServerName)
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer server.Close()
	client := exampleClientConfig(rustls.ClientOptions{RootCAs: ca.PEM})
	defer client.Close()

	ctx, cancel := exampleContext()
	defer cancel()
	cc := exampleServe(ctx, rustls.NewAcceptor(server, rustls.StreamOptions{}).Accept, func(*rustls.Stream) {})
	c, err := rustls.NewConnector(client, rustls.StreamOptions{}).Connect(ctx, cc, "b.example")
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	fmt.Println(c.ConnectionState().PeerCertificates[0].DNSNames)
	// Output:
	// asked for b.example, from true
	// [b.example]
}
