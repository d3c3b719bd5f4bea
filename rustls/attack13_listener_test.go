package rustls_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"math"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gorustls/gorustls/rustls"
)

// Attacks on the listeners of issue 13 (API consistency), through the
// public API only.

// tempError is a transient Accept failure as a net.Listener reports one:
// Temporary but not a timeout (net/http's Serve retries it).
type tempError struct{}

func (tempError) Error() string   { return "attack13: transient accept failure" }
func (tempError) Timeout() bool   { return false }
func (tempError) Temporary() bool { return true }

// flakyListener fails its first Accept with a tempError.
type flakyListener struct {
	net.Listener
	failed atomic.Bool
}

func (l *flakyListener) Accept() (net.Conn, error) {
	if !l.failed.Swap(true) {
		return nil, tempError{}
	}
	return l.Listener.Accept()
}

// acceptWithin runs accept on a goroutine and gives up after d.
func acceptWithin(t *testing.T, d time.Duration, accept func() (net.Conn, error)) (net.Conn, error, bool) {
	t.Helper()
	type res struct {
		c   net.Conn
		err error
	}
	ch := make(chan res, 1)
	go func() {
		c, err := accept()
		ch <- res{c, err}
	}()
	select {
	case r := <-ch:
		return r.c, r.err, true
	case <-time.After(d):
		return nil, nil, false
	}
}

// closeEveryAccepted accepts from ln, closing each connection at once,
// until Accept fails (ln closed).
func closeEveryAccepted(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		_ = c.Close()
	}
}

// dialInBackground dials addr with ccfg and keeps the Stream open until
// the test ends.
func dialInBackground(t *testing.T, addr string, ccfg *rustls.ClientConfig) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	go func() {
		d := &rustls.Dialer{Config: ccfg, ServerName: "localhost"} // exampleConfigs' name
		s, err := d.DialStream(ctx, "tcp", addr)
		if err != nil {
			return
		}
		<-ctx.Done()
		_ = s.Close()
	}()
}

// A transient Accept failure of the inner listener (Temporary, not a
// timeout) must not end the Listener for good: net/http's Serve retries
// such an error, and a plain net.Listener serves the next client. Before
// the fix the accept loop stopped at the first such error and every later
// Accept returned it again, so http.Server.Serve spun on it forever.
func TestAttack13ListenerSurvivesTemporaryAcceptError(t *testing.T) {
	scfg, ccfg := exampleConfigs()
	defer scfg.Close()
	defer ccfg.Close()
	for _, tc := range []struct {
		name string
		ln   func(inner net.Listener) net.Listener
	}{
		{"Listener", func(inner net.Listener) net.Listener {
			return rustls.NewListener(inner, scfg, rustls.StreamOptions{})
		}},
		{"LazyListener", func(inner net.Listener) net.Listener {
			return rustls.NewLazyListener(inner, &rustls.LazyAcceptor{
				Choose: func(*rustls.ClientHello) (*rustls.ServerConfig, error) { return scfg, nil },
			})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inner := loopbackListener(t)
			ln := tc.ln(&flakyListener{Listener: inner})
			defer ln.Close()
			dialInBackground(t, ln.Addr().String(), ccfg)
			// Accept as net/http does: retry temporary errors.
			deadline := time.Now().Add(20 * time.Second)
			for time.Now().Before(deadline) {
				c, err, ok := acceptWithin(t, time.Until(deadline), ln.Accept)
				require.True(t, ok, "Accept hung")
				if err == nil {
					_, isStream := c.(*rustls.Stream)
					assert.True(t, isStream)
					_ = c.Close()
					return
				}
				var te interface{ Temporary() bool }
				require.True(t, errors.As(err, &te) && te.Temporary(), "Accept: %v", err)
				time.Sleep(10 * time.Millisecond)
			}
			t.Fatal("the listener never served the client after a transient Accept error")
		})
	}
}

// NewListener and NewLazyListener with a nil inner listener are careless
// input: Accept reports it, and Close and Addr must not panic either.
func TestAttack13NilInnerListenerDoesNotPanic(t *testing.T) {
	scfg, ccfg := exampleConfigs()
	defer scfg.Close()
	defer ccfg.Close()
	lns := map[string]net.Listener{
		"Listener":          rustls.NewListener(nil, scfg, rustls.StreamOptions{}),
		"LazyListener":      rustls.NewLazyListener(nil, &rustls.LazyAcceptor{}),
		"zero Listener":     &rustls.Listener{},
		"zero LazyListener": &rustls.LazyListener{},
	}
	for name, ln := range lns {
		t.Run(name, func(t *testing.T) {
			_, err := ln.Accept()
			assert.ErrorIs(t, err, rustls.ErrInvalidInput)
			assert.NotPanics(t, func() { _ = ln.Addr() }, "Addr")
			assert.NotPanics(t, func() { _ = ln.Close() }, "Close")
		})
	}
}

