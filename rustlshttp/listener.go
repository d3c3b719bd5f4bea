package rustlshttp

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/gorustls/gorustls/rustls"
	"golang.org/x/net/http2"
)

// listener is what the net/http server accepts from: one per Serve call.
// Its accept goroutine takes transport connections from ln and handshakes
// each on a goroutine of its own; Accept returns them once handshaken.
type listener struct {
	s       *Server
	ln      net.Listener
	baseCtx context.Context // HTTP1.BaseContext(ln)
	conns   chan net.Conn   // handshaken, for Accept
	errc    chan error      // ln's failure (buffered)
	// ctx ends on Close: it aborts the handshakes in progress and the
	// handshaken connections nobody accepted.
	ctx    context.Context
	cancel context.CancelFunc

	mu       sync.Mutex
	closed   bool
	started  bool          // the accept goroutine runs (or ran)
	loopDone chan struct{} // closed when it has returned
}

func (s *Server) newListener(ln net.Listener) (*listener, error) {
	base, err := s.baseContext(ln)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &listener{s: s, ln: ln, baseCtx: base, conns: make(chan net.Conn), errc: make(chan error, 1),
		ctx: ctx, cancel: cancel, loopDone: make(chan struct{})}, nil
}

// Accept returns the next handshaken connection: a *rustls.Stream for
// HTTP/1, an *h2ServerConn for HTTP/2. The accept goroutine starts on the first
// call, so a Serve that net/http refuses (after Shutdown) starts nothing.
func (l *listener) Accept() (net.Conn, error) {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil, net.ErrClosed
	}
	if !l.started {
		l.started = true
		l.s.wg.Add(1)
		go l.loop()
	}
	l.mu.Unlock()
	select {
	case c := <-l.conns:
		return c, nil
	case err := <-l.errc:
		return nil, err
	case <-l.ctx.Done():
		return nil, net.ErrClosed
	}
}

// Close closes ln and aborts the handshakes in progress. It is idempotent.
func (l *listener) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	l.cancel()
	return l.ln.Close()
}

func (l *listener) Addr() net.Addr { return l.ln.Addr() }

// wait returns once the accept goroutine (if any) has returned; call it
// after Close.
func (l *listener) wait() {
	l.mu.Lock()
	started := l.started
	l.mu.Unlock()
	if started {
		<-l.loopDone
	}
}

// loop accepts transport connections until ln fails or is closed.
// Temporary failures (such as running out of file descriptors) are
// retried with a backoff, as net/http does.
func (l *listener) loop() {
	defer l.s.wg.Done()
	defer close(l.loopDone)
	var backoff time.Duration
	for {
		raw, err := l.ln.Accept()
		if err != nil {
			if l.ctx.Err() != nil {
				return
			}
			if te, ok := err.(interface{ Temporary() bool }); ok && te.Temporary() {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				l.s.log(slog.LevelWarn, "rustlshttp: Accept failed; retrying", nil,
					slog.Any("error", err), slog.Duration("backoff", backoff))
				select {
				case <-time.After(backoff):
				case <-l.ctx.Done():
					return
				}
				continue
			}
			l.errc <- err
			return
		}
		backoff = 0
		l.mu.Lock()
		if l.closed {
			l.mu.Unlock()
			_ = raw.Close()
			return
		}
		l.s.wg.Add(1)
		l.mu.Unlock()
		go l.serveConn(raw)
	}
}

