package rustls

import (
	"io"
	"net"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A CloseWrite bounded by CloseTimeout against a peer that stopped reading
// returns a timeout and keeps what it could not send (close_notify
// included) queued: once the peer reads again, a second CloseWrite sends it
// all and the peer gets every byte Write counted, then io.EOF. The
// caller's own write deadline is back in force afterwards.
func TestCloseWriteTimeoutThenRetry(t *testing.T) {
	c, s := rustlsPair(t, serverConfig(t, nil), clientConfig(t, nil), StreamOptions{}, StreamOptions{CloseTimeout: 300 * time.Millisecond})
	require.NoError(t, s.NetConn().(*net.TCPConn).SetReadBuffer(4096))
	require.NoError(t, c.NetConn().(*net.TCPConn).SetWriteBuffer(4096))
	data := pattern(4<<20, 9)
	require.NoError(t, c.SetWriteDeadline(time.Now().Add(200*time.Millisecond)))
	n, err := c.Write(data)
	require.ErrorIs(t, err, os.ErrDeadlineExceeded)
	require.NoError(t, c.SetWriteDeadline(time.Time{}))

	start := time.Now()
	err, ok := within(t, 5*time.Second, "CloseWrite against a peer that does not read", c.CloseWrite)
	require.True(t, ok)
	require.ErrorIs(t, err, os.ErrDeadlineExceeded, "CloseWrite stops at CloseTimeout")
	t.Logf("first CloseWrite: %v", time.Since(start))
	_, err = c.Write([]byte("x"))
	assert.ErrorIs(t, err, ErrWriteClosed)

	got := make(chan []byte, 1)
	go func() {
		_ = s.SetReadDeadline(time.Now().Add(20 * time.Second))
		b, err := io.ReadAll(s)
		assert.NoError(t, err, "the peer's Read ends with io.EOF")
		got <- b
	}()
	// The peer drains faster than one CloseTimeout per call; retry until
	// everything went out.
	for i := 0; ; i++ {
		err = c.CloseWrite()
		if err == nil || i == 100 {
			t.Logf("CloseWrite retries: %d", i)
			break
		}
		require.ErrorIs(t, err, os.ErrDeadlineExceeded)
	}
	require.NoError(t, err)
	b := <-got
	require.Equal(t, n, len(b), "the peer got what Write counted")
	assert.Equal(t, data[:n], b)
	assert.NoError(t, c.CloseWrite(), "a CloseWrite after a complete one does nothing")
}