// A LazyListener without Choose can serve nobody: like a Listener whose
// config is closed, its Accept must say so instead of blocking forever
// while every client is silently refused.
func TestAttack13LazyListenerWithoutChooseFailsAccept(t *testing.T) {
	scfg, ccfg := exampleConfigs()
	defer scfg.Close()
	defer ccfg.Close()
	for name, la := range map[string]*rustls.LazyAcceptor{
		"nil LazyAcceptor": nil,
		"nil Choose":       {},
	} {
		t.Run(name, func(t *testing.T) {
			inner := loopbackListener(t)
			ln := rustls.NewLazyListener(inner, la)
			defer ln.Close()
			dialInBackground(t, ln.Addr().String(), ccfg)
			c, err, ok := acceptWithin(t, 20*time.Second, ln.Accept)
			require.True(t, ok, "Accept blocked forever on a LazyListener that can serve nobody")
			assert.Nil(t, c)
			assert.ErrorIs(t, err, rustls.ErrInvalidInput)
		})
	}
}

// Streams already returned by Accept are the caller's: closing the
// listener, or outliving its handshake timeout, must not touch them (no
// deadline or cancellation left over from the handshake).
func TestAttack13AcceptedStreamOutlivesListenerAndHandshakeTimeout(t *testing.T) {
	scfg, ccfg := exampleConfigs()
	defer scfg.Close()
	defer ccfg.Close()
	const hsTimeout = 200 * time.Millisecond
	la := &rustls.LazyAcceptor{
		Choose:  func(*rustls.ClientHello) (*rustls.ServerConfig, error) { return scfg, nil },
		Options: rustls.StreamOptions{HandshakeTimeout: hsTimeout},
	}
	for name, mk := range map[string]func(net.Listener) net.Listener{
		"Listener": func(inner net.Listener) net.Listener {
			return rustls.NewListener(inner, scfg, rustls.StreamOptions{HandshakeTimeout: hsTimeout})
		},
		"LazyListener": func(inner net.Listener) net.Listener { return rustls.NewLazyListener(inner, la) },
	} {
		t.Run(name, func(t *testing.T) {
			inner := loopbackListener(t)
			ln := mk(inner)
			defer ln.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			type res struct {
				s   *rustls.Stream
				err error
			}
			ch := make(chan res, 1)
			go func() {
				d := &rustls.Dialer{Config: ccfg, ServerName: "localhost"}
				s, err := d.DialStream(ctx, "tcp", ln.Addr().String())
				ch <- res{s, err}
			}()
			sc, err, ok := acceptWithin(t, 20*time.Second, ln.Accept)
			require.True(t, ok)
			require.NoError(t, err)
			defer sc.Close()
			r := <-ch
			require.NoError(t, r.err)
			defer r.s.Close()

			require.NoError(t, ln.Close())
			time.Sleep(3 * hsTimeout) // past the handshake's bound
			_, err = r.s.Write([]byte("ping"))
			require.NoError(t, err)
			buf := make([]byte, 4)
			_, err = io.ReadFull(sc, buf)
			require.NoError(t, err, "an accepted Stream broke after the listener closed or its handshake timeout passed")
			assert.Equal(t, "ping", string(buf))
			_, err = sc.Write([]byte("pong"))
			require.NoError(t, err)
			require.NoError(t, r.s.SetReadDeadline(time.Now().Add(20*time.Second)))
			_, err = io.ReadFull(r.s, buf)
			require.NoError(t, err)
			assert.Equal(t, "pong", string(buf))
		})
	}
}

