package rustls

import (
	"net"
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
// is idempotent: later calls return the first call's result.
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
		if s.hsDone.Load() && s.hsErr == nil && s.activeWrites.Load() == 0 && s.fatal.Load() == nil {
			_ = s.conn.SetWriteDeadline(deadline)
			s.out.mu.Lock()
			if s.out.err == nil {
				if s.out.shut {
					clean = s.flushLocked() == nil // CloseWrite sent close_notify
				} else {
					clean = s.sendCloseNotifyLocked() == nil
				}
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
	h.mu.Lock() // a Read in progress has returned (see Close)
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

// release frees the C side and the buffers without touching the transport.
func (s *Stream) release() {
	s.cleanup.Stop()
	s.k.free()
	s.in.mu.Lock()
	s.in.releaseBuf()
	s.in.mu.Unlock()
	s.out.mu.Lock()
	s.out.releaseBuf()
	s.out.mu.Unlock()
}
