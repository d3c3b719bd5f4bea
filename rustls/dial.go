package rustls

import (
	"context"
	"net"
)

// Dialer dials TCP (or any stream network) and runs the client handshake,
// like crypto/tls's Dialer. Its DialContext fits
// http.Transport.DialTLSContext.
type Dialer struct {
	// Config is the client config (required).
	Config *ClientConfig
	// NetDialer dials the transport; nil means a zero net.Dialer.
	NetDialer *net.Dialer
	// ServerName is checked against the server's certificate and sent as
	// SNI; empty means the host part of the address.
	ServerName string
	// Options apply to every Stream. Dialed streams are write-through
	// (plain net.Conn behaviour: every Write is sent) unless Buffered is set.
	Options StreamOptions
	// Buffered keeps rustls's buffer semantics: Writes stay buffered until
	// Flush (or until the buffer fills).
	Buffered bool
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
	if d.Config == nil {
		return nil, inputErr("dial", "nil ClientConfig")
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
	if !d.Buffered {
		opts.WriteThrough = true
	}
	return NewConnector(d.Config, opts).Connect(ctx, conn, name)
}

// DialContext connects to addr and runs the client handshake with cfg, all
// bounded by ctx. The server name is addr's host. With nil opts the stream
// is write-through (plain net.Conn behaviour); given opts are used as they
// are (WriteThrough false keeps Writes buffered until Flush).
func DialContext(ctx context.Context, network, addr string, cfg *ClientConfig, opts *StreamOptions) (*Stream, error) {
	d := Dialer{Config: cfg}
	if opts != nil {
		d.Options = *opts
		d.Buffered = !opts.WriteThrough
	}
	return d.DialStream(ctx, network, addr)
}

// Dial is DialContext with context.Background.
func Dial(network, addr string, cfg *ClientConfig, opts *StreamOptions) (*Stream, error) {
	return DialContext(context.Background(), network, addr, cfg, opts)
}
