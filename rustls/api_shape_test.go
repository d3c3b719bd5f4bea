package rustls

import (
	"context"
	"crypto/tls"
	"net"
	"os"
	"reflect"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// *Stream has crypto/tls's Conn methods where the behaviour matches.
var (
	_ net.Conn                                             = (*Stream)(nil)
	_ interface{ HandshakeContext(context.Context) error } = (*Stream)(nil)
	_ interface{ Handshake() error }                       = (*Stream)(nil)
	_ interface{ ConnectionState() tls.ConnectionState }   = (*Stream)(nil)
	_ interface{ CloseWrite() error }                      = (*Stream)(nil)
	_ interface{ NetConn() net.Conn }                      = (*Stream)(nil)
	_ interface {
		net.Listener
		AcceptStream() (*Stream, error)
	} = (*Listener)(nil)
	_ interface {
		net.Listener
		AcceptStream() (*Stream, error)
	} = (*LazyListener)(nil)
)

// methodNames lists the exported methods of v's type.
func methodNames(v any) []string {
	t := reflect.TypeOf(v)
	var names []string
	for i := range t.NumMethod() {
		names = append(names, t.Method(i).Name)
	}
	return names
}

func TestListenerAndLazyListenerHaveTheSameMethods(t *testing.T) {
	assert.Equal(t, methodNames((*Listener)(nil)), methodNames((*LazyListener)(nil)))
}

// acceptStreams runs an Acceptor with opts on a loopback listener and sends
// each accepted Stream to the returned channel.
func acceptStreams(t *testing.T, cfg *ServerConfig, opts StreamOptions) (addr string, streams <-chan *Stream) {
	t.Helper()
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { inner.Close() })
	ch := make(chan *Stream, 4)
	go func() {
		for {
			c, err := inner.Accept()
			if err != nil {
				return
			}
			s, err := NewAcceptor(cfg, opts).Accept(context.Background(), c)
			if err != nil {
				continue
			}
			t.Cleanup(func() { s.Close() })
			ch <- s
		}
	}()
	return inner.Addr().String(), ch
}

// lazyAcceptor picks cfg for every ClientHello.
func lazyAcceptor(cfg *ServerConfig, opts StreamOptions) *LazyAcceptor {
	return &LazyAcceptor{Choose: func(*ClientHello) (*ServerConfig, error) { return cfg, nil }, Options: opts}
}

func TestListenersHandOutStreams(t *testing.T) {
	cfg := serverConfig(t, nil)
	for name, ln := range map[string]net.Listener{
		"Listener":     must(t, func() (net.Listener, error) { return Listen("tcp", "127.0.0.1:0", cfg, StreamOptions{}) }),
		"LazyListener": NewLazyListener(must(t, func() (net.Listener, error) { return net.Listen("tcp", "127.0.0.1:0") }), lazyAcceptor(cfg, StreamOptions{})),
	} {
		t.Run(name, func(t *testing.T) {
			defer ln.Close()
			go func() {
				if s, err := DialContext(testCtx(t), "tcp", ln.Addr().String(), clientConfig(t, nil), StreamOptions{}); err == nil {
					t.Cleanup(func() { s.Close() })
				}
			}()
			c, err := ln.Accept()
			require.NoError(t, err)
			defer c.Close()
			s, ok := c.(*Stream)
			require.True(t, ok, "Accept returned %T", c)
			require.NoError(t, s.HandshakeContext(testCtx(t)))
			assert.True(t, s.ConnectionState().HandshakeComplete)
		})
	}
}

func must[T any](t *testing.T, fn func() (T, error)) T {
	t.Helper()
	v, err := fn()
	require.NoError(t, err)
	return v
}

// ConnectionState never runs or waits for the handshake: before it has
// completed it returns a state with HandshakeComplete false, as crypto/tls.
func TestConnectionStateBeforeHandshakeDoesNotBlock(t *testing.T) {
	// A server Stream whose client stays silent.
	silent, sc := tcpPair(t)
	defer silent.Close()
	c, err := NewAcceptor(serverConfig(t, nil), StreamOptions{HandshakeTimeout: time.Minute}).Server(sc)
	require.NoError(t, err)
	defer c.Close()
	var st tls.ConnectionState
	_, ok := within(t, 10*time.Second, "ConnectionState before the handshake", func() error {
		st = c.ConnectionState()
		return nil
	})
	require.True(t, ok)
	assert.False(t, st.HandshakeComplete)
	assert.Zero(t, st.Version)

	// The same for a Stream from Acceptor.Server and Connector.Client.
	cc, sc := tcpPair(t)
	s, err := NewAcceptor(serverConfig(t, nil), StreamOptions{}).Server(sc)
	require.NoError(t, err)
	defer s.Close()
	assert.False(t, s.ConnectionState().HandshakeComplete)
	cs, err := NewConnector(clientConfig(t, nil), StreamOptions{}).Client(cc, "localhost")
	require.NoError(t, err)
	defer cs.Close()
	assert.False(t, cs.ConnectionState().HandshakeComplete)
}

