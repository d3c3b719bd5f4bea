package rustlshttp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gorustls/gorustls/rustls"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/http/httpproxy"
)

func TestProxyTunnelsHTTP2AndHTTP1OriginsThroughHTTPAndHTTPSProxies(t *testing.T) {
	p := newPKI(t)
	h2ln, h1ln, h2Port, h1Port := origins(t, p, infoHandler)
	for _, kind := range []string{"http", "https"} {
		t.Run(kind, func(t *testing.T) {
			h2Before, h1Before := h2ln.n.Load(), h1ln.n.Load()
			var px *testProxy
			if kind == "https" {
				px = startProxy(t, proxyTLS(t, p))
			} else {
				px = startProxy(t, nil)
			}
			tr := NewTransport(p.clientConfig(t, "h2", "http/1.1"))
			tr.HTTP1 = &http.Transport{Proxy: fixedProxy(px.URL)}
			tr.DialContext = dialLoopback
			var dials atomic.Int32
			tr.OnDial = func(*rustls.Stream) { dials.Add(1) }
			defer tr.CloseIdleConnections()
			c := &http.Client{Transport: tr}
			for i := range 3 {
				resp, body := get(t, c, "https://origin.test:"+h2Port+"/", fmt.Sprint(i))
				assert.Equal(t, "HTTP/2.0", resp.Proto)
				assert.Equal(t, fmt.Sprintf("HTTP/2.0 h2 origin.test 304 %d", i), body)
				require.NotNil(t, resp.TLS)
				assert.Equal(t, "origin.test", resp.TLS.ServerName)

				resp, body = get(t, c, "https://origin.test:"+h1Port+"/", fmt.Sprint(i))
				assert.Equal(t, "HTTP/1.1", resp.Proto)
				assert.Equal(t, fmt.Sprintf("HTTP/1.1 http/1.1 origin.test 304 %d", i), body)
				require.NotNil(t, resp.TLS)
			}
			assert.Equal(t, int32(2), px.tunnels.Load(), "one tunnel per origin, reused")
			targets, _ := px.seen()
			assert.Equal(t, []string{"origin.test:" + h2Port, "origin.test:" + h1Port}, targets)
			assert.Equal(t, int32(1), h2ln.n.Load()-h2Before)
			assert.Equal(t, int32(1), h1ln.n.Load()-h1Before)
			assert.Equal(t, int32(2), dials.Load(), "OnDial sees origin sessions only")

			// Concurrent first requests to a new origin name share one
			// HTTP/2 connection through the proxy.
			done := make(chan string, 6)
			for i := range 6 {
				go func() {
					_, body, err := try(t, c, fmt.Sprintf("https://other.test:%s/%d", h2Port, i))
					if err != nil {
						body = err.Error()
					}
					done <- body
				}()
			}
			for range 6 {
				assert.True(t, strings.HasPrefix(<-done, "HTTP/2.0 h2 other.test"))
			}
			assert.Equal(t, int32(3), px.tunnels.Load())
		})
	}
}

