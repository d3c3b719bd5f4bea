// The handshake: Stream.Handshake and the loop that drives rustls through
// it.
//
// The loop asks the core for rustls's flags; while rustls wants to write,
// the out half flushes (our flight, or the alert of a failure); while it
// is handshaking, one step reads the transport (in half) and feeds the
// ciphertext in one C call (core.feed -> gr_conn_feed: read_tls and
// process_new_packets until the input is used up). EOF before the end is
// an error, never a wait. When the connection has user callbacks
// (GetCertificate, verifiers, a SessionStore, VerifyConnection, a Logger,
// a KeyLogWriter), the C call that may run them goes to a goroutine of
// its own (awaitUser) so that the context or Close ends the handshake
// even when a callback is stuck. At the end the peer identity is checked
// (settleState, state.go) before the last flight leaves; a TLS 1.3
// server leaves its session tickets queued for its first Write, Flush or
// Close.

package rustls

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"sync/atomic"
	"time"

	"github.com/gorustls/gorustls/cgo"
)

// HandshakeContext runs the TLS handshake if it has not run yet, bounded
// by ctx (as crypto/tls's Conn.HandshakeContext). Cancelling ctx or passing
// its deadline aborts a stuck handshake promptly (through the transport's
// deadlines, which are restored afterwards). A failed handshake is
// permanent: later calls, Reads and Writes return the same error; once it
// has succeeded, later calls return nil at once, whatever their context.
// Acceptor, LazyAcceptor, Connector, Dialer, Dial, Listener and
// LazyListener run it before returning a Stream; Acceptor.Server's and
// Connector.Client's Streams run it on first I/O (see Handshake).
//
// ctx also bounds the wait for the connection's user callbacks
// (GetCertificate, DangerousVerifyPeerCertificate, a SessionStore,
// VerifyConnection, the Logger's handler, the config's KeyLogWriter): on a
// connection that has any, rustls runs on a goroutine of the handshake's
// own, and HandshakeContext returns ctx's error as soon as ctx ends (or an
// error wrapping net.ErrClosed as soon as Close is called) even while a
// callback is stuck. The callback itself cannot be interrupted: it goes on
// until it returns, its result is discarded, and the C connection is freed
// after it. A callback that may block should watch ClientHello.Context
// (done when ctx is, when the Stream is closed, or when the handshake
// ends). A callback that never returns keeps that goroutine and that
// connection's C memory, as a stuck callback keeps its goroutine in
// crypto/tls; it holds nothing shared with other connections.
//
// Called from inside one of the Stream's own callbacks, HandshakeContext
// (like Handshake, Read, Write, Flush, CloseWrite and KeyUpdate) returns an
// *Error matching ErrInvalidInput instead of waiting for itself; Close is
// allowed there.
func (s *Stream) HandshakeContext(ctx context.Context) error {
	if s.hsDone.Load() {
		return s.hsErr
	}
	if ctx == nil {
		return inputErr("handshake", "nil context.Context")
	}
	if s.cb.inCallback() {
		return ownCallbackErr("handshake")
	}
	s.hsMu.Lock()
	defer s.hsMu.Unlock()
	if s.hsDone.Load() {
		return s.hsErr
	}
	err := s.runHandshake(ctx)
	s.hsErr = err
	s.hsDone.Store(true)
	return err
}

