package rustls

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Close on TCP never waits for the peer: what the socket does not take at
// once, and the wait for the peer's acknowledgement, are finished by a
// background goroutine (stream_close.go). These tests hold it to its
// promise that the peer still gets every byte.

// waitLingers waits (bounded) until no Close is finishing in the
// background: every lingering goroutine has ended and closed its socket.
func waitLingers(t testing.TB) {
	t.Helper()
	for end := time.Now().Add(20 * time.Second); lingering.Load() != 0; time.Sleep(time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("%d closes still lingering", lingering.Load())
		}
	}
}

// TestStreamCloseSlowReaderGetsEverything: the client writes 768 KiB
// through a large send buffer to a peer that reads 4 KiB every 5 ms
// through a small receive buffer, and closes as soon as Write returns,
// with data still queued in the stream (buffered) and in the socket,
// unacknowledged. Close must return before the peer has read
// even half of what was outstanding (it does not wait for the peer), and
// the peer must still get every byte and then a clean io.EOF.
func TestStreamCloseSlowReaderGetsEverything(t *testing.T) {
	data := pattern(768<<10, 5)
	for _, server := range []string{"gorustls", "crypto/tls"} {
		for _, wt := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s server/write-through %v", server, wt), func(t *testing.T) {
				waitLingers(t)
				cc, sc := tcpPair(t)
				require.NoError(t, sc.(*net.TCPConn).SetReadBuffer(16<<10))
				require.NoError(t, cc.(*net.TCPConn).SetWriteBuffer(256<<10))
				peer := acceptPeer(t, server, sc)
				c, err := NewConnector(clientConfig(t, nil), StreamOptions{WriteThrough: wt, CloseTimeout: 20 * time.Second}).Connect(testCtx(t), cc, "localhost")
				require.NoError(t, err)
				p := <-peer
				require.NotNil(t, p.rw, "server handshake failed")
				defer p.close()

				var read atomic.Int64
				type res struct {
					got []byte
					err error
				}
				done := make(chan res, 1)
				go func() {
					_ = sc.SetReadDeadline(time.Now().Add(30 * time.Second))
					var got bytes.Buffer
					buf := make([]byte, 4<<10)
					for {
						n, err := p.rw.Read(buf)
						got.Write(buf[:n])
						read.Add(int64(n))
						if err != nil {
							done <- res{got.Bytes(), err}
							return
						}
						time.Sleep(5 * time.Millisecond)
					}
				}()
				n, err := c.Write(data)
				require.NoError(t, err)
				require.Equal(t, len(data), n)
				atWrite := read.Load()
				require.NoError(t, c.Close())
				atClose := read.Load()
				outstanding := int64(len(data)) - atWrite
				require.Less(t, atClose-atWrite, outstanding/2,
					"Close waited for the peer to read: it read %d of the %d bytes outstanding when Close began", atClose-atWrite, outstanding)
				_, err = c.Write([]byte("x"))
				require.ErrorIs(t, err, net.ErrClosed)
				_, err = c.Read(make([]byte, 1))
				require.ErrorIs(t, err, net.ErrClosed)

				r := <-done
				require.Equal(t, io.EOF, r.err, "the server read %d of %d bytes", len(r.got), len(data))
				require.True(t, bytes.Equal(data, r.got), "data corrupted")
				waitLingers(t)
			})
		}
	}
}

