package rustls

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// cryptoTLSHelloInfo returns the ClientHelloInfo a crypto/tls server
// gives GetConfigForClient for the records in wire (false when crypto/tls
// does not get that far).
func cryptoTLSHelloInfo(wire []byte) (*tls.ClientHelloInfo, bool) {
	var got *tls.ClientHelloInfo
	cfg := &tls.Config{GetConfigForClient: func(info *tls.ClientHelloInfo) (*tls.Config, error) {
		cp := *info
		got = &cp
		return nil, errors.New("captured")
	}}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = tls.Server(&infoConn{r: bytes.NewReader(wire)}, cfg).HandshakeContext(ctx)
	return got, got != nil
}

// recordConn records what is written to it; reads fail.
type recordConn struct {
	infoConn
	buf bytes.Buffer
}

func (c *recordConn) Write(p []byte) (int, error) { return c.buf.Write(p) }
func (c *recordConn) Read([]byte) (int, error)    { return 0, io.EOF }

// goClientHello returns the ClientHello records a crypto/tls client with
// cfg sends.
func goClientHello(t testing.TB, cfg *tls.Config) []byte {
	c := &recordConn{}
	_ = tls.Client(c, cfg).Handshake()
	require.NotZero(t, c.buf.Len())
	return c.buf.Bytes()
}

// lazyTLSServe runs la.Accept on a fresh TCP pair and echoes one read.
func lazyTLSServe(t *testing.T, la *LazyAcceptor) (net.Conn, <-chan error) {
	return lazyServe(t, &LazyAcceptor{Choose: la.Choose, Options: StreamOptions{WriteThrough: true, Logger: la.Options.Logger}})
}

func TestLazyAcceptorFromTLSClientHelloInfoAsCryptoTLS(t *testing.T) {
	ca := newTestCA(t, "hello info CA")
	a := ca.leaf(t, leafOpts{}, "a.test").tlsCert(t)
	b := ca.leaf(t, leafOpts{}, "b.test").tlsCert(t)
	clientCfg := func() *tls.Config {
		return &tls.Config{RootCAs: ca.pool(), ServerName: "b.test", NextProtos: []string{"h2", "http/1.1"}}
	}
	want, ok := cryptoTLSHelloInfo(goClientHello(t, clientCfg()))
	require.True(t, ok)

	type seen struct {
		name     string
		info     tls.ClientHelloInfo
		local    net.Addr
		ctxAlive bool
		deadline bool
		supports [2]error
	}
	var mu sync.Mutex
	var calls []seen
	record := func(name string, info *tls.ClientHelloInfo) {
		s := seen{name: name, info: *info}
		s.local = info.Conn.LocalAddr() // nil Conn used to kill the process
		ctx := info.Context()
		s.ctxAlive = ctx != nil && ctx.Err() == nil
		if ctx != nil {
			_, s.deadline = ctx.Deadline()
		}
		s.supports = [2]error{info.SupportsCertificate(&a), info.SupportsCertificate(&b)}
		mu.Lock()
		calls = append(calls, s)
		mu.Unlock()
	}
	inner := &tls.Config{Certificates: []tls.Certificate{a, b},
		GetCertificate: func(info *tls.ClientHelloInfo) (*tls.Certificate, error) {
			record("GetCertificate", info)
			for _, c := range []*tls.Certificate{&a, &b} {
				if info.SupportsCertificate(c) == nil {
					return c, nil
				}
			}
			return nil, errors.New("no certificate")
		}}
	base := &tls.Config{Certificates: []tls.Certificate{a},
		GetConfigForClient: func(info *tls.ClientHelloInfo) (*tls.Config, error) {
			record("GetConfigForClient", info)
			return inner, nil
		}}
	la, err := LazyAcceptorFromTLS(base, nil)
	require.NoError(t, err)

	conn, res := lazyTLSServe(t, la)
	gc := tls.Client(conn, clientCfg())
	require.NoError(t, gc.HandshakeContext(testCtx(t)))
	_, err = gc.Write([]byte("x"))
	require.NoError(t, err)
	_, err = io.ReadFull(gc, make([]byte, 1))
	require.NoError(t, err)
	require.NoError(t, <-res)
	assert.Equal(t, []string{"b.test"}, gc.ConnectionState().PeerCertificates[0].DNSNames)
	gc.Close()

	require.Len(t, calls, 2)
	for i, name := range []string{"GetConfigForClient", "GetCertificate"} {
		c := calls[i]
		assert.Equal(t, name, c.name)
		assert.Equal(t, conn.RemoteAddr(), c.local, name)
		assert.True(t, c.ctxAlive, "%s: Context() must be live during the callback", name)
		assert.True(t, c.deadline, "%s: Context() carries the handshake's deadline", name)
		assert.Equal(t, want.ServerName, c.info.ServerName, name)
		assert.Equal(t, want.CipherSuites, c.info.CipherSuites, name)
		assert.Equal(t, want.SupportedVersions, c.info.SupportedVersions, name)
		assert.Equal(t, want.SupportedCurves, c.info.SupportedCurves, name)
		assert.Equal(t, want.SupportedPoints, c.info.SupportedPoints, name)
		assert.Equal(t, want.SignatureSchemes, c.info.SignatureSchemes, name)
		assert.Equal(t, want.SupportedProtos, c.info.SupportedProtos, name)
		assert.Equal(t, want.Extensions, c.info.Extensions, name)
		// As under crypto/tls: a is not valid for b.test, b is.
		assert.Error(t, c.supports[0], name)
		assert.NoError(t, c.supports[1], name)
	}
}

