package rustlshttp

//lint:file-ignore SA1019 Server.HTTP2 takes x/net/http2 settings; this test checks they apply.

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorustls/gorustls/rustls"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/http2"
)

type ctxKey string

// goClients are crypto/tls clients that speak HTTP/2 and HTTP/1.1.
func goClients(t *testing.T, p *testPKI) (h2, h1 *http.Client) {
	h2 = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: p.pool}, ForceAttemptHTTP2: true}}
	h1 = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: p.pool, NextProtos: []string{"http/1.1"}}}}
	t.Cleanup(h2.CloseIdleConnections)
	t.Cleanup(h1.CloseIdleConnections)
	return h2, h1
}

// BaseContext, ConnContext and ConnState apply to HTTP/2 connections as
// they do to HTTP/1.1 ones, and both see the *rustls.Stream.
func TestServerConnHooksOnBothProtocols(t *testing.T) {
	p := newPKI(t)
	var mu sync.Mutex
	states := map[net.Conn][]http.ConnState{}
	var listeners []net.Listener
	h1 := &http.Server{
		BaseContext: func(ln net.Listener) context.Context {
			mu.Lock()
			listeners = append(listeners, ln)
			mu.Unlock()
			return context.WithValue(context.Background(), ctxKey("base"), "B")
		},
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			_, ok := c.(*rustls.Stream)
			return context.WithValue(ctx, ctxKey("conn"), fmt.Sprintf("stream=%v", ok))
		},
		ConnState: func(c net.Conn, s http.ConnState) {
			mu.Lock()
			states[c] = append(states[c], s)
			mu.Unlock()
		},
	}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s base=%v conn=%v tls=%v", r.Proto, r.Context().Value(ctxKey("base")), r.Context().Value(ctxKey("conn")), r.TLS != nil)
	})
	ln, url := startServer(t, &Server{Config: p.serverConfig(t, "h2", "http/1.1"), Handler: handler, HTTP1: h1})
	h2c, h1c := goClients(t, p)
	for _, tc := range []struct {
		c     *http.Client
		proto string
	}{{h2c, "HTTP/2.0"}, {h1c, "HTTP/1.1"}} {
		for range 2 {
			_, body := get(t, tc.c, url, "")
			assert.Equal(t, tc.proto+" base=B conn=stream=true tls=true", body)
		}
		tc.c.CloseIdleConnections()
	}
	mu.Lock()
	assert.Equal(t, []net.Listener{ln}, listeners, "BaseContext gets the listener given to Serve")
	mu.Unlock()
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		closed := 0
		for _, s := range states {
			if len(s) > 0 && s[len(s)-1] == http.StateClosed {
				closed++
			}
		}
		return closed == 2
	}, 10*time.Second, 10*time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, states, 2, "one key per connection: %v", states)
	for c, s := range states {
		require.IsType(t, (*rustls.Stream)(nil), c)
		proto := c.(*rustls.Stream).ConnectionState().NegotiatedProtocol
		assert.Equal(t, http.StateNew, s[0], proto)
		assert.Contains(t, s, http.StateActive, proto)
		assert.Contains(t, s, http.StateIdle, proto)
		assert.Equal(t, http.StateClosed, s[len(s)-1], proto)
	}
}

// serverSettings reads the SETTINGS frame a server sends first on an h2
// connection.
func serverSettings(t *testing.T, p *testPKI, addr string) map[http2.SettingID]uint32 {
	t.Helper()
	s, err := rustls.DialContext(context.Background(), "tcp", addr, p.clientConfig(t, "h2"), rustls.StreamOptions{})
	require.NoError(t, err)
	defer s.Close()
	require.NoError(t, s.SetDeadline(time.Now().Add(10*time.Second)))
	_, err = io.WriteString(s, http2.ClientPreface)
	require.NoError(t, err)
	fr := http2.NewFramer(s, s)
	require.NoError(t, fr.WriteSettings())
	f, err := fr.ReadFrame()
	require.NoError(t, err)
	sf, ok := f.(*http2.SettingsFrame)
	require.True(t, ok, "first frame %T", f)
	got := map[http2.SettingID]uint32{}
	require.NoError(t, sf.ForeachSetting(func(s http2.Setting) error { got[s.ID] = s.Val; return nil }))
	return got
}

func TestServerHTTP2Limits(t *testing.T) {
	p := newPKI(t)
	// net/http's own HTTP/2 settings (http.Server.HTTP2).
	_, url := startServer(t, &Server{Config: p.serverConfig(t, "h2"), Handler: infoHandler,
		HTTP1: &http.Server{HTTP2: &http.HTTP2Config{MaxConcurrentStreams: 7}}})
	assert.Equal(t, uint32(7), serverSettings(t, p, strings.TrimPrefix(url, "https://"))[http2.SettingMaxConcurrentStreams])
	// x/net/http2's (Server.HTTP2).
	_, url = startServer(t, &Server{Config: p.serverConfig(t, "h2"), Handler: infoHandler,
		HTTP2: &http2.Server{MaxConcurrentStreams: 5}})
	assert.Equal(t, uint32(5), serverSettings(t, p, strings.TrimPrefix(url, "https://"))[http2.SettingMaxConcurrentStreams])
}

