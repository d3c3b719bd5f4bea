// Command sni routes connections by the name the client asks for (SNI),
// read from the ClientHello before any certificate is chosen: one
// certificate and one ALPN setting per name, unknown names refused with an
// unrecognized_name alert.
//
//	go run ./examples/sni
package main

import (
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
	configs := map[string]*rustls.ServerConfig{}
	for name, protos := range map[string][]string{"api.example": {"h2"}, "www.example": {"http/1.1"}} {
		leaf, err := ca.Server(name)
		if err != nil {
			return err
		}
		cfg, err := leaf.ServerConfig(protos...)
		if err != nil {
			return err
		}
		defer cfg.Close()
		configs[name] = cfg
	}
	lazy := &rustls.LazyAcceptor{Choose: func(h *rustls.ClientHello) (*rustls.ServerConfig, error) {
		if cfg, ok := configs[h.ServerName]; ok {
			return cfg, nil
		}
		return nil, &rustls.RefuseError{Alert: rustls.AlertUnrecognizedName, Reason: "no site " + h.ServerName}
	}}
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	// The lazy listener handshakes each connection on its own goroutine and
	// hands out only connections that completed.
	ln := rustls.NewLazyListener(inner, lazy)
	defer ln.Close()
	go func() {
		for {
			s, err := ln.AcceptStream()
			if err != nil {
				return
			}
			go func() {
				defer s.Close()
				fmt.Fprintf(s, "this is %s", s.ConnectionState().ServerName)
			}()
		}
	}()

	ccfg, err := ca.ClientConfig("h2", "http/1.1")
	if err != nil {
		return err
	}
	defer ccfg.Close()
	for _, name := range []string{"api.example", "www.example", "unknown.example"} {
		d := rustls.Dialer{Config: ccfg, ServerName: name}
		s, err := d.DialStream(ctx, "tcp", inner.Addr().String())
		if err != nil {
			fmt.Fprintf(out, "%-16s refused: %v\n", name, err)
			continue
		}
		msg, err := io.ReadAll(s)
		st := s.ConnectionState()
		s.Close()
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "%-16s certificate for %v, ALPN %s: %q\n", name, st.PeerCertificates[0].DNSNames, st.NegotiatedProtocol, msg)
	}
	return nil
}
