// Stream: one TLS connection over a net.Conn, split as crypto/tls's Conn
// is into an in half (stream_read.go: transport reads, the record scanner,
// decryption, Read) and an out half (stream_write.go: Write, gathering,
// Flush, CloseWrite, KeyUpdate; stream_direct.go: sending straight from
// rustls's buffers to the socket). Each half has its own mutex, so one
// goroutine may Read while another Writes; both reach rustls through the
// core (core.go), one C call at a time. The handshake (handshake.go) runs
// once, before the first Read or Write, and Close (stream_close*.go) may
// come from any goroutine at any moment.
//
// This file holds the Stream type, its options, the buffer pools and the
// deadlines. Lock order: a half's mutex, then core.mu (held for one C call
// only); dlMu and stateMu are taken last and held briefly. User callbacks
// run only inside a C call, so with core.mu held (and the in half's mutex
// during a Read or a handshake step): that is why the Stream's own
// methods refuse to run inside its callbacks, and why Close waits for
// neither.

package rustls

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// StreamOptions tune a Stream. The zero value is ready to use.
type StreamOptions struct {
	// WriteThrough makes every Write flush, so that the stream behaves as a
	// plain net.Conn (what net/http and most protocols expect). Without it,
	// Write may leave ciphertext buffered until Flush, like bufio.Writer.
	// Everything that hands a Stream to generic net.Conn code (Listener,
	// LazyListener, Dialer, Dial, DialContext) makes it write-through;
	// Acceptor, LazyAcceptor, Connector and StartHandshake.IntoStream follow
	// StreamOptions.WriteThrough (false: Writes stay buffered until Flush).
	WriteThrough bool
	// BufferLimit caps, in bytes, the ciphertext rustls buffers before a
	// Write must send it (rustls's default, 64 KiB, when 0).
	BufferLimit int
	// Logger receives rustls's log records for the connection (emitted while
	// rustls processes incoming records). Its handler runs inside the
	// connection's C calls, like the other callbacks (see
	// Stream.HandshakeContext): a
	// panic there loses the record, and a handler must not block.
	Logger *slog.Logger
	// CloseTimeout bounds Close's wait for the peer (1 second when 0). On
	// TCP, Close itself never waits for the peer: sending what the socket
	// did not take at once, then waiting for the peer to acknowledge what
	// was sent (or to close), is done by a background goroutine, which
	// closes the socket at the latest CloseTimeout after Close began; the
	// descriptor stays open that long at most. On other transports it
	// bounds Close's sending of close_notify. It also bounds CloseWrite.
	// See Stream.Close.
	CloseTimeout time.Duration
	// HandshakeTimeout bounds a handshake started without a context: by
	// Stream.Handshake or by the first Read, Write, Flush, CloseWrite or
	// KeyUpdate (DefaultHandshakeTimeout when 0). HandshakeContext, and
	// the Accept, Connect and Dial functions that run it, use their
	// context instead.
	HandshakeTimeout time.Duration

	// bufferedOutput turns direct output (stream_direct.go) off: tests run
	// the buffered path over TCP with it.
	bufferedOutput bool
}

const (
	inBufSize           = 64 << 10
	outBufSize          = 80 << 10
	copyBufSize         = 32 << 10
	spillBufSize        = 32 << 10
	defaultCloseTimeout = time.Second
)

var (
	inPool  = sync.Pool{New: func() any { b := make([]byte, inBufSize); return &b }}
	outPool = sync.Pool{New: func() any { b := make([]byte, outBufSize); return &b }}
	// spillPool holds the plaintext a Read takes from rustls beyond the
	// caller's buffer.
	spillPool = sync.Pool{New: func() any { b := make([]byte, spillBufSize); return &b }}
	// copyPool holds the buffers of ReadFrom and WriteTo.
	copyPool = sync.Pool{New: func() any { b := make([]byte, copyBufSize); return &b }}
)