func (s *Stream) runHandshake(ctx context.Context) (err error) {
	if err := ctx.Err(); err != nil {
		return &Error{Code: CodeIO, Op: "handshake", Err: err}
	}
	// hctx is what the connection's callbacks see (ClientHello's
	// Context) and what ends a wait for them: ctx, or Close, or the end
	// of the handshake, whichever comes first.
	hctx := ctx
	if s.cb.userCode {
		var cancel context.CancelFunc
		hctx, cancel = context.WithCancel(ctx)
		s.hsCancel.Store(&cancel)
		defer func() {
			s.hsCancel.Store(nil)
			cancel()
		}()
		if s.closed.Load() { // Close ran before hsCancel was set
			return closedErr("handshake")
		}
		s.cb.setContext(hctx)
		defer s.cb.clearContext()
	}
	if ctx.Done() != nil {
		fired := make(chan struct{})
		stop := context.AfterFunc(ctx, func() {
			// Unblock transport I/O at once; restored below.
			s.holdDeadlines(time.Unix(1, 0))
			close(fired)
		})
		defer func() {
			if !stop() {
				<-fired
				s.releaseDeadlines()
				if ctx.Err() != nil && (err == nil || isTimeout(errors.Unwrap(err)) || isTimeout(err)) {
					err = &Error{Code: CodeIO, Op: "handshake", Err: ctx.Err()}
				}
			}
		}()
	}
	var hsErr error
	settled := false
	for {
		f, ok := s.k.flags()
		if !ok {
			return closedErr("handshake")
		}
		if hsErr == nil && f&cgo.FlagHandshaking == 0 {
			if !settled {
				// Before the last flight leaves: check the peer
				// identity rustls reports (state.go).
				if err := s.settleState(ctx, hctx); err != nil {
					return err
				}
				settled = true
			}
			if f&cgo.FlagWantsWrite == 0 {
				return nil
			}
			if s.server && s.k.version() == tls.VersionTLS13 {
				// A TLS 1.3 server's handshake ends when it reads the
				// client's Finished; all it has queued then is session
				// tickets. They stay queued and go out ahead of the
				// server's first Write, Flush or Close. Sent now, they
				// would sit unread in the socket of a client that writes
				// and closes without reading, and Linux answers such a
				// close() with a reset that destroys what the client
				// still had in flight (see Close). A client that reads
				// gets them with the first data; on net.Pipe, a client
				// that writes first no longer blocks us either.
				return nil
			}
		}
		if f&cgo.FlagWantsWrite != 0 {
			// Our flight, the last flight or the alert for a failure.
			s.out.mu.Lock()
			ferr := s.flushLocked()
			s.unlockOut()
			if hsErr != nil {
				return hsErr
			}
			if ferr != nil {
				return s.handshakeIOErr(ctx, ferr)
			}
			continue
		}
		if hsErr != nil {
			return hsErr
		}
		hsErr = s.handshakeStep(ctx, hctx)
		if hsErr != nil && !isTLSError(hsErr) {
			return hsErr
		}
		if hsErr == nil {
			if err := s.callbackPanicErr(); err != nil {
				return err
			}
		}
	}
}

// callbackPanicErr fails the handshake when a user callback panicked while
// rustls carried on (a SessionStore panic is only a miss or an unissued
// ticket to rustls). What rustls queued is not sent.
func (s *Stream) callbackPanicErr() error {
	p := s.cb.panicked()
	if p == nil {
		return nil
	}
	e := &Error{Code: CodeGeneral, Op: "handshake", Err: p}
	s.setFatal(e)
	return e
}

