package rustls

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gorustls/gorustls/cgo"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestStreamTruncation(t *testing.T) {
	c, s := rustlsPair(t, serverConfig(t, nil), clientConfig(t, nil), StreamOptions{}, StreamOptions{})
	data := pattern(100<<10, 1)
	_, err := s.Write(data)
	require.NoError(t, err)
	require.NoError(t, s.Flush())
	// Close the TCP connection under the stream: no close_notify.
	require.NoError(t, s.NetConn().Close())
	got := make([]byte, len(data))
	require.NoError(t, readFullWithin(c, got, 5*time.Second))
	assert.Equal(t, data, got)
	_, err = readWithin(c, got, 5*time.Second)
	assert.ErrorIs(t, err, io.ErrUnexpectedEOF)
	// Sticky.
	_, err = c.Read(got)
	assert.ErrorIs(t, err, io.ErrUnexpectedEOF)
}

func TestStreamPeerReset(t *testing.T) {
	c, s := rustlsPair(t, serverConfig(t, nil), clientConfig(t, nil), StreamOptions{}, StreamOptions{})
	// The client is busy writing when the server's TCP is reset.
	writeErr := make(chan error, 1)
	go func() {
		buf := pattern(64<<10, 2)
		for {
			if _, err := c.Write(buf); err != nil {
				writeErr <- err
				return
			}
			if err := c.Flush(); err != nil {
				writeErr <- err
				return
			}
		}
	}()
	got := make([]byte, 256<<10)
	require.NoError(t, readFullWithin(s, got, 5*time.Second))
	tc := s.NetConn().(*net.TCPConn)
	require.NoError(t, tc.SetLinger(0))
	require.NoError(t, tc.Close())

	select {
	case err := <-writeErr:
		e := rustlsError(t, err)
		assert.ErrorIs(t, err, ErrIO)
		assert.True(t, errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE), "%v (code %d)", err, e.Code)
	case <-time.After(5 * time.Second):
		t.Fatal("Write did not fail after the peer's reset")
	}
	_, err := readWithin(c, got, 5*time.Second)
	require.Error(t, err)
	assert.False(t, errors.Is(err, io.EOF), "a reset is not a clean EOF: %v", err)
	assert.False(t, errors.Is(err, os.ErrDeadlineExceeded), "%v", err)
}

func TestStreamReadDeadline(t *testing.T) {
	c, s := rustlsPair(t, serverConfig(t, nil), clientConfig(t, nil), StreamOptions{}, StreamOptions{})
	buf := make([]byte, 10)
	require.NoError(t, c.SetReadDeadline(time.Now().Add(50*time.Millisecond)))
	_, err := c.Read(buf)
	require.ErrorIs(t, err, os.ErrDeadlineExceeded)
	var ne net.Error
	require.True(t, errors.As(err, &ne) && ne.Timeout())

	// Data sent while the deadline has passed is not lost.
	_, err = s.Write([]byte("0123456789"))
	require.NoError(t, err)
	require.NoError(t, s.Flush())
	require.NoError(t, c.SetReadDeadline(time.Time{}))
	require.NoError(t, readFullWithin(c, buf, 5*time.Second))
	assert.Equal(t, "0123456789", string(buf))
}

// trickleConn writes in small pieces with pauses, so that TLS records
// arrive in fragments.
type trickleConn struct{ net.Conn }

func (c trickleConn) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 {
		k := min(len(p), 1000)
		m, err := c.Conn.Write(p[:k])
		n += m
		if err != nil {
			return n, err
		}
		p = p[k:]
		time.Sleep(20 * time.Microsecond)
	}
	return n, nil
}

