package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/gorustls/gorustls/examples/internal/democert"
	"github.com/gorustls/gorustls/rustlshttp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestHTTPSServer(t *testing.T) {
	ca, err := democert.NewCA()
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	urls := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- run(ctx, "127.0.0.1:0", ca, func(u string) { urls <- u }) }()
	url := <-urls

	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM(ca.PEM))
	goH2 := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}}
	goH1 := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, NextProtos: []string{"http/1.1"}}}}
	rcfg, err := ca.ClientConfig("h2", "http/1.1")
	require.NoError(t, err)
	defer rcfg.Close()
	for _, tc := range []struct {
		c    *http.Client
		want string
	}{{goH2, "HTTP/2.0 over TLS 0x0304, ALPN \"h2\""}, {goH1, "HTTP/1.1 over TLS 0x0304, ALPN \"http/1.1\""}, {rustlshttp.NewClient(rcfg), "HTTP/2.0"}} {
		resp, err := tc.c.Get(url)
		require.NoError(t, err)
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.NoError(t, err)
		assert.Contains(t, string(body), tc.want)
		tc.c.CloseIdleConnections()
	}
	cancel()
	require.NoError(t, <-done)
}