// Stream is one TLS connection over a net.Conn, for either side. It
// implements net.Conn.
//
// Buffering: Write hands plaintext to rustls, which encrypts it into its
// outgoing buffer; the ciphertext is sent when that buffer is full (Write
// then blocks until it is drained) or on Flush. Call Flush when a message
// is complete. Write-through Streams flush on every Write. Everything that
// hands a Stream to generic net.Conn code (Listener, LazyListener, Dialer,
// Dial, DialContext) makes it write-through; Acceptor, LazyAcceptor,
// Connector and StartHandshake.IntoStream follow StreamOptions.WriteThrough
// (false: Writes stay buffered until Flush). On a buffered Stream a Read
// does not flush: as with bufio.Writer, a request written without Flush is
// not sent.
//
// Handshake: Acceptor, LazyAcceptor, Connector, Dialer, Dial, Listener,
// LazyListener and StartHandshake.IntoStream return Streams whose handshake
// has completed; Acceptor.Server and Connector.Client return Streams whose
// handshake runs on first I/O, on Handshake or on HandshakeContext. Until
// it has completed, ConnectionState returns a state with HandshakeComplete
// false and never waits for it (as crypto/tls).
//
// Concurrency: one goroutine may Read while another Writes or Flushes;
// Close may be called from any goroutine, even from inside the Stream's own
// callbacks, and unblocks both. Reads and writes are each serialized. The
// Stream's other methods refuse to run inside its own callbacks (an *Error
// matching ErrInvalidInput), where they would wait for themselves.
//
// End of stream: after the peer's close_notify Read returns io.EOF; if the
// transport ends without close_notify, Read returns io.ErrUnexpectedEOF.
//
// Deadlines are the transport's. A deadline that fires returns an error
// that wraps os.ErrDeadlineExceeded (a net.Error whose Timeout is true) and
// leaves the stream usable once the deadline is moved: ciphertext not yet
// sent stays queued and is sent first by the next Write, Flush or Close.
// A Write whose deadline has already passed takes nothing and returns 0;
// the count a Write returns is always what will reach the peer (see
// Write). Other transport errors and TLS errors are permanent.
type Stream struct {
	conn       net.Conn
	k          *core
	cb         *connCallbacks
	server     bool
	serverName string // client: the name the stream connected to
	opts       StreamOptions
	cleanup    runtime.Cleanup

	hsMu   sync.Mutex
	hsDone atomic.Bool
	hsErr  error
	// hsCancel cancels the running handshake's callback context (set
	// while a handshake that can run user code is in progress): Close
	// calls it so that the handshake stops waiting for a stuck callback.
	hsCancel atomic.Pointer[context.CancelFunc]

	in  inHalf
	out outHalf

	fatal        atomic.Pointer[Error] // TLS error seen by either half
	activeWrites atomic.Int32
	closed       atomic.Bool
	closeOnce    sync.Once
	closeErr     error

	stateMu sync.Mutex
	state   *stateCache

	// dlMu orders every change of the transport's deadlines: the
	// caller's Set*Deadline, Close's (which must never be undone by a
	// setter that passed its closed check just before), a cancelled
	// handshake's and CloseWrite's bound. Never held across I/O.
	dlMu                        sync.Mutex
	readDeadline, writeDeadline atomic.Int64 // user deadlines (UnixNano, 0: none)
	dlHeld                      bool         // the handshake's cancellation owns the deadlines (dlMu)
	writeBound                  int64        // a CloseWrite's bound on writes (UnixNano, 0: none; dlMu)
}

// newStream wraps a fresh connection; the caller then runs the handshake.
func newStream(conn net.Conn, k *core, cb *connCallbacks, server bool, serverName string, opts StreamOptions) *Stream {
	s := &Stream{conn: conn, k: k, cb: cb, server: server, serverName: serverName, opts: opts}
	if opts.BufferLimit > 0 {
		k.setBufferLimit(opts.BufferLimit)
	}
	if opts.CloseTimeout <= 0 {
		s.opts.CloseTimeout = defaultCloseTimeout
	}
	if !opts.bufferedOutput {
		if rc := directConn(conn); rc != nil {
			s.out.d.rc = rc
			s.out.d.step = s.directStep
		}
	}
	s.cleanup = runtime.AddCleanup(s, func(k *core) { k.free() }, k)
	return s
}

// NetConn returns the underlying transport. Reading or writing it directly
// corrupts the TLS stream.
func (s *Stream) NetConn() net.Conn { return s.conn }

// LocalAddr returns the transport's local address.
func (s *Stream) LocalAddr() net.Addr { return s.conn.LocalAddr() }

// RemoteAddr returns the transport's remote address.
func (s *Stream) RemoteAddr() net.Addr { return s.conn.RemoteAddr() }

// SetDeadline sets both read and write deadlines on the transport. Once
// Close has begun, the deadlines are Close's and SetDeadline returns an
// error wrapping net.ErrClosed (as do the two below).
func (s *Stream) SetDeadline(t time.Time) error {
	s.dlMu.Lock()
	defer s.dlMu.Unlock()
	if s.closed.Load() {
		return closedErr("set deadline")
	}
	s.readDeadline.Store(unixNano(t))
	s.writeDeadline.Store(unixNano(t))
	if s.dlHeld {
		return nil // applied when the handshake gives the deadlines back
	}
	if s.writeBound != 0 {
		err := s.conn.SetReadDeadline(t)
		if werr := s.applyWriteDeadlineLocked(); err == nil {
			err = werr
		}
		return err
	}
	return s.conn.SetDeadline(t)
}