func TestLazyAcceptorFromTLSSupportsCertificateSeesConfig(t *testing.T) {
	// SupportsCertificate checks versions against the config whose
	// callback runs: with MinVersion TLS 1.3, a TLS 1.2-only client is
	// unsupported and a TLS 1.3 client is supported, as crypto/tls reports.
	_, srv, _ := pki(t)
	cert := srv.tlsCert(t)
	var mu sync.Mutex
	var got []error
	la, err := LazyAcceptorFromTLS(&tls.Config{MinVersion: tls.VersionTLS13,
		GetCertificate: func(info *tls.ClientHelloInfo) (*tls.Certificate, error) {
			mu.Lock()
			got = append(got, info.SupportsCertificate(&cert))
			mu.Unlock()
			return &cert, nil
		}}, nil)
	require.NoError(t, err)
	for _, maxV := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		conn, res := lazyTLSServe(t, la)
		gc := tls.Client(conn, &tls.Config{RootCAs: ca(t).pool(), ServerName: "localhost", MaxVersion: maxV})
		err := gc.HandshakeContext(testCtx(t))
		if maxV == tls.VersionTLS13 {
			require.NoError(t, err)
			_, _ = gc.Write([]byte("x"))
		}
		<-res
		gc.Close()
	}
	require.Len(t, got, 2)
	assert.ErrorContains(t, got[0], "no mutually supported protocol versions")
	assert.NoError(t, got[1])
}

func ca(t testing.TB) *testCA {
	c, _, _ := pki(t)
	return c
}

// logBuffer is a concurrency-safe slog destination.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// clientAlert runs a crypto/tls handshake over conn and returns the alert
// the server refused it with.
func clientAlert(t *testing.T, conn net.Conn) string {
	t.Helper()
	gc := tls.Client(conn, &tls.Config{InsecureSkipVerify: true, ServerName: "localhost"})
	err := gc.HandshakeContext(testCtx(t))
	require.Error(t, err)
	var ae tls.AlertError
	if errors.As(err, &ae) {
		return ae.Error()
	}
	return err.Error()
}

func nilHello() *ClientHello { return nil }

func TestLazyAcceptorChoosePanicFailsOnlyThatConnection(t *testing.T) {
	scfg := serverConfig(t, nil)
	var logs logBuffer
	var n int
	var mu sync.Mutex
	la := &LazyAcceptor{
		Choose: func(h *ClientHello) (*ServerConfig, error) {
			mu.Lock()
			n++
			first := n == 1
			mu.Unlock()
			if first {
				_ = nilHello().ServerName // nil pointer dereference
			}
			return scfg, nil
		},
		Options: StreamOptions{Logger: slog.New(slog.NewTextHandler(&logs, nil))},
	}
	conn, res := lazyTLSServe(t, la)
	assert.Equal(t, "remote error: tls: internal error", clientAlert(t, conn))
	err := <-res
	var e *Error
	require.ErrorAs(t, err, &e)
	var re *RefuseError
	require.ErrorAs(t, err, &re)
	assert.Equal(t, AlertInternalError, re.Alert)
	assert.Contains(t, e.Error(), "LazyAcceptor.Choose panicked")
	assert.Contains(t, e.Error(), "nil pointer dereference")
	var rte interface{ RuntimeError() }
	assert.ErrorAs(t, err, &rte, "the runtime error is wrapped")
	assert.Contains(t, logs.String(), "LazyAcceptor.Choose panicked")

	// The acceptor keeps working.
	conn, res = lazyTLSServe(t, la)
	gc := tls.Client(conn, goTLSClientConfig(t))
	require.NoError(t, gc.HandshakeContext(testCtx(t)))
	_, err = gc.Write([]byte("ok"))
	require.NoError(t, err)
	_, err = io.ReadFull(gc, make([]byte, 2))
	require.NoError(t, err)
	require.NoError(t, <-res)
	gc.Close()
}

