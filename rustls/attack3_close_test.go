package rustls

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Attacks on the background Close on TCP (stream_close.go), through the
// public API: a peer that never reads, resets mid-linger, deadlines after
// Close, concurrent Close/Write/Flush, and a flood of stalled closes
// beyond the 1024 background slots.

// attack3Stalled connects a gorustls client (version v) to a crypto/tls
// server that never reads after the handshake, through small socket
// buffers, and fills the path: the client's last Write timed out with
// ciphertext still queued. It returns the client and the server's raw
// socket.
func attack3Stalled(t testing.TB, v uint16, closeTimeout time.Duration) (*Stream, *net.TCPConn) {
	t.Helper()
	cc, sc := tcpPair(t)
	require.NoError(t, sc.(*net.TCPConn).SetReadBuffer(4<<10))
	require.NoError(t, cc.(*net.TCPConn).SetWriteBuffer(4<<10))
	gcfg := goTLSServerConfig(t)
	done := make(chan error, 1)
	go func() { done <- tls.Server(sc, gcfg).HandshakeContext(testCtx(t)) }()
	ccfg := clientConfig(t, func(o *ClientOptions) { o.Versions = []uint16{v} })
	c, err := NewConnector(ccfg, StreamOptions{WriteThrough: true, CloseTimeout: closeTimeout}).Connect(testCtx(t), cc, "localhost")
	require.NoError(t, err)
	require.NoError(t, <-done)
	require.NoError(t, c.SetWriteDeadline(time.Now().Add(100*time.Millisecond)))
	data := pattern(64<<10, 3)
	for i := 0; i < 64; i++ {
		if _, err := c.Write(data); err != nil {
			require.True(t, isTimeout(err), "write: %v", err)
			return c, sc.(*net.TCPConn)
		}
	}
	t.Fatal("the peer never stalled")
	return nil, nil
}

// attack3WaitPeerGone waits (bounded) until the peer's socket sees the
// client's descriptor closed: EOF or a reset once its input is drained.
func attack3WaitPeerGone(t testing.TB, sc *net.TCPConn, within time.Duration) {
	t.Helper()
	require.NoError(t, sc.SetReadDeadline(time.Now().Add(within)))
	buf := make([]byte, 64<<10)
	for {
		_, err := sc.Read(buf)
		if err != nil {
			require.False(t, isTimeout(err), "the client's descriptor is still open %v after Close", within)
			return
		}
	}
}

func attack3Versions() []uint16 { return []uint16{VersionTLS13, VersionTLS12} }

// TestAttack3CloseNeverReadingPeer: a peer that never reads. Close
// returns without waiting, the background close ends at CloseTimeout and
// closes the descriptor; Read/Write/deadlines after Close fail with
// net.ErrClosed and cannot extend the background part.
func TestAttack3CloseNeverReadingPeer(t *testing.T) {
	for _, v := range attack3Versions() {
		t.Run(versionName(v), func(t *testing.T) {
			waitLingers(t)
			c, sc := attack3Stalled(t, v, 500*time.Millisecond)
			require.NoError(t, c.Close())
			// None of these may reach the socket the background owns: an
			// unbounded write deadline would let it block forever.
			require.ErrorIs(t, c.SetDeadline(time.Time{}), net.ErrClosed)
			require.ErrorIs(t, c.SetWriteDeadline(time.Time{}), net.ErrClosed)
			require.ErrorIs(t, c.SetReadDeadline(time.Time{}), net.ErrClosed)
			_, err := c.Write([]byte("x"))
			require.ErrorIs(t, err, net.ErrClosed)
			_, err = c.Read(make([]byte, 1))
			require.ErrorIs(t, err, net.ErrClosed)
			require.ErrorIs(t, c.Flush(), net.ErrClosed)
			require.ErrorIs(t, c.CloseWrite(), net.ErrClosed)
			require.NoError(t, c.Close())
			waitLingers(t)
			attack3WaitPeerGone(t, sc, 10*time.Second)
		})
	}
}

// TestAttack3CloseResetMidLinger: the peer resets while Close lingers in
// the background with a long CloseTimeout: the background part ends with
// the reset, not at CloseTimeout.
func TestAttack3CloseResetMidLinger(t *testing.T) {
	for _, v := range attack3Versions() {
		t.Run(versionName(v), func(t *testing.T) {
			waitLingers(t)
			c, sc := attack3Stalled(t, v, time.Minute)
			require.NoError(t, c.Close())
			require.Equal(t, int64(1), lingering.Load(), "Close did not go to the background")
			require.NoError(t, sc.SetLinger(0))
			require.NoError(t, sc.Close())
			end := time.Now().Add(20 * time.Second)
			for lingering.Load() != 0 {
				require.True(t, time.Now().Before(end), "the background close outlived the peer's reset")
				time.Sleep(5 * time.Millisecond)
			}
		})
	}
}

