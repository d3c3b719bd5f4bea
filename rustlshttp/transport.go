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
	"net/url"
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
// Plain http URLs go to a clone of the HTTP/1.1 transport. A Transport is
// safe for concurrent use; make one and reuse it. Set its fields before
// its first use and do not change them afterwards (SetClientConfig changes
// the client config).
//
// Every TLS session a Transport opens is a rustls one: net/http never runs
// crypto/tls for it, whatever HTTP1 says (its TLSClientConfig is
// ignored), proxies included.
//
// # Proxies
//
// The proxy for each request comes from HTTP1's Proxy function, as in
// net/http: with HTTP1 nil that is http.ProxyFromEnvironment (HTTPS_PROXY,
// HTTP_PROXY and NO_PROXY, read once per process; requests to localhost
// and loopback addresses are never proxied); an HTTP1 with a nil Proxy
// uses no proxy. For https URLs the Transport opens the tunnel itself and
// runs rustls to the origin inside it, over HTTP/1.1 and HTTP/2 alike:
//   - http:// proxy: CONNECT host:port, with HTTP1's ProxyConnectHeader (or
//     GetProxyConnectHeader's answer) and Proxy-Authorization: Basic from
//     the proxy URL's user info; HTTP1's OnProxyConnectResponse sees the
//     answer. A status other than 2xx fails the request with a *ProxyError.
//   - https:// proxy: the same inside a rustls session with the proxy,
//     made with ProxyConfig (nil: the client config), verified against the
//     proxy URL's host name.
//   - socks5:// and socks5h:// proxies (user info as SOCKS5 user name and
//     password); the proxy resolves the host name.
//
// Plain http URLs go through the proxy as net/http sends them (the
// absolute URL in the request line; Proxy-Authorization from the URL),
// with rustls to an https:// proxy. Connections are pooled per proxy and
// origin.
type Transport struct {
	// Config is the client config (required unless SetClientConfig is
	// called). Its NextProtos decide what is offered: give it "h2" and
	// "http/1.1" for both protocols.
	Config *rustls.ClientConfig
	// ProxyConfig, if set, is the client config for TLS to https://
	// proxies (nil: the client config, rotated with it). Proxies are
	// spoken to in HTTP/1.1: a proxy that chooses another ALPN protocol
	// (h2, which the client config may offer) fails the request with an
	// error saying so; a ProxyConfig without "h2" avoids that.
	ProxyConfig *rustls.ClientConfig
	// NetDialer dials TCP (nil: a net.Dialer with default settings); its
	// Timeout bounds dialing.
	NetDialer *net.Dialer
	// DialContext, if set, replaces NetDialer for the TCP connection (for
	// example to pin a host name to an address); the TLS server name is
	// still the URL's host. Through a proxy it dials the proxy. When
	// DialContext or NetDialer is set it also dials plain http URLs.
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)
	// ServerName, if set, is the TLS server name for every host (checked
	// against the certificate and sent as SNI); empty means the URL's host.
	// Every host means every host, as with ServerName in net/http's
	// TLSClientConfig: an http.Client following a redirect to another
	// host with this Transport sends that host this name and requires a
	// certificate valid for it (not for the redirect's host). To pin a name
	// for one host only, use a Transport for that host alone, or a
	// CheckRedirect that refuses redirects to other hosts.
	// Internationalised names (in the URL or here) are converted to their
	// ASCII form (punycode A-labels, IDNA's lookup profile) as net/http
	// does: that form is dialed, sent as SNI and verified; a name IDNA
	// refuses fails the request before any dial. It does not apply to
	// https:// proxies, verified against their own host name.
	ServerName string
	// Options apply to every Stream (WriteThrough is forced on).
	Options rustls.StreamOptions
	// HTTP1 is the base for HTTP/1.1 (it is cloned; DialTLSContext is
	// replaced and TLSClientConfig ignored). Nil: a clone of
	// http.DefaultTransport. Its TLSHandshakeTimeout bounds the handshake of
	// every new connection, HTTP/2 ones and those with https:// proxies
	// included (10 s in http.DefaultTransport; 0: only the request's
	// context). Its Proxy chooses proxies (see above).
	HTTP1 *http.Transport
	// HTTP2 configures HTTP/2 (nil: defaults).
	HTTP2 *http2.Transport
	// OnDial, if set, is called with each new handshaken Stream to an
	// origin (not with sessions to https:// proxies).
	OnDial func(*rustls.Stream)

	once           sync.Once
	base           *http.Transport // HTTP1's settings, never used for requests
	plain          *http.Transport // plain http URLs
	t2             *http2.Transport
	connector      *rustls.Connector // the client config, rotated by SetClientConfig
	proxyConnector *rustls.Connector // ProxyConfig's, if set

	mu      sync.Mutex
	h1      map[string]*http.Transport      // https URLs, by proxy URL ("": direct)
	h2      map[poolKey][]*http2.ClientConn // by proxy and origin
	proto   map[poolKey]string              // last protocol an origin chose
	pending map[poolKey][]*rustls.Stream    // dialed for HTTP/1.1, not yet taken
	dialing map[poolKey]chan struct{}       // closed when an origin's dial ends
	h2c     map[*http2.ClientConn]*h2Conn
}