func TestLazyAcceptorFromTLSCallbackPanics(t *testing.T) {
	_, srv, _ := pki(t)
	cert := srv.tlsCert(t)
	for _, name := range []string{"GetConfigForClient", "GetCertificate"} {
		t.Run(name, func(t *testing.T) {
			var mu sync.Mutex
			calls := 0
			boom := func() bool {
				mu.Lock()
				defer mu.Unlock()
				calls++
				return calls == 1
			}
			cfg := &tls.Config{Certificates: []tls.Certificate{cert}}
			if name == "GetConfigForClient" {
				cfg.GetConfigForClient = func(info *tls.ClientHelloInfo) (*tls.Config, error) {
					if boom() {
						panic(errors.New("config lookup exploded"))
					}
					return nil, nil
				}
			} else {
				cfg.GetCertificate = func(info *tls.ClientHelloInfo) (*tls.Certificate, error) {
					if boom() {
						var p *tls.Certificate
						_ = p.Leaf // nil pointer dereference
					}
					return &cert, nil
				}
			}
			var logs logBuffer
			la, err := LazyAcceptorFromTLS(cfg, &FromTLSOptions{Options: StreamOptions{Logger: slog.New(slog.NewTextHandler(&logs, nil))}})
			require.NoError(t, err)

			conn, res := lazyTLSServe(t, la)
			assert.Equal(t, "remote error: tls: internal error", clientAlert(t, conn))
			err = <-res
			var e *Error
			require.ErrorAs(t, err, &e)
			assert.Contains(t, e.Error(), "tls.Config."+name+" panicked")
			var re *RefuseError
			require.ErrorAs(t, err, &re)
			assert.Equal(t, AlertInternalError, re.Alert)
			assert.Contains(t, logs.String(), "tls.Config."+name+" panicked")

			conn, res = lazyTLSServe(t, la)
			gc := tls.Client(conn, goTLSClientConfig(t))
			require.NoError(t, gc.HandshakeContext(testCtx(t)))
			_, err = gc.Write([]byte("ok"))
			require.NoError(t, err)
			_, err = io.ReadFull(gc, make([]byte, 2))
			require.NoError(t, err)
			require.NoError(t, <-res)
			gc.Close()
		})
	}
}

func TestClientHelloCarriesConnContextAndLists(t *testing.T) {
	cc, sc := tcpPair(t)
	defer cc.Close()
	defer sc.Close()
	gcfg := &tls.Config{ServerName: "lists.test", InsecureSkipVerify: true, NextProtos: []string{"x"}}
	want, ok := cryptoTLSHelloInfo(goClientHello(t, gcfg))
	require.True(t, ok)
	go func() { _ = tls.Client(cc, gcfg).HandshakeContext(testCtx(t)) }()
	ctx := testCtx(t)
	h, err := ReadClientHello(ctx, sc)
	require.NoError(t, err)
	defer h.Abandon()
	hello := h.ClientHello()
	assert.Equal(t, sc, hello.Conn())
	assert.Equal(t, ctx, hello.Context())
	assert.Equal(t, want.SupportedVersions, hello.SupportedVersions)
	assert.Equal(t, want.SupportedPoints, hello.SupportedPoints)
	assert.Equal(t, want.Extensions, hello.Extensions)
	var curves []tls.CurveID
	for _, g := range hello.SupportedGroups {
		curves = append(curves, tls.CurveID(g))
	}
	assert.Equal(t, want.SupportedCurves, curves)
	assert.True(t, slices.Contains(hello.SupportedVersions, tls.VersionTLS13))
}

func TestServerConfigFromTLSGetCertificateContextAndPanic(t *testing.T) {
	_, srv, _ := pki(t)
	cert := srv.tlsCert(t)
	var mu sync.Mutex
	calls := 0
	var ctxOK bool
	scfg, err := ServerConfigFromTLS(&tls.Config{GetCertificate: func(info *tls.ClientHelloInfo) (*tls.Certificate, error) {
		mu.Lock()
		calls++
		n := calls
		mu.Unlock()
		if n == 1 {
			panic("certificate store unavailable")
		}
		_, deadline := info.Context().Deadline()
		ctxOK = info.Context().Err() == nil && deadline // the handshake's context, with its deadline
		return &cert, nil
	}}, nil)
	require.NoError(t, err)
	defer scfg.Close()
	r := goClientToServer(t, scfg, goTLSClientConfig(t))
	require.Error(t, r.clientErr)
	require.Error(t, r.serverErr)
	assert.Contains(t, r.serverErr.Error(), "tls.Config.GetCertificate panicked")
	r = goClientToServer(t, scfg, goTLSClientConfig(t))
	require.NoError(t, r.clientErr)
	assert.True(t, ctxOK, "Context() is live")
}
