package rustls

import (
	"io"
	"net"
	"sync"
	"sync/atomic"

	"github.com/gorustls/gorustls/cgo"
)

// lockable is a sync.Mutex; named so the halves read as in crypto/tls.
type lockable = sync.Mutex

// outHalf is the sending side: ciphertext taken from rustls and not yet
// written to the transport sits in buf[start:end], in order.
type outHalf struct {
	mu         lockable
	buf        []byte
	bufp       *[]byte
	start, end int
	err        error // sticky transport error
	shut       bool  // close_notify sent (CloseWrite or Close)
	needFlush  atomic.Bool
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
	for h.start < h.end {
		n, err := s.conn.Write(h.buf[h.start:h.end])
		h.start += n
		if err != nil {
			if isTimeout(err) {
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
	h.needFlush.Store(false)
	if h.err != nil {
		return h.err
	}
	for {
		if err := s.sendPendingLocked(); err != nil {
			return err
		}
		if !s.k.dirty.Load() {
			return nil
		}
		h.ensureBuf()
		r := s.k.drain(h.buf)
		if r.Result == resultClosed {
			return closedErr("flush")
		}
		h.end = r.Out
		if r.Out == 0 {
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
	s.out.mu.Unlock()
	for s.out.needFlush.Load() && s.out.mu.TryLock() {
		_ = s.flushLocked()
		s.out.mu.Unlock()
	}
}

// Write encrypts p. The ciphertext stays in rustls's buffer until the
// buffer fills (Write then blocks to send it) or until Flush, unless the
// stream is write-through. It returns len(p) unless an error occurs.
func (s *Stream) Write(p []byte) (int, error) {
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
	if h.shut {
		return 0, ErrWriteClosed
	}
	if err := s.fatalErr(); err != nil {
		return 0, err
	}
	h.ensureBuf()
	n := 0
	for len(p) > 0 {
		if h.end == len(h.buf) {
			if err := s.sendPendingLocked(); err != nil {
				return n, err
			}
		}
		r := s.k.write(p, h.buf[h.end:], s.opts.WriteThrough)
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
		if r.N == 0 && r.Out == 0 && h.start == h.end {
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
	if s.opts.WriteThrough {
		if err := s.flushLocked(); err != nil {
			return n, err
		}
	}
	return n, nil
}

// Flush sends all buffered ciphertext to the transport. It is cheap (no C
// call, no system call) when nothing is buffered. After a deadline error,
// Flush may be called again once the deadline is moved.
func (s *Stream) Flush() error {
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
	if h.start == h.end && !s.k.dirty.Load() {
		return nil
	}
	return s.flushLocked()
}

// Buffered reports whether ciphertext is waiting to be sent by Flush.
func (s *Stream) Buffered() bool {
	s.out.mu.Lock()
	defer s.out.mu.Unlock()
	return s.out.start < s.out.end || s.k.dirty.Load()
}

// sendCloseNotifyLocked queues close_notify and sends everything queued.
func (s *Stream) sendCloseNotifyLocked() error {
	h := &s.out
	if err := s.flushLocked(); err != nil {
		return err
	}
	h.ensureBuf()
	r := s.k.closeNotify(h.buf)
	if r.Result == resultClosed {
		return closedErr("close")
	}
	h.shut = true
	h.end = r.Out
	return s.flushLocked()
}

// CloseWrite sends close_notify, flushes, and half-closes the transport
// when it supports that (*net.TCPConn, *net.UnixConn). Reading goes on
// until the peer closes. Later Writes return ErrWriteClosed.
func (s *Stream) CloseWrite() error {
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
	if h.shut {
		s.unlockOut()
		return nil
	}
	err := s.sendCloseNotifyLocked()
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
	if err := s.flushLocked(); err != nil {
		return err
	}
	h.ensureBuf()
	r := s.k.keyUpdate(h.buf)
	switch r.Result {
	case cgo.ResultOK:
	case resultClosed:
		return closedErr("key update")
	default:
		return &Error{Code: Code(r.Result), Op: "key update"}
	}
	h.end = r.Out
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
