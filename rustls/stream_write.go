// The out half: Write, Flush, CloseWrite, KeyUpdate and ReadFrom, from the
// caller's bytes to the transport.
//
// Write takes out.mu. Unless the stream is write-through, a write smaller
// than one record (16 KiB) is gathered into a Go buffer (no C call at all)
// until a record is full or the caller flushes; a larger one, or a full
// gathered record, goes to rustls in one C call (core.write ->
// cgo.Conn.Write -> gr_conn_write: rustls_connection_write, plus
// write_tls when rustls's buffer fills or the write flushes), or in one
// per about 80 KiB moved when it is larger than rustls's buffer. On a TCP or Unix socket that same C call sends the
// ciphertext straight to the socket with a non-blocking sendmsg
// (stream_direct.go); only what the socket refuses is copied into the Go
// buffer (buf[start:end]) and written through net.Conn.Write, where the
// write blocks, honours the deadline and sees Close, without core.mu. On
// other transports the ciphertext is always copied out and written that
// way.
//
// The count a Write returns is exactly what will reach the peer: bytes
// are counted when gathered or taken by rustls, and their ciphertext
// stays queued in order across deadlines until a later Write, Flush or
// Close sends it. Records the read path produced (alerts, KeyUpdate
// answers) are sent by whoever holds the out half next (unlockOut).

package rustls

import (
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gorustls/gorustls/cgo"
)

// outHalf is the sending side: ciphertext taken from rustls and not yet
// written to the transport sits in buf[start:end], in order.
type outHalf struct {
	mu         sync.Mutex
	buf        []byte
	bufp       *[]byte
	start, end int
	err        error // sticky transport error
	shut       bool  // close_notify queued (CloseWrite or Close)
	shutting   bool  // CloseWrite was called: no more Writes, even if it timed out before close_notify was queued
	// closing is set by Close while it sends close_notify: its C calls
	// then give up (as closed) rather than wait for the core mutex behind
	// a user callback of this connection (core.lockPatient).
	closing   bool
	needFlush atomic.Bool

	// spooling is set by Close on TCP while it queues close_notify: what
	// the socket does not take at once (one non-blocking write) goes to
	// spool, in order, instead of blocking on a peer that does not read;
	// Close hands the spool to its background part (stream_close.go).
	spooling bool
	spool    []byte
	spoolRC  syscall.RawConn // the socket, for spoolPendingLocked's one try

	// Small writes are gathered here into one full TLS record of plaintext
	// before rustls sees them, so 1 KiB writes cost no C call and make 16
	// KiB records instead of 1 KiB ones. Flush (and anything that sends)
	// hands the gathered bytes to rustls first.
	plain  []byte
	plainp *[]byte
	plen   int

	// d is set on stream sockets: rustls then sends its records straight
	// to the socket while it takes them (see stream_direct.go).
	d direct
}

// gatherSize is one TLS record's worth of plaintext.
const gatherSize = 16 << 10

var gatherPool = sync.Pool{New: func() any { b := make([]byte, gatherSize); return &b }}

// releaseIdle gives the buffers back to their pools when they hold nothing,
// so that an idle stream keeps no Go buffers.
func (h *outHalf) releaseIdle() {
	h.releaseBuf()
	if h.plainp != nil && h.plen == 0 {
		gatherPool.Put(h.plainp)
		h.plainp, h.plain = nil, nil
	}
}

func (h *outHalf) ensureBuf() {
	if h.buf == nil {
		h.bufp = outPool.Get().(*[]byte)
		h.buf = *h.bufp
	}
}

func (h *outHalf) releaseBuf() {
	if h.bufp != nil && h.start == h.end {
		outPool.Put(h.bufp)
		h.bufp, h.buf = nil, nil
		h.start, h.end = 0, 0
	}
}

// sendPending writes buf[start:end] to the transport. On a deadline the
// unsent rest stays queued; any other error is sticky.
func (s *Stream) sendPendingLocked() error {
	h := &s.out
	if h.spooling {
		return s.spoolPendingLocked()
	}
	for h.start < h.end {
		n, err := s.conn.Write(h.buf[h.start:h.end])
		h.start += n
		if err != nil {
			if isTimeout(err) {
				if s.closed.Load() {
					// Close made this write give up (a past deadline):
					// the rest stays queued for Close to send.
					return closedErr("write")
				}
				return err
			}
			if s.closed.Load() {
				err = net.ErrClosed
			}
			h.err = &Error{Code: CodeIO, Op: "write", Err: err}
			return h.err
		}
	}
	h.start, h.end = 0, 0
	return nil
}

