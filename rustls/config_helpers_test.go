package rustls

import (
	"crypto/tls"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Helpers for the configuration tests: handshakes whose failure is part of
// what is tested, and small exchanges that prove a connection works.

// hsResult is one side of a handshake attempt.
type hsResult struct {
	s   *Stream
	err error
}

// tryPair runs a gorustls server and client handshake over loopback and
// returns both outcomes without failing the test on handshake errors.
// Streams that were made are closed when the test ends.
func tryPair(t testing.TB, scfg *ServerConfig, ccfg *ClientConfig, serverName string) (client, server hsResult) {
	t.Helper()
	cc, sc := tcpPair(t)
	ctx := testCtx(t)
	ch := make(chan hsResult, 1)
	go func() {
		s, err := NewAcceptor(scfg, StreamOptions{WriteThrough: true}).Accept(ctx, sc)
		ch <- hsResult{s, err}
	}()
	c, err := NewConnector(ccfg, StreamOptions{WriteThrough: true}).Connect(ctx, cc, serverName)
	client = hsResult{c, err}
	if err != nil {
		// The server may still wait for the client's next flight.
		cc.Close()
	}
	server = <-ch
	t.Cleanup(func() {
		if client.s != nil {
			client.s.Close()
		}
		if server.s != nil {
			server.s.Close()
		}
	})
	return client, server
}

// pingPong sends one message each way, proving the connection carries data
// (and, for TLS 1.3, that the client has processed the server's tickets).
func pingPong(t testing.TB, c, s *Stream) {
	t.Helper()
	_, err := c.Write([]byte("ping"))
	require.NoError(t, err)
	buf := make([]byte, 4)
	_, err = io.ReadFull(s, buf)
	require.NoError(t, err)
	require.Equal(t, "ping", string(buf))
	_, err = s.Write([]byte("pong"))
	require.NoError(t, err)
	_, err = io.ReadFull(c, buf)
	require.NoError(t, err)
	require.Equal(t, "pong", string(buf))
}

// mustPair is tryPair that requires both handshakes to succeed and data to
// flow.
func mustPair(t testing.TB, scfg *ServerConfig, ccfg *ClientConfig) (c, s *Stream) {
	t.Helper()
	cr, sr := tryPair(t, scfg, ccfg, "localhost")
	require.NoError(t, cr.err, "client handshake")
	require.NoError(t, sr.err, "server handshake")
	pingPong(t, cr.s, sr.s)
	return cr.s, sr.s
}

// goClientResult is the outcome of a crypto/tls client against a gorustls
// server.
type goClientResult struct {
	state     tls.ConnectionState
	clientErr error
	server    *Stream
	serverErr error
}

// goClientToServer connects a crypto/tls client with gcfg to a gorustls
// server with scfg and exchanges one message when both handshakes succeed.
func goClientToServer(t testing.TB, scfg *ServerConfig, gcfg *tls.Config) goClientResult {
	t.Helper()
	cc, sc := tcpPair(t)
	ctx := testCtx(t)
	ch := make(chan hsResult, 1)
	go func() {
		s, err := NewAcceptor(scfg, StreamOptions{WriteThrough: true}).Accept(ctx, sc)
		if err == nil {
			buf := make([]byte, 4)
			if _, err = io.ReadFull(s, buf); err == nil {
				_, err = s.Write(buf)
			}
		}
		ch <- hsResult{s, err}
	}()
	tc := tls.Client(cc, gcfg)
	defer tc.Close()
	var r goClientResult
	r.clientErr = tc.HandshakeContext(ctx)
	if r.clientErr == nil {
		buf := make([]byte, 4)
		if _, r.clientErr = tc.Write([]byte("ping")); r.clientErr == nil {
			_, r.clientErr = io.ReadFull(tc, buf)
		}
		r.state = tc.ConnectionState()
	} else {
		cc.Close()
	}
	sr := <-ch
	r.server, r.serverErr = sr.s, sr.err
	if sr.s != nil {
		t.Cleanup(func() { sr.s.Close() })
	}
	return r
}

// writeTemp writes data to a new file in the test's temp dir.
func writeTemp(t testing.TB, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(p, data, 0o600))
	return p
}

// requireCode asserts that err is an *Error with the given code and returns it.
func requireCode(t testing.TB, err error, code Code) *Error {
	t.Helper()
	require.Error(t, err)
	var e *Error
	require.True(t, errors.As(err, &e), "want *Error, got %T: %v", err, err)
	assert.Equal(t, code, e.Code, "error: %v", err)
	return e
}

// firstErr returns the first non-nil error, for handshakes where either side
// may report a failure first.
func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}