func TestProxyAuthorizationAndConnectHeaders(t *testing.T) {
	p := newPKI(t)
	_, _, h2Port, h1Port := origins(t, p, infoHandler)
	px := startProxy(t, nil, requireUser("alice", "s3cret:x"))

	tr := NewTransport(p.clientConfig(t, "h2", "http/1.1"))
	tr.HTTP1 = &http.Transport{
		Proxy:              fixedProxy(px.withUser("alice", "s3cret:x")),
		ProxyConnectHeader: http.Header{"X-Tunnel": {"static"}},
	}
	tr.DialContext = dialLoopback
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr}
	_, body := get(t, c, "https://origin.test:"+h2Port+"/", "")
	assert.True(t, strings.HasPrefix(body, "HTTP/2.0 h2 origin.test"), body)
	_, body = get(t, c, "https://origin.test:"+h1Port+"/", "")
	assert.True(t, strings.HasPrefix(body, "HTTP/1.1 http/1.1 origin.test"), body)
	_, headers := px.seen()
	require.Len(t, headers, 2)
	for _, h := range headers {
		assert.Equal(t, "static", h.Get("X-Tunnel"))
	}

	// GetProxyConnectHeader wins over ProxyConnectHeader and sees the
	// proxy and the target; OnProxyConnectResponse sees the answer.
	var answered atomic.Int32
	tr2 := NewTransport(p.clientConfig(t, "h2", "http/1.1"))
	tr2.HTTP1 = &http.Transport{
		Proxy:              fixedProxy(px.withUser("alice", "s3cret:x")),
		ProxyConnectHeader: http.Header{"X-Tunnel": {"static"}},
		GetProxyConnectHeader: func(ctx context.Context, proxyURL *url.URL, target string) (http.Header, error) {
			return http.Header{"X-Tunnel": {"dynamic " + proxyURL.Host + " " + target}}, nil
		},
		OnProxyConnectResponse: func(ctx context.Context, proxyURL *url.URL, req *http.Request, resp *http.Response) error {
			if resp.StatusCode == http.StatusOK && req.Method == http.MethodConnect {
				answered.Add(1)
			}
			return nil
		},
	}
	tr2.DialContext = dialLoopback
	defer tr2.CloseIdleConnections()
	_, body = get(t, &http.Client{Transport: tr2}, "https://other.test:"+h2Port+"/", "")
	assert.True(t, strings.HasPrefix(body, "HTTP/2.0 h2 other.test"), body)
	_, headers = px.seen()
	assert.Equal(t, "dynamic "+px.URL.Host+" other.test:"+h2Port, headers[len(headers)-1].Get("X-Tunnel"))
	assert.Equal(t, int32(1), answered.Load())

	// Wrong credentials: the proxy's 407 is the error, with the proxy
	// named and the password left out.
	tr3 := NewTransport(p.clientConfig(t, "h2", "http/1.1"))
	tr3.HTTP1 = &http.Transport{Proxy: fixedProxy(px.withUser("alice", "wrong-pw"))}
	tr3.DialContext = dialLoopback
	_, _, err := try(t, &http.Client{Transport: tr3}, "https://origin.test:"+h2Port+"/")
	var pe *ProxyError
	require.ErrorAs(t, err, &pe)
	assert.Equal(t, http.StatusProxyAuthRequired, pe.StatusCode)
	assert.Equal(t, "origin.test:"+h2Port, pe.Target)
	assert.Contains(t, err.Error(), px.URL.Host)
	assert.Contains(t, err.Error(), "407 Proxy Authentication Required")
	assert.NotContains(t, err.Error(), "wrong-pw")
}

func TestProxyRefusedConnect(t *testing.T) {
	p := newPKI(t)
	h2ln, h1ln, h2Port, h1Port := origins(t, p, infoHandler)
	for _, kind := range []string{"http", "https"} {
		t.Run(kind, func(t *testing.T) {
			var px *testProxy
			if kind == "https" {
				px = startProxy(t, proxyTLS(t, p), refuseWith(http.StatusForbidden))
			} else {
				px = startProxy(t, nil, refuseWith(http.StatusForbidden))
			}
			tr := NewTransport(p.clientConfig(t, "h2", "http/1.1"))
			tr.HTTP1 = &http.Transport{Proxy: fixedProxy(px.withUser("bob", "hunter2"))}
			tr.DialContext = dialLoopback
			c := &http.Client{Transport: tr}
			for _, port := range []string{h2Port, h1Port} {
				_, _, err := try(t, c, "https://origin.test:"+port+"/")
				require.Error(t, err)
				var pe *ProxyError
				require.ErrorAs(t, err, &pe)
				assert.Equal(t, http.StatusForbidden, pe.StatusCode)
				assert.Equal(t, "403 Forbidden", pe.Status)
				assert.Equal(t, fmt.Sprintf("rustlshttp: proxy %s://bob:xxxxx@%s refused CONNECT to origin.test:%s: 403 Forbidden", kind, px.URL.Host, port), pe.Error())
				assert.NotContains(t, err.Error(), "hunter2")
			}
		})
	}
	assert.Zero(t, h2ln.n.Load()+h1ln.n.Load(), "nothing reached the origins")
}

func TestProxyNoProxyBypass(t *testing.T) {
	p := newPKI(t)
	h2ln, h1ln, h2Port, h1Port := origins(t, p, infoHandler)
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "plain %s", r.Host)
	}))
	defer plain.Close()
	_, plainPort, _ := net.SplitHostPort(plain.Listener.Addr().String())
	px := startProxy(t, nil)
	env := &httpproxy.Config{HTTPProxy: px.URL.String(), HTTPSProxy: px.URL.String(), NoProxy: "bypass.test"}
	fromEnv := env.ProxyFunc()
	tr := NewTransport(p.clientConfig(t, "h2", "http/1.1"))
	tr.HTTP1 = &http.Transport{Proxy: func(r *http.Request) (*url.URL, error) { return fromEnv(r.URL) }}
	tr.DialContext = dialLoopback // dials the proxy, and bypass.test directly
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr}

	for _, port := range []string{h2Port, h1Port} {
		_, body := get(t, c, "https://bypass.test:"+port+"/", "")
		assert.Contains(t, body, " bypass.test ")
	}
	assert.Zero(t, px.conns.Load(), "NO_PROXY hosts are dialed directly")
	assert.Equal(t, int32(1), h2ln.n.Load())
	assert.Equal(t, int32(1), h1ln.n.Load())
	for _, port := range []string{h2Port, h1Port} {
		_, body := get(t, c, "https://origin.test:"+port+"/", "")
		assert.Contains(t, body, " origin.test ")
	}
	assert.Equal(t, int32(2), px.tunnels.Load())
	targets, _ := px.seen()
	assert.Equal(t, []string{"origin.test:" + h2Port, "origin.test:" + h1Port}, targets)

	// Plain http URLs: through the proxy, or directly for NO_PROXY hosts.
	_, body := get(t, c, "http://origin.test:"+plainPort+"/", "")
	assert.Equal(t, "plain origin.test:"+plainPort, body)
	assert.Equal(t, int32(1), px.forwarded.Load())
	_, body = get(t, c, "http://bypass.test:"+plainPort+"/", "")
	assert.Equal(t, "plain bypass.test:"+plainPort, body)
	assert.Equal(t, int32(1), px.forwarded.Load())
}

func TestProxyPlainHTTPThroughHTTPAndHTTPSProxies(t *testing.T) {
	p := newPKI(t)
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "plain %s %s", r.Host, r.URL.Path)
	}))
	defer plain.Close()
	_, plainPort, _ := net.SplitHostPort(plain.Listener.Addr().String())
	for _, kind := range []string{"http", "https"} {
		t.Run(kind, func(t *testing.T) {
			var px *testProxy
			if kind == "https" {
				px = startProxy(t, proxyTLS(t, p), requireUser("carol", "pw"))
			} else {
				px = startProxy(t, nil, requireUser("carol", "pw"))
			}
			tr := NewTransport(p.clientConfig(t, "h2", "http/1.1"))
			tr.HTTP1 = &http.Transport{Proxy: fixedProxy(px.withUser("carol", "pw"))}
			tr.DialContext = dialLoopback
			defer tr.CloseIdleConnections()
			c := &http.Client{Transport: tr}
			for i := range 3 {
				_, body := get(t, c, fmt.Sprintf("http://origin.test:%s/%d", plainPort, i), "")
				assert.Equal(t, fmt.Sprintf("plain origin.test:%s /%d", plainPort, i), body)
			}
			assert.Equal(t, int32(3), px.forwarded.Load())
			assert.Equal(t, int32(1), px.conns.Load(), "one kept-alive connection to the proxy")
			assert.Zero(t, px.tunnels.Load())
		})
	}
}

func TestProxyHTTPSProxyThatChoosesHTTP2(t *testing.T) {
	p := newPKI(t)
	_, _, h2Port, _ := origins(t, p, infoHandler)
	px := startProxy(t, proxyTLS(t, p, "h2", "http/1.1"))
	tr := NewTransport(p.clientConfig(t, "h2", "http/1.1"))
	tr.HTTP1 = &http.Transport{Proxy: fixedProxy(px.URL)}
	tr.DialContext = dialLoopback
	_, _, err := try(t, &http.Client{Transport: tr}, "https://origin.test:"+h2Port+"/")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "chose HTTP/2")
	assert.Contains(t, err.Error(), "ProxyConfig")
	assert.Zero(t, px.tunnels.Load())

	// A ProxyConfig that offers only HTTP/1.1 to the proxy.
	tr2 := NewTransport(p.clientConfig(t, "h2", "http/1.1"))
	tr2.ProxyConfig = p.clientConfig(t, "http/1.1")
	tr2.HTTP1 = &http.Transport{Proxy: fixedProxy(px.URL)}
	tr2.DialContext = dialLoopback
	defer tr2.CloseIdleConnections()
	_, body := get(t, &http.Client{Transport: tr2}, "https://origin.test:"+h2Port+"/", "")
	assert.True(t, strings.HasPrefix(body, "HTTP/2.0 h2 origin.test"), body)
	assert.Equal(t, int32(1), px.tunnels.Load())
}

func TestProxyHTTPSProxyCertificateIsVerified(t *testing.T) {
	p := newPKI(t)
	_, _, h2Port, _ := origins(t, p, infoHandler)
	other := newPKI(t) // a CA the client does not know
	px := startProxy(t, proxyTLS(t, other))
	tr := NewTransport(p.clientConfig(t, "h2", "http/1.1"))
	tr.HTTP1 = &http.Transport{Proxy: fixedProxy(px.URL)}
	tr.DialContext = dialLoopback
	_, _, err := try(t, &http.Client{Transport: tr}, "https://origin.test:"+h2Port+"/")
	require.Error(t, err)
	assert.ErrorIs(t, err, rustls.ErrCertificate)
	assert.Contains(t, err.Error(), "TLS to proxy https://"+px.URL.Host)
	assert.Zero(t, px.tunnels.Load())
}

