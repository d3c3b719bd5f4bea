package rustls

import (
	"bufio"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Hostile peers: byte-at-a-time I/O, random record splits, oversized and
// empty records, renegotiation attempts, stalls at every handshake step,
// resets mid-record, Close during blocked I/O. Each case must end in a
// typed error or success, promptly, never a hang.

// hostileErr checks that err is an *Error and returns it.
func hostileErr(t testing.TB, err error) *Error {
	t.Helper()
	require.Error(t, err)
	var e *Error
	require.True(t, errors.As(err, &e), "not an *Error: %T %v", err, err)
	return e
}

// byteConn reads and writes at most one byte per call on the transport.
type byteConn struct{ net.Conn }

func (c byteConn) Read(p []byte) (int, error) {
	if len(p) > 1 {
		p = p[:1]
	}
	return c.Conn.Read(p)
}

func (c byteConn) Write(p []byte) (int, error) {
	for i := range p {
		if _, err := c.Conn.Write(p[i : i+1]); err != nil {
			return i, err
		}
	}
	return len(p), nil
}

// hostileAccept runs Accept on conn in the background.
func hostileAccept(t testing.TB, cfg *ServerConfig, conn net.Conn, d time.Duration) <-chan hsOutcome {
	ch := make(chan hsOutcome, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), d)
		defer cancel()
		start := time.Now()
		s, err := NewAcceptor(cfg, StreamOptions{}).Accept(ctx, conn)
		ch <- hsOutcome{s, err, time.Since(start)}
	}()
	return ch
}

type hsOutcome struct {
	s   *Stream
	err error
	dur time.Duration
}

func waitOutcome(t testing.TB, ch <-chan hsOutcome) hsOutcome {
	t.Helper()
	select {
	case o := <-ch:
		if o.s != nil {
			t.Cleanup(func() { o.s.Close() })
		}
		return o
	case <-time.After(10 * time.Second):
		t.Fatal("handshake hung")
		return hsOutcome{}
	}
}

// echoCheck sends n bytes through c to an echoing peer and checks them.
func echoCheck(t testing.TB, c io.ReadWriter, flush func() error, n int) {
	t.Helper()
	data := make([]byte, n)
	for i := range data {
		data[i] = byte(i*7 + i>>8)
	}
	errc := make(chan error, 1)
	go func() {
		_, err := c.Write(data)
		if err == nil && flush != nil {
			err = flush()
		}
		errc <- err
	}()
	got := make([]byte, n)
	_, err := io.ReadFull(c, got)
	require.NoError(t, err)
	require.NoError(t, <-errc)
	require.Equal(t, sha256.Sum256(data), sha256.Sum256(got))
}

