package rustlshttp

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorustls/gorustls/rustls"
	"github.com/stretchr/testify/require"
)

// testProxy is a small forward proxy on loopback: CONNECT tunnels, plain
// absolute-URL requests, optional Basic credentials and TLS (crypto/tls on
// the proxy's side; the Transport under test speaks rustls to it). Every
// host name leads to 127.0.0.1, at the port asked for.
type testProxy struct {
	URL       *url.URL // without user info
	user, pw  string   // required credentials, if user is set
	refuse    int      // answer every CONNECT with this status, if set
	tunnels   atomic.Int32
	forwarded atomic.Int32 // plain requests relayed
	conns     atomic.Int32 // connections accepted

	mu      sync.Mutex
	targets []string      // CONNECT targets, in order
	headers []http.Header // CONNECT request headers, in order
}

// startProxy starts a proxy; with tlsCfg it is an https:// proxy. The
// settings run before it starts (network I/O orders nothing for the race
// detector).
func startProxy(t *testing.T, tlsCfg *tls.Config, settings ...func(*testProxy)) *testProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &testProxy{URL: &url.URL{Scheme: "http", Host: ln.Addr().String()}}
	for _, set := range settings {
		set(p)
	}
	if tlsCfg != nil {
		ln = tls.NewListener(ln, tlsCfg)
		_, port, _ := net.SplitHostPort(p.URL.Host)
		p.URL = &url.URL{Scheme: "https", Host: "localhost:" + port}
	}
	var wg sync.WaitGroup
	var open sync.Map
	t.Cleanup(func() {
		ln.Close()
		open.Range(func(k, _ any) bool { k.(net.Conn).Close(); return true })
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.conns.Add(1)
			open.Store(c, nil)
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer open.Delete(c)
				defer c.Close()
				p.serve(c, &open)
			}()
		}
	}()
	return p
}

// requireUser makes the proxy require Basic credentials.
func requireUser(user, pw string) func(*testProxy) {
	return func(p *testProxy) { p.user, p.pw = user, pw }
}

// refuseWith makes the proxy answer every CONNECT with status.
func refuseWith(status int) func(*testProxy) {
	return func(p *testProxy) { p.refuse = status }
}

// withUser returns the proxy URL with user info.
func (p *testProxy) withUser(user, pw string) *url.URL {
	u := *p.URL
	u.User = url.UserPassword(user, pw)
	return &u
}

func (p *testProxy) seen() ([]string, []http.Header) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.targets...), append([]http.Header(nil), p.headers...)
}

// loopback is where the proxy (and the tests' DialContext) send every
// host: 127.0.0.1 at addr's port.
func loopback(addr string) string {
	_, port, _ := net.SplitHostPort(addr)
	return "127.0.0.1:" + port
}

func dialLoopback(ctx context.Context, network, addr string) (net.Conn, error) {
	return (&net.Dialer{Timeout: 5 * time.Second}).DialContext(ctx, network, loopback(addr))
}

