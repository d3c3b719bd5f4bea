package rustls

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// readAllThenEOF reads r to its end and returns what it read and the error
// that ended it (io.EOF for a clean end).
func readAllThenEOF(r io.Reader) ([]byte, error) {
	var got bytes.Buffer
	buf := make([]byte, 32<<10)
	for {
		n, err := r.Read(buf)
		got.Write(buf[:n])
		if err != nil {
			return got.Bytes(), err
		}
	}
}

// TestStreamCloseKeepsDataInFlight: a client writes 1 MiB and closes
// without reading anything. The server, slow to start reading, must get
// every byte and then a clean io.EOF: the client's Close must not make its
// kernel reset the connection and throw away data still in flight, which
// is what closing a socket with unread input does. Here the unread input
// is a greeting the server sends right after the handshake (as TLS 1.3
// servers that send their session tickets then, OpenSSL's say, do too).
func TestStreamCloseKeepsDataInFlight(t *testing.T) {
	data := pattern(1<<20, 11)
	for _, server := range []string{"gorustls", "crypto/tls"} {
		for _, wt := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s server/write-through %v", server, wt), func(t *testing.T) {
				for i := 0; i < 5; i++ {
					cc, sc := tcpPair(t)
					ctx := testCtx(t)
					type res struct {
						got []byte
						err error
					}
					done := make(chan res, 1)
					go func() {
						var r io.ReadWriter
						if server == "gorustls" {
							s, err := NewAcceptor(serverConfig(t, nil), StreamOptions{WriteThrough: true}).Accept(ctx, sc)
							if err != nil {
								done <- res{nil, err}
								return
							}
							defer s.Close()
							r = s
						} else {
							g := tls.Server(sc, goTLSServerConfig(t))
							if err := g.HandshakeContext(ctx); err != nil {
								done <- res{nil, err}
								return
							}
							defer g.Close()
							r = g
						}
						if _, err := r.Write([]byte("hello")); err != nil {
							done <- res{nil, err}
							return
						}
						time.Sleep(50 * time.Millisecond) // data piles up in flight
						_ = sc.SetReadDeadline(time.Now().Add(10 * time.Second))
						got, err := readAllThenEOF(r)
						done <- res{got, err}
					}()
					c, err := NewConnector(clientConfig(t, nil), StreamOptions{WriteThrough: wt}).Connect(ctx, cc, "localhost")
					require.NoError(t, err)
					n, err := c.Write(data)
					require.NoError(t, err)
					require.Equal(t, len(data), n)
					require.NoError(t, c.Close())
					r := <-done
					require.Equal(t, io.EOF, r.err, "round %d: the server read %d of %d bytes", i, len(r.got), len(data))
					require.True(t, bytes.Equal(data, r.got), "round %d: data corrupted", i)
				}
			})
		}
	}
}

// TestStreamServerTicketsDoNotResetWriters: a crypto/tls client (with a
// session cache, so that it asks for tickets) writes 1 MiB and closes at
// once, as crypto/tls does, without reading. A gorustls server must get
// every byte and a clean io.EOF: had it sent its TLS 1.3 tickets right
// after the handshake, they would sit unread in the client's socket and
// the client's close would reset the connection, destroying data in
// flight.
func TestStreamServerTicketsDoNotResetWriters(t *testing.T) {
	data := pattern(1<<20, 13)
	gcfg := goTLSClientConfig(t)
	gcfg.ClientSessionCache = tls.NewLRUClientSessionCache(8)
	scfg := serverConfig(t, nil)
	for i := 0; i < 5; i++ {
		cc, sc := tcpPair(t)
		ctx := testCtx(t)
		type res struct {
			got []byte
			err error
		}
		done := make(chan res, 1)
		go func() {
			s, err := NewAcceptor(scfg, StreamOptions{}).Accept(ctx, sc)
			if err != nil {
				done <- res{nil, err}
				return
			}
			defer s.Close()
			time.Sleep(50 * time.Millisecond) // data piles up in flight
			_ = s.SetReadDeadline(time.Now().Add(10 * time.Second))
			got, err := readAllThenEOF(s)
			if err == io.EOF {
				// The tickets go out with the server's first write: a
				// client that reads gets them and resumes.
				_, err = s.Write([]byte("bye"))
				if err == nil {
					err = io.EOF
				}
			}
			done <- res{got, err}
		}()
		g := tls.Client(cc, gcfg)
		require.NoError(t, g.HandshakeContext(ctx))
		if i == 4 {
			assert.True(t, g.ConnectionState().DidResume, "no ticket ever reached the client")
		}
		_, err := g.Write(data)
		require.NoError(t, err)
		if i == 3 {
			// This time the client half-closes and reads the reply, which
			// brings it the tickets for the next round.
			require.NoError(t, g.CloseWrite())
			require.NoError(t, cc.(*net.TCPConn).CloseWrite())
			_ = g.SetReadDeadline(time.Now().Add(10 * time.Second))
			reply, err := readAllThenEOF(g)
			require.Equal(t, "bye", string(reply), "%v", err)
		}
		require.NoError(t, g.Close())
		r := <-done
		require.Equal(t, io.EOF, r.err, "round %d: the server read %d of %d bytes", i, len(r.got), len(data))
		require.True(t, bytes.Equal(data, r.got), "round %d: data corrupted", i)
	}
}

