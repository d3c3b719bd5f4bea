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

// TestAttack3SpoolDeliversExactlyWhatWriteCounted: the client's Writes
// stall on a peer that does not read (the last one times out part way,
// its count partial), optionally CloseWrite times out too, then Close
// hands the rest to the background. Once the peer starts reading it must
// get exactly the bytes the Writes counted, in order, then a clean
// io.EOF: nothing the spool held may be lost, duplicated or reordered.
func TestAttack3SpoolDeliversExactlyWhatWriteCounted(t *testing.T) {
	for _, v := range attack3Versions() {
		for _, kind := range []string{"gorustls", "crypto/tls"} {
			for _, mode := range []string{"close", "closewrite-timeout+close", "buffered", "slots-full"} {
				t.Run(fmt.Sprintf("%s/%s/%s", versionName(v), kind, mode), func(t *testing.T) {
					waitLingers(t)
					attack3SpoolOnce(t, v, kind, mode)
					waitLingers(t)
				})
			}
		}
	}
}

func attack3SpoolOnce(t *testing.T, v uint16, kind, mode string) {
	cc, sc := tcpPair(t)
	require.NoError(t, sc.(*net.TCPConn).SetReadBuffer(4<<10))
	require.NoError(t, cc.(*net.TCPConn).SetWriteBuffer(4<<10))
	var peer io.Reader
	done := make(chan error, 1)
	if kind == "gorustls" {
		scfg := serverConfig(t, func(o *ServerOptions) { o.Versions = []uint16{v} })
		var s *Stream
		go func() {
			var err error
			s, err = NewAcceptor(scfg, StreamOptions{}).Accept(testCtx(t), sc)
			done <- err
		}()
		defer func() {
			if s != nil {
				s.Close()
			}
		}()
		peer = readerFunc(func(p []byte) (int, error) { return s.Read(p) })
	} else {
		g := tls.Server(sc, goTLSServerConfig(t))
		go func() { done <- g.HandshakeContext(testCtx(t)) }()
		peer = g
	}
	ccfg := clientConfig(t, func(o *ClientOptions) { o.Versions = []uint16{v} })
	c, err := NewConnector(ccfg, StreamOptions{WriteThrough: mode != "buffered", CloseTimeout: 30 * time.Second}).Connect(testCtx(t), cc, "localhost")
	require.NoError(t, err)
	require.NoError(t, <-done)

	data := pattern(4<<20, 11)
	require.NoError(t, c.SetWriteDeadline(time.Now().Add(200*time.Millisecond)))
	off := 0
	for off < len(data) {
		n, err := c.Write(data[off:min(off+50000, len(data))])
		off += n
		if err != nil {
			require.True(t, isTimeout(err), "write: %v", err)
			break
		}
	}
	require.Less(t, off, len(data), "the peer never stalled")
	if mode == "buffered" {
		// A few more bytes gathered but not flushed (the deadline passed:
		// a Write after it takes nothing, so write before it).
		require.NoError(t, c.SetWriteDeadline(time.Time{}))
		n, err := c.Write(data[off : off+100])
		require.NoError(t, err)
		off += n
	}
	if mode == "closewrite-timeout+close" {
		require.NoError(t, c.SetWriteDeadline(time.Now().Add(50*time.Millisecond)))
		err := c.CloseWrite()
		require.Error(t, err)
	}
	got := make(chan struct {
		b   []byte
		err error
	}, 1)
	read := func() {
		_ = sc.SetReadDeadline(time.Now().Add(60 * time.Second))
		var b bytes.Buffer
		buf := make([]byte, 32<<10)
		for {
			n, err := peer.Read(buf)
			b.Write(buf[:n])
			if err != nil {
				got <- struct {
					b   []byte
					err error
				}{b.Bytes(), err}
				return
			}
		}
	}
	if mode == "slots-full" {
		// Every background slot taken: Close finishes in the caller while
		// the peer reads.
		lingering.Add(maxLingering)
		go read()
		err := c.Close()
		lingering.Add(-maxLingering)
		require.NoError(t, err)
	} else {
		require.NoError(t, c.Close())
		go read()
	}
	r := <-got
	require.Equal(t, io.EOF, r.err, "the peer read %d of the %d bytes Write counted", len(r.b), off)
	require.Equal(t, off, len(r.b), "the peer got a different count than Write reported")
	require.True(t, bytes.Equal(data[:off], r.b), "data corrupted or reordered")
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }
