package rustlshttp

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/gorustls/gorustls/rustls"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/http/httpproxy"
)

// switchingOrigin forwards each new TCP connection to one of two servers,
// chosen when it is accepted: a server can move from HTTP/1.1 to HTTP/2
// under one address.
type switchingOrigin struct {
	port   string
	target atomic.Value // "127.0.0.1:port"
}

func startSwitchingOrigin(t *testing.T, first string) *switchingOrigin {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	o := &switchingOrigin{}
	_, o.port, _ = net.SplitHostPort(ln.Addr().String())
	o.target.Store(first)
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
			dst, err := net.Dial("tcp", o.target.Load().(string))
			if err != nil {
				c.Close()
				continue
			}
			open.Store(c, nil)
			open.Store(dst, nil)
			wg.Add(2)
			go func() { defer wg.Done(); _, _ = io.Copy(dst, c); dst.Close() }()
			go func() { defer wg.Done(); _, _ = io.Copy(c, dst); c.Close() }()
		}
	}()
	return o
}

// The origins' certificates come from a private CA that only the rustls
// ClientConfig knows, and HTTP1.TLSClientConfig counts (and fails) every
// crypto/tls handshake: any request that net/http served with crypto/tls
// fails, and every request must have gone over a rustls Stream. Every
// path is exercised: HTTP/2 and HTTP/1.1 origins, reuse, a switch from
// HTTP/1.1 to HTTP/2 under one address, redirects across hosts, plain
// http URLs, direct and through http://, https:// and SOCKS5 proxies and
// NO_PROXY.
func TestTransportNeverRunsCryptoTLS(t *testing.T) {
	p := newPKI(t)
	var h1Port string
	mux := http.NewServeMux()
	mux.HandleFunc("/hop", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "https://other.test:"+h1Port+"/landed", http.StatusFound)
	})
	mux.Handle("/", infoHandler)
	_, _, h2Port, h1Port := origins(t, p, mux)
	sw := startSwitchingOrigin(t, "127.0.0.1:"+h1Port)
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "plain %s", r.Host)
	}))
	defer plain.Close()
	_, plainPort, _ := net.SplitHostPort(plain.Listener.Addr().String())

	httpProxy := startProxy(t, nil)
	httpsProxy := startProxy(t, proxyTLS(t, p))
	socks := startSOCKS5(t, "", "")
	noProxy := (&httpproxy.Config{HTTPSProxy: httpsProxy.URL.String(), HTTPProxy: httpProxy.URL.String(), NoProxy: "bypass.test"}).ProxyFunc()
	modes := map[string]func(*http.Request) (*url.URL, error){
		"direct":   nil,
		"http":     fixedProxy(httpProxy.URL),
		"https":    fixedProxy(httpsProxy.URL),
		"socks5":   fixedProxy(socks.URL),
		"no_proxy": func(r *http.Request) (*url.URL, error) { return noProxy(r.URL) },
	}
	for name, proxy := range modes {
		t.Run(name, func(t *testing.T) {
			var cryptoTLS atomic.Int32
			tr := NewTransport(p.clientConfig(t, "h2", "http/1.1"))
			tr.HTTP1 = &http.Transport{
				Proxy:             proxy,
				ForceAttemptHTTP2: true,
				TLSClientConfig: &tls.Config{
					InsecureSkipVerify: true, // so that VerifyConnection runs if crypto/tls ever does
					VerifyConnection: func(tls.ConnectionState) error {
						cryptoTLS.Add(1)
						return errors.New("crypto/tls ran a handshake")
					},
				},
			}
			tr.DialContext = dialLoopback
			defer tr.CloseIdleConnections()
			c := &http.Client{Transport: tr}

			check := func(url, wantPrefix string, wantConns int) {
				t.Helper()
				var mu sync.Mutex
				var conns []net.Conn
				trace := &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) {
					mu.Lock()
					conns = append(conns, i.Conn)
					mu.Unlock()
				}}
				req, err := http.NewRequestWithContext(httptrace.WithClientTrace(t.Context(), trace), http.MethodGet, url, nil)
				require.NoError(t, err)
				resp, err := c.Do(req)
				require.NoError(t, err, url)
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				require.NoError(t, err)
				assert.True(t, strings.HasPrefix(string(body), wantPrefix), "%s: %s", url, body)
				if strings.HasPrefix(url, "http://") {
					return
				}
				require.NotNil(t, resp.TLS, url)
				require.NotEmpty(t, resp.TLS.PeerCertificates)
				assert.Equal(t, "rustlshttp test CA", resp.TLS.PeerCertificates[0].Issuer.CommonName)
				mu.Lock()
				defer mu.Unlock()
				assert.Len(t, conns, wantConns, url)
				for _, conn := range conns {
					assert.IsType(t, &rustls.Stream{}, conn, "%s went over %T", url, conn)
				}
			}
			for _, host := range []string{"origin.test", "bypass.test"} {
				for range 2 { // new connections, then reused ones
					check("https://"+host+":"+h2Port+"/", "HTTP/2.0 h2 "+host, 1)
					check("https://"+host+":"+h1Port+"/", "HTTP/1.1 http/1.1 "+host, 1)
					check("https://"+host+":"+h2Port+"/hop", "HTTP/1.1 http/1.1 other.test", 2)
					check("http://"+host+":"+plainPort+"/", "plain "+host, 0)
				}
			}
			// The origin behind one address moves from HTTP/1.1 to HTTP/2.
			check("https://origin.test:"+sw.port+"/", "HTTP/1.1 http/1.1 origin.test", 1)
			tr.CloseIdleConnections()
			sw.target.Store("127.0.0.1:" + h2Port)
			check("https://origin.test:"+sw.port+"/", "HTTP/2.0 h2 origin.test", 1)
			check("https://origin.test:"+sw.port+"/", "HTTP/2.0 h2 origin.test", 1)
			sw.target.Store("127.0.0.1:" + h1Port)
			// After closing idle connections everything is dialed anew.
			tr.CloseIdleConnections()
			check("https://origin.test:"+h2Port+"/", "HTTP/2.0 h2 origin.test", 1)
			check("https://origin.test:"+h1Port+"/", "HTTP/1.1 http/1.1 origin.test", 1)

			// Concurrent requests on every origin.
			var wg sync.WaitGroup
			for i := range 12 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					port := []string{h2Port, h1Port}[i%2]
					_, body, err := try(t, c, "https://other.test:"+port+"/")
					if assert.NoError(t, err) {
						assert.Contains(t, body, " other.test ")
					}
				}()
			}
			wg.Wait()
			assert.Zero(t, cryptoTLS.Load(), "crypto/tls ran")
		})
	}
	assert.Positive(t, httpProxy.tunnels.Load())
	assert.Positive(t, httpsProxy.tunnels.Load())
	assert.Positive(t, socks.tunnels.Load())
}

// Whatever reaches net/http's own TLS client fails before sending a byte,
// with an error that says so.
func TestTransportCryptoTLSTrap(t *testing.T) {
	tr := NewTransport(nil)
	tr.init()
	trs := []*http.Transport{tr.plain, tr.http1For("", nil)}
	for _, h := range trs {
		require.NotNil(t, h.TLSClientConfig)
		a, b := net.Pipe()
		defer a.Close()
		defer b.Close()
		go func() { _, _ = io.Copy(io.Discard, b) }()
		cfg := h.TLSClientConfig.Clone()
		cfg.ServerName = "origin.test"
		err := tls.Client(a, cfg).HandshakeContext(t.Context())
		require.Error(t, err)
		assert.Contains(t, err.Error(), errCryptoTLS.Error())
		assert.Empty(t, h.TLSNextProto)
		assert.False(t, h.ForceAttemptHTTP2)
	}
	assert.Nil(t, trs[1].Proxy, "net/http never sees a proxy for https URLs")
}
