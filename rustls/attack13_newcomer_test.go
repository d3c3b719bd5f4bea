package rustls_test

import (
	"bufio"
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
)

// The common tasks written as a newcomer would write them from go doc
// alone: an echo server with Listen, a client with Dial, net/http over a
// Listener, and mutual TLS. Each is the shortest program the docs suggest.

// newcomerPKI makes a CA, a server certificate for 127.0.0.1 and a client
// certificate.
func newcomerPKI(t *testing.T) (ca *pki.CA, srv, cli *pki.Leaf) {
	t.Helper()
	ca, err := pki.NewCA("newcomer CA")
	require.NoError(t, err)
	srv, err = ca.Server("127.0.0.1")
	require.NoError(t, err)
	cli, err = ca.Client("alice")
	require.NoError(t, err)
	return ca, srv, cli
}

// recordingHandler keeps every slog record's message and level.
type recordingHandler struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (h *recordingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *recordingHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	h.recs = append(h.recs, r)
	h.mu.Unlock()
	return nil
}
func (h *recordingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *recordingHandler) WithGroup(string) slog.Handler      { return h }
func (h *recordingHandler) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.recs)
}

// waitAny waits until h holds a record or ctx ends.
func (h *recordingHandler) waitAny(ctx context.Context) {
	for h.count() == 0 && ctx.Err() == nil {
		time.Sleep(5 * time.Millisecond)
	}
}

// first returns the first record h got; h holds one.
func (h *recordingHandler) first() slog.Record {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.recs[0]
}

// newcomerServerConfig builds opts with srv's certificate as the only
// one, as the docs suggest (the config keeps its own reference to the
// key). The test closes the config when it ends.
func newcomerServerConfig(t *testing.T, srv *pki.Leaf, opts rustls.ServerOptions) *rustls.ServerConfig {
	t.Helper()
	key, err := rustls.NewCertifiedKey(srv.ChainPEM, srv.KeyPEM)
	require.NoError(t, err)
	defer key.Close()
	opts.Certificates = []*rustls.CertifiedKey{key}
	scfg, err := rustls.NewServerConfig(opts)
	require.NoError(t, err)
	t.Cleanup(func() { _ = scfg.Close() })
	return scfg
}

// loopbackListener returns a TCP listener on a loopback port; the caller
// closes it (or a Listener made from it does).
func loopbackListener(t *testing.T) net.Listener {
	t.Helper()
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	return inner
}

func TestAttack13NewcomerEchoServerAndDial(t *testing.T) {
	ca, srv, _ := newcomerPKI(t)
	scfg := newcomerServerConfig(t, srv, rustls.ServerOptions{})

	ln, err := rustls.Listen("tcp", "127.0.0.1:0", scfg, rustls.StreamOptions{})
	require.NoError(t, err)
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_, _ = io.Copy(c, c)
			}()
		}
	}()

	ccfg, err := rustls.NewClientConfig(rustls.ClientOptions{RootCAs: ca.PEM})
	require.NoError(t, err)
	defer ccfg.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := rustls.DialContext(ctx, "tcp", ln.Addr().String(), ccfg, rustls.StreamOptions{})
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.SetDeadline(time.Now().Add(20*time.Second)))
	_, err = io.WriteString(c, "hello\n")
	require.NoError(t, err)
	line, err := bufio.NewReader(c).ReadString('\n')
	require.NoError(t, err)
	assert.Equal(t, "hello\n", line)
}

func TestAttack13NewcomerNetHTTPOverListener(t *testing.T) {
	ca, srv, _ := newcomerPKI(t)
	scfg := newcomerServerConfig(t, srv, rustls.ServerOptions{NextProtos: []string{"http/1.1"}})
	ln, err := rustls.Listen("tcp", "127.0.0.1:0", scfg, rustls.StreamOptions{})
	require.NoError(t, err)
	hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil {
			http.Error(w, "no TLS", 500)
			return
		}
		_, _ = io.WriteString(w, tls.VersionName(r.TLS.Version))
	})}
	done := make(chan error, 1)
	go func() { done <- hs.Serve(ln) }()
	defer func() {
		_ = hs.Close()
		assert.ErrorIs(t, <-done, http.ErrServerClosed)
	}()

	client := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: ca.Pool()},
	}}
	resp, err := client.Get("https://" + ln.Addr().String() + "/")
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	assert.Equal(t, 200, resp.StatusCode, string(body))
	assert.Equal(t, "TLS 1.3", string(body))
}

