package rustls

import (
	"net"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// transports are the ways a test can connect two streams: loopback TCP
// (the direct sendmsg output path), and net.Pipe and a wrapped TCP
// connection (the copying path).
var transports = []struct {
	name   string
	direct bool
	pair   func(t *testing.T) (net.Conn, net.Conn)
}{
	{"tcp", true, func(t *testing.T) (net.Conn, net.Conn) { return tcpPair(t) }},
	{"net.Pipe", false, func(t *testing.T) (net.Conn, net.Conn) {
		a, b := net.Pipe()
		t.Cleanup(func() { a.Close(); b.Close() })
		return a, b
	}},
	{"wrapped tcp", false, func(t *testing.T) (net.Conn, net.Conn) {
		a, b := tcpPair(t)
		return wrappedConn{a}, wrappedConn{b}
	}},
}

// pairOver runs a gorustls handshake over cc (client) and sc (server),
// concurrently, as net.Pipe needs, and returns both streams, closed at
// cleanup.
func pairOver(t *testing.T, cc, sc net.Conn, copts, sopts StreamOptions) (c, s *Stream) {
	t.Helper()
	ctx := testCtx(t)
	type res struct {
		s   *Stream
		err error
	}
	ch := make(chan res, 1)
	go func() {
		s, err := NewAcceptor(serverConfig(t, nil), sopts).Accept(ctx, sc)
		ch <- res{s, err}
	}()
	c, err := NewConnector(clientConfig(t, nil), copts).Connect(ctx, cc, "localhost")
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	r := <-ch
	require.NoError(t, r.err)
	t.Cleanup(func() { r.s.Close() })
	return c, r.s
}

// TestStreamWritePastDeadline: a Write whose deadline has already passed
// takes nothing and sends nothing: it returns 0 and a timeout (a net.Error
// whose Timeout is true, wrapping os.ErrDeadlineExceeded), on both output
// paths and in both write modes. Once the deadline is moved, the peer gets
// exactly what later Writes counted.
func TestStreamWritePastDeadline(t *testing.T) {
	for _, tr := range transports {
		for _, wt := range []bool{true, false} {
			name := tr.name + "/buffered"
			if wt {
				name = tr.name + "/write-through"
			}
			t.Run(name, func(t *testing.T) {
				cc, sc := tr.pair(t)
				c, s := pairOver(t, cc, sc, StreamOptions{WriteThrough: wt}, StreamOptions{})
				assert.Equal(t, tr.direct, c.out.d.rc != nil)

				require.NoError(t, c.SetWriteDeadline(time.Now().Add(-time.Second)))
				n, err := c.Write(pattern(1024, 5))
				assert.Equal(t, 0, n, "a Write past its deadline took bytes")
				require.ErrorIs(t, err, os.ErrDeadlineExceeded)
				ne, ok := err.(net.Error)
				require.True(t, ok, "%T is not a net.Error", err)
				assert.True(t, ne.Timeout())
				n, err = c.Write(pattern(40<<10, 6)) // larger than a record
				assert.Equal(t, 0, n)
				require.ErrorIs(t, err, os.ErrDeadlineExceeded)
				_, err = readWithin(s, make([]byte, 10), 100*time.Millisecond)
				require.ErrorIs(t, err, os.ErrDeadlineExceeded, "something was sent past the deadline")

				require.NoError(t, c.SetWriteDeadline(time.Time{}))
				errc := make(chan error, 1)
				go func() {
					_, err := c.Write([]byte("tail"))
					if err == nil {
						err = c.Flush()
					}
					errc <- err
				}()
				got := make([]byte, 4)
				require.NoError(t, readFullWithin(s, got, 5*time.Second))
				assert.Equal(t, "tail", string(got), "bytes of a timed-out Write reached the peer")
				require.NoError(t, <-errc)
				_, err = readWithin(s, got, 100*time.Millisecond)
				require.ErrorIs(t, err, os.ErrDeadlineExceeded, "more than was written arrived")
			})
		}
	}
}

// TestStreamWriteTimeoutCountIsWhatArrives: a write-through Write whose
// deadline fires while the peer is not reading returns a timeout and a
// count; once the deadline is moved and the rest is written, the peer has
// received exactly the data, once: the count was neither more nor less
// than what the stream went on to deliver. Both output paths.
func TestStreamWriteTimeoutCountIsWhatArrives(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			cc, sc := tr.pair(t)
			c, s := pairOver(t, cc, sc, StreamOptions{WriteThrough: true}, StreamOptions{})
			data := pattern(8<<20, 14)
			require.NoError(t, c.SetWriteDeadline(time.Now().Add(100*time.Millisecond)))
			n, err := c.Write(data)
			require.ErrorIs(t, err, os.ErrDeadlineExceeded)
			require.Less(t, n, len(data))
			t.Logf("the timed-out Write counted %d bytes", n)

			got := make([]byte, len(data))
			readDone := make(chan error, 1)
			go func() { readDone <- readFullWithin(s, got, 20*time.Second) }()
			require.NoError(t, c.SetWriteDeadline(time.Time{}))
			m, err := c.Write(data[n:])
			require.NoError(t, err)
			require.Equal(t, len(data)-n, m)
			require.NoError(t, <-readDone)
			require.Equal(t, data, got, "data lost, duplicated or reordered")
			_, err = readWithin(s, got[:1], 100*time.Millisecond)
			require.ErrorIs(t, err, os.ErrDeadlineExceeded, "more than was written arrived")
		})
	}
}
