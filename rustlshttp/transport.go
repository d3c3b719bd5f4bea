package rustlshttp

//lint:file-ignore SA1019 net/http speaks HTTP/2 only over *tls.Conn; x/net/http2's connection-level API is how HTTP/2 runs over a rustls Stream.

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptrace"
	"sync"

	"github.com/gorustls/gorustls/rustls"
	"golang.org/x/net/http2"
	"golang.org/x/net/idna"
)

// Transport is an http.RoundTripper for https URLs over gorustls. It dials
// with its own Dialer, looks at the protocol ALPN negotiated and sends the
// request over HTTP/2 (x/net/http2 client connections, one multiplexed
// connection per host, reused) or HTTP/1.1 (an http.Transport whose
// DialTLSContext returns gorustls Streams, with its usual keep-alive pool).
// Plain http URLs go to the HTTP/1.1 transport unchanged. A Transport is
// safe for concurrent use; make one and reuse it.
type Transport struct {
	// Config is the client config (required). Its NextProtos decide what
	// is offered: NewTransport sets "h2" and "http/1.1".
	Config *rustls.ClientConfig
	// NetDialer dials TCP (nil: a net.Dialer with default settings); its
	// Timeout bounds dialing.
	NetDialer *net.Dialer
	// DialContext, if set, replaces NetDialer for the TCP connection (for
	// example to pin a host name to an address); the TLS server name is
	// still the URL's host.
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)
	// ServerName, if set, is the TLS server name for every host (checked
	// against the certificate and sent as SNI); empty means the URL's host.
	// Internationalised names (in the URL or here) are converted to their
	// ASCII form (punycode A-labels, IDNA's lookup profile) as net/http
	// does: that form is dialed, sent as SNI and verified; a name IDNA
	// refuses fails the request before any dial.
	ServerName string
	// Options apply to every Stream (WriteThrough is forced on).
	Options rustls.StreamOptions
	// HTTP1 is the base for HTTP/1.1 (it is cloned; DialTLSContext is
	// replaced). Nil: a clone of http.DefaultTransport. Its
	// TLSHandshakeTimeout bounds the handshake of every new connection,
	// HTTP/2 ones included (10 s in http.DefaultTransport; 0: only the
	// request's context).
	HTTP1 *http.Transport
	// HTTP2 configures HTTP/2 (nil: defaults).
	HTTP2 *http2.Transport
	// OnDial, if set, is called with each new handshaken Stream.
	OnDial func(*rustls.Stream)

	once sync.Once
	t1   *http.Transport
	t2   *http2.Transport

	mu      sync.Mutex
	h2      map[string][]*http2.ClientConn // by host:port
	proto   map[string]string              // last protocol a host:port chose
	pending map[string][]*rustls.Stream    // dialed for HTTP/1.1, not yet taken
	dialing map[string]chan struct{}       // closed when a host's dial ends
	h2c     map[*http2.ClientConn]*h2Conn
}

// errUseH2 tells the HTTP/1.1 path that a fresh connection chose h2.
var errUseH2 = errors.New("rustlshttp: the server chose HTTP/2 on a new connection")

// NewTransport returns a Transport for cfg. It does not own cfg.
func NewTransport(cfg *rustls.ClientConfig) *Transport {
	return &Transport{Config: cfg}
}

// NewClient returns an http.Client that uses a new Transport for cfg.
func NewClient(cfg *rustls.ClientConfig) *http.Client {
	return &http.Client{Transport: NewTransport(cfg)}
}

func (t *Transport) init() {
	t.once.Do(func() {
		if t.HTTP1 != nil {
			t.t1 = t.HTTP1.Clone()
		} else {
			t.t1 = http.DefaultTransport.(*http.Transport).Clone()
		}
		t.t1.DialTLSContext = t.dialHTTP1
		t.t1.ForceAttemptHTTP2 = false
		t.t1.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
		t.t2 = t.HTTP2
		if t.t2 == nil {
			t.t2 = &http2.Transport{}
		}
		t.h2 = map[string][]*http2.ClientConn{}
		t.proto = map[string]string{}
		t.pending = map[string][]*rustls.Stream{}
		t.dialing = map[string]chan struct{}{}
		t.h2c = map[*http2.ClientConn]*h2Conn{}
	})
}

