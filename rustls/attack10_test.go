package rustls

// Hostile-review regression tests (attack10). Each test drives the public
// API the way a careless user or a hostile peer would; see the comments for
// what each one expects.

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"os"
	"os/exec"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorustls/gorustls/cgo"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// within runs fn on its own goroutine and returns its error, or fails the
// test if fn has not returned after d (the goroutine is then left behind,
// stuck; ok is false).
func within(t *testing.T, d time.Duration, what string, fn func() error) (err error, ok bool) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- fn() }()
	select {
	case err = <-done:
		return err, true
	case <-time.After(d):
		t.Errorf("%s: still blocked after %v", what, d)
		return nil, false
	}
}

// capturedClientHello returns the first flight of a crypto/tls client.
func capturedClientHello(t *testing.T) []byte {
	t.Helper()
	a, b := net.Pipe()
	go func() {
		c := tls.Client(a, &tls.Config{ServerName: "localhost", InsecureSkipVerify: true})
		_ = c.Handshake()
	}()
	buf := make([]byte, 4096)
	_ = b.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := b.Read(buf)
	require.NoError(t, err)
	a.Close()
	b.Close()
	return buf[:n]
}

// readHelloOver feeds hello to ReadClientHello over a pipe.
func readHelloOver(t *testing.T, hello []byte) (*StartHandshake, net.Conn) {
	t.Helper()
	a, b := net.Pipe()
	go func() { _, _ = a.Write(hello) }()
	h, err := ReadClientHello(context.Background(), b)
	require.NoError(t, err)
	a.Close()
	return h, b
}

// A StartHandshake dropped without IntoStream, Refuse or Abandon (an early
// return, a panic in the caller's code) must not leak its C acceptor: every
// other owner of C memory (Stream, configs, keys, providers) has a cleanup.
func TestAttack10DroppedStartHandshakeLeaksCMemory(t *testing.T) {
	if cgo.MallocInUse() < 0 {
		t.Skip("C heap usage not reported")
	}
	hello := capturedClientHello(t)
	measure := func(abandon bool) int64 {
		runtime.GC()
		cgo.MallocTrim()
		before := cgo.MallocInUse()
		for i := 0; i < 300; i++ {
			h, conn := readHelloOver(t, hello)
			if abandon {
				h.Abandon()
			}
			conn.Close()
		}
		for i := 0; i < 4; i++ {
			runtime.GC()
			time.Sleep(10 * time.Millisecond)
		}
		return cgo.MallocInUse() - before
	}
	abandoned := measure(true)
	dropped := measure(false)
	t.Logf("C heap growth after 300 hellos: Abandon %d bytes, dropped %d bytes", abandoned, dropped)
	assert.Less(t, dropped, abandoned+300*1024, "dropped StartHandshakes keep C memory (%d bytes more than abandoned ones)", dropped-abandoned)
}

