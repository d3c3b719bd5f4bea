package rustls

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// DefaultHandshakeTimeout bounds a handshake started without a context
// (Stream.Handshake, or a Stream's first I/O) when
// StreamOptions.HandshakeTimeout is 0, and the handshakes of Listener and
// LazyListener connections.
const DefaultHandshakeTimeout = 10 * time.Second

// Listener is a net.Listener whose Accept returns a server *Stream at once,
// before any TLS byte is read: the handshake runs on the connection's first
// Read or Write (bounded by StreamOptions.HandshakeTimeout) or on an
// explicit Stream.Handshake or Stream.HandshakeContext. A slow or silent
// client therefore never blocks the accept loop.
//
// Buffering: like everything that hands a Stream to generic net.Conn code
// (Listener, LazyListener, Dialer, Dial, DialContext), a Listener's Streams
// are write-through whatever StreamOptions.WriteThrough says: each Write is
// sent at once, as on a plain net.Conn.
//
// Until its handshake has run, a Stream's ConnectionState returns a state
// with HandshakeComplete false (as crypto/tls does). net/http's http.Server
// reads the state of a non-*tls.Conn connection once, before its first
// Read, so an http.Server serving a Listener directly sees a Request.TLS
// with HandshakeComplete false and no negotiated parameters. Serve HTTPS
// with rustlshttp.Server (which handshakes each connection before net/http
// sees it, and adds HTTP/2), or serve a LazyListener, whose connections
// are handshaken before Accept returns them.
type Listener struct {
	inner net.Listener
	acc   *Acceptor
}