// eachWriteArrives writes three messages on w without Flush and checks that
// the peer receives each one before the next is written.
func eachWriteArrives(t *testing.T, w, peer net.Conn) {
	t.Helper()
	buf := make([]byte, 5)
	for i := range 3 {
		msg := []byte{'w', 'r', 'i', 't', '0' + byte(i)}
		_, err := w.Write(msg)
		require.NoError(t, err)
		require.NoError(t, readFullWithin(peer, buf, 10*time.Second), "write %d was not sent without Flush", i)
		assert.Equal(t, msg, buf)
	}
}

// nothingArrivesBeforeFlush writes on w and checks that the peer gets
// nothing until w.Flush.
func nothingArrivesBeforeFlush(t *testing.T, w *Stream, peer net.Conn) {
	t.Helper()
	_, err := w.Write([]byte("later"))
	require.NoError(t, err)
	assert.True(t, w.Buffered())
	buf := make([]byte, 5)
	n, err := readWithin(peer, buf, 200*time.Millisecond)
	require.ErrorIs(t, err, os.ErrDeadlineExceeded, "data left without Flush")
	require.Zero(t, n)
	require.NoError(t, w.Flush())
	require.NoError(t, readFullWithin(peer, buf, 10*time.Second))
	assert.Equal(t, "later", string(buf))
}

// Everything that hands a Stream to generic net.Conn code is
// write-through, whatever StreamOptions.WriteThrough says.
func TestWriteThroughForNetConnHandouts(t *testing.T) {
	scfg, ccfg := serverConfig(t, nil), clientConfig(t, nil)
	buffered := StreamOptions{WriteThrough: false}

	t.Run("Dial", func(t *testing.T) {
		addr, streams := acceptStreams(t, scfg, StreamOptions{})
		c, err := Dial("tcp", addr, ccfg, buffered)
		require.NoError(t, err)
		defer c.Close()
		eachWriteArrives(t, c, <-streams)
	})
	t.Run("DialContext", func(t *testing.T) {
		addr, streams := acceptStreams(t, scfg, StreamOptions{})
		c, err := DialContext(testCtx(t), "tcp", addr, ccfg, buffered)
		require.NoError(t, err)
		defer c.Close()
		eachWriteArrives(t, c, <-streams)
	})
	t.Run("Dialer", func(t *testing.T) {
		addr, streams := acceptStreams(t, scfg, StreamOptions{})
		d := &Dialer{Config: ccfg, Options: buffered}
		c, err := d.DialContext(testCtx(t), "tcp", addr)
		require.NoError(t, err)
		defer c.Close()
		eachWriteArrives(t, c, <-streams)
	})
	serverSide := func(t *testing.T, ln net.Listener) {
		defer ln.Close()
		type res struct {
			c   net.Conn
			err error
		}
		ch := make(chan res, 1)
		go func() {
			c, err := ln.Accept()
			if err == nil {
				// A Listener's Stream is already handshaken; this is a no-op,
				// kept to check that it returns nil.
				err = c.(*Stream).HandshakeContext(testCtx(t))
			}
			ch <- res{c, err}
		}()
		c, err := DialContext(testCtx(t), "tcp", ln.Addr().String(), ccfg, StreamOptions{})
		require.NoError(t, err)
		defer c.Close()
		r := <-ch
		require.NoError(t, r.err)
		defer r.c.Close()
		eachWriteArrives(t, r.c, c)
	}
	t.Run("Listener", func(t *testing.T) {
		ln, err := Listen("tcp", "127.0.0.1:0", scfg, buffered)
		require.NoError(t, err)
		serverSide(t, ln)
	})
	t.Run("LazyListener", func(t *testing.T) {
		inner, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		serverSide(t, NewLazyListener(inner, lazyAcceptor(scfg, buffered)))
	})
}