// inChild runs fn in a child test process (this test re-executed), so that
// a crash it provokes (a double free, an unrecovered panic) fails this test
// instead of killing the whole package run.
func inChild(t *testing.T, fn func(t *testing.T)) {
	t.Helper()
	if os.Getenv("ATTACK10_CHILD") == t.Name() {
		fn(t)
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^"+t.Name()+"$", "-test.count=1", "-test.timeout=120s", "-test.v")
	cmd.Env = append(os.Environ(), "ATTACK10_CHILD="+t.Name())
	out, err := cmd.CombinedOutput()
	if err != nil {
		const max = 6000
		if len(out) > max {
			out = out[:max]
		}
		t.Fatalf("child process failed (%v):\n%s", err, out)
	}
}

// Abandon on one goroutine (a watchdog giving up) while IntoStream runs on
// another: the C acceptor and accepted hello are freed from two goroutines
// without synchronization (a data race on the C pointers; a double free
// or a use after free in rustls_accepted_into_connection, which aborts
// the process). Run in a child process.
func TestAttack10StartHandshakeAbandonDuringIntoStream(t *testing.T) {
	inChild(t, func(t *testing.T) {
		scfg := serverConfig(t, nil)
		ccfg := clientConfig(t, nil)
		for i := 0; i < 200; i++ {
			cc, sc := tcpPair(t)
			go func() {
				_, _ = NewConnector(ccfg, StreamOptions{}).ConnectFallible(testCtx(t), cc, "localhost")
			}()
			h, err := ReadClientHello(testCtx(t), sc)
			require.NoError(t, err)
			var wg sync.WaitGroup
			wg.Add(2)
			go func() {
				defer wg.Done()
				if s, err := h.IntoStream(testCtx(t), scfg, StreamOptions{}); err == nil {
					s.Close()
				}
			}()
			go func() {
				defer wg.Done()
				h.Abandon()
			}()
			wg.Wait()
			cc.Close()
			sc.Close()
		}
	})
}

// A LazyListener.Logger whose handler panics (a logger bug) is user code
// run on the listener's own goroutine: unrecovered, the whole process
// would die on the first failed handshake. Run in a child process.
func TestAttack10LazyListenerLoggerPanic(t *testing.T) {
	inChild(t, func(t *testing.T) {
		scfg := serverConfig(t, nil)
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		l := NewLazyListener(ln, &LazyAcceptor{Choose: func(*ClientHello) (*ServerConfig, error) { return scfg, nil }})
		var calls atomic.Int32
		l.Logger = slog.New(funcHandler(func(slog.Record) {
			calls.Add(1)
			panic("logger bug")
		}))
		defer l.Close()
		go func() { _, _ = l.Accept() }()
		c, err := net.Dial("tcp", ln.Addr().String())
		require.NoError(t, err)
		_, _ = c.Write([]byte("GET / HTTP/1.0\r\n\r\n"))
		_, _ = io.Copy(io.Discard, c) // until the listener closes it
		c.Close()
		require.Eventually(t, func() bool { return calls.Load() > 0 }, 5*time.Second, 10*time.Millisecond)
		time.Sleep(100 * time.Millisecond) // the process is still alive
	})
}

// Closing the Stream from inside its own DangerousVerifyPeerCertificate
// (a verifier that wants the connection gone) must not deadlock: Close is
// documented as callable from any goroutine at any moment.
func TestAttack10CloseFromPeerVerifier(t *testing.T) {
	scfg := serverConfig(t, nil)
	var mu sync.Mutex
	var self *Stream
	ccfg := clientConfig(t, func(o *ClientOptions) {
		o.RootCAs = nil
		o.DangerousVerifyPeerCertificate = func(string, [][]byte, []byte) error {
			mu.Lock()
			s := self
			mu.Unlock()
			_ = s.Close()
			return nil
		}
	})
	cc, sc := tcpPair(t)
	go func() { _, _ = NewAcceptor(scfg, StreamOptions{}).Accept(testCtx(t), sc) }()
	s, err := NewConnector(ccfg, StreamOptions{}).Client(cc, "localhost")
	require.NoError(t, err)
	mu.Lock()
	self = s
	mu.Unlock()
	ctx := testCtx(t)
	if err, ok := within(t, 5*time.Second, "Handshake with Close inside the verifier", func() error { return s.HandshakeContext(ctx) }); ok {
		assert.Error(t, err)
	}
}

// The same from GetCertificate on the server side.
func TestAttack10CloseFromGetCertificate(t *testing.T) {
	_, srv, _ := pki(t)
	key := srv.certifiedKey(t)
	var mu sync.Mutex
	var self *Stream
	scfg := serverConfig(t, func(o *ServerOptions) {
		o.Certificates = nil
		o.GetCertificate = func(*ClientHello) (*CertifiedKey, error) {
			mu.Lock()
			s := self
			mu.Unlock()
			_ = s.Close()
			return key, nil
		}
	})
	ccfg := clientConfig(t, nil)
	cc, sc := tcpPair(t)
	go func() { _, _ = NewConnector(ccfg, StreamOptions{}).Connect(testCtx(t), cc, "localhost") }()
	s, err := NewAcceptor(scfg, StreamOptions{}).Server(sc)
	require.NoError(t, err)
	mu.Lock()
	self = s
	mu.Unlock()
	ctx := testCtx(t)
	if err, ok := within(t, 5*time.Second, "Handshake with Close inside GetCertificate", func() error { return s.HandshakeContext(ctx) }); ok {
		assert.Error(t, err)
	}
}

// Accept's ctx is documented to bound the handshake, and ClientHello
// offers GetCertificate no context to watch: a GetCertificate stuck on a
// slow backend (an ACME order, a vault) keeps Accept past its deadline.
func TestAttack10AcceptContextBoundsBlockedGetCertificate(t *testing.T) {
	_, srv, _ := pki(t)
	key := srv.certifiedKey(t)
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	scfg := serverConfig(t, func(o *ServerOptions) {
		o.Certificates = nil
		o.GetCertificate = func(*ClientHello) (*CertifiedKey, error) {
			<-release
			return key, nil
		}
	})
	ccfg := clientConfig(t, nil)
	cc, sc := tcpPair(t)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		_, _ = NewConnector(ccfg, StreamOptions{}).Connect(ctx, cc, "localhost")
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	err, ok := within(t, 5*time.Second, "Accept with a 500ms context and a stuck GetCertificate", func() error {
		_, err := NewAcceptor(scfg, StreamOptions{}).Accept(ctx, sc)
		return err
	})
	if ok {
		assert.True(t, errors.Is(err, context.DeadlineExceeded), "got %v", err)
	}
}

// noPanic runs fn and turns a panic into a test failure naming what.
func noPanic(t *testing.T, what string, fn func() error) {
	t.Helper()
	defer func() {
		if v := recover(); v != nil {
			t.Errorf("%s panicked: %v", what, v)
		}
	}()
	err := fn()
	assert.Error(t, err, what)
}

// Bad input from a careless caller gets an error, never a panic (COMMON.md:
// "Bad input gets a clear typed *rustls.Error ... never a panic").
func TestAttack10CarelessInputPanics(t *testing.T) {
	scfg := serverConfig(t, nil)
	ccfg := clientConfig(t, nil)
	t.Run("zero ServerConfig", func(t *testing.T) {
		_, sc := tcpPair(t)
		noPanic(t, "Accept with &ServerConfig{}", func() error {
			_, err := NewAcceptor(&ServerConfig{}, StreamOptions{}).Accept(testCtx(t), sc)
			return err
		})
	})
	t.Run("zero ClientConfig", func(t *testing.T) {
		cc, _ := tcpPair(t)
		noPanic(t, "Connect with &ClientConfig{}", func() error {
			_, err := NewConnector(&ClientConfig{}, StreamOptions{}).Connect(testCtx(t), cc, "localhost")
			return err
		})
	})
	t.Run("zero Provider", func(t *testing.T) {
		noPanic(t, "NewClientConfig with &Provider{}", func() error {
			ca, _, _ := pki(t)
			_, err := NewClientConfig(ClientOptions{RootCAs: ca.certPEM, Provider: &Provider{}})
			return err
		})
	})
	t.Run("nil conn", func(t *testing.T) {
		noPanic(t, "Accept on a nil net.Conn", func() error {
			_, err := NewAcceptor(scfg, StreamOptions{}).Accept(testCtx(t), nil)
			return err
		})
		noPanic(t, "Connect on a nil net.Conn", func() error {
			_, err := NewConnector(ccfg, StreamOptions{}).Connect(testCtx(t), nil, "localhost")
			return err
		})
	})
	t.Run("nil context", func(t *testing.T) {
		cc, _ := tcpPair(t)
		noPanic(t, "Connect with a nil context", func() error {
			//lint:ignore SA1012 a careless caller's nil context is the point
			_, err := NewConnector(ccfg, StreamOptions{}).Connect(nil, cc, "localhost") //nolint:staticcheck
			return err
		})
	})
}

// Streams dropped without Close (client and server, after a handshake and
// before one) are freed by their cleanups: live C connections go back to
// the baseline.
func TestAttack10AbandonedStreamsFreed(t *testing.T) {
	scfg := serverConfig(t, nil)
	ccfg := clientConfig(t, nil)
	runtime.GC()
	base := cgo.LiveConns()
	func() {
		for i := 0; i < 50; i++ {
			c, s, cerr, serr := handshakePairNoCleanup(t, scfg, ccfg)
			require.NoError(t, cerr)
			require.NoError(t, serr)
			_, _ = c, s
			cc, sc := tcpPair(t)
			_, err := NewConnector(ccfg, StreamOptions{}).Client(cc, "localhost")
			require.NoError(t, err)
			_, err = NewAcceptor(scfg, StreamOptions{}).Server(sc)
			require.NoError(t, err)
		}
	}()
	require.Eventually(t, func() bool { runtime.GC(); return cgo.LiveConns() <= base }, 10*time.Second, 20*time.Millisecond,
		"abandoned streams still hold %d C connections", cgo.LiveConns()-base)
}

// handshakePairNoCleanup is handshakePair without the Close at cleanup, so
// that the streams can be dropped.
func handshakePairNoCleanup(t *testing.T, scfg *ServerConfig, ccfg *ClientConfig) (c, s *Stream, cerr, serr error) {
	cc, sc := tcpPair(t)
	ctx := testCtx(t)
	ch := make(chan error, 1)
	go func() {
		var err error
		s, err = NewAcceptor(scfg, StreamOptions{WriteThrough: true}).Accept(ctx, sc)
		ch <- err
	}()
	c, cerr = NewConnector(ccfg, StreamOptions{WriteThrough: true}).Connect(ctx, cc, "localhost")
	serr = <-ch
	return c, s, cerr, serr
}

// TestAttack10Chaos: many goroutines call every Stream method at random on
// the same streams, at every stage (before, during and after the
// handshake, after resets), while GetCertificate's key rotates with Close,
// client configs are closed under running handshakes and callbacks panic
// at random. Nothing may crash, hang (each stream's goroutines must end
// within a bound once it is closed) or leak (goroutines, fds, C
// connections).
func TestAttack10Chaos(t *testing.T) {
	_, srv, _ := pki(t)
	ca, _, _ := pki(t)
	var cur atomic.Pointer[CertifiedKey]
	first := srv.certifiedKey(t)
	cur.Store(first)
	var calls atomic.Int64
	logger := slog.New(panicHandler{&calls})
	scfg := serverConfig(t, func(o *ServerOptions) {
		o.Certificates = nil
		o.GetCertificate = func(*ClientHello) (*CertifiedKey, error) {
			if calls.Add(1)%17 == 0 {
				panic("chaos GetCertificate")
			}
			return cur.Load(), nil
		}
		o.KeyLogWriter = panicWriter{&calls}
	})
	leakSettle()
	waitLingers(t)
	baseG, _ := goroutineIDs()
	baseFD := openFDs(t)
	baseConns := cgo.LiveConns()

	stop := make(chan struct{})
	var bg sync.WaitGroup
	bg.Add(1)
	go func() { // rotation
		defer bg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			k, err := NewCertifiedKey(srv.certPEM, srv.keyPEM)
			if err != nil {
				t.Error(err)
				return
			}
			cur.Swap(k).Close()
			time.Sleep(time.Millisecond)
		}
	}()
	var cfgMu sync.Mutex
	newClientCfg := func() *ClientConfig {
		c, err := NewClientConfig(ClientOptions{RootCAs: ca.certPEM, KeyLogWriter: panicWriter{&calls}})
		require.NoError(t, err)
		return c
	}
	ccfg := newClientCfg()
	bg.Add(1)
	go func() { // client configs closed under running handshakes
		defer bg.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(3 * time.Millisecond):
			}
			n := newClientCfg()
			cfgMu.Lock()
			old := ccfg
			ccfg = n
			cfgMu.Unlock()
			old.Close()
		}
	}()

	ops := func(s *Stream, r *mrand.Rand, buf []byte) {
		switch r.IntN(12) {
		case 0:
			_, _ = s.Read(buf)
		case 1, 2:
			_, _ = s.Write(buf[:r.IntN(len(buf))+1])
		case 3:
			_ = s.Flush()
		case 4:
			_ = s.KeyUpdate()
		case 5:
			_ = s.CloseWrite()
		case 6:
			_ = s.ConnectionState()
			_ = s.Buffered()
		case 7:
			_ = s.SetDeadline(time.Now().Add(time.Duration(r.IntN(20)) * time.Millisecond))
		case 8:
			_ = s.SetReadDeadline(time.Time{})
		case 9:
			_ = s.HandshakeContext(context.Background())
		case 10:
			if r.IntN(20) == 0 {
				_ = s.Close()
			}
		case 11:
			if r.IntN(40) == 0 {
				if tc, ok := s.NetConn().(*net.TCPConn); ok {
					_ = tc.SetLinger(0)
					_ = tc.Close() // a reset
				}
			}
		}
	}
	end := time.Now().Add(6 * time.Second)
	var workers sync.WaitGroup
	var streams, hung atomic.Int64
	for w := 0; w < 4; w++ {
		workers.Add(1)
		go func(seed uint64) {
			defer workers.Done()
			r := mrand.New(mrand.NewPCG(seed, 7))
			for time.Now().Before(end) {
				cc, sc := tcpPair(t)
				cfgMu.Lock()
				cfg := ccfg
				cfgMu.Unlock()
				c, err := NewConnector(cfg, StreamOptions{Logger: logger, WriteThrough: r.IntN(2) == 0}).Client(cc, "localhost")
				if err != nil {
					require.ErrorIs(t, err, ErrInvalidInput) // closed config
					// tcpPair closes the pair only at the test's end,
					// after the leak check below: close it now.
					cc.Close()
					sc.Close()
					continue
				}
				s, err := NewAcceptor(scfg, StreamOptions{Logger: logger, CloseTimeout: 200 * time.Millisecond}).Server(sc)
				require.NoError(t, err)
				streams.Add(1)
				var g sync.WaitGroup
				for i := 0; i < 6; i++ {
					g.Add(1)
					go func(st *Stream, seed uint64) {
						defer g.Done()
						r := mrand.New(mrand.NewPCG(seed, 9))
						buf := make([]byte, 40<<10)
						for j := 0; j < 30; j++ {
							ops(st, r, buf)
						}
					}([]*Stream{c, s}[i%2], r.Uint64())
				}
				done := make(chan struct{})
				go func() { g.Wait(); close(done) }()
				// Reads with no deadline wait for the peer: after a while,
				// Close ends whatever is left; Close and every blocked call
				// must return.
				select {
				case <-done:
				case <-time.After(time.Second):
				}
				closed := make(chan struct{})
				go func() { _ = c.Close(); _ = s.Close(); close(closed) }()
				select {
				case <-closed:
				case <-time.After(10 * time.Second):
					hung.Add(1)
				}
				select {
				case <-done:
				case <-time.After(10 * time.Second):
					hung.Add(1)
				}
			}
		}(uint64(w))
	}
	workers.Wait()
	close(stop)
	bg.Wait()
	cfgMu.Lock()
	ccfg.Close()
	cfgMu.Unlock()
	cur.Load().Close()
	t.Logf("%d stream pairs, %d callback calls", streams.Load(), calls.Load())
	if !assert.Zero(t, hung.Load(), "stream operations or Close that did not return") {
		buf := make([]byte, 4<<20)
		t.Logf("%s", buf[:runtime.Stack(buf, true)])
		return
	}
	assert.Eventually(t, func() bool {
		leakSettle()
		return len(newGoroutines(baseG)) == 0 && cgo.LiveConns() <= baseConns && openFDs(t) <= baseFD
	}, 20*time.Second, 100*time.Millisecond, "leaks: %d goroutines, %d C connections, %d fds over baseline",
		len(newGoroutines(baseG)), cgo.LiveConns()-baseConns, openFDs(t)-baseFD)
}

