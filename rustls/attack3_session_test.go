package rustls

import (
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// attack3LazyPair connects a gorustls client through a LazyAcceptor that
// picks scfg, exchanges a message each way (a TLS 1.3 client then holds
// any ticket) and returns both ends.
func attack3LazyPair(t *testing.T, scfg *ServerConfig, ccfg *ClientConfig) (c, s *Stream) {
	t.Helper()
	cc, sc := tcpPair(t)
	la := &LazyAcceptor{Choose: func(*ClientHello) (*ServerConfig, error) { return scfg, nil }}
	ch := make(chan *Stream, 1)
	go func() {
		s, err := la.Accept(testCtx(t), sc)
		assert.NoError(t, err)
		if s != nil {
			buf := make([]byte, 4)
			if _, err := io.ReadFull(s, buf); assert.NoError(t, err) {
				_, err = s.Write(buf)
				assert.NoError(t, err)
				assert.NoError(t, s.Flush())
			}
		}
		ch <- s
	}()
	c, err := NewConnector(ccfg, StreamOptions{}).Connect(testCtx(t), cc, "localhost")
	require.NoError(t, err)
	_, err = c.Write([]byte("ping"))
	require.NoError(t, err)
	require.NoError(t, c.Flush())
	buf := make([]byte, 4)
	_, err = io.ReadFull(c, buf)
	require.NoError(t, err)
	s = <-ch
	require.NotNil(t, s)
	return c, s
}

// TestAttack3NoResumptionLazyAndCrossConfig: a server config with
// SessionTicketsDisabled resumes nobody through a LazyAcceptor, nor a
// client that holds a session (TLS 1.2 ID, TLS 1.3 ticket) from another
// server config with the same certificate.
func TestAttack3NoResumptionLazyAndCrossConfig(t *testing.T) {
	for _, v := range []uint16{VersionTLS13, VersionTLS12} {
		t.Run(versionName(v), func(t *testing.T) {
			off := serverConfig(t, func(o *ServerOptions) { o.Versions = []uint16{v}; o.SessionTicketsDisabled = true })
			on := serverConfig(t, func(o *ServerOptions) { o.Versions = []uint16{v} })
			ccfg := clientConfig(t, nil)
			for i := range 2 {
				c, s := attack3LazyPair(t, off, ccfg)
				assertResumed(t, c, s, false)
				require.NoError(t, c.Close())
				require.NoError(t, s.Close())
				_ = i
			}
			// The client gets a session from the resuming config (the
			// control: it resumes there), then offers it to the other.
			c, s := attack3LazyPair(t, on, ccfg)
			require.NoError(t, c.Close())
			require.NoError(t, s.Close())
			c, s = attack3LazyPair(t, on, ccfg)
			assertResumed(t, c, s, true)
			require.NoError(t, c.Close())
			require.NoError(t, s.Close())
			c, s = attack3LazyPair(t, off, ccfg)
			assertResumed(t, c, s, false)
			require.NoError(t, c.Close())
			require.NoError(t, s.Close())
		})
	}
}
