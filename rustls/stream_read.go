// The in half: Read, from the transport to the caller's buffer.
//
// Read takes in.mu and loops: plaintext left over from the last C call
// (spill) is returned first; otherwise, when rustls may hold plaintext or
// the buffered ciphertext completes a TLS record, one C call
// (core.read -> cgo.Conn.Read -> gr_conn_read) feeds the ciphertext to
// rustls (read_tls, process_new_packets) and copies the plaintext out
// (rustls_connection_read) into the caller's buffer, the overflow into
// spill; otherwise it reads the transport (net.Conn.Read, outside any C
// call and without core.mu). So a steady-state Read is one system call
// and one cgo call, and allocates nothing.
//
// The record scanner (inHalf.scan) follows the 5-byte TLS record headers
// in the bytes as they arrive, so that rustls is called only once a
// record is complete: a partial record would cost a C call that yields
// nothing. Input that does not look like TLS records is handed over as it
// comes, for rustls to judge.
//
// End of stream, errors and ordering: close_notify is io.EOF, transport
// EOF without it io.ErrUnexpectedEOF; plaintext decrypted before a bad
// record is delivered before the error; records rustls produces while
// reading (alerts, KeyUpdate answers) are handed to the out half
// (kickFlush) without waiting for a concurrent Write.

package rustls

import (
	"errors"
	"io"
	"net"
	"os"
	"strconv"
	"sync"

	"github.com/gorustls/gorustls/cgo"
)

// inHalf is the receiving side: ciphertext read from the transport and not
// yet handed to rustls sits in buf[start:end]; plaintext that rustls handed
// over beyond the caller's buffer sits in spill[pstart:pend] and is
// returned before anything else.
type inHalf struct {
	mu           sync.Mutex
	buf          []byte
	bufp         *[]byte
	start, end   int
	spill        []byte
	spillp       *[]byte
	pstart, pend int
	eof          bool  // the transport reported EOF
	err          error // sticky error (EOF, truncation, TLS error, transport failure)
	plainEmpty   bool  // rustls holds no plaintext: read the transport first
	// failed is a TLS error that rustls reported together with plaintext
	// decrypted before the bad record: it becomes err once that plaintext
	// is delivered. No more input is handed to rustls meanwhile.
	failed *Error

	// The record scanner follows TLS record boundaries in the ciphertext
	// stream, so that Read hands rustls input only when it completes a
	// record (a partial record would cost a cgo call that yields nothing).
	// Offsets count bytes since the start of the stream.
	received int64   // bytes read from the transport (the offset of buf[end])
	fed      int64   // bytes handed to rustls (the offset of buf[start])
	complete int64   // end of the last complete record received
	hdr      [5]byte // header of the record being received
	hdrN     int     // bytes of hdr received
	bodyLeft int     // body bytes of that record still to come
	bad      bool    // not a plausible record stream: let rustls judge it
}

// maxRecordBody bounds a TLS record's body (2^14 + 2048, RFC 5246 6.2.3).
const maxRecordBody = 16384 + 2048

// scan advances the record scanner over p, the bytes just received.
func (h *inHalf) scan(p []byte) {
	for len(p) > 0 && !h.bad {
		if h.hdrN < len(h.hdr) {
			k := copy(h.hdr[h.hdrN:], p)
			h.hdrN += k
			h.received += int64(k)
			p = p[k:]
			if h.hdrN < len(h.hdr) {
				return
			}
			typ, major := h.hdr[0], h.hdr[1]
			h.bodyLeft = int(h.hdr[3])<<8 | int(h.hdr[4])
			if typ < 20 || typ > 24 || major != 3 || h.bodyLeft > maxRecordBody {
				h.bad = true
				return
			}
		}
		k := min(len(p), h.bodyLeft)
		h.bodyLeft -= k
		h.received += int64(k)
		p = p[k:]
		if h.bodyLeft == 0 {
			h.hdrN = 0
			h.complete = h.received
		}
	}
}

// recordReady reports whether buf[start:end] completes at least one record
// that rustls has not been given in full, or the scanner gave up.
func (h *inHalf) recordReady() bool {
	if h.start == h.end {
		return false
	}
	if h.received != h.fed+int64(h.end-h.start) {
		// Bytes reached buf without fill (a ClientHello reader handing
		// over what it read ahead): the record boundaries are unknown, so
		// always let rustls look.
		h.bad = true
	}
	return h.bad || h.complete > h.fed || (h.start == 0 && h.end == len(h.buf))
}

func (h *inHalf) ensureBuf() {
	if h.buf == nil {
		h.bufp = inPool.Get().(*[]byte)
		h.buf = *h.bufp
	}
}

func (h *inHalf) ensureSpill() {
	if h.spill == nil {
		h.spillp = spillPool.Get().(*[]byte)
		h.spill = *h.spillp
	}
}

// unlockIdle gives empty buffers back to their pools, so that an idle
// stream keeps no Go buffers, and releases the in half.
func (h *inHalf) unlockIdle() {
	h.releaseBuf()
	h.mu.Unlock()
}

// releaseBuf returns the buffers to their pools when they hold nothing.
func (h *inHalf) releaseBuf() {
	if h.bufp != nil && h.start == h.end {
		inPool.Put(h.bufp)
		h.bufp, h.buf = nil, nil
		h.start, h.end = 0, 0
	}
	if h.spillp != nil && h.pstart == h.pend {
		spillPool.Put(h.spillp)
		h.spillp, h.spill = nil, nil
		h.pstart, h.pend = 0, 0
	}
}

