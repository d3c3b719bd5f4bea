package rustls

import (
	"bytes"
	"context"
	"io"
	"net"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorustls/gorustls/cgo"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// goroutineIDs returns the IDs of all goroutines and a dump of them.
func goroutineIDs() (map[int]string, string) {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	ids := map[int]string{}
	for _, g := range strings.Split(string(buf), "\n\n") {
		head, _, _ := strings.Cut(g, " [")
		if id, err := strconv.Atoi(strings.TrimPrefix(head, "goroutine ")); err == nil {
			ids[id] = g
		}
	}
	return ids, string(buf)
}

// newGoroutines lists goroutines that are not in base, ignoring the
// caller's.
func newGoroutines(base map[int]string) []string {
	now, _ := goroutineIDs()
	var extra []string
	for id, g := range now {
		if _, ok := base[id]; !ok && !strings.Contains(g, "goroutineIDs") {
			extra = append(extra, g)
		}
	}
	return extra
}

func openFDs(t *testing.T) int {
	ents, err := os.ReadDir("/proc/self/fd")
	require.NoError(t, err)
	return len(ents)
}

// leakServer accepts TLS connections and echoes until the peer ends.
type leakServer struct {
	ln net.Listener
	wg sync.WaitGroup
}

func startLeakServer(t *testing.T, acc *Acceptor) *leakServer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &leakServer{ln: ln}
	srv.wg.Add(1)
	go func() {
		defer srv.wg.Done()
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			srv.wg.Add(1)
			go func() {
				defer srv.wg.Done()
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				s, err := acc.Accept(ctx, conn)
				if err != nil {
					return
				}
				io.Copy(s, s)
				s.Close()
			}()
		}
	}()
	return srv
}

// stop closes the listener and waits for the connections to end. Those of
// dropped clients end when the garbage collector closes the clients'
// transports, so it collects garbage while it waits.
func (srv *leakServer) stop() {
	srv.ln.Close()
	done := make(chan struct{})
	go func() {
		srv.wg.Wait()
		close(done)
	}()
	for {
		select {
		case <-done:
			return
		case <-time.After(50 * time.Millisecond):
			runtime.GC()
		}
	}
}

// leakClient opens one connection, exchanges a message and closes it, or,
// when drop is set, abandons the stream without Close.
func leakClient(con *Connector, addr string, drop bool) error {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := con.Connect(ctx, conn, "localhost")
	if err != nil {
		return err
	}
	msg := []byte("hello, leak test")
	if _, err := c.Write(msg); err != nil {
		return err
	}
	if err := c.Flush(); err != nil {
		return err
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil {
		return err
	}
	if !bytes.Equal(got, msg) {
		return io.ErrUnexpectedEOF
	}
	if drop {
		return nil // neither the stream nor its transport is closed
	}
	return c.Close()
}

func runLeakClients(t *testing.T, con *Connector, addr string, n int) {
	const workers = 8
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	next := make(chan int)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := leakClient(con, addr, i%10 == 9); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	for i := 0; i < n; i++ {
		select {
		case next <- i:
		case err := <-errs:
			close(next)
			wg.Wait()
			t.Fatalf("connection %d: %v", i, err)
		}
	}
	close(next)
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
}

// leakSettle collects garbage until the abandoned streams' cleanups (and their
// transports' finalizers) have run.
func leakSettle() {
	for i := 0; i < 5; i++ {
		runtime.GC()
		time.Sleep(20 * time.Millisecond)
	}
	debug.FreeOSMemory()
}

// TestStreamLeaks opens, uses and closes many connections (one in ten is
// dropped without Close and left to the garbage collector) and checks that
// goroutines, file descriptors, C connections and memory return to their
// baseline.
func TestStreamLeaks(t *testing.T) {
	n := leakConns
	if testing.Short() {
		n = 500
	}
	scfg, ccfg := serverConfig(t, nil), clientConfig(t, nil)
	acc := NewAcceptor(scfg, StreamOptions{})
	con := NewConnector(ccfg, StreamOptions{})

	// Warm up pools, session caches and the runtime before the baseline.
	srv := startLeakServer(t, acc)
	runLeakClients(t, con, srv.ln.Addr().String(), 200)
	srv.stop()
	leakSettle()
	require.Eventually(t, func() bool { leakSettle(); return cgo.LiveConns() == 0 }, 10*time.Second, 50*time.Millisecond,
		"warm-up connections not freed: %d live", cgo.LiveConns())

	waitLingers(t) // the warm-up's background closes are not the baseline
	baseG, _ := goroutineIDs()
	baseFDs := openFDs(t)
	baseRSS := rssBytes(t)

	start := time.Now()
	srv = startLeakServer(t, acc)
	runLeakClients(t, con, srv.ln.Addr().String(), n)
	peakLive := cgo.LiveConns()
	srv.stop()
	elapsed := time.Since(start)

	require.Eventually(t, func() bool { leakSettle(); return cgo.LiveConns() == 0 }, 20*time.Second, 50*time.Millisecond,
		"C connections still live: %d", cgo.LiveConns())
	var extra []string
	require.Eventually(t, func() bool { extra = newGoroutines(baseG); return len(extra) == 0 }, 10*time.Second, 50*time.Millisecond,
		"leaked goroutines")
	assert.Empty(t, extra)
	var fds int
	require.Eventually(t, func() bool { leakSettle(); fds = openFDs(t); return fds <= baseFDs+2 }, 10*time.Second, 50*time.Millisecond,
		"file descriptors: %d, baseline %d", fds, baseFDs)
	rss := rssBytes(t)
	t.Logf("%d connections in %v; live C connections at the end of the run %d; fds %d -> %d; RSS %d MiB -> %d MiB",
		n, elapsed, peakLive, baseFDs, fds, baseRSS>>20, rss>>20)
	// A leak of the C side of every connection would cost well over
	// 100 MiB (rustls keeps tens of KiB per connection). Under ASan freed
	// memory sits in its quarantine, so RSS says nothing there (ASan's own
	// leak report covers the C side).
	if !asanEnabled {
		assert.Less(t, int64(rss)-int64(baseRSS), int64(64<<20), "RSS grew from %d MiB to %d MiB", baseRSS>>20, rss>>20)
	}
}