// Mutual TLS over a Listener: the server sees the client's certificate
// in ConnectionState; a client without one never reaches Accept and is
// reported to Logger; a client without one learns it on its first Read.
func TestAttack13NewcomerMutualTLS(t *testing.T) {
	ca, srv, cli := newcomerPKI(t)
	scfg := newcomerServerConfig(t, srv, rustls.ServerOptions{
		ClientAuth: rustls.RequireAndVerifyClientCert,
		ClientCAs:  ca.PEM,
	})
	ln, err := rustls.Listen("tcp", "127.0.0.1:0", scfg, rustls.StreamOptions{})
	require.NoError(t, err)
	rec := &recordingHandler{}
	ln.Logger = slog.New(rec)
	defer ln.Close()
	names := make(chan string, 4)
	go func() {
		for {
			s, err := ln.AcceptStream()
			if err != nil {
				return
			}
			st := s.ConnectionState()
			if len(st.PeerCertificates) > 0 {
				names <- st.PeerCertificates[0].Subject.CommonName
			} else {
				names <- ""
			}
			_, _ = io.WriteString(s, "hi\n")
			_ = s.Close()
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	ckey, err := rustls.NewCertifiedKey(cli.ChainPEM, cli.KeyPEM)
	require.NoError(t, err)
	defer ckey.Close()
	withCert, err := rustls.NewClientConfig(rustls.ClientOptions{RootCAs: ca.PEM, Certificate: ckey})
	require.NoError(t, err)
	defer withCert.Close()
	c, err := rustls.DialContext(ctx, "tcp", ln.Addr().String(), withCert, rustls.StreamOptions{})
	require.NoError(t, err)
	line, err := bufio.NewReader(c).ReadString('\n')
	require.NoError(t, err)
	assert.Equal(t, "hi\n", line)
	_ = c.Close()
	select {
	case n := <-names:
		assert.Equal(t, "alice", n)
	case <-ctx.Done():
		t.Fatal("no accepted Stream")
	}

	noCert, err := rustls.NewClientConfig(rustls.ClientOptions{RootCAs: ca.PEM})
	require.NoError(t, err)
	defer noCert.Close()
	c, err = rustls.DialContext(ctx, "tcp", ln.Addr().String(), noCert, rustls.StreamOptions{})
	if err == nil { // TLS 1.3: the client's handshake ends before the server refuses
		require.NoError(t, c.SetReadDeadline(time.Now().Add(20*time.Second)))
		_, err = c.Read(make([]byte, 1))
		_ = c.Close()
	}
	require.Error(t, err)
	assert.ErrorIs(t, err, rustls.ErrAlertReceived, "%v", err)
	rec.waitAny(ctx)
	require.Equal(t, 1, rec.count(), "the refused client is logged once")
	r := rec.first()
	assert.True(t, strings.Contains(r.Message, "handshake failed"), r.Message)
	select {
	case n := <-names:
		t.Fatalf("a refused client reached Accept (%q)", n)
	default:
	}
}

// Code written for *tls.Conn reaches the connection through these
// interfaces (net/http, grpc and proxies use the first ones); a Stream
// must satisfy them, whichever constructor made it.
var _ interface {
	net.Conn
	ConnectionState() tls.ConnectionState
	Handshake() error
	HandshakeContext(context.Context) error
	NetConn() net.Conn
	CloseWrite() error
} = (*rustls.Stream)(nil)

// The crypto/tls conversions keep the buffering rule: a DialerFromTLS's
// Streams are write-through whatever its Options say, and so are a
// LazyListener's over LazyAcceptorFromTLS (whose own Accept follows
// x.Options.WriteThrough).
func TestAttack13FromTLSKeepsTheBufferingRule(t *testing.T) {
	ca, srv, _ := newcomerPKI(t)
	cert := srv.TLSCertificate()
	la, err := rustls.LazyAcceptorFromTLS(&tls.Config{Certificates: []tls.Certificate{cert}}, &rustls.FromTLSOptions{Options: rustls.StreamOptions{WriteThrough: false}})
	require.NoError(t, err)
	ln := rustls.NewLazyListener(loopbackListener(t), la)
	defer ln.Close()
	d, err := rustls.DialerFromTLS(&tls.Config{RootCAs: ca.Pool(), ServerName: "127.0.0.1"}, &rustls.FromTLSOptions{RootCAsPEM: ca.PEM})
	require.NoError(t, err)
	d.Options.WriteThrough = false

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	accepted := make(chan *rustls.Stream, 1)
	go func() {
		s, err := ln.AcceptStream()
		if err == nil {
			accepted <- s
		}
	}()
	c, err := d.DialStream(ctx, "tcp", ln.Addr().String())
	require.NoError(t, err)
	defer c.Close()
	var s *rustls.Stream
	select {
	case s = <-accepted:
	case <-ctx.Done():
		t.Fatal("no accepted Stream")
	}
	defer s.Close()
	for _, pair := range [][2]*rustls.Stream{{c, s}, {s, c}} {
		w, r := pair[0], pair[1]
		_, err := w.Write([]byte("x")) // no Flush
		require.NoError(t, err)
		assert.False(t, w.Buffered())
		require.NoError(t, r.SetReadDeadline(time.Now().Add(20*time.Second)))
		b := make([]byte, 1)
		_, err = io.ReadFull(r, b)
		require.NoError(t, err, "an unflushed Write did not arrive")
	}
}
