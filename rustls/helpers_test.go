package rustls

import (
	"context"
	"crypto/tls"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// tcpPair returns two ends of a loopback TCP connection.
func tcpPair(t testing.TB) (client, server net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	ch := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			ch <- nil
			return
		}
		ch <- c
	}()
	client, err = net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	server = <-ch
	require.NotNil(t, server)
	// Also keeps both ends referenced: a test that drops one (to play a
	// silent peer) must not have it closed by its finalizer at the next GC.
	t.Cleanup(func() { client.Close(); server.Close() })
	return client, server
}

func serverConfig(t testing.TB, mod func(*ServerOptions)) *ServerConfig {
	t.Helper()
	_, srv, _ := pki(t)
	o := ServerOptions{Certificates: []*CertifiedKey{srv.certifiedKey(t)}}
	if mod != nil {
		mod(&o)
	}
	cfg, err := NewServerConfig(o)
	require.NoError(t, err)
	t.Cleanup(func() { cfg.Close() })
	return cfg
}

func clientConfig(t testing.TB, mod func(*ClientOptions)) *ClientConfig {
	t.Helper()
	ca, _, _ := pki(t)
	o := ClientOptions{RootCAs: ca.certPEM}
	if mod != nil {
		mod(&o)
	}
	cfg, err := NewClientConfig(o)
	require.NoError(t, err)
	t.Cleanup(func() { cfg.Close() })
	return cfg
}

// rustlsPair connects a gorustls client and server over loopback TCP.
func rustlsPair(t testing.TB, scfg *ServerConfig, ccfg *ClientConfig, sopts, copts StreamOptions) (client, server *Stream) {
	t.Helper()
	cc, sc := tcpPair(t)
	ctx := testCtx(t)
	type res struct {
		s   *Stream
		err error
	}
	ch := make(chan res, 1)
	go func() {
		s, err := NewAcceptor(scfg, sopts).Accept(ctx, sc)
		ch <- res{s, err}
	}()
	client, err := NewConnector(ccfg, copts).Connect(ctx, cc, "localhost")
	require.NoError(t, err)
	r := <-ch
	require.NoError(t, r.err)
	t.Cleanup(func() { client.Close(); r.s.Close() })
	return client, r.s
}

func goTLSServerConfig(t testing.TB) *tls.Config {
	_, srv, _ := pki(t)
	return &tls.Config{Certificates: []tls.Certificate{srv.tlsCert(t)}}
}

func goTLSClientConfig(t testing.TB) *tls.Config {
	ca, _, _ := pki(t)
	return &tls.Config{RootCAs: ca.pool(), ServerName: "localhost"}
}

// echAvailable reports whether the build's provider has HPKE suites (what
// ECH and ECH GREASE need): aws-lc-rs has, ring has not.
func echAvailable() bool { return BuildProvider() != "ring" }

// requireNoHPKE checks the error a ring build gives any ECH config: a
// clear ErrInvalidInput naming the missing HPKE suites.
func requireNoHPKE(t testing.TB, err error) {
	t.Helper()
	e := requireCode(t, err, Code(7019))
	assert.ErrorIs(t, err, ErrInvalidInput)
	assert.Contains(t, e.Error(), "no HPKE suites")
}
