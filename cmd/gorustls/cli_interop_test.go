package main

import (
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// goTLSServer serves one crypto/tls connection at a time with fn.
func goTLSServer(t *testing.T, leaf *memLeaf, fn func(*tls.Conn)) string {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{leaf.tls}})
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go fn(c.(*tls.Conn))
		}
	}()
	return ln.Addr().String()
}

func TestConnectAgainstGoTLS(t *testing.T) {
	ca, err := newMemCA("interop CA")
	require.NoError(t, err)
	leaf, err := ca.leaf(false, "localhost", "127.0.0.1")
	require.NoError(t, err)
	caFile := writeTestFile(t, "ca.pem", ca.pem)

	// Clean close: the server answers, then sends close_notify.
	clean := goTLSServer(t, leaf, func(c *tls.Conn) {
		defer c.Close()
		b, _ := io.ReadAll(c) // until the client's close_notify
		fmt.Fprintf(c, "got %d bytes", len(b))
	})
	r := runCLI(t, "0123456789", "connect", "-ca", caFile, clean)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, "got 10 bytes", r.stdout)

	// Truncation: data, then a TCP close without close_notify.
	trunc := goTLSServer(t, leaf, func(c *tls.Conn) {
		if err := c.Handshake(); err == nil {
			_, _ = c.Write([]byte("partial"))
		}
		// FIN without close_notify. Closing outright could turn into a
		// reset (the client's close_notify may be unread), which is a
		// different failure than truncation.
		_ = c.NetConn().(*net.TCPConn).CloseWrite()
		_, _ = io.Copy(io.Discard, c.NetConn())
		_ = c.NetConn().Close()
	})
	r = runCLI(t, "", "connect", "-ca", caFile, trunc)
	assert.NotEqual(t, 0, r.code)
	assert.Equal(t, "partial", r.stdout)
	assert.Contains(t, r.stderr, "truncated")

	// Wrong name.
	r = runCLI(t, "", "connect", "-ca", caFile, "-servername", "other.test", clean)
	assert.NotEqual(t, 0, r.code)
	assert.Contains(t, r.stderr, "certificate")

	// Nothing listening.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	closed := l.Addr().String()
	l.Close()
	r = runCLI(t, "", "connect", "-ca", caFile, closed)
	assert.NotEqual(t, 0, r.code)
	assert.Contains(t, r.stderr, "gorustls connect:")
}

func TestGetAgainstGoServer(t *testing.T) {
	ca, err := newMemCA("interop CA")
	require.NoError(t, err)
	leaf, err := ca.leaf(false, "localhost", "127.0.0.1")
	require.NoError(t, err)
	caFile := writeTestFile(t, "ca.pem", ca.pem)
	for _, h2 := range []bool{true, false} {
		srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "%s from crypto/tls", r.Proto)
		}))
		srv.EnableHTTP2 = h2
		srv.TLS = &tls.Config{Certificates: []tls.Certificate{leaf.tls}}
		srv.StartTLS()
		r := runCLI(t, "", "get", "-ca", caFile, srv.URL+"/")
		srv.Close()
		require.Equal(t, 0, r.code, r.stderr)
		want := "HTTP/1.1 from crypto/tls"
		if h2 {
			want = "HTTP/2.0 from crypto/tls"
		}
		assert.Equal(t, want, r.stdout)
	}
}

func TestGoClientsAgainstServe(t *testing.T) {
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	srv := startServe(t, "-write-ca", caFile, "-mode", "http")
	ca, err := readPool(caFile)
	require.NoError(t, err)
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca}, ForceAttemptHTTP2: true}}
	defer c.CloseIdleConnections()
	resp, err := c.Get("https://" + srv.addr + "/bytes/5000")
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	assert.Len(t, body, 5000)
	assert.Equal(t, "HTTP/2.0", resp.Proto)

	// Plaintext HTTP to the TLS port gets a clear answer.
	conn, err := net.Dial("tcp", srv.addr)
	require.NoError(t, err)
	defer conn.Close()
	_, err = conn.Write([]byte("GET / HTTP/1.0\r\n\r\n"))
	require.NoError(t, err)
	answer, _ := io.ReadAll(conn)
	assert.Contains(t, string(answer), "400 Bad Request")
	assert.Equal(t, 0, srv.stop(t))
}