// NewListener wraps inner with cfg. opts.WriteThrough is forced on, and
// a zero opts.HandshakeTimeout becomes DefaultHandshakeTimeout.
func NewListener(inner net.Listener, cfg *ServerConfig, opts StreamOptions) *Listener {
	return &Listener{inner: inner, acc: NewAcceptor(cfg, listenerOptions(opts))}
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

// Accept waits for the next transport connection and returns it as a
// *Stream whose handshake has not run yet: c.(*rustls.Stream) always
// succeeds on a non-nil result.
func (l *Listener) Accept() (net.Conn, error) {
	s, err := l.AcceptStream()
	if err != nil {
		return nil, err
	}
	return s, nil
}

// AcceptStream is Accept with the concrete type.
func (l *Listener) AcceptStream() (*Stream, error) {
	if l == nil || l.inner == nil {
		return nil, inputErr("accept", "a Listener needs an inner net.Listener (use NewListener)")
	}
	c, err := l.inner.Accept()
	if err != nil {
		return nil, err
	}
	s, err := l.acc.Server(c)
	if err != nil {
		// The config is closed or unusable: not the connection's fault,
		// but no connection can be served.
		_ = c.Close()
		return nil, err
	}
	return s, nil
}

// Close closes the transport listener.
func (l *Listener) Close() error { return l.inner.Close() }

// Addr returns the transport listener's address.
func (l *Listener) Addr() net.Addr { return l.inner.Addr() }

// Defaults for a LazyListener's bounds (see LazyListener.MaxHandshakes and
// LazyListener.MaxReady).
const (
	DefaultMaxHandshakes = 256
	DefaultMaxReady      = 64
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
	inner   net.Listener
	la      *LazyAcceptor
	timeout time.Duration
	// Logger, if set before the first Accept, receives a record for each
	// failed handshake, with attributes "remote" (the peer's address) and
	// "error" (the handshake's error). A failure the client caused (bad or
	// no ClientHello, timeout, refused name, closed connection) is logged at
	// slog.LevelInfo: noise a handler may filter out. A panic in a user
	// callback (Choose, or what it calls) is logged at slog.LevelError,
	// with "stack" (the panicking goroutine's stack); when Logger is the
	// LazyAcceptor's Options.Logger, which already reported that panic as
	// it happened, it is not logged twice. The handler runs on the
	// connection's handshake goroutine and must not block; a panic in it is
	// recovered and that record lost.
	Logger *slog.Logger
	// MaxHandshakes, if set before the first Accept, bounds the connections
	// taken from the inner listener and not yet queued for Accept: those
	// handshaking and those handshaken while the queue is full
	// (0: DefaultMaxHandshakes). A silent client holds its place for up to
	// the handshake timeout.
	MaxHandshakes int
	// MaxReady, if set before the first Accept, bounds the handshaken
	// connections waiting for Accept (0: DefaultMaxReady).
	MaxReady int

	once    sync.Once
	slots   chan struct{} // one per connection held before the queue
	ready   chan *Stream  // handshaken connections waiting for Accept
	done    chan struct{}
	errMu   sync.Mutex
	err     error
	closeMu sync.Once
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

// NewLazyListener wraps inner with la. Streams are write-through (the
// LazyAcceptor's Options are copied with WriteThrough forced on) and a zero
// HandshakeTimeout becomes DefaultHandshakeTimeout.
func NewLazyListener(inner net.Listener, la *LazyAcceptor) *LazyListener {
	if la == nil {
		la = &LazyAcceptor{} // every handshake fails: no Choose
	}
	opts := listenerOptions(la.Options)
	cp := &LazyAcceptor{Choose: la.Choose, Options: opts}
	ctx, cancel := context.WithCancel(context.Background())
	return &LazyListener{inner: inner, la: cp, timeout: opts.HandshakeTimeout,
		done: make(chan struct{}), ctx: ctx, cancel: cancel}
}

func (l *LazyListener) start() {
	maxHS, maxReady := l.MaxHandshakes, l.MaxReady
	if maxHS <= 0 {
		maxHS = DefaultMaxHandshakes
	}
	if maxReady <= 0 {
		maxReady = DefaultMaxReady
	}
	l.slots = make(chan struct{}, maxHS)
	l.ready = make(chan *Stream, maxReady)
	go l.acceptLoop()
}

func (l *LazyListener) acceptLoop() {
	defer close(l.done)
	var backoff time.Duration
	for {
		// Take a place before taking a connection: with every place
		// held, connections stay in the kernel's backlog.
		select {
		case l.slots <- struct{}{}:
		case <-l.ctx.Done():
			return
		}
		c, err := l.inner.Accept()
		if err != nil {
			<-l.slots
			if retryAccept(err) && l.ctx.Err() == nil {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				select {
				case <-time.After(backoff):
				case <-l.ctx.Done():
				}
				continue
			}
			l.errMu.Lock()
			l.err = err
			l.errMu.Unlock()
			return
		}
		backoff = 0
		l.wg.Add(1)
		go l.handshake(c)
	}
}

// retryAccept reports whether an Accept error passes (as net/http's
// server treats it): a timeout, or too many open files.
func retryAccept(err error) bool {
	var ne net.Error
	return (errors.As(err, &ne) && ne.Timeout()) || errors.Is(err, unix.EMFILE) || errors.Is(err, unix.ENFILE)
}

func (l *LazyListener) handshake(c net.Conn) {
	defer l.wg.Done()
	defer func() { <-l.slots }()
	ctx, cancel := context.WithTimeout(l.ctx, l.timeout)
	s, err := l.la.Accept(ctx, c)
	cancel()
	if err != nil {
		l.logError(c, err)
		return
	}
	select {
	case l.ready <- s:
	case <-l.ctx.Done():
		_ = s.Close()
	}
}

// logError reports a failed handshake to Logger (see its doc for the
// levels); logConnError recovers a panicking handler.
func (l *LazyListener) logError(c net.Conn, err error) {
	if l.Logger == nil {
		return
	}
	if isCallbackPanic(err) {
		if l.Logger != l.la.Options.Logger {
			logConnError(l.Logger, slog.LevelError, "gorustls: TLS handshake failed: callback panicked", c, err)
		}
		return
	}
	logConnError(l.Logger, slog.LevelInfo, "gorustls: TLS handshake failed", c, err)
}

// Accept returns the next connection whose handshake has completed, as a
// *Stream: c.(*rustls.Stream) always succeeds on a non-nil result.
func (l *LazyListener) Accept() (net.Conn, error) {
	return l.AcceptStream()
}

// AcceptStream is Accept with the concrete type.
func (l *LazyListener) AcceptStream() (*Stream, error) {
	if l == nil || l.inner == nil || l.la == nil {
		return nil, inputErr("accept", "a LazyListener needs an inner net.Listener (use NewLazyListener)")
	}
	l.once.Do(l.start)
	select {
	case s := <-l.ready:
		return l.handOut(s)
	case <-l.ctx.Done():
		return nil, net.ErrClosed
	case <-l.done:
		select {
		case s := <-l.ready:
			return l.handOut(s)
		default:
		}
		l.errMu.Lock()
		defer l.errMu.Unlock()
		if l.err == nil {
			return nil, net.ErrClosed
		}
		return nil, l.err
	}
}

// handOut gives s to the caller unless the listener is closed.
func (l *LazyListener) handOut(s *Stream) (*Stream, error) {
	if l.ctx.Err() != nil {
		_ = s.Close()
		return nil, net.ErrClosed
	}
	return s, nil
}

// Close closes the transport listener, aborts the handshakes in progress
// and closes the handshaken connections not yet accepted. It returns once
// every goroutine of the listener has ended.
func (l *LazyListener) Close() error {
	if l.cancel == nil {
		return nil // a zero LazyListener: nothing was started
	}
	var err error
	l.closeMu.Do(func() {
		l.cancel()
		err = l.inner.Close()
		// Not started yet: mark the accept loop as finished so that it
		// never starts. Then no handshake can be added once it is done.
		l.once.Do(func() { close(l.done) })
		<-l.done
		l.wg.Wait()
		for l.ready != nil {
			select {
			case s := <-l.ready:
				_ = s.Close()
			default:
				return
			}
		}
	})
	return err
}

// Addr returns the transport listener's address.
func (l *LazyListener) Addr() net.Addr { return l.inner.Addr() }
