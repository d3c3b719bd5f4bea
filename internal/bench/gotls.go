package bench

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"runtime"
	"sync"
	"time"
	_ "unsafe" // for go:linkname
)

// crypto/tls offers no way to choose TLS 1.3 cipher suites. Its package
// keeps these two preference lists reachable by go:linkname on purpose
// (go.dev/issue/67401); the benchmark narrows both to the suite under test
// while a crypto/tls TLS 1.3 scenario with a fixed suite is configured.
//
//go:linkname defaultCipherSuitesTLS13 crypto/tls.defaultCipherSuitesTLS13
var defaultCipherSuitesTLS13 []uint16

//go:linkname defaultCipherSuitesTLS13NoAES crypto/tls.defaultCipherSuitesTLS13NoAES
var defaultCipherSuitesTLS13NoAES []uint16

var forced struct {
	sync.Mutex
	suite      uint16
	refs       int
	aes, noAES []uint16
}

// forceTLS13Suite makes crypto/tls offer and pick only suite in TLS 1.3
// until the returned function is called. Scenarios with different forced
// suites cannot be configured at the same time.
func forceTLS13Suite(suite uint16) (func(), error) {
	forced.Lock()
	defer forced.Unlock()
	if forced.refs > 0 && forced.suite != suite {
		return nil, fmt.Errorf("bench: crypto/tls TLS 1.3 suite already forced to %s", SuiteName(forced.suite))
	}
	if forced.refs == 0 {
		forced.aes, forced.noAES = defaultCipherSuitesTLS13, defaultCipherSuitesTLS13NoAES
		defaultCipherSuitesTLS13 = []uint16{suite}
		defaultCipherSuitesTLS13NoAES = []uint16{suite}
		forced.suite = suite
	}
	forced.refs++
	var once sync.Once
	return func() {
		once.Do(func() {
			forced.Lock()
			defer forced.Unlock()
			forced.refs--
			if forced.refs == 0 {
				defaultCipherSuitesTLS13, defaultCipherSuitesTLS13NoAES = forced.aes, forced.noAES
			}
		})
	}, nil
}

// goConn adapts *tls.Conn to Conn: crypto/tls writes through, so Flush has
// nothing to do.
type goConn struct{ *tls.Conn }

func (goConn) Flush() error { return nil }

// bufConn is crypto/tls as a Go program batches small writes: behind a
// bufio.Writer of FlushEvery bytes, sent when it fills or on Flush.
type bufConn struct {
	*tls.Conn
	w *bufio.Writer
}

func newBufConn(c *tls.Conn) *bufConn {
	return &bufConn{Conn: c, w: bufio.NewWriterSize(c, FlushEvery)}
}

func (c *bufConn) Write(p []byte) (int, error) { return c.w.Write(p) }

func (c *bufConn) Flush() error { return c.w.Flush() }

// GoTLS returns the crypto/tls stack.
func GoTLS() Stack {
	return Stack{Name: "crypto/tls", Version: runtime.Version(), Configure: configureGoTLS, ServeHTTP: serveGoHTTP}
}

// goTLSConfigs returns the server and client configs for p; release
// undoes a forced TLS 1.3 suite.
func goTLSConfigs(pki *PKI, p Params) (srv, cli *tls.Config, release func(), err error) {
	leaf, err := pki.Leaf(p.Key)
	if err != nil {
		return nil, nil, nil, err
	}
	srv = &tls.Config{
		Certificates:           []tls.Certificate{leaf.TLSCertificate()},
		MinVersion:             p.Version,
		MaxVersion:             p.Version,
		SessionTicketsDisabled: !p.Resume,
	}
	cli = &tls.Config{RootCAs: pki.Pool(), ServerName: "localhost", MinVersion: p.Version, MaxVersion: p.Version}
	if p.Resume {
		cli.ClientSessionCache = tls.NewLRUClientSessionCache(256)
	}
	release = func() {}
	if p.Suite != 0 {
		if p.Version == tls.VersionTLS13 {
			if release, err = forceTLS13Suite(p.Suite); err != nil {
				return nil, nil, nil, err
			}
		} else {
			srv.CipherSuites = []uint16{p.Suite}
			cli.CipherSuites = []uint16{p.Suite}
		}
	}
	return srv, cli, release, nil
}

func configureGoTLS(pki *PKI, p Params) (*Endpoints, error) {
	srv, cli, release, err := goTLSConfigs(pki, p)
	if err != nil {
		return nil, err
	}
	hs := func(ctx context.Context, c *tls.Conn) (Conn, error) {
		if err := c.HandshakeContext(ctx); err != nil {
			_ = c.Close()
			return nil, err
		}
		if p.WriteThrough {
			return goConn{c}, nil
		}
		return newBufConn(c), nil
	}
	return &Endpoints{
		Server: func(ctx context.Context, conn net.Conn) (Conn, error) { return hs(ctx, tls.Server(conn, srv)) },
		Client: func(ctx context.Context, conn net.Conn) (Conn, error) { return hs(ctx, tls.Client(conn, cli)) },
		Close:  release,
	}, nil
}

// serveGoHTTP serves h with net/http over crypto/tls (HTTP/2 through
// net/http's own ALPN switch).
func serveGoHTTP(pki *PKI, p Params, ln net.Listener, h http.Handler) (func(), error) {
	cfg, _, release, err := goTLSConfigs(pki, p)
	if err != nil {
		return nil, err
	}
	cfg.NextProtos = []string{"h2", "http/1.1"}
	// Close does not wait for the connections' goroutines, which may still
	// be in a handshake reading the forced suite list: count them, so that
	// stop restores the list only once they are gone.
	var conns sync.WaitGroup
	srv := &http.Server{Handler: h, TLSConfig: cfg, ErrorLog: log.New(io.Discard, "", 0),
		ConnState: func(_ net.Conn, st http.ConnState) {
			switch st {
			case http.StateNew:
				conns.Add(1)
			case http.StateClosed, http.StateHijacked:
				conns.Done()
			}
		}}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.ServeTLS(ln, "", "")
	}()
	return func() {
		_ = srv.Close()
		<-done
		gone := make(chan struct{})
		go func() { conns.Wait(); close(gone) }()
		select {
		case <-gone:
			release()
		case <-time.After(30 * time.Second):
			// A connection goroutine is stuck: leave the suite forced
			// rather than race with it.
		}
	}, nil
}