// panicHandler is an slog handler that panics on every seventh record.
type panicHandler struct{ n *atomic.Int64 }

func (h panicHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h panicHandler) Handle(context.Context, slog.Record) error {
	if h.n.Add(1)%7 == 0 {
		panic("chaos logger")
	}
	return nil
}
func (h panicHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h panicHandler) WithGroup(string) slog.Handler      { return h }

// panicWriter is a KeyLogWriter that panics on every fifth line.
type panicWriter struct{ n *atomic.Int64 }

func (w panicWriter) Write(p []byte) (int, error) {
	if w.n.Add(1)%5 == 0 {
		panic("chaos key log")
	}
	return len(p), nil
}

// A Write that timed out counted n bytes; the writer then closes (Close or
// CloseWrite then Close) instead of writing on. Everything counted must
// reach the peer, then io.EOF: Close sends the queued ciphertext first.
func TestAttack10TimedOutWriteThenClose(t *testing.T) {
	for _, wt := range []bool{true, false} {
		for _, how := range []string{"Close", "CloseWrite"} {
			t.Run(fmt.Sprintf("writeThrough=%v/%s", wt, how), func(t *testing.T) {
				c, s := rustlsPair(t, serverConfig(t, nil), clientConfig(t, nil), StreamOptions{}, StreamOptions{WriteThrough: wt, CloseTimeout: 20 * time.Second})
				data := pattern(8<<20, 3)
				require.NoError(t, c.SetWriteDeadline(time.Now().Add(100*time.Millisecond)))
				n, err := c.Write(data)
				require.ErrorIs(t, err, os.ErrDeadlineExceeded)
				require.NoError(t, c.SetWriteDeadline(time.Time{}))
				got := make(chan []byte, 1)
				go func() {
					_ = s.SetReadDeadline(time.Now().Add(20 * time.Second))
					b, err := io.ReadAll(s)
					assert.NoError(t, err, "the peer's Read ends with io.EOF")
					got <- b
				}()
				if how == "CloseWrite" {
					require.NoError(t, c.CloseWrite())
				}
				require.NoError(t, c.Close())
				b := <-got
				assert.Equal(t, n, len(b), "the peer got what Write counted")
				assert.Equal(t, data[:min(n, len(b))], b[:min(n, len(b))])
			})
		}
	}
}

