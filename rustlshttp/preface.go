package rustlshttp

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"time"

	"github.com/gorustls/gorustls/rustls"
	"golang.org/x/net/http2"
)

// readPreface reads the HTTP/2 client preface from st, a connection that
// negotiated "h2", before net/http sees the connection: net/http would
// otherwise serve a connection without the preface as HTTP/1 and answer
// some requests itself (OPTIONS *, error pages) before any handler could
// refuse them. It returns the preface, for the connection to replay to
// net/http's HTTP/2 server. It returns nil, having closed st and sent
// nothing, when the client sends anything else, sends no preface within
// the preface timeout (the handshake timeout, or HTTP1's read-header
// timeout when shorter) or ctx ends (the listener closed).
func (s *Server) readPreface(ctx context.Context, st *rustls.Stream) []byte {
	stop := context.AfterFunc(ctx, func() { _ = st.Close() })
	defer stop()
	buf, err := readExpected(st, http2.ClientPreface, s.snap.preface)
	if err == nil && stop() {
		if err = st.SetReadDeadline(time.Time{}); err == nil {
			return buf
		}
	}
	_ = st.Close()
	if ctx.Err() != nil {
		return nil
	}
	if errors.Is(err, errNotPreface) {
		s.log(slog.LevelInfo, "rustlshttp: client negotiated h2 but did not send the HTTP/2 client preface; closing the connection", st.RemoteAddr())
	} else {
		s.log(slog.LevelInfo, "rustlshttp: client negotiated h2 but sent no HTTP/2 client preface", st.RemoteAddr(),
			slog.Duration("timeout", s.snap.preface), slog.Any("error", err))
	}
	return nil
}

// errNotPreface is readExpected's error for bytes other than those wanted.
var errNotPreface = errors.New("not the expected bytes")

// readExpected reads exactly len(want) bytes from c within timeout and
// returns them if they are want. It fails at the first byte that differs
// (errNotPreface) and never reads beyond len(want).
func readExpected(c net.Conn, want string, timeout time.Duration) ([]byte, error) {
	if err := c.SetReadDeadline(time.Now().Add(timeout)); err != nil {
		return nil, err
	}
	buf := make([]byte, len(want))
	for n := 0; n < len(buf); {
		m, err := c.Read(buf[n:])
		if string(buf[n:n+m]) != want[n:n+m] {
			return nil, errNotPreface
		}
		n += m
		if err != nil {
			return nil, err
		}
	}
	return buf, nil
}
