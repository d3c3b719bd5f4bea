package rustls

import (
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// socketPair returns both ends of a Unix socket pair of the given type as
// net.Conns.
func socketPair(t *testing.T, typ int) (a, b net.Conn) {
	t.Helper()
	fds, err := syscall.Socketpair(syscall.AF_UNIX, typ, 0)
	require.NoError(t, err)
	conns := make([]net.Conn, 2)
	for i, fd := range fds {
		f := os.NewFile(uintptr(fd), "socketpair")
		c, err := net.FileConn(f)
		f.Close()
		require.NoError(t, err)
		t.Cleanup(func() { c.Close() })
		conns[i] = c
	}
	return conns[0], conns[1]
}

// wrappedConn hides the concrete type of a net.Conn.
type wrappedConn struct{ net.Conn }

func TestDirectOutputSelection(t *testing.T) {
	cc, _ := tcpPair(t)
	assert.NotNil(t, directConn(cc), "TCP")
	assert.Nil(t, directConn(wrappedConn{cc}), "a wrapped TCP conn: its Write may do more than write(2)")
	p1, p2 := net.Pipe()
	defer p1.Close()
	defer p2.Close()
	assert.Nil(t, directConn(p1), "net.Pipe")
	us, _ := socketPair(t, syscall.SOCK_STREAM)
	assert.NotNil(t, directConn(us), "Unix stream socket")
	ud, _ := socketPair(t, syscall.SOCK_DGRAM)
	assert.Nil(t, directConn(ud), "Unix datagram socket")
	sp, _ := socketPair(t, syscall.SOCK_SEQPACKET)
	assert.Nil(t, directConn(sp), "Unix seqpacket socket")

	c, s := rustlsPair(t, serverConfig(t, nil), clientConfig(t, nil), StreamOptions{}, StreamOptions{bufferedOutput: true})
	assert.NotNil(t, s.out.d.rc, "server over TCP sends directly")
	assert.Nil(t, c.out.d.rc, "bufferedOutput turns it off")
}

// outputModes are the two ways the out half moves ciphertext to a socket.
var outputModes = []struct {
	name string
	opts StreamOptions
}{
	{"direct", StreamOptions{}},
	{"copying", StreamOptions{bufferedOutput: true}},
}

// TestDirectOutputSlowReader writes a long, irregular stream to a reader
// that starts late and reads in odd sizes, so that the socket fills and
// direct sends alternate with the copying fallback; every byte must arrive
// once and in order.
func TestDirectOutputSlowReader(t *testing.T) {
	for _, m := range outputModes {
		t.Run(m.name, func(t *testing.T) {
			c, s := rustlsPair(t, serverConfig(t, nil), clientConfig(t, nil), StreamOptions{}, m.opts)
			const total = 24 << 20
			data := pattern(total, 7)
			want := sha256.Sum256(data)
			got := make(chan [32]byte, 1)
			readErr := make(chan error, 1)
			go func() {
				time.Sleep(200 * time.Millisecond) // let the socket fill
				h := sha256.New()
				rng := rand.New(rand.NewPCG(1, 2))
				buf := make([]byte, 200<<10)
				left := total
				_ = s.SetReadDeadline(time.Now().Add(60 * time.Second))
				for left > 0 {
					n, err := s.Read(buf[:1+rng.IntN(min(left, len(buf)))])
					h.Write(buf[:n])
					left -= n
					if err != nil {
						readErr <- err
						return
					}
					if rng.IntN(64) == 0 {
						time.Sleep(time.Millisecond)
					}
				}
				var sum [32]byte
				h.Sum(sum[:0])
				got <- sum
				readErr <- nil
			}()
			rng := rand.New(rand.NewPCG(3, 4))
			for off := 0; off < total; {
				n := min(total-off, 1+rng.IntN(200<<10))
				if rng.IntN(4) == 0 {
					n = min(n, 1+rng.IntN(2000)) // small writes are gathered
				}
				k, err := c.Write(data[off : off+n])
				require.NoError(t, err)
				require.Equal(t, n, k)
				off += n
				if rng.IntN(3) == 0 {
					require.NoError(t, c.Flush())
				}
			}
			require.NoError(t, c.Flush())
			require.NoError(t, <-readErr)
			require.Equal(t, want, <-got, "data corrupted, duplicated, lost or reordered")
			c.out.mu.Lock()
			sent, copied := c.out.d.sent, c.out.d.copied
			c.out.mu.Unlock()
			t.Logf("sent directly %d bytes, copied for a blocking write %d", sent, copied)
			if m.opts.bufferedOutput {
				assert.Zero(t, sent+copied)
			} else {
				assert.Positive(t, sent, "nothing was sent directly")
				assert.Positive(t, copied, "the socket never filled: the fallback went untested")
			}
			echoPair(t, c, s, 100)
		})
	}
}

// TestDirectOutputWriteDeadline: a deadline that fires while the socket is
// full loses nothing in either mode; the stream resumes once it is moved.
func TestDirectOutputWriteDeadline(t *testing.T) {
	for _, m := range outputModes {
		t.Run(m.name, func(t *testing.T) {
			c, s := rustlsPair(t, serverConfig(t, nil), clientConfig(t, nil), StreamOptions{}, m.opts)
			data := pattern(32<<20, 9)
			require.NoError(t, c.SetWriteDeadline(time.Now().Add(150*time.Millisecond)))
			n := 0
			var err error
			for n < len(data) && err == nil {
				var k int
				k, err = c.Write(data[n:min(n+(1<<20), len(data))])
				n += k
				if err == nil {
					err = c.Flush()
				}
			}
			require.ErrorIs(t, err, os.ErrDeadlineExceeded)
			var ne net.Error
			require.True(t, errors.As(err, &ne) && ne.Timeout(), "%v", err)
			got := make([]byte, len(data))
			readDone := make(chan error, 1)
			go func() { readDone <- readFullWithin(s, got, 30*time.Second) }()
			require.NoError(t, c.SetWriteDeadline(time.Time{}))
			require.NoError(t, c.Flush())
			_, err = c.Write(data[n:])
			require.NoError(t, err)
			require.NoError(t, c.Flush())
			require.NoError(t, <-readDone)
			require.True(t, bytes.Equal(data, got), "data corrupted, duplicated or lost")
		})
	}
}

// TestDirectOutputPeerGone: a peer that resets the connection while we
// send gives a sticky I/O error naming the reset, and Close from another
// goroutine unblocks a writer stuck on a full socket, in both modes.
func TestDirectOutputPeerGone(t *testing.T) {
	for _, m := range outputModes {
		t.Run(m.name+"/reset", func(t *testing.T) {
			c, s := rustlsPair(t, serverConfig(t, nil), clientConfig(t, nil), StreamOptions{}, m.opts)
			// The server resets the connection; the client then writes.
			tc := s.NetConn().(*net.TCPConn)
			require.NoError(t, tc.SetLinger(0))
			require.NoError(t, tc.Close())
			buf := pattern(64<<10, 1)
			var err error
			deadline := time.Now().Add(5 * time.Second)
			for err == nil && time.Now().Before(deadline) {
				if _, err = c.Write(buf); err == nil {
					err = c.Flush()
				}
			}
			e := rustlsError(t, err)
			assert.Equal(t, CodeIO, e.Code)
			assert.True(t, errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE), "%v", err)
			// Sticky: the next Flush reports the same failure.
			_, err2 := c.Write([]byte("x"))
			if err2 == nil {
				err2 = c.Flush()
			}
			assert.ErrorIs(t, err2, ErrIO)
		})
		t.Run(m.name+"/close-unblocks", func(t *testing.T) {
			c, _ := rustlsPair(t, serverConfig(t, nil), clientConfig(t, nil), StreamOptions{}, m.opts)
			errc := make(chan error, 1)
			go func() {
				buf := pattern(256<<10, 2)
				for {
					if _, err := c.Write(buf); err != nil {
						errc <- err
						return
					}
					if err := c.Flush(); err != nil {
						errc <- err
						return
					}
				}
			}()
			time.Sleep(200 * time.Millisecond) // the server never reads: the writer blocks
			require.NoError(t, c.Close())
			select {
			case err := <-errc:
				assert.ErrorIs(t, err, net.ErrClosed)
			case <-time.After(5 * time.Second):
				t.Fatal("Close did not unblock the writer")
			}
		})
	}
}