func echoServe(s *Stream) {
	buf := make([]byte, 32<<10)
	for {
		n, err := s.Read(buf)
		if n > 0 {
			if _, werr := s.Write(buf[:n]); werr != nil {
				return
			}
			if s.Flush() != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func TestHostileByteAtATime(t *testing.T) {
	scfg := serverConfig(t, nil)
	for _, v := range []uint16{VersionTLS12, VersionTLS13} {
		t.Run(versionName(v), func(t *testing.T) {
			ccfg := clientConfig(t, func(o *ClientOptions) { o.Versions = []uint16{v} })
			// The client writes and reads one byte per system call; so
			// does the server (its transport is wrapped too).
			cc, sc := tcpPair(t)
			for _, c := range []net.Conn{cc, sc} {
				_ = c.(*net.TCPConn).SetNoDelay(true)
			}
			acc := hostileAccept(t, scfg, byteConn{sc}, 15*time.Second)
			ctx := testCtx(t)
			c, err := NewConnector(ccfg, StreamOptions{}).Connect(ctx, byteConn{cc}, "localhost")
			require.NoError(t, err)
			defer c.Close()
			o := waitOutcome(t, acc)
			require.NoError(t, o.err)
			go echoServe(o.s)
			echoCheck(t, c, c.Flush, 3000)
		})
	}
	t.Run("crypto/tls client", func(t *testing.T) {
		cc, sc := tcpPair(t)
		acc := hostileAccept(t, scfg, sc, 15*time.Second)
		gc := tls.Client(byteConn{cc}, goTLSClientConfig(t))
		defer gc.Close()
		require.NoError(t, gc.Handshake())
		o := waitOutcome(t, acc)
		require.NoError(t, o.err)
		go echoServe(o.s)
		echoCheck(t, gc, nil, 3000)
	})
}

// splitProxy forwards between a and b in random chunk sizes (1 byte to
// 4 KiB) with occasional pauses, in both directions.
func splitProxy(t testing.TB, a, b net.Conn, seed uint64) {
	var wg sync.WaitGroup
	pipe := func(dst, src net.Conn, seed uint64) {
		defer wg.Done()
		rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
		buf := make([]byte, 64<<10)
		for {
			n, err := src.Read(buf)
			for off := 0; off < n; {
				k := 1 + rng.IntN(min(4096, n-off))
				if rng.IntN(8) == 0 {
					k = 1 + rng.IntN(min(5, n-off))
				}
				if _, werr := dst.Write(buf[off : off+k]); werr != nil {
					return
				}
				off += k
				if rng.IntN(64) == 0 {
					time.Sleep(time.Millisecond)
				}
			}
			if err != nil {
				if tc, ok := dst.(*net.TCPConn); ok {
					_ = tc.CloseWrite()
				}
				return
			}
		}
	}
	wg.Add(2)
	go pipe(a, b, seed)
	go pipe(b, a, seed+1)
	t.Cleanup(func() { a.Close(); b.Close(); wg.Wait() })
}

func TestHostileRandomRecordSplits(t *testing.T) {
	scfg, ccfg := serverConfig(t, nil), clientConfig(t, nil)
	for seed := uint64(1); seed <= 4; seed++ {
		cc, pc1 := tcpPair(t)
		pc2, sc := tcpPair(t)
		for _, c := range []net.Conn{cc, pc1, pc2, sc} {
			_ = c.(*net.TCPConn).SetNoDelay(true)
		}
		splitProxy(t, pc1, pc2, seed)
		acc := hostileAccept(t, scfg, sc, 15*time.Second)
		c, err := NewConnector(ccfg, StreamOptions{}).Connect(testCtx(t), cc, "localhost")
		require.NoError(t, err)
		o := waitOutcome(t, acc)
		require.NoError(t, o.err)
		go echoServe(o.s)
		echoCheck(t, c, c.Flush, 256<<10)
		require.NoError(t, c.Close())
	}
}

// rawServer runs Accept on the server end of a pair whose client end the
// test drives by hand.
func rawServer(t testing.TB, scfg *ServerConfig, d time.Duration) (net.Conn, <-chan hsOutcome) {
	cc, sc := tcpPair(t)
	t.Cleanup(func() { cc.Close() })
	go func() { _, _ = io.Copy(io.Discard, cc) }() // never let the server block on writes
	return cc, hostileAccept(t, scfg, sc, d)
}

func TestHostileOversizedRecord(t *testing.T) {
	scfg := serverConfig(t, nil)
	t.Run("handshake record", func(t *testing.T) {
		cc, acc := rawServer(t, scfg, 5*time.Second)
		// A handshake record of 2^14+256+1 bytes: too long for any
		// plaintext or ciphertext record.
		rec := append([]byte{0x16, 0x03, 0x01, 0x41, 0x01}, make([]byte, 0x4101)...)
		_, _ = cc.Write(rec)
		o := waitOutcome(t, acc)
		e := hostileErr(t, o.err)
		assert.ErrorIs(t, e, ErrProtocol)
	})
	t.Run("application data record after the handshake", func(t *testing.T) {
		cc, sc := tcpPair(t)
		acc := hostileAccept(t, scfg, sc, 5*time.Second)
		gc := tls.Client(cc, goTLSClientConfig(t))
		require.NoError(t, gc.Handshake())
		o := waitOutcome(t, acc)
		require.NoError(t, o.err)
		_, err := cc.Write(append([]byte{0x17, 0x03, 0x03, 0x48, 0x01}, make([]byte, 0x4801)...))
		require.NoError(t, err)
		_, err = readWithinHostile(o.s, 5*time.Second)
		e := hostileErr(t, err)
		assert.ErrorIs(t, e, ErrProtocol)
	})
}

// readWithinHostile reads once with a deadline.
func readWithinHostile(s *Stream, d time.Duration) (int, error) {
	_ = s.SetReadDeadline(time.Now().Add(d))
	return s.Read(make([]byte, 1024))
}

func TestHostileEmptyRecordFlood(t *testing.T) {
	scfg := serverConfig(t, nil)
	for _, c := range []struct {
		name string
		rec  []byte
	}{
		{"empty handshake records", []byte{0x16, 0x03, 0x01, 0x00, 0x00}},
		{"empty alert records", []byte{0x15, 0x03, 0x01, 0x00, 0x00}},
		{"empty application data before the handshake", []byte{0x17, 0x03, 0x03, 0x00, 0x00}},
		{"ChangeCipherSpec before ClientHello", []byte{0x14, 0x03, 0x03, 0x00, 0x01, 0x01}},
	} {
		t.Run(c.name, func(t *testing.T) {
			cc, acc := rawServer(t, scfg, 5*time.Second)
			go func() {
				flood := make([]byte, 0, 100000*len(c.rec))
				for i := 0; i < 100000; i++ {
					flood = append(flood, c.rec...)
				}
				_ = cc.SetWriteDeadline(time.Now().Add(5 * time.Second))
				_, _ = cc.Write(flood)
			}()
			o := waitOutcome(t, acc)
			e := hostileErr(t, o.err)
			assert.ErrorIs(t, e, ErrProtocol)
		})
	}
	t.Run("empty records within a ClientHello", func(t *testing.T) {
		// A real ClientHello split so that empty handshake records sit
		// between its fragments.
		hello := captureClientHello(t)
		cc, acc := rawServer(t, scfg, 5*time.Second)
		var b []byte
		body := hello[5:]
		b = append(b, 0x16, 0x03, 0x01, 0x00, 0x10)
		b = append(b, body[:16]...)
		for i := 0; i < 1000; i++ {
			b = append(b, 0x16, 0x03, 0x01, 0x00, 0x00)
		}
		rest := body[16:]
		b = append(b, 0x16, 0x03, 0x01, byte(len(rest)>>8), byte(len(rest)))
		b = append(b, rest...)
		_, _ = cc.Write(b)
		o := waitOutcome(t, acc)
		e := hostileErr(t, o.err)
		assert.ErrorIs(t, e, ErrProtocol)
	})
}

// captureClientHello returns the first record a gorustls client sends.
func captureClientHello(t testing.TB) []byte {
	cc, sc := tcpPair(t)
	defer sc.Close()
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_, _ = NewConnector(clientConfig(t, nil), StreamOptions{}).Connect(ctx, cc, "localhost")
	}()
	br := bufio.NewReader(sc)
	hdr := make([]byte, 5)
	_, err := io.ReadFull(br, hdr)
	require.NoError(t, err)
	body := make([]byte, int(hdr[3])<<8|int(hdr[4]))
	_, err = io.ReadFull(br, body)
	require.NoError(t, err)
	return append(hdr, body...)
}

func TestHostileSecondClientHello(t *testing.T) {
	scfg := serverConfig(t, nil)
	hello := captureClientHello(t)
	for _, v := range []uint16{VersionTLS12, VersionTLS13} {
		t.Run(versionName(v), func(t *testing.T) {
			cc, sc := tcpPair(t)
			acc := hostileAccept(t, scfg, sc, 5*time.Second)
			gcfg := goTLSClientConfig(t)
			gcfg.MaxVersion = v
			gc := tls.Client(cc, gcfg)
			require.NoError(t, gc.Handshake())
			o := waitOutcome(t, acc)
			require.NoError(t, o.err)
			// A plaintext ClientHello on the established connection
			// (a renegotiation attempt by a peer that ignores the keys).
			_, err := cc.Write(hello)
			require.NoError(t, err)
			_, err = readWithinHostile(o.s, 5*time.Second)
			e := hostileErr(t, err)
			assert.NotEqual(t, CodeIO, e.Code, "a TLS error, not a transport one: %v", e)
			// The server told the peer why.
			_ = gc.SetReadDeadline(time.Now().Add(5 * time.Second))
			_, gerr := gc.Read(make([]byte, 1))
			require.Error(t, gerr)
			assert.NotErrorIs(t, gerr, io.EOF)
		})
	}
}

// stallAfterRecords forwards the first n records from src to dst, then forwards
// nothing more (and keeps the connection open).
func stallAfterRecords(src, dst net.Conn, n int) {
	br := bufio.NewReader(src)
	for i := 0; i < n; i++ {
		hdr := make([]byte, 5)
		if _, err := io.ReadFull(br, hdr); err != nil {
			return
		}
		body := make([]byte, int(hdr[3])<<8|int(hdr[4]))
		if _, err := io.ReadFull(br, body); err != nil {
			return
		}
		if _, err := dst.Write(append(hdr, body...)); err != nil {
			return
		}
	}
	_, _ = io.Copy(io.Discard, br) // swallow the rest
}

func TestHostileStalls(t *testing.T) {
	scfg := serverConfig(t, nil)
	const limit = 300 * time.Millisecond
	for _, v := range []uint16{VersionTLS12, VersionTLS13} {
		ccfg := clientConfig(t, func(o *ClientOptions) { o.Versions = []uint16{v} })
		// Stall the client->server direction after k records, and the
		// server->client direction after k records: every step of both
		// flights. The stalled side must give up at its deadline.
		for k := 0; k < 4; k++ {
			for _, dir := range []string{"client->server", "server->client"} {
				t.Run(versionName(v)+" "+dir+" after "+strconv.Itoa(k)+" records", func(t *testing.T) {
					cc, pc1 := tcpPair(t)
					pc2, sc := tcpPair(t)
					t.Cleanup(func() { pc1.Close(); pc2.Close() })
					c2s, s2c := k+1000, k+1000
					if dir == "client->server" {
						c2s = k
					} else {
						s2c = k
					}
					go stallAfterRecords(pc1, pc2, c2s)
					go stallAfterRecords(pc2, pc1, s2c)
					acc := hostileAccept(t, scfg, sc, limit)
					ctx, cancel := context.WithTimeout(context.Background(), limit)
					defer cancel()
					start := time.Now()
					c, cerr := NewConnector(ccfg, StreamOptions{}).Connect(ctx, cc, "localhost")
					cdur := time.Since(start)
					o := waitOutcome(t, acc)
					if c != nil {
						c.Close()
					}
					// With k < 2 the handshake cannot complete; later
					// records may be past the last one a side needs.
					// Whichever side stalls fails with its context's
					// error, within a bound.
					if k < 2 {
						require.True(t, cerr != nil || o.err != nil, "a stalled handshake succeeded on both sides")
					}
					for _, r := range []struct {
						err error
						dur time.Duration
					}{{cerr, cdur}, {o.err, o.dur}} {
						if r.err == nil {
							continue
						}
						e := hostileErr(t, r.err)
						if e.Code == CodeIO {
							assert.ErrorIs(t, e, context.DeadlineExceeded)
						}
						assert.Less(t, r.dur, limit+3*time.Second)
					}
				})
			}
		}
	}
	t.Run("deadline instead of context", func(t *testing.T) {
		cc, sc := tcpPair(t)
		defer cc.Close()
		require.NoError(t, sc.SetDeadline(time.Now().Add(limit)))
		s, err := NewAcceptor(scfg, StreamOptions{}).Server(sc)
		require.NoError(t, err)
		defer s.Close()
		start := time.Now()
		err = s.HandshakeContext(context.Background())
		e := hostileErr(t, err)
		assert.Equal(t, CodeIO, e.Code)
		assert.True(t, isTimeout(errors.Unwrap(e)) || isTimeout(e), "%v", e)
		assert.Less(t, time.Since(start), limit+3*time.Second)
	})
	t.Run("HandshakeTimeout on first Read", func(t *testing.T) {
		cc, sc := tcpPair(t)
		defer cc.Close()
		s, err := NewAcceptor(scfg, StreamOptions{HandshakeTimeout: limit}).Server(sc)
		require.NoError(t, err)
		defer s.Close()
		_, err = s.Read(make([]byte, 1))
		e := hostileErr(t, err)
		assert.ErrorIs(t, e, context.DeadlineExceeded)
	})
}

func TestHostileResetMidRecord(t *testing.T) {
	scfg := serverConfig(t, nil)
	reset := func(c net.Conn) {
		_ = c.(*net.TCPConn).SetLinger(0)
		_ = c.Close()
	}
	t.Run("during ClientHello", func(t *testing.T) {
		hello := captureClientHello(t)
		cc, acc := rawServer(t, scfg, 5*time.Second)
		_, err := cc.Write(hello[:len(hello)/2])
		require.NoError(t, err)
		time.Sleep(20 * time.Millisecond)
		reset(cc)
		o := waitOutcome(t, acc)
		hostileErr(t, o.err)
	})
	t.Run("during application data", func(t *testing.T) {
		cc, sc := tcpPair(t)
		acc := hostileAccept(t, scfg, sc, 5*time.Second)
		gc := tls.Client(cc, goTLSClientConfig(t))
		require.NoError(t, gc.Handshake())
		o := waitOutcome(t, acc)
		require.NoError(t, o.err)
		// Half of an application data record, then RST.
		_, err := cc.Write([]byte{0x17, 0x03, 0x03, 0x01, 0x00, 1, 2, 3, 4, 5, 6, 7, 8})
		require.NoError(t, err)
		time.Sleep(20 * time.Millisecond)
		reset(cc)
		_, err = readWithinHostile(o.s, 5*time.Second)
		require.Error(t, err)
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			e := hostileErr(t, err)
			assert.ErrorIs(t, e, ErrIO)
		}
	})
}

func TestHostileCloseDuringBlockedIO(t *testing.T) {
	scfg, ccfg := serverConfig(t, nil), clientConfig(t, nil)
	t.Run("Read", func(t *testing.T) {
		_, s := rustlsPair(t, scfg, ccfg, StreamOptions{}, StreamOptions{})
		errc := make(chan error, 1)
		go func() {
			_, err := s.Read(make([]byte, 10))
			errc <- err
		}()
		time.Sleep(50 * time.Millisecond)
		require.NoError(t, s.Close())
		select {
		case err := <-errc:
			e := hostileErr(t, err)
			assert.ErrorIs(t, e, net.ErrClosed)
		case <-time.After(5 * time.Second):
			t.Fatal("Close did not unblock Read")
		}
	})
	t.Run("Write", func(t *testing.T) {
		// The client never reads: the server's Write fills the socket
		// buffers and blocks.
		_, s := rustlsPair(t, scfg, ccfg, StreamOptions{}, StreamOptions{})
		errc := make(chan error, 1)
		go func() {
			buf := make([]byte, 1<<20)
			for {
				if _, err := s.Write(buf); err != nil {
					errc <- err
					return
				}
			}
		}()
		time.Sleep(200 * time.Millisecond)
		require.NoError(t, s.Close())
		select {
		case err := <-errc:
			e := hostileErr(t, err)
			assert.ErrorIs(t, e, net.ErrClosed)
		case <-time.After(5 * time.Second):
			t.Fatal("Close did not unblock Write")
		}
	})
	t.Run("Handshake", func(t *testing.T) {
		cc, sc := tcpPair(t)
		defer cc.Close()
		s, err := NewAcceptor(scfg, StreamOptions{}).Server(sc)
		require.NoError(t, err)
		errc := make(chan error, 1)
		go func() { errc <- s.HandshakeContext(context.Background()) }()
		time.Sleep(50 * time.Millisecond)
		require.NoError(t, s.Close())
		select {
		case err := <-errc:
			hostileErr(t, err)
		case <-time.After(5 * time.Second):
			t.Fatal("Close did not unblock Handshake")
		}
	})
}
