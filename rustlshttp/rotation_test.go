package rustlshttp

import (
	"fmt"
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

// mtlsOrigins starts an HTTP/2 and an HTTP/1.1-only server that require a
// client certificate from p's CA and answer "PROTO CN"; /slow waits for
// release to be closed (entered counts the requests waiting).
func mtlsOrigins(t *testing.T, p *testPKI, entered *atomic.Int32, release <-chan struct{}) (h2, h1 *countingListener, h2URL, h1URL string) {
	t.Helper()
	k, err := rustls.NewCertifiedKey(p.certPEM, p.keyPEM)
	require.NoError(t, err)
	defer k.Close()
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			entered.Add(1)
			select {
			case <-release:
			case <-r.Context().Done():
				return
			}
		}
		fmt.Fprintf(w, "%s %s", r.Proto, r.TLS.PeerCertificates[0].Subject.CommonName)
	})
	serve := func(protos ...string) (*countingListener, string) {
		cfg, err := rustls.NewServerConfig(rustls.ServerOptions{
			Certificates: []*rustls.CertifiedKey{k},
			NextProtos:   protos,
			ClientAuth:   rustls.RequireAndVerifyClientCert,
			ClientCAs:    p.caPEM,
		})
		require.NoError(t, err)
		t.Cleanup(func() { cfg.Close() })
		return startServer(t, &Server{Config: cfg, Handler: h})
	}
	h2, h2URL = serve("h2", "http/1.1")
	h1, h1URL = serve("http/1.1")
	return h2, h1, h2URL, h1URL
}

// identity returns a client config presenting a new certificate for cn.
func (p *testPKI) identity(t *testing.T, cn string) *rustls.ClientConfig {
	t.Helper()
	leaf, err := p.ca.Client(cn)
	require.NoError(t, err)
	k, err := rustls.NewCertifiedKey(leaf.CertPEM, leaf.KeyPEM)
	require.NoError(t, err)
	defer k.Close()
	cfg, err := rustls.NewClientConfig(rustls.ClientOptions{RootCAs: p.caPEM, Certificate: k, NextProtos: []string{"h2", "http/1.1"}})
	require.NoError(t, err)
	t.Cleanup(func() { cfg.Close() })
	return cfg
}

func TestTransportSetClientConfigRotation(t *testing.T) {
	p := newPKI(t)
	var entered atomic.Int32
	release := make(chan struct{})
	h2ln, h1ln, h2URL, h1URL := mtlsOrigins(t, p, &entered, release)
	oldCfg, newCfg := p.identity(t, "old"), p.identity(t, "new")
	tr := NewTransport(oldCfg)
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr}

	// Requests in flight on both protocols when the rotation happens.
	const inFlight = 4
	var wg sync.WaitGroup
	bodies := make(chan string, 2*inFlight)
	for i := range 2 * inFlight {
		wg.Add(1)
		go func() {
			defer wg.Done()
			url := []string{h2URL, h1URL}[i%2]
			_, body, err := try(t, c, url+"/slow")
			if assert.NoError(t, err) {
				bodies <- body
			}
		}()
	}
	require.Eventually(t, func() bool { return entered.Load() == 2*inFlight }, 20*time.Second, time.Millisecond)
	h2Conns, h1Conns := h2ln.n.Load(), h1ln.n.Load()
	assert.Equal(t, int32(1), h2Conns)
	assert.Equal(t, int32(inFlight), h1Conns)

	tr.SetClientConfig(newCfg)
	assert.Same(t, newCfg, tr.ClientConfig())
	require.NoError(t, oldCfg.Close(), "the old config may be closed at once")
	close(release)
	wg.Wait()
	close(bodies)
	n := 0
	for b := range bodies {
		n++
		assert.True(t, strings.HasSuffix(b, " old"), "in-flight requests finish on their connections: %s", b)
	}
	assert.Equal(t, 2*inFlight, n)

	// The pools survived: the next requests reuse those connections.
	_, body := get(t, c, h2URL, "")
	assert.Equal(t, "HTTP/2.0 old", body)
	_, body = get(t, c, h1URL, "")
	assert.Equal(t, "HTTP/1.1 old", body)
	assert.Equal(t, h2Conns, h2ln.n.Load())
	assert.Equal(t, h1Conns, h1ln.n.Load())

	// New connections present the new certificate: to a host not seen
	// yet, and everywhere once the idle connections are closed.
	_, body = get(t, c, strings.Replace(h2URL, "localhost", "127.0.0.1", 1), "")
	assert.Equal(t, "HTTP/2.0 new", body)
	tr.CloseIdleConnections()
	_, body = get(t, c, h2URL, "")
	assert.Equal(t, "HTTP/2.0 new", body)
	_, body = get(t, c, h1URL, "")
	assert.Equal(t, "HTTP/1.1 new", body)
	assert.Equal(t, h2Conns+2, h2ln.n.Load())
	assert.Equal(t, h1Conns+1, h1ln.n.Load())
}

// Rotations race with a steady load of requests (some on new connections)
// on both protocols: every request succeeds with one of the identities,
// and the last one is used once the pools are emptied.
func TestTransportRotationUnderLoad(t *testing.T) {
	p := newPKI(t)
	var entered atomic.Int32
	_, _, h2URL, h1URL := mtlsOrigins(t, p, &entered, nil)
	const identities = 5
	cfgs := make([]*rustls.ClientConfig, identities)
	names := make([]string, identities)
	for i := range cfgs {
		names[i] = fmt.Sprintf("id%d", i)
		cfgs[i] = p.identity(t, names[i])
	}
	tr := NewTransport(cfgs[0])
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr}

	var (
		wg    sync.WaitGroup
		stop  atomic.Bool
		count atomic.Int32
		mu    sync.Mutex
		seen  = map[string]int{}
	)
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; !stop.Load(); j++ {
				url := []string{h2URL, h1URL}[(i+j)%2]
				_, body, err := try(t, c, url)
				if !assert.NoError(t, err) {
					return
				}
				count.Add(1)
				mu.Lock()
				seen[body[strings.LastIndexByte(body, ' ')+1:]]++
				mu.Unlock()
				if j%5 == 4 {
					tr.CloseIdleConnections()
				}
			}
		}()
	}
	deadline := time.Now().Add(time.Minute)
	wait := func(n int32) {
		for count.Load() < n && !t.Failed() && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
	}
	for i := 1; i < identities; i++ {
		wait(int32(20 * i))
		tr.SetClientConfig(cfgs[i])
		require.NoError(t, cfgs[i-1].Close())
	}
	wait(int32(20 * identities))
	stop.Store(true)
	wg.Wait()
	for name := range seen {
		assert.Contains(t, names, name)
	}
	assert.Positive(t, seen[names[0]])
	tr.CloseIdleConnections()
	_, body := get(t, c, h2URL, "")
	assert.Equal(t, "HTTP/2.0 "+names[identities-1], body)
	_, body = get(t, c, h1URL, "")
	assert.Equal(t, "HTTP/1.1 "+names[identities-1], body)
}
