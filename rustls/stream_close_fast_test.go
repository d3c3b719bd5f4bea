package rustls

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Close closes at once when the peer has acknowledged everything written
// and no input waits unread (stream_close.go); otherwise it waits. These
// tests hold it to its guarantee on both paths: the peer gets every byte
// Write reported and then a clean io.EOF.

// waitAcked waits (bounded) until the peer has acknowledged everything
// written to c's socket, where the platform can tell (Linux).
func waitAcked(t *testing.T, c net.Conn) {
	t.Helper()
	rc, err := c.(*net.TCPConn).SyscallConn()
	require.NoError(t, err)
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(time.Millisecond) {
		if sent, _ := socketQueues(rc, false); sent <= 0 {
			return
		}
	}
	t.Fatal("the peer never acknowledged the data")
}

// closePeer is the reading end of these tests: a gorustls or crypto/tls
// server that may write to the client (the client never reads) and reads
// everything until the end.
type closePeer struct {
	rw    io.ReadWriter
	close func() error
}

func acceptPeer(t *testing.T, kind string, sc net.Conn) <-chan closePeer {
	ch := make(chan closePeer, 1)
	ctx := testCtx(t)
	scfg := serverConfig(t, nil)
	gcfg := goTLSServerConfig(t)
	go func() {
		if kind == "gorustls" {
			s, err := NewAcceptor(scfg, StreamOptions{WriteThrough: true}).Accept(ctx, sc)
			if err != nil {
				ch <- closePeer{}
				return
			}
			ch <- closePeer{s, s.Close}
			return
		}
		g := tls.Server(sc, gcfg)
		if err := g.HandshakeContext(ctx); err != nil {
			ch <- closePeer{}
			return
		}
		ch <- closePeer{g, g.Close}
	}()
	return ch
}

// TestStreamCloseAckedThenPeerWrites: everything the client wrote was
// acknowledged and nothing waits unread, so Close closes at once; the
// server then writes to the closed socket, which answers with a reset.
// The reset must cost the server nothing it was sent: it reads every byte
// and the clean end.
func TestStreamCloseAckedThenPeerWrites(t *testing.T) {
	data := pattern(48<<10, 21)
	for _, kind := range []string{"gorustls", "crypto/tls"} {
		for _, buffered := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s server/buffered output %v", kind, buffered), func(t *testing.T) {
				cc, sc := tcpPair(t)
				peer := acceptPeer(t, kind, sc)
				c, err := NewConnector(clientConfig(t, nil), StreamOptions{WriteThrough: true, bufferedOutput: buffered}).Connect(testCtx(t), cc, "localhost")
				require.NoError(t, err)
				p := <-peer
				require.NotNil(t, p.rw, "server handshake failed")
				defer p.close()
				n, err := c.Write(data)
				require.NoError(t, err)
				require.Equal(t, len(data), n)
				waitAcked(t, cc)
				require.NoError(t, c.Close())
				// The closed client's kernel resets the connection when
				// this arrives.
				_, _ = p.rw.Write(pattern(64<<10, 22))
				time.Sleep(50 * time.Millisecond)
				require.NoError(t, sc.SetReadDeadline(time.Now().Add(10*time.Second)))
				got, err := readAllThenEOF(p.rw)
				require.Equal(t, io.EOF, err, "the server read %d of %d bytes", len(got), len(data))
				require.True(t, bytes.Equal(data, got), "data corrupted")
			})
		}
	}
}

// TestStreamCloseUnreadInputAfterAck: everything the client wrote was
// acknowledged but the server's greeting waits unread: Close must not
// close with it (a reset) but read it first. The server, which keeps
// writing for a while and then reads, gets every byte and the clean end.
func TestStreamCloseUnreadInputAfterAck(t *testing.T) {
	data := pattern(48<<10, 23)
	for _, kind := range []string{"gorustls", "crypto/tls"} {
		t.Run(kind+" server", func(t *testing.T) {
			cc, sc := tcpPair(t)
			peer := acceptPeer(t, kind, sc)
			c, err := NewConnector(clientConfig(t, nil), StreamOptions{}).Connect(testCtx(t), cc, "localhost")
			require.NoError(t, err)
			p := <-peer
			require.NotNil(t, p.rw, "server handshake failed")
			defer p.close()
			_, err = c.Write(data)
			require.NoError(t, err)
			require.NoError(t, c.Flush())
			_, err = p.rw.Write([]byte("hello"))
			require.NoError(t, err)
			waitAcked(t, cc)
			wrote := make(chan struct{})
			go func() {
				defer close(wrote)
				for range 20 {
					if _, err := p.rw.Write(pattern(4<<10, 24)); err != nil {
						return
					}
					time.Sleep(time.Millisecond)
				}
			}()
			require.NoError(t, c.Close())
			<-wrote
			require.NoError(t, sc.SetReadDeadline(time.Now().Add(10*time.Second)))
			got, err := readAllThenEOF(p.rw)
			require.Equal(t, io.EOF, err, "the server read %d of %d bytes", len(got), len(data))
			require.True(t, bytes.Equal(data, got), "data corrupted")
		})
	}
}

// TestStreamCloseRightAfterBigWrite: a client writes 4 MiB and closes at
// once, nothing unread, while the server is slow to start reading: most
// of the data is still unacknowledged when Close begins, so Close waits;
// the server gets it all and the clean end.
func TestStreamCloseRightAfterBigWrite(t *testing.T) {
	data := pattern(4<<20, 25)
	for _, kind := range []string{"gorustls", "crypto/tls"} {
		for _, wt := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s server/write-through %v", kind, wt), func(t *testing.T) {
				cc, sc := tcpPair(t)
				peer := acceptPeer(t, kind, sc)
				c, err := NewConnector(clientConfig(t, nil), StreamOptions{WriteThrough: wt, CloseTimeout: 10 * time.Second}).Connect(testCtx(t), cc, "localhost")
				require.NoError(t, err)
				p := <-peer
				require.NotNil(t, p.rw, "server handshake failed")
				defer p.close()
				type res struct {
					got []byte
					err error
				}
				done := make(chan res, 1)
				go func() {
					time.Sleep(50 * time.Millisecond)
					_ = sc.SetReadDeadline(time.Now().Add(10 * time.Second))
					got, err := readAllThenEOF(p.rw)
					done <- res{got, err}
				}()
				n, err := c.Write(data)
				require.NoError(t, err)
				require.Equal(t, len(data), n)
				require.NoError(t, c.Close())
				r := <-done
				require.Equal(t, io.EOF, r.err, "the server read %d of %d bytes", len(r.got), len(data))
				require.True(t, bytes.Equal(data, r.got), "data corrupted")
			})
		}
	}
}
