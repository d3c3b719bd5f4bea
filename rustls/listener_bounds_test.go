package rustls

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorustls/gorustls/cgo"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// countingListener counts the connections it hands out that are still
// open: the sockets the wrapping listener holds.
type countingListener struct {
	net.Listener
	live atomic.Int64
}

type countedConn struct {
	net.Conn
	once sync.Once
	l    *countingListener
}

func (c *countedConn) Close() error {
	c.once.Do(func() { c.l.live.Add(-1) })
	return c.Conn.Close()
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.live.Add(1)
	return &countedConn{Conn: c, l: l}, nil
}

// lazyListenerGoroutines counts the goroutines running LazyListener code.
func lazyListenerGoroutines() int {
	ids, _ := goroutineIDs()
	n := 0
	for _, g := range ids {
		if strings.Contains(g, "(*LazyListener)") && !strings.Contains(g, "goroutineIDs") {
			n++
		}
	}
	return n
}

// knockingClients starts n crypto/tls clients against addr; each
// handshakes, then reads until the server closes.
func knockingClients(t *testing.T, addr string, n int) (wait func()) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
			if err != nil {
				return
			}
			defer c.Close()
			context.AfterFunc(ctx, func() { c.Close() })
			gc := tls.Client(c, goTLSClientConfig(t))
			if gc.HandshakeContext(ctx) == nil {
				_, _ = io.Copy(io.Discard, gc)
			}
		}()
	}
	return func() { wg.Wait(); cancel() }
}

// lazyBoundsListener is a LazyListener with small bounds over a counting
// inner listener.
func lazyBoundsListener(t *testing.T, maxHS, maxReady int) (*LazyListener, *countingListener) {
	scfg := serverConfig(t, nil)
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	counting := &countingListener{Listener: inner}
	ln := NewLazyListener(counting, &LazyAcceptor{Choose: func(*ClientHello) (*ServerConfig, error) { return scfg, nil }})
	ln.MaxHandshakes, ln.MaxReady = maxHS, maxReady
	t.Cleanup(func() { ln.Close() })
	return ln, counting
}

func TestLazyListenerBoundsHandshakesAndQueue(t *testing.T) {
	const maxHS, maxReady, clients = 4, 3, 40
	baseConns := cgo.LiveConns()
	ln, counting := lazyBoundsListener(t, maxHS, maxReady)
	wait := knockingClients(t, ln.Addr().String(), clients)

	// The application has not called Accept yet: the first call starts
	// the listener; its stream is handed out, so one more place frees.
	first, err := ln.AcceptStream()
	require.NoError(t, err)
	defer first.Close()
	// The listener's places plus the streams the application holds.
	bound := int64(maxHS + maxReady + 1)
	check := func(msg string, held int64) {
		t.Helper()
		assert.LessOrEqual(t, counting.live.Load(), int64(maxHS+maxReady)+held, "%s: sockets", msg)
		assert.LessOrEqual(t, cgo.LiveConns()-baseConns, int64(maxHS+maxReady)+held, "%s: rustls connections", msg)
		assert.LessOrEqual(t, lazyListenerGoroutines(), maxHS+1, "%s: goroutines", msg)
	}
	// The listener fills its places, then stops taking connections while
	// the clients keep knocking.
	require.Eventually(t, func() bool { return counting.live.Load() >= bound }, 30*time.Second, 10*time.Millisecond,
		"the listener never filled its places")
	for range 20 {
		check("saturated", 1)
		time.Sleep(10 * time.Millisecond)
	}

	// A slow application: each Accept lets one more client in.
	for i := 1; i < clients; i++ {
		s, err := ln.AcceptStream()
		require.NoError(t, err, "accept %d", i)
		require.True(t, s.ConnectionState().HandshakeComplete)
		check("accepting", 2)
		require.NoError(t, s.Close())
		time.Sleep(2 * time.Millisecond)
	}
	first.Close()
	wait()

	require.NoError(t, ln.Close())
	assert.Zero(t, counting.live.Load(), "sockets left open")
	assert.Equal(t, baseConns, cgo.LiveConns(), "rustls connections left")
	assert.Zero(t, lazyListenerGoroutines(), "listener goroutines left")
}

func TestLazyListenerCloseReleasesQueuedAndHandshaking(t *testing.T) {
	const maxHS, maxReady, clients = 3, 2, 12
	baseConns := cgo.LiveConns()
	ln, counting := lazyBoundsListener(t, maxHS, maxReady)
	// Silent clients too: their handshakes are in progress at Close.
	var silent []net.Conn
	for range 2 {
		c, err := net.Dial("tcp", ln.Addr().String())
		require.NoError(t, err)
		defer c.Close()
		silent = append(silent, c)
	}
	wait := knockingClients(t, ln.Addr().String(), clients)
	s, err := ln.AcceptStream() // starts the listener
	require.NoError(t, err)
	s.Close()
	require.Eventually(t, func() bool { return counting.live.Load() >= maxHS+maxReady }, 30*time.Second, 10*time.Millisecond)
	time.Sleep(50 * time.Millisecond) // let the clients knock further
	assert.LessOrEqual(t, counting.live.Load(), int64(maxHS+maxReady), "sockets held before Close")

	require.NoError(t, ln.Close())
	assert.Zero(t, counting.live.Load(), "sockets left open")
	assert.Equal(t, baseConns, cgo.LiveConns(), "rustls connections left")
	assert.Zero(t, lazyListenerGoroutines(), "listener goroutines left")
	_, err = ln.Accept()
	assert.ErrorIs(t, err, net.ErrClosed)
	for _, c := range silent {
		c.Close()
	}
	wait()
}