// TestStreamReadDeadlineStorm reads a transfer whose records arrive in
// fragments, with read deadlines that keep firing mid-record: every byte
// arrives exactly once.
func TestStreamReadDeadlineStorm(t *testing.T) {
	cc, sc := tcpPair(t)
	ctx := testCtx(t)
	sch := make(chan *Stream, 1)
	acc := NewAcceptor(serverConfig(t, nil), StreamOptions{})
	go func() {
		s, err := acc.Accept(ctx, trickleConn{sc})
		assert.NoError(t, err)
		sch <- s
	}()
	c, err := NewConnector(clientConfig(t, nil), StreamOptions{}).Connect(ctx, cc, "localhost")
	require.NoError(t, err)
	defer c.Close()
	s := <-sch
	require.NotNil(t, s)
	defer s.Close()

	data := pattern(1<<20, 3)
	go func() {
		s.Write(data)
		s.Flush()
	}()
	got := make([]byte, 0, len(data))
	buf := make([]byte, 5000)
	timeouts := 0
	end := time.Now().Add(20 * time.Second)
	for len(got) < len(data) && time.Now().Before(end) {
		c.SetReadDeadline(time.Now().Add(100 * time.Microsecond))
		n, err := c.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			require.ErrorIs(t, err, os.ErrDeadlineExceeded)
			timeouts++
		}
	}
	require.Equal(t, len(data), len(got))
	require.True(t, bytes.Equal(data, got))
	assert.Greater(t, timeouts, 10, "the deadline should have fired mid-transfer")
	t.Logf("%d timeouts", timeouts)
}

// TestStreamWriteDeadline is the property crypto/tls lacks: a Write that
// times out while the peer is not reading leaves the stream usable, and
// once the peer reads, Flush sends the rest and every byte arrives once.
func TestStreamWriteDeadline(t *testing.T) {
	c, s := rustlsPair(t, serverConfig(t, nil), clientConfig(t, nil), StreamOptions{}, StreamOptions{})
	data := pattern(64<<20, 4)
	require.NoError(t, c.SetWriteDeadline(time.Now().Add(200*time.Millisecond)))
	n, err := c.Write(data)
	require.ErrorIs(t, err, os.ErrDeadlineExceeded)
	require.Less(t, n, len(data))
	// Still timed out: a Flush fails the same way and loses nothing.
	err = c.Flush()
	require.ErrorIs(t, err, os.ErrDeadlineExceeded)
	t.Logf("accepted %d of %d bytes before the deadline", n, len(data))

	// Now the peer reads; move the deadline and finish the job.
	got := make([]byte, len(data))
	readDone := make(chan error, 1)
	go func() { readDone <- readFullWithin(s, got, 20*time.Second) }()
	require.NoError(t, c.SetWriteDeadline(time.Time{}))
	require.NoError(t, c.Flush())
	m, err := c.Write(data[n:])
	require.NoError(t, err)
	require.Equal(t, len(data)-n, m)
	require.NoError(t, c.Flush())
	require.NoError(t, <-readDone)
	require.True(t, bytes.Equal(data, got), "data corrupted, duplicated or lost")
	// And the stream goes on.
	echoPair(t, c, s, 1000)
}

