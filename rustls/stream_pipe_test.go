package rustls

import (
	"crypto/tls"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestStreamNetPipe runs streams over net.Pipe, which has no buffer at all:
// every Write waits for the peer's Read.
func TestStreamNetPipe(t *testing.T) {
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		t.Run(versionNames[v], func(t *testing.T) {
			scfg := serverConfig(t, func(o *ServerOptions) { o.Versions = []uint16{v} })
			ccfg := clientConfig(t, nil)
			cc, sc := net.Pipe()
			ctx := testCtx(t)
			acc := NewAcceptor(scfg, StreamOptions{WriteThrough: true})
			sch := make(chan *Stream, 1)
			go func() {
				s, err := acc.Accept(ctx, sc)
				assert.NoError(t, err)
				sch <- s
			}()
			c, err := NewConnector(ccfg, StreamOptions{WriteThrough: true}).Connect(ctx, cc, "localhost")
			require.NoError(t, err)
			defer c.Close()
			// The client writes at once, while the server may still be
			// sending what follows its handshake (TLS 1.3 tickets).
			errc := make(chan error, 1)
			go func() {
				_, err := c.Write([]byte("hello"))
				errc <- err
			}()
			var s *Stream
			select {
			case s = <-sch:
			case <-time.After(5 * time.Second):
				t.Fatal("Accept blocked")
			}
			require.NotNil(t, s)
			defer s.Close()
			buf := make([]byte, 5)
			require.NoError(t, readFullWithin(s, buf, 5*time.Second))
			require.NoError(t, <-errc)
			assert.Equal(t, "hello", string(buf))
			go s.Write([]byte("world"))
			require.NoError(t, readFullWithin(c, buf, 5*time.Second))
			assert.Equal(t, "world", string(buf))
		})
	}
}