// Acceptor, LazyAcceptor and Connector follow StreamOptions.WriteThrough:
// buffered until Flush by default.
func TestAcceptorConnectorBufferedByDefault(t *testing.T) {
	scfg, ccfg := serverConfig(t, nil), clientConfig(t, nil)
	t.Run("Connector", func(t *testing.T) {
		addr, streams := acceptStreams(t, scfg, StreamOptions{})
		raw, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		c, err := NewConnector(ccfg, StreamOptions{}).Connect(testCtx(t), raw, "localhost")
		require.NoError(t, err)
		defer c.Close()
		nothingArrivesBeforeFlush(t, c, <-streams)
	})
	t.Run("Acceptor", func(t *testing.T) {
		addr, streams := acceptStreams(t, scfg, StreamOptions{})
		c, err := DialContext(testCtx(t), "tcp", addr, ccfg, StreamOptions{})
		require.NoError(t, err)
		defer c.Close()
		nothingArrivesBeforeFlush(t, <-streams, c)
	})
	t.Run("LazyAcceptor", func(t *testing.T) {
		cc, sc := tcpPair(t)
		ch := make(chan *Stream, 1)
		go func() {
			s, err := lazyAcceptor(scfg, StreamOptions{}).Accept(testCtx(t), sc)
			if err == nil {
				t.Cleanup(func() { s.Close() })
			}
			ch <- s
		}()
		c, err := NewConnector(ccfg, StreamOptions{WriteThrough: true}).Connect(testCtx(t), cc, "localhost")
		require.NoError(t, err)
		defer c.Close()
		s := <-ch
		require.NotNil(t, s)
		nothingArrivesBeforeFlush(t, s, c)
	})
}

func TestHandshakeContextHonoursCancel(t *testing.T) {
	cc, _ := tcpPair(t) // the server never answers
	s, err := NewConnector(clientConfig(t, nil), StreamOptions{HandshakeTimeout: time.Minute}).Client(cc, "localhost")
	require.NoError(t, err)
	defer s.Close()
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	err, ok := within(t, 10*time.Second, "HandshakeContext after cancel", func() error { return s.HandshakeContext(ctx) })
	require.True(t, ok)
	require.ErrorIs(t, err, context.Canceled)
	assert.ErrorIs(t, s.Handshake(), context.Canceled, "a failed handshake is permanent")
}

// Handshake takes no context: StreamOptions.HandshakeTimeout bounds it,
// DefaultHandshakeTimeout when that is 0.
func TestHandshakeIsBounded(t *testing.T) {
	t.Run("HandshakeTimeout", func(t *testing.T) {
		t.Parallel()
		_, sc := tcpPair(t) // the client never speaks
		s, err := NewAcceptor(serverConfig(t, nil), StreamOptions{HandshakeTimeout: 200 * time.Millisecond}).Server(sc)
		require.NoError(t, err)
		defer s.Close()
		err, ok := within(t, 20*time.Second, "Handshake with HandshakeTimeout", s.Handshake)
		require.True(t, ok)
		assert.ErrorIs(t, err, context.DeadlineExceeded)
	})
	t.Run("DefaultHandshakeTimeout", func(t *testing.T) {
		t.Parallel()
		cc, _ := tcpPair(t) // the server never answers
		s, err := NewConnector(clientConfig(t, nil), StreamOptions{}).Client(cc, "localhost")
		require.NoError(t, err)
		defer s.Close()
		err, ok := within(t, DefaultHandshakeTimeout+20*time.Second, "Handshake with no HandshakeTimeout", s.Handshake)
		require.True(t, ok)
		assert.ErrorIs(t, err, context.DeadlineExceeded)
	})
}

// GetCertificate gets the same *ClientHello type as LazyAcceptor.Choose,
// with the Stream's transport and the handshake's context.
func TestGetCertificateGetsClientHello(t *testing.T) {
	_, srv, _ := pki(t)
	key := srv.certifiedKey(t)
	seen := make(chan *ClientHello, 1)
	scfg := serverConfig(t, func(o *ServerOptions) {
		o.Certificates = nil
		o.NextProtos = []string{"x"}
		o.GetCertificate = func(h *ClientHello) (*CertifiedKey, error) {
			seen <- h
			return key, nil
		}
	})
	cc, sc := tcpPair(t)
	ch := make(chan error, 1)
	go func() {
		s, err := NewAcceptor(scfg, StreamOptions{}).Accept(testCtx(t), sc)
		if err == nil {
			t.Cleanup(func() { s.Close() })
		}
		ch <- err
	}()
	c, err := NewConnector(clientConfig(t, func(o *ClientOptions) { o.NextProtos = []string{"x"} }), StreamOptions{}).Connect(testCtx(t), cc, "localhost")
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, <-ch)
	h := <-seen
	assert.Equal(t, "localhost", h.ServerName)
	assert.Equal(t, []string{"x"}, h.ALPN)
	assert.NotEmpty(t, h.SignatureSchemes)
	assert.Same(t, sc, h.Conn())
	assert.NotNil(t, h.Context())
}