func TestStreamCloseWriteHalfClose(t *testing.T) {
	for _, wrap := range []bool{false, true} {
		name := "tcp"
		if wrap {
			name = "transport without CloseWrite"
		}
		t.Run(name, func(t *testing.T) {
			cc, sc := tcpPair(t)
			var cconn net.Conn = cc
			if wrap {
				cconn = struct{ net.Conn }{cc} // hides CloseWrite
			}
			ctx := testCtx(t)
			sch := make(chan *Stream, 1)
			acc := NewAcceptor(serverConfig(t, nil), StreamOptions{})
			go func() {
				s, err := acc.Accept(ctx, sc)
				assert.NoError(t, err)
				sch <- s
			}()
			c, err := NewConnector(clientConfig(t, nil), StreamOptions{}).Connect(ctx, cconn, "localhost")
			require.NoError(t, err)
			defer c.Close()
			s := <-sch
			require.NotNil(t, s)
			defer s.Close()

			// Data and close_notify leave in one flush: the reader gets
			// both in one transport read and must still report io.EOF.
			_, err = c.Write([]byte("ping"))
			require.NoError(t, err)
			require.NoError(t, c.CloseWrite())
			require.NoError(t, c.CloseWrite(), "idempotent")
			_, err = c.Write([]byte("more"))
			assert.ErrorIs(t, err, ErrWriteClosed)

			time.Sleep(20 * time.Millisecond)
			buf := make([]byte, 100)
			n, err := readWithin(s, buf, 5*time.Second)
			require.NoError(t, err)
			assert.Equal(t, "ping", string(buf[:n]))
			_, err = readWithin(s, buf, 5*time.Second)
			require.Equal(t, io.EOF, err)
			_, err = s.Read(buf)
			require.Equal(t, io.EOF, err, "EOF is sticky")

			// The server can still answer; the client reads it, then EOF.
			_, err = s.Write([]byte("pong"))
			require.NoError(t, err)
			require.NoError(t, s.CloseWrite())
			n, err = readWithin(c, buf, 5*time.Second)
			require.NoError(t, err)
			assert.Equal(t, "pong", string(buf[:n]))
			_, err = readWithin(c, buf, 5*time.Second)
			require.Equal(t, io.EOF, err)
		})
	}
}

func TestStreamCloseNotifyOnClose(t *testing.T) {
	c, s := rustlsPair(t, serverConfig(t, nil), clientConfig(t, nil), StreamOptions{}, StreamOptions{})
	_, err := c.Write([]byte("bye"))
	require.NoError(t, err)
	// Close flushes what is buffered, then close_notify.
	require.NoError(t, c.Close())
	got, err := io.ReadAll(s)
	require.NoError(t, err, "io.ReadAll stops at io.EOF")
	assert.Equal(t, "bye", string(got))
	// The server may still write: the client's transport is gone, so the
	// write fails (sooner or later) but does not hang.
	require.NoError(t, c.Close(), "idempotent")
	_, err = c.Read(make([]byte, 1))
	assert.ErrorIs(t, err, net.ErrClosed)
	_, err = c.Write([]byte("x"))
	assert.ErrorIs(t, err, net.ErrClosed)
}

// closeCounter counts Close calls on a transport.
type closeCounter struct {
	net.Conn
	closes atomic.Int32
}

func (c *closeCounter) Close() error {
	c.closes.Add(1)
	return c.Conn.Close()
}

func TestStreamCloseOnce(t *testing.T) {
	cc, sc := tcpPair(t)
	counted := &closeCounter{Conn: cc}
	ctx := testCtx(t)
	acc := NewAcceptor(serverConfig(t, nil), StreamOptions{})
	go func() {
		s, err := acc.Accept(ctx, sc)
		if err == nil {
			io.Copy(io.Discard, s)
			s.Close()
		}
	}()
	c, err := NewConnector(clientConfig(t, nil), StreamOptions{}).Connect(ctx, counted, "localhost")
	require.NoError(t, err)
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = c.Close()
		}()
	}
	wg.Wait()
	for _, err := range errs {
		assert.Equal(t, errs[0], err)
	}
	assert.Equal(t, int32(1), counted.closes.Load())
}

