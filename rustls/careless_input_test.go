package rustls

import (
	"context"
	"net"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// carelessCall runs fn, failing the test on a panic, and checks that the
// error is an *Error matching ErrInvalidInput.
func carelessCall(t *testing.T, what string, fn func() error) {
	t.Helper()
	var err error
	func() {
		defer func() {
			if v := recover(); v != nil {
				t.Errorf("%s panicked: %v", what, v)
			}
		}()
		err = fn()
	}()
	if t.Failed() {
		return
	}
	e := rustlsError(t, err)
	assert.ErrorIs(t, e, ErrInvalidInput, what)
	assert.Equal(t, CodeInvalidParameter, e.Code, what)
}

// Every entry point refuses a zero config, a nil net.Conn and a nil
// context with an *Error (CodeInvalidParameter, ErrInvalidInput), never a
// panic.
func TestCarelessInputEveryEntryPoint(t *testing.T) {
	scfg := serverConfig(t, nil)
	ccfg := clientConfig(t, nil)
	ctx := testCtx(t)
	conn := func() net.Conn { c, _ := tcpPair(t); return c }
	var nilCtx context.Context // a careless caller's nil context
	choose := func(*ClientHello) (*ServerConfig, error) { return scfg, nil }
	cases := map[string]func() error{
		"NewAcceptor(zero).Accept": func() error { _, err := NewAcceptor(&ServerConfig{}, StreamOptions{}).Accept(ctx, conn()); return err },
		"NewAcceptor(zero).AcceptFallible": func() error {
			_, err := NewAcceptor(&ServerConfig{}, StreamOptions{}).AcceptFallible(ctx, conn())
			return err
		},
		"NewAcceptor(zero).Server":  func() error { _, err := NewAcceptor(&ServerConfig{}, StreamOptions{}).Server(conn()); return err },
		"NewAcceptor(nil).Server":   func() error { _, err := NewAcceptor(nil, StreamOptions{}).Server(conn()); return err },
		"Acceptor.Accept(nil conn)": func() error { _, err := NewAcceptor(scfg, StreamOptions{}).Accept(ctx, nil); return err },
		"Acceptor.Server(nil conn)": func() error { _, err := NewAcceptor(scfg, StreamOptions{}).Server(nil); return err },
		"Acceptor.Accept(nil ctx)":  func() error { _, err := NewAcceptor(scfg, StreamOptions{}).Accept(nilCtx, conn()); return err },
		"NewConnector(zero).Connect": func() error {
			_, err := NewConnector(&ClientConfig{}, StreamOptions{}).Connect(ctx, conn(), "localhost")
			return err
		},
		"NewConnector(zero).Client": func() error {
			_, err := NewConnector(&ClientConfig{}, StreamOptions{}).Client(conn(), "localhost")
			return err
		},
		"Connector.Connect(nil conn)": func() error { _, err := NewConnector(ccfg, StreamOptions{}).Connect(ctx, nil, "localhost"); return err },
		"Connector.Client(nil conn)":  func() error { _, err := NewConnector(ccfg, StreamOptions{}).Client(nil, "localhost"); return err },
		"Connector.Connect(nil ctx)": func() error {
			_, err := NewConnector(ccfg, StreamOptions{}).Connect(nilCtx, conn(), "localhost")
			return err
		},
		"Dial(zero config)":              func() error { _, err := Dial("tcp", "127.0.0.1:1", &ClientConfig{}, StreamOptions{}); return err },
		"DialContext(nil ctx)":           func() error { _, err := DialContext(nilCtx, "tcp", "127.0.0.1:1", ccfg, StreamOptions{}); return err },
		"Dialer.DialContext(nil ctx)":    func() error { _, err := (&Dialer{Config: ccfg}).DialContext(nilCtx, "tcp", "127.0.0.1:1"); return err },
		"ReadClientHello(nil ctx)":       func() error { _, err := ReadClientHello(nilCtx, conn()); return err },
		"ReadClientHello(nil conn)":      func() error { _, err := ReadClientHello(ctx, nil); return err },
		"LazyAcceptor.Accept(nil conn)":  func() error { _, err := (&LazyAcceptor{Choose: choose}).Accept(ctx, nil); return err },
		"LazyAcceptor.Accept(nil ctx)":   func() error { _, err := (&LazyAcceptor{Choose: choose}).Accept(nilCtx, conn()); return err },
		"LazyAcceptor.Accept(no Choose)": func() error { _, err := (&LazyAcceptor{}).Accept(ctx, conn()); return err },
		"Stream.HandshakeContext(nil ctx)": func() error {
			s, err := NewConnector(ccfg, StreamOptions{}).Client(conn(), "localhost")
			require.NoError(t, err)
			defer s.Close()
			return s.HandshakeContext(nilCtx)
		},
		"zero Listener.Accept":     func() error { _, err := (&Listener{}).Accept(); return err },
		"zero LazyListener.Accept": func() error { _, err := (&LazyListener{}).Accept(); return err },
		"StartHandshake.IntoStream(zero config)": func() error {
			h, _ := readHelloOver(t, capturedClientHello(t))
			_, err := h.IntoStream(ctx, &ServerConfig{}, StreamOptions{})
			return err
		},
		"StartHandshake.IntoStream(nil ctx)": func() error {
			h, _ := readHelloOver(t, capturedClientHello(t))
			_, err := h.IntoStream(nilCtx, scfg, StreamOptions{})
			return err
		},
		"zero StartHandshake.IntoStream": func() error { _, err := (&StartHandshake{}).IntoStream(ctx, scfg, StreamOptions{}); return err },
	}
	for name, fn := range cases {
		t.Run(name, func(t *testing.T) { carelessCall(t, name, fn) })
	}
	t.Run("zero LazyListener.Close", func(t *testing.T) {
		assert.NotPanics(t, func() { _ = (&LazyListener{}).Close() })
	})
}
