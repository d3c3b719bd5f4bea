package rustls

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// lazyServe runs la.Accept on the server end of a fresh TCP pair and echoes
// one line; it returns the client end and the server's result.
func lazyServe(t *testing.T, la *LazyAcceptor) (net.Conn, <-chan error) {
	t.Helper()
	cc, sc := tcpPair(t)
	t.Cleanup(func() { cc.Close(); sc.Close() })
	ch := make(chan error, 1)
	go func() {
		s, err := la.Accept(testCtx(t), sc)
		if err != nil {
			ch <- err
			return
		}
		defer s.Close()
		buf := make([]byte, 64)
		n, err := s.Read(buf)
		if err == nil {
			_, err = s.Write(buf[:n])
		}
		ch <- err
	}()
	return cc, ch
}

func TestLazyAcceptorPerSNICertificates(t *testing.T) {
	ca := newTestCA(t, "SNI CA")
	names := []string{"one.test", "two.test", "three.test"}
	cfgs := map[string]*ServerConfig{}
	for _, n := range names {
		leaf := ca.leaf(t, leafOpts{}, n)
		cfgs[n] = serverConfig(t, func(o *ServerOptions) { o.Certificates = []*CertifiedKey{leaf.certifiedKey(t)} })
	}
	la := &LazyAcceptor{Choose: func(h *ClientHello) (*ServerConfig, error) { return cfgs[h.ServerName], nil }, Options: StreamOptions{WriteThrough: true}}
	ccfg, err := NewClientConfig(ClientOptions{RootCAs: ca.certPEM})
	require.NoError(t, err)
	defer ccfg.Close()
	for _, n := range names {
		conn, res := lazyServe(t, la)
		c, err := NewConnector(ccfg, StreamOptions{WriteThrough: true}).Connect(testCtx(t), conn, n)
		require.NoError(t, err, n)
		_, err = c.Write([]byte("ping"))
		require.NoError(t, err)
		buf := make([]byte, 4)
		_, err = io.ReadFull(c, buf)
		require.NoError(t, err)
		require.NoError(t, <-res)
		assert.Equal(t, []string{n}, c.ConnectionState().PeerCertificates[0].DNSNames)
		c.Close()
	}

	// A crypto/tls client gets the same routing.
	conn, res := lazyServe(t, la)
	gc := tls.Client(conn, &tls.Config{RootCAs: ca.pool(), ServerName: "two.test"})
	require.NoError(t, gc.HandshakeContext(testCtx(t)))
	_, err = gc.Write([]byte("go"))
	require.NoError(t, err)
	buf := make([]byte, 2)
	_, err = io.ReadFull(gc, buf)
	require.NoError(t, err)
	require.NoError(t, <-res)
	assert.Equal(t, []string{"two.test"}, gc.ConnectionState().PeerCertificates[0].DNSNames)
	gc.Close()
}

func TestLazyAcceptorALPNRouting(t *testing.T) {
	h2 := serverConfig(t, func(o *ServerOptions) { o.NextProtos = []string{"h2"} })
	h1 := serverConfig(t, func(o *ServerOptions) { o.NextProtos = []string{"http/1.1"} })
	la := &LazyAcceptor{Choose: func(h *ClientHello) (*ServerConfig, error) {
		for _, p := range h.ALPN {
			if p == "h2" {
				return h2, nil
			}
		}
		return h1, nil
	}, Options: StreamOptions{WriteThrough: true}}
	for _, tc := range []struct {
		offer []string
		want  string
	}{{[]string{"http/1.1", "h2"}, "h2"}, {[]string{"http/1.1"}, "http/1.1"}} {
		conn, res := lazyServe(t, la)
		ccfg := clientConfig(t, func(o *ClientOptions) { o.NextProtos = tc.offer })
		c, err := NewConnector(ccfg, StreamOptions{WriteThrough: true}).Connect(testCtx(t), conn, "localhost")
		require.NoError(t, err)
		assert.Equal(t, tc.want, c.ConnectionState().NegotiatedProtocol)
		_, err = c.Write([]byte("a"))
		require.NoError(t, err)
		_, err = c.Read(make([]byte, 1))
		require.NoError(t, err)
		require.NoError(t, <-res)
		c.Close()
	}
}

func TestLazyAcceptorRefusesWithAlert(t *testing.T) {
	scfg := serverConfig(t, nil)
	la := &LazyAcceptor{Choose: func(h *ClientHello) (*ServerConfig, error) {
		switch h.ServerName {
		case "localhost":
			return scfg, nil
		case "banned.test":
			return nil, &RefuseError{Alert: AlertAccessDenied, Reason: "banned"}
		}
		return nil, nil
	}}
	ccfg := clientConfig(t, func(o *ClientOptions) {
		o.DangerousVerifyPeerCertificate = func(string, [][]byte, []byte) error { return nil }
		o.RootCAs = nil
	})
	for _, tc := range []struct {
		name  string
		alert uint8
	}{{"unknown.test", AlertUnrecognizedName}, {"banned.test", AlertAccessDenied}} {
		conn, res := lazyServe(t, la)
		_, err := NewConnector(ccfg, StreamOptions{}).Connect(testCtx(t), conn, tc.name)
		require.Error(t, err)
		require.ErrorIs(t, err, ErrAlertReceived)
		var e *Error
		require.ErrorAs(t, err, &e)
		a, ok := e.Alert()
		require.True(t, ok)
		assert.Equal(t, tc.alert, a, tc.name)
		var re *RefuseError
		require.ErrorAs(t, <-res, &re)
		assert.Equal(t, tc.alert, re.Alert)
	}
}