func TestProxySOCKS5(t *testing.T) {
	p := newPKI(t)
	_, _, h2Port, h1Port := origins(t, p, infoHandler)
	s := startSOCKS5(t, "dave", "pw")
	tr := NewTransport(p.clientConfig(t, "h2", "http/1.1"))
	tr.HTTP1 = &http.Transport{Proxy: fixedProxy(s.URL)}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr}
	for range 2 {
		_, body := get(t, c, "https://origin.test:"+h2Port+"/", "")
		assert.True(t, strings.HasPrefix(body, "HTTP/2.0 h2 origin.test"), body)
		_, body = get(t, c, "https://origin.test:"+h1Port+"/", "")
		assert.True(t, strings.HasPrefix(body, "HTTP/1.1 http/1.1 origin.test"), body)
	}
	assert.Equal(t, int32(2), s.tunnels.Load())
	s.mu.Lock()
	assert.Equal(t, []string{"origin.test:" + h2Port, "origin.test:" + h1Port}, s.targets, "the proxy resolves names")
	s.mu.Unlock()

	bad := *s.URL
	bad.User = url.UserPassword("dave", "nope")
	tr2 := NewTransport(p.clientConfig(t, "h2", "http/1.1"))
	tr2.HTTP1 = &http.Transport{Proxy: fixedProxy(&bad)}
	_, _, err := try(t, &http.Client{Transport: tr2}, "https://origin.test:"+h2Port+"/")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "SOCKS5 proxy socks5://dave:xxxxx@"+s.URL.Host)
}

func TestProxyBadProxySettings(t *testing.T) {
	p := newPKI(t)
	cases := map[string]struct {
		proxy func(*http.Request) (*url.URL, error)
		want  string
	}{
		"scheme":   {fixedProxy(&url.URL{Scheme: "ftp", Host: "127.0.0.1:1"}), `scheme "ftp" is not supported`},
		"no host":  {fixedProxy(&url.URL{Scheme: "http"}), "has no host"},
		"func err": {func(*http.Request) (*url.URL, error) { return nil, errors.New("no proxy for you") }, "no proxy for you"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			tr := NewTransport(p.clientConfig(t, "h2", "http/1.1"))
			tr.HTTP1 = &http.Transport{Proxy: tc.proxy}
			_, _, err := try(t, &http.Client{Transport: tr}, "https://origin.test:1/")
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

// With HTTP1 nil the Transport takes its proxy from the environment,
// NO_PROXY included. net/http reads the environment once per process, so
// the requests run in a child process of the test binary.
func TestProxyFromEnvironmentByDefault(t *testing.T) {
	if os.Getenv("RUSTLSHTTP_ENV_CHILD") == "1" {
		caPEM, err := os.ReadFile(os.Getenv("RUSTLSHTTP_CA"))
		require.NoError(t, err)
		cfg, err := rustls.NewClientConfig(rustls.ClientOptions{RootCAs: caPEM, NextProtos: []string{"h2", "http/1.1"}})
		require.NoError(t, err)
		defer cfg.Close()
		tr := NewTransport(cfg)
		tr.DialContext = dialLoopback
		defer tr.CloseIdleConnections()
		c := &http.Client{Transport: tr}
		port := os.Getenv("RUSTLSHTTP_PORT")
		for _, host := range []string{"origin.test", "bypass.test"} {
			_, body := get(t, c, "https://"+host+":"+port+"/", "")
			assert.True(t, strings.HasPrefix(body, "HTTP/2.0 h2 "+host), body)
		}
		return
	}
	p := newPKI(t)
	h2ln, _, h2Port, _ := origins(t, p, infoHandler)
	px := startProxy(t, nil)
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	require.NoError(t, os.WriteFile(caFile, p.caPEM, 0o600))
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestProxyFromEnvironmentByDefault$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(),
		"RUSTLSHTTP_ENV_CHILD=1", "RUSTLSHTTP_CA="+caFile, "RUSTLSHTTP_PORT="+h2Port,
		"HTTPS_PROXY="+px.URL.String(), "NO_PROXY=bypass.test",
		"https_proxy=", "no_proxy=", "HTTP_PROXY=", "http_proxy=")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.Contains(t, string(out), "--- PASS: TestProxyFromEnvironmentByDefault")
	targets, _ := px.seen()
	assert.Equal(t, []string{"origin.test:" + h2Port}, targets, "HTTPS_PROXY for origin.test, not for bypass.test")
	assert.Equal(t, int32(2), h2ln.n.Load())
}
