package rustls

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Every user callback reached from C runs under recover with no lock of
// ours held: a panic fails only its own handshake (with a *PanicError
// naming the callback), or for the key log and the logger only loses a
// line; the config keeps working and Close returns promptly.

// callbackLimit bounds each handshake in these tests: a callback that
// wedges a lock shows as a failure, not a hung test.
const callbackLimit = 10 * time.Second

// pairWithin runs a gorustls server and client handshake over loopback TCP
// (write-through streams) and returns both outcomes. If either has not ended within callbackLimit
// (plus slack) the test fails: something hangs. Streams that were made are
// closed, promptly, by closePromptly when the test ends.
func pairWithin(t *testing.T, scfg *ServerConfig, ccfg *ClientConfig, sopts, copts StreamOptions) (client, server hsResult) {
	t.Helper()
	sopts.WriteThrough, copts.WriteThrough = true, true
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	ctx, cancel := context.WithTimeout(context.Background(), callbackLimit)
	defer cancel()
	sch, cch := make(chan hsResult, 1), make(chan hsResult, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			sch <- hsResult{nil, err}
			return
		}
		s, err := NewAcceptor(scfg, sopts).Accept(ctx, c)
		sch <- hsResult{s, err}
	}()
	go func() {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			cch <- hsResult{nil, err}
			return
		}
		s, err := NewConnector(ccfg, copts).Connect(ctx, c, "localhost")
		cch <- hsResult{s, err}
	}()
	hang := time.After(callbackLimit + 5*time.Second)
	for i := 0; i < 2; i++ {
		select {
		case client = <-cch:
		case server = <-sch:
		case <-hang:
			t.Fatal("a handshake hung past its context: a callback left something locked")
		}
	}
	t.Cleanup(func() { closePromptly(t, client.s, server.s) })
	return client, server
}

// closePromptly closes each non-nil stream and fails the test if a Close
// takes more than a few seconds.
func closePromptly(t *testing.T, streams ...*Stream) {
	t.Helper()
	for _, s := range streams {
		if s == nil {
			continue
		}
		done := make(chan struct{})
		go func() {
			_ = s.Close()
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Error("Stream.Close blocked: a callback left a lock held")
		}
	}
}

// requirePanicErr checks that err is a handshake *Error caused by a panic in
// the named callback, and says so in its text.
func requirePanicErr(t *testing.T, err error, callback string) *PanicError {
	t.Helper()
	require.Error(t, err)
	var e *Error
	require.True(t, errors.As(err, &e), "want *Error, got %T: %v", err, err)
	var pe *PanicError
	require.True(t, errors.As(err, &pe), "want a *PanicError cause, got %v", err)
	assert.Equal(t, callback, pe.Callback)
	assert.Contains(t, err.Error(), callback+" panicked: ")
	assert.NotEmpty(t, pe.Stack)
	return pe
}

// mustPairWithin is pairWithin that requires both handshakes to succeed
// and data to flow both ways.
func mustPairWithin(t *testing.T, scfg *ServerConfig, ccfg *ClientConfig, sopts, copts StreamOptions) {
	t.Helper()
	c, s := pairWithin(t, scfg, ccfg, sopts, copts)
	require.NoError(t, c.err, "client handshake")
	require.NoError(t, s.err, "server handshake")
	deadline := time.Now().Add(callbackLimit)
	require.NoError(t, c.s.SetDeadline(deadline))
	require.NoError(t, s.s.SetDeadline(deadline))
	pingPong(t, c.s, s.s)
}

// panicOnce panics with v on its first call only.
type panicOnce struct{ n atomic.Int32 }

func (p *panicOnce) maybe(v any) {
	if p.n.Add(1) == 1 {
		panic(v)
	}
}

