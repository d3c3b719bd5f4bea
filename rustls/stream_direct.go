// Direct output and its socket plumbing: the out half's C calls
// (callOut) send ciphertext from rustls's buffers straight to a TCP or
// Unix stream socket (one non-blocking sendmsg per rustls flush, in
// gr_fd_sendv), inside syscall.RawConn.Write. The rules that keep the
// stream in order and the deadline and Close semantics of net.Conn intact
// are in the comment below the imports.

package rustls

import (
	"net"
	"os"
	"syscall"

	"github.com/gorustls/gorustls/cgo"
	"golang.org/x/sys/unix"
)

// Direct output. On a TCP or Unix stream socket the out half does not copy
// every record out of rustls into its Go buffer to write it: the C call that
// hands rustls the plaintext (or drains it) also sends the queued records
// straight from rustls's buffers to the socket, all of them in one
// non-blocking system call (send for one record, sendmsg for several;
// cgo.Conn.Write and Drain given the descriptor). Only when the socket is
// full does the call copy the rest into the Go buffer, and the out half then
// writes that through the net.Conn as on any other transport, which is where
// it blocks, honours the write deadline and sees Close. So a Write still
// costs one C call, no system call blocks under the core mutex, and the
// order of the stream is kept: the fd is passed only when the Go buffer is
// empty, and the C side sends nothing directly after it copied. Like the
// copying calls, one call moves about one Go buffer's worth (outBufSize) and
// the out half calls again for the rest, so a large Write holds the core
// mutex and the descriptor only briefly at a time and Close and Read stay
// responsive.
//
// The C call runs inside syscall.RawConn.Write, which holds the descriptor
// open for its length and first checks the write deadline: when the
// deadline has passed or the transport is closed, the call is made without
// the descriptor (the copying way) and the net.Conn Write reports the
// error, exactly as on the copying path.

// directConn returns the raw connection to send on directly, or nil when
// conn is not a stream socket of the net package.
func directConn(conn net.Conn) syscall.RawConn {
	var rc syscall.RawConn
	var err error
	switch c := conn.(type) {
	case *net.TCPConn:
		rc, err = c.SyscallConn()
	case *net.UnixConn:
		rc, err = c.SyscallConn()
		if err == nil && !isStreamSocket(rc) {
			return nil
		}
	default:
		return nil
	}
	if err != nil {
		return nil
	}
	return rc
}

// isStreamSocket reports whether rc is a SOCK_STREAM socket (a UnixConn may
// be a datagram or seqpacket socket).
func isStreamSocket(rc syscall.RawConn) bool {
	typ := -1
	if err := rc.Control(func(fd uintptr) {
		typ, _ = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_TYPE)
	}); err != nil {
		return false
	}
	return typ == unix.SOCK_STREAM
}

// direct holds the arguments and result of one output call. It lives
// in outHalf (guarded by out.mu) so that a call allocates nothing: step is
// the method value s.directStep, made once per stream.
type direct struct {
	rc   syscall.RawConn
	step func(fd uintptr) bool
	ran  bool // step ran during the latest RawConn.Write

	write bool   // core.write, else core.drain
	p     []byte // write: the plaintext
	drain bool   // write: move everything out
	queue int    // drain: the record to queue first
	res   cgo.IO

	// Bytes sent straight to the socket and bytes copied into the Go buffer
	// by direct calls (the socket was full), and the most one call moved,
	// for tests.
	sent, copied, maxMoved int64
}

// outCall makes the C call d describes, moving ciphertext out to fd
// (cgo.NoFD: by copying only).
func (s *Stream) outCall(fd int) cgo.IO {
	h := &s.out
	d := &h.d
	if d.write {
		return s.k.write(d.p, fd, h.buf[h.end:], d.drain, h.closing)
	}
	return s.k.drain(fd, h.buf[h.end:], d.queue, h.closing)
}

// directStep is the RawConn.Write callback: one C call, never a wait (the
// C side copies what the socket does not take).
func (s *Stream) directStep(fd uintptr) bool {
	d := &s.out.d
	d.ran = true
	d.res = s.outCall(int(fd))
	return true
}

// canSendDirect reports whether the next C call may send to the socket:
// a stream socket, and nothing in the Go buffer (or Close's spool)
// waiting to go first.
func (h *outHalf) canSendDirect() bool {
	return h.d.rc != nil && h.start == h.end && len(h.spool) == 0
}

// callOut makes one C call that moves ciphertext out: with the socket's
// descriptor when the out half may send directly and RawConn.Write lets
// it (no past write deadline, transport open), else by copying into
// buf[end:] (the caller then writes that through the net.Conn, which
// reports the deadline or the closed transport). Called with out.mu held
// and the buffer in hand.
func (s *Stream) callOut(write bool, p []byte, drain bool, queue int) cgo.IO {
	h := &s.out
	d := &h.d
	d.write, d.p, d.drain, d.queue = write, p, drain, queue
	r, direct := cgo.IO{}, false
	if h.canSendDirect() {
		h.start, h.end = 0, 0
		d.ran = false
		_ = d.rc.Write(d.step) // its only errors are the ones that stop step from running
		r, direct = d.res, d.ran
	}
	if direct {
		d.sent += int64(r.Consumed)
		d.copied += int64(r.Out)
		d.maxMoved = max(d.maxMoved, int64(r.Consumed)+int64(r.Out))
	} else {
		r = s.outCall(cgo.NoFD)
	}
	d.p = nil
	return r
}

// writeOut hands p to rustls and moves out the ciphertext it makes room
// for (all of it with drain). Called with out.mu held and the buffer in
// hand.
func (s *Stream) writeOut(p []byte, drain bool) cgo.IO {
	return s.callOut(true, p, drain, cgo.QueueNone)
}

// moveOut queues the record queue names (cgo.QueueNone: nothing) and moves
// out everything rustls holds, as writeOut does. Called with out.mu held,
// the buffer in hand and empty.
func (s *Stream) moveOut(queue int) cgo.IO {
	return s.callOut(false, nil, false, queue)
}

// sendErrnoLocked records a failed direct send as the out half's sticky
// transport error, worded as a failed net.Conn Write would be.
func (s *Stream) sendErrnoLocked(errno int32) error {
	h := &s.out
	var err error = &net.OpError{Op: "write", Net: s.conn.LocalAddr().Network(),
		Source: s.conn.LocalAddr(), Addr: s.conn.RemoteAddr(),
		Err: os.NewSyscallError("sendmsg", unix.Errno(errno))}
	if s.closed.Load() {
		err = net.ErrClosed
	}
	h.err = &Error{Code: CodeIO, Op: "write", Err: err}
	return h.err
}
