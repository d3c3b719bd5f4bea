// Command https-client fetches a URL with an http.Client whose transport is
// gorustls (rustlshttp.Transport: HTTP/2 or HTTP/1.1 by ALPN, connections
// reused). Without -url it starts a small local server to fetch from.
//
//	go run ./examples/https-client
//	go run ./examples/https-client -url https://example.com/   # system roots
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/gorustls/gorustls/examples/internal/democert"
	"github.com/gorustls/gorustls/rustls"
	"github.com/gorustls/gorustls/rustlshttp"
)

func main() {
	url := flag.String("url", "", "URL to fetch (default: a local demo server)")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := run(ctx, *url, os.Stdout); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, url string, out io.Writer) error {
	opts := rustls.ClientOptions{SystemRoots: true, NextProtos: []string{"h2", "http/1.1"}}
	if url == "" {
		ca, local, stop, err := localServer()
		if err != nil {
			return err
		}
		defer stop()
		url = local
		opts = rustls.ClientOptions{RootCAs: ca.PEM, NextProtos: opts.NextProtos}
	}
	cfg, err := rustls.NewClientConfig(opts)
	if err != nil {
		return err
	}
	defer cfg.Close()
	tr := rustlshttp.NewTransport(cfg)
	dials := 0
	tr.OnDial = func(s *rustls.Stream) { dials++ }
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	for i := range 3 {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "request %d: %s %s, TLS 0x%04x, %d bytes\n", i+1, resp.Proto, resp.Status, resp.TLS.Version, len(body))
	}
	fmt.Fprintf(out, "3 requests over %d connection(s)\n", dials)
	return nil
}

// localServer serves a page over gorustls on loopback.
func localServer() (*democert.CA, string, func(), error) {
	ca, err := democert.NewCA()
	if err != nil {
		return nil, "", nil, err
	}
	leaf, err := ca.Server("localhost")
	if err != nil {
		return nil, "", nil, err
	}
	cfg, err := leaf.ServerConfig("h2", "http/1.1")
	if err != nil {
		return nil, "", nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		cfg.Close()
		return nil, "", nil, err
	}
	srv := &rustlshttp.Server{Config: cfg, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "hello from a gorustls server")
	})}
	go func() { _ = srv.Serve(ln) }()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return ca, "https://localhost:" + port + "/", func() { srv.Close(); cfg.Close() }, nil
}