// handshakeStep reads ciphertext (if none is buffered) and feeds it. When
// user code can run in the feed (a callback), the feed runs on a goroutine
// of its own (awaitUser) and the step gives up when hctx ends, even if a
// callback is stuck: the feed then keeps the in half, whose buffer it is
// reading, until rustls returns.
func (s *Stream) handshakeStep(ctx, hctx context.Context) error {
	h := &s.in
	h.mu.Lock()
	held := true
	defer func() {
		if held {
			h.mu.Unlock()
		}
	}()
	if h.start == h.end && !h.eof {
		if err := h.fill(s.conn); err != nil {
			return s.handshakeIOErr(ctx, err)
		}
	}
	var in []byte
	if h.start < h.end {
		in = h.buf[h.start:h.end]
	}
	eof := h.eof
	var r cgo.IO
	if s.cb.userCode {
		// The step's goroutine counts as inside this connection's
		// callbacks for the whole C call: the KeyLogWriter runs there
		// too, and rustls-ffi cannot tell us which connection it serves.
		if !awaitUser(hctx, func() { defer s.cb.leave(s.cb.enter()); r = s.k.feed(in, eof) }, h.mu.Unlock) {
			held = false
			return s.abandonErr(ctx)
		}
	} else {
		r = s.k.feed(in, eof)
	}
	h.start += r.Consumed
	h.fed += int64(r.Consumed)
	switch r.Result {
	case cgo.ResultOK, cgo.ResultPlaintextEmpty:
	case resultClosed:
		return closedErr("handshake")
	default:
		e := &Error{Code: Code(r.Result), Op: "handshake"}
		if cause := s.cb.causes(); cause != nil {
			e.Err = cause
		}
		s.setFatal(e)
		return e
	}
	if h.eof && h.start == h.end && r.Flags&cgo.FlagHandshaking != 0 {
		// rustls would wait forever for the rest of the handshake.
		e := &Error{Code: CodeUnexpectedEOF, Op: "handshake", Detail: "the peer closed the connection during the handshake", Err: io.ErrUnexpectedEOF}
		s.setFatal(e)
		return e
	}
	return nil
}

func (s *Stream) handshakeIOErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return &Error{Code: CodeIO, Op: "handshake", Err: ctx.Err()}
	}
	if e, ok := err.(*Error); ok {
		return e
	}
	return &Error{Code: CodeIO, Op: "handshake", Err: err}
}

func isTLSError(err error) bool {
	e, ok := err.(*Error)
	return ok && e.Code != CodeIO
}

// awaitUser runs fn, a C call or a hook that may run user code, so that
// the handshake need not wait for it: when ctx can end, fn runs on a
// goroutine of its own and awaitUser returns false as soon as ctx ends
// first (a stuck callback; Close cancels ctx too). fn then finishes on its
// own whenever the callback returns, and orphan (if set) runs after it:
// it hands back what fn was using. On true, fn has returned and its
// results are visible to the caller.
func awaitUser(ctx context.Context, fn func(), orphan func()) bool {
	if ctx.Done() == nil {
		fn()
		return true
	}
	const running, finished, abandoned = 0, 1, 2
	var state atomic.Int32
	done := make(chan struct{})
	go func() {
		fn()
		if state.CompareAndSwap(running, finished) {
			close(done)
			return
		}
		if orphan != nil {
			orphan()
		}
	}()
	select {
	case <-done:
		return true
	case <-ctx.Done():
		if state.CompareAndSwap(running, abandoned) {
			return false
		}
		<-done // it finished just now
		return true
	}
}

// abandonErr fails the handshake that stopped waiting for a callback: with
// the context's error when ctx ended, else because the Stream was closed;
// with the callback's *PanicError when it called runtime.Goexit (its
// goroutine never comes back: see cgo.ErrGoexit).
func (s *Stream) abandonErr(ctx context.Context) error {
	e := &Error{Code: CodeIO, Op: "handshake", Detail: "a callback was still running", Err: net.ErrClosed}
	if err := ctx.Err(); err != nil {
		e.Err = err
	}
	if p := (*PanicError)(nil); errors.As(s.cb.panicked(), &p) && p.Value == cgo.ErrGoexit {
		// Still CodeIO: the handshake must not touch the connection
		// again (its core mutex stays with the parked goroutine).
		e.Detail, e.Err = "the "+p.Callback+" callback called runtime.Goexit", p
	}
	s.setFatal(e)
	return e
}

// ownCallbackErr is what a Stream method returns when it is called from
// inside one of that Stream's own callbacks, where it would wait forever
// for a lock its own goroutine holds.
func ownCallbackErr(op string) error {
	return &Error{Code: CodeInvalidParameter, Op: op,
		Detail: "called from inside one of this Stream's own callbacks (GetCertificate, a verifier, VerifyConnection, a SessionStore, a Logger handler); only Close and the deadline setters may be called there"}
}