// Configs with a KeyLogWriter that a program drops without Close (built per
// test, per tenant, per reload) must not make NewServerConfig fail for
// want of key-log slots while they are unreachable.
func TestAttack10DroppedKeyLogConfigsFreeSlots(t *testing.T) {
	_, srv, _ := pki(t)
	key := srv.certifiedKey(t)
	for i := 0; i < 3*cgo.KeylogSlots; i++ {
		c, err := NewServerConfig(ServerOptions{Certificates: []*CertifiedKey{key}, KeyLogWriter: io.Discard})
		require.NoError(t, err, "config %d", i)
		_ = c
	}
}

// CloseWrite against a peer that has stopped reading: Close is bounded by
// CloseTimeout, crypto/tls bounds its close_notify (CloseWrite and Close)
// by 5 seconds; gorustls's CloseWrite blocks until the peer reads again.
func TestAttack10CloseWriteBoundedWhenPeerStopsReading(t *testing.T) {
	c, s := rustlsPair(t, serverConfig(t, nil), clientConfig(t, nil), StreamOptions{}, StreamOptions{CloseTimeout: time.Second})
	// Small fixed socket buffers: the queued ciphertext cannot all fit.
	require.NoError(t, s.NetConn().(*net.TCPConn).SetReadBuffer(4096))
	require.NoError(t, c.NetConn().(*net.TCPConn).SetWriteBuffer(4096))
	require.NoError(t, c.SetWriteDeadline(time.Now().Add(200*time.Millisecond)))
	_, err := c.Write(pattern(16<<20, 5))
	require.ErrorIs(t, err, os.ErrDeadlineExceeded, "the peer's window is full")
	require.NoError(t, c.SetWriteDeadline(time.Time{}))
	err, ok := within(t, 5*time.Second, "CloseWrite with a peer that does not read", c.CloseWrite)
	if ok {
		t.Logf("CloseWrite: %v", err)
	}
}

