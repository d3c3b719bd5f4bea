package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/gorustls/gorustls/rustls"
	"github.com/gorustls/gorustls/rustlshttp"
)

func init() {
	register("demo", "a self-contained tour: gorustls and crypto/tls side by side on loopback", runDemo)
}

// demoTimeout bounds each step of the tour.
const demoTimeout = 5 * time.Second

// demoStack is one TLS stack's servers and clients in the tour.
type demoStack struct {
	name      string
	httpAddr  string // HTTPS: h2 and http/1.1, SNI routing
	mtlsAddr  string // HTTPS requiring a client certificate
	truncAddr string // TLS server that closes TCP without close_notify
	// httpClient makes a client offering h2 (or only http/1.1), with the
	// client certificate if withCert.
	httpClient func(h2, withCert bool) *http.Client
	// dialName runs a TLS handshake to addr with name as SNI and returns
	// the names in the served certificate.
	dialName func(ctx context.Context, addr, name string) (string, error)
	// readAll connects to addr and reads until the end of the stream.
	readAll func(ctx context.Context, addr string) (string, error)
	closers []func()
}

type demoPKI struct {
	ca                  *memCA
	local, a, b, client *memLeaf
}

func runDemo(args []string) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	if err := fs.Parse(args); err != nil {
		return err
	}
	start := time.Now()
	p, err := newDemoPKI()
	if err != nil {
		return err
	}
	fmt.Printf("gorustls demo: %s vs Go %s crypto/tls, all on loopback with an in-memory CA\n\n", rustls.Version(), strings.TrimPrefix(runtime.Version(), "go"))
	gr, err := newRustlsStack(p)
	if err != nil {
		return err
	}
	defer gr.close()
	gt, err := newGoStack(p)
	if err != nil {
		return err
	}
	defer gt.close()
	grpcCall := map[*demoStack]func() (string, error){}
	for _, st := range []*demoStack{gr, gt} {
		if grpcCall[st], err = demoGRPC(st, p); err != nil {
			return err
		}
	}

	type row struct {
		what   string
		run    func(st *demoStack) (string, error)
		expect func(res string, err error) bool // gorustls's expected outcome
	}
	ok := func(want string) func(string, error) bool {
		return func(res string, err error) bool { return err == nil && strings.Contains(res, want) }
	}
	failed := func(res string, err error) bool { return err != nil }
	rows := []row{
		{"HTTP/1.1 GET", func(st *demoStack) (string, error) { return demoGet(st, st.httpAddr, false, false) }, ok("HTTP/1.1")},
		{"HTTP/2 GET", func(st *demoStack) (string, error) { return demoGet(st, st.httpAddr, true, false) }, ok("HTTP/2.0")},
		{"mTLS with client cert", func(st *demoStack) (string, error) { return demoGet(st, st.mtlsAddr, true, true) }, ok("client=demo client")},
		{"mTLS without cert", func(st *demoStack) (string, error) { return demoGet(st, st.mtlsAddr, true, false) }, failed},
		{"gRPC health check, mTLS", func(st *demoStack) (string, error) { return grpcCall[st]() }, ok("SERVING, server saw client=demo client")},
		{"SNI a.demo", func(st *demoStack) (string, error) { return demoSNI(st, "a.demo") }, ok("a.demo")},
		{"SNI b.demo", func(st *demoStack) (string, error) { return demoSNI(st, "b.demo") }, ok("b.demo")},
		{"SNI unknown.demo", func(st *demoStack) (string, error) { return demoSNI(st, "unknown.demo") }, failed},
		{"truncation (no close_notify)", func(st *demoStack) (string, error) {
			ctx, cancel := context.WithTimeout(context.Background(), demoTimeout)
			defer cancel()
			return st.readAll(ctx, st.truncAddr)
		}, func(_ string, err error) bool { return errors.Is(err, io.ErrUnexpectedEOF) }},
	}
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "SCENARIO\tgorustls <-> gorustls\tcrypto/tls <-> crypto/tls")
	var bad []string
	for _, r := range rows {
		res1, err1 := r.run(gr)
		res2, err2 := r.run(gt)
		fmt.Fprintf(w, "%s\t%s\t%s\n", r.what, outcome(res1, err1), outcome(res2, err2))
		if !r.expect(res1, err1) {
			bad = append(bad, fmt.Sprintf("%s: unexpected gorustls outcome %s", r.what, outcome(res1, err1)))
		}
	}
	// Interop: each client against the other's server.
	res1, err1 := demoGet(gr, gt.httpAddr, true, false)
	res2, err2 := demoGet(gt, gr.httpAddr, true, false)
	fmt.Fprintf(w, "%s\t%s\t%s\n", "interop HTTP/2 GET", "gorustls client: "+outcome(res1, err1), "crypto/tls client: "+outcome(res2, err2))
	for _, e := range []error{err1, err2} {
		if e != nil {
			bad = append(bad, "interop: "+e.Error())
		}
	}
	if err := w.Flush(); err != nil {
		return err
	}
	fmt.Printf("\nNote: on a TCP close without close_notify gorustls reports io.ErrUnexpectedEOF, so a truncated\nresponse cannot pass for a complete one. Unknown SNI names are refused from the ClientHello.\n")
	fmt.Printf("\ndone in %v\n", time.Since(start).Round(time.Millisecond))
	if len(bad) > 0 {
		return errors.New(strings.Join(bad, "; "))
	}
	return nil
}