// Close while handshakes are in progress (silent clients, half a
// ClientHello, a GetCertificate stuck until its context ends) and an
// Accept is blocked: Accept returns net.ErrClosed, Close returns without
// waiting for the handshake timeout, every client's socket is closed and
// no goroutine is left behind.
func TestAttack13ListenerCloseDuringHandshakesLeaksNothing(t *testing.T) {
	ca, leaf := examplePKI()
	key, err := rustls.NewCertifiedKey(leaf.ChainPEM, leaf.KeyPEM)
	require.NoError(t, err)
	defer key.Close()
	entered := make(chan struct{}, 16)
	scfg, err := rustls.NewServerConfig(rustls.ServerOptions{GetCertificate: func(h *rustls.ClientHello) (*rustls.CertifiedKey, error) {
		entered <- struct{}{}
		<-h.Context().Done()
		return nil, h.Context().Err()
	}})
	require.NoError(t, err)
	defer scfg.Close()
	ccfg, err := rustls.NewClientConfig(rustls.ClientOptions{RootCAs: ca.PEM})
	require.NoError(t, err)
	defer ccfg.Close()

	before := runtime.NumGoroutine()
	ln, err := rustls.Listen("tcp", "127.0.0.1:0", scfg, rustls.StreamOptions{HandshakeTimeout: time.Minute})
	require.NoError(t, err)
	acceptErr := make(chan error, 1)
	go func() {
		_, err := ln.Accept()
		acceptErr <- err
	}()
	var raws []net.Conn
	for i := 0; i < 8; i++ { // silent clients
		c, err := net.Dial("tcp", ln.Addr().String())
		require.NoError(t, err)
		raws = append(raws, c)
	}
	for i := 0; i < 4; i++ { // half a ClientHello record header
		c, err := net.Dial("tcp", ln.Addr().String())
		require.NoError(t, err)
		_, _ = c.Write([]byte{0x16, 0x03, 0x01})
		raws = append(raws, c)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for i := 0; i < 2; i++ { // real clients stuck in GetCertificate
		go func() {
			d := &rustls.Dialer{Config: ccfg, ServerName: "localhost"}
			if s, err := d.DialStream(ctx, "tcp", ln.Addr().String()); err == nil {
				_ = s.Close()
			}
		}()
	}
	for i := 0; i < 2; i++ {
		select {
		case <-entered:
		case <-ctx.Done():
			t.Fatal("GetCertificate never ran")
		}
	}

	closed := make(chan error, 1)
	go func() { closed <- ln.Close() }()
	select {
	case <-closed:
	case <-time.After(20 * time.Second):
		t.Fatal("Close waited for the handshakes")
	}
	select {
	case err := <-acceptErr:
		assert.ErrorIs(t, err, net.ErrClosed)
	case <-time.After(20 * time.Second):
		t.Fatal("Accept still blocked after Close")
	}
	for _, c := range raws {
		require.NoError(t, c.SetReadDeadline(time.Now().Add(20*time.Second)))
		// EOF, or a reset when the server closed with our bytes unread.
		_, err := io.Copy(io.Discard, c)
		var ne net.Error
		assert.False(t, errors.As(err, &ne) && ne.Timeout(), "the listener left a client's socket open")
		_ = c.Close()
	}
	cancel()
	deadline := time.Now().Add(20 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<20)
		t.Fatalf("%d goroutines before, %d after Close:\n%s", before, n, buf[:runtime.Stack(buf, true)])
	}
}

// A config closed while clients keep coming: Accept reports it (an
// *Error matching ErrInvalidInput, which net/http's Serve does not retry),
// handshakes already running finish or fail cleanly, and Close ends it all.
func TestAttack13ListenerConfigClosedUnderLoad(t *testing.T) {
	scfg, ccfg := exampleConfigs()
	defer ccfg.Close()
	ln, err := rustls.Listen("tcp", "127.0.0.1:0", scfg, rustls.StreamOptions{})
	require.NoError(t, err)
	ln.MaxReady = 2
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	stop := make(chan struct{})
	var clients sync.WaitGroup
	for i := 0; i < 6; i++ {
		clients.Add(1)
		go func() {
			defer clients.Done()
			d := &rustls.Dialer{Config: ccfg, ServerName: "localhost"}
			for {
				select {
				case <-stop:
					return
				default:
				}
				cctx, ccancel := context.WithTimeout(ctx, 2*time.Second)
				if s, err := d.DialStream(cctx, "tcp", ln.Addr().String()); err == nil {
					_ = s.Close()
				}
				ccancel()
			}
		}()
	}
	accepted := 0
	var acceptErr error
	for acceptErr == nil {
		c, err, ok := acceptWithin(t, 20*time.Second, ln.Accept)
		require.True(t, ok, "Accept hung")
		if err != nil {
			acceptErr = err
			break
		}
		_ = c.Close()
		accepted++
		if accepted == 5 {
			require.NoError(t, scfg.Close())
		}
	}
	assert.GreaterOrEqual(t, accepted, 5)
	assert.ErrorIs(t, acceptErr, rustls.ErrInvalidInput)
	var te interface{ Temporary() bool }
	assert.False(t, errors.As(acceptErr, &te) && te.Temporary(), "a closed config is not temporary")
	close(stop)
	require.NoError(t, ln.Close())
	clients.Wait()
}