func TestPanicGetCertificate(t *testing.T) {
	_, srv, _ := pki(t)
	key := srv.certifiedKey(t)
	var once panicOnce
	scfg := serverConfig(t, func(o *ServerOptions) {
		o.Certificates = nil
		o.GetCertificate = func(*ClientHello) (*CertifiedKey, error) {
			once.maybe("boom")
			return key, nil
		}
	})
	ccfg := clientConfig(t, nil)
	c, s := pairWithin(t, scfg, ccfg, StreamOptions{}, StreamOptions{})
	pe := requirePanicErr(t, s.err, "GetCertificate")
	assert.Equal(t, "boom", pe.Value)
	assert.ErrorIs(t, c.err, ErrAlertReceived, "the client is told")
	mustPairWithin(t, scfg, ccfg, StreamOptions{}, StreamOptions{})
}

func TestPanicPeerVerifier(t *testing.T) {
	errBug := errors.New("verifier bug")
	var once panicOnce
	scfg := serverConfig(t, nil)
	ccfg := clientConfig(t, func(o *ClientOptions) {
		o.RootCAs = nil
		o.DangerousVerifyPeerCertificate = func(string, [][]byte, []byte) error {
			once.maybe(errBug)
			return nil
		}
	})
	c, s := pairWithin(t, scfg, ccfg, StreamOptions{}, StreamOptions{})
	requirePanicErr(t, c.err, "DangerousVerifyPeerCertificate")
	requireCode(t, c.err, CodeCertApplicationFailure)
	assert.ErrorIs(t, c.err, errBug, "an error panic value is reachable")
	assert.Error(t, s.err)
	mustPairWithin(t, scfg, ccfg, StreamOptions{}, StreamOptions{})
}

// panickyStore is a MemorySessionStore whose Get or Put panics once when
// armed.
type panickyStore struct {
	*MemorySessionStore
	getArmed, putArmed atomic.Bool
}

func (p *panickyStore) Get(key []byte, remove bool) ([]byte, bool) {
	if p.getArmed.CompareAndSwap(true, false) {
		panic("store get bug")
	}
	return p.MemorySessionStore.Get(key, remove)
}

func (p *panickyStore) Put(key, value []byte) bool {
	if p.putArmed.CompareAndSwap(true, false) {
		panic("store put bug")
	}
	return p.MemorySessionStore.Put(key, value)
}

func TestPanicSessionStore(t *testing.T) {
	for _, v := range []uint16{VersionTLS12, VersionTLS13} {
		t.Run(versionName(v)+"/Get", func(t *testing.T) {
			store := &panickyStore{MemorySessionStore: NewMemorySessionStore(0)}
			scfg := serverConfig(t, func(o *ServerOptions) { o.SessionStore = store; o.Versions = []uint16{v} })
			ccfg := clientConfig(t, nil)
			mustPairWithin(t, scfg, ccfg, StreamOptions{}, StreamOptions{})
			require.Positive(t, store.Len(), "the first handshake stored a session")
			store.getArmed.Store(true)
			c, s := pairWithin(t, scfg, ccfg, StreamOptions{}, StreamOptions{})
			requirePanicErr(t, s.err, "SessionStore.Get")
			assert.False(t, store.getArmed.Load(), "Get was called")
			if c.err == nil {
				// The client may count its handshake done before it
				// notices; it cannot read anything.
				_, err := c.s.Read(make([]byte, 1))
				assert.Error(t, err)
			}
			mustPairWithin(t, scfg, ccfg, StreamOptions{}, StreamOptions{})
		})
		t.Run(versionName(v)+"/Put", func(t *testing.T) {
			store := &panickyStore{MemorySessionStore: NewMemorySessionStore(0)}
			store.putArmed.Store(true)
			scfg := serverConfig(t, func(o *ServerOptions) { o.SessionStore = store; o.Versions = []uint16{v} })
			ccfg := clientConfig(t, nil)
			c, s := pairWithin(t, scfg, ccfg, StreamOptions{}, StreamOptions{})
			requirePanicErr(t, s.err, "SessionStore.Put")
			if c.err == nil {
				_, err := c.s.Read(make([]byte, 1))
				assert.Error(t, err)
			}
			mustPairWithin(t, scfg, ccfg, StreamOptions{}, StreamOptions{})
		})
	}
}