// poolKey names the connections to one origin (host:port) through one
// proxy (its URL; empty: direct).
type poolKey struct {
	proxy string
	addr  string
}

// errUseH2 tells the HTTP/1.1 path that a fresh connection chose h2.
var errUseH2 = errors.New("rustlshttp: the server chose HTTP/2 on a new connection")

// errCryptoTLS is what net/http would get if it ever tried to run
// crypto/tls for a Transport: no path does, and this makes sure that such a
// handshake fails before its first byte rather than run with the wrong
// trust.
var errCryptoTLS = errors.New("rustlshttp: internal error: net/http tried to run a crypto/tls handshake; every TLS session of a rustlshttp.Transport must be rustls (please report this)")

// noCryptoTLS is the random source of the tls.Config net/http is given.
type noCryptoTLS struct{}

func (noCryptoTLS) Read([]byte) (int, error) { return 0, errCryptoTLS }

// NewTransport returns a Transport for cfg. It does not own cfg: keep cfg
// open while the Transport makes connections. With a nil cfg every https
// request fails, before any dial, with an error saying Transport.Config is
// nil, until SetClientConfig gives one.
func NewTransport(cfg *rustls.ClientConfig) *Transport {
	return &Transport{Config: cfg}
}

// NewClient returns an http.Client that uses a new Transport for cfg
// (see NewTransport), with no timeout of its own: bound requests with
// their context or the Client's Timeout. The Transport does not own cfg;
// keep cfg open while the client makes connections. The client's
// CloseIdleConnections closes the Transport's idle connections.
func NewClient(cfg *rustls.ClientConfig) *http.Client {
	return &http.Client{Transport: NewTransport(cfg)}
}

// SetClientConfig makes cfg the client config of every new connection,
// atomically, for example to present a renewed client certificate.
// Connections already open (idle HTTP/1.1 ones, HTTP/2 ones and those being
// used) are kept in their pools and keep the config they were made with;
// close them with CloseIdleConnections to make every later request use the
// new config. Without a ProxyConfig, TLS to https:// proxies uses cfg too.
// The Transport does not own either config: the old one may be closed once
// SetClientConfig has returned.
func (t *Transport) SetClientConfig(cfg *rustls.ClientConfig) {
	t.init()
	t.connector.SetConfig(cfg)
}

// ClientConfig returns the client config new connections use: Config, or
// the last one given to SetClientConfig.
func (t *Transport) ClientConfig() *rustls.ClientConfig {
	t.init()
	return t.connector.Config()
}

func (t *Transport) init() {
	t.once.Do(func() {
		if t.HTTP1 != nil {
			t.base = t.HTTP1.Clone()
		} else {
			t.base = http.DefaultTransport.(*http.Transport).Clone()
		}
		opts := t.Options
		opts.WriteThrough = true
		t.connector = rustls.NewConnector(t.Config, opts)
		if t.ProxyConfig != nil {
			t.proxyConnector = rustls.NewConnector(t.ProxyConfig, opts)
		}
		t.plain = t.base.Clone()
		t.plain.DialTLSContext = t.dialProxyTLS
		if t.DialContext != nil || t.NetDialer != nil {
			t.plain.DialContext = t.dialTCP
		}
		noNetHTTPTLS(t.plain)
		t.t2 = t.HTTP2
		if t.t2 == nil {
			t.t2 = &http2.Transport{}
		}
		t.h1 = map[string]*http.Transport{}
		t.h2 = map[poolKey][]*http2.ClientConn{}
		t.proto = map[poolKey]string{}
		t.pending = map[poolKey][]*rustls.Stream{}
		t.dialing = map[poolKey]chan struct{}{}
		t.h2c = map[*http2.ClientConn]*h2Conn{}
	})
}