func TestStreamCloseUnblocks(t *testing.T) {
	t.Run("blocked Read", func(t *testing.T) {
		c, _ := rustlsPair(t, serverConfig(t, nil), clientConfig(t, nil), StreamOptions{}, StreamOptions{})
		done := make(chan error, 1)
		go func() {
			_, err := c.Read(make([]byte, 10))
			done <- err
		}()
		time.Sleep(50 * time.Millisecond)
		start := time.Now()
		require.NoError(t, c.Close())
		select {
		case err := <-done:
			assert.ErrorIs(t, err, net.ErrClosed)
		case <-time.After(2 * time.Second):
			t.Fatal("Read still blocked after Close")
		}
		assert.Less(t, time.Since(start), 2*time.Second)
	})
	t.Run("blocked Write", func(t *testing.T) {
		c, _ := rustlsPair(t, serverConfig(t, nil), clientConfig(t, nil), StreamOptions{}, StreamOptions{})
		done := make(chan error, 1)
		go func() {
			_, err := c.Write(make([]byte, 64<<20)) // the peer never reads
			done <- err
		}()
		time.Sleep(200 * time.Millisecond)
		start := time.Now()
		c.Close()
		select {
		case err := <-done:
			assert.ErrorIs(t, err, net.ErrClosed)
		case <-time.After(2 * time.Second):
			t.Fatal("Write still blocked after Close")
		}
		assert.Less(t, time.Since(start), 2*time.Second)
	})
	t.Run("blocked Flush", func(t *testing.T) {
		c, s := rustlsPair(t, serverConfig(t, nil), clientConfig(t, nil), StreamOptions{}, StreamOptions{CloseTimeout: 10 * time.Second})
		// Small socket buffers (no autotuning): the Flush stays stuck.
		require.NoError(t, c.NetConn().(*net.TCPConn).SetWriteBuffer(32<<10))
		require.NoError(t, s.NetConn().(*net.TCPConn).SetReadBuffer(32<<10))
		c.SetWriteDeadline(time.Now().Add(200 * time.Millisecond))
		_, err := c.Write(make([]byte, 64<<20)) // the peer never reads
		require.ErrorIs(t, err, os.ErrDeadlineExceeded)
		c.SetWriteDeadline(time.Time{})
		done := make(chan error, 1)
		go func() { done <- c.Flush() }()
		time.Sleep(100 * time.Millisecond)
		start := time.Now()
		c.Close()
		select {
		case err := <-done:
			assert.ErrorIs(t, err, net.ErrClosed)
		case <-time.After(2 * time.Second):
			t.Fatal("Flush still blocked after Close")
		}
		assert.Less(t, time.Since(start), 2*time.Second, "Close waited for the stuck Flush")
	})
	t.Run("Close bounded when close_notify cannot be sent", func(t *testing.T) {
		c, _ := rustlsPair(t, serverConfig(t, nil), clientConfig(t, nil), StreamOptions{}, StreamOptions{CloseTimeout: 100 * time.Millisecond})
		c.SetWriteDeadline(time.Now().Add(200 * time.Millisecond))
		_, err := c.Write(make([]byte, 64<<20)) // fills every buffer
		require.ErrorIs(t, err, os.ErrDeadlineExceeded)
		start := time.Now()
		c.Close()
		assert.Less(t, time.Since(start), 2*time.Second)
	})
	t.Run("blocked handshake", func(t *testing.T) {
		cc, _ := tcpPair(t)
		c, err := NewConnector(clientConfig(t, nil), StreamOptions{}).Client(cc, "localhost")
		require.NoError(t, err)
		done := make(chan error, 1)
		go func() { done <- c.HandshakeContext(context.Background()) }()
		time.Sleep(50 * time.Millisecond)
		c.Close()
		select {
		case err := <-done:
			assert.Error(t, err)
		case <-time.After(2 * time.Second):
			t.Fatal("Handshake still blocked after Close")
		}
	})
}

