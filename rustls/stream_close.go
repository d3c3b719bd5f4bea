// Close: ending a Stream cleanly (close_notify, then a TCP linger so the
// kernel does not reset data still in flight) or abruptly (a broken
// transport, a Write in progress, a stuck callback), from any goroutine,
// without ever waiting for a user callback or for the peer. On TCP,
// Close queues close_notify without blocking (what the socket does not
// take goes to a spool) and, when the close is not yet safe, hands the
// spool and the socket to a background goroutine (closeTail) that sends
// the rest, lingers and closes the descriptor, within CloseTimeout.
// release frees the C side and the buffers at Close; stream_close_linux.go
// and stream_close_other.go tell whether the peer has acknowledged
// everything sent (SIOCOUTQ on Linux).

package rustls

import (
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Close ends the stream. When the handshake is complete, no Write is in
// progress and no fatal error was seen, it first sends what is queued and
// close_notify.
//
// On a TCP transport Close never waits for the peer. It hands what is
// queued and close_notify to the socket with non-blocking writes, and
// copies what the socket does not take (its send buffer is full because
// the peer reads slowly or not at all) for later. Closing a socket with
// unread input (the TLS 1.3 session tickets a rustls server sends after
// the handshake, say), or one that receives data afterwards, makes the
// kernel reset the connection and drop what it still had to send, so the
// peer could lose the end of what Write reported sent. So when everything
// went into the socket and either the peer's end of stream was read, or
// no input waits unread and the peer had acknowledged everything written
// before close_notify or has sent its own close_notify (Linux), Close
// closes the socket at once (the usual end of a request and its reply). Otherwise the close is finished in the
// background: a goroutine sends the rest, half-closes the connection, and
// reads and discards what the peer still sends until the peer has
// acknowledged everything written before close_notify and no input waits
// (Linux), the peer closes, or StreamOptions.CloseTimeout has passed
// since Close began; then it closes the socket. Close returns as soon as
// that goroutine is started, with a nil error (an error closing the socket
// later is dropped), so a server closing many connections whose peers
// stopped reading (http.Server.Close) is not slowed down by them. At most
// 1024 such closes run in the background per process; beyond that, Close
// does the work itself and returns when it is done, as the goroutine
// would. The background part ends with the process: a program that exits
// right after Close may cut it short, and the peer may then lose the end
// of the data. To be sure before exiting, call CloseWrite (which returns
// once everything is in the socket) and Read until io.EOF (the peer has
// read everything and closed): nothing can be lost after that, however
// the process ends, and on Linux the following Close finds everything
// acknowledged and closes the socket at once.
//
// On other transports Close sends what is queued and close_notify through
// the net.Conn, waiting at most StreamOptions.CloseTimeout for a peer
// that does not read, then closes it.
//
// A Write, Flush, CloseWrite or KeyUpdate in progress on TCP gives up at
// once (it returns an error wrapping net.ErrClosed); what it and earlier
// Writes counted is then sent with close_notify as above. A Close that
// cannot send close_notify (a broken or reset transport, or a Write in
// progress on another transport) closes the transport at once.
//
// Close unblocks a concurrent Read (which returns an error wrapping
// net.ErrClosed) at once, and a concurrent Write or Flush by closing the
// transport. It frees the rustls connection before it returns (or, when a
// C call is in progress, as soon as that returns). Close is idempotent:
// later calls return the first call's result, and every other method
// returns an error wrapping net.ErrClosed once Close has returned.
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
		var tail *closeTail // what is left to do once close_notify is queued (TCP)
		// A user callback of this connection running (this Close may come
		// from inside it) holds the core mutex and maybe the in half:
		// Close waits for neither. It skips close_notify, closes the
		// transport and leaves the C free to the callback's goroutine
		// (core.free). A callback that starts while Close sends
		// close_notify makes it give up the same way (core.lockPatient).
		// On TCP a Write in progress (blocked on a peer that does not
		// read) does not stop close_notify: it is made to give up (a past
		// write deadline; it returns an error wrapping net.ErrClosed and
		// what it counted stays queued), so that what earlier Writes
		// counted, still queued in the stream behind it, goes to the
		// spool instead of being dropped by closing at once. Elsewhere a
		// Write in progress makes Close close at once.
		if !s.cb.busy() && s.hsDone.Load() && s.hsErr == nil && (tc != nil || s.activeWrites.Load() == 0) && s.fatal.Load() == nil && s.lockOutForClose(deadline) {
			if s.out.err == nil {
				if tc != nil {
					tail = s.queueCloseLocked(tc, deadline)
				} else {
					s.out.closing = true
					if s.out.shut {
						_ = s.flushLocked() // CloseWrite queued close_notify
					} else {
						_ = s.sendCloseNotifyLocked()
					}
					s.out.closing = false
				}
				// Nothing more leaves through the out half (a flush the
				// read path asks for finds this error): what is left
				// belongs to tail.
				s.out.err = closedErr("write")
			}
			s.out.mu.Unlock()
		}
		switch {
		case tail == nil || tail.settled(s):
			s.closeErr = s.conn.Close()
		case startLinger():
			go func() {
				defer lingering.Add(-1)
				_ = tail.finish()
			}()
		default:
			s.closeErr = tail.finish() // too many in the background: as they would
		}
		s.release()
	})
	return s.closeErr
}

