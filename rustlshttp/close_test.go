package rustlshttp

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorustls/gorustls/rustls"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestServerHandsBareTCPConnToStream: the server tells a plaintext HTTP
// client apart by peeking at the socket, so the Stream gets the bare
// *net.TCPConn and with it its socket fast paths (direct output, Close's
// wait for the peer), which a wrapper hid from it.
func TestServerHandsBareTCPConnToStream(t *testing.T) {
	p := newPKI(t)
	got := make(chan net.Conn, 1)
	srv := &Server{Config: p.serverConfig(t, "http/1.1"), Handler: infoHandler,
		OnHandshake: func(st *rustls.Stream) { got <- st.NetConn() }}
	_, url := startServer(t, srv)
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: p.pool}}}
	defer c.CloseIdleConnections()
	_, body := get(t, c, url+"/", "")
	assert.True(t, strings.HasPrefix(body, "HTTP/1.1"), body)
	assert.IsType(t, &net.TCPConn{}, <-got)
}

// wrappedListener hands out connections that are no sockets to the
// server (no SyscallConn), as a custom listener may.
type wrappedListener struct{ net.Listener }

type opaqueConn struct{ inner net.Conn }

func (c opaqueConn) Read(p []byte) (int, error)         { return c.inner.Read(p) }
func (c opaqueConn) Write(p []byte) (int, error)        { return c.inner.Write(p) }
func (c opaqueConn) Close() error                       { return c.inner.Close() }
func (c opaqueConn) LocalAddr() net.Addr                { return c.inner.LocalAddr() }
func (c opaqueConn) RemoteAddr() net.Addr               { return c.inner.RemoteAddr() }
func (c opaqueConn) SetDeadline(t time.Time) error      { return c.inner.SetDeadline(t) }
func (c opaqueConn) SetReadDeadline(t time.Time) error  { return c.inner.SetReadDeadline(t) }
func (c opaqueConn) SetWriteDeadline(t time.Time) error { return c.inner.SetWriteDeadline(t) }

func (l wrappedListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return opaqueConn{c}, nil
}

// TestServerSniffsConnsItCannotPeekAt: on a connection that is no socket
// the server still answers a plaintext HTTP client in kind (through its
// sniffing wrapper), and serves TLS clients.
func TestServerSniffsConnsItCannotPeekAt(t *testing.T) {
	p := newPKI(t)
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &Server{Config: p.serverConfig(t, "http/1.1"), Handler: infoHandler}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(wrappedListener{inner}) }()
	defer func() {
		require.NoError(t, srv.Close())
		<-done
	}()
	addr := inner.Addr().String()

	assert.Equal(t, http.StatusBadRequest, plaintextGet(t, addr).StatusCode)

	tc, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: p.pool, ServerName: "localhost", NextProtos: []string{"http/1.1"}})
	require.NoError(t, err)
	defer tc.Close()
	require.NoError(t, tc.SetDeadline(time.Now().Add(10*time.Second)))
	_, err = io.WriteString(tc, "GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
	require.NoError(t, err)
	resp2, err := http.ReadResponse(bufio.NewReader(tc), nil)
	require.NoError(t, err)
	defer resp2.Body.Close()
	assert.Equal(t, http.StatusOK, resp2.StatusCode)
}

// TestServerConnectionCloseDeliversWholeResponse: the server answers a
// "Connection: close" request with a large body and closes, while the
// client, slow to read, has sent more than the server reads: the client
// gets the whole body.
func TestServerConnectionCloseDeliversWholeResponse(t *testing.T) {
	p := newPKI(t)
	body := bytes.Repeat([]byte("0123456789abcdef"), 256<<10) // 4 MiB
	srv := &Server{Config: p.serverConfig(t, "http/1.1"), Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write(body)
	})}
	_, url := startServer(t, srv)
	addr := strings.TrimPrefix(url, "https://")
	for i := 0; i < 3; i++ {
		raw, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		c := tls.Client(raw, &tls.Config{RootCAs: p.pool, ServerName: "localhost", NextProtos: []string{"http/1.1"}})
		require.NoError(t, c.SetDeadline(time.Now().Add(20*time.Second)))
		_, err = io.WriteString(c, "GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
		require.NoError(t, err)
		br := bufio.NewReader(c)
		resp, err := http.ReadResponse(br, nil)
		require.NoError(t, err)
		_, err = io.WriteString(c, "GET /next HTTP/1.1\r\nHost: localhost\r\n\r\n")
		require.NoError(t, err)
		time.Sleep(100 * time.Millisecond) // the body piles up in flight
		got, err := io.ReadAll(resp.Body)
		require.NoError(t, err, "round %d: read %d of %d bytes", i, len(got), len(body))
		require.True(t, bytes.Equal(body, got), "round %d: body corrupted", i)
		_ = c.Close()
	}
}