func outcome(res string, err error) string {
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		s := strings.TrimPrefix(err.Error(), "rustls: ")
		if len(s) > 64 {
			// Keep both ends: what failed, and why (the innermost cause).
			s = s[:28] + "..." + s[len(s)-33:]
		}
		return "error: " + s
	}
	return res
}

func newDemoPKI() (*demoPKI, error) {
	ca, err := newMemCA("gorustls demo CA")
	if err != nil {
		return nil, err
	}
	p := &demoPKI{ca: ca}
	for _, x := range []struct {
		dst    **memLeaf
		client bool
		names  []string
	}{{&p.local, false, []string{"localhost", "127.0.0.1"}}, {&p.a, false, []string{"a.demo"}}, {&p.b, false, []string{"b.demo"}}, {&p.client, true, []string{"demo client"}}} {
		if *x.dst, err = ca.leaf(x.client, x.names...); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// demoHandler reports the protocol and the client certificate.
var demoHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	client := "none"
	if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
		client = r.TLS.PeerCertificates[0].Subject.CommonName
	}
	fmt.Fprintf(w, "client=%s", client)
})

func demoGet(st *demoStack, addr string, h2, withCert bool) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), demoTimeout)
	defer cancel()
	c := st.httpClient(h2, withCert)
	defer c.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+addr+"/", nil)
	if err != nil {
		return "", err
	}
	resp, err := c.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.TLS == nil {
		return "", errors.New("response without TLS state")
	}
	res := fmt.Sprintf("%d %s %s %s", resp.StatusCode, resp.Proto, versionName(resp.TLS.Version), tls.CipherSuiteName(resp.TLS.CipherSuite))
	if withCert {
		res = fmt.Sprintf("%d %s %s", resp.StatusCode, resp.Proto, body)
	}
	return res, nil
}

func demoSNI(st *demoStack, name string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), demoTimeout)
	defer cancel()
	names, err := st.dialName(ctx, st.httpAddr, name)
	if err != nil {
		return "", err
	}
	return "served cert for " + names, nil
}

func (st *demoStack) close() {
	for i := len(st.closers) - 1; i >= 0; i-- {
		st.closers[i]()
	}
}

func listenLoopback() (net.Listener, error) { return net.Listen("tcp", "127.0.0.1:0") }

func quietLog() *log.Logger { return log.New(io.Discard, "", 0) }

