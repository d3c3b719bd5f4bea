package rustls

import (
	"context"
	"net"

	"github.com/gorustls/gorustls/cgo"
)

// Acceptor runs server handshakes with one ServerConfig (tokio-rustls's
// TlsAcceptor). It is safe for concurrent use.
//
// Buffering: its Streams follow StreamOptions.WriteThrough, buffered until
// Flush by default. Everything that hands a Stream to generic net.Conn code (Listener,
// LazyListener, Dialer, Dial, DialContext) makes it write-through;
// Acceptor, LazyAcceptor, Connector and StartHandshake.IntoStream follow
// StreamOptions.WriteThrough (false: Writes stay buffered until Flush).
type Acceptor struct {
	cfg  *ServerConfig
	opts StreamOptions
}

// NewAcceptor returns an Acceptor for cfg. The Acceptor does not own cfg:
// closing cfg makes later accepts fail.
func NewAcceptor(cfg *ServerConfig, opts StreamOptions) *Acceptor {
	return &Acceptor{cfg: cfg, opts: opts}
}

// Config returns the acceptor's server config.
func (a *Acceptor) Config() *ServerConfig { return a.cfg }

// Accept runs the server handshake over conn and returns the Stream once it
// completes. ctx bounds the handshake, a wait for a stuck callback
// included (see Stream.HandshakeContext). On failure conn is closed (after
// rustls's alert is sent) and the error is returned; the Stream owns conn on
// success.
func (a *Acceptor) Accept(ctx context.Context, conn net.Conn) (*Stream, error) {
	s, err := a.AcceptFallible(ctx, conn)
	if err != nil {
		closeConn(conn)
		return nil, err
	}
	return s, nil
}

// AcceptFallible is Accept that hands conn back, open, when the handshake
// fails (tokio-rustls's FallibleAccept): for example to answer a plaintext
// HTTP request on a TLS port. The bytes rustls consumed are gone; whatever
// rustls wanted to send (an alert) has been sent.
func (a *Acceptor) AcceptFallible(ctx context.Context, conn net.Conn) (*Stream, error) {
	if ctx == nil {
		return nil, inputErr("accept", "nil context.Context")
	}
	s, err := a.Server(conn)
	if err != nil {
		return nil, err
	}
	if err := s.HandshakeContext(ctx); err != nil {
		s.release()
		return nil, err
	}
	return s, nil
}

// Server wraps conn in a server Stream without running the handshake; it
// runs on first I/O or on an explicit Handshake (both bounded by
// StreamOptions.HandshakeTimeout) or HandshakeContext. A nil or closed config, or a nil conn, is an *Error
// matching ErrInvalidInput.
//
// On success the Stream owns conn (its Close closes conn); on error conn
// is left open for the caller. Server does no I/O and does not block.
func (a *Acceptor) Server(conn net.Conn) (*Stream, error) {
	if a == nil {
		return nil, inputErr("accept", "nil Acceptor")
	}
	return newServerStream(a.cfg, conn, a.opts, nil)
}

// newServerStream makes a server Stream from cfg, or from an accepted
// ClientHello when acc is set.
func newServerStream(cfg *ServerConfig, conn net.Conn, opts StreamOptions, intoConn func(*cgo.ServerConfig) (*cgo.Conn, error)) (*Stream, error) {
	if err := cfg.check("accept"); err != nil {
		return nil, err
	}
	var c *cgo.Conn
	err := cfg.life.acquire(func() error {
		// After the closed check: a closed config is the error to report.
		if err := checkConn("accept", conn); err != nil {
			return err
		}
		var err error
		if intoConn != nil {
			c, err = intoConn(cfg.c)
		} else {
			c, err = cgo.NewServerConn(cfg.c)
		}
		return fromCgo(err)
	})
	if err != nil {
		return nil, err
	}
	cb := &connCallbacks{logger: opts.Logger, store: cfg.store, getCert: cfg.getCert, conn: conn}
	if ps, ok := cfg.store.(*policyStore); ok && ps.internal() {
		cb.storeInternal = true
	}
	cb.userCode = cb.logger != nil || cb.store != nil && !cb.storeInternal || cb.getCert != nil || cfg.life.userCode()
	k := newCore(c, cb, cfg.life, true)
	k.clientAuth = cfg.clientAuth
	if opts.Logger != nil {
		c.EnableLog()
	}
	return newStream(conn, k, cb, true, "", opts), nil
}
