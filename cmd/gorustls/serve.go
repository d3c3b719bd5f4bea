package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"time"

	"github.com/gorustls/gorustls/rustls"
	"github.com/gorustls/gorustls/rustlshttp"
	"golang.org/x/sys/unix"
)

func init() {
	register("serve", "run a TLS server (echo, http or discard) until interrupted", runServe)
}

type serveFlags struct {
	addr, writeCA, clientAuth, alpn, versions, keylog, mode string
	certs, keys, ocsp, clientCAs                            listFlag
	logConns                                                bool
}

func runServe(args []string) error {
	var f serveFlags
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.StringVar(&f.addr, "addr", "127.0.0.1:8443", "`address` to listen on")
	fs.Var(&f.certs, "cert", "certificate chain PEM `file` (repeat for several names; pairs with -key)")
	fs.Var(&f.keys, "key", "private key PEM `file` (repeat, in the order of -cert)")
	fs.Var(&f.ocsp, "ocsp", "DER OCSP response `file` to staple for clients that ask (one per -cert, in its order)")
	fs.StringVar(&f.writeCA, "write-ca", "", "without -cert: write the throw-away CA certificate to `file`")
	fs.Var(&f.clientCAs, "client-ca", "PEM `file` of CAs for client certificates (repeat for several files)")
	fs.StringVar(&f.clientAuth, "client-auth", "", "client certificates: none, optional or required (default: required with -client-ca, else none)")
	fs.StringVar(&f.alpn, "alpn", "", "comma-separated ALPN `protocols` (default: h2,http/1.1 in http mode, none otherwise)")
	fs.StringVar(&f.versions, "versions", "", "TLS `versions` to enable: 1.2,1.3 (default: both)")
	fs.StringVar(&f.keylog, "keylog", "", "append TLS secrets to `file` (NSS key log format)")
	fs.StringVar(&f.mode, "mode", "echo", "what to serve: echo, http or discard")
	fs.BoolVar(&f.logConns, "log-conns", true, "log one line per connection (version, suite, ALPN, SNI); -log-conns=false for load tests")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := rejectRepeats(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if f.mode != "echo" && f.mode != "http" && f.mode != "discard" {
		return fmt.Errorf("-mode: %q is not echo, http or discard", f.mode)
	}
	if f.alpn == "" && f.mode == "http" {
		f.alpn = "h2,http/1.1"
	}
	if f.mode == "http" {
		for _, p := range splitList(f.alpn) {
			if p != "h2" && p != "http/1.1" && p != "http/1.0" {
				return fmt.Errorf("-alpn: -mode http serves only h2 and http/1.1; a client that negotiated %q would be disconnected", p)
			}
		}
	}
	la, closeAll, err := f.acceptor()
	if err != nil {
		return err
	}
	defer closeAll()

	ln, err := net.Listen("tcp", f.addr)
	if err != nil {
		return err
	}
	// Plain text lines on stderr (time, level, message, key=value pairs);
	// "msg=listening addr=ADDR" is what tests and the bench harness look for.
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	logger.Info("listening", "addr", ln.Addr().String(), "mode", f.mode)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, unix.SIGTERM)
	defer stop()
	var logConn func(*rustls.Stream) // nil: -log-conns=false
	if f.logConns {
		logConn = func(s *rustls.Stream) {
			st := s.ConnectionState()
			logger.Info("handshake", "remote", s.RemoteAddr().String(), "version", versionName(st.Version),
				"cipher", s.CipherSuiteName(), "alpn", orNone(st.NegotiatedProtocol), "sni", orNone(st.ServerName))
		}
	}
	if f.mode == "http" {
		return serveHTTP(ctx, ln, la, logger, logConn)
	}
	return serveStreams(ctx, ln, la, f.mode, logger, logConn)
}

// acceptor builds one server config per certificate and routes by SNI.
func (f *serveFlags) acceptor() (*rustls.LazyAcceptor, func(), error) {
	if len(f.certs) != len(f.keys) {
		return nil, nil, fmt.Errorf("give as many -key as -cert (%d -cert, %d -key)", len(f.certs), len(f.keys))
	}
	if len(f.ocsp) > 0 && len(f.certs) == 0 {
		return nil, nil, errors.New("-ocsp needs -cert: an OCSP response is about one certificate, and the throw-away one has no responder")
	}
	if len(f.ocsp) > 0 && len(f.ocsp) != len(f.certs) {
		return nil, nil, fmt.Errorf("give one -ocsp per -cert, in the same order (%d -cert, %d -ocsp)", len(f.certs), len(f.ocsp))
	}
	o := rustls.ServerOptions{NextProtos: splitList(f.alpn)}
	var err error
	if o.Versions, err = parseVersions(f.versions); err != nil {
		return nil, nil, err
	}
	switch f.clientAuth {
	case "":
		if len(f.clientCAs) > 0 {
			o.ClientAuth = rustls.RequireAndVerifyClientCert
		}
	case "none":
		if len(f.clientCAs) > 0 {
			return nil, nil, errors.New("-client-ca with -client-auth none: client certificates would not be asked for, so the CA would be ignored (drop one of them)")
		}
	case "optional":
		o.ClientAuth = rustls.VerifyClientCertIfGiven
	case "required":
		o.ClientAuth = rustls.RequireAndVerifyClientCert
	default:
		return nil, nil, fmt.Errorf("-client-auth: %q is not none, optional or required", f.clientAuth)
	}
	if o.ClientAuth != rustls.NoClientCert {
		if len(f.clientCAs) == 0 {
			return nil, nil, fmt.Errorf("-client-auth %s needs -client-ca", f.clientAuth)
		}
		o.ClientCAFiles = f.clientCAs
	}
	kl, closeKL, err := openKeylog(f.keylog)
	if err != nil {
		return nil, nil, err
	}
	o.KeyLogWriter = kl
	var keys []*rustls.CertifiedKey
	if len(f.certs) == 0 {
		k, err := throwAwayCert(f.writeCA)
		if err != nil {
			closeKL()
			return nil, nil, err
		}
		keys = append(keys, k)
	} else if f.writeCA != "" {
		closeKL()
		return nil, nil, errors.New("-write-ca only applies without -cert")
	}
	for i := range f.certs {
		k, err := rustls.LoadCertifiedKey(f.certs[i], f.keys[i])
		if err == nil && len(f.ocsp) > 0 {
			k, err = stapleOCSP(k, f.ocsp[i])
		}
		if err != nil {
			for _, k := range keys {
				k.Close()
			}
			closeKL()
			return nil, nil, err
		}
		keys = append(keys, k)
	}
	var cfgs []*rustls.ServerConfig
	closeAll := func() {
		for _, c := range cfgs {
			c.Close()
		}
		closeKL()
	}
	for _, k := range keys {
		o.Certificates = []*rustls.CertifiedKey{k}
		cfg, err := rustls.NewServerConfig(o)
		k.Close()
		if err != nil {
			closeAll()
			return nil, nil, err
		}
		cfgs = append(cfgs, cfg)
	}
	choose := func(h *rustls.ClientHello) (*rustls.ServerConfig, error) {
		if h.ServerName != "" {
			for i, k := range keys {
				if k.Leaf().VerifyHostname(h.ServerName) == nil {
					return cfgs[i], nil
				}
			}
		}
		return cfgs[0], nil
	}
	return &rustls.LazyAcceptor{Choose: choose}, closeAll, nil
}

// throwAwayCert makes an in-memory CA and a certificate for 127.0.0.1,
// ::1 and localhost, and writes the CA's PEM to caFile if given.
func throwAwayCert(caFile string) (*rustls.CertifiedKey, error) {
	ca, err := newMemCA("gorustls serve throw-away CA")
	if err != nil {
		return nil, err
	}
	leaf, err := ca.leaf(false, "localhost", "127.0.0.1", "::1")
	if err != nil {
		return nil, err
	}
	if caFile != "" {
		if err := os.WriteFile(caFile, ca.pem, 0o644); err != nil {
			return nil, fmt.Errorf("-write-ca: %w", err)
		}
	}
	return leaf.certifiedKey()
}

func serveStreams(ctx context.Context, inner net.Listener, la *rustls.LazyAcceptor, mode string, logger *slog.Logger, logConn func(*rustls.Stream)) error {
	ln := rustls.NewLazyListener(inner, la)
	ln.Logger = logger // failed handshakes, with remote and error
	go func() { <-ctx.Done(); ln.Close() }()
	for {
		s, err := ln.AcceptStream()
		if err != nil {
			if ctx.Err() != nil {
				logger.Info("shutting down")
				return nil
			}
			return err
		}
		if logConn != nil {
			logConn(s)
		}
		go func() {
			defer s.Close()
			var err error
			if mode == "echo" {
				_, err = io.Copy(s, s)
			} else {
				_, err = io.Copy(io.Discard, s)
			}
			if err != nil {
				logger.Info("connection failed", "remote", s.RemoteAddr().String(), "error", err)
			}
		}()
	}
}

func serveHTTP(ctx context.Context, ln net.Listener, la *rustls.LazyAcceptor, logger *slog.Logger, logConn func(*rustls.Stream)) error {
	// HTTP1.ErrorLog stays nil: net/http's messages then reach logger too.
	srv := &rustlshttp.Server{Lazy: la, Handler: newServeHandler(), Logger: logger, OnHandshake: logConn,
		HTTP1: &http.Server{ReadHeaderTimeout: 10 * time.Second}}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	logger.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
	}
	if err := <-done; err != nil && !errors.Is(err, rustlshttp.ErrServerClosed) {
		return err
	}
	return nil
}
