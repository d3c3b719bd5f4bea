package rustls

import (
	"bytes"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestAttack12CloseDuringBlockedWrite: a client's first Write returned
// (its bytes are in the socket, not all of them sent: the server is not
// reading yet), a second Write is blocked on the full window, and another
// goroutine calls Close. Input waits unread in the client's socket (the
// TLS 1.3 tickets a rustls server sends, or the server's greeting). What
// the first Write reported must still reach the server: Close must not
// close the socket with unread input (a reset that discards what the
// socket still had to send) just because a Write was in progress.
func TestAttack12CloseDuringBlockedWrite(t *testing.T) {
	first := pattern(256<<10, 31)
	for _, kind := range []string{"gorustls", "crypto/tls"} {
		t.Run(kind+" server", func(t *testing.T) {
			cc, sc := tcpPair(t)
			require.NoError(t, sc.(*net.TCPConn).SetReadBuffer(4<<10))
			peer := acceptPeer(t, kind, sc)
			c, err := NewConnector(clientConfig(t, nil), StreamOptions{CloseTimeout: 5 * time.Second}).Connect(testCtx(t), cc, "localhost")
			require.NoError(t, err)
			p := <-peer
			require.NotNil(t, p.rw, "server handshake failed")
			defer p.close()
			_, err = p.rw.Write([]byte("greeting")) // unread by the client
			require.NoError(t, err)
			n, err := c.Write(first)
			require.NoError(t, err)
			require.Equal(t, len(first), n)
			require.NoError(t, c.Flush())
			second := make(chan error, 1)
			go func() {
				_, err := c.Write(pattern(64<<20, 32))
				second <- err
			}()
			time.Sleep(100 * time.Millisecond) // the second Write blocks
			closed := make(chan error, 1)
			go func() { closed <- c.Close() }()
			time.Sleep(50 * time.Millisecond)
			require.NoError(t, sc.SetReadDeadline(time.Now().Add(10*time.Second)))
			got, rerr := readAllThenEOF(p.rw)
			select {
			case <-closed:
			case <-time.After(15 * time.Second):
				t.Fatal("Close never returned")
			}
			<-second
			require.GreaterOrEqual(t, len(got), len(first),
				"the server got %d bytes, the first Write reported %d (then %v)", len(got), len(first), rerr)
			require.True(t, bytes.Equal(first, got[:len(first)]), "data corrupted")
		})
	}
}