// flushLocked sends everything rustls has queued. Called with out.mu held.
func (s *Stream) flushLocked() error {
	h := &s.out
	if h.needFlush.Load() {
		// Only when set: a plain load costs less than the exchange a store
		// is, on every Write of a write-through stream. A kick that comes
		// after the load is served by unlockOut.
		h.needFlush.Store(false)
	}
	if h.err != nil {
		return h.err
	}
	if h.plen > 0 {
		// Hand the gathered plaintext over and drain in the same C call.
		if err := s.pushGatheredLocked(true); err != nil {
			return err
		}
	}
	for {
		if err := s.sendPendingLocked(); err != nil {
			return err
		}
		if !s.k.dirty.Load() {
			return nil
		}
		h.ensureBuf()
		r := s.moveOut(cgo.QueueNone)
		if r.Result == resultClosed {
			return closedErr("flush")
		}
		if r.Errno != 0 {
			return s.sendErrnoLocked(r.Errno)
		}
		h.end = r.Out
		if r.Out == 0 && r.Consumed == 0 {
			return nil
		}
	}
}

// kickFlush gets records that the read path produced (alerts, KeyUpdate
// replies) sent: at once if no writer holds the out half, else by that
// writer before it lets go (see unlockOut).
func (s *Stream) kickFlush() {
	s.out.needFlush.Store(true)
	if s.out.mu.TryLock() {
		_ = s.flushLocked()
		s.unlockOut()
	}
}

// unlockOut releases the out half, first serving a flush requested by the
// read path while it was held.
func (s *Stream) unlockOut() {
	s.out.releaseIdle()
	s.out.mu.Unlock()
	for s.out.needFlush.Load() && s.out.mu.TryLock() {
		_ = s.flushLocked()
		s.out.releaseIdle()
		s.out.mu.Unlock()
	}
}

// Write encrypts p. The ciphertext stays in rustls's buffer until the
// buffer fills (Write then blocks to send it) or until Flush, unless the
// stream is write-through. Writes smaller than one TLS record (16 KiB) are
// first gathered into a full record, so many small writes followed by Flush
// cost few C calls and few records. It returns len(p) unless an error
// occurs.
//
// The count is what the stream took, and all of it reaches the peer in
// order, however the call ends, as long as the transport lives: a Write
// whose write deadline has already passed takes nothing (0 and a timeout,
// as net.Conn); one whose deadline fires while it sends counts the bytes
// rustls took, and their ciphertext not yet sent stays queued and goes out
// first with the next Write, Flush or Close (the stream stays usable,
// unlike crypto/tls's). After a fatal TLS error or a transport failure,
// Write returns that error and takes nothing.
func (s *Stream) Write(p []byte) (int, error) {
	if s.cb.inCallback() {
		return 0, ownCallbackErr("write")
	}
	if err := s.ensureHandshake(); err != nil {
		return 0, err
	}
	s.activeWrites.Add(1)
	defer s.activeWrites.Add(-1)
	if s.closed.Load() {
		return 0, closedErr("write")
	}
	h := &s.out
	h.mu.Lock()
	defer s.unlockOut()
	if h.err != nil {
		return 0, h.err
	}
	if h.shut || h.shutting {
		return 0, ErrWriteClosed
	}
	if err := s.fatalErr(); err != nil {
		return 0, err
	}
	if err := s.pastWriteDeadline("write"); err != nil {
		return 0, err
	}
	if !s.opts.WriteThrough && len(p) < gatherSize {
		return s.gatherLocked(p)
	}
	if h.plen > 0 {
		if err := s.pushGatheredLocked(false); err != nil {
			return 0, err
		}
	}
	n, err := s.encryptLocked(p, s.opts.WriteThrough)
	if err != nil {
		return n, err
	}
	if s.opts.WriteThrough {
		if err := s.flushLocked(); err != nil {
			return n, err
		}
	}
	return n, nil
}

// gatherLocked copies a small write into the gather buffer, handing a full
// record to rustls whenever the buffer fills. The bytes count as written
// once copied: an error while handing them on (a deadline while sending
// the ciphertext it pushed out) leaves them queued, not lost.
func (s *Stream) gatherLocked(p []byte) (int, error) {
	h := &s.out
	if h.plain == nil {
		h.plainp = gatherPool.Get().(*[]byte)
		h.plain = *h.plainp
	}
	n := 0
	for len(p) > 0 {
		k := copy(h.plain[h.plen:], p)
		h.plen += k
		n += k
		p = p[k:]
		if h.plen == len(h.plain) {
			if err := s.pushGatheredLocked(false); err != nil {
				return n, err
			}
		}
	}
	return n, nil
}

// pushGatheredLocked hands the gathered plaintext to rustls (and, with
// drain, moves the ciphertext out in the same C call).
func (s *Stream) pushGatheredLocked(drain bool) error {
	h := &s.out
	m, err := s.encryptLocked(h.plain[:h.plen], drain)
	if m < h.plen {
		copy(h.plain, h.plain[m:h.plen])
	}
	h.plen -= m
	return err
}

// encryptLocked hands p to rustls; ciphertext that rustls moves out (its
// buffer is full, or drain is set) is sent before returning.
func (s *Stream) encryptLocked(p []byte, drain bool) (int, error) {
	h := &s.out
	h.ensureBuf()
	n := 0
	for len(p) > 0 {
		if h.end == len(h.buf) {
			if err := s.sendPendingLocked(); err != nil {
				return n, err
			}
		}
		r := s.writeOut(p, drain)
		switch r.Result {
		case cgo.ResultOK:
		case resultClosed:
			return n, closedErr("write")
		default:
			return n, s.tlsError("write", r)
		}
		h.end += r.Out
		n += r.N
		p = p[r.N:]
		if r.Errno != 0 {
			return n, s.sendErrnoLocked(r.Errno)
		}
		if r.N == 0 && r.Out == 0 && r.Consumed == 0 && h.start == h.end {
			return n, &Error{Code: CodeGeneral, Op: "write", Detail: "rustls accepted no data and queued none"}
		}
	}
	// Ciphertext moved out of rustls means its buffer filled (or the stream
	// is write-through): send it now.
	if h.end > h.start {
		if err := s.sendPendingLocked(); err != nil {
			return n, err
		}
	}
	return n, nil
}

// Flush sends all buffered ciphertext to the transport. It is cheap (no C
// call, no system call) when nothing is buffered. After a deadline error,
// Flush may be called again once the deadline is moved. After a fatal TLS
// error (a bad record received, say) it returns that error.
func (s *Stream) Flush() error {
	if s.cb.inCallback() {
		return ownCallbackErr("flush")
	}
	if !s.hsDone.Load() {
		if err := s.ensureHandshake(); err != nil {
			return err
		}
	}
	// Counted as a write: Close then closes at once instead of waiting
	// for a Flush that is stuck on a peer that does not read.
	s.activeWrites.Add(1)
	defer s.activeWrites.Add(-1)
	if s.closed.Load() {
		return closedErr("flush")
	}
	h := &s.out
	h.mu.Lock()
	defer s.unlockOut()
	if h.err != nil {
		return h.err
	}
	if err := s.fatalErr(); err != nil {
		return err // the alert went out when the error was seen
	}
	if h.start == h.end && h.plen == 0 && !s.k.dirty.Load() {
		return nil
	}
	return s.flushLocked()
}

// Buffered reports whether ciphertext is waiting to be sent by Flush. Like
// every holder of the out half, it sends on its way out the records the
// read path queued while it held it (an alert, a KeyUpdate reply).
func (s *Stream) Buffered() bool {
	if s.cb.inCallback() {
		// This goroutine holds the core mutex, which a writer holding the
		// out half may be waiting for: never wait for the out half here,
		// and no flush on the way out. A writer at work means data in
		// flight.
		if !s.out.mu.TryLock() {
			return true
		}
		defer s.out.mu.Unlock()
		return s.out.start < s.out.end || s.out.plen > 0 || s.k.dirty.Load()
	}
	s.out.mu.Lock()
	defer s.unlockOut()
	if testHookBuffered != nil {
		testHookBuffered()
	}
	return s.out.start < s.out.end || s.out.plen > 0 || s.k.dirty.Load()
}

// testHookBuffered, when set by a test, runs inside Buffered while it holds
// the out half.
var testHookBuffered func()

// pastWriteDeadline returns the error net.Conn gives a write whose
// deadline has passed (a timeout wrapping os.ErrDeadlineExceeded), or nil.
// Calls that would queue records check it first, so that such a call takes
// nothing and queues nothing.
func (s *Stream) pastWriteDeadline(op string) error {
	dl := s.writeDeadline.Load()
	if dl == 0 || time.Now().UnixNano() < dl {
		return nil
	}
	la := s.conn.LocalAddr()
	return &net.OpError{Op: op, Net: la.Network(), Source: la, Addr: s.conn.RemoteAddr(), Err: os.ErrDeadlineExceeded}
}

