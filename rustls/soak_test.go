package rustls

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSoakConnections opens and closes thousands of connections
// concurrently (gorustls and crypto/tls clients, clean closes, truncations,
// aborted handshakes) and checks that goroutines, file descriptors and
// process memory come back to their baseline.
func TestSoakConnections(t *testing.T) {
	scfg, ccfg := serverConfig(t, nil), clientConfig(t, nil)
	gcfg := goTLSClientConfig(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	acc := NewAcceptor(scfg, StreamOptions{})
	var served, failed atomic.Int64
	var srvWG sync.WaitGroup
	srvWG.Add(1)
	go func() {
		defer srvWG.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			srvWG.Add(1)
			go func() {
				defer srvWG.Done()
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				s, err := acc.Accept(ctx, c)
				if err != nil {
					failed.Add(1)
					return
				}
				_ = s.SetDeadline(time.Now().Add(10 * time.Second))
				buf := make([]byte, 64)
				n, err := s.Read(buf)
				if err == nil {
					_, _ = s.Write(buf[:n])
					_ = s.Flush()
				}
				_, _ = io.Copy(io.Discard, s)
				_ = s.Close()
				served.Add(1)
			}()
		}
	}()
	addr := ln.Addr().String()
	conn := NewConnector(ccfg, StreamOptions{})

	// one connection of kind i%8.
	one := func(i int) error {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			return err
		}
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		msg := []byte("soak " + strconv.Itoa(i))
		switch i % 8 {
		case 0: // aborted before the handshake
			return c.Close()
		case 1: // crypto/tls client
			tc := tls.Client(c, gcfg)
			defer tc.Close()
			if _, err := tc.Write(msg); err != nil {
				return err
			}
			_, err := io.ReadFull(tc, make([]byte, len(msg)))
			return err
		case 2: // truncation: TCP close without close_notify
			s, err := conn.Connect(ctx, c, "localhost")
			if err != nil {
				return err
			}
			_, _ = s.Write(msg)
			_ = s.Flush()
			_ = s.NetConn().Close()
			_ = s.Close() // reports the transport's "already closed"
			return nil
		default: // gorustls round trip and clean close
			s, err := conn.Connect(ctx, c, "localhost")
			if err != nil {
				return err
			}
			defer s.Close()
			if _, err := s.Write(msg); err != nil {
				return err
			}
			if err := s.Flush(); err != nil {
				return err
			}
			_, err = io.ReadFull(s, make([]byte, len(msg)))
			return err
		}
	}
	round := func(n, parallel int) {
		sem := make(chan struct{}, parallel)
		var wg sync.WaitGroup
		var errs atomic.Int64
		var firstErr atomic.Value
		for i := 0; i < n; i++ {
			sem <- struct{}{}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				if err := one(i); err != nil {
					errs.Add(1)
					firstErr.CompareAndSwap(nil, err)
				}
			}()
		}
		wg.Wait()
		require.Zero(t, errs.Load(), "client errors; first: %v", firstErr.Load())
	}

	// Warm up pools, caches, the runtime and the C allocator's arenas at the
	// same concurrency, so that the baseline includes their high-water mark.
	round(600, 64)
	baseG, baseFD, baseRSS := soakSettle(t)
	const n = 3000
	start := time.Now()
	round(n, 64)
	t.Logf("%d connections in %v (%d served, %d failed handshakes on the server)", n, time.Since(start), served.Load(), failed.Load())
	g, fd, rss := soakWaitBaseline(t, baseG, baseFD)
	t.Logf("goroutines %d -> %d, fds %d -> %d, RSS %d MiB -> %d MiB", baseG, g, baseFD, fd, baseRSS>>20, rss>>20)
	assert.LessOrEqual(t, g, baseG, "goroutines leaked")
	assert.LessOrEqual(t, fd, baseFD, "file descriptors leaked")
	// A leak of the per-connection C state or buffers (over 64 KiB each)
	// would cost well over 150 MiB for 3000 connections.
	// Under ASan, freed memory sits in its quarantine: leaks show up in
	// LeakSanitizer's report at exit instead.
	if !asanEnabled {
		assert.Less(t, rss-baseRSS, int64(40<<20), "memory did not return to its baseline")
	}

	require.NoError(t, ln.Close())
	srvWG.Wait()
}

// soakSettle collects garbage and returns goroutines, open fds and RSS.
func soakSettle(t testing.TB) (int, int, int64) {
	for i := 0; i < 3; i++ {
		runtime.GC()
		debug.FreeOSMemory()
		time.Sleep(20 * time.Millisecond)
	}
	return runtime.NumGoroutine(), soakFDs(t), soakRSS(t)
}

// soakWaitBaseline waits (up to 10 s) for goroutines and fds to drop back.
func soakWaitBaseline(t testing.TB, g0, fd0 int) (int, int, int64) {
	deadline := time.Now().Add(10 * time.Second)
	for {
		g, fd, rss := soakSettle(t)
		if (g <= g0 && fd <= fd0) || time.Now().After(deadline) {
			return g, fd, rss
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func soakFDs(t testing.TB) int {
	ents, err := os.ReadDir("/proc/self/fd")
	require.NoError(t, err)
	return len(ents)
}

func soakRSS(t testing.TB) int64 {
	b, err := os.ReadFile("/proc/self/statm")
	require.NoError(t, err)
	f := strings.Fields(string(b))
	require.GreaterOrEqual(t, len(f), 2)
	pages, err := strconv.ParseInt(f[1], 10, 64)
	require.NoError(t, err)
	return pages * int64(os.Getpagesize())
}
