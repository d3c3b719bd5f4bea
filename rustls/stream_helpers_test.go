package rustls

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// handshakePair runs a gorustls client (connecting to name) against a
// gorustls server over loopback TCP and returns both results; streams that
// were made are closed at cleanup.
func handshakePair(t testing.TB, scfg *ServerConfig, ccfg *ClientConfig, name string, sopts, copts StreamOptions) (c, s *Stream, cerr, serr error) {
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
	c, cerr = NewConnector(ccfg, copts).Connect(ctx, cc, name)
	r := <-ch
	s, serr = r.s, r.err
	t.Cleanup(func() {
		if c != nil {
			c.Close()
		}
		if s != nil {
			s.Close()
		}
	})
	return c, s, cerr, serr
}

// goTLSServe runs a crypto/tls server handshake over conn in the background
// and returns a channel with the result.
func goTLSServe(conn net.Conn, cfg *tls.Config) <-chan goTLSResult {
	ch := make(chan goTLSResult, 1)
	go func() {
		tc := tls.Server(conn, cfg)
		_ = tc.SetDeadline(time.Now().Add(10 * time.Second))
		err := tc.Handshake()
		_ = tc.SetDeadline(time.Time{})
		ch <- goTLSResult{tc, err}
	}()
	return ch
}

type goTLSResult struct {
	c   *tls.Conn
	err error
}

// rustlsError asserts that err is an *Error and returns it.
func rustlsError(t testing.TB, err error) *Error {
	t.Helper()
	require.Error(t, err)
	var e *Error
	require.True(t, errors.As(err, &e), "not an *Error: %T %v", err, err)
	return e
}

// readWithin reads into p with a read deadline d from now.
func readWithin(s net.Conn, p []byte, d time.Duration) (int, error) {
	_ = s.SetReadDeadline(time.Now().Add(d))
	defer s.SetReadDeadline(time.Time{})
	return s.Read(p)
}

// readFullWithin reads exactly len(p) bytes within d.
func readFullWithin(s net.Conn, p []byte, d time.Duration) error {
	_ = s.SetReadDeadline(time.Now().Add(d))
	defer s.SetReadDeadline(time.Time{})
	_, err := io.ReadFull(s, p)
	return err
}

// pattern returns n deterministic bytes.
func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	x := uint32(seed) + 1
	for i := range b {
		x = x*1664525 + 1013904223
		b[i] = byte(x >> 24)
	}
	return b
}
