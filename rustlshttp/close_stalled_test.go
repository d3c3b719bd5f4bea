package rustlshttp

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"fmt"
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

// TestServerCloseDoesNotWaitForStalledReaders: net/http closes its
// connections one after another while holding its lock, so a Stream.Close
// that waited for each peer to take what was sent made Server.Close (and
// http.Server.Close over a rustls.Listener) take one CloseTimeout per
// client that stopped reading: here 5 clients with a small receive buffer
// that asked for 200 KiB and read none of it, 10 s with a 2 s
// CloseTimeout. Close must return well within one CloseTimeout, and each
// client must still get its whole response afterwards.
func TestServerCloseDoesNotWaitForStalledReaders(t *testing.T) {
	const (
		n            = 5
		closeTimeout = 2 * time.Second
	)
	big := bytes.Repeat([]byte("0123456789abcdef"), 200<<10/16)
	p := newPKI(t)
	for _, kind := range []string{"rustlshttp.Server", "http.Server over rustls.Listener"} {
		t.Run(kind, func(t *testing.T) {
			served := make(chan struct{}, n)
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Length", strconv.Itoa(len(big)))
				_, _ = w.Write(big)
				served <- struct{}{}
			})
			inner, err := net.Listen("tcp", "127.0.0.1:0")
			require.NoError(t, err)
			opts := rustls.StreamOptions{CloseTimeout: closeTimeout}
			done := make(chan error, 1)
			var closeServer func() error
			if kind == "rustlshttp.Server" {
				srv := &Server{Config: p.serverConfig(t, "http/1.1"), Handler: h, Options: opts,
					Logger: slog.New(slog.DiscardHandler)}
				go func() { done <- srv.Serve(inner) }()
				closeServer = srv.Close
			} else {
				hs := &http.Server{Handler: h}
				go func() { done <- hs.Serve(rustls.NewListener(inner, p.serverConfig(t, "http/1.1"), opts)) }()
				closeServer = hs.Close
			}

			clients := make([]*tls.Conn, n)
			for i := range clients {
				raw, err := net.Dial("tcp", inner.Addr().String())
				require.NoError(t, err)
				require.NoError(t, raw.(*net.TCPConn).SetReadBuffer(4096))
				c := tls.Client(raw, &tls.Config{RootCAs: p.pool, ServerName: "localhost"})
				t.Cleanup(func() { _ = c.Close() })
				require.NoError(t, c.SetDeadline(time.Now().Add(30*time.Second)))
				_, err = io.WriteString(c, "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
				require.NoError(t, err)
				clients[i] = c
			}
			for range n {
				select {
				case <-served:
				case <-time.After(20 * time.Second):
					t.Fatal("the handlers did not return")
				}
			}

			start := time.Now()
			_ = closeServer()
			took := time.Since(start)
			require.Less(t, took, closeTimeout+closeTimeout/2,
				"closing the server waited for its %d stalled clients (CloseTimeout %v)", n, closeTimeout)
			select {
			case err := <-done:
				require.ErrorIs(t, err, http.ErrServerClosed)
			case <-time.After(10 * time.Second):
				t.Fatal("Serve did not return")
			}

			// The clients read in parallel: through a 4 KiB window each
			// response takes a while, and the server's background closes
			// may end (CloseTimeout) before they are done, which costs
			// them nothing.
			readStart := time.Now()
			errs := make(chan error, n)
			for i, c := range clients {
				go func() {
					resp, err := http.ReadResponse(bufio.NewReader(c), nil)
					if err != nil {
						errs <- fmt.Errorf("client %d: %w", i, err)
						return
					}
					body, err := io.ReadAll(resp.Body)
					if err == nil && !bytes.Equal(big, body) {
						err = fmt.Errorf("got %d of %d bytes", len(body), len(big))
					}
					if err != nil {
						err = fmt.Errorf("client %d: %w", i, err)
					}
					errs <- err
				}()
			}
			for range n {
				require.NoError(t, <-errs)
			}
			t.Logf("closing took %v; the clients then read their responses in %v", took, time.Since(readStart))
		})
	}
}