func (p *testProxy) serve(c net.Conn, open *sync.Map) {
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	br := bufio.NewReader(c)
	for {
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		if p.user != "" {
			want := "Basic " + base64.StdEncoding.EncodeToString([]byte(p.user+":"+p.pw))
			if req.Header.Get("Proxy-Authorization") != want {
				fmt.Fprint(c, "HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"test\"\r\nContent-Length: 0\r\n\r\n")
				continue
			}
		}
		if req.Method != http.MethodConnect {
			if !p.forward(c, req) {
				return
			}
			continue
		}
		p.mu.Lock()
		p.targets = append(p.targets, req.Host)
		p.headers = append(p.headers, req.Header.Clone())
		p.mu.Unlock()
		if p.refuse != 0 {
			fmt.Fprintf(c, "HTTP/1.1 %d %s\r\nContent-Length: 0\r\n\r\n", p.refuse, http.StatusText(p.refuse))
			continue
		}
		dst, err := net.DialTimeout("tcp", loopback(req.Host), 5*time.Second)
		if err != nil {
			fmt.Fprint(c, "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
			return
		}
		open.Store(dst, nil)
		defer open.Delete(dst)
		defer dst.Close()
		p.tunnels.Add(1)
		_ = c.SetDeadline(time.Time{})
		fmt.Fprint(c, "HTTP/1.1 200 Connection established\r\n\r\n")
		done := make(chan struct{})
		go func() {
			_, _ = io.Copy(dst, br)
			if tc, ok := dst.(*net.TCPConn); ok {
				_ = tc.CloseWrite()
			}
			close(done)
		}()
		_, _ = io.Copy(c, dst)
		_ = c.Close()
		<-done
		return
	}
}

// forward relays one plain request and reports whether the connection
// may carry another.
func (p *testProxy) forward(c net.Conn, req *http.Request) bool {
	if req.URL.Scheme != "http" || req.URL.Host == "" {
		fmt.Fprint(c, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
		return false
	}
	p.forwarded.Add(1)
	out := req.Clone(context.Background())
	out.RequestURI = ""
	out.Header.Del("Proxy-Authorization")
	tr := &http.Transport{DialContext: dialLoopback}
	defer tr.CloseIdleConnections()
	resp, err := tr.RoundTrip(out)
	if err != nil {
		fmt.Fprint(c, "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
		return true
	}
	defer resp.Body.Close()
	return resp.Write(c) == nil
}

// testSOCKS5 is a minimal SOCKS5 proxy (RFC 1928, with RFC 1929
// user/password when user is set) sending every host to 127.0.0.1.
type testSOCKS5 struct {
	URL      *url.URL
	user, pw string
	tunnels  atomic.Int32
	mu       sync.Mutex
	targets  []string
}

func startSOCKS5(t *testing.T, user, pw string) *testSOCKS5 {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	s := &testSOCKS5{URL: &url.URL{Scheme: "socks5", Host: ln.Addr().String()}, user: user, pw: pw}
	if user != "" {
		s.URL.User = url.UserPassword(user, pw)
	}
	var wg sync.WaitGroup
	var open sync.Map
	t.Cleanup(func() {
		ln.Close()
		open.Range(func(k, _ any) bool { k.(net.Conn).Close(); return true })
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			open.Store(c, nil)
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer open.Delete(c)
				defer c.Close()
				dst, err := s.handshake(c)
				if err != nil {
					return
				}
				open.Store(dst, nil)
				defer open.Delete(dst)
				defer dst.Close()
				go func() { _, _ = io.Copy(dst, c); dst.Close() }()
				_, _ = io.Copy(c, dst)
			}()
		}
	}()
	return s
}

func (s *testSOCKS5) handshake(c net.Conn) (net.Conn, error) {
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	defer c.SetDeadline(time.Time{})
	var hdr [2]byte
	if _, err := io.ReadFull(c, hdr[:]); err != nil || hdr[0] != 5 {
		return nil, errors.New("not SOCKS5")
	}
	methods := make([]byte, hdr[1])
	if _, err := io.ReadFull(c, methods); err != nil {
		return nil, err
	}
	if s.user == "" {
		_, _ = c.Write([]byte{5, 0})
	} else {
		_, _ = c.Write([]byte{5, 2})
		var b [2]byte
		if _, err := io.ReadFull(c, b[:]); err != nil {
			return nil, err
		}
		user := make([]byte, b[1])
		_, _ = io.ReadFull(c, user)
		if _, err := io.ReadFull(c, b[:1]); err != nil {
			return nil, err
		}
		pw := make([]byte, b[0])
		_, _ = io.ReadFull(c, pw)
		if string(user) != s.user || string(pw) != s.pw {
			_, _ = c.Write([]byte{1, 1})
			return nil, errors.New("bad credentials")
		}
		_, _ = c.Write([]byte{1, 0})
	}
	var req [4]byte
	if _, err := io.ReadFull(c, req[:]); err != nil || req[1] != 1 {
		return nil, errors.New("not a CONNECT")
	}
	var host string
	switch req[3] {
	case 1, 4:
		ip := make(net.IP, 4)
		if req[3] == 4 {
			ip = make(net.IP, 16)
		}
		_, _ = io.ReadFull(c, ip)
		host = ip.String()
	case 3:
		var n [1]byte
		_, _ = io.ReadFull(c, n[:])
		name := make([]byte, n[0])
		_, _ = io.ReadFull(c, name)
		host = string(name)
	}
	var port [2]byte
	if _, err := io.ReadFull(c, port[:]); err != nil {
		return nil, err
	}
	target := net.JoinHostPort(host, strconv.Itoa(int(binary.BigEndian.Uint16(port[:]))))
	s.mu.Lock()
	s.targets = append(s.targets, target)
	s.mu.Unlock()
	dst, err := net.DialTimeout("tcp", loopback(target), 5*time.Second)
	if err != nil {
		_, _ = c.Write([]byte{5, 5, 0, 1, 0, 0, 0, 0, 0, 0})
		return nil, err
	}
	s.tunnels.Add(1)
	_, _ = c.Write([]byte{5, 0, 0, 1, 127, 0, 0, 1, 0, 0})
	return dst, nil
}

// origins starts an HTTP/2 and an HTTP/1.1-only gorustls server whose
// certificate (from p's private CA) names every host the proxy tests use.
func origins(t *testing.T, p *testPKI, h http.Handler) (h2, h1 *countingListener, h2Port, h1Port string) {
	t.Helper()
	certPEM, keyPEM := p.leaf(t, "localhost", "origin.test", "other.test", "bypass.test")
	k, err := rustls.NewCertifiedKey(certPEM, keyPEM)
	require.NoError(t, err)
	defer k.Close()
	serve := func(protos ...string) (*countingListener, string) {
		cfg, err := rustls.NewServerConfig(rustls.ServerOptions{Certificates: []*rustls.CertifiedKey{k}, NextProtos: protos})
		require.NoError(t, err)
		t.Cleanup(func() { cfg.Close() })
		ln, u := startServer(t, &Server{Config: cfg, Handler: h})
		_, port, _ := net.SplitHostPort(u[len("https://"):])
		return ln, port
	}
	h2, h2Port = serve("h2", "http/1.1")
	h1, h1Port = serve("http/1.1")
	return h2, h1, h2Port, h1Port
}

// proxyTLS is the crypto/tls server config of an https:// proxy with a
// certificate for localhost from p's CA.
func proxyTLS(t *testing.T, p *testPKI, protos ...string) *tls.Config {
	t.Helper()
	certPEM, keyPEM := p.leaf(t, "localhost")
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	require.NoError(t, err)
	if protos == nil {
		protos = []string{"http/1.1"}
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: protos}
}

// fixedProxy is a Proxy function that sends https and http URLs to u.
func fixedProxy(u *url.URL) func(*http.Request) (*url.URL, error) {
	return func(*http.Request) (*url.URL, error) { return u, nil }
}

// try sends a GET and returns the response (body read) or the error.
func try(t *testing.T, c *http.Client, url string) (*http.Response, string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	require.NoError(t, err)
	resp, err := c.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, string(b), err
}
