package rustlshttp

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorustls/gorustls/rustls"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/http2"
)

// countingListener counts the transport connections it accepts.
type countingListener struct {
	net.Listener
	n atomic.Int32
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.n.Add(1)
	}
	return c, err
}

// infoHandler answers with what the server saw of the request.
var infoHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	if r.TLS == nil {
		http.Error(w, "no TLS state", http.StatusInternalServerError)
		return
	}
	body, _ := io.ReadAll(r.Body)
	fmt.Fprintf(w, "%s %s %s %x %s", r.Proto, r.TLS.NegotiatedProtocol, r.TLS.ServerName, r.TLS.Version, body)
})

// startServer serves h with srv on a counting loopback listener.
func startServer(t *testing.T, srv *Server) (*countingListener, string) {
	t.Helper()
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ln := &countingListener{Listener: inner}
	if srv.Logger == nil {
		srv.Logger = slog.New(slog.DiscardHandler)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		require.NoError(t, srv.Shutdown(ctx))
		require.ErrorIs(t, <-done, ErrServerClosed)
	})
	_, port, _ := net.SplitHostPort(inner.Addr().String())
	return ln, "https://localhost:" + port
}

func get(t *testing.T, c *http.Client, url string, body string) (*http.Response, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	method, rd := http.MethodGet, io.Reader(nil)
	if body != "" {
		method, rd = http.MethodPost, strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	require.NoError(t, err)
	resp, err := c.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, string(b)
}

func TestServerHTTP2AndHTTP1ToGoClients(t *testing.T) {
	p := newPKI(t)
	_, url := startServer(t, &Server{Config: p.serverConfig(t, "h2", "http/1.1"), Handler: infoHandler})

	h2 := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: p.pool}, ForceAttemptHTTP2: true}}
	defer h2.CloseIdleConnections()
	resp, body := get(t, h2, url, "up")
	assert.Equal(t, "HTTP/2.0", resp.Proto)
	assert.Equal(t, "HTTP/2.0 h2 localhost 304 up", body)

	h1 := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: p.pool, MaxVersion: tls.VersionTLS12, NextProtos: []string{"http/1.1"}}}}
	defer h1.CloseIdleConnections()
	resp, body = get(t, h1, url, "")
	assert.Equal(t, "HTTP/1.1", resp.Proto)
	assert.Equal(t, "HTTP/1.1 http/1.1 localhost 303 ", body)
}

func TestTransportHTTP2ReusesOneConnection(t *testing.T) {
	p := newPKI(t)
	ln, url := startServer(t, &Server{Config: p.serverConfig(t, "h2", "http/1.1"), Handler: infoHandler})
	tr := NewTransport(p.clientConfig(t, "h2", "http/1.1"))
	var dials atomic.Int32
	tr.OnDial = func(*rustls.Stream) { dials.Add(1) }
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr}
	for i := range 4 {
		resp, body := get(t, c, url+"/seq", fmt.Sprint(i))
		assert.Equal(t, "HTTP/2.0", resp.Proto)
		assert.Equal(t, fmt.Sprintf("HTTP/2.0 h2 localhost 304 %d", i), body)
		require.NotNil(t, resp.TLS)
		assert.Equal(t, "h2", resp.TLS.NegotiatedProtocol)
	}
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, body := get(t, c, url+"/par", fmt.Sprint(i))
			assert.True(t, strings.HasPrefix(body, "HTTP/2.0 h2"))
		}()
	}
	wg.Wait()
	assert.Equal(t, int32(1), ln.n.Load(), "one connection for every request")
	assert.Equal(t, int32(1), dials.Load())
}

func TestTransportConcurrentFirstRequestsShareOneHTTP2Connection(t *testing.T) {
	p := newPKI(t)
	ln, url := startServer(t, &Server{Config: p.serverConfig(t, "h2", "http/1.1"), Handler: infoHandler})
	tr := NewTransport(p.clientConfig(t, "h2", "http/1.1"))
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr}
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, body := get(t, c, url, fmt.Sprint(i))
			assert.Equal(t, fmt.Sprintf("HTTP/2.0 h2 localhost 304 %d", i), body)
		}()
	}
	wg.Wait()
	assert.Equal(t, int32(1), ln.n.Load())
}

