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

// TestAttack12ServerCloseWhilePeerKeepsWriting: a gorustls server writes
// 2 MiB and closes while its crypto/tls client keeps writing to it (and
// is slow to start reading), over TLS 1.2 and 1.3. Close must read and
// discard what the client sends until everything it wrote is
// acknowledged, not close with input arriving (a reset that destroys
// what was still in flight): the client gets every byte, then io.EOF.
func TestAttack12ServerCloseWhilePeerKeepsWriting(t *testing.T) {
	data := pattern(2<<20, 33)
	for _, v := range []uint16{VersionTLS12, VersionTLS13} {
		t.Run(fmt.Sprintf("version %x", v), func(t *testing.T) {
			cc, sc := tcpPair(t)
			scfg := serverConfig(t, func(o *ServerOptions) { o.Versions = []uint16{v} })
			ctx := testCtx(t)
			type res struct {
				got []byte
				err error
			}
			done := make(chan res, 1)
			stopWriting := make(chan struct{})
			go func() {
				g := tls.Client(cc, goTLSClientConfig(t))
				if err := g.HandshakeContext(ctx); err != nil {
					done <- res{nil, err}
					return
				}
				go func() {
					chunk := pattern(4<<10, 34)
					for {
						select {
						case <-stopWriting:
							return
						case <-time.After(time.Millisecond):
						}
						if _, err := g.Write(chunk); err != nil {
							return
						}
					}
				}()
				time.Sleep(100 * time.Millisecond)
				_ = cc.SetReadDeadline(time.Now().Add(15 * time.Second))
				got, err := readAllThenEOF(g)
				done <- res{got, err}
			}()
			s, err := NewAcceptor(scfg, StreamOptions{WriteThrough: true, CloseTimeout: 10 * time.Second}).Accept(ctx, sc)
			require.NoError(t, err)
			n, err := s.Write(data)
			require.NoError(t, err)
			require.Equal(t, len(data), n)
			require.NoError(t, s.Close())
			r := <-done
			close(stopWriting)
			require.Equal(t, io.EOF, r.err, "the client read %d of %d bytes", len(r.got), len(data))
			require.True(t, bytes.Equal(data, r.got), "data corrupted")
		})
	}
}