func (t *Transport) dial(ctx context.Context, addr string) (*rustls.Stream, error) {
	opts := t.Options
	opts.WriteThrough = true
	name, err := idnaASCII(t.ServerName)
	if err != nil {
		return nil, fmt.Errorf("rustlshttp: Transport.ServerName %q: %w", t.ServerName, err)
	}
	if name == "" {
		if name, _, err = net.SplitHostPort(addr); err != nil {
			return nil, &rustls.Error{Code: rustls.CodeInvalidDNSName, Op: "dial", Detail: "cannot take the server name from address " + addr, Err: err}
		}
	}
	var conn net.Conn
	if t.DialContext != nil {
		if conn, err = t.DialContext(ctx, "tcp", addr); err != nil {
			return nil, err
		}
	} else {
		nd := t.NetDialer
		if nd == nil {
			nd = &net.Dialer{}
		}
		if conn, err = nd.DialContext(ctx, "tcp", addr); err != nil {
			return nil, &rustls.Error{Code: rustls.CodeIO, Op: "dial", Detail: addr, Err: err}
		}
	}
	hctx := ctx
	if d := t.t1.TLSHandshakeTimeout; d > 0 {
		var cancel context.CancelFunc
		hctx, cancel = context.WithTimeout(ctx, d)
		defer cancel()
	}
	s, err := rustls.NewConnector(t.Config, opts).Connect(hctx, conn, name)
	if err != nil {
		return nil, err
	}
	if t.OnDial != nil {
		t.OnDial(s)
	}
	return s, nil
}

// dialHTTP1 is the HTTP/1.1 transport's DialTLSContext.
func (t *Transport) dialHTTP1(ctx context.Context, network, addr string) (net.Conn, error) {
	t.mu.Lock()
	if p := t.pending[addr]; len(p) > 0 {
		s := p[len(p)-1]
		t.pending[addr] = p[:len(p)-1]
		t.mu.Unlock()
		return s, nil
	}
	t.mu.Unlock()
	s, err := t.dial(ctx, addr)
	if err != nil {
		return nil, err
	}
	if s.ConnectionState().NegotiatedProtocol == http2.NextProtoTLS {
		if _, err := t.addH2(addr, s, false); err != nil {
			return nil, err
		}
		return nil, errUseH2
	}
	return s, nil
}

