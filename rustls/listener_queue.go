// The handshake queue behind Listener and LazyListener.
//
// Both listeners take transport connections on one goroutine (acceptLoop),
// run each handshake on a goroutine of its own, bounded by the handshake
// timeout, and queue the handshaken Streams for Accept. Two bounds keep a
// flood of clients from growing goroutines, sockets and rustls state: slots
// (connections taken and not yet queued) and the queue itself; while both
// are full, new clients wait in the kernel's listen backlog.

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

// handshakeFunc runs one server handshake over conn. It returns the
// Stream, or an error with conn closed. fatal says the error is the
// listener's (a closed or unusable config), not the connection's: Accept
// returns it to the caller instead of only logging it.
type handshakeFunc func(ctx context.Context, conn net.Conn) (s *Stream, fatal bool, err error)

// accepted is one entry of the queue: a handshaken Stream, or an error
// for Accept.
type accepted struct {
	s   *Stream
	err error
}

// handshakeQueue is the machinery both listeners share. Its zero value is
// not usable: init sets it up in the listener's constructor and start
// at the first Accept (when the bounds have been read).
type handshakeQueue struct {
	inner     net.Listener
	hs        handshakeFunc
	timeout   time.Duration
	logFailed func(conn net.Conn, err error) // reports a failed handshake

	once    sync.Once
	slots   chan struct{}   // one per connection held before the queue
	ready   chan accepted   // handshaken connections waiting for Accept
	done    chan struct{}   // closed when acceptLoop has ended
	errMu   sync.Mutex      //
	err     error           // why acceptLoop ended (nil: Close)
	closeMu sync.Once       //
	ctx     context.Context // cancelled by Close
	cancel  context.CancelFunc
	wg      sync.WaitGroup // handshake goroutines
}

func (q *handshakeQueue) init(inner net.Listener, timeout time.Duration, hs handshakeFunc, logFailed func(net.Conn, error)) {
	q.inner, q.timeout, q.hs, q.logFailed = inner, timeout, hs, logFailed
	q.done = make(chan struct{})
	q.ctx, q.cancel = context.WithCancel(context.Background())
}

func (q *handshakeQueue) start(maxHS, maxReady int) {
	q.once.Do(func() {
		if maxHS <= 0 {
			maxHS = DefaultMaxHandshakes
		}
		if maxReady <= 0 {
			maxReady = DefaultMaxReady
		}
		// The queue is allocated up front: "no bound" written as
		// math.MaxInt must not panic (or allocate gigabytes).
		maxReady = min(maxReady, maxReadyLimit)
		q.slots = make(chan struct{}, maxHS)
		q.ready = make(chan accepted, maxReady)
		go q.acceptLoop()
	})
}

func (q *handshakeQueue) acceptLoop() {
	defer close(q.done)
	var backoff time.Duration
	for {
		// Take a place before taking a connection: with every place
		// held, connections stay in the kernel's backlog.
		select {
		case q.slots <- struct{}{}:
		case <-q.ctx.Done():
			return
		}
		c, err := q.inner.Accept()
		if err != nil {
			<-q.slots
			if retryAccept(err) && q.ctx.Err() == nil {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				select {
				case <-time.After(backoff):
				case <-q.ctx.Done():
				}
				continue
			}
			q.errMu.Lock()
			q.err = err
			q.errMu.Unlock()
			return
		}
		backoff = 0
		q.wg.Add(1)
		go q.handshake(c)
	}
}

// maxReadyLimit caps MaxReady (the queue costs 16 bytes a place, up front).
const maxReadyLimit = 1 << 16

// retryAccept reports whether an Accept error passes (as net/http's
// server treats it): a net.Error that is Temporary or a timeout, or too
// many open files.
func retryAccept(err error) bool {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	var te interface{ Temporary() bool }
	if errors.As(err, &te) && te.Temporary() {
		return true
	}
	return errors.Is(err, unix.EMFILE) || errors.Is(err, unix.ENFILE)
}

// addr is the transport listener's address, nil without one (a zero
// listener, or one made with a nil inner listener).
func (q *handshakeQueue) addr() net.Addr {
	if q == nil || q.inner == nil {
		return nil
	}
	return q.inner.Addr()
}

func (q *handshakeQueue) handshake(c net.Conn) {
	defer q.wg.Done()
	defer func() { <-q.slots }()
	ctx, cancel := context.WithTimeout(q.ctx, q.timeout)
	s, fatal, err := q.hs(ctx, c)
	cancel()
	if err != nil && !fatal {
		q.logFailed(c, err)
		return
	}
	select {
	case q.ready <- accepted{s, err}:
	case <-q.ctx.Done():
		if s != nil {
			_ = s.Close()
		}
	}
}

// accept returns the next handshaken Stream (or a fatal error).
func (q *handshakeQueue) accept() (*Stream, error) {
	select {
	case a := <-q.ready:
		return q.handOut(a)
	case <-q.ctx.Done():
		return nil, net.ErrClosed
	case <-q.done:
		select {
		case a := <-q.ready:
			return q.handOut(a)
		default:
		}
		q.errMu.Lock()
		defer q.errMu.Unlock()
		if q.err == nil {
			return nil, net.ErrClosed
		}
		return nil, q.err
	}
}

// handOut gives a to the caller unless the listener is closed.
func (q *handshakeQueue) handOut(a accepted) (*Stream, error) {
	if q.ctx.Err() != nil {
		if a.s != nil {
			_ = a.s.Close()
		}
		return nil, net.ErrClosed
	}
	return a.s, a.err
}

// close closes the transport listener, aborts the handshakes in progress
// and closes the handshaken connections not yet accepted, returning once
// every goroutine has ended.
func (q *handshakeQueue) close() error {
	if q.cancel == nil {
		return nil // a zero listener: nothing was started
	}
	var err error
	q.closeMu.Do(func() {
		q.cancel()
		if q.inner != nil {
			err = q.inner.Close()
		}
		// Not started yet: mark the accept loop as finished so that it
		// never starts. Then no handshake can be added once it is done.
		q.once.Do(func() { close(q.done) })
		<-q.done
		q.wg.Wait()
		for q.ready != nil {
			select {
			case a := <-q.ready:
				if a.s != nil {
					_ = a.s.Close()
				}
			default:
				return
			}
		}
	})
	return err
}

// logHandshakeError reports a failed handshake to logger (see the
// listeners' Logger fields for the levels). acceptorLogger is the
// Options.Logger that already reported a callback's panic as it happened:
// the panic is not logged twice to the same logger.
func logHandshakeError(logger, acceptorLogger *slog.Logger, c net.Conn, err error) {
	if logger == nil {
		return
	}
	if isCallbackPanic(err) {
		if logger != acceptorLogger {
			logConnError(logger, slog.LevelError, "gorustls: TLS handshake failed: callback panicked", c, err)
		}
		return
	}
	if errors.Is(err, ErrInvalidInput) {
		// The server's own configuration (a closed or unusable config or
		// key): no client causes it, and it may fail every handshake.
		logConnError(logger, slog.LevelError, "gorustls: TLS handshake failed: server configuration", c, err)
		return
	}
	logConnError(logger, slog.LevelInfo, "gorustls: TLS handshake failed", c, err)
}
