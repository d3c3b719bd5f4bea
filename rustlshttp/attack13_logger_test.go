package rustlshttp_test

import (
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gorustls/gorustls/internal/pki"
	"github.com/gorustls/gorustls/rustls"
	"github.com/gorustls/gorustls/rustlshttp"
)

// recorder keeps every slog record.
type recorder struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (h *recorder) Enabled(context.Context, slog.Level) bool { return true }
func (h *recorder) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	h.recs = append(h.recs, r)
	h.mu.Unlock()
	return nil
}
func (h *recorder) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *recorder) WithGroup(string) slog.Handler      { return h }

// wait returns the first record whose message contains msg.
func (h *recorder) wait(t *testing.T, msg string) (slog.Record, bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		h.mu.Lock()
		for _, r := range h.recs {
			if strings.Contains(r.Message, msg) {
				h.mu.Unlock()
				return r, true
			}
		}
		h.mu.Unlock()
		time.Sleep(5 * time.Millisecond)
	}
	return slog.Record{}, false
}

// attack13ServerConfig returns a server config for 127.0.0.1 offering
// protos, and the CA that signed its certificate. The caller closes the
// config.
func attack13ServerConfig(t *testing.T, protos ...string) (*rustls.ServerConfig, *pki.CA) {
	t.Helper()
	ca, err := pki.NewCA("attack13 CA")
	require.NoError(t, err)
	leaf, err := ca.Server("127.0.0.1")
	require.NoError(t, err)
	key, err := rustls.NewCertifiedKey(leaf.ChainPEM, leaf.KeyPEM)
	require.NoError(t, err)
	defer key.Close()
	scfg, err := rustls.NewServerConfig(rustls.ServerOptions{Certificates: []*rustls.CertifiedKey{key}, NextProtos: protos})
	require.NoError(t, err)
	return scfg, ca
}

// serveAttack13 runs srv.Serve on a loopback port until the test ends
// (then closes srv and waits for Serve to return). It returns the
// server's address and a crypto/tls client that trusts ca.
func serveAttack13(t *testing.T, srv *rustlshttp.Server, ca *pki.CA) (addr string, client *http.Client) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		_ = srv.Close()
		<-done
	})
	client = &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}}}
	return ln.Addr().String(), client
}

// With Logger nil the Server logs to slog.Default(), and it says so; a
// handler's panic, which net/http reports, must then reach slog.Default()
// at slog.LevelError, as it does when Logger is set (before the fix it
// went through the log package and arrived at slog.LevelInfo).
func TestAttack13ServerNilLoggerUsesSlogDefault(t *testing.T) {
	rec := &recorder{}
	old := slog.Default()
	slog.SetDefault(slog.New(rec))
	t.Cleanup(func() { slog.SetDefault(old) }) // after the Server's Close

	scfg, ca := attack13ServerConfig(t, "http/1.1")
	t.Cleanup(func() { _ = scfg.Close() }) // after the Server's Close
	srv := &rustlshttp.Server{Config: scfg, Handler: http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		panic("attack13 handler panic")
	})}
	addr, client := serveAttack13(t, srv, ca)

	// A plaintext client: the Server's own report.
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	_, _ = io.WriteString(c, "GET / HTTP/1.0\r\n\r\n")
	_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
	_, _ = io.ReadAll(c)
	_ = c.Close()
	r, ok := rec.wait(t, "HTTP request to an HTTPS server")
	require.True(t, ok, "no record in slog.Default for a plaintext client")
	assert.Equal(t, slog.LevelInfo, r.Level)

	// A panicking handler: net/http's report.
	resp, err := client.Get("https://" + addr + "/")
	if err == nil {
		_ = resp.Body.Close()
	}
	r, ok = rec.wait(t, "panic serving")
	require.True(t, ok, "no record in slog.Default for a handler panic")
	assert.Equal(t, slog.LevelError, r.Level, "a handler panic is an error, Logger set or not")
}

// A Server whose config was closed fails every handshake: that is the
// operator's problem, logged at slog.LevelError, not slog.LevelInfo with
// clients' noise (where a handler that filters Info hides it).
func TestAttack13ServerClosedConfigIsAnError(t *testing.T) {
	scfg, ca := attack13ServerConfig(t)
	require.NoError(t, scfg.Close())
	rec := &recorder{}
	addr, client := serveAttack13(t, &rustlshttp.Server{Config: scfg, Logger: slog.New(rec)}, ca)
	_, err := client.Get("https://" + addr + "/")
	require.Error(t, err)
	r, ok := rec.wait(t, "TLS handshake")
	require.True(t, ok)
	assert.Equal(t, slog.LevelError, r.Level, r.Message)
}
