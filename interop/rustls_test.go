//lint:file-ignore SA1019 net/http speaks HTTP/2 only over *tls.Conn; x/net/http2's ServeConn runs HTTP/2 over a rustls Stream for curl.

package interop

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/gorustls/gorustls/rustls"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/http2"
)

// hsTimeout bounds every handshake gorustls runs here.
const hsTimeout = 10 * time.Second

// serverCfg builds a gorustls server config: certificate by key type, then
// the caller's changes.
func serverCfg(t testing.TB, kt string, mod func(*rustls.ServerOptions)) *rustls.ServerConfig {
	t.Helper()
	o := rustls.ServerOptions{Certificates: []*rustls.CertifiedKey{certKey(t, pk.servers[kt])}}
	if mod != nil {
		mod(&o)
	}
	cfg, err := rustls.NewServerConfig(o)
	require.NoError(t, err)
	t.Cleanup(func() { cfg.Close() })
	return cfg
}

// clientCfg builds a gorustls client config trusting the suite's CA.
func clientCfg(t testing.TB, mod func(*rustls.ClientOptions)) *rustls.ClientConfig {
	t.Helper()
	o := rustls.ClientOptions{RootCAs: pk.ca.pem}
	if mod != nil {
		mod(&o)
	}
	cfg, err := rustls.NewClientConfig(o)
	require.NoError(t, err)
	t.Cleanup(func() { cfg.Close() })
	return cfg
}

func certKey(t testing.TB, l *leaf) *rustls.CertifiedKey {
	t.Helper()
	k, err := rustls.NewCertifiedKey(l.certPEM, l.keyPEM)
	require.NoError(t, err)
	t.Cleanup(func() { k.Close() })
	return k
}

// connResult is what the gorustls server saw of one connection.
type connResult struct {
	state tls.ConnectionState
	kind  rustls.HandshakeKind
	err   error  // handshake error, or the handler's
	end   error  // how the peer's stream ended (io.EOF, io.ErrUnexpectedEOF, ...)
	info  string // handler output (checksum, ...)
}

// handler serves one established Stream and reports how it ended.
type handler func(s *rustls.Stream, r *connResult)

// tserver is a gorustls server on loopback.
type tserver struct {
	addr    string
	port    int
	results chan connResult
}

// acceptFunc runs a handshake: Acceptor.Accept or LazyAcceptor.Accept.
type acceptFunc func(ctx context.Context, c net.Conn) (*rustls.Stream, error)

func acceptWith(cfg *rustls.ServerConfig) acceptFunc {
	return rustls.NewAcceptor(cfg, rustls.StreamOptions{WriteThrough: true}).Accept
}

// startServer accepts connections with accept and serves them with h until
// the test ends.
func startServer(t testing.TB, accept acceptFunc, h handler) *tserver {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	s := &tserver{addr: ln.Addr().String(), port: ln.Addr().(*net.TCPAddr).Port, results: make(chan connResult, 64)}
	var wg sync.WaitGroup
	var mu sync.Mutex
	conns := map[net.Conn]bool{}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns[c] = true
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { mu.Lock(); delete(conns, c); mu.Unlock() }()
				ctx, cancel := context.WithTimeout(context.Background(), hsTimeout)
				defer cancel()
				var r connResult
				st, err := accept(ctx, c)
				if err != nil {
					r.err = err
					s.results <- r
					return
				}
				r.state, r.kind = st.ConnectionState(), st.HandshakeKind()
				_ = st.SetDeadline(time.Now().Add(peerTimeout))
				h(st, &r)
				_ = st.Close()
				s.results <- r
			}()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		for c := range conns {
			_ = c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return s
}

// next returns the next finished connection.
func (s *tserver) next(t testing.TB) connResult {
	t.Helper()
	select {
	case r := <-s.results:
		return r
	case <-time.After(20 * time.Second):
		t.Fatal("the gorustls server saw no connection finish")
		return connResult{}
	}
}

// greetThenEcho writes a greeting line, as SMTP or IMAP servers do, then
// runs echoLines. A TLS 1.3 gorustls server sends its session tickets with
// its first write, so a client that leaves without sending anything (as
// gnutls-cli --resume does) still gets one.
func greetThenEcho(s *rustls.Stream, r *connResult) {
	if _, r.err = s.Write([]byte("hello from gorustls\n")); r.err != nil {
		return
	}
	echoLines(s, r)
}

// echoLines echoes each line until the peer closes; the line "bye" makes the
// server close first (close_notify), "keyupdate" makes it send a KeyUpdate.
func echoLines(s *rustls.Stream, r *connResult) {
	br := bufio.NewReader(s)
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			r.end = err
			return
		}
		switch line {
		case "bye\n":
			_, r.err = s.Write([]byte(line))
			r.end = io.EOF
			return
		case "rekey\n":
			if r.err = s.KeyUpdate(); r.err != nil {
				return
			}
		}
		if _, err := s.Write([]byte(line)); err != nil {
			r.err = err
			return
		}
	}
}

// httpHandler answers every request with the protocol and ALPN seen.
func httpHandler(w http.ResponseWriter, req *http.Request) {
	_, _ = io.WriteString(w, "hello from gorustls over "+req.Proto+"\n")
}

// serveHTTP serves HTTP/2 when h2 was negotiated, else HTTP/1.1, on one Stream.
func serveHTTP(s *rustls.Stream, r *connResult) {
	if s.ConnectionState().NegotiatedProtocol == "h2" {
		(&http2.Server{}).ServeConn(s, &http2.ServeConnOpts{Handler: http.HandlerFunc(httpHandler)})
		return
	}
	l := newOneConnListener(s)
	srv := &http.Server{Handler: http.HandlerFunc(httpHandler), ReadHeaderTimeout: 10 * time.Second,
		ConnState: func(c net.Conn, st http.ConnState) {
			if st == http.StateClosed || st == http.StateHijacked {
				l.Close()
			}
		}}
	r.end = srv.Serve(l)
	if errors.Is(r.end, net.ErrClosed) {
		r.end = nil
	}
}

// oneConnListener hands out one connection, then blocks until closed.
type oneConnListener struct {
	ch   chan net.Conn
	done chan struct{}
	once sync.Once
	addr net.Addr
}

func newOneConnListener(c net.Conn) *oneConnListener {
	l := &oneConnListener{ch: make(chan net.Conn, 1), done: make(chan struct{}), addr: c.LocalAddr()}
	l.ch <- c
	return l
}

func (l *oneConnListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *oneConnListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *oneConnListener) Addr() net.Addr { return l.addr }

// dial connects a gorustls client to addr for serverName.
func dial(t testing.TB, cfg *rustls.ClientConfig, addr, serverName string) (*rustls.Stream, error) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), hsTimeout)
	defer cancel()
	s, err := rustls.NewConnector(cfg, rustls.StreamOptions{WriteThrough: true}).Connect(ctx, c, serverName)
	if err == nil {
		_ = s.SetDeadline(time.Now().Add(peerTimeout))
		t.Cleanup(func() { s.Close() })
	}
	return s, err
}

// requireCode checks that err is a *rustls.Error with one of codes.
func requireCode(t testing.TB, err error, codes ...rustls.Code) *rustls.Error {
	t.Helper()
	require.Error(t, err)
	var re *rustls.Error
	require.True(t, errors.As(err, &re), "not a *rustls.Error: %T %v", err, err)
	require.Contains(t, codes, re.Code, "got %v (%d)", re, re.Code)
	t.Logf("error: %v", re)
	return re
}