// fill reads more ciphertext from the transport into buf. Deadline errors
// are returned as they are and leave the half usable.
func (h *inHalf) fill(conn net.Conn) error {
	h.ensureBuf()
	if h.start == h.end {
		h.start, h.end = 0, 0
	} else if h.end == len(h.buf) {
		h.end = copy(h.buf, h.buf[h.start:h.end])
		h.start = 0
	}
	n, err := conn.Read(h.buf[h.end:])
	h.scan(h.buf[h.end : h.end+n])
	h.end += n
	if err == io.EOF {
		h.eof = true
		return nil
	}
	if err != nil && n > 0 {
		// Process what arrived; the error (if permanent) shows up again.
		return nil
	}
	return err
}

// Read reads decrypted application data into p. It blocks until data, the
// peer's close_notify (io.EOF), truncation (io.ErrUnexpectedEOF), a TLS
// error (*Error) or a transport error. Data decrypted before a record that
// fails comes first; the *Error follows on the next Read without another
// transport read, and is sticky for Read, Write and Flush. Records rustls
// sends in answer (alerts) are sent without waiting for a concurrent Write.
func (s *Stream) Read(p []byte) (int, error) {
	if s.cb.inCallback() {
		return 0, ownCallbackErr("read")
	}
	if err := s.ensureHandshake(); err != nil {
		return 0, err
	}
	if len(p) == 0 {
		return 0, nil
	}
	h := &s.in
	h.mu.Lock()
	defer h.unlockIdle()
	for {
		if h.err != nil {
			return 0, h.err
		}
		if s.closed.Load() {
			return 0, closedErr("read")
		}
		if h.pstart < h.pend {
			n := copy(p, h.spill[h.pstart:h.pend])
			h.pstart += n
			return n, nil
		}
		if h.failed != nil && h.plainEmpty {
			h.err = h.failed
			return 0, h.err
		}
		if !h.plainEmpty || h.eof || h.recordReady() {
			var in []byte
			eof := h.eof && h.failed == nil
			if h.start < h.end && h.failed == nil {
				in = h.buf[h.start:h.end]
			}
			h.ensureSpill()
			r := s.k.read(p, h.spill, in, eof)
			h.start += r.Consumed
			h.fed += int64(r.Consumed)
			h.pstart, h.pend = 0, r.Out
			if r.Flags&cgo.FlagNewOutput != 0 {
				// Records for the peer (an alert, say). Output that was
				// already queued is a writer's to flush.
				s.kickFlush()
			}
			if r.N > 0 {
				h.plainEmpty = r.Flags&cgo.FlagMorePlain == 0
				if r.Result != cgo.ResultOK && r.Result != cgo.ResultPlaintextEmpty && h.failed == nil {
					// Data, then a bad record: deliver the data first. The
					// error is fatal from now on (Write reports it) and
					// the alert rustls queued goes out at once.
					h.failed = s.tlsError("read", r)
				}
				return r.N, nil
			}
			if r.Flags&cgo.FlagCloseNotify != 0 {
				h.err = io.EOF
				return 0, io.EOF
			}
			switch r.Result {
			case cgo.ResultOK, cgo.ResultPlaintextEmpty:
				h.plainEmpty = true
				if h.failed != nil {
					h.err = h.failed
					return 0, h.err
				}
			case cgo.ResultUnexpectedEOF:
				h.err = io.ErrUnexpectedEOF
				return 0, h.err
			case resultClosed:
				return 0, closedErr("read")
			default:
				if h.failed != nil {
					h.err = h.failed
					return 0, h.err
				}
				e := s.tlsError("read", r)
				h.err = e
				return 0, e
			}
			if h.eof {
				// EOF fed yet rustls reported neither close_notify nor
				// truncation: treat as truncation rather than spin.
				h.err = io.ErrUnexpectedEOF
				return 0, h.err
			}
		}
		if err := h.fill(s.conn); err != nil {
			if s.closed.Load() {
				return 0, closedErr("read") // Close's deadline, or the closed transport
			}
			if isTimeout(err) {
				return 0, err
			}
			h.err = &Error{Code: CodeIO, Op: "read", Err: err}
			return 0, h.err
		}
	}
}

// tlsError turns a failed rustls call into an *Error, records it as fatal
// and gets the alert rustls queued sent.
func (s *Stream) tlsError(op string, r cgo.IO) *Error {
	e := &Error{Code: Code(r.Result), Op: op}
	if r.Result == cgo.ResultIO && r.Errno != 0 {
		e.Detail = "errno " + strconv.Itoa(int(r.Errno))
	}
	if cause := s.cb.causes(); cause != nil {
		e.Err = cause
	}
	s.setFatal(e)
	s.kickFlush()
	return e
}

func isTimeout(err error) bool {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// WriteTo copies decrypted data to w until the peer's close_notify (then it
// returns a nil error) or an error, using a pooled buffer. It makes io.Copy
// from a Stream allocation-free. When w is a *Stream, each chunk is flushed
// to it, so that a proxy copying between two Streams never leaves data
// stranded in a buffer while it waits for more.
func (s *Stream) WriteTo(w io.Writer) (int64, error) {
	bp := copyPool.Get().(*[]byte)
	defer copyPool.Put(bp)
	buf := *bp
	dst, _ := w.(*Stream)
	var total int64
	for {
		n, err := s.Read(buf)
		if n > 0 {
			m, werr := w.Write(buf[:n])
			total += int64(m)
			if werr == nil && m < n {
				werr = io.ErrShortWrite
			}
			if werr == nil && dst != nil {
				werr = dst.Flush()
			}
			if werr != nil {
				return total, werr
			}
		}
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}