// A failed handshake is permanent and the same error for every later
// call (Handshake, HandshakeContext with any context, Read, Write), and
// a completed one answers nil even to a cancelled context or after Close,
// as crypto/tls does.
func TestAttack13HandshakeResultIsSticky(t *testing.T) {
	scfg, ccfg := exampleConfigs()
	defer scfg.Close()
	defer ccfg.Close()

	t.Run("failed", func(t *testing.T) {
		cc, sc := exampleTCPPair()
		defer sc.Close() // the server never answers
		s, err := rustls.NewConnector(ccfg, rustls.StreamOptions{HandshakeTimeout: 100 * time.Millisecond}).Client(cc, "localhost")
		require.NoError(t, err)
		defer s.Close()
		first := s.Handshake()
		require.ErrorIs(t, first, context.DeadlineExceeded)
		assert.Equal(t, first, s.Handshake())
		assert.Equal(t, first, s.HandshakeContext(context.Background()))
		_, err = s.Read(make([]byte, 1))
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		_, err = s.Write([]byte("x"))
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		assert.False(t, s.ConnectionState().HandshakeComplete)
	})
	t.Run("completed", func(t *testing.T) {
		cc, sc := exampleTCPPair()
		ctx, cancel := exampleContext()
		defer cancel()
		go func() {
			if s, err := rustls.NewAcceptor(scfg, rustls.StreamOptions{}).Accept(ctx, sc); err == nil {
				_, _ = io.Copy(io.Discard, s)
				_ = s.Close()
			}
		}()
		s, err := rustls.NewConnector(ccfg, rustls.StreamOptions{}).Connect(ctx, cc, "localhost")
		require.NoError(t, err)
		done, cancelDone := context.WithCancel(context.Background())
		cancelDone()
		assert.NoError(t, s.HandshakeContext(done))
		assert.NoError(t, s.Handshake())
		require.NoError(t, s.Close())
		assert.NoError(t, s.Handshake(), "after Close")
		assert.True(t, s.ConnectionState().HandshakeComplete)
	})
}

// Handshake() is bounded as a whole, not per read: a client trickling a
// ClientHello a byte at a time cannot keep it going past HandshakeTimeout,
// and neither can it hold a Listener's place past it.
func TestAttack13HandshakeBoundsTricklingPeer(t *testing.T) {
	scfg, ccfg := exampleConfigs()
	defer scfg.Close()
	defer ccfg.Close()
	// A real ClientHello, captured from a Connector.
	cc, sc := exampleTCPPair()
	go func() {
		s, err := rustls.NewConnector(ccfg, rustls.StreamOptions{HandshakeTimeout: 2 * time.Second}).Client(cc, "localhost")
		if err == nil {
			_ = s.Handshake()
			_ = s.Close()
		}
	}()
	hello := make([]byte, 5)
	require.NoError(t, sc.SetReadDeadline(time.Now().Add(20*time.Second)))
	_, err := io.ReadFull(sc, hello)
	require.NoError(t, err)
	rest := make([]byte, int(hello[3])<<8|int(hello[4]))
	_, err = io.ReadFull(sc, rest)
	require.NoError(t, err)
	hello = append(hello, rest...)
	_ = sc.Close()

	trickle := func(c net.Conn, stop <-chan struct{}) {
		for _, b := range hello {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			if _, err := c.Write([]byte{b}); err != nil {
				return
			}
		}
	}
	const bound = 300 * time.Millisecond
	require.Greater(t, time.Duration(len(hello))*20*time.Millisecond, 3*bound, "the trickle must outlast the bound")

	t.Run("Stream.Handshake", func(t *testing.T) {
		cc, sc := exampleTCPPair()
		defer cc.Close()
		stop := make(chan struct{})
		defer close(stop)
		go trickle(cc, stop)
		s, err := rustls.NewAcceptor(scfg, rustls.StreamOptions{HandshakeTimeout: bound}).Server(sc)
		require.NoError(t, err)
		defer s.Close()
		res := make(chan error, 1)
		go func() { res <- s.Handshake() }()
		select {
		case err := <-res:
			assert.ErrorIs(t, err, context.DeadlineExceeded)
		case <-time.After(20 * time.Second):
			t.Fatal("a trickling peer kept Handshake going")
		}
	})
	t.Run("Listener", func(t *testing.T) {
		rec := &recordingHandler{}
		ln, err := rustls.Listen("tcp", "127.0.0.1:0", scfg, rustls.StreamOptions{HandshakeTimeout: bound})
		require.NoError(t, err)
		ln.Logger = slog.New(rec)
		ln.MaxHandshakes = 1
		defer ln.Close()
		go closeEveryAccepted(ln)
		c, err := net.Dial("tcp", ln.Addr().String())
		require.NoError(t, err)
		defer c.Close()
		stop := make(chan struct{})
		defer close(stop)
		go trickle(c, stop)
		// The only place is freed at the bound: a real client gets in.
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		d := &rustls.Dialer{Config: ccfg, ServerName: "localhost"}
		s, err := d.DialStream(ctx, "tcp", ln.Addr().String())
		require.NoError(t, err)
		_ = s.Close()
		rec.waitAny(ctx)
		assert.Equal(t, 1, rec.count(), "the trickling client's timeout is logged")
	})
}

