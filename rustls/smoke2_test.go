package rustls

import (
	"crypto/sha256"
	"crypto/tls"
	"io"
	"net"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSmokeInteropGoTLS(t *testing.T) {
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		// gorustls client -> crypto/tls server
		cc, sc := tcpPair(t)
		gcfg := goTLSServerConfig(t)
		gcfg.MaxVersion = v
		go func() {
			s := tls.Server(sc, gcfg)
			io.Copy(s, s)
			s.Close()
		}()
		c, err := NewConnector(clientConfig(t, nil), StreamOptions{}).Connect(testCtx(t), cc, "localhost")
		require.NoError(t, err)
		require.Equal(t, v, c.ConnectionState().Version)
		data := make([]byte, 1<<20)
		go func() { c.Write(data); c.Flush() }()
		got := make([]byte, len(data))
		_, err = io.ReadFull(c, got)
		require.NoError(t, err)
		require.Equal(t, sha256.Sum256(data), sha256.Sum256(got))
		c.Close()

		// crypto/tls client -> gorustls server
		cc, sc = tcpPair(t)
		done := make(chan error, 1)
		go func() {
			s, err := NewAcceptor(serverConfig(t, nil), StreamOptions{}).Accept(testCtx(t), sc)
			if err != nil {
				done <- err
				return
			}
			buf := make([]byte, 32<<10)
			for {
				n, err := s.Read(buf)
				if n > 0 {
					s.Write(buf[:n])
					s.Flush()
				}
				if err != nil {
					s.Close()
					done <- nil
					return
				}
			}
		}()
		gc := goTLSClientConfig(t)
		gc.MaxVersion = v
		tc := tls.Client(cc, gc)
		go func() { tc.Write(data) }()
		_, err = io.ReadFull(tc, got)
		require.NoError(t, err)
		require.Equal(t, sha256.Sum256(data), sha256.Sum256(got))
		require.Equal(t, v, tc.ConnectionState().Version)
		tc.Close()
		require.NoError(t, <-done)
	}
	_ = net.ErrClosed
}