// panickyWriter panics on its first Write, then records lines.
type panickyWriter struct {
	once panicOnce
	rec  lineRecorder
}

func (w *panickyWriter) Write(p []byte) (int, error) {
	w.once.maybe("key log bug")
	return w.rec.Write(p)
}

// TestPanicKeyLogWriter: a KeyLogWriter that panics once loses that line
// only. Before the fix the recovered panic left the writer's lock held and
// the next line, in the same handshake, blocked forever.
func TestPanicKeyLogWriter(t *testing.T) {
	for _, side := range []string{"server", "client"} {
		t.Run(side, func(t *testing.T) {
			w := &panickyWriter{}
			scfg := serverConfig(t, func(o *ServerOptions) {
				if side == "server" {
					o.KeyLogWriter = w
				}
			})
			ccfg := clientConfig(t, func(o *ClientOptions) {
				if side == "client" {
					o.KeyLogWriter = w
				}
			})
			mustPairWithin(t, scfg, ccfg, StreamOptions{}, StreamOptions{})
			first := len(w.rec.lines())
			assert.Positive(t, first, "the lines after the panic are written")
			mustPairWithin(t, scfg, ccfg, StreamOptions{}, StreamOptions{})
			assert.Greater(t, len(w.rec.lines()), first, "the next handshake logs too")
			checkNSSLines(t, w.rec.lines())
		})
	}
}

// panickyHandler is a slog handler that panics on its first record.
type panickyHandler struct {
	once panicOnce
	recordingHandler
}

func (h *panickyHandler) Handle(ctx context.Context, r slog.Record) error {
	h.once.maybe("log handler bug")
	return h.recordingHandler.Handle(ctx, r)
}
func (h *panickyHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *panickyHandler) WithGroup(string) slog.Handler      { return h }

// TestPanicLogger: a Logger whose handler panics loses that record only.
func TestPanicLogger(t *testing.T) {
	sh, ch := &panickyHandler{}, &panickyHandler{}
	sopts, copts := StreamOptions{Logger: slog.New(sh)}, StreamOptions{Logger: slog.New(ch)}
	scfg, ccfg := serverConfig(t, nil), clientConfig(t, nil)
	mustPairWithin(t, scfg, ccfg, sopts, copts)
	mustPairWithin(t, scfg, ccfg, sopts, copts)
	for name, h := range map[string]*panickyHandler{"server": sh, "client": ch} {
		assert.GreaterOrEqual(t, h.once.n.Load(), int32(2), "%s: the handler was called again after its panic", name)
		assert.NotEmpty(t, h.snapshot(), name)
	}
}

// TestPanicCallbacksConcurrent: panicking callbacks on many concurrent
// handshakes of one config fail only their own handshakes; the rest, and
// later ones, succeed, and nothing stays locked.
func TestPanicCallbacksConcurrent(t *testing.T) {
	_, srv, _ := pki(t)
	key := srv.certifiedKey(t)
	var calls atomic.Int32
	w := &lineRecorder{}
	scfg := serverConfig(t, func(o *ServerOptions) {
		o.Certificates = nil
		o.KeyLogWriter = panicEvery{w: w, n: new(atomic.Int32)}
		o.GetCertificate = func(*ClientHello) (*CertifiedKey, error) {
			if calls.Add(1)%2 == 0 {
				panic("every other handshake")
			}
			return key, nil
		}
	})
	ccfg := clientConfig(t, nil)
	var wg sync.WaitGroup
	var ok, panicked atomic.Int32
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 4; j++ {
				ln, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					t.Error(err)
					return
				}
				sErr, cErr := rotationHandshake(ln, scfg, ccfg)
				ln.Close()
				var pe *PanicError
				switch {
				case sErr == nil && cErr == nil:
					ok.Add(1)
				case errors.As(sErr, &pe) && pe.Callback == "GetCertificate":
					panicked.Add(1)
				default:
					t.Errorf("server: %v; client: %v", sErr, cErr)
				}
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(2 * callbackLimit):
		t.Fatal("handshakes hung")
	}
	assert.Equal(t, int32(32), ok.Load()+panicked.Load())
	assert.Positive(t, ok.Load())
	assert.Positive(t, panicked.Load())
	assert.NotEmpty(t, w.lines())
}

