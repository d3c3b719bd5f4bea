package rustlshttp

import (
	"bufio"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/gorustls/gorustls/rustls"
	"golang.org/x/net/http2"
	"golang.org/x/net/proxy"
)

// ProxyError is returned when a proxy answers CONNECT with a status other
// than 2xx: the tunnel to Target was refused and no request was sent.
type ProxyError struct {
	Proxy      string // the proxy's URL, its password redacted
	Target     string // host:port the tunnel was asked for
	StatusCode int    // e.g. 407
	Status     string // e.g. "407 Proxy Authentication Required"
}

// Error says which proxy refused the tunnel to which target, with the
// proxy's status.
func (e *ProxyError) Error() string {
	return fmt.Sprintf("rustlshttp: proxy %s refused CONNECT to %s: %s", e.Proxy, e.Target, e.Status)
}

// connectTimeout bounds the CONNECT exchange with a proxy (as in net/http)
// on top of the dial's context, which net/http does not bound.
const connectTimeout = time.Minute

// proxyFor is the proxy for req (nil: none), from the Proxy function of
// the HTTP1 transport; an unsupported scheme is an error.
func (t *Transport) proxyFor(req *http.Request) (*url.URL, error) {
	if t.base.Proxy == nil {
		return nil, nil
	}
	u, err := t.base.Proxy(req)
	if err != nil || u == nil {
		return nil, err
	}
	switch u.Scheme {
	case "http", "https", "socks5", "socks5h":
		if u.Host == "" {
			return nil, fmt.Errorf("rustlshttp: proxy URL %s has no host", u.Redacted())
		}
		return u, nil
	}
	return nil, fmt.Errorf("rustlshttp: proxy URL %s: scheme %q is not supported (http, https, socks5 or socks5h)", u.Redacted(), u.Scheme)
}

// proxyAddr is the host:port to dial for proxy u, its host in ASCII form
// and the scheme's port by default.
func proxyAddr(u *url.URL) (string, error) {
	port := u.Port()
	if port == "" {
		switch u.Scheme {
		case "https":
			port = "443"
		case "socks5", "socks5h":
			port = "1080"
		default:
			port = "80"
		}
	}
	host, err := idnaASCII(u.Hostname())
	if err != nil {
		return "", fmt.Errorf("rustlshttp: proxy host %q is not a valid internationalised name: %w", u.Hostname(), err)
	}
	return net.JoinHostPort(host, port), nil
}

// dialTCP opens the transport connection to addr: with DialContext if set,
// else NetDialer, else a zero net.Dialer.
func (t *Transport) dialTCP(ctx context.Context, network, addr string) (net.Conn, error) {
	if t.DialContext != nil {
		return t.DialContext(ctx, network, addr)
	}
	nd := t.NetDialer
	if nd == nil {
		nd = &net.Dialer{}
	}
	conn, err := nd.DialContext(ctx, network, addr)
	if err != nil {
		return nil, &rustls.Error{Code: rustls.CodeIO, Op: "dial", Detail: addr, Err: err}
	}
	return conn, nil
}

// dialTunnel returns a connection to target through proxy u: a CONNECT
// tunnel through an http:// proxy, the same inside a rustls session with
// an https:// proxy, or a SOCKS5 connection. The origin's TLS runs on top.
func (t *Transport) dialTunnel(ctx context.Context, u *url.URL, target string) (net.Conn, error) {
	paddr, err := proxyAddr(u)
	if err != nil {
		return nil, err
	}
	if u.Scheme == "socks5" || u.Scheme == "socks5h" {
		var auth *proxy.Auth
		if u.User != nil {
			auth = &proxy.Auth{User: u.User.Username()}
			auth.Password, _ = u.User.Password()
		}
		d, err := proxy.SOCKS5("tcp", paddr, auth, tcpDialer{t})
		if err != nil {
			return nil, err
		}
		conn, err := d.(proxy.ContextDialer).DialContext(ctx, "tcp", target)
		if err != nil {
			return nil, fmt.Errorf("rustlshttp: SOCKS5 proxy %s to %s: %w", u.Redacted(), target, err)
		}
		return conn, nil
	}
	conn, err := t.dialTCP(ctx, "tcp", paddr)
	if err != nil {
		return nil, fmt.Errorf("rustlshttp: proxy %s: %w", u.Redacted(), err)
	}
	if u.Scheme == "https" {
		if conn, err = t.proxyTLS(ctx, conn, paddr, u); err != nil {
			return nil, err
		}
	}
	return t.connect(ctx, conn, u, target)
}

// tcpDialer gives x/net/proxy the Transport's TCP dialing.
type tcpDialer struct{ t *Transport }

func (d tcpDialer) Dial(network, addr string) (net.Conn, error) {
	return d.t.dialTCP(context.Background(), network, addr)
}

func (d tcpDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	return d.t.dialTCP(ctx, network, addr)
}

// dialProxyTLS is the plain-http transport's DialTLSContext: net/http
// calls it only to reach an https:// proxy for an http:// request.
func (t *Transport) dialProxyTLS(ctx context.Context, network, addr string) (net.Conn, error) {
	conn, err := t.dialTCP(ctx, network, addr)
	if err != nil {
		return nil, fmt.Errorf("rustlshttp: proxy %s: %w", addr, err)
	}
	return t.proxyTLS(ctx, conn, addr, &url.URL{Scheme: "https", Host: addr})
}

