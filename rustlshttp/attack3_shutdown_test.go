package rustlshttp

import (
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/gorustls/gorustls/rustls"
	"github.com/stretchr/testify/require"
)

// TestAttack3ShutdownThenCloseWithBlockedHandlers: handlers blocked in
// Write to clients that stopped reading keep Shutdown waiting (as
// net/http does) until its context ends; Close must then end them all
// (their Write fails), return within a bounded time, and Serve must
// return.
func TestAttack3ShutdownThenCloseWithBlockedHandlers(t *testing.T) {
	const n = 4
	big := bytes.Repeat([]byte("0123456789abcdef"), 4<<20/16)
	p := newPKI(t)
	for _, kind := range []string{"rustlshttp.Server", "http.Server over rustls.Listener"} {
		t.Run(kind, func(t *testing.T) {
			started := make(chan struct{}, n)
			ended := make(chan error, n)
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Length", strconv.Itoa(len(big)))
				started <- struct{}{}
				_, err := w.Write(big)
				ended <- err
			})
			inner, err := net.Listen("tcp", "127.0.0.1:0")
			require.NoError(t, err)
			opts := rustls.StreamOptions{CloseTimeout: 2 * time.Second}
			done := make(chan error, 1)
			var shutdown func(context.Context) error
			var closeServer func() error
			if kind == "rustlshttp.Server" {
				srv := &Server{Config: p.serverConfig(t, "http/1.1"), Handler: h, Options: opts,
					Logger: slog.New(slog.DiscardHandler)}
				go func() { done <- srv.Serve(inner) }()
				shutdown, closeServer = srv.Shutdown, srv.Close
			} else {
				hs := &http.Server{Handler: h}
				go func() { done <- hs.Serve(rustls.NewListener(inner, p.serverConfig(t, "http/1.1"), opts)) }()
				shutdown, closeServer = hs.Shutdown, hs.Close
			}
			for range n {
				raw, err := net.Dial("tcp", inner.Addr().String())
				require.NoError(t, err)
				require.NoError(t, raw.(*net.TCPConn).SetReadBuffer(4096))
				c := tls.Client(raw, &tls.Config{RootCAs: p.pool, ServerName: "localhost"})
				t.Cleanup(func() { _ = c.Close() })
				require.NoError(t, c.SetDeadline(time.Now().Add(30*time.Second)))
				_, err = io.WriteString(c, "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
				require.NoError(t, err)
			}
			for range n {
				select {
				case <-started:
				case <-time.After(20 * time.Second):
					t.Fatal("the handlers did not start")
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			require.ErrorIs(t, shutdown(ctx), context.DeadlineExceeded)
			closed := make(chan struct{})
			go func() { _ = closeServer(); close(closed) }()
			select {
			case <-closed:
			case <-time.After(20 * time.Second):
				t.Fatal("Close did not return")
			}
			for range n {
				select {
				case err := <-ended:
					require.Error(t, err, "a handler's Write to a stalled client succeeded after Close")
				case <-time.After(20 * time.Second):
					t.Fatal("a handler stayed blocked in Write after Close")
				}
			}
			select {
			case err := <-done:
				require.ErrorIs(t, err, http.ErrServerClosed)
			case <-time.After(10 * time.Second):
				t.Fatal("Serve did not return")
			}
		})
	}
}