// sendCloseNotifyLocked queues close_notify and sends everything queued.
func (s *Stream) sendCloseNotifyLocked() error {
	h := &s.out
	if err := s.flushLocked(); err != nil {
		return err
	}
	h.ensureBuf()
	r := s.moveOut(cgo.QueueCloseNotify)
	if r.Result == resultClosed {
		return closedErr("close")
	}
	h.shut = true
	if r.Errno != 0 {
		return s.sendErrnoLocked(r.Errno)
	}
	h.end = r.Out
	return s.flushLocked()
}

// CloseWrite sends close_notify, flushes, and half-closes the transport
// when it supports that (*net.TCPConn, *net.UnixConn). Reading goes on
// until the peer closes. Later Writes return ErrWriteClosed.
//
// Like Close, CloseWrite is bounded by StreamOptions.CloseTimeout (and by
// the write deadline, when that comes first): against a peer that has
// stopped reading it returns a timeout error (wrapping
// os.ErrDeadlineExceeded) once the bound has passed. What was not sent
// stays queued, close_notify included: a later CloseWrite, Flush or Close
// sends it first, and the transport is half-closed only once everything
// went out.
func (s *Stream) CloseWrite() error {
	if s.cb.inCallback() {
		return ownCallbackErr("close write")
	}
	if err := s.ensureHandshake(); err != nil {
		return err
	}
	s.activeWrites.Add(1)
	defer s.activeWrites.Add(-1)
	if s.closed.Load() {
		return closedErr("close write")
	}
	h := &s.out
	h.mu.Lock()
	if h.err != nil {
		err := h.err
		s.unlockOut()
		return err
	}
	if h.shut && h.start == h.end && !s.k.dirty.Load() {
		s.unlockOut()
		return nil // sent and half-closed by an earlier CloseWrite
	}
	if err := s.pastWriteDeadline("close write"); err != nil {
		s.unlockOut()
		return err
	}
	h.shutting = true
	s.boundWrites(time.Now().Add(s.opts.CloseTimeout))
	var err error
	if h.shut {
		err = s.flushLocked() // an earlier CloseWrite timed out
	} else {
		err = s.sendCloseNotifyLocked()
	}
	s.unboundWrites()
	s.unlockOut()
	if err != nil {
		return err
	}
	if cw, ok := s.conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// KeyUpdate sends a TLS 1.3 KeyUpdate (asking the peer to update too) and
// flushes. It fails on TLS 1.2.
func (s *Stream) KeyUpdate() error {
	if s.cb.inCallback() {
		return ownCallbackErr("key update")
	}
	if err := s.ensureHandshake(); err != nil {
		return err
	}
	s.activeWrites.Add(1)
	defer s.activeWrites.Add(-1)
	if s.closed.Load() {
		return closedErr("key update")
	}
	h := &s.out
	h.mu.Lock()
	defer s.unlockOut()
	if h.err != nil {
		return h.err
	}
	if err := s.pastWriteDeadline("key update"); err != nil {
		return err
	}
	if err := s.flushLocked(); err != nil {
		return err
	}
	h.ensureBuf()
	r := s.moveOut(cgo.QueueKeyUpdate)
	if r.Result == resultClosed {
		return closedErr("key update")
	}
	// Whatever the call moved out (records the read path queued) stays
	// queued in order, even when the KeyUpdate itself was refused.
	h.end = r.Out
	if r.Errno != 0 {
		return s.sendErrnoLocked(r.Errno)
	}
	if r.Result != cgo.ResultOK {
		_ = s.flushLocked() // send what the call moved out; the refusal is the error
		return &Error{Code: Code(r.Result), Op: "key update"}
	}
	return s.flushLocked()
}

// ReadFrom reads r until io.EOF or an error and writes what it reads, using
// a pooled buffer, so that io.Copy into a Stream needs no allocation. It
// flushes whenever r returns a short read (r has nothing more at hand, as a
// network source waiting for its peer) and once at the end, so that nothing
// copied stays buffered; a source that keeps filling the buffer (a file) is
// sent in large batches.
func (s *Stream) ReadFrom(r io.Reader) (int64, error) {
	bp := copyPool.Get().(*[]byte)
	defer copyPool.Put(bp)
	buf := *bp
	var total int64
	for {
		n, rerr := r.Read(buf)
		if n > 0 {
			m, werr := s.Write(buf[:n])
			total += int64(m)
			if werr == nil && n < len(buf) {
				werr = s.Flush()
			}
			if werr != nil {
				return total, werr
			}
		}
		if rerr != nil {
			ferr := s.Flush()
			if rerr == io.EOF {
				return total, ferr
			}
			return total, rerr
		}
	}
}