// noNetHTTPTLS keeps net/http from running TLS or HTTP/2 itself on tr,
// whose DialTLSContext is set: no HTTP/2 upgrade (it needs a *tls.Conn),
// and a tls.Config whose handshakes fail at once, should any path reach it.
func noNetHTTPTLS(tr *http.Transport) {
	tr.ForceAttemptHTTP2 = false
	tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	tr.TLSClientConfig = &tls.Config{Rand: noCryptoTLS{}}
}

// http1For returns the HTTP/1.1 transport for https URLs through proxy u
// (nil: direct), keyed by pk. net/http sees no proxy: DialTLSContext opens
// the tunnel and runs rustls inside it.
func (t *Transport) http1For(pk string, u *url.URL) *http.Transport {
	t.mu.Lock()
	defer t.mu.Unlock()
	if tr := t.h1[pk]; tr != nil {
		return tr
	}
	tr := t.base.Clone()
	tr.Proxy = nil
	tr.OnProxyConnectResponse = nil
	tr.GetProxyConnectHeader = nil
	tr.ProxyConnectHeader = nil
	tr.DialTLSContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		return t.dialHTTP1(ctx, poolKey{proxy: pk, addr: addr}, u)
	}
	noNetHTTPTLS(tr)
	// Our connections are HTTP/1.1 only; net/http must not try
	// unencrypted HTTP/2 on them whatever HTTP1.Protocols says.
	tr.Protocols = new(http.Protocols)
	tr.Protocols.SetHTTP1(true)
	t.h1[pk] = tr
	return tr
}

// dial opens a rustls session to key's origin, through proxy u if not
// nil.
func (t *Transport) dial(ctx context.Context, key poolKey, u *url.URL) (*rustls.Stream, error) {
	name, err := idnaASCII(t.ServerName)
	if err != nil {
		return nil, fmt.Errorf("rustlshttp: Transport.ServerName %q: %w", t.ServerName, err)
	}
	if name == "" {
		if name, _, err = net.SplitHostPort(key.addr); err != nil {
			return nil, &rustls.Error{Code: rustls.CodeInvalidDNSName, Op: "dial", Detail: "cannot take the server name from address " + key.addr, Err: err}
		}
	}
	var conn net.Conn
	if u == nil {
		conn, err = t.dialTCP(ctx, "tcp", key.addr)
	} else {
		conn, err = t.dialTunnel(ctx, u, key.addr)
	}
	if err != nil {
		return nil, err
	}
	hctx, cancel := t.handshakeContext(ctx)
	defer cancel()
	s, err := t.connector.Connect(hctx, conn, name)
	if err != nil {
		return nil, err
	}
	if t.OnDial != nil {
		t.OnDial(s)
	}
	return s, nil
}

// dialHTTP1 is the HTTP/1.1 transports' DialTLSContext.
func (t *Transport) dialHTTP1(ctx context.Context, key poolKey, u *url.URL) (net.Conn, error) {
	t.mu.Lock()
	if p := t.pending[key]; len(p) > 0 {
		s := p[len(p)-1]
		t.pending[key] = p[:len(p)-1]
		t.mu.Unlock()
		return s, nil
	}
	t.mu.Unlock()
	s, err := t.dial(ctx, key, u)
	if err != nil {
		return nil, err
	}
	if s.ConnectionState().NegotiatedProtocol == http2.NextProtoTLS {
		if _, err := t.addH2(key, s, false); err != nil {
			return nil, err
		}
		return nil, errUseH2
	}
	return s, nil
}

