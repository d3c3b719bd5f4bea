package rustls

import (
	"crypto/tls"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// tamperConn is a hostile peer's transport. Once armed, it holds back the
// next write (one TLS record from crypto/tls), corrupts one byte in the
// body of the record in the write after it, and sends both in a single
// write: the victim receives intact data immediately followed by a record
// that fails to decrypt, in one TCP segment.
type tamperConn struct {
	net.Conn
	mu    sync.Mutex
	armed bool
	held  []byte
	bad   error // a write that was not one whole record (the test is void)
}

func (c *tamperConn) arm() {
	c.mu.Lock()
	c.armed = true
	c.mu.Unlock()
}

// oneRecord reports whether p is exactly one TLS record.
func oneRecord(p []byte) bool {
	return len(p) > 5 && int(p[3])<<8|int(p[4]) == len(p)-5
}

func (c *tamperConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.armed {
		return c.Conn.Write(p)
	}
	if !oneRecord(p) {
		c.bad = fmt.Errorf("a write of %d bytes is not one record", len(p))
	}
	if c.held == nil {
		c.held = append([]byte(nil), p...)
		return len(p), nil
	}
	both := append(c.held, p...)
	both[len(c.held)+5+(len(p)-5)/2] ^= 0x40
	c.armed, c.held = false, nil
	if _, err := c.Conn.Write(both); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (c *tamperConn) err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.bad
}

// TestStreamDataThenBadRecord: when data and a record that fails to
// decrypt arrive together, Read delivers every byte of the data, then
// reports the TLS error at once (no further transport read, which would
// hang here: the peer sends nothing more), and Write fails with the same
// error. Both roles, both versions, a small and a full first record.
func TestStreamDataThenBadRecord(t *testing.T) {
	for _, role := range []string{"client", "server"} {
		for _, version := range []uint16{tls.VersionTLS13, tls.VersionTLS12} {
			// The third size makes the first record end on a 4 KiB
			// boundary, where rustls's read_tls stops: the bad record
			// then comes in a later read_tls than the data.
			for _, size := range []int{100, 16384, 16384 - recordOverhead(version)} {
				for _, bufSize := range []int{1000, 16384, 64 << 10} {
					name := fmt.Sprintf("gorustls %s/%s/first record %d/read buffer %d", role, tls.VersionName(version), size, bufSize)
					t.Run(name, func(t *testing.T) {
						testDataThenBadRecord(t, role == "server", version, size, bufSize)
					})
				}
			}
		}
	}
}

func testDataThenBadRecord(t *testing.T, server bool, version uint16, size, bufSize int) {
	s, peer, tc := badRecordPair(t, server, version)
	data := pattern(size, 7)
	tc.arm()
	_, err := peer.Write(data)
	require.NoError(t, err)
	_, err = peer.Write([]byte("spoiled"))
	require.NoError(t, err)
	require.NoError(t, tc.err())

	got := make([]byte, 0, size)
	buf := make([]byte, bufSize)
	for len(got) < size {
		n, err := readWithin(s, buf, 5*time.Second)
		got = append(got, buf[:n]...)
		require.NoError(t, err, "after %d of %d bytes", len(got), size)
	}
	require.Equal(t, data, got)

	_, err = readWithin(s, buf, 5*time.Second)
	require.False(t, isTimeout(err), "Read waited on the transport instead of reporting the bad record: %v", err)
	e := rustlsError(t, err)
	assert.ErrorIs(t, e, ErrProtocol)
	// Sticky, for Read and for Write.
	_, err2 := s.Read(buf)
	assert.Same(t, e, err2)
	_, err2 = s.Write([]byte("after the alert"))
	assert.Same(t, e, err2, "Write after a fatal TLS error")
	assert.Same(t, e, s.Flush())

	// The hostile peer got rustls's alert.
	_ = peer.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err = peer.Read(buf)
	require.Error(t, err)
	assert.False(t, isTimeout(err), "no alert reached the peer: %v", err)
}

// recordOverhead is the bytes an AES-GCM record adds to its plaintext.
func recordOverhead(version uint16) int {
	if version == tls.VersionTLS13 {
		return 5 + 1 + 16 // header, content type, tag
	}
	return 5 + 8 + 16 // header, explicit nonce, tag
}

// aesGCMSuites are the TLS 1.2 suites badRecordPair allows.
var aesGCMSuites = []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256}