// panicEvery is a KeyLogWriter that panics on every third line.
type panicEvery struct {
	w io.Writer
	n *atomic.Int32
}

func (p panicEvery) Write(b []byte) (int, error) {
	if p.n.Add(1)%3 == 0 {
		panic("every third line")
	}
	return p.w.Write(b)
}

// closingWriter is a KeyLogWriter that closes a config from inside its
// first Write and reports whether that Close returned.
type closingWriter struct {
	cfg  atomic.Pointer[ServerConfig]
	once sync.Once
	done chan bool
}

func (w *closingWriter) Write(p []byte) (int, error) {
	w.once.Do(func() {
		ch := make(chan struct{})
		go func() { w.cfg.Load().Close(); close(ch) }()
		select {
		case <-ch:
			w.done <- true
		case <-time.After(3 * time.Second):
			w.done <- false
		}
	})
	return len(p), nil
}

// TestKeyLogWriterClosesConfig: user code never runs under a lock shared
// with the config: a KeyLogWriter may close its own config, on the plain
// path and on the ClientHello path (where rustls derives the first secrets
// while the connection is being created from the config).
func TestKeyLogWriterClosesConfig(t *testing.T) {
	for _, lazy := range []bool{false, true} {
		name := map[bool]string{false: "Acceptor", true: "LazyAcceptor"}[lazy]
		t.Run(name, func(t *testing.T) {
			w := &closingWriter{done: make(chan bool, 1)}
			_, srv, _ := pki(t)
			scfg, err := NewServerConfig(ServerOptions{Certificates: []*CertifiedKey{srv.certifiedKey(t)}, KeyLogWriter: w})
			require.NoError(t, err)
			defer scfg.Close()
			w.cfg.Store(scfg)
			ccfg := clientConfig(t, nil)
			cc, sc := tcpPair(t)
			ctx, cancel := context.WithTimeout(context.Background(), callbackLimit)
			defer cancel()
			sch := make(chan hsResult, 1)
			go func() {
				var s *Stream
				var err error
				if lazy {
					la := &LazyAcceptor{Choose: func(*ClientHello) (*ServerConfig, error) { return scfg, nil }}
					s, err = la.Accept(ctx, sc)
				} else {
					s, err = NewAcceptor(scfg, StreamOptions{}).Accept(ctx, sc)
				}
				sch <- hsResult{s, err}
			}()
			c, cerr := NewConnector(ccfg, StreamOptions{}).Connect(ctx, cc, "localhost")
			var s hsResult
			select {
			case s = <-sch:
			case <-time.After(callbackLimit + 5*time.Second):
				t.Fatal("server handshake hung")
			}
			require.NoError(t, cerr)
			require.NoError(t, s.err, "the stream made before Close keeps working")
			closePromptly(t, c, s.s)
			select {
			case ok := <-w.done:
				assert.True(t, ok, "Close of the config from inside KeyLogWriter.Write blocked")
			case <-time.After(callbackLimit):
				t.Fatal("the KeyLogWriter was not called")
			}
			_, err = NewAcceptor(scfg, StreamOptions{}).Server(sc)
			assert.ErrorIs(t, err, ErrInvalidInput, "the config is closed")
		})
	}
}
