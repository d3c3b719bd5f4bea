package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// discardWriter is a ResponseWriter that keeps nothing and allocates
// nothing, so AllocsPerRun counts only the handler's own allocations.
type discardWriter struct {
	hdr     http.Header
	written int
}

func (d *discardWriter) Header() http.Header         { return d.hdr }
func (d *discardWriter) WriteHeader(int)             {}
func (d *discardWriter) Write(p []byte) (int, error) { d.written += len(p); return len(p), nil }

// TestServeHandlerBytesAllocatesNothing: the /bytes/N handler of `serve
// -mode http` does no allocation of its own for small bodies (it used to
// build a 32 KiB chunk per request, half the command's speed against the
// library server) and one small Content-Length header for large ones.
func TestServeHandlerBytesAllocatesNothing(t *testing.T) {
	h := newServeHandler()
	w := &discardWriter{hdr: http.Header{}}
	for _, n := range []int{0, 64, implicitLengthMax} {
		r := httptest.NewRequest(http.MethodGet, "/bytes/"+strconv.Itoa(n), nil)
		allocs := testing.AllocsPerRun(100, func() {
			w.written = 0
			h.ServeHTTP(w, r)
		})
		assert.Zero(t, allocs, "allocations per /bytes/%d", n)
		assert.Equal(t, n, w.written)
	}
	r := httptest.NewRequest(http.MethodGet, "/bytes/100000", nil)
	allocs := testing.AllocsPerRun(100, func() { h.ServeHTTP(w, r) })
	assert.LessOrEqual(t, allocs, 2.0, "allocations per /bytes/100000: the Content-Length header only")
}

// TestServeHandlerResponses checks what the handler answers through
// net/http's recorder: the body pattern, the headers net/http cannot fill in
// by itself, and the errors.
func TestServeHandlerResponses(t *testing.T) {
	h := newServeHandler()
	get := func(method, path string) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(method, path, nil))
		return w
	}
	w := get(http.MethodGet, "/bytes/70000")
	require.Equal(t, http.StatusOK, w.Code)
	assert.Equal(t, "70000", w.Header().Get("Content-Length"))
	assert.Equal(t, "application/octet-stream", w.Header().Get("Content-Type"))
	want := bytes.Repeat([]byte("gorustls"), 70000/8)
	assert.True(t, bytes.Equal(want, w.Body.Bytes()), "body of /bytes/70000")

	w = get(http.MethodGet, "/bytes/5")
	assert.Equal(t, "gorus", w.Body.String())

	w = get(http.MethodHead, "/bytes/5")
	assert.Equal(t, "5", w.Header().Get("Content-Length"))
	assert.Zero(t, w.Body.Len())

	for _, bad := range []string{"/bytes/-1", "/bytes/x", "/bytes/", "/bytes/4294967297", "/bytes/5/6"} {
		assert.Equal(t, http.StatusBadRequest, get(http.MethodGet, bad).Code, bad)
	}
	assert.Equal(t, http.StatusNotFound, get(http.MethodGet, "/missing").Code)
}

// TestServeLogConnsOff: -log-conns=false stops the per-connection lines
// (they cost a log write and a connection-state copy per connection) and
// keeps the rest of the log.
func TestServeLogConnsOff(t *testing.T) {
	ca := filepath.Join(t.TempDir(), "ca.pem")
	srv := startServe(t, "-write-ca", ca, "-mode", "http", "-log-conns=false")
	r := runCLI(t, "", "get", "-ca", ca, "https://"+srv.addr+"/bytes/10")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, "gorustlsgo", r.stdout)
	assert.Equal(t, 0, srv.stop(t))
	log := srv.log()
	assert.Contains(t, log, "msg=listening")
	assert.Contains(t, log, "shutting down")
	assert.False(t, strings.Contains(log, "msg=handshake"), "a per-connection line was logged:\n%s", log)
}