func TestStreamBuffering(t *testing.T) {
	t.Run("Write without Flush stays buffered", func(t *testing.T) {
		c, s := rustlsPair(t, serverConfig(t, nil), clientConfig(t, nil), StreamOptions{}, StreamOptions{})
		_, err := c.Write([]byte("buffered"))
		require.NoError(t, err)
		assert.True(t, c.Buffered())
		buf := make([]byte, 8)
		_, err = readWithin(s, buf, 150*time.Millisecond)
		require.ErrorIs(t, err, os.ErrDeadlineExceeded, "data left without Flush")
		require.NoError(t, c.Flush())
		assert.False(t, c.Buffered())
		require.NoError(t, readFullWithin(s, buf, 5*time.Second))
		assert.Equal(t, "buffered", string(buf))
	})
	t.Run("Flush with nothing pending makes no C call", func(t *testing.T) {
		c, _ := rustlsPair(t, serverConfig(t, nil), clientConfig(t, nil), StreamOptions{}, StreamOptions{})
		require.NoError(t, c.Flush())
		before := cgo.Calls()
		for i := 0; i < 100; i++ {
			require.NoError(t, c.Flush())
		}
		assert.Equal(t, before, cgo.Calls())
	})
	t.Run("BufferLimit", func(t *testing.T) {
		const limit = 4096
		c, s := rustlsPair(t, serverConfig(t, nil), clientConfig(t, nil), StreamOptions{}, StreamOptions{BufferLimit: limit})
		data := pattern(64<<10, 5)
		_, err := c.Write(data)
		require.NoError(t, err)
		// Without Flush, all but at most one buffer's worth reaches the peer.
		want := len(data) - limit
		got := make([]byte, want)
		require.NoError(t, readFullWithin(s, got, 5*time.Second))
		assert.Equal(t, data[:want], got)
		require.NoError(t, c.Flush())
		rest := make([]byte, len(data)-want)
		require.NoError(t, readFullWithin(s, rest, 5*time.Second))
		assert.Equal(t, data[want:], rest)
	})
	t.Run("default limit", func(t *testing.T) {
		c, s := rustlsPair(t, serverConfig(t, nil), clientConfig(t, nil), StreamOptions{}, StreamOptions{})
		data := pattern(1<<20, 6)
		go c.Write(data)
		want := len(data) - 64<<10
		got := make([]byte, want)
		require.NoError(t, readFullWithin(s, got, 5*time.Second))
		assert.Equal(t, data[:want], got)
	})
	t.Run("WriteThrough", func(t *testing.T) {
		c, s := rustlsPair(t, serverConfig(t, nil), clientConfig(t, nil), StreamOptions{}, StreamOptions{WriteThrough: true})
		buf := make([]byte, 5)
		for i := 0; i < 20; i++ {
			msg := []byte{'m', 's', 'g', '0' + byte(i/10), '0' + byte(i%10)}
			_, err := c.Write(msg)
			require.NoError(t, err)
			assert.False(t, c.Buffered())
			require.NoError(t, readFullWithin(s, buf, 5*time.Second))
			assert.Equal(t, msg, buf)
		}
	})
}

func TestStreamKeyUpdate(t *testing.T) {
	c, s := rustlsPair(t, serverConfig(t, nil), clientConfig(t, nil), StreamOptions{}, StreamOptions{})
	for i := 0; i < 3; i++ {
		require.NoError(t, c.KeyUpdate())
		echoPair(t, c, s, 50<<10)
		require.NoError(t, s.KeyUpdate())
		echoPair(t, c, s, 50<<10)
	}
	t.Run("TLS 1.2 refuses", func(t *testing.T) {
		scfg := serverConfig(t, func(o *ServerOptions) { o.Versions = []uint16{tls.VersionTLS12} })
		c, s := rustlsPair(t, scfg, clientConfig(t, nil), StreamOptions{}, StreamOptions{})
		assert.Error(t, c.KeyUpdate())
		echoPair(t, c, s, 1000)
	})
	t.Run("crypto/tls peer", func(t *testing.T) {
		cc, sc := tcpPair(t)
		res := goTLSServe(sc, goTLSServerConfig(t))
		c, err := NewConnector(clientConfig(t, nil), StreamOptions{}).Connect(testCtx(t), cc, "localhost")
		require.NoError(t, err)
		defer c.Close()
		r := <-res
		require.NoError(t, r.err)
		defer r.c.Close()
		go io.Copy(r.c, r.c)
		for i := 0; i < 3; i++ {
			require.NoError(t, c.KeyUpdate())
			echoRoundTrip(t, c, c.Flush, 100<<10)
		}
	})
}

