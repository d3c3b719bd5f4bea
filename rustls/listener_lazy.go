package rustls

import (
	"context"
	"log/slog"
	"net"
)

// LazyListener is a net.Listener whose server config is chosen per
// connection from the ClientHello by a LazyAcceptor (SNI certificates, ALPN
// routing). Choosing needs the ClientHello, so each connection's handshake
// runs on a goroutine of its own, bounded by the handshake timeout, and
// Accept returns connections whose handshake has completed: a slow or
// silent client never blocks Accept or other clients. Connections whose
// handshake fails are closed and reported to Logger, if set. Its Streams
// are write-through whatever the LazyAcceptor's Options.WriteThrough says,
// like everything that hands a Stream to generic net.Conn code (see
// Listener). It has the same methods as Listener.
//
// The listener holds a bounded number of connections: at most
// MaxHandshakes are handshaking (or handshaken and waiting for room in the
// queue), and at most MaxReady handshaken ones wait for Accept. While both
// are full it stops taking connections from the inner listener, so new
// clients wait in the kernel's listen backlog (and are refused once that is
// full) instead of growing goroutines, sockets and rustls state: an
// application that calls Accept slowly slows the clients down, as a plain
// net.Listener does. Each bound holds one goroutine, one socket and one
// rustls connection at most.
type LazyListener struct {
	// Logger, if set before the first Accept, receives a record for each
	// failed handshake, with attributes "remote" (the peer's address) and
	// "error" (the handshake's error). A failure the client caused (bad or
	// no ClientHello, timeout, refused name, closed connection) is logged at
	// slog.LevelInfo: noise a handler may filter out. A failure of the
	// server's own configuration (an error matching ErrInvalidInput, such
	// as Choose returning a closed config) is logged at slog.LevelError.
	// A panic in a user
	// callback (Choose, or what it calls) is logged at slog.LevelError,
	// with "stack" (the panicking goroutine's stack); when Logger is the
	// LazyAcceptor's Options.Logger, which already reported that panic as
	// it happened, it is not logged twice. The handler runs on the
	// connection's handshake goroutine and must not block; a panic in it is
	// recovered and that record lost. A handler that blocks keeps its
	// connection's place (see MaxHandshakes) meanwhile, and Close waits for
	// it to return.
	Logger *slog.Logger
	// MaxHandshakes, if set before the first Accept, bounds the connections
	// taken from the inner listener and not yet queued for Accept: those
	// handshaking and those handshaken while the queue is full
	// (0: DefaultMaxHandshakes). A silent client holds its place for up to
	// the handshake timeout.
	MaxHandshakes int
	// MaxReady, if set before the first Accept, bounds the handshaken
	// connections waiting for Accept (0: DefaultMaxReady; values above
	// 65536 count as 65536).
	MaxReady int

	la *LazyAcceptor
	q  handshakeQueue
}

// NewLazyListener wraps inner with la. Streams are write-through (the
// LazyAcceptor's Options are copied with WriteThrough forced on) and a zero
// HandshakeTimeout becomes DefaultHandshakeTimeout. A nil inner, or a nil
// la or Choose, makes Accept fail with an *Error matching ErrInvalidInput
// (such a listener could serve nobody).
func NewLazyListener(inner net.Listener, la *LazyAcceptor) *LazyListener {
	if la == nil {
		la = &LazyAcceptor{} // every handshake fails: no Choose
	}
	opts := listenerOptions(la.Options)
	l := &LazyListener{la: &LazyAcceptor{Choose: la.Choose, Options: opts}}
	l.q.init(inner, opts.HandshakeTimeout, func(ctx context.Context, c net.Conn) (*Stream, bool, error) {
		s, err := l.la.Accept(ctx, c)
		return s, false, err
	}, func(c net.Conn, err error) {
		logHandshakeError(l.Logger, opts.Logger, c, err)
	})
	return l
}

// Accept returns the next connection whose handshake has completed, as a
// *Stream: c.(*rustls.Stream) always succeeds on a non-nil result. It
// blocks until one is ready or the listener fails or is closed
// (net.ErrClosed).
func (l *LazyListener) Accept() (net.Conn, error) {
	s, err := l.AcceptStream()
	if err != nil {
		return nil, err
	}
	return s, nil
}

// AcceptStream is Accept with the concrete type.
func (l *LazyListener) AcceptStream() (*Stream, error) {
	if l == nil || l.q.inner == nil || l.la == nil {
		return nil, inputErr("accept", "a LazyListener needs an inner net.Listener (use NewLazyListener)")
	}
	if l.la.Choose == nil {
		return nil, inputErr("accept", "the LazyListener's LazyAcceptor has no Choose")
	}
	l.q.start(l.MaxHandshakes, l.MaxReady)
	return l.q.accept()
}

// Close closes the transport listener, aborts the handshakes in progress
// and closes the handshaken connections not yet accepted. It returns once
// every goroutine of the listener has ended.
func (l *LazyListener) Close() error {
	if l == nil {
		return nil
	}
	return l.q.close()
}

// Addr returns the transport listener's address (nil without one).
func (l *LazyListener) Addr() net.Addr { return l.q.addr() }