// TestAttack3CloseRaces: Writes, Flushes and two Closes race; the peer
// reads everything. What it gets must be an in-order prefix of what was
// written, at least everything whose Write returned before either Close
// began, and end cleanly or by the transport closing, never with
// corrupted data.
func TestAttack3CloseRaces(t *testing.T) {
	data := pattern(1<<20, 7)
	for _, v := range attack3Versions() {
		for _, kind := range []string{"gorustls", "crypto/tls"} {
			t.Run(fmt.Sprintf("%s/%s", versionName(v), kind), func(t *testing.T) {
				for iter := 0; iter < attack3Iters; iter++ {
					attack3RaceOnce(t, v, kind, data, iter)
				}
				waitLingers(t)
			})
		}
	}
}

func attack3RaceOnce(t *testing.T, v uint16, kind string, data []byte, iter int) {
	cc, sc := tcpPair(t)
	if iter%2 == 1 {
		require.NoError(t, sc.(*net.TCPConn).SetReadBuffer(8<<10))
	}
	peer := acceptPeer(t, kind, sc)
	ccfg := clientConfig(t, func(o *ClientOptions) { o.Versions = []uint16{v} })
	c, err := NewConnector(ccfg, StreamOptions{WriteThrough: iter%3 == 0, CloseTimeout: 10 * time.Second}).Connect(testCtx(t), cc, "localhost")
	require.NoError(t, err)
	p := <-peer
	require.NotNil(t, p.rw, "server handshake failed")
	defer p.close()

	got := make(chan []byte, 1)
	var peerErr error
	go func() {
		_ = sc.SetReadDeadline(time.Now().Add(30 * time.Second))
		var b bytes.Buffer
		buf := make([]byte, 16<<10)
		for {
			n, err := p.rw.Read(buf)
			b.Write(buf[:n])
			if err != nil {
				peerErr = err
				got <- b.Bytes()
				return
			}
		}
	}()

	var sent atomic.Int64 // bytes whose Write returned
	var inWrite, writing atomic.Bool
	var closing atomic.Bool
	var before atomic.Int64 // sent when the first Close began
	before.Store(-1)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		off := 0
		for off < len(data) {
			end := min(off+3000+off%7000, len(data))
			inWrite.Store(true)
			n, err := c.Write(data[off:end])
			inWrite.Store(false)
			off += n
			sent.Add(int64(n))
			if err != nil {
				return
			}
		}
	}()
	wg.Add(1)
	go func() {
		defer wg.Done()
		for !closing.Load() {
			if c.Flush() != nil {
				return
			}
			runtime.Gosched()
		}
	}()
	time.Sleep(time.Duration(iter%5) * time.Millisecond)
	var closers sync.WaitGroup
	for range 2 {
		closers.Add(1)
		go func() {
			defer closers.Done()
			if closing.CompareAndSwap(false, true) {
				writing.Store(inWrite.Load())
				before.Store(sent.Load())
			}
			_ = c.Close()
		}()
	}
	t0 := time.Now()
	closers.Wait()
	t1 := time.Now()
	wg.Wait()
	t2 := time.Now()
	r := <-got
	t.Logf("iteration %d: close %v, writers %v, peer %v, got %d of %d (%d written before Close, a Write in progress: %v), peer error %v",
		iter, t1.Sub(t0), t2.Sub(t1), time.Since(t2), len(r), len(data), before.Load(), writing.Load(), peerErr)
	require.True(t, bytes.Equal(r, data[:len(r)]), "iteration %d: the peer got corrupted or reordered data", iter)
	require.GreaterOrEqual(t, int64(len(r)), before.Load(), "iteration %d: the peer lost data whose Write returned before Close", iter)
}