// SetReadDeadline sets the transport's read deadline.
func (s *Stream) SetReadDeadline(t time.Time) error {
	s.dlMu.Lock()
	defer s.dlMu.Unlock()
	if s.closed.Load() {
		return closedErr("set read deadline")
	}
	s.readDeadline.Store(unixNano(t))
	if s.dlHeld {
		return nil
	}
	return s.conn.SetReadDeadline(t)
}

// SetWriteDeadline sets the transport's write deadline. A Write or Flush
// that times out keeps the unsent ciphertext queued; a Write started after
// the deadline takes nothing.
func (s *Stream) SetWriteDeadline(t time.Time) error {
	s.dlMu.Lock()
	defer s.dlMu.Unlock()
	if s.closed.Load() {
		return closedErr("set write deadline")
	}
	s.writeDeadline.Store(unixNano(t))
	if s.dlHeld {
		return nil
	}
	return s.applyWriteDeadlineLocked()
}

// applyWriteDeadlineLocked sets the transport's write deadline to the
// caller's, or to the bound of a CloseWrite in progress when that comes
// first. Called with dlMu held.
func (s *Stream) applyWriteDeadlineLocked() error {
	dl := s.writeDeadline.Load()
	if s.writeBound != 0 && (dl == 0 || s.writeBound < dl) {
		dl = s.writeBound
	}
	return s.conn.SetWriteDeadline(fromUnixNano(dl))
}

// holdDeadlines makes the transport's deadlines the library's (a handshake
// whose context ended sets them in the past): until releaseDeadlines, the
// caller's Set*Deadline calls are recorded but not applied. Close never
// needs it (after Close the setters refuse).
func (s *Stream) holdDeadlines(t time.Time) {
	s.dlMu.Lock()
	defer s.dlMu.Unlock()
	s.dlHeld = true
	if !s.closed.Load() {
		_ = s.conn.SetDeadline(t)
	}
}

// releaseDeadlines ends holdDeadlines and puts back the deadlines the
// caller set (unless Close has begun: they are Close's then).
func (s *Stream) releaseDeadlines() {
	s.dlMu.Lock()
	defer s.dlMu.Unlock()
	s.dlHeld = false
	if !s.closed.Load() {
		_ = s.conn.SetReadDeadline(fromUnixNano(s.readDeadline.Load()))
		_ = s.applyWriteDeadlineLocked()
	}
}

// boundWrites bounds the transport's write deadline by until (in addition
// to the caller's, whichever comes first) until unboundWrites: CloseWrite
// uses it so that a peer that stops reading cannot hold it forever.
func (s *Stream) boundWrites(until time.Time) {
	s.dlMu.Lock()
	defer s.dlMu.Unlock()
	s.writeBound = until.UnixNano()
	if !s.closed.Load() && !s.dlHeld {
		_ = s.applyWriteDeadlineLocked()
	}
}

// unboundWrites ends boundWrites and puts back the caller's write deadline.
func (s *Stream) unboundWrites() {
	s.dlMu.Lock()
	defer s.dlMu.Unlock()
	s.writeBound = 0
	if !s.closed.Load() && !s.dlHeld {
		_ = s.applyWriteDeadlineLocked()
	}
}

func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromUnixNano(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}

// setFatal records a TLS error; both halves report it from then on.
func (s *Stream) setFatal(e *Error) {
	s.fatal.CompareAndSwap(nil, e)
}

func (s *Stream) fatalErr() error {
	if e := s.fatal.Load(); e != nil {
		return e
	}
	return nil
}

// Handshake runs the TLS handshake if it has not run yet, as the first
// Read, Write, Flush, CloseWrite or KeyUpdate does. It takes no context: it
// is bounded by StreamOptions.HandshakeTimeout (DefaultHandshakeTimeout
// when 0) and by the transport's deadlines, as crypto/tls's Conn.Handshake
// is bounded by the connection's deadlines; past the bound it fails with an
// *Error wrapping context.DeadlineExceeded. Otherwise it is
// HandshakeContext, whose errors and rules it shares.
func (s *Stream) Handshake() error {
	if s.hsDone.Load() {
		return s.hsErr
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.handshakeTimeout())
	defer cancel()
	return s.HandshakeContext(ctx)
}

// handshakeTimeout bounds a handshake started without a context.
func (s *Stream) handshakeTimeout() time.Duration {
	if s.opts.HandshakeTimeout > 0 {
		return s.opts.HandshakeTimeout
	}
	return DefaultHandshakeTimeout
}

// ensureHandshake runs the handshake on first I/O (see Handshake).
func (s *Stream) ensureHandshake() error {
	if s.hsDone.Load() {
		return s.hsErr
	}
	return s.Handshake()
}

// closedErr is what I/O after Close returns.
func closedErr(op string) error {
	return &Error{Code: CodeIO, Op: op, Err: net.ErrClosed}
}

// ErrWriteClosed is returned by Write after CloseWrite.
var ErrWriteClosed = errors.New("rustls: write after CloseWrite")
