package rustls

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorustls/gorustls/cgo"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// closeHandler is an slog handler that runs fn on every record.
type closeHandler struct{ fn func() }

func (h closeHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h closeHandler) Handle(context.Context, slog.Record) error {
	h.fn()
	return nil
}
func (h closeHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h closeHandler) WithGroup(string) slog.Handler      { return h }

// keylogFunc is a KeyLogWriter that runs fn on every line.
type keylogFunc func()

func (f keylogFunc) Write(p []byte) (int, error) { f(); return len(p), nil }

// liveConnsSettle waits until the C connections are back to base.
func liveConnsSettle(t *testing.T, base int64) {
	t.Helper()
	assert.Eventually(t, func() bool { return cgo.LiveConns() <= base }, 10*time.Second, 10*time.Millisecond,
		"%d C connections not freed", cgo.LiveConns()-base)
}

// A Stream closed from inside each of its own callbacks: Close returns at
// once, the handshake returns an error instead of deadlocking, and the C
// connection is freed once rustls has returned from the call that ran the
// callback.
func TestCloseFromOwnCallback(t *testing.T) {
	_, srv, _ := pki(t)
	key := srv.certifiedKey(t)
	type setup struct {
		server  func(self *atomic.Pointer[Stream], o *ServerOptions, so *StreamOptions)
		client  func(self *atomic.Pointer[Stream], o *ClientOptions, so *StreamOptions)
		onSever bool
	}
	closeSelf := func(self *atomic.Pointer[Stream]) {
		if s := self.Swap(nil); s != nil {
			_, ok := within(t, 2*time.Second, "Close from inside a callback", s.Close)
			assert.True(t, ok)
		}
	}
	cases := map[string]setup{
		"GetCertificate": {onSever: true, server: func(self *atomic.Pointer[Stream], o *ServerOptions, _ *StreamOptions) {
			o.Certificates = nil
			o.GetCertificate = func(*ClientHello) (*CertifiedKey, error) { closeSelf(self); return key, nil }
		}},
		"SessionStore.Put": {onSever: true, server: func(self *atomic.Pointer[Stream], o *ServerOptions, _ *StreamOptions) {
			o.SessionStore = closingStoreFunc{NewMemorySessionStore(0), func() { closeSelf(self) }}
		}},
		"server VerifyConnection": {onSever: true, server: func(self *atomic.Pointer[Stream], o *ServerOptions, _ *StreamOptions) {
			o.VerifyConnection = func(tls.ConnectionState) error { closeSelf(self); return nil }
		}},
		"server Logger": {onSever: true, server: func(self *atomic.Pointer[Stream], _ *ServerOptions, so *StreamOptions) {
			so.Logger = slog.New(closeHandler{func() { closeSelf(self) }})
		}},
		"server KeyLogWriter": {onSever: true, server: func(self *atomic.Pointer[Stream], o *ServerOptions, _ *StreamOptions) {
			o.KeyLogWriter = keylogFunc(func() { closeSelf(self) })
		}},
		"DangerousVerifyPeerCertificate": {client: func(self *atomic.Pointer[Stream], o *ClientOptions, _ *StreamOptions) {
			o.RootCAs = nil
			o.DangerousVerifyPeerCertificate = func(string, [][]byte, []byte) error { closeSelf(self); return nil }
		}},
		"client VerifyConnection": {client: func(self *atomic.Pointer[Stream], o *ClientOptions, _ *StreamOptions) {
			o.VerifyConnection = func(tls.ConnectionState) error { closeSelf(self); return nil }
		}},
		"client Logger": {client: func(self *atomic.Pointer[Stream], _ *ClientOptions, so *StreamOptions) {
			so.Logger = slog.New(closeHandler{func() { closeSelf(self) }})
		}},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			runtime_GC()
			base := cgo.LiveConns()
			var self atomic.Pointer[Stream]
			var sopts, copts StreamOptions
			scfg := serverConfig(t, func(o *ServerOptions) {
				if c.server != nil {
					c.server(&self, o, &sopts)
				}
			})
			ccfg := clientConfig(t, func(o *ClientOptions) {
				if c.client != nil {
					c.client(&self, o, &copts)
				}
			})
			cc, sc := tcpPair(t)
			peerDone := make(chan struct{})
			var s *Stream
			var err error
			if c.onSever {
				go func() {
					defer close(peerDone)
					if p, err := NewConnector(ccfg, copts).Connect(testCtx(t), cc, "localhost"); err == nil {
						p.Close()
					}
				}()
				s, err = NewAcceptor(scfg, sopts).Server(sc)
			} else {
				go func() {
					defer close(peerDone)
					if p, err := NewAcceptor(scfg, sopts).Accept(testCtx(t), sc); err == nil {
						p.Close()
					}
				}()
				s, err = NewConnector(ccfg, copts).Client(cc, "localhost")
			}
			require.NoError(t, err)
			self.Store(s)
			ctx := testCtx(t)
			herr, ok := within(t, 5*time.Second, "Handshake with Close inside "+name, func() error { return s.HandshakeContext(ctx) })
			require.True(t, ok)
			require.Nil(t, self.Load(), "the callback ran")
			assert.ErrorIs(t, herr, net.ErrClosed, "the handshake reports the Close")
			_, err = s.Write([]byte("x"))
			assert.ErrorIs(t, err, net.ErrClosed)
			assert.NoError(t, s.Close(), "a second Close returns the first one's result")
			cc.Close()
			<-peerDone
			liveConnsSettle(t, base)
		})
	}
}

