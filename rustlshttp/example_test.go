package rustlshttp_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"syscall"
	"time"

	"github.com/gorustls/gorustls/internal/pki"
	"github.com/gorustls/gorustls/rustls"
	"github.com/gorustls/gorustls/rustlshttp"
)

// exampleConfigs makes throw-away certificates (internal/pki) for
// 127.0.0.1 and returns a server config and a client config that trusts
// it, both offering protos by ALPN. Real programs load their certificates
// from files (rustls.LoadCertifiedKey, ClientOptions.RootCAFiles or
// SystemRoots). The caller closes both.
func exampleConfigs(protos ...string) (*rustls.ServerConfig, *rustls.ClientConfig) {
	ca, err := pki.NewCA("example CA")
	if err != nil {
		log.Fatal(err)
	}
	leaf, err := ca.Server("127.0.0.1")
	if err != nil {
		log.Fatal(err)
	}
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

// exampleTCPListener returns a plain TCP listener on a loopback port.
func exampleTCPListener() net.Listener {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	return ln
}

// exampleOrigin serves h with serverCfg on a loopback port, on a new
// goroutine, until the caller closes the listener it returns.
func exampleOrigin(serverCfg *rustls.ServerConfig, h http.HandlerFunc) net.Listener {
	ln := exampleTCPListener()
	go func() { _ = rustlshttp.Serve(ln, serverCfg, h) }()
	return ln
}

// exampleGet fetches url with c and prints the protocol and the body.
func exampleGet(c *http.Client, url string) {
	resp, err := c.Get(url)
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(resp.Proto, string(body))
}

// Serve HTTP/1.1 and HTTP/2 (ALPN chooses) and shut down gracefully.
// Handlers see Request.TLS as under crypto/tls.
func ExampleServer() {
	serverCfg, clientCfg := exampleConfigs("h2", "http/1.1")
	defer serverCfg.Close() // after the server: it does not own the config
	defer clientCfg.Close()

	srv := &rustlshttp.Server{
		Config: serverCfg,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "hello over %s", r.TLS.NegotiatedProtocol)
		}),
		HTTP1: &http.Server{ReadHeaderTimeout: 10 * time.Second}, // net/http settings, for both protocols
	}
	ln := exampleTCPListener()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }() // Serve closes ln when it returns

	client := rustlshttp.NewClient(clientCfg)
	exampleGet(client, "https://"+ln.Addr().String()+"/")
	client.CloseIdleConnections()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil { // waits for active requests
		log.Fatal(err)
	}
	fmt.Println("Serve returned ErrServerClosed:", errors.Is(<-served, rustlshttp.ErrServerClosed))
	// Output:
	// HTTP/2.0 hello over h2
	// Serve returned ErrServerClosed: true
}

// A Transport is an http.RoundTripper: HTTP/2 or HTTP/1.1, whichever the
// server's ALPN chose, with connections kept alive and reused. Make one,
// share it, and set its fields before first use.
func ExampleNewTransport() {
	serverCfg, clientCfg := exampleConfigs("h2", "http/1.1")
	defer serverCfg.Close()
	defer clientCfg.Close()
	ln := exampleOrigin(serverCfg, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	})
	defer ln.Close()

	tr := rustlshttp.NewTransport(clientCfg) // it does not own clientCfg
	dials := 0
	tr.OnDial = func(s *rustls.Stream) { dials++ } // each new TLS connection
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	for i := 0; i < 3; i++ {
		exampleGet(client, "https://"+ln.Addr().String()+"/")
	}
	fmt.Println("connections:", dials)
	// Output:
	// HTTP/2.0 ok
	// HTTP/2.0 ok
	// HTTP/2.0 ok
	// connections: 1
}

// NewClient is the shortest way to an http.Client over gorustls. This
// config offers only HTTP/1.1.
func ExampleNewClient() {
	serverCfg, clientCfg := exampleConfigs("http/1.1")
	defer serverCfg.Close()
	defer clientCfg.Close()
	ln := exampleOrigin(serverCfg, func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "TLS version %x", r.TLS.Version)
	})
	defer ln.Close()

	client := rustlshttp.NewClient(clientCfg)
	defer client.CloseIdleConnections()
	exampleGet(client, "https://"+ln.Addr().String()+"/")
	// Output: HTTP/1.1 TLS version 304
}

// Serve a handler on a listener of your own; it returns when the listener
// fails (here: is closed). For graceful shutdown use a Server.
func ExampleServe() {
	serverCfg, clientCfg := exampleConfigs("h2", "http/1.1")
	defer serverCfg.Close()
	defer clientCfg.Close()
	ln := exampleTCPListener()
	served := make(chan error, 1)
	go func() {
		served <- rustlshttp.Serve(ln, serverCfg, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "served")
		}))
	}()
	client := rustlshttp.NewClient(clientCfg)
	exampleGet(client, "https://"+ln.Addr().String()+"/")
	client.CloseIdleConnections()

	ln.Close()
	fmt.Println("Serve returned:", <-served != nil)
	// Output:
	// HTTP/2.0 served
	// Serve returned: true
}

// ListenAndServe blocks while it serves (as net/http's): it returns only
// an error, here at once because the address is taken.
func ExampleListenAndServe() {
	serverCfg, _ := exampleConfigs("h2", "http/1.1")
	defer serverCfg.Close()
	busy := exampleTCPListener()
	defer busy.Close()

	err := rustlshttp.ListenAndServe(busy.Addr().String(), serverCfg, http.NotFoundHandler())
	fmt.Println("address in use:", errors.Is(err, syscall.EADDRINUSE))
	// Output: address in use: true
}
