// Close: ending a Stream cleanly (close_notify, then a TCP linger so the
// kernel does not reset data still in flight) or abruptly (a broken
// transport, a Write in progress, a stuck callback), from any goroutine,
// without ever waiting for a user callback. release frees the C side and
// the buffers; stream_close_linux.go and stream_close_other.go tell
// whether the peer has acknowledged everything sent (SIOCOUTQ on Linux).

package rustls

import (
	"net"
	"sync"
	"time"
)

// Close ends the stream. When the handshake is complete, no Write is in
// progress and no fatal error was seen, it first sends what is queued and
// close_notify. On a TCP transport it then half-closes the connection and
// waits, reading and discarding what the peer still sends, until the peer
// has acknowledged everything sent (Linux), the peer closes, or
// StreamOptions.CloseTimeout has passed since Close began: closing a
// socket with unread input (the TLS 1.3 session tickets a rustls server
// sends after the handshake, say) makes the kernel reset the connection
// and drop data still in flight, so without this wait the peer could lose
// the end of what Write reported sent. A Close that cannot send
// close_notify (a broken or reset transport, a Write in progress) closes
// at once.
//
// Close unblocks a concurrent Read (which returns an error wrapping
// net.ErrClosed) at once, and a concurrent Write or Flush by closing the
// transport. It then closes the transport and frees the connection. Close
// is idempotent: later calls return the first call's result, and every
// other method returns an error wrapping net.ErrClosed once Close has
// returned.
//
// Close never waits for one of the Stream's own user callbacks
// (GetCertificate, a verifier, a SessionStore, VerifyConnection, a Logger
// handler), so it may be called from inside one, or from another goroutine
// while one is stuck: it then skips close_notify, closes the transport,
// ends a handshake waiting for the callback (see HandshakeContext), and leaves the
// C connection to be freed as soon as rustls returns from the call that
// runs the callback.
func (s *Stream) Close() error {
	s.closeOnce.Do(func() {
		// Under dlMu: a Set*Deadline either ran before (and is
		// overridden here) or sees closed and changes nothing.
		s.dlMu.Lock()
		s.closed.Store(true)
		deadline := time.Now().Add(s.opts.CloseTimeout)
		clean := false
		if s.hsDone.Load() && s.hsErr == nil {
			// A blocked Read returns now (it sees closed): the reading
			// side is Close's from here on. (A handshake in progress is
			// stopped by closing the transport, below.)
			_ = s.conn.SetReadDeadline(time.Unix(1, 0))
		}
		s.dlMu.Unlock()
		if cancel := s.hsCancel.Load(); cancel != nil {
			(*cancel)() // a handshake waiting for a callback returns
		}
		// A user callback of this connection running (this Close may come
		// from inside it) holds the core mutex and maybe the in half:
		// Close waits for neither. It skips close_notify, closes the
		// transport and leaves the C free to the callback's goroutine
		// (core.free). A callback that starts while Close sends
		// close_notify makes it give up the same way (core.lockPatient).
		if !s.cb.busy() && s.hsDone.Load() && s.hsErr == nil && s.activeWrites.Load() == 0 && s.fatal.Load() == nil {
			_ = s.conn.SetWriteDeadline(deadline)
			s.out.mu.Lock()
			if s.out.err == nil {
				s.out.closing = true
				if s.out.shut {
					clean = s.flushLocked() == nil // CloseWrite sent close_notify
				} else {
					clean = s.sendCloseNotifyLocked() == nil
				}
				s.out.closing = false
			}
			s.out.mu.Unlock()
		}
		if tc, ok := s.conn.(*net.TCPConn); ok && clean {
			s.linger(tc, deadline)
		}
		s.closeErr = s.conn.Close()
		s.release()
	})
	return s.closeErr
}

// lingerPollMax bounds the pause between two checks of the send queue.
const lingerPollMax = 20 * time.Millisecond

// linger half-closes tc and reads and discards its input until everything
// sent was acknowledged, the peer's EOF or an error, or deadline: the
// socket is then closed with no unread input (no reset) or with nothing of
// ours left to lose.
func (s *Stream) linger(tc *net.TCPConn, deadline time.Time) {
	if tc.CloseWrite() != nil {
		return
	}
	h := &s.in
	// A Read in progress returns at once (see Close), unless it is inside
	// a user callback (a Logger handler), which may be waiting for us.
	if !s.lockPatient(&h.mu, deadline) {
		return
	}
	defer h.mu.Unlock()
	if h.eof {
		return // all input read: close() sends no reset
	}
	rc, _ := tc.SyscallConn()
	h.ensureBuf()
	h.start, h.end = 0, 0 // unprocessed ciphertext: dropped with the rest
	poll := time.Millisecond
	for {
		if rc != nil && sendQueueEmpty(rc) {
			return
		}
		now := time.Now()
		if !now.Before(deadline) {
			return
		}
		step := deadline
		if rc != nil && now.Add(poll).Before(deadline) {
			step = now.Add(poll)
			poll = min(2*poll, lingerPollMax)
		}
		_ = tc.SetReadDeadline(step)
		if _, err := tc.Read(h.buf); err != nil && !isTimeout(err) {
			return // EOF (nothing unread) or a dead connection
		}
	}
}

// lockPatient takes mu unless a user callback of this connection runs
// (it may hold mu and wait for the caller) or deadline passes, polling:
// Close's way to take a half that a blocked call is about to let go.
func (s *Stream) lockPatient(mu *sync.Mutex, deadline time.Time) bool {
	wait := 20 * time.Microsecond
	for {
		if mu.TryLock() {
			return true
		}
		if s.cb.busy() || !time.Now().Before(deadline) {
			return false
		}
		time.Sleep(wait)
		wait = min(2*wait, lingerPollMax)
	}
}

// release frees the C side and the buffers without touching the
// transport. It never waits: the C free is deferred to a C call in
// progress (core.free), and a half held by someone (a callback's goroutine,
// an abandoned handshake step) keeps its buffers, which its holder gives
// back or the collector frees.
func (s *Stream) release() {
	s.cleanup.Stop()
	s.k.free()
	if s.in.mu.TryLock() {
		s.in.releaseBuf()
		s.in.mu.Unlock()
	}
	if s.out.mu.TryLock() {
		s.out.releaseBuf()
		s.out.mu.Unlock()
	}
}
