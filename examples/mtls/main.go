// Command mtls shows mutual TLS: a gorustls server that requires client
// certificates from its CA, a client that has one and a client that
// does not.
//
//	go run ./examples/mtls
package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"time"

	"github.com/gorustls/gorustls/examples/internal/democert"
	"github.com/gorustls/gorustls/rustls"
)

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := run(ctx, os.Stdout); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, out io.Writer) error {
	ca, err := democert.NewCA()
	if err != nil {
		return err
	}
	srvKey, err := ca.ServerKey("localhost")
	if err != nil {
		return err
	}
	defer srvKey.Close()
	scfg, err := rustls.NewServerConfig(rustls.ServerOptions{
		Certificates: []*rustls.CertifiedKey{srvKey},
		ClientAuth:   rustls.RequireAndVerifyClientCert,
		ClientCAs:    ca.PEM, // client certificates must chain to this CA
	})
	if err != nil {
		return err
	}
	defer scfg.Close()
	// An Acceptor over a plain listener returns each handshake's error, so
	// this server sees the refused client. (rustls.Listen would hand out
	// only handshaken Streams and report failures to its Logger.)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer ln.Close()
	acc := rustls.NewAcceptor(scfg, rustls.StreamOptions{WriteThrough: true})
	refused := make(chan error, 1)
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				s, err := acc.Accept(ctx, conn) // closes conn on failure
				if err != nil {
					select {
					case refused <- err:
					default:
					}
					return
				}
				defer s.Close()
				// The verified client certificate is in the connection state.
				cn := s.ConnectionState().PeerCertificates[0].Subject.CommonName
				fmt.Fprintf(s, "welcome, %s\n", cn)
			}()
		}
	}()

	cliKey, err := ca.ClientKey("alice")
	if err != nil {
		return err
	}
	defer cliKey.Close()
	for _, withCert := range []bool{true, false} {
		o := rustls.ClientOptions{RootCAs: ca.PEM}
		if withCert {
			o.Certificate = cliKey
		}
		ccfg, err := rustls.NewClientConfig(o)
		if err != nil {
			return err
		}
		d := rustls.Dialer{Config: ccfg, ServerName: "localhost"}
		line, err := greet(ctx, &d, ln.Addr().String())
		ccfg.Close()
		if withCert {
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "client with a certificate: %s", line)
		} else {
			if err == nil {
				return fmt.Errorf("the server accepted a client without a certificate")
			}
			// In TLS 1.3 the client's handshake ends before the server
			// checks the certificate: the refusal arrives on first read.
			fmt.Fprintf(out, "client without a certificate: %v\n", err)
			select {
			case err := <-refused:
				fmt.Fprintf(out, "server refused it: %v\n", err)
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	return nil
}

func greet(ctx context.Context, d *rustls.Dialer, addr string) (string, error) {
	s, err := d.DialStream(ctx, "tcp", addr)
	if err != nil {
		return "", err
	}
	defer s.Close()
	return bufio.NewReader(s).ReadString('\n')
}
