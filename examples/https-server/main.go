// Command https-server serves HTTP/2 and HTTP/1.1 over gorustls with
// net/http handlers (rustlshttp.Server picks the protocol by ALPN), using
// a throw-away certificate made in memory.
//
//	go run ./examples/https-server -write-ca /tmp/ca.pem
//	go run ./cmd/gorustls get -ca /tmp/ca.pem https://127.0.0.1:8443/
//	curl --cacert /tmp/ca.pem https://127.0.0.1:8443/
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"time"

	"github.com/gorustls/gorustls/examples/internal/democert"
	"github.com/gorustls/gorustls/rustlshttp"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8443", "address to listen on")
	writeCA := flag.String("write-ca", "", "write the CA certificate to this file, for clients")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	ca, err := democert.NewCA()
	if err != nil {
		log.Fatal(err)
	}
	if *writeCA != "" {
		if err := os.WriteFile(*writeCA, ca.PEM, 0o644); err != nil {
			log.Fatal(err)
		}
	}
	err = run(ctx, *addr, ca, func(url string) { log.Printf("serving on %s (Ctrl-C to stop)", url) })
	if err != nil {
		log.Fatal(err)
	}
}

// handler shows what net/http sees: the protocol and Request.TLS.
func handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s over TLS 0x%04x, ALPN %q, SNI %q\n", r.Proto, r.TLS.Version, r.TLS.NegotiatedProtocol, r.TLS.ServerName)
	})
	return mux
}

// run serves until ctx ends, then shuts down gracefully. ready gets the
// base URL once the server listens.
func run(ctx context.Context, addr string, ca *democert.CA, ready func(url string)) error {
	leaf, err := ca.Server("localhost", "127.0.0.1")
	if err != nil {
		return err
	}
	// Offering h2 first lets ALPN choose HTTP/2 with clients that can.
	cfg, err := leaf.ServerConfig("h2", "http/1.1")
	if err != nil {
		return err
	}
	defer cfg.Close()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &rustlshttp.Server{
		Config:  cfg,
		Handler: handler(),
		HTTP1:   &http.Server{ReadHeaderTimeout: 10 * time.Second},
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	ready("https://" + ln.Addr().String() + "/")
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return err
	}
	if err := <-done; !errors.Is(err, rustlshttp.ErrServerClosed) {
		return err
	}
	return nil
}
