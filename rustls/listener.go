package rustls

import (
	"context"
	"log/slog"
	"net"
	"time"
)

// DefaultHandshakeTimeout bounds a handshake started without a context
// (Stream.Handshake, or a Stream's first I/O) when
// StreamOptions.HandshakeTimeout is 0, and the handshakes of Listener and
// LazyListener connections.
const DefaultHandshakeTimeout = 10 * time.Second

// Listener is a net.Listener that serves one ServerConfig. Its Accept
// returns server *Streams whose handshake has completed: each connection's
// handshake runs on a goroutine of its own, bounded by the handshake
// timeout, so a slow or silent client never blocks Accept or other
// clients. Connections whose handshake fails are closed and reported to
// Logger, if set; Accept only returns errors of the listener itself (the
// transport listener's, a closed or unusable config, net.ErrClosed).
//
// Because its Streams are handshaken, ConnectionState is complete from the
// start: a plain http.Server serving a Listener fills Request.TLS. Such a
// server speaks only HTTP/1.1 (net/http runs HTTP/2 over *tls.Conn only):
// leave "h2" out of the config's NextProtos there, or an HTTP/2 client
// that negotiates it fails on HTTP/1.1 answers; serve with
// rustlshttp.Server for HTTP/2 as well. http.Server's Close and Shutdown close
// connections one after another; a Stream's Close does not wait for its
// peer (see Stream.Close: a peer that stopped reading is waited for in
// the background, up to StreamOptions.CloseTimeout), so clients that
// stopped reading do not slow them down.
//
// Buffering: like everything that hands a Stream to generic net.Conn code
// (Listener, LazyListener, Dialer, Dial, DialContext), a Listener's Streams
// are write-through whatever StreamOptions.WriteThrough says: each Write is
// sent at once, as on a plain net.Conn.
//
// Bounds: at most MaxHandshakes connections are handshaking (or handshaken
// and waiting for room in the queue), and at most MaxReady handshaken ones
// wait for Accept. While both are full the listener stops taking
// connections from the inner listener, so new clients wait in the kernel's
// listen backlog (and are refused once it is full) instead of growing
// goroutines, sockets and rustls state. Each place holds one goroutine, one
// socket and one rustls connection at most.
//
// A Listener is safe for concurrent use once its fields are set. Close
// closes the inner listener, aborts the handshakes in progress and closes
// the connections not yet accepted; Streams already returned are the
// caller's to Close. It has the same methods as LazyListener.
type Listener struct {
	// Logger, if set before the first Accept, receives a record for each
	// failed handshake, with attributes "remote" (the peer's address) and
	// "error" (the handshake's error). A failure the client caused (bad
	// ClientHello, wrong certificate, timeout, closed connection) is logged
	// at slog.LevelInfo: noise a handler may filter out. A failure of the
	// server's own configuration (an error matching ErrInvalidInput, such
	// as a closed CertifiedKey from GetCertificate) is logged at
	// slog.LevelError. A panic in a user
	// callback (GetCertificate, VerifyConnection, a SessionStore ...) is
	// logged at slog.LevelError with "stack", unless Logger is the
	// StreamOptions' Logger, which already reported it. The handler runs on
	// the connection's handshake goroutine and must not block; a panic in
	// it is recovered and that record lost. A handler that blocks keeps its
	// connection's place (see MaxHandshakes) meanwhile, and Close waits for
	// it to return.
	Logger *slog.Logger
	// MaxHandshakes, if set before the first Accept, bounds the connections
	// taken from the inner listener and not yet queued for Accept
	// (0: DefaultMaxHandshakes). A silent client holds its place for up to
	// the handshake timeout.
	MaxHandshakes int
	// MaxReady, if set before the first Accept, bounds the handshaken
	// connections waiting for Accept (0: DefaultMaxReady; values above
	// 65536 count as 65536).
	MaxReady int

	acc *Acceptor
	q   handshakeQueue
}

// NewListener wraps inner with cfg. opts.WriteThrough is forced on, and a
// zero opts.HandshakeTimeout becomes DefaultHandshakeTimeout (the bound of
// each connection's handshake). The Listener does not own cfg: closing cfg
// makes Accept fail. Nothing is read from inner before the first Accept.
// A nil inner makes Accept fail with an *Error matching ErrInvalidInput.
//
// A transient failure of inner's Accept (a net.Error that is Temporary or
// a timeout, or running out of file descriptors) is retried with a backoff,
// as net/http's Serve does; any other error ends the listener and every
// later Accept returns it.
func NewListener(inner net.Listener, cfg *ServerConfig, opts StreamOptions) *Listener {
	opts = listenerOptions(opts)
	l := &Listener{acc: NewAcceptor(cfg, opts)}
	l.q.init(inner, opts.HandshakeTimeout, l.handshake, func(c net.Conn, err error) {
		logHandshakeError(l.Logger, opts.Logger, c, err)
	})
	return l
}

// Listen listens on network and addr (as net.Listen) and wraps the
// listener with cfg; see NewListener.
func Listen(network, addr string, cfg *ServerConfig, opts StreamOptions) (*Listener, error) {
	if cfg == nil {
		return nil, inputErr("listen", "nil ServerConfig")
	}
	ln, err := net.Listen(network, addr)
	if err != nil {
		return nil, err
	}
	return NewListener(ln, cfg, opts), nil
}

func listenerOptions(opts StreamOptions) StreamOptions {
	opts.WriteThrough = true
	if opts.HandshakeTimeout <= 0 {
		opts.HandshakeTimeout = DefaultHandshakeTimeout
	}
	return opts
}

// handshake is the Listener's handshakeFunc.
func (l *Listener) handshake(ctx context.Context, c net.Conn) (*Stream, bool, error) {
	s, err := l.acc.Server(c)
	if err != nil {
		// The config is closed or unusable: not the connection's fault,
		// but no connection can be served.
		closeConn(c)
		return nil, true, err
	}
	if err := s.HandshakeContext(ctx); err != nil {
		s.release()
		closeConn(c)
		return nil, false, err
	}
	return s, false, nil
}

// Accept returns the next connection whose handshake has completed, as a
// *Stream: c.(*rustls.Stream) always succeeds on a non-nil result. It
// blocks until one is ready or the listener fails or is closed
// (net.ErrClosed).
func (l *Listener) Accept() (net.Conn, error) {
	s, err := l.AcceptStream()
	if err != nil {
		return nil, err
	}
	return s, nil
}

// AcceptStream is Accept with the concrete type.
func (l *Listener) AcceptStream() (*Stream, error) {
	if l == nil || l.q.inner == nil {
		return nil, inputErr("accept", "a Listener needs an inner net.Listener (use NewListener)")
	}
	l.q.start(l.MaxHandshakes, l.MaxReady)
	return l.q.accept()
}

// Close closes the transport listener, aborts the handshakes in progress
// and closes the handshaken connections not yet accepted. It returns once
// every goroutine of the listener has ended.
func (l *Listener) Close() error {
	if l == nil {
		return nil
	}
	return l.q.close()
}

// Addr returns the transport listener's address (nil without one).
func (l *Listener) Addr() net.Addr { return l.q.addr() }

// Defaults for the listeners' bounds (see Listener.MaxHandshakes and
// Listener.MaxReady).
const (
	DefaultMaxHandshakes = 256
	DefaultMaxReady      = 64
)