// serveConn handshakes raw and hands the connection to net/http (an h2
// one only once its client preface has arrived), or to a NextProto
// handler. It runs on the connection's own goroutine; a panic in
// anything it calls costs only this connection.
func (l *listener) serveConn(raw net.Conn) {
	s := l.s
	defer s.wg.Done()
	defer func() {
		if v := recover(); v != nil {
			s.logPanic("serving the connection", raw.RemoteAddr(), v)
			_ = raw.Close()
		}
	}()
	st := s.handshake(l.ctx, raw)
	if st == nil {
		return
	}
	if fn := s.snap.onHandshake; fn != nil && !s.protect("OnHandshake", raw.RemoteAddr(), func() { fn(st) }) {
		_ = st.Close()
		return
	}
	state := st.ConnectionState()
	var c net.Conn = st
	switch proto := state.NegotiatedProtocol; proto {
	case "", "http/1.1", "http/1.0":
	default:
		if fn := s.snap.nextProto[proto]; fn != nil {
			s.takeOver(l.ctx, st, proto, fn)
			return
		}
		if proto != http2.NextProtoTLS || !s.h2 {
			// net/http closes connections that negotiated a protocol
			// it has no handler for.
			_ = st.Close()
			return
		}
		pre := s.readPreface(l.ctx, st)
		if pre == nil {
			return
		}
		c = &h2ServerConn{st: st, state: &state, pre: pre}
	}
	select {
	case l.conns <- c:
	case <-l.ctx.Done():
		_ = st.Close()
	}
}

// handshake runs the server handshake on raw, bounded by the handshake
// timeout and ctx. On failure it answers a plaintext HTTP client in kind,
// logs why, closes raw and returns nil.
func (s *Server) handshake(ctx context.Context, raw net.Conn) *rustls.Stream {
	sn := &s.snap
	ctx, cancel := context.WithTimeout(ctx, sn.opts.HandshakeTimeout)
	defer cancel()
	// A socket is peeked at and handed over bare; anything else is
	// sniffed through a wrapper.
	var conn net.Conn = raw
	var sc *sniffConn
	plain, err := peekPlaintext(ctx, raw)
	if err == errNotPeekable {
		sc = &sniffConn{Conn: raw}
		conn, err = sc, nil
	}
	var st *rustls.Stream
	if err == nil && !plain {
		if sn.choose != nil {
			la := rustls.LazyAcceptor{Choose: s.protectChoose(raw.RemoteAddr()), Options: sn.opts}
			st, err = la.AcceptFallible(ctx, conn)
		} else {
			st, err = sn.acceptor.AcceptFallible(ctx, conn)
		}
		if err == nil {
			return st
		}
	}
	if sc != nil && sc.plain.Load() {
		plain = true
	}
	if plain {
		_ = raw.SetWriteDeadline(time.Now().Add(time.Second))
		_, _ = raw.Write([]byte(plaintextAnswer))
		s.log(slog.LevelInfo, "rustlshttp: TLS handshake error: client sent an HTTP request to an HTTPS server", raw.RemoteAddr())
	} else if p := (*rustls.PanicError)(nil); errors.As(err, &p) {
		// A user callback panicked: log it as net/http logs a handler
		// panic, with the stack.
		s.logPanicError(raw.RemoteAddr(), p)
	} else if errors.Is(err, rustls.ErrInvalidInput) {
		// The server's own configuration (a closed config or key): no
		// client causes it, and it fails every handshake.
		s.log(slog.LevelError, "rustlshttp: TLS handshake error: server configuration", raw.RemoteAddr(), slog.Any("error", err))
	} else {
		s.log(slog.LevelInfo, "rustlshttp: TLS handshake error", raw.RemoteAddr(), slog.Any("error", err))
	}
	_ = raw.Close()
	return nil
}

// takeOver runs a NextProto handler with st, which Close closes. ctx is
// the listener's: once it ends (Close or Shutdown) st is closed instead.
func (s *Server) takeOver(ctx context.Context, st *rustls.Stream, proto string, fn func(*rustls.Stream)) {
	s.mu.Lock()
	// Close ends ctx before it closes the taken streams under mu: either
	// it sees st, or st sees ctx ended.
	if ctx.Err() != nil {
		s.mu.Unlock()
		_ = st.Close()
		return
	}
	s.taken[st] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.taken, st)
		s.mu.Unlock()
	}()
	if !s.protect("NextProto["+proto+"]", st.RemoteAddr(), func() { fn(st) }) {
		_ = st.Close()
	}
}