// TestStreamKeyUpdateReplyWhileWriterBlocked: the peer asks for a key
// update while our writer is blocked on a full transport. Our reader must
// get the reply queued without deadlocking; the writer sends it.
func TestStreamKeyUpdateReplyWhileWriterBlocked(t *testing.T) {
	c, s := rustlsPair(t, serverConfig(t, nil), clientConfig(t, nil), StreamOptions{}, StreamOptions{})
	data := pattern(32<<20, 8)
	writeDone := make(chan error, 1)
	go func() {
		_, err := c.Write(data)
		if err == nil {
			err = c.Flush()
		}
		writeDone <- err
	}()
	readGot := make(chan []byte, 1)
	readErr := make(chan error, 1)
	go func() {
		buf := make([]byte, 5)
		err := readFullWithin(c, buf, 20*time.Second)
		readErr <- err
		readGot <- buf
	}()
	time.Sleep(200 * time.Millisecond) // the client's Write is now blocked
	select {
	case err := <-writeDone:
		t.Fatalf("Write finished early: %v", err)
	default:
	}
	require.NoError(t, s.KeyUpdate())
	_, err := s.Write([]byte("after"))
	require.NoError(t, err)
	require.NoError(t, s.Flush())
	require.NoError(t, <-readErr)
	assert.Equal(t, "after", string(<-readGot))

	got := make([]byte, len(data))
	require.NoError(t, readFullWithin(s, got, 20*time.Second))
	require.NoError(t, <-writeDone)
	require.True(t, bytes.Equal(data, got))
	echoPair(t, c, s, 10<<10)
}

// noWriterTo hides a reader's WriteTo so that io.Copy uses ReadFrom.
type noWriterTo struct{ io.Reader }

func TestStreamReadFromWriteTo(t *testing.T) {
	c, s := rustlsPair(t, serverConfig(t, nil), clientConfig(t, nil), StreamOptions{}, StreamOptions{})
	data := pattern(8<<20, 9)

	// io.Copy into a Stream uses ReadFrom, which flushes at the end.
	copied := make(chan error, 1)
	go func() {
		n, err := io.Copy(c, noWriterTo{bytes.NewReader(data)})
		if err == nil && n != int64(len(data)) {
			err = io.ErrShortWrite
		}
		copied <- err
	}()
	got := make([]byte, len(data))
	require.NoError(t, readFullWithin(s, got, 20*time.Second))
	require.NoError(t, <-copied)
	assert.False(t, c.Buffered())
	require.True(t, bytes.Equal(data, got))

	// io.Copy out of a Stream uses WriteTo and ends at close_notify.
	go func() {
		s.Write(data)
		s.Close()
	}()
	var sink bytes.Buffer
	n, err := io.Copy(&sink, c)
	require.NoError(t, err)
	require.Equal(t, int64(len(data)), n)
	require.True(t, bytes.Equal(data, sink.Bytes()))
}

// TestStreamProxy relays between two Streams with io.Copy both ways: a
// request/response exchange needs every relayed chunk flushed.
func TestStreamProxy(t *testing.T) {
	scfg, ccfg := serverConfig(t, nil), clientConfig(t, nil)
	client, front := rustlsPair(t, scfg, ccfg, StreamOptions{}, StreamOptions{})
	back, origin := rustlsPair(t, scfg, ccfg, StreamOptions{}, StreamOptions{})
	go io.Copy(back, front)
	go io.Copy(front, back)
	// The client's request goes through ReadFrom; the origin answers.
	go func() {
		buf := make([]byte, 4)
		for {
			if _, err := io.ReadFull(origin, buf); err != nil {
				return
			}
			origin.Write(append([]byte("re:"), buf...))
			origin.Flush()
		}
	}()
	buf := make([]byte, 7)
	for i := 0; i < 10; i++ {
		_, err := client.Write([]byte("ping"))
		require.NoError(t, err)
		require.NoError(t, client.Flush())
		require.NoError(t, readFullWithin(client, buf, 5*time.Second))
		assert.Equal(t, "re:ping", string(buf))
	}
}