// A goroutine that resets the read deadline (a keep-alive loop, an idle
// timer) while another goroutine closes: Close's own deadline, which is
// what ends a blocked Read, must not be undone by a SetReadDeadline that
// passed its closed check just before Close began; else Close waits (in
// linger) for a Read that never returns.
func TestAttack10SetReadDeadlineRacesClose(t *testing.T) {
	scfg, ccfg := serverConfig(t, nil), clientConfig(t, nil)
	for i := 0; i < 60 && !t.Failed(); i++ {
		c, s := rustlsPair(t, scfg, ccfg, StreamOptions{}, StreamOptions{})
		_ = c // the peer stays silent and open
		stop := make(chan struct{})
		var g sync.WaitGroup
		g.Add(2)
		go func() { // reader
			defer g.Done()
			buf := make([]byte, 16)
			for {
				if _, err := s.Read(buf); err != nil && !isTimeout(err) {
					return
				}
			}
		}()
		go func() { // deadline keeper
			defer g.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if s.SetReadDeadline(time.Now().Add(time.Duration(i%3)*time.Microsecond)) != nil {
					if s.SetReadDeadline(time.Time{}) != nil {
						return
					}
				}
			}
		}()
		time.Sleep(time.Duration(i%7) * 100 * time.Microsecond)
		_, ok := within(t, 5*time.Second, fmt.Sprintf("Close (round %d) with a goroutine resetting the read deadline", i), s.Close)
		close(stop)
		if ok {
			g.Wait()
		}
	}
}

