package rustlshttp

import (
	"bufio"
	"context"
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

// A client that sends fewer bytes than the plaintext sniffing peeks at
// (1-3) and then half-closes has ended its side: the TLS handshake sees
// EOF and fails at once, as it did before the server peeked at sockets.
// The server must not wait for the whole handshake timeout for bytes
// that can never come: its answer (the connection closed) must arrive well
// before the timeout, here a long one.
func TestAttack12ShortHelloThenEOFIsDroppedPromptly(t *testing.T) {
	p := newPKI(t)
	const hsTimeout = 30 * time.Second
	srv := &Server{Config: p.serverConfig(t, "http/1.1"), Handler: infoHandler,
		Options: rustls.StreamOptions{HandshakeTimeout: hsTimeout}}
	_, url := startServer(t, srv)
	addr := strings.TrimPrefix(url, "https://")
	for _, first := range []string{"\x16", "\x16\x03", "\x16\x03\x01", "G", "GE", "GET"} {
		c, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		_, err = c.Write([]byte(first))
		require.NoError(t, err)
		require.NoError(t, c.(*net.TCPConn).CloseWrite())
		// Far below hsTimeout, far above any honest processing time.
		require.NoError(t, c.SetReadDeadline(time.Now().Add(5*time.Second)))
		_, err = io.ReadAll(c)
		var ne net.Error
		assert.False(t, err != nil && asNetErr(err, &ne) && ne.Timeout(),
			"%q then EOF: the server kept the connection open (waiting for the handshake timeout)", first)
		c.Close()
	}
}

// A TLS ClientHello trickled one byte per TCP segment still completes,
// and an HTTP request trickled the same way still gets the plaintext
// answer.
func TestAttack12TrickledFirstBytes(t *testing.T) {
	p := newPKI(t)
	srv := &Server{Config: p.serverConfig(t, "http/1.1"), Handler: infoHandler,
		Options: rustls.StreamOptions{HandshakeTimeout: 10 * time.Second}}
	_, url := startServer(t, srv)
	addr := strings.TrimPrefix(url, "https://")

	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.(*net.TCPConn).SetNoDelay(true))
	require.NoError(t, c.SetDeadline(time.Now().Add(10*time.Second)))
	// The server answers as soon as it has seen "GET ", and closes.
	for _, b := range []byte("GET ") {
		_, err := c.Write([]byte{b})
		require.NoError(t, err)
		time.Sleep(2 * time.Millisecond)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)

	// TLS, every byte its own segment.
	raw, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer raw.Close()
	require.NoError(t, raw.(*net.TCPConn).SetNoDelay(true))
	tr := &trickleConn{Conn: raw}
	ccfg := p.clientConfig(t, "http/1.1")
	ctx := t.Context()
	st, err := rustls.NewConnector(ccfg, rustls.StreamOptions{HandshakeTimeout: 10 * time.Second}).Connect(ctx, tr, "localhost")
	require.NoError(t, err)
	defer st.Close()
	require.NoError(t, st.SetDeadline(time.Now().Add(10*time.Second)))
	_, err = st.Write([]byte("GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"))
	require.NoError(t, err)
	require.NoError(t, st.Flush())
	resp, err = http.ReadResponse(bufio.NewReader(st), nil)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
}

// trickleConn writes one byte per write call until the handshake's first
// flight is out.
type trickleConn struct {
	net.Conn
	sent int
}

func (c *trickleConn) Write(p []byte) (int, error) {
	if c.sent > 600 {
		return c.Conn.Write(p)
	}
	for i := range p {
		if _, err := c.Conn.Write(p[i : i+1]); err != nil {
			return i, err
		}
		c.sent++
		time.Sleep(200 * time.Microsecond)
	}
	return len(p), nil
}

func asNetErr(err error, ne *net.Error) bool {
	e, ok := err.(net.Error)
	if ok {
		*ne = e
	}
	return ok
}

// bufferedTCPConn is a listener wrapper of a common kind: it has already
// read the client's first bytes into its own buffer (to look at them, or
// to parse a PROXY header) and serves Read from there. It embeds
// *net.TCPConn, so it is a syscall.Conn too, but the socket no longer
// holds what the client sent first.
type bufferedTCPConn struct {
	*net.TCPConn
	r *bufio.Reader
}

func (c *bufferedTCPConn) Read(p []byte) (int, error) { return c.r.Read(p) }

type bufferingListener struct{ net.Listener }

func (l bufferingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	tc := c.(*net.TCPConn)
	r := bufio.NewReaderSize(tc, 64<<10)
	_ = tc.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, _ = r.Peek(1) // reads the whole first segment into r
	_ = tc.SetReadDeadline(time.Time{})
	return &bufferedTCPConn{TCPConn: tc, r: r}, nil
}

// A connection whose Read is not the socket's (a wrapper with bytes
// buffered) must be sniffed through its Read, not by peeking at the
// socket underneath: a TLS client gets its handshake, not the handshake
// timeout; a plaintext client gets the plaintext answer.
func TestAttack12WrappedConnWithBufferedBytes(t *testing.T) {
	p := newPKI(t)
	srv := &Server{Config: p.serverConfig(t, "http/1.1"), Handler: infoHandler,
		Options: rustls.StreamOptions{HandshakeTimeout: 20 * time.Second}}
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(bufferingListener{inner}) }()
	t.Cleanup(func() {
		srv.Close()
		<-done
	})
	addr := inner.Addr().String()

	raw, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer raw.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := rustls.NewConnector(p.clientConfig(t, "http/1.1"), rustls.StreamOptions{}).Connect(ctx, raw, "localhost")
	require.NoError(t, err, "TLS handshake through a buffering listener")
	st.Close()

	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.SetDeadline(time.Now().Add(5*time.Second)))
	_, err = c.Write([]byte("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"))
	require.NoError(t, err)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	require.NoError(t, err, "plaintext answer through a buffering listener")
	resp.Body.Close()
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
}