// lockOutForClose takes the out half for Close. Whoever holds it (a Write
// in progress, or the read path sending records it produced, such as a
// KeyUpdate reply, to a socket the peer no longer drains) gives up its
// blocked write now (a past write deadline), its bytes staying queued for
// Close to send. It reports false, with the half not taken, when a user
// callback of this connection runs or the holder does not let go before
// deadline: Close then closes at once. On success the write deadline is
// deadline.
func (s *Stream) lockOutForClose(deadline time.Time) bool {
	_ = s.conn.SetWriteDeadline(deadline)
	if s.out.mu.TryLock() {
		return true
	}
	_ = s.conn.SetWriteDeadline(time.Unix(1, 0))
	if !s.lockPatient(&s.out.mu, deadline) {
		return false
	}
	_ = s.conn.SetWriteDeadline(deadline)
	return true
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

// Closing without a reset. The kernel resets a connection (RST) when its
// socket is closed with received bytes unread, or when bytes arrive after
// the close; a reset throws away what the socket still had to send, so
// the peer would lose the end of what Write reported sent. Two things
// make a close safe: the peer has acknowledged everything written (a
// reset then costs at most close_notify and the FIN, which the peer got
// first unless the network lost them), or the peer has closed its side
// and everything it sent was read (no byte can arrive any more).

// closeTail is what is left of a Close on TCP once close_notify is queued:
// the ciphertext the socket did not take at once, and what the linger
// needs. It refers to no part of the Stream, whose C connection and
// buffers Close frees before it returns.
type closeTail struct {
	tc *net.TCPConn
	rc syscall.RawConn // nil when it cannot be had
	// spool holds, in order, the ciphertext not yet in the socket;
	// spool[:mark] was queued before close_notify.
	spool []byte
	mark  int
	// before is how much of what was sent before close_notify the peer had
	// not acknowledged once it was all in the socket (SIOCOUTQ; -1 where
	// that cannot be told, or after CloseWrite queued close_notify).
	before   int
	deadline time.Time
}

// maxLingering bounds the closes finished in the background at once, per
// process. Each one ends within its CloseTimeout and holds one goroutine,
// one descriptor, a read buffer and what its peer has not taken yet.
const maxLingering = 1024

// lingering counts the closes running in the background.
var lingering atomic.Int64

// startLinger takes a background slot, unless all are taken.
func startLinger() bool {
	if lingering.Add(1) > maxLingering {
		lingering.Add(-1)
		return false
	}
	return true
}

// lingerBufPool holds the buffers the background reads discard into.
var lingerBufPool = sync.Pool{New: func() any { b := make([]byte, 16<<10); return &b }}

// queueCloseLocked flushes the out half and queues close_notify without
// blocking on the socket, spooling what it does not take, and returns what
// is left to do, or nil when the transport failed (Close then closes at
// once). Called with out.mu held and out.err nil.
func (s *Stream) queueCloseLocked(tc *net.TCPConn, deadline time.Time) *closeTail {
	h := &s.out
	t := &closeTail{tc: tc, rc: s.rawConn(tc), before: -1, deadline: deadline}
	h.closing, h.spooling, h.spoolRC = true, true, t.rc
	var err error
	if h.shut {
		err = s.flushLocked() // CloseWrite queued close_notify
	} else if err = s.flushLocked(); err == nil {
		t.mark = len(h.spool)
		if t.mark == 0 && t.rc != nil {
			// Everything written is in the socket: how much of it the
			// peer has yet to acknowledge decides whether Close must
			// linger.
			t.before, _ = socketQueues(t.rc, false)
		}
		err = s.sendCloseNotifyLocked()
	}
	t.spool = h.spool
	h.closing, h.spooling, h.spoolRC, h.spool = false, false, nil, nil
	if err != nil {
		return nil
	}
	return t
}

// spoolPendingLocked is sendPendingLocked while Close queues close_notify:
// one non-blocking write when nothing is spooled yet, and the rest of
// buf[start:end] appended to the spool. Only a failed write is an error
// (sticky, as in sendPendingLocked).
func (s *Stream) spoolPendingLocked() error {
	h := &s.out
	if h.start < h.end && len(h.spool) == 0 && h.spoolRC != nil {
		n, err := tryWrite(h.spoolRC, h.buf[h.start:h.end])
		h.start += n
		if err != nil {
			h.err = &Error{Code: CodeIO, Op: "write", Err: err}
			return h.err
		}
	}
	h.spool = append(h.spool, h.buf[h.start:h.end]...)
	h.start, h.end = 0, 0
	return nil
}

// tryWrite writes what the socket takes of p without waiting.
func tryWrite(rc syscall.RawConn, p []byte) (n int, err error) {
	cerr := rc.Write(func(fd uintptr) bool {
		for n < len(p) {
			m, e := unix.Write(int(fd), p[n:])
			if e == unix.EINTR {
				continue
			}
			if e != nil {
				if e != unix.EAGAIN {
					err = os.NewSyscallError("write", e)
				}
				break
			}
			if m <= 0 {
				break
			}
			n += m
		}
		return true // never wait for the socket
	})
	if err == nil {
		err = cerr
	}
	return n, err
}

// settled reports whether Close may close the socket at once, once no
// Read can touch it any more: nothing spooled, and the peer's end of
// stream was read, or nothing waits unread and the peer acknowledged
// everything sent (or everything up to close_notify), or nothing waits
// unread and the peer's close_notify was read (a peer sends nothing
// after it, so no byte can arrive to reset the socket). It also reports
// true when a Read stays inside a user callback (a Logger handler, which
// may be waiting for Close) until the deadline: Close then closes at once,
// as it does for any stuck callback.
func (t *closeTail) settled(s *Stream) bool {
	// A Read in progress returns at once (see Close); one that starts
	// later sees closed before it reads. Once the in half was held here,
	// the socket's input is the tail's alone.
	h := &s.in
	if !s.lockPatient(&h.mu, t.deadline) {
		return true
	}
	eof, peerDone := h.eof, h.err == io.EOF
	h.start, h.end = 0, 0 // unprocessed ciphertext: dropped with the rest
	h.mu.Unlock()
	if len(t.spool) > 0 {
		return false
	}
	if eof {
		return true // all input read: close() sends no reset
	}
	if t.rc == nil {
		return false
	}
	sent, unread := socketQueues(t.rc, true)
	return unread == 0 && (sent == 0 || t.before == 0 || peerDone)
}

// finish sends the spool, lingers and closes the socket, all within the
// deadline: the part of Close that may wait for the peer.
func (t *closeTail) finish() error {
	_ = t.tc.SetWriteDeadline(t.deadline)
	if t.mark > 0 {
		if _, err := t.tc.Write(t.spool[:t.mark]); err != nil {
			return t.tc.Close()
		}
		if t.rc != nil {
			t.before, _ = socketQueues(t.rc, false)
		}
	}
	if t.mark < len(t.spool) {
		if _, err := t.tc.Write(t.spool[t.mark:]); err != nil {
			return t.tc.Close()
		}
	}
	t.spool = nil
	t.linger()
	return t.tc.Close()
}

const (
	// lingerPollMin and lingerPollMax bound the pause between two checks of
	// the socket's queues while the linger waits (the peer's
	// acknowledgement wakes nobody; its data and its FIN end the pause at
	// once).
	lingerPollMin = time.Millisecond
	lingerPollMax = 20 * time.Millisecond
)

// linger makes closing the socket safe (see above) or gives up at the
// deadline. When the peer acknowledged everything up to close_notify and
// nothing waits unread, it returns at once. Else it half-closes and reads
// and discards the peer's input until everything up to close_notify is
// acknowledged and nothing is unread, the peer's EOF, an error or the
// deadline.
func (t *closeTail) linger() {
	tc, rc := t.tc, t.rc
	sent, unread := -1, -1
	if rc != nil {
		sent, unread = socketQueues(rc, true)
	}
	if unread == 0 && (sent == 0 || t.before == 0) {
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
	if t.before >= 0 && sent >= 0 {
		tail = sent - t.before
	}
	watch := sent >= 0 // the send queue can be watched (Linux)
	bp := lingerBufPool.Get().(*[]byte)
	defer lingerBufPool.Put(bp)
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
		if !now.Before(t.deadline) {
			return
		}
		step := t.deadline
		if watch && unread == 0 && now.Add(poll).Before(t.deadline) {
			step = now.Add(poll)
			poll = min(2*poll, lingerPollMax)
		}
		_ = tc.SetReadDeadline(step)
		if _, err := tc.Read(*bp); err != nil && !isTimeout(err) {
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
