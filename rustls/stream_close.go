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
	"syscall"
	"time"
)

// Close ends the stream. When the handshake is complete, no Write is in
// progress and no fatal error was seen, it first sends what is queued and
// close_notify. On a TCP transport it then makes sure that closing cannot
// cost the peer data: closing a socket with unread input (the TLS 1.3
// session tickets a rustls server sends after the handshake, say), or one
// that receives data afterwards, makes the kernel reset the connection
// and drop what it still had to send, so the peer could lose the end of
// what Write reported sent. On Linux, when the peer had acknowledged
// everything written before close_notify and no input waits unread, Close
// closes at once (the usual end of a request and its reply). Otherwise it
// half-closes the connection and waits, reading and discarding what the
// peer still sends, until the peer has acknowledged everything written
// before close_notify and no input waits (Linux), the peer closes, or
// StreamOptions.CloseTimeout has passed since Close began. A Close that
// cannot send close_notify (a broken or reset transport, a Write in
// progress) closes at once.
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
		tc, _ := s.conn.(*net.TCPConn)
		var rc syscall.RawConn
		before := -1 // unacknowledged bytes sent before close_notify (-1: unknown)
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
				} else if s.flushLocked() == nil {
					// Everything written is in the socket now: how much
					// of it the peer has yet to acknowledge decides
					// whether Close must wait (linger).
					if tc != nil {
						rc = s.rawConn(tc)
						before, _ = socketQueues(rc, false)
					}
					clean = s.sendCloseNotifyLocked() == nil
				}
				s.out.closing = false
			}
			s.out.mu.Unlock()
		}
		if tc != nil && clean {
			s.linger(tc, rc, before, deadline)
		}
		s.closeErr = s.conn.Close()
		s.release()
	})
	return s.closeErr
}

// rawConn returns tc's raw connection (the one direct output already
// holds, when it has one), or nil.
func (s *Stream) rawConn(tc *net.TCPConn) syscall.RawConn {
	if s.out.d.rc != nil {
		return s.out.d.rc
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return nil
	}
	return rc
}

// Close's wait for the peer. The kernel resets a connection (RST) when
// its socket is closed with received bytes unread, or when bytes arrive
// after the close; a reset throws away what the socket still had to
// send, so the peer would lose the end of what Write reported sent. Two
// things make a close safe: the peer has acknowledged everything written
// (a reset then costs at most close_notify and the FIN, which the peer
// got first unless the network lost them), or the peer has closed its
// side and everything it sent was read (no byte can arrive any more).

const (
	// lingerPollMin and lingerPollMax bound the pause between two checks of
	// the socket's queues while Close waits (the peer's acknowledgement
	// wakes nobody; its data and its FIN end the pause at once).
	lingerPollMin = time.Millisecond
	lingerPollMax = 20 * time.Millisecond
)

// linger makes closing tc safe (see above) or gives up at deadline. before
// is how much of what was sent before close_notify the peer had not
// acknowledged once it was all in the socket (SIOCOUTQ; -1 where that
// cannot be told). When it was 0 and nothing unread waits in the socket,
// Close closes at once: the common end of a request and its reply. Else
// it half-closes and reads and discards the peer's input until everything
// up to close_notify is acknowledged and nothing is unread, the peer's EOF,
// an error or deadline.
func (s *Stream) linger(tc *net.TCPConn, rc syscall.RawConn, before int, deadline time.Time) {
	if rc == nil {
		rc = s.rawConn(tc)
	}
	sent, unread := -1, -1
	if rc != nil {
		sent, unread = socketQueues(rc, true)
	}
	if before == 0 && unread == 0 {
		return
	}
	if tc.CloseWrite() != nil {
		return
	}
	// tail: the bytes of close_notify at most (sent counts everything
	// unacknowledged, and only acknowledgements came in since before was
	// taken). Once the send queue is no longer than that, everything
	// before close_notify was acknowledged: the acknowledgement is
	// cumulative.
	tail := -1
	if before >= 0 && sent >= 0 {
		tail = sent - before
	}
	watch := sent >= 0 // the send queue can be watched (Linux)
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
	h.ensureBuf()
	h.start, h.end = 0, 0 // unprocessed ciphertext: dropped with the rest
	poll := lingerPollMin
	for first := true; ; first = false {
		if watch && !first {
			sent, unread = socketQueues(rc, true)
		}
		if sent == 0 || tail >= 0 && sent <= tail && unread == 0 {
			// Everything acknowledged, close_notify and FIN too: a
			// reset loses nothing. Or everything up to close_notify,
			// and nothing is unread.
			return
		}
		now := time.Now()
		if !now.Before(deadline) {
			return
		}
		step := deadline
		if watch && unread == 0 && now.Add(poll).Before(deadline) {
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