// A handshake that fails because of the server's own configuration (a
// LazyListener's Choose returning a closed config) is the operator's
// problem, not a client's: it must not be logged at slog.LevelInfo with
// clients' noise, where a handler filtering Info hides that the server
// serves nobody.
func TestAttack13ServerSideConfigErrorIsNotClientNoise(t *testing.T) {
	scfg, ccfg := exampleConfigs()
	defer ccfg.Close()
	require.NoError(t, scfg.Close())
	inner := loopbackListener(t)
	ln := rustls.NewLazyListener(inner, &rustls.LazyAcceptor{
		Choose: func(*rustls.ClientHello) (*rustls.ServerConfig, error) { return scfg, nil },
	})
	rec := &recordingHandler{}
	ln.Logger = slog.New(rec)
	defer ln.Close()
	go closeEveryAccepted(ln)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	d := &rustls.Dialer{Config: ccfg, ServerName: "localhost"}
	_, err := d.DialStream(ctx, "tcp", ln.Addr().String())
	require.Error(t, err)
	rec.waitAny(ctx)
	require.Equal(t, 1, rec.count())
	r := rec.first()
	var logged error
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "error" {
			logged, _ = a.Value.Any().(error)
		}
		return true
	})
	assert.ErrorIs(t, logged, rustls.ErrInvalidInput)
	assert.Equal(t, slog.LevelError, r.Level, "%s: %v", r.Message, logged)
}

// "No bound" written as math.MaxInt is careless input, not a reason for
// Accept to panic allocating the queue.
func TestAttack13HugeBoundsDoNotPanic(t *testing.T) {
	scfg, ccfg := exampleConfigs()
	defer scfg.Close()
	defer ccfg.Close()
	inner := loopbackListener(t)
	ln := rustls.NewListener(inner, scfg, rustls.StreamOptions{})
	ln.MaxHandshakes = math.MaxInt
	ln.MaxReady = math.MaxInt
	defer ln.Close()
	dialInBackground(t, ln.Addr().String(), ccfg)
	var c net.Conn
	var err error
	require.NotPanics(t, func() {
		var ok bool
		c, err, ok = acceptWithin(t, 20*time.Second, ln.Accept)
		require.True(t, ok)
	})
	require.NoError(t, err)
	_ = c.Close()
}

// A transport whose connections report no RemoteAddr: the failed
// handshake is still logged (without "remote"), not lost to a panic.
type noAddrListener struct{ net.Listener }

type noAddrConn struct{ net.Conn }

func (noAddrConn) RemoteAddr() net.Addr { return nil }

func (l noAddrListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return noAddrConn{c}, nil
}

func TestAttack13NilRemoteAddrIsStillLogged(t *testing.T) {
	scfg, ccfg := exampleConfigs()
	defer scfg.Close()
	defer ccfg.Close()
	inner := loopbackListener(t)
	ln := rustls.NewListener(noAddrListener{inner}, scfg, rustls.StreamOptions{})
	rec := &recordingHandler{}
	ln.Logger = slog.New(rec)
	defer ln.Close()
	go closeEveryAccepted(ln)
	c, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	_, _ = c.Write([]byte("not TLS at all\r\n\r\n"))
	_ = c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	rec.waitAny(ctx)
	assert.Equal(t, 1, rec.count(), "the failed handshake's record was lost")
}