// TestAttack3CloseFlood: more stalled peers than background slots, all
// closed at once with a short CloseTimeout. Every Close returns within a
// bounded time, every background close ends, every descriptor is closed,
// and no goroutine is left behind.
func TestAttack3CloseFlood(t *testing.T) {
	if testing.Short() {
		t.Skip("1100 connections")
	}
	const n = 1100
	waitLingers(t)
	g0 := runtime.NumGoroutine()
	fd0 := attack3OpenFDs(t)
	// The test's own configs, closed when it ends (a client config keeps
	// the peer certificates it saw: a package-level one would keep them
	// for the whole process).
	gcfg, ccfg := goTLSServerConfig(t), clientConfig(t, nil)
	clients := make([]*Stream, n)
	peers := make([]*net.TCPConn, n)
	sem := make(chan struct{}, 16)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failed error
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			c, sc, err := attack3StalledNoT(t, gcfg, ccfg, 300*time.Millisecond)
			mu.Lock()
			defer mu.Unlock()
			if err != nil && failed == nil {
				failed = err
			}
			clients[i], peers[i] = c, sc
		}()
	}
	wg.Wait()
	require.NoError(t, failed)
	start := time.Now()
	var cw sync.WaitGroup
	for _, c := range clients {
		cw.Add(1)
		go func() { defer cw.Done(); _ = c.Close() }()
	}
	cwDone := make(chan struct{})
	go func() { cw.Wait(); close(cwDone) }()
	select {
	case <-cwDone:
	case <-time.After(60 * time.Second):
		t.Fatalf("Close of %d stalled streams still running after a minute (lingering %d)", n, lingering.Load())
	}
	t.Logf("%d closes returned in %v", n, time.Since(start))
	waitLingers(t)
	// Every client descriptor is closed: only the peers' sockets (and the
	// ones the process had before) remain.
	fds := attack3OpenFDs(t)
	require.LessOrEqual(t, fds, fd0+n, "descriptors: %d before the flood, %d now with %d peers open", fd0, fds, n)
	var stuck atomic.Int64
	var pw sync.WaitGroup
	for _, sc := range peers {
		pw.Add(1)
		go func() {
			defer pw.Done()
			_ = sc.SetReadDeadline(time.Now().Add(30 * time.Second))
			buf := make([]byte, 64<<10)
			for {
				if _, err := sc.Read(buf); err != nil {
					if isTimeout(err) {
						stuck.Add(1)
					}
					return
				}
			}
		}()
	}
	pw.Wait()
	require.Zero(t, stuck.Load(), "peers that saw no end of stream within 30s of Close")
	for _, sc := range peers {
		sc.Close()
	}
	end := time.Now().Add(20 * time.Second)
	for runtime.NumGoroutine() > g0+10 {
		if time.Now().After(end) {
			buf := make([]byte, 1<<20)
			t.Fatalf("goroutines: %d before, %d after\n%s", g0, runtime.NumGoroutine(), buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// attack3StalledNoT is attack3Stalled for many goroutines: errors are
// returned, not asserted.
func attack3StalledNoT(t *testing.T, gcfg *tls.Config, ccfg *ClientConfig, closeTimeout time.Duration) (*Stream, *net.TCPConn, error) {
	cc, sc := tcpPair(t)
	_ = sc.(*net.TCPConn).SetReadBuffer(4 << 10)
	_ = cc.(*net.TCPConn).SetWriteBuffer(4 << 10)
	done := make(chan error, 1)
	go func() { done <- tls.Server(sc, gcfg).HandshakeContext(testCtx(t)) }()
	c, err := NewConnector(ccfg, StreamOptions{WriteThrough: true, CloseTimeout: closeTimeout}).Connect(testCtx(t), cc, "localhost")
	if err != nil {
		return nil, nil, err
	}
	if err := <-done; err != nil {
		return nil, nil, err
	}
	_ = c.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
	data := pattern(64<<10, 3)
	for i := 0; i < 64; i++ {
		if _, err := c.Write(data); err != nil {
			if !isTimeout(err) {
				return nil, nil, err
			}
			return c, sc.(*net.TCPConn), nil
		}
	}
	return nil, nil, errors.New("the peer never stalled")
}

// attack3Iters covers both peer receive buffers (odd iterations: 8 KiB,
// so Writes block), write-through and buffered streams and several Close
// delays. A closed socket's last bytes reach a peer with an 8 KiB buffer
// only as fast as the kernel's zero-window probes, which back off: such
// an iteration takes seconds of mostly idle waiting.
var attack3Iters = 6

// attack3OpenFDs counts the process's open descriptors (Linux).
func attack3OpenFDs(t *testing.T) int {
	ents, err := os.ReadDir("/proc/self/fd")
	require.NoError(t, err)
	return len(ents)
}