// addH2 makes an HTTP/2 client connection over s and pools it; when
// reserve is set it also reserves a stream on it for the caller.
func (t *Transport) addH2(addr string, s *rustls.Stream, reserve bool) (*http2.ClientConn, error) {
	hc := &h2Conn{Stream: s}
	cc, err := t.t2.NewClientConn(hc)
	if err != nil {
		_ = s.Close()
		return nil, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.h2[addr] = append(t.h2[addr], cc)
	t.h2c[cc] = hc
	t.proto[addr] = http2.NextProtoTLS
	if reserve && !cc.ReserveNewRequest() {
		return nil, nil
	}
	return cc, nil
}

// reserveH2 returns an HTTP/2 connection to addr with a stream reserved,
// dropping dead ones.
func (t *Transport) reserveH2(addr string) *http2.ClientConn {
	t.mu.Lock()
	defer t.mu.Unlock()
	conns := t.h2[addr]
	live := conns[:0]
	var got *http2.ClientConn
	for _, cc := range conns {
		st := cc.State()
		if st.Closed || st.Closing {
			continue
		}
		live = append(live, cc)
		if got == nil && cc.ReserveNewRequest() {
			got = cc
		}
	}
	for _, cc := range conns[len(live):] {
		delete(t.h2c, cc)
	}
	clear(conns[len(live):])
	t.h2[addr] = live
	return got
}

// h2Err replaces err with the rustls error that broke cc's connection (an
// alert, a certificate, a transport failure), if any: x/net/http2 only
// reports that the connection was lost.
func (t *Transport) h2Err(cc *http2.ClientConn, err error) error {
	if err == nil {
		return nil
	}
	t.mu.Lock()
	hc := t.h2c[cc]
	t.mu.Unlock()
	if hc != nil {
		var e *rustls.Error
		if cause := hc.firstErr(); errors.As(cause, &e) {
			return cause
		}
	}
	return err
}

// h2Conn remembers the first error of the Stream under an HTTP/2
// connection.
type h2Conn struct {
	*rustls.Stream
	mu  sync.Mutex
	err error
}

func (c *h2Conn) Read(p []byte) (int, error) {
	n, err := c.Stream.Read(p)
	if err != nil {
		c.note(err)
	}
	return n, err
}

func (c *h2Conn) Write(p []byte) (int, error) {
	n, err := c.Stream.Write(p)
	if err != nil {
		c.note(err)
	}
	return n, err
}

func (c *h2Conn) note(err error) {
	c.mu.Lock()
	if c.err == nil {
		c.err = err
	}
	c.mu.Unlock()
}

func (c *h2Conn) firstErr() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// RoundTrip sends req over HTTP/2 or HTTP/1.1, whichever the server chose.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	t.init()
	if req.URL == nil || req.URL.Scheme != "https" {
		return t.t1.RoundTrip(req)
	}
	if t.Config == nil {
		return nil, errors.New("rustlshttp: Transport.Config is nil")
	}
	addr, err := hostPort(req)
	if err != nil {
		return nil, err
	}
	ctx := req.Context()
	var lastErr error
	retried := false
	for attempt := 0; attempt < 3; {
		if cc := t.reserveH2(addr); cc != nil {
			resp, err := cc.RoundTrip(req)
			err = t.h2Err(cc, err)
			if err != nil && !retried && retryable(req) && !isTLSFailure(err) {
				if st := cc.State(); st.Closed || st.Closing {
					// The connection went away under the request (an
					// idle timeout, a GOAWAY): try once more on another.
					retried, lastErr = true, err
					continue
				}
			}
			return resp, err
		}
		t.mu.Lock()
		proto := t.proto[addr]
		var done chan struct{}
		if proto != "http/1.1" {
			// One dial per host at a time: requests that arrive while
			// it runs wait for it, so that they share an HTTP/2
			// connection instead of opening one each.
			if wait, busy := t.dialing[addr]; busy {
				t.mu.Unlock()
				select {
				case <-wait:
					continue
				case <-ctx.Done():
					return nil, ctx.Err()
				}
			}
			done = make(chan struct{})
			t.dialing[addr] = done
		}
		t.mu.Unlock()
		attempt++
		if proto == "http/1.1" {
			resp, err := t.roundTripHTTP1(req)
			if errors.Is(err, errUseH2) {
				continue
			}
			return resp, err
		}
		finish := func() {
			t.mu.Lock()
			delete(t.dialing, addr)
			t.mu.Unlock()
			close(done)
		}
		s, err := t.dial(ctx, addr)
		if err != nil {
			finish()
			return nil, err
		}
		if s.ConnectionState().NegotiatedProtocol == http2.NextProtoTLS {
			cc, err := t.addH2(addr, s, true)
			finish()
			if err != nil {
				return nil, err
			}
			if cc != nil {
				// A fresh connection: its error is the answer, no retry.
				resp, err := cc.RoundTrip(req)
				return resp, t.h2Err(cc, err)
			}
			continue
		}
		t.mu.Lock()
		t.proto[addr] = "http/1.1"
		t.pending[addr] = append(t.pending[addr], s)
		t.mu.Unlock()
		finish()
		resp, err := t.roundTripHTTP1(req)
		t.dropPending(addr, s)
		if errors.Is(err, errUseH2) {
			continue
		}
		return resp, err
	}
	if lastErr != nil {
		return nil, lastErr
	}
	return nil, errors.New("rustlshttp: could not get a usable connection to " + addr)
}

