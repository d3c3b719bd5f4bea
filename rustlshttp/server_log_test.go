package rustlshttp

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorustls/gorustls/rustls"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// recordingHandler keeps every slog record it is given; panics, when set,
// makes Handle panic after recording (a buggy user handler).
type recordingHandler struct {
	mu      sync.Mutex
	records []slog.Record
	panics  bool
}

func (h *recordingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *recordingHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	h.records = append(h.records, r)
	h.mu.Unlock()
	if h.panics {
		panic("slog handler bug")
	}
	return nil
}
func (h *recordingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *recordingHandler) WithGroup(string) slog.Handler      { return h }

// find returns the first record whose message contains msg, with its
// attributes by key.
func (h *recordingHandler) find(msg string) (slog.Record, map[string]slog.Value, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, r := range h.records {
		if strings.Contains(r.Message, msg) {
			attrs := map[string]slog.Value{}
			r.Attrs(func(a slog.Attr) bool { attrs[a.Key] = a.Value; return true })
			return r, attrs, true
		}
	}
	return slog.Record{}, nil, false
}

// waitRecord waits (bounded) for a record whose message contains msg.
func (h *recordingHandler) waitRecord(t *testing.T, msg string) (slog.Record, map[string]slog.Value) {
	t.Helper()
	require.Eventually(t, func() bool { _, _, ok := h.find(msg); return ok }, 10*time.Second, 10*time.Millisecond,
		"no record %q", msg)
	r, attrs, _ := h.find(msg)
	return r, attrs
}

// failHandshake sends a ClientHello-shaped record the server cannot parse
// and returns the client's address as the server sees it.
func failHandshake(t *testing.T, url string) string {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(url, "https://"))
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.SetDeadline(time.Now().Add(10*time.Second)))
	_, err = c.Write([]byte("\x16\x03\x01\x00\x04\x01\x00\x00\x00"))
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, c)
	return c.LocalAddr().String()
}

// Server.Logger gets the Server's reports with the promised levels and
// attributes, and net/http's own messages through the bridge.
func TestServerLoggerRecords(t *testing.T) {
	p := newPKI(t)
	rec := &recordingHandler{}
	mux := http.NewServeMux()
	mux.HandleFunc("/twice", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		w.WriteHeader(http.StatusTeapot) // net/http logs a superfluous call
	})
	mux.HandleFunc("/panic", func(http.ResponseWriter, *http.Request) { panic("handler boom") })
	srv := &Server{Config: p.serverConfig(t, "http/1.1"), Handler: mux, Logger: slog.New(rec)}
	_, url := startServer(t, srv)

	// A client's failed handshake: Info, with remote and error.
	remote := failHandshake(t, url)
	r, attrs := rec.waitRecord(t, "TLS handshake error")
	assert.Equal(t, slog.LevelInfo, r.Level)
	assert.Equal(t, remote, attrs["remote"].String())
	err, ok := attrs["error"].Any().(error)
	require.True(t, ok, "error attribute %v is an error", attrs["error"])
	assert.NotEmpty(t, err.Error())

	c := &http.Client{Transport: NewTransport(p.clientConfig(t, "http/1.1"))}
	defer c.CloseIdleConnections()
	get(t, c, url+"/twice", "")
	r, _ = rec.waitRecord(t, "superfluous")
	assert.Equal(t, slog.LevelWarn, r.Level, "net/http's message, bridged")

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url+"/panic", nil)
	if resp, err := c.Do(req); err == nil {
		resp.Body.Close()
	}
	r, _ = rec.waitRecord(t, "handler boom")
	assert.Equal(t, slog.LevelError, r.Level, "net/http's handler panic report")
	assert.Contains(t, r.Message, "goroutine ", "with the stack")
}

// A user callback's panic reaches Logger at Error with the callback's
// name, the panic value and the stack.
func TestServerLoggerPanicRecord(t *testing.T) {
	p := newPKI(t)
	rec := &recordingHandler{}
	srv := &Server{Config: p.serverConfig(t, "http/1.1"), Handler: infoHandler, Logger: slog.New(rec),
		OnHandshake: func(*rustls.Stream) { panic("hook boom") }}
	_, url := startServer(t, srv)
	c := &http.Client{Transport: NewTransport(p.clientConfig(t, "http/1.1"))}
	defer c.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := c.Do(req)
	if err == nil {
		resp.Body.Close()
	}
	require.Error(t, err)
	r, attrs := rec.waitRecord(t, "panic serving")
	assert.Equal(t, slog.LevelError, r.Level)
	assert.Equal(t, "OnHandshake", attrs["callback"].String())
	assert.Equal(t, "hook boom", attrs["panic"].String())
	assert.Contains(t, attrs["stack"].String(), "goroutine ")
	assert.NotEmpty(t, attrs["remote"].String())
}

// A Logger whose handler panics on every record neither crashes the
// process nor stops the server: handshake failures, callback panics and
// net/http's own messages are all logged through it, and the next client
// is served.
func TestServerLoggerHandlerPanics(t *testing.T) {
	p := newPKI(t)
	rec := &recordingHandler{panics: true}
	var hooks int32
	var mu sync.Mutex
	mux := http.NewServeMux()
	mux.HandleFunc("/", infoHandler)
	mux.HandleFunc("/twice", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		w.WriteHeader(http.StatusTeapot)
	})
	srv := &Server{Config: p.serverConfig(t, "http/1.1"), Handler: mux, Logger: slog.New(rec),
		OnHandshake: func(*rustls.Stream) {
			mu.Lock()
			defer mu.Unlock()
			hooks++
			if hooks == 1 {
				panic("hook boom")
			}
		}}
	_, url := startServer(t, srv)
	failHandshake(t, url)
	rec.waitRecord(t, "TLS handshake error")

	c := &http.Client{Transport: NewTransport(p.clientConfig(t, "http/1.1"))}
	defer c.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if resp, err := c.Do(req); err == nil {
		resp.Body.Close()
	} else {
		assert.False(t, errors.Is(err, context.DeadlineExceeded), "the client hung: %v", err)
	}
	rec.waitRecord(t, "panic serving")

	get(t, c, url+"/twice", "")
	rec.waitRecord(t, "superfluous")
	_, body := get(t, c, url, "")
	assert.True(t, strings.HasPrefix(body, "HTTP/1.1"), body)
}