func TestTransportHTTP1ReusesConnections(t *testing.T) {
	p := newPKI(t)
	ln, url := startServer(t, &Server{Config: p.serverConfig(t, "http/1.1"), Handler: infoHandler})
	tr := NewTransport(p.clientConfig(t, "h2", "http/1.1"))
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr}
	for i := range 5 {
		resp, body := get(t, c, url, fmt.Sprint(i))
		assert.Equal(t, "HTTP/1.1", resp.Proto)
		assert.Equal(t, fmt.Sprintf("HTTP/1.1 http/1.1 localhost 304 %d", i), body)
		require.NotNil(t, resp.TLS, "Response.TLS is filled on HTTP/1.1 too")
		assert.Equal(t, "http/1.1", resp.TLS.NegotiatedProtocol)
		assert.Equal(t, "localhost", resp.TLS.ServerName)
	}
	assert.Equal(t, int32(1), ln.n.Load(), "keep-alive reuses the first connection")

	// A server without ALPN at all is spoken to in HTTP/1.1 too.
	p2 := newPKI(t)
	ln2, url2 := startServer(t, &Server{Config: p2.serverConfig(t), Handler: infoHandler})
	c2 := &http.Client{Transport: NewTransport(p2.clientConfig(t, "h2", "http/1.1"))}
	for range 3 {
		resp, body := get(t, c2, url2, "")
		assert.Equal(t, "HTTP/1.1", resp.Proto)
		assert.Equal(t, "HTTP/1.1  localhost 304 ", body)
	}
	c2.CloseIdleConnections()
	assert.Equal(t, int32(1), ln2.n.Load())
}

func TestTransportAgainstGoServer(t *testing.T) {
	p := newPKI(t)
	for _, h2 := range []bool{true, false} {
		srv := httptest.NewUnstartedServer(infoHandler)
		srv.EnableHTTP2 = h2
		srv.TLS = &tls.Config{Certificates: []tls.Certificate{p.tlsCert(t)}}
		srv.StartTLS()
		_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
		tr := NewTransport(p.clientConfig(t, "h2", "http/1.1"))
		c := &http.Client{Transport: tr}
		want := "HTTP/1.1"
		if h2 {
			want = "HTTP/2.0"
		}
		for range 2 {
			resp, body := get(t, c, "https://localhost:"+port+"/", "go")
			assert.Equal(t, want, resp.Proto)
			assert.True(t, strings.HasPrefix(body, want), body)
		}
		tr.CloseIdleConnections()
		srv.Close()
	}
}

// plaintextGet sends a GET in plain HTTP/1.1 (no TLS) to addr and returns
// the response read back; its connection and body close when the test
// ends.
func plaintextGet(t *testing.T, addr string) *http.Response {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	require.NoError(t, c.SetDeadline(time.Now().Add(10*time.Second)))
	_, err = c.Write([]byte("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"))
	require.NoError(t, err)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = resp.Body.Close() })
	return resp
}

func TestServerAnswersPlaintextHTTP(t *testing.T) {
	p := newPKI(t)
	_, url := startServer(t, &Server{Config: p.serverConfig(t, "http/1.1"), Handler: infoHandler})
	addr := strings.TrimPrefix(url, "https://")
	resp := plaintextGet(t, addr)
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	body, _ := io.ReadAll(resp.Body)
	assert.Contains(t, string(body), "HTTP request to an HTTPS server")

	// Non-HTTP garbage just gets the connection closed (after an alert).
	g, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer g.Close()
	require.NoError(t, g.SetDeadline(time.Now().Add(10*time.Second)))
	_, err = g.Write([]byte("\x00\x01garbage garbage garbage"))
	require.NoError(t, err)
	rest, err := io.ReadAll(g)
	require.NoError(t, err)
	assert.NotContains(t, string(rest), "HTTP/1.0")
}

func TestServerSilentClientDoesNotBlock(t *testing.T) {
	p := newPKI(t)
	var logs strings.Builder
	var mu sync.Mutex
	srv := &Server{Config: p.serverConfig(t, "h2", "http/1.1"), Handler: infoHandler,
		Options: rustls.StreamOptions{HandshakeTimeout: 300 * time.Millisecond},
		Logger:  slog.New(slog.NewTextHandler(writerFunc(func(b []byte) (int, error) { mu.Lock(); defer mu.Unlock(); return logs.Write(b) }), nil))}
	_, url := startServer(t, srv)
	silent, err := net.Dial("tcp", strings.TrimPrefix(url, "https://"))
	require.NoError(t, err)
	defer silent.Close()
	c := &http.Client{Transport: NewTransport(p.clientConfig(t, "h2", "http/1.1"))}
	defer c.CloseIdleConnections()
	_, body := get(t, c, url, "")
	assert.True(t, strings.HasPrefix(body, "HTTP/2.0"))
	require.NoError(t, silent.SetReadDeadline(time.Now().Add(10*time.Second)))
	_, err = io.ReadAll(silent)
	var ne net.Error
	assert.False(t, errors.As(err, &ne) && ne.Timeout(), "silent client never dropped")
	require.Eventually(t, func() bool { mu.Lock(); defer mu.Unlock(); return strings.Contains(logs.String(), "handshake error") }, 5*time.Second, 10*time.Millisecond)
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }

func TestServerLazySNIRouting(t *testing.T) {
	p := newPKI(t)
	cfgs := map[string]*rustls.ServerConfig{}
	for _, n := range []string{"a.test", "b.test"} {
		certPEM, keyPEM := p.leaf(t, n)
		k, err := rustls.NewCertifiedKey(certPEM, keyPEM)
		require.NoError(t, err)
		cfg, err := rustls.NewServerConfig(rustls.ServerOptions{Certificates: []*rustls.CertifiedKey{k}, NextProtos: []string{"h2"}})
		require.NoError(t, err)
		k.Close()
		defer cfg.Close()
		cfgs[n] = cfg
	}
	var seen []string
	srv := &Server{Handler: infoHandler, Lazy: &rustls.LazyAcceptor{Choose: func(h *rustls.ClientHello) (*rustls.ServerConfig, error) {
		return cfgs[h.ServerName], nil
	}}, OnHandshake: func(s *rustls.Stream) { seen = append(seen, s.ConnectionState().ServerName) }}
	_, url := startServer(t, srv)
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(url, "https://"))
	for _, n := range []string{"a.test", "b.test"} {
		tr := NewTransport(p.clientConfig(t, "h2"))
		tr.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, "127.0.0.1:"+port)
		}
		c := &http.Client{Transport: tr}
		_, body := get(t, c, "https://"+n+":"+port+"/", "")
		assert.Equal(t, "HTTP/2.0 h2 "+n+" 304 ", body)
		tr.CloseIdleConnections()
	}
	assert.Equal(t, []string{"a.test", "b.test"}, seen)
}

func TestServerConfigRequired(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	err = (&Server{}).Serve(ln)
	require.Error(t, err)
	_, err = net.Dial("tcp", ln.Addr().String())
	assert.Error(t, err, "Serve closes the listener on failure")
}

func TestTransportPlainHTTPAndMissingConfig(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "plain") }))
	defer srv.Close()
	tr := &Transport{}
	defer tr.CloseIdleConnections()
	resp, body := get(t, &http.Client{Transport: tr}, srv.URL, "")
	assert.Equal(t, "plain", body)
	assert.Nil(t, resp.TLS)
	_, err := (&http.Client{Transport: tr}).Get("https://127.0.0.1:1/")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "Config is nil")
}

func TestServerCloseEndsHTTP2Connections(t *testing.T) {
	p := newPKI(t)
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &Server{Config: p.serverConfig(t, "h2"), Handler: infoHandler, Logger: slog.New(slog.DiscardHandler)}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(inner) }()
	s, err := rustls.DialContext(context.Background(), "tcp", inner.Addr().String(), p.clientConfig(t, "h2"), rustls.StreamOptions{})
	require.NoError(t, err)
	defer s.Close()
	assert.Equal(t, "h2", s.ConnectionState().NegotiatedProtocol)
	// Wait until the server serves the connection (it answers the
	// client's preface with its SETTINGS).
	require.NoError(t, s.SetReadDeadline(time.Now().Add(10*time.Second)))
	_, err = io.WriteString(s, http2.ClientPreface)
	require.NoError(t, err)
	_, err = s.Read(make([]byte, 1))
	require.NoError(t, err)
	require.NoError(t, srv.Close())
	require.ErrorIs(t, <-done, ErrServerClosed)
	_, err = io.ReadAll(s)
	var ne net.Error
	assert.False(t, errors.As(err, &ne) && ne.Timeout(), "the HTTP/2 connection stayed open")
}