// TestDirectOutputUnixSocket runs a TLS stream over a Unix stream socket,
// which also takes the direct path.
func TestDirectOutputUnixSocket(t *testing.T) {
	a, b := socketPair(t, syscall.SOCK_STREAM)
	ctx := testCtx(t)
	ch := make(chan *Stream, 1)
	go func() {
		s, err := NewAcceptor(serverConfig(t, nil), StreamOptions{}).Accept(ctx, b)
		if err != nil {
			ch <- nil
			return
		}
		ch <- s
	}()
	c, err := NewConnector(clientConfig(t, nil), StreamOptions{}).Connect(ctx, a, "localhost")
	require.NoError(t, err)
	s := <-ch
	require.NotNil(t, s)
	defer c.Close()
	defer s.Close()
	require.NotNil(t, c.out.d.rc)
	data := pattern(4<<20, 5)
	go func() {
		_, _ = c.Write(data)
		_ = c.Flush()
	}()
	got := make([]byte, len(data))
	require.NoError(t, readFullWithin(s, got, 20*time.Second))
	require.True(t, bytes.Equal(data, got))
	c.out.mu.Lock()
	assert.Positive(t, c.out.d.sent)
	c.out.mu.Unlock()
	echoPair(t, c, s, 50)
	require.NoError(t, c.Close())
	_, err = io.ReadAll(s)
	require.NoError(t, err, "close_notify sent directly gives a clean EOF")
}