// closingStoreFunc runs fn from inside Put.
type closingStoreFunc struct {
	*MemorySessionStore
	fn func()
}

func (c closingStoreFunc) Put(k, v []byte) bool {
	c.fn()
	return c.MemorySessionStore.Put(k, v)
}

// Every Stream method that would wait for a lock held by the goroutine
// running one of the Stream's callbacks returns an *Error instead
// (Buffered just answers); the handshake then completes as usual.
func TestStreamMethodsFromOwnCallback(t *testing.T) {
	_, srv, _ := pki(t)
	key := srv.certifiedKey(t)
	var self atomic.Pointer[Stream]
	errs := map[string]error{}
	scfg := serverConfig(t, func(o *ServerOptions) {
		o.Certificates = nil
		o.GetCertificate = func(*ClientHello) (*CertifiedKey, error) {
			s := self.Load()
			_, errs["Read"] = s.Read(make([]byte, 1))
			_, errs["Write"] = s.Write([]byte("x"))
			errs["Flush"] = s.Flush()
			errs["Handshake"] = s.HandshakeContext(context.Background())
			errs["KeyUpdate"] = s.KeyUpdate()
			errs["CloseWrite"] = s.CloseWrite()
			_, errs["WriteTo"] = s.WriteTo(io.Discard)
			_ = s.Buffered()
			_ = s.ConnectionState()
			errs["SetDeadline"] = s.SetDeadline(time.Time{})
			return key, nil
		}
	})
	ccfg := clientConfig(t, nil)
	cc, sc := tcpPair(t)
	var c *Stream
	var cerr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, cerr = NewConnector(ccfg, StreamOptions{WriteThrough: true}).Connect(testCtx(t), cc, "localhost")
	}()
	s, err := NewAcceptor(scfg, StreamOptions{WriteThrough: true}).Server(sc)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	self.Store(s)
	ctx := testCtx(t)
	herr, ok := within(t, 5*time.Second, "Handshake with Stream methods called inside GetCertificate", func() error { return s.HandshakeContext(ctx) })
	require.True(t, ok)
	require.NoError(t, herr)
	<-done
	require.NoError(t, cerr)
	t.Cleanup(func() { c.Close() })
	for _, m := range []string{"Read", "Write", "Flush", "Handshake", "KeyUpdate", "CloseWrite", "WriteTo"} {
		e := rustlsError(t, errs[m])
		assert.ErrorIs(t, e, ErrInvalidInput, m)
		assert.Contains(t, e.Error(), "own callbacks", m)
	}
	assert.NoError(t, errs["SetDeadline"])
	pingPong(t, c, s)
}