// proxyTLS runs a rustls handshake with the proxy at addr over conn (with
// ProxyConfig, else the current client config), bounded by ctx and
// TLSHandshakeTimeout. The proxy must choose HTTP/1.1 or no protocol.
func (t *Transport) proxyTLS(ctx context.Context, conn net.Conn, addr string, u *url.URL) (*rustls.Stream, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		_ = conn.Close()
		return nil, err
	}
	hctx, cancel := t.handshakeContext(ctx)
	defer cancel()
	c := t.connector
	if t.proxyConnector != nil {
		c = t.proxyConnector
	}
	s, err := c.Connect(hctx, conn, host)
	if err != nil {
		return nil, fmt.Errorf("rustlshttp: TLS to proxy %s: %w", u.Redacted(), err)
	}
	if p := s.ConnectionState().NegotiatedProtocol; p != "" && p != "http/1.1" {
		_ = s.Close()
		if p == http2.NextProtoTLS {
			return nil, fmt.Errorf("rustlshttp: proxy %s chose HTTP/2, but proxies are spoken to in HTTP/1.1: set Transport.ProxyConfig to a config whose NextProtos leave out %q", u.Redacted(), p)
		}
		return nil, fmt.Errorf("rustlshttp: proxy %s chose ALPN protocol %q, but proxies are spoken to in HTTP/1.1", u.Redacted(), p)
	}
	return s, nil
}

// handshakeContext bounds ctx by the HTTP/1.1 transport's
// TLSHandshakeTimeout, if any.
func (t *Transport) handshakeContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if d := t.base.TLSHandshakeTimeout; d > 0 {
		return context.WithTimeout(ctx, d)
	}
	return ctx, func() {}
}

// connect asks the proxy on conn for a tunnel to target and returns the
// tunnel; conn is closed on failure. The request carries HTTP1's
// ProxyConnectHeader (or GetProxyConnectHeader's answer) and
// Proxy-Authorization from u's user info; HTTP1's OnProxyConnectResponse
// sees the answer.
func (t *Transport) connect(ctx context.Context, conn net.Conn, u *url.URL, target string) (_ net.Conn, err error) {
	defer func() {
		if err != nil {
			_ = conn.Close()
		}
	}()
	hdr := t.base.ProxyConnectHeader
	if t.base.GetProxyConnectHeader != nil {
		if hdr, err = t.base.GetProxyConnectHeader(ctx, u, target); err != nil {
			return nil, err
		}
	}
	hdr = hdr.Clone()
	if hdr == nil {
		hdr = http.Header{}
	}
	if u.User != nil {
		pw, _ := u.User.Password()
		hdr.Set("Proxy-Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(u.User.Username()+":"+pw)))
	}
	req := &http.Request{
		Method:     http.MethodConnect,
		URL:        &url.URL{Opaque: target},
		Host:       target,
		Header:     hdr,
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
	}

	cctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	// Cancelling the context unblocks the exchange by expiring the
	// connection's deadline.
	stop := context.AfterFunc(cctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	resp, br, err := exchangeConnect(conn, req, t.maxHeaderBytes())
	if !stop() {
		if cerr := cctx.Err(); cerr != nil {
			err = cerr
		}
		return nil, fmt.Errorf("rustlshttp: CONNECT to %s through proxy %s: %w", target, u.Redacted(), err)
	}
	if err != nil {
		return nil, fmt.Errorf("rustlshttp: CONNECT to %s through proxy %s: %w", target, u.Redacted(), err)
	}
	if err := conn.SetDeadline(time.Time{}); err != nil {
		return nil, err
	}
	if t.base.OnProxyConnectResponse != nil {
		if err := t.base.OnProxyConnectResponse(ctx, u, req, resp); err != nil {
			return nil, err
		}
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, &ProxyError{Proxy: u.Redacted(), Target: target, StatusCode: resp.StatusCode, Status: resp.Status}
	}
	if n := br.Buffered(); n > 0 {
		// The proxy sent tunnel bytes along with its answer.
		early, _ := br.Peek(n)
		return &prefixConn{Conn: conn, early: append([]byte(nil), early...)}, nil
	}
	return conn, nil
}

// exchangeConnect writes req on conn and reads the proxy's answer, at most
// limit bytes of header.
func exchangeConnect(conn net.Conn, req *http.Request, limit int64) (*http.Response, *bufio.Reader, error) {
	if err := req.Write(conn); err != nil {
		return nil, nil, err
	}
	lr := &io.LimitedReader{R: conn, N: limit}
	br := bufio.NewReader(lr)
	resp, err := http.ReadResponse(br, req)
	if err != nil {
		if lr.N <= 0 {
			return nil, nil, errors.New("the proxy's answer exceeds MaxResponseHeaderBytes")
		}
		return nil, nil, err
	}
	return resp, br, nil
}

// maxHeaderBytes is the HTTP/1.1 transport's MaxResponseHeaderBytes, or
// net/http's default.
func (t *Transport) maxHeaderBytes() int64 {
	if n := t.base.MaxResponseHeaderBytes; n > 0 {
		return n
	}
	return 10 << 20
}

// prefixConn is a tunnel whose first bytes arrived with the proxy's answer
// to CONNECT.
type prefixConn struct {
	net.Conn
	early []byte
}

func (c *prefixConn) Read(p []byte) (int, error) {
	if len(c.early) > 0 {
		n := copy(p, c.early)
		c.early = c.early[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}
