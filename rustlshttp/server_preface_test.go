package rustlshttp

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorustls/gorustls/rustls"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/http2"
)

// dialH2 handshakes with addr offering only h2.
func dialH2(t *testing.T, p *testPKI, url string) *rustls.Stream {
	t.Helper()
	s, err := rustlsDial(t, strings.TrimPrefix(url, "https://"), p.clientConfig(t, "h2"))
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	require.Equal(t, "h2", s.ConnectionState().NegotiatedProtocol)
	require.NoError(t, s.SetDeadline(time.Now().Add(10*time.Second)))
	return s
}

// requireDropped reads s to its end and requires that the server sent
// nothing and closed the connection (the read did not time out).
func requireDropped(t *testing.T, s *rustls.Stream, what string) {
	t.Helper()
	got, err := io.ReadAll(s)
	assert.Empty(t, string(got), "%s: the server answered", what)
	var ne net.Error
	assert.False(t, errors.As(err, &ne) && ne.Timeout(), "%s: the connection was not dropped (%v)", what, err)
}

// A client that negotiated h2 and sends anything but the HTTP/2 client
// preface is closed without a byte answered, whatever it sent (HTTP/1, a
// preface wrong in its last byte, a short line), and the server says why
// in its log.
func TestServerH2WrongPrefaceClosedSilently(t *testing.T) {
	p := newPKI(t)
	var logs syncLog
	_, url := startServer(t, &Server{Config: p.serverConfig(t, "h2", "http/1.1"), Handler: infoHandler, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	for _, sent := range []string{
		"PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n",
		http2.ClientPreface[:len(http2.ClientPreface)-1] + "X",
		"GET / HTTP/1.0\r\n\r\n",
		"HEAD / HTTP/1.1\r\nHost: localhost\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n",
		"\x00",
	} {
		s := dialH2(t, p, url)
		_, err := io.WriteString(s, sent)
		require.NoError(t, err)
		requireDropped(t, s, sent)
	}
	assert.Contains(t, logs.String(), "did not send the HTTP/2 client preface")
}

// A client that negotiated h2 and then says nothing is dropped once the
// preface timeout (here the handshake timeout) runs out, even with no
// read timeout in HTTP1.
func TestServerH2SilentClientDropped(t *testing.T) {
	p := newPKI(t)
	var logs syncLog
	_, url := startServer(t, &Server{Config: p.serverConfig(t, "h2", "http/1.1"), Handler: infoHandler,
		Options: rustls.StreamOptions{HandshakeTimeout: 300 * time.Millisecond}, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	s := dialH2(t, p, url)
	requireDropped(t, s, "nothing")
	require.Eventually(t, func() bool { return strings.Contains(logs.String(), "sent no HTTP/2 client preface") },
		10*time.Second, 10*time.Millisecond)
}

// The preface may arrive in pieces (one TLS record each): the connection
// is then served over HTTP/2 as usual.
func TestServerH2PrefaceInPieces(t *testing.T) {
	p := newPKI(t)
	_, url := startServer(t, &Server{Config: p.serverConfig(t, "h2", "http/1.1"), Handler: infoHandler})
	s := dialH2(t, p, url)
	for _, piece := range []string{"P", "RI * HTTP/2.0\r\n", "\r\nSM\r\n", "\r\n"} {
		_, err := io.WriteString(s, piece)
		require.NoError(t, err)
	}
	fr := http2.NewFramer(s, s)
	require.NoError(t, fr.WriteSettings())
	f, err := fr.ReadFrame()
	require.NoError(t, err)
	assert.IsType(t, (*http2.SettingsFrame)(nil), f, "the server's first frame")
}

// Shutdown does not wait for a client that negotiated h2 and sent no
// preface yet: its connection is closed at once.
func TestServerShutdownDropsH2ClientWithoutPreface(t *testing.T) {
	p := newPKI(t)
	handshaken := make(chan struct{}, 1)
	srv := &Server{Config: p.serverConfig(t, "h2", "http/1.1"), Handler: infoHandler,
		Options:     rustls.StreamOptions{HandshakeTimeout: time.Hour},
		OnHandshake: func(*rustls.Stream) { handshaken <- struct{}{} }}
	_, url := startServer(t, srv)
	s := dialH2(t, p, url)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	select {
	case <-handshaken: // the server waits for the preface from here on
	case <-ctx.Done():
		t.Fatal("the server did not finish the handshake")
	}
	require.NoError(t, srv.Shutdown(ctx))
	requireDropped(t, s, "nothing")
}

// The preface timeout is the handshake timeout, or HTTP1's read-header
// timeout (its read timeout when that is zero) when shorter.
func TestServerPrefaceTimeout(t *testing.T) {
	for _, tc := range []struct {
		opt, header, read, write time.Duration
		handshake, preface       time.Duration
	}{
		{handshake: rustls.DefaultHandshakeTimeout, preface: rustls.DefaultHandshakeTimeout},
		{opt: time.Minute, header: time.Second, handshake: time.Minute, preface: time.Second},
		{opt: time.Second, header: time.Minute, handshake: time.Second, preface: time.Second},
		{opt: time.Minute, read: 2 * time.Second, handshake: time.Minute, preface: 2 * time.Second},
		{header: 3 * time.Second, read: 2 * time.Second, handshake: 2 * time.Second, preface: 2 * time.Second},
		{write: time.Second, handshake: time.Second, preface: time.Second},
	} {
		srv := &Server{Config: &rustls.ServerConfig{}, Options: rustls.StreamOptions{HandshakeTimeout: tc.opt},
			HTTP1: &http.Server{ReadHeaderTimeout: tc.header, ReadTimeout: tc.read, WriteTimeout: tc.write}}
		require.NoError(t, srv.init())
		assert.Equal(t, tc.handshake, srv.snap.opts.HandshakeTimeout, "%+v", tc)
		assert.Equal(t, tc.preface, srv.snap.preface, "%+v", tc)
	}
}
