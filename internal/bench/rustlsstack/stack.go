// Package rustlsstack is gorustls as a bench.Stack.
package rustlsstack

import (
	"context"
	"log/slog"
	"net"
	"net/http"

	"github.com/gorustls/gorustls/cgo"
	"github.com/gorustls/gorustls/internal/bench"
	"github.com/gorustls/gorustls/rustls"
	"github.com/gorustls/gorustls/rustlshttp"
)

// Stack returns the gorustls stack: an Acceptor and a Connector with the
// default crypto provider and default StreamOptions (buffered writes,
// explicit Flush), or StreamOptions.WriteThrough when the scenario's
// Params.WriteThrough asks for it.
func Stack() bench.Stack {
	return bench.Stack{Name: "gorustls", Version: rustls.Version(), Configure: Configure, Calls: cgo.Calls,
		ServeHTTP: func(pki *bench.PKI, p bench.Params, ln net.Listener, h http.Handler) (func(), error) {
			return serveHTTP(pki, p, nil, ln, h)
		}}
}

// RingAESGCMStack is Stack with rustls.RingAESGCMProvider on both ends.
func RingAESGCMStack() bench.Stack {
	return bench.Stack{
		Name:    "gorustls",
		Version: rustls.Version() + " with ring's AES-GCM",
		Configure: func(pki *bench.PKI, p bench.Params) (*bench.Endpoints, error) {
			prov, err := rustls.RingAESGCMProvider()
			if err != nil {
				return nil, err
			}
			defer prov.Close() // the configs keep their own references
			return configure(pki, p, prov)
		},
		Calls: cgo.Calls,
		ServeHTTP: func(pki *bench.PKI, p bench.Params, ln net.Listener, h http.Handler) (func(), error) {
			prov, err := rustls.RingAESGCMProvider()
			if err != nil {
				return nil, err
			}
			defer prov.Close()
			return serveHTTP(pki, p, prov, ln, h)
		},
	}
}

// Configure builds a server and a client config for p.
func Configure(pki *bench.PKI, p bench.Params) (*bench.Endpoints, error) {
	return configure(pki, p, nil)
}

// serverOptions are the server side of p (ALPN protocols aside).
func serverOptions(pki *bench.PKI, p bench.Params, prov *rustls.Provider) (rustls.ServerOptions, func(), error) {
	leaf, err := pki.Leaf(p.Key)
	if err != nil {
		return rustls.ServerOptions{}, nil, err
	}
	ck, err := rustls.NewCertifiedKey(leaf.ChainPEM, leaf.KeyPEM)
	if err != nil {
		return rustls.ServerOptions{}, nil, err
	}
	so := rustls.ServerOptions{Certificates: []*rustls.CertifiedKey{ck}, Versions: []uint16{p.Version}, Provider: prov}
	if p.Suite != 0 {
		so.CipherSuites = []uint16{p.Suite}
	}
	if !p.Resume {
		// As crypto/tls's SessionTicketsDisabled: no tickets, no sessions.
		so.SessionTicketsDisabled = true
	}
	return so, func() { _ = ck.Close() }, nil
}

// serveHTTP serves h with rustlshttp.Server.
func serveHTTP(pki *bench.PKI, p bench.Params, prov *rustls.Provider, ln net.Listener, h http.Handler) (func(), error) {
	so, closeKey, err := serverOptions(pki, p, prov)
	if err != nil {
		return nil, err
	}
	defer closeKey() // the config keeps its own reference
	so.NextProtos = []string{"h2", "http/1.1"}
	cfg, err := rustls.NewServerConfig(so)
	if err != nil {
		return nil, err
	}
	srv := &rustlshttp.Server{Config: cfg, Handler: h, Logger: slog.New(slog.DiscardHandler)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	return func() {
		_ = srv.Close()
		<-done
		cfg.Close()
	}, nil
}

func configure(pki *bench.PKI, p bench.Params, prov *rustls.Provider) (*bench.Endpoints, error) {
	so, closeKey, err := serverOptions(pki, p, prov)
	if err != nil {
		return nil, err
	}
	defer closeKey() // the configs keep their own references
	co := rustls.ClientOptions{RootCAs: pki.CAPEM, Versions: []uint16{p.Version}, Provider: prov}
	if p.Suite != 0 {
		co.CipherSuites = []uint16{p.Suite}
	}
	scfg, err := rustls.NewServerConfig(so)
	if err != nil {
		return nil, err
	}
	ccfg, err := rustls.NewClientConfig(co)
	if err != nil {
		scfg.Close()
		return nil, err
	}
	sopts := rustls.StreamOptions{WriteThrough: p.WriteThrough}
	acc := rustls.NewAcceptor(scfg, sopts)
	con := rustls.NewConnector(ccfg, sopts)
	return &bench.Endpoints{
		Server: func(ctx context.Context, conn net.Conn) (bench.Conn, error) {
			s, err := acc.Accept(ctx, conn)
			if err != nil {
				return nil, err
			}
			return s, nil
		},
		Client: func(ctx context.Context, conn net.Conn) (bench.Conn, error) {
			s, err := con.Connect(ctx, conn, "localhost")
			if err != nil {
				return nil, err
			}
			return s, nil
		},
		Close: func() {
			scfg.Close()
			ccfg.Close()
		},
		NativeHeap: cgo.MallocInUse,
		TrimNative: cgo.MallocTrim,
	}, nil
}