// HTTP1.Protocols decides which protocols are served, as in net/http: a
// connection that negotiated a disabled one is closed.
func TestServerProtocols(t *testing.T) {
	p := newPKI(t)
	for _, only := range []string{"HTTP/1.1", "HTTP/2.0"} {
		var protos http.Protocols
		protos.SetHTTP1(only == "HTTP/1.1")
		protos.SetHTTP2(only == "HTTP/2.0")
		_, url := startServer(t, &Server{Config: p.serverConfig(t, "h2", "http/1.1"), Handler: infoHandler,
			HTTP1: &http.Server{Protocols: &protos}})
		h2c, h1c := goClients(t, p)
		for _, tc := range []struct {
			c     *http.Client
			proto string
		}{{h2c, "HTTP/2.0"}, {h1c, "HTTP/1.1"}} {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
			resp, err := tc.c.Do(req)
			cancel()
			if tc.proto == only {
				require.NoError(t, err, only)
				resp.Body.Close()
				assert.Equal(t, only, resp.Proto)
			} else {
				assert.Error(t, err, "%s served with only %s enabled", tc.proto, only)
				if err == nil {
					resp.Body.Close()
				}
			}
		}
	}
}

// Every exported field of HTTP1 reaches the server that serves both
// protocols, but for the ones the doc says are replaced or wrapped.
func TestServerCopiesEveryHTTP1Field(t *testing.T) {
	p := newPKI(t)
	src := &http.Server{}
	v := reflect.ValueOf(src).Elem()
	for i := range v.NumField() {
		f := v.Type().Field(i)
		if !f.IsExported() {
			continue
		}
		fv := v.Field(i)
		switch fv.Kind() {
		case reflect.String:
			fv.SetString("x")
		case reflect.Bool:
			fv.SetBool(true)
		case reflect.Int, reflect.Int64:
			fv.SetInt(12345)
		case reflect.Pointer:
			fv.Set(reflect.New(f.Type.Elem()))
		case reflect.Map:
			fv.Set(reflect.MakeMap(f.Type))
		case reflect.Func:
			fv.Set(reflect.MakeFunc(f.Type, func([]reflect.Value) []reflect.Value { panic("not called") }))
		case reflect.Interface:
			fv.Set(reflect.ValueOf(http.NotFoundHandler()))
		default:
			t.Fatalf("field %s of kind %s: teach this test", f.Name, fv.Kind())
		}
	}
	src.ErrorLog = log.New(io.Discard, "", 0)
	srv := &Server{Config: p.serverConfig(t, "h2"), Handler: infoHandler, HTTP1: src}
	require.NoError(t, srv.init())
	got := reflect.ValueOf(srv.hs).Elem()
	replaced := map[string]bool{"Addr": true, "Handler": true, "TLSConfig": true, "TLSNextProto": true, "Protocols": true,
		"ConnState": true, "ConnContext": true, "BaseContext": true}
	for i := range v.NumField() {
		f := v.Type().Field(i)
		if !f.IsExported() || replaced[f.Name] {
			continue
		}
		if f.Type.Kind() == reflect.Func {
			assert.Equal(t, v.Field(i).Pointer(), got.Field(i).Pointer(), f.Name)
		} else {
			assert.Equal(t, v.Field(i).Interface(), got.Field(i).Interface(), f.Name)
		}
	}
	for _, name := range []string{"ConnState", "ConnContext", "BaseContext"} {
		assert.False(t, got.FieldByName(name).IsNil(), name)
	}
}

func TestServerSetKeepAlivesEnabled(t *testing.T) {
	p := newPKI(t)
	srv := &Server{Config: p.serverConfig(t, "h2", "http/1.1"), Handler: infoHandler}
	ln, url := startServer(t, srv)
	srv.SetKeepAlivesEnabled(false)
	_, h1c := goClients(t, p)
	for range 3 {
		resp, _ := get(t, h1c, url, "")
		assert.True(t, resp.Close, "Connection: close")
	}
	assert.Equal(t, int32(3), ln.n.Load(), "no connection reused")
}

// HTTP1.ConnContext may return a context not derived from the one it got.
func TestServerConnContextNotDerived(t *testing.T) {
	p := newPKI(t)
	_, url := startServer(t, &Server{Config: p.serverConfig(t, "h2", "http/1.1"), Handler: infoHandler,
		HTTP1: &http.Server{ConnContext: func(context.Context, net.Conn) context.Context { return context.Background() }}})
	h2c, h1c := goClients(t, p)
	for _, c := range []*http.Client{h2c, h1c} {
		_, body := get(t, c, url, "")
		assert.Contains(t, body, " localhost 304 ")
	}
}