// badRecordPair connects a gorustls stream (a server when server is set)
// to a crypto/tls peer whose transport is a tamperConn, using full-size
// records, and returns the stream, the peer and its transport.
func badRecordPair(t *testing.T, server bool, version uint16) (*Stream, *tls.Conn, *tamperConn) {
	t.Helper()
	cc, sc := tcpPair(t)
	ctx := testCtx(t)
	var s *Stream
	var peer *tls.Conn
	var tc *tamperConn
	if server {
		tc = &tamperConn{Conn: cc}
		gcfg := goTLSClientConfig(t)
		gcfg.MinVersion, gcfg.MaxVersion = version, version
		gcfg.DynamicRecordSizingDisabled = true
		gcfg.CipherSuites = aesGCMSuites
		peer = tls.Client(tc, gcfg)
		errc := make(chan error, 1)
		go func() { errc <- peer.HandshakeContext(ctx) }()
		var err error
		s, err = NewAcceptor(serverConfig(t, nil), StreamOptions{WriteThrough: true}).Accept(ctx, sc)
		require.NoError(t, err)
		require.NoError(t, <-errc)
	} else {
		tc = &tamperConn{Conn: sc}
		gcfg := goTLSServerConfig(t)
		gcfg.MinVersion, gcfg.MaxVersion = version, version
		gcfg.DynamicRecordSizingDisabled = true
		gcfg.CipherSuites = aesGCMSuites
		peer = tls.Server(tc, gcfg)
		errc := make(chan error, 1)
		go func() { errc <- peer.HandshakeContext(ctx) }()
		var err error
		s, err = NewConnector(clientConfig(t, nil), StreamOptions{WriteThrough: true}).Connect(ctx, cc, "localhost")
		require.NoError(t, err)
		require.NoError(t, <-errc)
	}
	t.Cleanup(func() { s.Close(); peer.Close() })
	return s, peer, tc
}

// TestStreamBufferedServesReadPathFlush: a bad record arrives while
// Buffered holds the out half, so the reader cannot send rustls's alert
// itself and asks for a flush. Buffered must send the alert on its way
// out, not leave it queued for a Write that will never come.
func TestStreamBufferedServesReadPathFlush(t *testing.T) {
	s, peer, tc := badRecordPair(t, false, tls.VersionTLS13)
	readErr := make(chan error, 1)
	go func() {
		buf := make([]byte, 100)
		for {
			if _, err := readWithin(s, buf, 10*time.Second); err != nil {
				readErr <- err
				return
			}
		}
	}()
	testHookBuffered = func() {
		tc.arm()
		_, err := peer.Write([]byte("data"))
		require.NoError(t, err)
		_, err = peer.Write([]byte("spoiled"))
		require.NoError(t, err)
		end := time.Now().Add(5 * time.Second)
		for !s.out.needFlush.Load() && time.Now().Before(end) {
			time.Sleep(time.Millisecond)
		}
		require.True(t, s.out.needFlush.Load(), "the reader never asked for a flush")
	}
	defer func() { testHookBuffered = nil }()
	s.Buffered()
	testHookBuffered = nil
	assert.False(t, s.out.needFlush.Load(), "flush request left pending")
	rustlsError(t, <-readErr)

	_ = peer.SetReadDeadline(time.Now().Add(2 * time.Second))
	_, err := peer.Read(make([]byte, 10))
	require.Error(t, err)
	assert.False(t, isTimeout(err), "the alert was not sent: %v", err)
}