// Close from another goroutine while GetCertificate is stuck returns at
// once; so does the Handshake (with an error wrapping net.ErrClosed), even
// without a deadline; the callback's Context is cancelled; the C
// connection is freed when the callback finally returns.
func TestCloseWhileGetCertificateStuck(t *testing.T) {
	_, srv, _ := pki(t)
	key := srv.certifiedKey(t)
	runtime_GC()
	base := cgo.LiveConns()
	entered := make(chan context.Context, 1)
	release := make(chan struct{})
	var releaseOnce atomic.Bool
	freeCallback := func() {
		if releaseOnce.CompareAndSwap(false, true) {
			close(release)
		}
	}
	t.Cleanup(freeCallback)
	scfg := serverConfig(t, func(o *ServerOptions) {
		o.Certificates = nil
		o.GetCertificate = func(h *ClientHello) (*CertifiedKey, error) {
			entered <- h.Context()
			<-release
			return key, nil
		}
	})
	ccfg := clientConfig(t, nil)
	cc, sc := tcpPair(t)
	go func() { _, _ = NewConnector(ccfg, StreamOptions{}).Connect(testCtx(t), cc, "localhost") }()
	s, err := NewAcceptor(scfg, StreamOptions{}).Server(sc)
	require.NoError(t, err)
	hs := make(chan error, 1)
	go func() { hs <- s.HandshakeContext(context.Background()) }()
	var hctx context.Context
	select {
	case hctx = <-entered:
	case <-time.After(10 * time.Second):
		t.Fatal("GetCertificate never ran")
	}
	require.NoError(t, hctx.Err(), "the handshake is running")
	_, ok := within(t, 2*time.Second, "Close while GetCertificate is stuck", s.Close)
	require.True(t, ok)
	select {
	case err := <-hs:
		assert.ErrorIs(t, err, net.ErrClosed)
	case <-time.After(2 * time.Second):
		t.Fatal("Handshake still waiting for the stuck GetCertificate after Close")
	}
	assert.ErrorIs(t, hctx.Err(), context.Canceled, "Close cancels ClientHello.Context")
	assert.Greater(t, cgo.LiveConns(), base, "the connection stays until rustls returns")
	freeCallback()
	cc.Close()
	liveConnsSettle(t, base)
}

// ClientHello.Context is the handshake's: done at Accept's deadline
// (a GetCertificate that watches it returns promptly, and Accept reports
// the deadline) and, like crypto/tls's, when the handshake concludes.
func TestClientHelloInfoContext(t *testing.T) {
	_, srv, _ := pki(t)
	key := srv.certifiedKey(t)
	t.Run("deadline", func(t *testing.T) {
		seen := make(chan error, 1)
		scfg := serverConfig(t, func(o *ServerOptions) {
			o.Certificates = nil
			o.GetCertificate = func(h *ClientHello) (*CertifiedKey, error) {
				select {
				case <-h.Context().Done():
					seen <- h.Context().Err()
					return nil, h.Context().Err()
				case <-time.After(20 * time.Second):
					seen <- nil
					return key, nil
				}
			}
		})
		ccfg := clientConfig(t, nil)
		cc, sc := tcpPair(t)
		go func() { _, _ = NewConnector(ccfg, StreamOptions{}).Connect(testCtx(t), cc, "localhost") }()
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		err, ok := within(t, 5*time.Second, "Accept", func() error {
			_, err := NewAcceptor(scfg, StreamOptions{}).Accept(ctx, sc)
			return err
		})
		require.True(t, ok)
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		select {
		case err := <-seen:
			assert.ErrorIs(t, err, context.DeadlineExceeded, "GetCertificate saw the deadline")
		case <-time.After(5 * time.Second):
			t.Fatal("GetCertificate did not see its context end")
		}
	})
	t.Run("concluded", func(t *testing.T) {
		var got atomic.Pointer[context.Context]
		scfg := serverConfig(t, func(o *ServerOptions) {
			o.Certificates = nil
			o.GetCertificate = func(h *ClientHello) (*CertifiedKey, error) {
				ctx := h.Context()
				got.Store(&ctx)
				return key, nil
			}
		})
		c, s, cerr, serr := handshakePair(t, scfg, clientConfig(t, nil), "localhost", StreamOptions{WriteThrough: true}, StreamOptions{WriteThrough: true})
		require.NoError(t, cerr)
		require.NoError(t, serr)
		pingPong(t, c, s)
		require.NotNil(t, got.Load())
		assert.ErrorIs(t, (*got.Load()).Err(), context.Canceled, "done once the handshake has concluded")
	})
}

// A VerifyConnection hook that never returns does not hold Accept past
// its context either.
func TestAcceptContextBoundsStuckVerifyConnection(t *testing.T) {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	scfg := serverConfig(t, func(o *ServerOptions) {
		o.VerifyConnection = func(tls.ConnectionState) error { <-release; return nil }
	})
	ccfg := clientConfig(t, nil)
	cc, sc := tcpPair(t)
	go func() { _, _ = NewConnector(ccfg, StreamOptions{}).Connect(testCtx(t), cc, "localhost") }()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	err, ok := within(t, 5*time.Second, "Accept with a stuck VerifyConnection", func() error {
		_, err := NewAcceptor(scfg, StreamOptions{}).Accept(ctx, sc)
		return err
	})
	if ok {
		assert.True(t, errors.Is(err, context.DeadlineExceeded), "got %v", err)
	}
}

// runtime_GC settles finalizers and cleanups before a LiveConns baseline.
func runtime_GC() { leakSettle() }
