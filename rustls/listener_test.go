package rustls

import (
	"bufio"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// serveEcho accepts from ln until it fails and echoes lines on each
// connection, each on its own goroutine.
func serveEcho(t *testing.T, ln net.Listener) {
	t.Helper()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					if _, err := c.Write([]byte(line)); err != nil {
						return
					}
				}
			}()
		}
	}()
	t.Cleanup(func() { ln.Close(); wg.Wait() })
}

func echoLine(t *testing.T, c net.Conn, msg string) {
	t.Helper()
	_, err := c.Write([]byte(msg + "\n"))
	require.NoError(t, err)
	got, err := bufio.NewReader(c).ReadString('\n')
	require.NoError(t, err)
	assert.Equal(t, msg+"\n", got)
}

func TestListenerSilentClientDoesNotBlockOthers(t *testing.T) {
	ln, err := Listen("tcp", "127.0.0.1:0", serverConfig(t, nil), StreamOptions{HandshakeTimeout: 500 * time.Millisecond})
	require.NoError(t, err)
	serveEcho(t, ln)

	// Two clients that connect and never speak.
	var silent []net.Conn
	for range 2 {
		c, err := net.Dial("tcp", ln.Addr().String())
		require.NoError(t, err)
		defer c.Close()
		silent = append(silent, c)
	}
	ccfg := clientConfig(t, nil)
	for i := range 3 {
		s, err := DialContext(testCtx(t), "tcp", ln.Addr().String(), ccfg, StreamOptions{})
		require.NoError(t, err, "client %d", i)
		echoLine(t, s, "hello")
		s.Close()
	}
	// The silent clients are dropped by the handshake timeout.
	for _, c := range silent {
		require.NoError(t, c.SetReadDeadline(time.Now().Add(10*time.Second)))
		_, err := io.ReadAll(c)
		var ne net.Error
		if errors.As(err, &ne) {
			require.False(t, ne.Timeout(), "silent client was never dropped")
		}
	}
}

// A Listener hands out handshaken, write-through Streams; a failed
// handshake is logged, never returned by Accept, and does not stop the
// listener.
func TestListenerStreamsAreHandshakenAndWriteThrough(t *testing.T) {
	ln, err := Listen("tcp", "127.0.0.1:0", serverConfig(t, func(o *ServerOptions) { o.NextProtos = []string{"http/1.1"} }), StreamOptions{})
	require.NoError(t, err)
	defer ln.Close()
	recs := make(chan slog.Record, 16)
	ln.Logger = slog.New(funcHandler(func(r slog.Record) { recs <- r }))

	type res struct {
		s   *Stream
		err error
	}
	ch := make(chan res, 1)
	go func() { s, err := ln.AcceptStream(); ch <- res{s, err} }()
	start := time.Now()
	// A client that is refused (it does not trust the server's CA) is
	// logged and never handed out.
	other := newTestCA(t, "another CA")
	bad, err := DialContext(testCtx(t), "tcp", ln.Addr().String(), clientConfig(t, func(o *ClientOptions) { o.RootCAs = other.certPEM }), StreamOptions{})
	require.Error(t, err)
	assert.Nil(t, bad)
	t.Logf("refused after %v: %v", time.Since(start), err)

	d := &Dialer{Config: clientConfig(t, func(o *ClientOptions) { o.NextProtos = []string{"http/1.1"} }), ServerName: "localhost"}
	c, err := d.DialContext(testCtx(t), "tcp", ln.Addr().String())
	require.NoError(t, err)
	defer c.Close()
	var r res
	select {
	case r = <-ch:
	case <-time.After(30 * time.Second):
		t.Fatal("Accept did not return the good client")
	}
	require.NoError(t, r.err)
	defer r.s.Close()
	st := r.s.ConnectionState() // complete at once: Accept handshook
	assert.True(t, st.HandshakeComplete)
	assert.Equal(t, "http/1.1", st.NegotiatedProtocol)
	assert.Equal(t, "localhost", st.ServerName)
	assert.Equal(t, ln.Addr(), r.s.LocalAddr())

	_, err = r.s.Write([]byte("no flush needed\n")) // write-through
	require.NoError(t, err)
	line, err := bufio.NewReader(c).ReadString('\n')
	require.NoError(t, err)
	assert.Equal(t, "no flush needed\n", line)

	select {
	case r := <-recs:
		assert.Equal(t, slog.LevelInfo, r.Level)
		assert.Contains(t, r.Message, "handshake failed")
		assert.NotEmpty(t, recordAttrs(r)["remote"].String())
	case <-time.After(30 * time.Second):
		t.Fatal("the refused client was not logged")
	}
}

func TestListenNilConfig(t *testing.T) {
	_, err := Listen("tcp", "127.0.0.1:0", nil, StreamOptions{})
	assert.ErrorIs(t, err, ErrInvalidInput)
}

func TestListenerClosedConfig(t *testing.T) {
	cfg := serverConfig(t, nil)
	ln, err := Listen("tcp", "127.0.0.1:0", cfg, StreamOptions{})
	require.NoError(t, err)
	defer ln.Close()
	cfg.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	defer c.Close()
	_, err = ln.Accept()
	require.Error(t, err)
}

func TestLazyListenerRoutesAndSurvivesSilentClients(t *testing.T) {
	ca := newTestCA(t, "lazy listener CA")
	a := ca.leaf(t, leafOpts{}, "a.test")
	b := ca.leaf(t, leafOpts{}, "b.test")
	cfgA := serverConfig(t, func(o *ServerOptions) { o.Certificates = []*CertifiedKey{a.certifiedKey(t)} })
	cfgB := serverConfig(t, func(o *ServerOptions) { o.Certificates = []*CertifiedKey{b.certifiedKey(t)} })
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ln := NewLazyListener(inner, &LazyAcceptor{
		Choose: func(h *ClientHello) (*ServerConfig, error) {
			switch h.ServerName {
			case "a.test":
				return cfgA, nil
			case "b.test":
				return cfgB, nil
			}
			return nil, errors.New("unknown name")
		},
		Options: StreamOptions{HandshakeTimeout: 300 * time.Millisecond},
	})
	var failures atomic.Int32
	ln.Logger = slog.New(funcHandler(func(slog.Record) { failures.Add(1) }))
	serveEcho(t, ln)

	silent, err := net.Dial("tcp", inner.Addr().String())
	require.NoError(t, err)
	defer silent.Close()

	ccfg, err := NewClientConfig(ClientOptions{RootCAs: ca.certPEM})
	require.NoError(t, err)
	defer ccfg.Close()
	for _, name := range []string{"a.test", "b.test"} {
		d := Dialer{Config: ccfg, ServerName: name}
		c, err := d.DialStream(testCtx(t), "tcp", inner.Addr().String())
		require.NoError(t, err)
		echoLine(t, c, name)
		assert.Equal(t, []string{name}, c.ConnectionState().PeerCertificates[0].DNSNames)
		c.Close()
	}
	d := Dialer{Config: ccfg, ServerName: "c.test"}
	_, err = d.DialStream(testCtx(t), "tcp", inner.Addr().String())
	require.Error(t, err)
	assert.ErrorIs(t, err, ErrAlertReceived)

	// The silent client is dropped and reported.
	require.NoError(t, silent.SetReadDeadline(time.Now().Add(10*time.Second)))
	_, _ = io.ReadAll(silent)
	require.Eventually(t, func() bool { return failures.Load() >= 2 }, 10*time.Second, 10*time.Millisecond)

	require.NoError(t, ln.Close())
	_, err = ln.Accept()
	assert.ErrorIs(t, err, net.ErrClosed)
}
