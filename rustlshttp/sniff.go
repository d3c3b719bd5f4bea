package rustlshttp

import (
	"context"
	"errors"
	"net"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// errNotPeekable: the connection is not a socket the server can peek at.
var errNotPeekable = errors.New("rustlshttp: cannot peek at this connection")

// peekPlaintext waits for the client's first bytes on a socket and reports
// whether they look like a plaintext HTTP request, without taking them
// from the socket (MSG_PEEK): the TLS handshake then runs on the bare
// connection, so that the Stream uses its socket fast paths (direct
// output, and Close's wait for the peer) that a wrapper would hide from
// it. The wait ends with ctx. errNotPeekable means raw is not a socket of
// the net package (*net.TCPConn, *net.UnixConn): the caller sniffs
// through a sniffConn instead. Any other error (EOF, a reset,
// ctx) is the handshake's to report.
func peekPlaintext(ctx context.Context, raw net.Conn) (bool, error) {
	// Only the net package's own sockets: a wrapper that embeds one is a
	// syscall.Conn too, but its Read may serve bytes it already took
	// from the socket (a buffered reader, a PROXY header parser), which
	// a peek at the socket would never see.
	var sc syscall.Conn
	switch c := raw.(type) {
	case *net.TCPConn:
		sc = c
	case *net.UnixConn:
		sc = c
	default:
		return false, errNotPeekable
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false, errNotPeekable
	}
	stop := context.AfterFunc(ctx, func() { _ = raw.SetReadDeadline(time.Unix(1, 0)) })
	var head [4]byte
	n := 0
	var perr error
	err = rc.Read(func(fd uintptr) bool {
		m, _, e := unix.Recvfrom(int(fd), head[:], unix.MSG_PEEK)
		switch {
		case e == unix.EAGAIN || e == unix.EINTR:
			return false
		case e != nil:
			perr = e
			return true
		}
		n = m
		// Fewer than four bytes: wait for more (a new arrival wakes us;
		// what is there stays), unless they already rule a request line
		// out (a TLS record starts with 0x16) or the client has shut its
		// side (no more can come: the handshake reports that EOF at once).
		return m == 0 || m == len(head) || !httpPrefix(head[:m]) || peerShut(int(fd))
	})
	if !stop() {
		return false, ctx.Err()
	}
	if err == nil {
		err = perr
	}
	if err != nil {
		return false, err
	}
	return looksLikeHTTP(head[:n]), nil
}

// sniffConn watches the first bytes a client sends. When they look like a
// plaintext HTTP request it swallows whatever the TLS side wants to write
// (an alert), so that the server can answer in plain HTTP instead.
type sniffConn struct {
	net.Conn
	head  [5]byte
	n     int // bytes of head filled (only touched by the reading goroutine)
	plain atomic.Bool
}

func (c *sniffConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if c.n < len(c.head) && n > 0 {
		c.n += copy(c.head[c.n:], p[:n])
		if looksLikeHTTP(c.head[:c.n]) {
			c.plain.Store(true)
		}
	}
	return n, err
}

func (c *sniffConn) Write(p []byte) (int, error) {
	if c.plain.Load() {
		return len(p), nil
	}
	return c.Conn.Write(p)
}

// CloseWrite half-closes the transport when it can (*net.TCPConn does).
func (c *sniffConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// httpMethods are the four first bytes of the request lines looksLikeHTTP
// recognizes.
var httpMethods = [...]string{"GET ", "HEAD", "POST", "PUT ", "DELE", "OPTI", "PATC", "CONN", "TRAC", "PRI "}

// looksLikeHTTP reports whether b starts like an HTTP/1 request line: a
// TLS record starts with a content type byte of 20-24, never a letter.
func looksLikeHTTP(b []byte) bool {
	if len(b) < 4 {
		return false
	}
	for _, m := range httpMethods {
		if string(b[:4]) == m {
			return true
		}
	}
	return false
}

// httpPrefix reports whether b (shorter than four bytes) could still grow
// into a request line that looksLikeHTTP accepts.
func httpPrefix(b []byte) bool {
	for _, m := range httpMethods {
		if len(b) <= len(m) && m[:len(b)] == string(b) {
			return true
		}
	}
	return false
}

// plaintextAnswer is what a plaintext HTTP client gets on a TLS port.
const plaintextAnswer = "HTTP/1.0 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\nClient sent an HTTP request to an HTTPS server.\n"