// addH2 makes an HTTP/2 client connection over s and pools it; when
// reserve is set it also reserves a stream on it for the caller.
func (t *Transport) addH2(key poolKey, s *rustls.Stream, reserve bool) (*http2.ClientConn, error) {
	hc := &h2Conn{Stream: s}
	cc, err := t.t2.NewClientConn(hc)
	if err != nil {
		_ = s.Close()
		return nil, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.h2[key] = append(t.h2[key], cc)
	t.h2c[cc] = hc
	t.proto[key] = http2.NextProtoTLS
	if reserve && !cc.ReserveNewRequest() {
		return nil, nil
	}
	return cc, nil
}

// reserveH2 returns an HTTP/2 connection for key with a stream reserved,
// dropping dead ones.
func (t *Transport) reserveH2(key poolKey) *http2.ClientConn {
	t.mu.Lock()
	defer t.mu.Unlock()
	conns := t.h2[key]
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
	t.h2[key] = live
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

// traceGotH2 reports to req's httptrace.ClientTrace, if any, that req
// goes over cc (x/net/http2 does not for ClientConn.RoundTrip): GotConn
// gets the Stream under it, as it gets the Stream on HTTP/1.1.
func (t *Transport) traceGotH2(req *http.Request, cc *http2.ClientConn, reused bool) {
	trace := httptrace.ContextClientTrace(req.Context())
	if trace == nil || trace.GotConn == nil {
		return
	}
	t.mu.Lock()
	hc := t.h2c[cc]
	t.mu.Unlock()
	if hc != nil {
		trace.GotConn(httptrace.GotConnInfo{Conn: hc.Stream, Reused: reused})
	}
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

// RoundTrip sends req over HTTP/2 or HTTP/1.1, whichever the server chose,
// through the proxy HTTP1's Proxy function chooses for it, if any.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	t.init()
	if req.URL == nil || req.URL.Scheme != "https" {
		return t.plain.RoundTrip(req)
	}
	if t.connector.Config() == nil {
		return nil, errors.New("rustlshttp: Transport.Config is nil")
	}
	addr, err := hostPort(req)
	if err != nil {
		return nil, err
	}
	u, err := t.proxyFor(req)
	if err != nil {
		return nil, err
	}
	key := poolKey{addr: addr}
	if u != nil {
		key.proxy = u.String()
	}
	ctx := req.Context()
	var lastErr error
	retried := false
	for attempt := 0; attempt < 3; {
		if cc := t.reserveH2(key); cc != nil {
			t.traceGotH2(req, cc, true)
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
		proto := t.proto[key]
		var done chan struct{}
		if proto != "http/1.1" {
			// One dial per origin at a time: requests that arrive while
			// it runs wait for it, so that they share an HTTP/2
			// connection instead of opening one each.
			if wait, busy := t.dialing[key]; busy {
				t.mu.Unlock()
				select {
				case <-wait:
					continue
				case <-ctx.Done():
					return nil, ctx.Err()
				}
			}
			done = make(chan struct{})
			t.dialing[key] = done
		}
		t.mu.Unlock()
		attempt++
		if proto == "http/1.1" {
			resp, err := t.roundTripHTTP1(req, key, u)
			if errors.Is(err, errUseH2) {
				continue
			}
			return resp, err
		}
		finish := func() {
			t.mu.Lock()
			delete(t.dialing, key)
			t.mu.Unlock()
			close(done)
		}
		s, err := t.dial(ctx, key, u)
		if err != nil {
			finish()
			return nil, err
		}
		if s.ConnectionState().NegotiatedProtocol == http2.NextProtoTLS {
			cc, err := t.addH2(key, s, true)
			finish()
			if err != nil {
				return nil, err
			}
			if cc != nil {
				// A fresh connection: its error is the answer, no retry.
				t.traceGotH2(req, cc, false)
				resp, err := cc.RoundTrip(req)
				return resp, t.h2Err(cc, err)
			}
			continue
		}
		t.mu.Lock()
		t.proto[key] = "http/1.1"
		t.pending[key] = append(t.pending[key], s)
		t.mu.Unlock()
		finish()
		resp, err := t.roundTripHTTP1(req, key, u)
		t.dropPending(key, s)
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

// roundTripHTTP1 sends req through the HTTP/1.1 transport for key's proxy
// and fills resp.TLS, which http.Transport only does for *tls.Conn, from
// the Stream the request went over.
func (t *Transport) roundTripHTTP1(req *http.Request, key poolKey, u *url.URL) (*http.Response, error) {
	var conn net.Conn
	trace := &httptrace.ClientTrace{GotConn: func(info httptrace.GotConnInfo) { conn = info.Conn }}
	resp, err := t.http1For(key.proxy, u).RoundTrip(req.WithContext(httptrace.WithClientTrace(req.Context(), trace)))
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
func (t *Transport) dropPending(key poolKey, s *rustls.Stream) {
	t.mu.Lock()
	p := t.pending[key]
	for i, x := range p {
		if x == s {
			t.pending[key] = append(p[:i], p[i+1:]...)
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
	t.plain.CloseIdleConnections()
	t.mu.Lock()
	h1 := make([]*http.Transport, 0, len(t.h1))
	for _, tr := range t.h1 {
		h1 = append(h1, tr)
	}
	var idle []*http2.ClientConn
	for key, conns := range t.h2 {
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
		t.h2[key] = live
	}
	t.mu.Unlock()
	for _, tr := range h1 {
		tr.CloseIdleConnections()
	}
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