func TestTransportReconnectsAfterConnectionLoss(t *testing.T) {
	p := newPKI(t)
	var mu sync.Mutex
	var conns []net.Conn
	srv := &Server{Config: p.serverConfig(t, "h2"), Handler: infoHandler, HTTP1: &http.Server{ConnState: func(c net.Conn, s http.ConnState) {
		if s == http.StateNew {
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}}}
	ln, url := startServer(t, srv)
	tr := NewTransport(p.clientConfig(t, "h2"))
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr}
	_, body := get(t, c, url, "")
	require.True(t, strings.HasPrefix(body, "HTTP/2.0"))
	// The server drops every connection (as on an idle timeout); the next
	// GET goes over a new one.
	mu.Lock()
	for _, c := range conns {
		c.Close()
	}
	mu.Unlock()
	require.Eventually(t, func() bool {
		tr.mu.Lock()
		defer tr.mu.Unlock()
		for _, cc := range tr.h2[poolKey{addr: strings.TrimPrefix(url, "https://")}] {
			if st := cc.State(); !st.Closed && !st.Closing {
				return false
			}
		}
		return true
	}, 10*time.Second, 5*time.Millisecond)
	_, body = get(t, c, url, "")
	assert.True(t, strings.HasPrefix(body, "HTTP/2.0"))
	assert.Equal(t, int32(2), ln.n.Load())
	assert.False(t, retryable(httptest.NewRequest(http.MethodPost, "/", strings.NewReader("x"))))
	assert.True(t, retryable(httptest.NewRequest(http.MethodGet, "/", nil)))
}

func TestTransportReportsTLSFailures(t *testing.T) {
	p := newPKI(t)
	k, err := rustls.NewCertifiedKey(p.certPEM, p.keyPEM)
	require.NoError(t, err)
	defer k.Close()
	scfg, err := rustls.NewServerConfig(rustls.ServerOptions{Certificates: []*rustls.CertifiedKey{k}, NextProtos: []string{"h2"},
		ClientAuth: rustls.RequireAndVerifyClientCert, ClientCAs: p.caPEM})
	require.NoError(t, err)
	defer scfg.Close()
	_, url := startServer(t, &Server{Config: scfg, Handler: infoHandler})
	tr := NewTransport(p.clientConfig(t, "h2"))
	defer tr.CloseIdleConnections()
	_, err = (&http.Client{Transport: tr}).Get(url)
	require.Error(t, err)
	// Usually the certificate_required alert; when the server's close
	// beats the client's first write, a transport error (the alert is
	// then never read). Never x/net's bare "connection lost".
	var e *rustls.Error
	require.ErrorAs(t, err, &e)
	if !errors.Is(err, rustls.ErrAlertReceived) {
		assert.ErrorIs(t, err, rustls.ErrIO)
	}
	assert.True(t, isTLSFailure(&rustls.Error{Code: rustls.CodeAlertCertificateRequired}))
	assert.True(t, isTLSFailure(fmt.Errorf("wrapped: %w", &rustls.Error{Code: rustls.CodeCertUnknownIssuer})))
	assert.False(t, isTLSFailure(&rustls.Error{Code: rustls.CodeIO}))
	assert.False(t, isTLSFailure(io.ErrUnexpectedEOF))

	// An untrusted server fails the handshake with a certificate error.
	other := newPKI(t)
	tr2 := NewTransport(other.clientConfig(t, "h2"))
	_, err = (&http.Client{Transport: tr2}).Get(url)
	assert.ErrorIs(t, err, rustls.ErrCertificate)
}

func TestServerShutdownAbortsPendingHandshakes(t *testing.T) {
	p := newPKI(t)
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &Server{Config: p.serverConfig(t, "h2"), Handler: infoHandler, Logger: slog.New(slog.DiscardHandler),
		Options: rustls.StreamOptions{HandshakeTimeout: time.Minute}}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(inner) }()
	silent, err := net.Dial("tcp", inner.Addr().String())
	require.NoError(t, err)
	defer silent.Close()
	// Make sure the server has accepted it: a real client gets through.
	s, err := rustls.DialContext(context.Background(), "tcp", inner.Addr().String(), p.clientConfig(t, "h2"), rustls.StreamOptions{})
	require.NoError(t, err)
	s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, srv.Shutdown(ctx), "Shutdown waited for the silent client's handshake")
	require.ErrorIs(t, <-done, ErrServerClosed)
	require.NoError(t, silent.SetReadDeadline(time.Now().Add(10*time.Second)))
	_, err = io.ReadAll(silent)
	var ne net.Error
	assert.False(t, errors.As(err, &ne) && ne.Timeout())
}
