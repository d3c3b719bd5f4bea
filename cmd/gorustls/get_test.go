package main

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// goHTTPSServer serves handler over crypto/tls with a certificate for
// localhost from a fresh CA, and returns its URL and the CA file.
func goHTTPSServer(t *testing.T, handler http.Handler) (url, caFile string) {
	t.Helper()
	ca, err := newMemCA("get test CA")
	require.NoError(t, err)
	leaf, err := ca.leaf(false, "localhost", "127.0.0.1")
	require.NoError(t, err)
	srv := httptest.NewUnstartedServer(handler)
	srv.EnableHTTP2 = true
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{leaf.tls}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv.URL, writeTestFile(t, "ca.pem", ca.pem)
}

// get refuses to follow a redirect from https to http: the plaintext
// answer is neither fetched nor printed, and the exit status says so.
func TestGetRefusesSchemeDowngrade(t *testing.T) {
	var plainHits int
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		plainHits++
		fmt.Fprint(w, "plaintext secret")
	}))
	defer plain.Close()
	url, ca := goHTTPSServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/down":
			http.Redirect(w, r, plain.URL+"/", http.StatusFound)
		case "/up":
			http.Redirect(w, r, "/final", http.StatusMovedPermanently)
		default:
			fmt.Fprint(w, "final over "+r.Proto)
		}
	}))
	for _, verbose := range []bool{false, true} {
		args := []string{"get", "-ca", ca, url + "/down"}
		if verbose {
			args = []string{"get", "-v", "-ca", ca, url + "/down"}
		}
		r := runCLI(t, "", args...)
		assert.NotEqual(t, 0, r.code, "verbose=%v", verbose)
		assert.NotContains(t, r.stdout, "plaintext secret")
		assert.Contains(t, r.stderr, "redirect")
		assert.Contains(t, r.stderr, plain.URL)
		assert.Contains(t, r.stderr, "not https")
	}
	assert.Equal(t, 0, plainHits, "the plaintext URL was fetched")

	// An https redirect is followed, and -v says so.
	r := runCLI(t, "", "get", "-v", "-ca", ca, url+"/up")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, "final over HTTP/2.0", r.stdout)
	assert.Contains(t, r.stderr, "* redirect "+url+"/up -> "+url+"/final (301 Moved Permanently)")
}

// -timeout bounds dialing and the handshake, not the transfer: a body that
// takes longer arrives whole. -max-time bounds the whole transfer.
func TestGetTimeoutBoundsOnlyConnecting(t *testing.T) {
	url, ca := goHTTPSServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "10")
		fmt.Fprint(w, "slow")
		w.(http.Flusher).Flush()
		time.Sleep(1500 * time.Millisecond)
		fmt.Fprint(w, " body")
		w.(http.Flusher).Flush()
		time.Sleep(500 * time.Millisecond)
		fmt.Fprint(w, "!")
	}))
	r := runCLI(t, "", "get", "-timeout", "500ms", "-ca", ca, url+"/")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, "slow body!", r.stdout)

	r = runCLI(t, "", "get", "-max-time", "500ms", "-ca", ca, url+"/")
	assert.NotEqual(t, 0, r.code)
	assert.Contains(t, r.stderr, "-max-time")

	// A server that accepts but never answers the ClientHello is given up
	// on after -timeout.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	start := time.Now()
	r = runCLI(t, "", "get", "-timeout", "300ms", "-ca", ca, "https://"+ln.Addr().String()+"/")
	assert.NotEqual(t, 0, r.code)
	assert.Less(t, time.Since(start), 20*time.Second)
	assert.True(t, strings.Contains(r.stderr, "deadline") || strings.Contains(r.stderr, "timeout"), r.stderr)
}

// -servername names the URL's host only: a redirect to the same host (any
// port) is followed, one to another host is refused before it is fetched
// (the Transport would verify that host as the -servername name).
func TestGetServerNameRefusesRedirectToOtherHost(t *testing.T) {
	var finalHits atomic.Int32
	url, ca := goHTTPSServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/same":
			http.Redirect(w, r, "https://"+r.Host+"/final", http.StatusFound)
		case "/other":
			http.Redirect(w, r, "https://"+strings.Replace(r.Host, "127.0.0.1", "localhost", 1)+"/final", http.StatusFound)
		default:
			finalHits.Add(1)
			fmt.Fprint(w, "final for "+r.TLS.ServerName)
		}
	}))
	require.Contains(t, url, "https://127.0.0.1:")

	r := runCLI(t, "", "get", "-servername", "localhost", "-ca", ca, url+"/same")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, "final for localhost", r.stdout)

	r = runCLI(t, "", "get", "-servername", "localhost", "-ca", ca, url+"/other")
	assert.NotEqual(t, 0, r.code)
	assert.Empty(t, r.stdout)
	assert.Contains(t, r.stderr, "refusing the redirect")
	assert.Contains(t, r.stderr, "-servername localhost is for 127.0.0.1 only")
	assert.EqualValues(t, 1, finalHits.Load(), "the other host was fetched")

	// Without -servername the other host is verified as itself.
	r = runCLI(t, "", "get", "-ca", ca, url+"/other")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, "final for localhost", r.stdout)
}