// roundTripHTTP1 sends req through the HTTP/1.1 transport and fills
// resp.TLS, which http.Transport only does for *tls.Conn, from the Stream
// the request went over.
func (t *Transport) roundTripHTTP1(req *http.Request) (*http.Response, error) {
	var conn net.Conn
	trace := &httptrace.ClientTrace{GotConn: func(info httptrace.GotConnInfo) { conn = info.Conn }}
	resp, err := t.t1.RoundTrip(req.WithContext(httptrace.WithClientTrace(req.Context(), trace)))
	if err != nil {
		return nil, err
	}
	if s, ok := conn.(*rustls.Stream); ok && resp.TLS == nil {
		st := s.ConnectionState()
		resp.TLS = &st
	}
	return resp, nil
}

// dropPending closes s if the HTTP/1.1 transport did not take it.
func (t *Transport) dropPending(addr string, s *rustls.Stream) {
	t.mu.Lock()
	p := t.pending[addr]
	for i, x := range p {
		if x == s {
			t.pending[addr] = append(p[:i], p[i+1:]...)
			t.mu.Unlock()
			_ = s.Close()
			return
		}
	}
	t.mu.Unlock()
}

// CloseIdleConnections closes idle HTTP/1.1 connections and HTTP/2
// connections with no active stream.
func (t *Transport) CloseIdleConnections() {
	t.init()
	t.t1.CloseIdleConnections()
	t.mu.Lock()
	var idle []*http2.ClientConn
	for addr, conns := range t.h2 {
		live := conns[:0]
		for _, cc := range conns {
			if cc.State().StreamsActive == 0 && cc.State().StreamsReserved == 0 {
				idle = append(idle, cc)
				delete(t.h2c, cc)
			} else {
				live = append(live, cc)
			}
		}
		clear(conns[len(live):])
		t.h2[addr] = live
	}
	t.mu.Unlock()
	for _, cc := range idle {
		_ = cc.Close()
	}
}

// retryable reports whether req may be sent again on another connection:
// an idempotent method and no body to replay.
func retryable(req *http.Request) bool {
	switch req.Method {
	case "", http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return req.Body == nil || req.Body == http.NoBody
	}
	return false
}

// isTLSFailure reports whether err is a TLS failure (an alert, a
// certificate) rather than a lost transport: retrying would fail the same
// way.
func isTLSFailure(err error) bool {
	var e *rustls.Error
	return errors.As(err, &e) && e.Code != rustls.CodeIO && e.Code != rustls.CodeUnexpectedEOF
}

// hostPort is the address to dial for req: its host in ASCII form (see
// idnaASCII) and its port (443 by default), as http.Transport spells it,
// so that both protocols key their connections alike.
func hostPort(req *http.Request) (string, error) {
	host, port := req.URL.Hostname(), req.URL.Port()
	if port == "" {
		port = "443"
	}
	ascii, err := idnaASCII(host)
	if err != nil {
		return "", fmt.Errorf("rustlshttp: host %q is not a valid internationalised name: %w", host, err)
	}
	return net.JoinHostPort(ascii, port), nil
}

// idnaASCII converts an internationalised host name to its ASCII form
// (punycode A-labels, IDNA's lookup profile), as net/http does; ASCII
// names (and IP addresses) are returned as they are.
func idnaASCII(name string) (string, error) {
	for i := 0; i < len(name); i++ {
		if name[i] >= 0x80 {
			return idna.Lookup.ToASCII(name)
		}
	}
	return name, nil
}