// newRustlsStack starts the gorustls servers and builds its clients.
func newRustlsStack(p *demoPKI) (*demoStack, error) {
	st := &demoStack{name: "gorustls"}
	ok := false
	defer func() {
		if !ok {
			st.close()
		}
	}()
	serverCfg := func(l *memLeaf, mod func(*rustls.ServerOptions)) (*rustls.ServerConfig, error) {
		k, err := l.certifiedKey()
		if err != nil {
			return nil, err
		}
		defer k.Close()
		o := rustls.ServerOptions{Certificates: []*rustls.CertifiedKey{k}, NextProtos: []string{"h2", "http/1.1"}}
		if mod != nil {
			mod(&o)
		}
		cfg, err := rustls.NewServerConfig(o)
		if err == nil {
			st.closers = append(st.closers, func() { cfg.Close() })
		}
		return cfg, err
	}
	byName := map[string]*rustls.ServerConfig{}
	for name, l := range map[string]*memLeaf{"localhost": p.local, "a.demo": p.a, "b.demo": p.b} {
		cfg, err := serverCfg(l, nil)
		if err != nil {
			return nil, err
		}
		byName[name] = cfg
	}
	byName[""] = byName["localhost"]
	lazy := &rustls.LazyAcceptor{Choose: func(h *rustls.ClientHello) (*rustls.ServerConfig, error) {
		return byName[h.ServerName], nil // nil: refused with unrecognized_name
	}}
	mtls, err := serverCfg(p.local, func(o *rustls.ServerOptions) {
		o.ClientAuth = rustls.RequireAndVerifyClientCert
		o.ClientCAs = p.ca.pem
	})
	if err != nil {
		return nil, err
	}
	for _, x := range []struct {
		srv  *rustlshttp.Server
		addr *string
	}{{&rustlshttp.Server{Lazy: lazy, Handler: demoHandler}, &st.httpAddr}, {&rustlshttp.Server{Config: mtls, Handler: demoHandler}, &st.mtlsAddr}} {
		ln, err := listenLoopback()
		if err != nil {
			return nil, err
		}
		x.srv.Logger = slog.New(slog.DiscardHandler)
		x.srv.HTTP1 = &http.Server{ErrorLog: quietLog()}
		*x.addr = ln.Addr().String()
		go func() { _ = x.srv.Serve(ln) }()
		srv := x.srv
		st.closers = append(st.closers, func() { srv.Close() })
	}
	// Truncating server: one message, then a TCP close without close_notify.
	tln, err := rustls.Listen("tcp", "127.0.0.1:0", byName["localhost"], rustls.StreamOptions{})
	if err != nil {
		return nil, err
	}
	st.truncAddr = tln.Addr().String()
	st.closers = append(st.closers, func() { tln.Close() })
	go func() {
		for {
			s, err := tln.AcceptStream()
			if err != nil {
				return
			}
			go func() {
				if _, err := s.Write([]byte("partial respon")); err == nil {
					_ = s.NetConn().Close()
				}
				_ = s.Close()
			}()
		}
	}()

	clientCfg := func(protos []string, withCert bool) (*rustls.ClientConfig, error) {
		o := rustls.ClientOptions{RootCAs: p.ca.pem, NextProtos: protos}
		if withCert {
			k, err := p.client.certifiedKey()
			if err != nil {
				return nil, err
			}
			defer k.Close()
			o.Certificate = k
		}
		cfg, err := rustls.NewClientConfig(o)
		if err == nil {
			st.closers = append(st.closers, func() { cfg.Close() })
		}
		return cfg, err
	}
	clients := map[[2]bool]*rustls.ClientConfig{}
	for _, h2 := range []bool{true, false} {
		for _, withCert := range []bool{true, false} {
			protos := []string{"http/1.1"}
			if h2 {
				protos = []string{"h2", "http/1.1"}
			}
			cfg, err := clientCfg(protos, withCert)
			if err != nil {
				return nil, err
			}
			clients[[2]bool{h2, withCert}] = cfg
		}
	}
	st.httpClient = func(h2, withCert bool) *http.Client {
		return &http.Client{Transport: rustlshttp.NewTransport(clients[[2]bool{h2, withCert}])}
	}
	plain := clients[[2]bool{false, false}]
	st.dialName = func(ctx context.Context, addr, name string) (string, error) {
		d := rustls.Dialer{Config: plain, ServerName: name}
		s, err := d.DialStream(ctx, "tcp", addr)
		if err != nil {
			return "", err
		}
		defer s.Close()
		return strings.Join(s.ConnectionState().PeerCertificates[0].DNSNames, ","), nil
	}
	st.readAll = func(ctx context.Context, addr string) (string, error) {
		s, err := rustls.DialContext(ctx, "tcp", addr, plain, rustls.StreamOptions{})
		if err != nil {
			return "", err
		}
		defer s.Close()
		b, err := io.ReadAll(s)
		if err != nil {
			return "", fmt.Errorf("truncation caught after %q: %w", b, err)
		}
		return fmt.Sprintf("read %q, then io.EOF (looks complete)", b), nil
	}
	ok = true
	return st, nil
}

