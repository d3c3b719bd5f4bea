package rustlshttp

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/gorustls/gorustls/rustls"
)

// h2ServerConn is a connection that negotiated "h2", as net/http gets it,
// once the listener has read and checked the client preface (see
// readPreface). It has no ConnectionState method on purpose: net/http then
// treats it as an unencrypted connection and, with UnencryptedHTTP2
// enabled, serves it with its HTTP/2 server once it has read the client
// preface, which Read replays first. The handler wrapper puts the TLS state
// back into each request, and the hooks the user set see the Stream
// instead.
type h2ServerConn struct {
	st    *rustls.Stream
	state *tls.ConnectionState // shared by the connection's requests, as in net/http
	// pre is what is left to replay of the preface read from st. Only
	// net/http's connection goroutine reads it, before it starts the
	// HTTP/2 server's reader.
	pre []byte
}

// Read returns the rest of the replayed preface, then reads st.
func (c *h2ServerConn) Read(p []byte) (int, error) {
	if len(c.pre) > 0 {
		n := copy(p, c.pre)
		c.pre = c.pre[n:]
		return n, nil
	}
	return c.st.Read(p)
}

func (c *h2ServerConn) Write(p []byte) (int, error)        { return c.st.Write(p) }
func (c *h2ServerConn) Close() error                       { return c.st.Close() }
func (c *h2ServerConn) CloseWrite() error                  { return c.st.CloseWrite() }
func (c *h2ServerConn) LocalAddr() net.Addr                { return c.st.LocalAddr() }
func (c *h2ServerConn) RemoteAddr() net.Addr               { return c.st.RemoteAddr() }
func (c *h2ServerConn) SetDeadline(t time.Time) error      { return c.st.SetDeadline(t) }
func (c *h2ServerConn) SetReadDeadline(t time.Time) error  { return c.st.SetReadDeadline(t) }
func (c *h2ServerConn) SetWriteDeadline(t time.Time) error { return c.st.SetWriteDeadline(t) }

// userConn is the connection as user hooks see it: always the Stream.
func userConn(c net.Conn) net.Conn {
	if h, ok := c.(*h2ServerConn); ok {
		return h.st
	}
	return c
}

// connKey holds the connection (a Stream or an h2ServerConn) in its context.
type connKey struct{}

// serverHandler is the net/http server's Handler: it fills Request.TLS on
// HTTP/2 and calls Server.Handler.
type serverHandler struct{ s *Server }

func (h serverHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.TLS == nil {
		c, _ := r.Context().Value(connKey{}).(*h2ServerConn)
		if c == nil || r.ProtoMajor != 2 {
			// Cannot happen: an h2 connection reaches net/http only after
			// its HTTP/2 preface, so net/http serves it as HTTP/2. Should
			// it serve HTTP/1 anyway, drop the connection.
			panic(http.ErrAbortHandler)
		}
		r.TLS = c.state
	}
	h.s.snap.handler.ServeHTTP(w, r)
}

// connContext wraps HTTP1.ConnContext (nil: none): it calls user with the
// Stream and records the connection in the context user returns (so that
// a context not derived from ctx still works). A panic or a nil context
// closes the connection.
func (s *Server) connContext(user func(context.Context, net.Conn) context.Context) func(context.Context, net.Conn) context.Context {
	return func(ctx context.Context, c net.Conn) context.Context {
		if user != nil {
			var out context.Context
			switch {
			case !s.protect("HTTP1.ConnContext", c.RemoteAddr(), func() { out = user(ctx, userConn(c)) }):
				_ = c.Close()
			case out == nil:
				s.log(slog.LevelError, "rustlshttp: HTTP1.ConnContext returned a nil context; closing the connection", c.RemoteAddr())
				_ = c.Close()
			default:
				ctx = out
			}
		}
		return context.WithValue(ctx, connKey{}, c)
	}
}

// connState wraps HTTP1.ConnState (nil: none): user sees the Stream; a
// panic closes the connection.
func (s *Server) connState(user func(net.Conn, http.ConnState)) func(net.Conn, http.ConnState) {
	if user == nil {
		return nil
	}
	return func(c net.Conn, state http.ConnState) {
		if !s.protect("HTTP1.ConnState", c.RemoteAddr(), func() { user(userConn(c), state) }) {
			_ = c.Close()
		}
	}
}