// closingStore closes its config from inside Put.
type closingStore struct {
	*MemorySessionStore
	cfg *atomic.Pointer[ServerConfig]
}

func (c closingStore) Put(k, v []byte) bool {
	if cfg := c.cfg.Load(); cfg != nil {
		cfg.Close()
	}
	return c.MemorySessionStore.Put(k, v)
}

// A config closed from inside its own callbacks (GetCertificate,
// SessionStore.Put, VerifyConnection): the handshake in progress completes
// and the next connection is refused with a clear error.
func TestAttack10ConfigClosedFromItsOwnCallbacks(t *testing.T) {
	_, srv, _ := pki(t)
	key := srv.certifiedKey(t)
	ccfg := clientConfig(t, nil)
	cases := map[string]func(self *atomic.Pointer[ServerConfig]) ServerOptions{
		"GetCertificate": func(self *atomic.Pointer[ServerConfig]) ServerOptions {
			return ServerOptions{GetCertificate: func(*ClientHello) (*CertifiedKey, error) {
				self.Load().Close()
				return key, nil
			}}
		},
		"SessionStore.Put": func(self *atomic.Pointer[ServerConfig]) ServerOptions {
			return ServerOptions{Certificates: []*CertifiedKey{key}, SessionStore: closingStore{NewMemorySessionStore(0), self}}
		},
		"VerifyConnection": func(self *atomic.Pointer[ServerConfig]) ServerOptions {
			return ServerOptions{Certificates: []*CertifiedKey{key}, VerifyConnection: func(tls.ConnectionState) error {
				self.Load().Close()
				return nil
			}}
		},
	}
	for name, mk := range cases {
		t.Run(name, func(t *testing.T) {
			var self atomic.Pointer[ServerConfig]
			scfg, err := NewServerConfig(mk(&self))
			require.NoError(t, err)
			self.Store(scfg)
			var c, s *Stream
			var cerr, serr error
			_, ok := within(t, 10*time.Second, "handshake", func() error {
				c, s, cerr, serr = handshakePairNoCleanup(t, scfg, ccfg)
				return nil
			})
			if !ok {
				return
			}
			require.NoError(t, cerr)
			require.NoError(t, serr)
			pingPong(t, c, s)
			c.Close()
			s.Close()
			_, err = NewAcceptor(scfg, StreamOptions{}).Server(nil)
			assert.ErrorIs(t, err, ErrInvalidInput)
			assert.Contains(t, fmt.Sprint(err), "closed")
		})
	}
}