// TestStreamCloseBounded: Close's wait for the peer is bounded and skipped
// when there is nothing to wait for.
func TestStreamCloseBounded(t *testing.T) {
	const long = 20 * time.Second
	t.Run("peer reset", func(t *testing.T) {
		c, s := rustlsPair(t, serverConfig(t, nil), clientConfig(t, nil), StreamOptions{}, StreamOptions{CloseTimeout: long})
		tc := s.NetConn().(*net.TCPConn)
		require.NoError(t, tc.SetLinger(0))
		require.NoError(t, tc.Close())
		time.Sleep(50 * time.Millisecond)
		start := time.Now()
		c.Close()
		assert.Less(t, time.Since(start), long/2, "Close waited on a reset connection")
	})
	t.Run("peer neither reads nor closes", func(t *testing.T) {
		c, _ := rustlsPair(t, serverConfig(t, nil), clientConfig(t, nil), StreamOptions{}, StreamOptions{CloseTimeout: 200 * time.Millisecond})
		require.NoError(t, c.SetWriteDeadline(time.Now().Add(300*time.Millisecond)))
		_, _ = c.Write(make([]byte, 16<<20))
		require.NoError(t, c.SetWriteDeadline(time.Time{}))
		start := time.Now()
		c.Close()
		assert.Less(t, time.Since(start), 10*time.Second, "Close did not respect CloseTimeout")
	})
	t.Run("peer keeps sending", func(t *testing.T) {
		// Everything the client sent is acknowledged at once: its Close
		// need not wait for the end of a download it gives up.
		c, s := rustlsPair(t, serverConfig(t, nil), clientConfig(t, nil), StreamOptions{}, StreamOptions{CloseTimeout: long})
		go func() {
			buf := make([]byte, 64<<10)
			for {
				if _, err := s.Write(buf); err != nil {
					return
				}
			}
		}()
		_, err := io.ReadFull(c, make([]byte, 1<<20))
		require.NoError(t, err)
		start := time.Now()
		c.Close()
		assert.Less(t, time.Since(start), long/2, "Close waited for a download to end")
	})
	t.Run("Read blocked during the wait", func(t *testing.T) {
		// The client waits for its data to be acknowledged (the server does
		// not read yet); a Read blocked in another goroutine returns at once.
		c, s := rustlsPair(t, serverConfig(t, nil), clientConfig(t, nil), StreamOptions{}, StreamOptions{CloseTimeout: long})
		require.NoError(t, c.NetConn().(*net.TCPConn).SetWriteBuffer(64<<10))
		require.NoError(t, s.NetConn().(*net.TCPConn).SetReadBuffer(64<<10))
		data := pattern(256<<10, 12)
		require.NoError(t, c.SetWriteDeadline(time.Now().Add(300*time.Millisecond)))
		n, _ := c.Write(data)
		require.NoError(t, c.SetWriteDeadline(time.Time{}))
		readErr := make(chan error, 1)
		go func() {
			_, err := c.Read(make([]byte, 10))
			readErr <- err
		}()
		time.Sleep(50 * time.Millisecond)
		closed := make(chan error, 1)
		go func() { closed <- c.Close() }()
		select {
		case err := <-readErr:
			assert.ErrorIs(t, err, net.ErrClosed)
		case <-time.After(long / 2):
			t.Fatal("Read still blocked while Close waits")
		}
		// Now the server reads: it gets what Write counted, then EOF.
		_ = s.SetReadDeadline(time.Now().Add(long))
		got, err := readAllThenEOF(s)
		assert.Equal(t, io.EOF, err)
		assert.True(t, bytes.Equal(data[:n], got), "got %d of %d bytes", len(got), n)
		require.NoError(t, <-closed)
	})
}