// newGoStack starts the same servers with crypto/tls.
func newGoStack(p *demoPKI) (*demoStack, error) {
	st := &demoStack{name: "crypto/tls"}
	ok := false
	defer func() {
		if !ok {
			st.close()
		}
	}()
	base := &tls.Config{Certificates: []tls.Certificate{p.local.tls, p.a.tls, p.b.tls}, NextProtos: []string{"h2", "http/1.1"}}
	mtls := &tls.Config{Certificates: []tls.Certificate{p.local.tls}, NextProtos: []string{"h2", "http/1.1"},
		ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: p.ca.pool()}
	for _, x := range []struct {
		cfg  *tls.Config
		addr *string
	}{{base, &st.httpAddr}, {mtls, &st.mtlsAddr}} {
		ln, err := listenLoopback()
		if err != nil {
			return nil, err
		}
		*x.addr = ln.Addr().String()
		srv := &http.Server{Handler: demoHandler, TLSConfig: x.cfg, ErrorLog: quietLog()}
		go func() { _ = srv.ServeTLS(ln, "", "") }()
		st.closers = append(st.closers, func() { srv.Close() })
	}
	tln, err := tls.Listen("tcp", "127.0.0.1:0", base)
	if err != nil {
		return nil, err
	}
	st.truncAddr = tln.Addr().String()
	st.closers = append(st.closers, func() { tln.Close() })
	go func() {
		for {
			c, err := tln.Accept()
			if err != nil {
				return
			}
			go func() {
				tc := c.(*tls.Conn)
				if _, err := tc.Write([]byte("partial respon")); err == nil {
					_ = tc.NetConn().Close()
				}
				_ = tc.Close()
			}()
		}
	}()
	clientCfg := func(withCert bool) *tls.Config {
		c := &tls.Config{RootCAs: p.ca.pool()}
		if withCert {
			c.Certificates = []tls.Certificate{p.client.tls}
		}
		return c
	}
	st.httpClient = func(h2, withCert bool) *http.Client {
		cfg := clientCfg(withCert)
		if !h2 {
			cfg.NextProtos = []string{"http/1.1"}
		}
		return &http.Client{Transport: &http.Transport{TLSClientConfig: cfg, ForceAttemptHTTP2: h2}}
	}
	st.dialName = func(ctx context.Context, addr, name string) (string, error) {
		cfg := clientCfg(false)
		cfg.ServerName = name
		d := tls.Dialer{Config: cfg}
		c, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return "", err
		}
		defer c.Close()
		return strings.Join(c.(*tls.Conn).ConnectionState().PeerCertificates[0].DNSNames, ","), nil
	}
	st.readAll = func(ctx context.Context, addr string) (string, error) {
		cfg := clientCfg(false)
		cfg.ServerName = "localhost"
		d := tls.Dialer{Config: cfg}
		c, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return "", err
		}
		defer c.Close()
		b, err := io.ReadAll(c)
		if err != nil {
			return "", fmt.Errorf("truncation caught after %q: %w", b, err)
		}
		return fmt.Sprintf("read %q, then io.EOF (looks complete)", b), nil
	}
	ok = true
	return st, nil
}
