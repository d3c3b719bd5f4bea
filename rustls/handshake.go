package rustls

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"time"

	"github.com/gorustls/gorustls/cgo"
)

// Handshake runs the TLS handshake if it has not run yet. Cancelling ctx or
// passing its deadline aborts a stuck handshake promptly (through the
// transport's deadlines, which are restored afterwards). A failed handshake
// is permanent: later calls, Reads and Writes return the same error.
// Acceptor and Connector call Handshake before returning a Stream.
func (s *Stream) Handshake(ctx context.Context) error {
	if s.hsDone.Load() {
		return s.hsErr
	}
	if ctx == nil {
		return inputErr("handshake", "nil context.Context")
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
				if err := s.settleState(); err != nil {
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
		hsErr = s.handshakeStep(ctx)
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

// handshakeStep reads ciphertext (if none is buffered) and feeds it.
func (s *Stream) handshakeStep(ctx context.Context) error {
	h := &s.in
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.start == h.end && !h.eof {
		if err := h.fill(s.conn); err != nil {
			return s.handshakeIOErr(ctx, err)
		}
	}
	var in []byte
	if h.start < h.end {
		in = h.buf[h.start:h.end]
	}
	r := s.k.feed(in, h.eof)
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
