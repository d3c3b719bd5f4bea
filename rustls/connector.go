package rustls

import (
	"context"
	"net"

	"github.com/gorustls/gorustls/cgo"
)

// Connector runs client handshakes with one ClientConfig (tokio-rustls's
// TlsConnector). It is safe for concurrent use; connections made by one
// Connector share the config's session cache and resume sessions.
type Connector struct {
	cfg  *ClientConfig
	opts StreamOptions
}

// NewConnector returns a Connector for cfg. It does not own cfg.
func NewConnector(cfg *ClientConfig, opts StreamOptions) *Connector {
	return &Connector{cfg: cfg, opts: opts}
}

// Config returns the connector's client config.
func (c *Connector) Config() *ClientConfig { return c.cfg }

// Connect runs the client handshake over conn for serverName (a DNS name or
// an IP address; it is checked against the server's certificate and sent
// as SNI unless disabled). ctx bounds the handshake. On failure conn is
// closed; on success the Stream owns it.
func (c *Connector) Connect(ctx context.Context, conn net.Conn, serverName string) (*Stream, error) {
	s, err := c.ConnectFallible(ctx, conn, serverName)
	if err != nil {
		_ = conn.Close()
		return nil, err
	}
	return s, nil
}

// ConnectFallible is Connect that leaves conn open on failure, for the
// caller to reuse or close.
func (c *Connector) ConnectFallible(ctx context.Context, conn net.Conn, serverName string) (*Stream, error) {
	s, err := c.Client(conn, serverName)
	if err != nil {
		return nil, err
	}
	if err := s.Handshake(ctx); err != nil {
		s.release()
		return nil, err
	}
	return s, nil
}

// Client wraps conn in a client Stream without running the handshake; it
// runs on first I/O or on an explicit Handshake.
func (c *Connector) Client(conn net.Conn, serverName string) (*Stream, error) {
	if c.cfg == nil {
		return nil, inputErr("connect", "nil ClientConfig")
	}
	if err := checkServerName("connect", serverName); err != nil {
		return nil, err
	}
	var cc *cgo.Conn
	err := c.cfg.life.acquire(func() error {
		var err error
		cc, err = cgo.NewClientConn(c.cfg.c, serverName)
		return fromCgo(err)
	})
	if err != nil {
		return nil, err
	}
	cb := &connCallbacks{logger: c.opts.Logger, verify: c.cfg.verify}
	k := newCore(cc, cb, c.cfg.life, false)
	if c.opts.Logger != nil {
		cc.EnableLog()
	}
	return newStream(conn, k, cb, false, serverName, c.opts), nil
}
