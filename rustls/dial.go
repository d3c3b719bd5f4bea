package rustls

import (
	"context"
	"net"
	"sync/atomic"
)

// Dialer dials TCP (or any stream network) and runs the client handshake,
// like crypto/tls's Dialer. Its DialContext fits
// http.Transport.DialTLSContext. A Dialer is safe for concurrent use once
// its fields are set; it must not be copied after first use.
//
// Buffering: like everything that hands a Stream to generic net.Conn code
// (Listener, LazyListener, Dialer, Dial, DialContext), a Dialer's Streams
// are write-through whatever Options.WriteThrough says: each Write is sent
// at once, as on a plain net.Conn. To keep Writes buffered until Flush,
// dial the transport yourself and run a Connector (whose Streams follow
// StreamOptions.WriteThrough) over it.
//
// To rotate the client certificate, build a new ClientConfig and call
// SetConfig: connections already dialed keep theirs, later dials use the
// new one.
type Dialer struct {
	// Config is the client config (required unless SetConfig is called).
	// Set it before the first dial: assigning it while dials may run on
	// other goroutines is a data race. Use SetConfig to change it later.
	Config *ClientConfig
	// NetDialer dials the transport; nil means a zero net.Dialer.
	NetDialer *net.Dialer
	// ServerName is checked against the server's certificate and sent as
	// SNI; empty means the host part of the address.
	ServerName string
	// Options apply to every Stream, except WriteThrough: dialed Streams
	// are always write-through.
	Options StreamOptions

	set atomic.Pointer[configBox] // the config SetConfig gave, if any
}

// configBox holds the config given to SetConfig (nil included).
type configBox struct{ cfg *ClientConfig }

// SetConfig makes cfg the config of every later dial, atomically: a dial
// running on another goroutine uses either the old config or the new one.
// It takes precedence over the Config field from then on (which it does
// not modify). The Dialer does not own either config; the old one may be
// closed once SetConfig has returned. A nil cfg makes later dials fail
// with ErrInvalidInput.
func (d *Dialer) SetConfig(cfg *ClientConfig) { d.set.Store(&configBox{cfg: cfg}) }

// CurrentConfig returns the config the next dial will use: the last one
// given to SetConfig, else the Config field.
func (d *Dialer) CurrentConfig() *ClientConfig {
	if b := d.set.Load(); b != nil {
		return b.cfg
	}
	return d.Config
}

// DialContext connects to addr on network and runs the handshake, both
// bounded by ctx. The server name is d.ServerName or addr's host.
func (d *Dialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	s, err := d.DialStream(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// Dial is DialContext with context.Background.
func (d *Dialer) Dial(network, addr string) (net.Conn, error) {
	return d.DialContext(context.Background(), network, addr)
}

// DialStream is DialContext with the concrete type.
func (d *Dialer) DialStream(ctx context.Context, network, addr string) (*Stream, error) {
	if d == nil {
		return nil, inputErr("dial", "nil Dialer")
	}
	if ctx == nil {
		return nil, inputErr("dial", "nil context.Context")
	}
	if err := d.CurrentConfig().check("dial"); err != nil {
		return nil, err
	}
	name := d.ServerName
	if name == "" {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, &Error{Code: CodeInvalidDNSName, Op: "dial", Detail: "cannot take the server name from address " + addr, Err: err}
		}
		name = host
	}
	nd := d.NetDialer
	if nd == nil {
		nd = &net.Dialer{}
	}
	conn, err := nd.DialContext(ctx, network, addr)
	if err != nil {
		return nil, &Error{Code: CodeIO, Op: "dial", Detail: addr, Err: err}
	}
	opts := d.Options
	opts.WriteThrough = true
	s, err := handshakeClient(ctx, d.CurrentConfig, opts, conn, name)
	if err != nil {
		_ = conn.Close()
		return nil, err
	}
	return s, nil
}

// DialContext connects to addr and runs the client handshake with cfg, all
// bounded by ctx. The server name is addr's host. The Stream is
// write-through whatever opts.WriteThrough says (see Dialer); the other
// options apply. It is Dialer{Config: cfg, Options: opts}.DialStream.
func DialContext(ctx context.Context, network, addr string, cfg *ClientConfig, opts StreamOptions) (*Stream, error) {
	d := Dialer{Config: cfg, Options: opts}
	return d.DialStream(ctx, network, addr)
}

// Dial is DialContext with context.Background.
func Dial(network, addr string, cfg *ClientConfig, opts StreamOptions) (*Stream, error) {
	return DialContext(context.Background(), network, addr, cfg, opts)
}
