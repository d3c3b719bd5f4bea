// Command echo runs a gorustls echo server and a client against it on
// loopback: the client sends a few lines and prints what comes back.
//
//	go run ./examples/echo
//	go run ./examples/echo -addr 127.0.0.1:8443 -serve   # serve until interrupted
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/signal"

	"github.com/gorustls/gorustls/examples/internal/democert"
	"github.com/gorustls/gorustls/rustls"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "address to listen on")
	serve := flag.Bool("serve", false, "only serve, until interrupted (the CA is printed to stderr)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, *addr, *serve, os.Stdout); err != nil {
		log.Fatal(err)
	}
}

// run starts the echo server on addr; unless serveOnly, a client exchanges
// three lines with it and run returns.
func run(ctx context.Context, addr string, serveOnly bool, out io.Writer) error {
	ca, err := democert.NewCA()
	if err != nil {
		return err
	}
	leaf, err := ca.Server("localhost", "127.0.0.1")
	if err != nil {
		return err
	}
	scfg, err := leaf.ServerConfig()
	if err != nil {
		return err
	}
	defer scfg.Close()
	// Each connection handshakes on a goroutine of the listener's,
	// bounded by the handshake timeout, so silent clients block nobody;
	// Accept returns only handshaken Streams.
	ln, err := rustls.Listen("tcp", addr, scfg, rustls.StreamOptions{})
	if err != nil {
		return err
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close() // sends close_notify
				_, _ = io.Copy(c, c)
			}()
		}
	}()
	if serveOnly {
		fmt.Fprintf(os.Stderr, "echo server on %s; trust this CA:\n%s", ln.Addr(), ca.PEM)
		<-ctx.Done()
		return nil
	}

	ccfg, err := ca.ClientConfig()
	if err != nil {
		return err
	}
	defer ccfg.Close()
	// The server name (for SNI and the certificate check) is the address's
	// host: 127.0.0.1 here, which the certificate lists.
	s, err := rustls.DialContext(ctx, "tcp", ln.Addr().String(), ccfg, rustls.StreamOptions{})
	if err != nil {
		return err
	}
	defer s.Close()
	st := s.ConnectionState()
	fmt.Fprintf(out, "connected: TLS 0x%04x, %s, %s\n", st.Version, s.CipherSuiteName(), s.KeyExchangeGroup())
	r := bufio.NewReader(s)
	for _, line := range []string{"hello", "from", "gorustls"} {
		if _, err := fmt.Fprintln(s, line); err != nil {
			return err
		}
		back, err := r.ReadString('\n')
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "echoed: %s", back)
	}
	// close_notify for our half; the server closes cleanly, so Read ends
	// with io.EOF rather than io.ErrUnexpectedEOF.
	if err := s.CloseWrite(); err != nil {
		return err
	}
	if _, err := r.ReadByte(); err != io.EOF {
		return fmt.Errorf("expected a clean close, got %v", err)
	}
	fmt.Fprintln(out, "closed cleanly")
	return nil
}
