package rustlshttp

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorustls/gorustls/rustls"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// syncLog is a log.Logger target that tests can read.
type syncLog struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *syncLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *syncLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// panicOnce returns a function that panics with msg on its first call
// only, and whether it has been called.
func panicOnce(msg string) (func(), *atomic.Int32) {
	var n atomic.Int32
	return func() {
		if n.Add(1) == 1 {
			panic(msg)
		}
	}, &n
}

// A panicking user callback costs the connection that triggered it, is
// logged with its stack, and the server goes on serving.
func TestServerContainsCallbackPanics(t *testing.T) {
	p := newPKI(t)
	k, err := rustls.NewCertifiedKey(p.certPEM, p.keyPEM)
	require.NoError(t, err)
	defer k.Close()
	tlsCert := p.tlsCert(t)

	for _, tc := range []struct {
		name string
		// setup fills srv; boom panics on its first call.
		setup func(t *testing.T, srv *Server, boom func())
		// logged is false where the panic is recovered inside the rustls
		// package (a C callback), which does not hand it on.
		logged bool
	}{
		{"Lazy.Choose", func(t *testing.T, srv *Server, boom func()) {
			cfg := p.serverConfig(t, "h2", "http/1.1")
			srv.Lazy = &rustls.LazyAcceptor{Choose: func(*rustls.ClientHello) (*rustls.ServerConfig, error) { boom(); return cfg, nil }}
		}, true},
		{"GetConfigForClient", func(t *testing.T, srv *Server, boom func()) {
			la, err := rustls.LazyAcceptorFromTLS(&tls.Config{NextProtos: []string{"h2", "http/1.1"},
				GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) { boom(); return nil, nil },
				Certificates:       []tls.Certificate{tlsCert}}, nil)
			require.NoError(t, err)
			srv.Lazy = la
		}, true},
		{"GetCertificate", func(t *testing.T, srv *Server, boom func()) {
			cfg, err := rustls.ServerConfigFromTLS(&tls.Config{NextProtos: []string{"h2", "http/1.1"},
				GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { boom(); return &tlsCert, nil }}, nil)
			require.NoError(t, err)
			t.Cleanup(func() { cfg.Close() })
			srv.Config = cfg
		}, false},
		{"OnHandshake", func(t *testing.T, srv *Server, boom func()) {
			srv.Config = p.serverConfig(t, "h2", "http/1.1")
			srv.OnHandshake = func(*rustls.Stream) { boom() }
		}, true},
		{"ConnContext", func(t *testing.T, srv *Server, boom func()) {
			srv.Config = p.serverConfig(t, "h2", "http/1.1")
			srv.HTTP1 = &http.Server{ConnContext: func(ctx context.Context, _ net.Conn) context.Context { boom(); return ctx }}
		}, true},
		{"ConnState", func(t *testing.T, srv *Server, boom func()) {
			srv.Config = p.serverConfig(t, "h2", "http/1.1")
			srv.HTTP1 = &http.Server{ConnState: func(net.Conn, http.ConnState) { boom() }}
		}, true},
		{"NextProto", func(t *testing.T, srv *Server, boom func()) {
			srv.Config = p.serverConfig(t, "h2")
			srv.NextProto = map[string]func(*rustls.Stream){"h2": func(s *rustls.Stream) {
				defer s.Close()
				boom()
				_, _ = io.WriteString(s, "taken over")
			}}
		}, true},
		{"handler", func(t *testing.T, srv *Server, boom func()) {
			srv.Config = p.serverConfig(t, "h2", "http/1.1")
			srv.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { boom(); infoHandler(w, r) })
		}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			boom, calls := panicOnce("boom from " + tc.name)
			logs := &syncLog{}
			srv := &Server{Handler: infoHandler, Logger: slog.New(slog.NewTextHandler(logs, nil))}
			tc.setup(t, srv, boom)
			_, url := startServer(t, srv)
			addr := strings.TrimPrefix(url, "https://")

			// The first client triggers the panic; it gets an error or a
			// closed connection, not an answer.
			if tc.name == "NextProto" {
				for i, want := range []string{"", "taken over"} {
					s, err := rustls.DialContext(context.Background(), "tcp", addr, p.clientConfig(t, "h2"), rustls.StreamOptions{})
					require.NoError(t, err)
					require.NoError(t, s.SetDeadline(time.Now().Add(10*time.Second)))
					got, _ := io.ReadAll(s)
					s.Close()
					assert.Equal(t, want, string(got), "client %d", i)
				}
			} else {
				tr := NewTransport(p.clientConfig(t, "h2", "http/1.1"))
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
				resp, err := (&http.Client{Transport: tr}).Do(req)
				cancel()
				tr.CloseIdleConnections()
				if err == nil {
					_, err = io.ReadAll(resp.Body)
					resp.Body.Close()
				}
				require.Error(t, err, "the panicking connection was answered")
				assert.False(t, errors.Is(err, context.DeadlineExceeded), "the client hung: %v", err)

				// A second client is served.
				c := &http.Client{Transport: NewTransport(p.clientConfig(t, "h2", "http/1.1"))}
				defer c.CloseIdleConnections()
				_, body := get(t, c, url, "")
				assert.True(t, strings.HasPrefix(body, "HTTP/2.0 h2 localhost"), body)
			}
			assert.GreaterOrEqual(t, calls.Load(), int32(2))
			if tc.logged {
				require.Eventually(t, func() bool { return strings.Contains(logs.String(), "boom from "+tc.name) }, 5*time.Second, 10*time.Millisecond)
				assert.Contains(t, logs.String(), "panic", logs.String())
				assert.Contains(t, logs.String(), "goroutine ", "with a stack")
			}
		})
	}
}

// A panicking HTTP1.BaseContext fails Serve with an error instead of
// crashing the process.
func TestServerBaseContextPanic(t *testing.T) {
	p := newPKI(t)
	logs := &syncLog{}
	srv := &Server{Config: p.serverConfig(t, "h2"), Handler: infoHandler, Logger: slog.New(slog.NewTextHandler(logs, nil)),
		HTTP1: &http.Server{BaseContext: func(net.Listener) context.Context { panic("base boom") }}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	err = srv.Serve(ln)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "BaseContext")
	assert.Contains(t, logs.String(), "base boom")
	_, err = net.Dial("tcp", ln.Addr().String())
	assert.Error(t, err, "Serve closed its listener")
}
