package rustls

import (
	"context"
	"net"
	"sync/atomic"

	"github.com/gorustls/gorustls/cgo"
)

// Connector runs client handshakes with one ClientConfig at a time
// (tokio-rustls's TlsConnector). It is safe for concurrent use; connections
// made with the same config share its session cache and resume sessions.
//
// Buffering: its Streams follow StreamOptions.WriteThrough, buffered until
// Flush by default. Everything that hands a Stream to generic net.Conn code (Listener,
// LazyListener, Dialer, Dial, DialContext) makes it write-through;
// Acceptor, LazyAcceptor, Connector and StartHandshake.IntoStream follow
// StreamOptions.WriteThrough (false: Writes stay buffered until Flush).
//
// SetConfig swaps the config atomically (certificate rotation): connections
// already made, and handshakes already started, keep the config they began
// with; every later one uses the new config. A Connector must not be copied
// after first use.
type Connector struct {
	cfg  atomic.Pointer[ClientConfig]
	opts StreamOptions
}

// NewConnector returns a Connector for cfg. It does not own cfg.
func NewConnector(cfg *ClientConfig, opts StreamOptions) *Connector {
	c := &Connector{opts: opts}
	c.cfg.Store(cfg)
	return c
}

// Config returns the connector's current client config.
func (c *Connector) Config() *ClientConfig { return c.cfg.Load() }

// SetConfig makes cfg the config of every later connection, for example to
// present a renewed client certificate. Safe to call while connections are
// being made on other goroutines: each one takes either the old config or
// the new one, never a mix. The Connector does not own either config; the
// old one may be closed once SetConfig has returned (streams made from it
// keep working, and a connection that picked the old config just as it was
// closed retries with the current one). A nil cfg makes later connections
// fail with ErrInvalidInput.
func (c *Connector) SetConfig(cfg *ClientConfig) { c.cfg.Store(cfg) }

// Connect runs the client handshake over conn for serverName (a DNS name or
// an IP address; it is checked against the server's certificate and sent
// as SNI unless disabled). ctx bounds the handshake, a wait for a stuck
// callback included (see Stream.HandshakeContext). On failure conn is closed; on
// success the Stream owns it.
func (c *Connector) Connect(ctx context.Context, conn net.Conn, serverName string) (*Stream, error) {
	s, err := c.ConnectFallible(ctx, conn, serverName)
	if err != nil {
		closeConn(conn)
		return nil, err
	}
	return s, nil
}

// ConnectFallible is Connect that leaves conn open on failure, for the
// caller to reuse or close.
func (c *Connector) ConnectFallible(ctx context.Context, conn net.Conn, serverName string) (*Stream, error) {
	if c == nil {
		return nil, inputErr("connect", "nil Connector")
	}
	return handshakeClient(ctx, c.cfg.Load, c.opts, conn, serverName)
}

// Client wraps conn in a client Stream without running the handshake; it
// runs on first I/O or on an explicit Handshake (both bounded by
// StreamOptions.HandshakeTimeout) or HandshakeContext.
//
// Client does no I/O and does not block. A nil or closed config, a nil
// conn or a serverName that is neither a DNS name nor an IP address is an
// *Error matching ErrInvalidInput. On success the Stream owns conn (its
// Close closes conn); on error conn is left open for the caller.
func (c *Connector) Client(conn net.Conn, serverName string) (*Stream, error) {
	if c == nil {
		return nil, inputErr("connect", "nil Connector")
	}
	return newClientStream(c.cfg.Load, c.opts, conn, serverName)
}

// handshakeClient makes a client Stream from the config current returns
// and runs its handshake, bounded by ctx; conn stays open on failure.
func handshakeClient(ctx context.Context, current func() *ClientConfig, opts StreamOptions, conn net.Conn, serverName string) (*Stream, error) {
	if ctx == nil {
		return nil, inputErr("connect", "nil context.Context")
	}
	s, err := newClientStream(current, opts, conn, serverName)
	if err != nil {
		return nil, err
	}
	if err := s.HandshakeContext(ctx); err != nil {
		s.release()
		return nil, err
	}
	return s, nil
}

// newClientStream wraps conn in a client Stream made from the config
// current returns. When that config turns out to be closed and current now
// returns another one (a rotation closed the old config between the load
// and the use), it starts over with the new config.
func newClientStream(current func() *ClientConfig, opts StreamOptions, conn net.Conn, serverName string) (*Stream, error) {
	cfg := current()
	if err := cfg.check("connect"); err != nil {
		return nil, err
	}
	if err := checkServerName("connect", serverName); err != nil {
		return nil, err
	}
	for tries := 1; ; tries++ {
		s, err := clientStream(cfg, opts, conn, serverName)
		if err == nil || tries == maxConfigTries || !cfg.isClosed() {
			return s, err
		}
		next := current()
		if next.check("connect") != nil || next == cfg {
			return nil, err
		}
		cfg = next
	}
}

// maxConfigTries bounds how often newClientStream moves on to a newer
// config because the one it took was closed meanwhile.
const maxConfigTries = 8

// clientStream wraps conn in a client Stream made from cfg.
func clientStream(cfg *ClientConfig, opts StreamOptions, conn net.Conn, serverName string) (*Stream, error) {
	var cc *cgo.Conn
	err := cfg.life.acquire(func() error {
		// After the closed check: a closed config is the error to report.
		if err := checkConn("connect", conn); err != nil {
			return err
		}
		var err error
		cc, err = cgo.NewClientConn(cfg.c, serverName)
		return fromCgo(err)
	})
	if err != nil {
		return nil, err
	}
	cb := &connCallbacks{logger: opts.Logger, verify: cfg.verify}
	cb.userCode = cb.logger != nil || cb.verify != nil || cfg.life.userCode()
	k := newCore(cc, cb, cfg.life, false)
	if opts.Logger != nil {
		cc.EnableLog()
	}
	return newStream(conn, k, cb, false, serverName, opts), nil
}

// isClosed reports whether Close has been called on c.
func (c *ClientConfig) isClosed() bool {
	c.life.mu.Lock()
	defer c.life.mu.Unlock()
	return c.life.closed
}