// TestStreamCloseAfterCloseWriteAndEOFIsImmediate checks the advice in
// Close's documentation for a program about to exit: after CloseWrite and
// a Read that returned io.EOF (the peer read everything and closed), Close
// finds everything acknowledged and closes the socket itself, leaving
// nothing to the background.
func TestStreamCloseAfterCloseWriteAndEOFIsImmediate(t *testing.T) {
	data := pattern(256<<10, 9)
	for _, server := range []string{"gorustls", "crypto/tls"} {
		t.Run(server+" server", func(t *testing.T) {
			waitLingers(t)
			cc, sc := tcpPair(t)
			peer := acceptPeer(t, server, sc)
			c, err := NewConnector(clientConfig(t, nil), StreamOptions{CloseTimeout: 20 * time.Second}).Connect(testCtx(t), cc, "localhost")
			require.NoError(t, err)
			p := <-peer
			require.NotNil(t, p.rw, "server handshake failed")
			done := make(chan error, 1)
			go func() {
				_ = sc.SetReadDeadline(time.Now().Add(20 * time.Second))
				got, err := readAllThenEOF(p.rw)
				if err == io.EOF && !bytes.Equal(got, data) {
					err = fmt.Errorf("read %d of %d bytes, or corrupted", len(got), len(data))
				}
				if cerr := p.close(); err == io.EOF {
					err = cerr
				}
				done <- err
			}()
			_, err = c.Write(data)
			require.NoError(t, err)
			require.NoError(t, c.CloseWrite())
			require.NoError(t, c.SetReadDeadline(time.Now().Add(20*time.Second)))
			_, err = c.Read(make([]byte, 1))
			require.Equal(t, io.EOF, err)
			require.NoError(t, <-done)
			require.NoError(t, c.Close())
			require.Zero(t, lingering.Load(), "Close left its socket to the background")
		})
	}
}

// TestStreamCloseWhileReadPathFlushIsStuck: the client's socket is full
// (the server stopped reading) and ciphertext is still queued in the
// stream (a Write timed out) when the read path flushes the out half
// (kickFlush: it sends the records rustls produces while reading, alerts
// or a KeyUpdate answer, and everything queued before them), which blocks
// on the full socket while holding the out half. Close must not wait for
// that write (it used to, up to CloseTimeout): it takes the queued bytes
// over, and the server, reading only after Close returned, still gets
// every byte the client's Write reported and a clean io.EOF. (kickFlush is
// called directly: what makes rustls produce records while reading is
// not up to the peer's timing.)
func TestStreamCloseWhileReadPathFlushIsStuck(t *testing.T) {
	const closeTimeout = 8 * time.Second
	waitLingers(t)
	cc, sc := tcpPair(t)
	require.NoError(t, cc.(*net.TCPConn).SetWriteBuffer(16<<10))
	require.NoError(t, sc.(*net.TCPConn).SetReadBuffer(16<<10))
	peer := acceptPeer(t, "gorustls", sc)
	c, err := NewConnector(clientConfig(t, nil), StreamOptions{WriteThrough: true, CloseTimeout: closeTimeout}).Connect(testCtx(t), cc, "localhost")
	require.NoError(t, err)
	p := <-peer
	require.NotNil(t, p.rw, "server handshake failed")
	defer p.close()

	data := pattern(8<<20, 3)
	require.NoError(t, c.SetWriteDeadline(time.Now().Add(300*time.Millisecond)))
	n, err := c.Write(data)
	require.True(t, isTimeout(err), "the write should have filled the socket: %v", err)
	require.NoError(t, c.SetWriteDeadline(time.Time{}))
	c.out.mu.Lock()
	queued := c.out.start < c.out.end || c.k.dirty.Load()
	c.out.mu.Unlock()
	require.True(t, queued, "nothing stayed queued after the timed-out Write")

	flushed := make(chan struct{})
	go func() {
		defer close(flushed)
		c.out.needFlush.Store(true)
		c.kickFlush()
	}()
	// Wait until the flush holds the out half, then let it block.
	held := false
	for end := time.Now().Add(10 * time.Second); !held && time.Now().Before(end); time.Sleep(time.Millisecond) {
		if c.out.mu.TryLock() {
			c.out.mu.Unlock()
		} else {
			held = true
		}
	}
	require.True(t, held, "the flush never took the out half")
	time.Sleep(20 * time.Millisecond) // into the blocking write

	start := time.Now()
	require.NoError(t, c.Close())
	took := time.Since(start)
	require.Less(t, took, closeTimeout/2, "Close waited for the read path's write to the full socket")
	<-flushed

	_ = sc.SetReadDeadline(time.Now().Add(30 * time.Second))
	got, err := readAllThenEOF(p.rw)
	require.Equal(t, io.EOF, err, "the server read %d of %d bytes", len(got), n)
	require.True(t, bytes.Equal(data[:n], got), "data corrupted")
	waitLingers(t)
}
