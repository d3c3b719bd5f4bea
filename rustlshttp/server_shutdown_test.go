package rustlshttp

import (
	"context"
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func settledGoroutines() int {
	prev := -1
	for range 50 {
		n := runtime.NumGoroutine()
		if n == prev {
			return n
		}
		prev = n
		time.Sleep(10 * time.Millisecond)
	}
	return prev
}

// Shutdown before or during the first Serve: Serve returns
// ErrServerClosed, closes its listener, and nothing is left running.
func TestServerShutdownBeforeAndDuringFirstServe(t *testing.T) {
	p := newPKI(t)
	cfg := p.serverConfig(t, "h2", "http/1.1")
	before := settledGoroutines()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	srv := &Server{Config: cfg, Handler: infoHandler}
	require.NoError(t, srv.Shutdown(ctx))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	require.ErrorIs(t, srv.Serve(ln), ErrServerClosed)
	_, err = net.Dial("tcp", ln.Addr().String())
	assert.Error(t, err, "Serve closed its listener")

	srv = &Server{Config: cfg, Handler: infoHandler}
	require.NoError(t, srv.Close())
	ln, err = net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	require.ErrorIs(t, srv.Serve(ln), ErrServerClosed, "Serve after Close")

	for range 20 {
		srv := &Server{Config: cfg, Handler: infoHandler}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		done := make(chan error, 1)
		go func() { done <- srv.Serve(ln) }()
		require.NoError(t, srv.Shutdown(ctx))
		select {
		case err := <-done:
			require.ErrorIs(t, err, ErrServerClosed)
		case <-ctx.Done():
			t.Fatal("Serve still running after Shutdown")
		}
	}
	// Polled here, not with Eventually, which runs its condition on a
	// goroutine of its own.
	after := runtime.NumGoroutine()
	for deadline := time.Now().Add(10 * time.Second); after > before && time.Now().Before(deadline); after = runtime.NumGoroutine() {
		time.Sleep(10 * time.Millisecond)
	}
	if !assert.LessOrEqual(t, after, before, "goroutines left behind") {
		buf := make([]byte, 1<<20)
		t.Logf("%s", buf[:runtime.Stack(buf, true)])
	}
}
