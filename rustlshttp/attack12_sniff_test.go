package rustlshttp

import (
	"bufio"
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