// TestDirectOutputPastDeadline: a write deadline already in the past stops
// sending in both modes (net.Conn's contract): a Write takes nothing, a
// Flush keeps what earlier Writes buffered, and the stream goes on once
// the deadline is moved.
func TestDirectOutputPastDeadline(t *testing.T) {
	for _, m := range outputModes {
		t.Run(m.name, func(t *testing.T) {
			c, s := rustlsPair(t, serverConfig(t, nil), clientConfig(t, nil), StreamOptions{}, m.opts)
			n, err := c.Write([]byte("hello"))
			require.NoError(t, err, "buffering needs no I/O")
			require.Equal(t, 5, n)
			require.NoError(t, c.SetWriteDeadline(time.Unix(1, 0)))
			n, err = c.Write([]byte("lost"))
			require.ErrorIs(t, err, os.ErrDeadlineExceeded)
			require.Zero(t, n)
			err = c.Flush()
			require.ErrorIs(t, err, os.ErrDeadlineExceeded)
			got := make([]byte, 5)
			_, err = readWithin(s, got, 100*time.Millisecond)
			require.ErrorIs(t, err, os.ErrDeadlineExceeded, "nothing may be sent past the deadline")
			require.NoError(t, c.SetWriteDeadline(time.Time{}))
			require.NoError(t, c.Flush())
			require.NoError(t, readFullWithin(s, got, 5*time.Second))
			require.Equal(t, "hello", string(got))
			echoPair(t, c, s, 10)
		})
	}
}

// TestDirectOutputBoundedCalls: one huge Write is cut into C calls of about
// one Go buffer each, so Close and a Read deadline are served while it runs.
func TestDirectOutputBoundedCalls(t *testing.T) {
	c, s := rustlsPair(t, serverConfig(t, nil), clientConfig(t, nil), StreamOptions{}, StreamOptions{})
	go io.Copy(io.Discard, s)
	data := pattern(48<<20, 3)
	werr := make(chan error, 1)
	go func() {
		_, err := c.Write(data)
		if err == nil {
			err = c.Flush()
		}
		werr <- err
	}()
	time.Sleep(20 * time.Millisecond)
	// A Read with a short deadline is not held up by the writer.
	_, err := readWithin(c, make([]byte, 10), 5*time.Millisecond)
	require.ErrorIs(t, err, os.ErrDeadlineExceeded)
	require.NoError(t, c.Close())
	select {
	case err := <-werr:
		if err != nil {
			assert.ErrorIs(t, err, net.ErrClosed)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not stop the Write")
	}
	c.out.mu.Lock()
	maxMoved, sent := c.out.d.maxMoved, c.out.d.sent
	c.out.mu.Unlock()
	t.Logf("sent directly %d bytes, at most %d per C call", sent, maxMoved)
	assert.Positive(t, sent)
	// One call moves up to the Go buffer's size, plus one batch of records
	// that was already queued when the budget ran out.
	assert.LessOrEqual(t, maxMoved, int64(outBufSize+(80<<10)), "a C call moved far more than one buffer's worth")
}

// TestDirectOutputKeyUpdateTLS12 keeps the stream intact when a KeyUpdate
// is refused (TLS 1.2 has none), in both modes.
func TestDirectOutputKeyUpdateTLS12(t *testing.T) {
	for _, m := range outputModes {
		t.Run(m.name, func(t *testing.T) {
			scfg := serverConfig(t, func(o *ServerOptions) { o.Versions = []uint16{tls.VersionTLS12} })
			c, s := rustlsPair(t, scfg, clientConfig(t, nil), StreamOptions{}, m.opts)
			_, err := c.Write([]byte("before"))
			require.NoError(t, err)
			require.Error(t, c.KeyUpdate())
			require.NoError(t, c.Flush())
			got := make([]byte, 6)
			require.NoError(t, readFullWithin(s, got, 5*time.Second))
			require.Equal(t, "before", string(got))
			echoPair(t, c, s, 10)
		})
	}
}