func TestReadClientHelloContextBoundsSilentClient(t *testing.T) {
	cc, sc := tcpPair(t)
	defer cc.Close()
	defer sc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := ReadClientHello(ctx, sc)
	require.Error(t, err)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.ErrorIs(t, err, ErrIO)
	// The deadline used to interrupt the read is cleared afterwards.
	require.NoError(t, sc.SetReadDeadline(time.Now().Add(5*time.Second)))
	_, err = cc.Write([]byte("x"))
	require.NoError(t, err)
	buf := make([]byte, 1)
	_, err = sc.Read(buf)
	require.NoError(t, err)

	// An already-cancelled context fails at once.
	done, cancel2 := context.WithCancel(context.Background())
	cancel2()
	_, err = ReadClientHello(done, sc)
	assert.ErrorIs(t, err, context.Canceled)
}

func TestReadClientHelloBadInput(t *testing.T) {
	t.Run("garbage", func(t *testing.T) {
		cc, sc := tcpPair(t)
		defer cc.Close()
		defer sc.Close()
		_, err := cc.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
		require.NoError(t, err)
		_, err = ReadClientHello(testCtx(t), sc)
		var e *Error
		require.ErrorAs(t, err, &e)
		assert.NotEqual(t, CodeIO, e.Code)
		// The caller still owns the transport: it can answer.
		_, err = sc.Write([]byte("bye"))
		assert.NoError(t, err)
	})
	t.Run("eof", func(t *testing.T) {
		cc, sc := tcpPair(t)
		defer sc.Close()
		_, err := cc.Write([]byte{22, 3, 1, 0, 200, 1, 0})
		require.NoError(t, err)
		cc.Close()
		_, err = ReadClientHello(testCtx(t), sc)
		require.Error(t, err)
		assert.ErrorIs(t, err, io.ErrUnexpectedEOF)
	})
}

// choppyConn writes in tiny pieces, to split the ClientHello across reads.
type choppyConn struct{ net.Conn }

func (c choppyConn) Write(p []byte) (int, error) {
	for i := 0; i < len(p); i += 7 {
		if _, err := c.Conn.Write(p[i:min(i+7, len(p))]); err != nil {
			return i, err
		}
		time.Sleep(100 * time.Microsecond)
	}
	return len(p), nil
}

func TestReadClientHelloFragmented(t *testing.T) {
	cc, sc := tcpPair(t)
	defer cc.Close()
	defer sc.Close()
	go func() {
		gc := tls.Client(choppyConn{cc}, &tls.Config{ServerName: "frag.test", NextProtos: []string{"x", "y"}, InsecureSkipVerify: true})
		_ = gc.HandshakeContext(testCtx(t))
	}()
	h, err := ReadClientHello(testCtx(t), sc)
	require.NoError(t, err)
	hello := h.ClientHello()
	assert.Equal(t, "frag.test", hello.ServerName)
	assert.Equal(t, []string{"x", "y"}, hello.ALPN)
	assert.NotEmpty(t, hello.SignatureSchemes)
	assert.Contains(t, hello.CipherSuites, tls.TLS_AES_128_GCM_SHA256)
	assert.Equal(t, sc, h.Conn())
	h.Abandon()
}

func TestStartHandshakeIntoStreamRejectsCallbackConfigs(t *testing.T) {
	_, srv, _ := pki(t)
	k := srv.certifiedKey(t)
	cb, err := NewServerConfig(ServerOptions{GetCertificate: func(*ClientHello) (*CertifiedKey, error) { return k, nil }})
	require.NoError(t, err)
	defer cb.Close()
	cc, sc := tcpPair(t)
	defer cc.Close()
	defer sc.Close()
	go func() {
		_, _ = NewConnector(clientConfig(t, nil), StreamOptions{}).ConnectFallible(testCtx(t), cc, "localhost")
	}()
	h, err := ReadClientHello(testCtx(t), sc)
	require.NoError(t, err)
	_, err = h.IntoStream(testCtx(t), cb, StreamOptions{})
	assert.ErrorIs(t, err, ErrInvalidInput)

	cc2, sc2 := tcpPair(t)
	defer cc2.Close()
	defer sc2.Close()
	go func() {
		_, _ = NewConnector(clientConfig(t, nil), StreamOptions{}).ConnectFallible(testCtx(t), cc2, "localhost")
	}()
	h, err = ReadClientHello(testCtx(t), sc2)
	require.NoError(t, err)
	_, err = h.IntoStream(testCtx(t), nil, StreamOptions{})
	assert.True(t, errors.Is(err, ErrInvalidInput))
}
