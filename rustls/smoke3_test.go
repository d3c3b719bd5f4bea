package rustls

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSmokeLazyAcceptor(t *testing.T) {
	scfg := serverConfig(t, func(o *ServerOptions) { o.NextProtos = []string{"h2"} })
	for _, name := range []string{"example.test", "unknown.test"} {
		cc, sc := tcpPair(t)
		var seen *ClientHello
		l := &LazyAcceptor{Choose: func(h *ClientHello) (*ServerConfig, error) {
			seen = h
			if h.ServerName == "example.test" {
				return scfg, nil
			}
			return nil, errors.New("unknown name")
		}}
		ch := make(chan error, 1)
		go func() {
			s, err := l.Accept(testCtx(t), sc)
			if err == nil {
				buf := make([]byte, 2)
				_, err = s.Read(buf)
				s.Close()
			}
			ch <- err
		}()
		c, err := NewConnector(clientConfig(t, func(o *ClientOptions) { o.NextProtos = []string{"h2", "http/1.1"} }), StreamOptions{WriteThrough: true}).Connect(testCtx(t), cc, name)
		if name == "unknown.test" {
			require.Error(t, err)
			assert.ErrorIs(t, err, ErrAlertReceived)
			t.Log(err)
			require.Error(t, <-ch)
			continue
		}
		require.NoError(t, err)
		assert.Equal(t, "h2", c.ConnectionState().NegotiatedProtocol)
		_, err = c.Write([]byte("hi"))
		require.NoError(t, err)
		require.NoError(t, <-ch)
		assert.Equal(t, "example.test", seen.ServerName)
		assert.Equal(t, []string{"h2", "http/1.1"}, seen.ALPN)
		assert.NotEmpty(t, seen.CipherSuites)
		c.Close()
	}
}
