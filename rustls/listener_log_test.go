package rustls

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// funcHandler is an slog handler that calls itself with each record.
type funcHandler func(slog.Record)

func (h funcHandler) Enabled(context.Context, slog.Level) bool      { return true }
func (h funcHandler) Handle(_ context.Context, r slog.Record) error { h(r); return nil }
func (h funcHandler) WithAttrs([]slog.Attr) slog.Handler            { return h }
func (h funcHandler) WithGroup(string) slog.Handler                 { return h }

// recordAttrs returns r's attributes by key.
func recordAttrs(r slog.Record) map[string]slog.Value {
	m := map[string]slog.Value{}
	r.Attrs(func(a slog.Attr) bool { m[a.Key] = a.Value; return true })
	return m
}

// lazyLogListener serves a LazyListener whose Choose panics for
// "panic.test" and accepts any other name, with listenerLog as its Logger
// and acceptorLog as the LazyAcceptor's Options.Logger.
func lazyLogListener(t *testing.T, listenerLog, acceptorLog *slog.Logger) *LazyListener {
	t.Helper()
	scfg := serverConfig(t, nil)
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	l := NewLazyListener(inner, &LazyAcceptor{
		Choose: func(h *ClientHello) (*ServerConfig, error) {
			if h.ServerName == "panic.test" {
				panic("choose boom")
			}
			return scfg, nil
		},
		Options: StreamOptions{HandshakeTimeout: 5 * time.Second, Logger: acceptorLog},
	})
	l.Logger = listenerLog
	t.Cleanup(func() { _ = l.Close() })
	go func() {
		for {
			s, err := l.Accept()
			if err != nil {
				return
			}
			_ = s.Close()
		}
	}()
	return l
}

// sendGarbage sends bytes that are no ClientHello and waits for the
// listener to close the connection; it returns the client's address.
func sendGarbage(t *testing.T, addr string) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.SetDeadline(time.Now().Add(10*time.Second)))
	_, _ = c.Write([]byte("GET / HTTP/1.0\r\n\r\n"))
	_, _ = io.Copy(io.Discard, c)
	return c.LocalAddr().String()
}

// helloFor sends a crypto/tls ClientHello naming name; the handshake fails
// (the listener refuses) and it returns the client's address.
func helloFor(t *testing.T, addr, name string) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tc := tls.Client(c, &tls.Config{ServerName: name, InsecureSkipVerify: true}) //nolint:gosec // the handshake is meant to fail
	require.Error(t, tc.HandshakeContext(ctx))
	return c.LocalAddr().String()
}

// LazyListener.Logger gets a record per failed handshake: Info with the
// peer's address and the error for a client's failure, Error with the
// stack for a panicking Choose.
func TestLazyListenerLoggerRecords(t *testing.T) {
	recs := make(chan slog.Record, 16)
	l := lazyLogListener(t, slog.New(funcHandler(func(r slog.Record) { recs <- r })), nil)
	addr := l.Addr().String()
	next := func() slog.Record {
		t.Helper()
		select {
		case r := <-recs:
			return r
		case <-time.After(10 * time.Second):
			t.Fatal("no record")
			return slog.Record{}
		}
	}

	remote := sendGarbage(t, addr)
	r := next()
	assert.Equal(t, slog.LevelInfo, r.Level)
	assert.Contains(t, r.Message, "handshake failed")
	a := recordAttrs(r)
	assert.Equal(t, remote, a["remote"].String())
	err, ok := a["error"].Any().(error)
	require.True(t, ok, "error attribute %v", a["error"])
	var re *Error
	assert.True(t, errors.As(err, &re), "a *rustls.Error: %v", err)
	_, hasStack := a["stack"]
	assert.False(t, hasStack)

	remote = helloFor(t, addr, "panic.test")
	r = next()
	assert.Equal(t, slog.LevelError, r.Level)
	a = recordAttrs(r)
	assert.Equal(t, remote, a["remote"].String())
	err, ok = a["error"].Any().(error)
	require.True(t, ok, "error attribute %v", a["error"])
	var pe *PanicError
	require.True(t, errors.As(err, &pe), "wraps a *PanicError: %v", err)
	assert.Equal(t, "choose boom", pe.Value)
	assert.Contains(t, a["stack"].String(), "goroutine ")
	assert.Contains(t, a["stack"].String(), "panic")
}

// With the same logger as the LazyAcceptor's Options.Logger, a panic is
// reported once (by the acceptor, as it happens), not twice.
func TestLazyListenerLoggerPanicOnce(t *testing.T) {
	var errorRecs, all atomic.Int32
	logger := slog.New(funcHandler(func(r slog.Record) {
		all.Add(1)
		if r.Level == slog.LevelError {
			errorRecs.Add(1)
		}
	}))
	l := lazyLogListener(t, logger, logger)
	helloFor(t, l.Addr().String(), "panic.test")
	require.NoError(t, l.Close()) // waits for the handshake goroutine: every record is in
	assert.EqualValues(t, 1, errorRecs.Load())
	assert.EqualValues(t, 1, all.Load())
}

// A Logger whose handler panics on every record does not end the listener:
// the next client is still served.
func TestLazyListenerLoggerHandlerPanics(t *testing.T) {
	var calls atomic.Int32
	l := lazyLogListener(t, slog.New(funcHandler(func(slog.Record) { calls.Add(1); panic("handler bug") })), nil)
	sendGarbage(t, l.Addr().String())
	helloFor(t, l.Addr().String(), "panic.test")
	require.Eventually(t, func() bool { return calls.Load() >= 2 }, 10*time.Second, 10*time.Millisecond)

	c, err := net.Dial("tcp", l.Addr().String())
	require.NoError(t, err)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tc := tls.Client(c, &tls.Config{ServerName: "ok.test", InsecureSkipVerify: true}) //nolint:gosec // any certificate will do
	require.NoError(t, tc.HandshakeContext(ctx))
	assert.True(t, strings.HasPrefix(tc.ConnectionState().ServerName, "ok"))
}
