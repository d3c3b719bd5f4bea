package rustlshttp

import (
	"net"
	"sync/atomic"
)

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

// looksLikeHTTP reports whether b starts like an HTTP/1 request line: a
// TLS record starts with a content type byte of 20-24, never a letter.
func looksLikeHTTP(b []byte) bool {
	if len(b) < 4 {
		return false
	}
	for _, m := range []string{"GET ", "HEAD", "POST", "PUT ", "DELE", "OPTI", "PATC", "CONN", "TRAC", "PRI "} {
		if string(b[:4]) == m {
			return true
		}
	}
	return false
}

// plaintextAnswer is what a plaintext HTTP client gets on a TLS port.
const plaintextAnswer = "HTTP/1.0 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\nClient sent an HTTP request to an HTTPS server.\n"
