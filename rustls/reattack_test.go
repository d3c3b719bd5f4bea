package rustls

import (
	"context"
	"crypto/tls"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorustls/gorustls/cgo"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A KeyLogWriter is one of the callbacks the Handshake doc lists (user code
// run inside the connection's C calls), yet it is not marked as running
// (connCallbacks.run/enter): a Stream method called from inside it does not
// get the "own callbacks" *Error but waits for the handshake that waits for
// it, until the handshake's context ends.
func TestReattackStreamMethodFromKeyLogWriter(t *testing.T) {
	var self atomic.Pointer[Stream]
	got := make(chan error, 1)
	scfg := serverConfig(t, func(o *ServerOptions) {
		o.KeyLogWriter = keylogFunc(func() {
			if s := self.Swap(nil); s != nil {
				_, err := s.Write([]byte("x"))
				got <- err
			}
		})
	})
	ccfg := clientConfig(t, nil)
	cc, sc := tcpPair(t)
	go func() { _, _ = NewConnector(ccfg, StreamOptions{}).Connect(testCtx(t), cc, "localhost") }()
	s, err := NewAcceptor(scfg, StreamOptions{}).Server(sc)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	self.Store(s)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	herr := s.HandshakeContext(ctx)
	var werr error
	select {
	case werr = <-got:
	case <-time.After(5 * time.Second):
		t.Fatal("Write from inside the KeyLogWriter never returned")
	}
	assert.NoError(t, herr, "the handshake waited for its own KeyLogWriter until its context ended")
	assert.ErrorIs(t, werr, ErrInvalidInput, "Write from inside the KeyLogWriter: got %v", werr)
}

// Close, context cancellation and callbacks that close their own Stream,
// all at random moments against handshakes whose callbacks (GetCertificate,
// SessionStore, the client's verifier, a Logger) run on the handshake's own
// goroutine: no crash (run under -asan), no hang, and every C connection is
// freed once the callbacks have returned.
func TestReattackCloseRacesCallbackSteps(t *testing.T) {
	_, srv, _ := pki(t)
	key := srv.certifiedKey(t)
	runtime_GC()
	base := cgo.LiveConns()
	jitter := func(r *rand.Rand) {
		if d := r.IntN(4); d > 0 {
			time.Sleep(time.Duration(r.IntN(1500)) * time.Microsecond)
		}
	}
	type slot struct{ s atomic.Pointer[Stream] }
	var seed atomic.Uint64
	scfg := serverConfig(t, func(o *ServerOptions) {
		o.Certificates = nil
		o.GetCertificate = func(h *ClientHello) (*CertifiedKey, error) {
			r := rand.New(rand.NewPCG(seed.Add(1), 1))
			jitter(r)
			if sl, ok := h.Context().Value(slotKey{}).(*slot); ok && r.IntN(4) == 0 {
				if s := sl.s.Load(); s != nil {
					s.Close()
				}
			}
			return key, nil
		}
		o.SessionStore = NewMemorySessionStore(0)
	})
	ccfg := clientConfig(t, func(o *ClientOptions) {
		o.RootCAs = nil
		o.DangerousVerifyPeerCertificate = func(string, [][]byte, []byte) error {
			jitter(rand.New(rand.NewPCG(seed.Add(1), 2)))
			return nil
		}
	})
	const rounds = 120
	var ok atomic.Int32
	var wg sync.WaitGroup
	for i := range rounds {
		r := rand.New(rand.NewPCG(uint64(i), 3))
		cc, sc := tcpPair(t)
		sl := &slot{}
		sctx, scancel := context.WithCancel(context.WithValue(context.Background(), slotKey{}, sl))
		cctx, ccancel := context.WithCancel(context.Background())
		c, err := NewConnector(ccfg, StreamOptions{}).Client(cc, "localhost")
		require.NoError(t, err)
		s, err := NewAcceptor(scfg, StreamOptions{}).Server(sc)
		require.NoError(t, err)
		sl.s.Store(s)
		wg.Add(3)
		go func() { defer wg.Done(); _ = c.HandshakeContext(cctx); _ = c.Close() }()
		go func() {
			defer wg.Done()
			if s.HandshakeContext(sctx) == nil {
				ok.Add(1)
			}
			_ = s.Close()
		}()
		go func() {
			defer wg.Done()
			time.Sleep(time.Duration(r.IntN(8000)) * time.Microsecond)
			switch r.IntN(4) {
			case 0:
				scancel()
			case 1:
				ccancel()
			case 2:
				_ = s.Close()
			default:
				_ = c.Close()
			}
		}()
		if i%8 == 7 {
			wg.Wait()
		}
		defer scancel()
		defer ccancel()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("handshakes, Closes or callbacks still running after 60s")
	}
	t.Logf("%d of %d server handshakes completed; %d callbacks", ok.Load(), rounds, seed.Load())
	liveConnsSettle(t, base)
}

type slotKey struct{}

// A config the cache handed out must stay usable until its connection
// starts (tlsconfig_cache.go's promise: "a connection between Choose and
// its start never finds its config closed"). With a GetConfigForClient that
// sets a VerifyConnection closure per connection (every connection then
// gets a config of its own), other connections choosing meanwhile evict
// it, and once more than max evicted configs wait, sweep closes the oldest
// "anyway": the connection that was about to start from it fails.
func TestReattackLazyCacheClosesHandedOutConfig(t *testing.T) {
	_, srv, _ := pki(t)
	cert := srv.tlsCert(t)
	const max = 4
	base := &tls.Config{Certificates: []tls.Certificate{cert}}
	lz := newTestLazy(t, base, nil, max)
	lz.base = &tls.Config{GetConfigForClient: func(hi *tls.ClientHelloInfo) (*tls.Config, error) {
		c := base.Clone()
		c.VerifyConnection = func(tls.ConnectionState) error { _ = hi; return nil } // a new closure per call
		return c, nil
	}}
	pending, err := lz.choose(&ClientHello{ServerName: "localhost"})
	require.NoError(t, err)
	// 2*max+1 other ClientHellos are chosen while this connection has not
	// started yet (a burst of accepts on a busy server).
	for range 2*max + 1 {
		_, err := lz.choose(&ClientHello{ServerName: "localhost"})
		require.NoError(t, err)
	}
	cr, sr := tryPair(t, pending, clientConfig(t, nil), "localhost")
	require.NoError(t, sr.err, "the server connection starting from the config Choose returned")
	require.NoError(t, cr.err)
	cr.s.Close()
	sr.s.Close()
}
