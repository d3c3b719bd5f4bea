package rustls

import (
	"bytes"
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// exchangeByte sends one byte each way over a pair, as an idle connection
// in service has done.
func exchangeByte(t *testing.T, c, s *Stream) {
	t.Helper()
	var b [1]byte
	for _, dir := range [2][2]*Stream{{c, s}, {s, c}} {
		_, err := dir[0].Write([]byte{7})
		require.NoError(t, err)
		require.NoError(t, dir[0].Flush())
		require.NoError(t, readFullWithin(dir[1], b[:], 10*time.Second))
	}
}

// TestIdleStreamHeapBound bounds the Go heap an idle, established
// connection holds (both endpoints in this process, one byte exchanged each
// way, write-through as net/http uses it). Each client used to keep its own
// parsed copy of the server's chain (4.6 KiB per endpoint in all, against
// 1.8 KiB now); the bound is generous, to catch a regression of that size
// rather than to measure.
func TestIdleStreamHeapBound(t *testing.T) {
	const pairs = 200
	const maxPerEndpoint = 3584 // bytes; 4.7 KiB before, 1.8 KiB after (2.5 KiB with -race)
	scfg := serverConfig(t, nil)
	ccfg := clientConfig(t, nil)
	opts := StreamOptions{WriteThrough: true}
	acc, con := NewAcceptor(scfg, opts), NewConnector(ccfg, opts)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	ctx := testCtx(t)
	var held []*Stream
	defer func() {
		for _, s := range held {
			s.Close()
		}
	}()
	// open adds one idle pair to held, with no per-pair test bookkeeping
	// (cleanups, contexts) that would count as the streams' memory.
	open := func() {
		accepted := make(chan *Stream, 1)
		go func() {
			defer close(accepted)
			raw, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := acc.Accept(ctx, raw)
			if err != nil {
				raw.Close()
				return
			}
			accepted <- s
		}()
		raw, err := net.Dial("tcp", ln.Addr().String())
		require.NoError(t, err)
		c, err := con.Connect(ctx, raw, "localhost")
		if err != nil {
			raw.Close()
		}
		require.NoError(t, err)
		held = append(held, c)
		s := <-accepted
		require.NotNil(t, s, "server handshake failed")
		held = append(held, s)
		exchangeByte(t, c, s)
	}
	for range 4 { // warm up pools, caches and code paths
		open()
	}
	for _, s := range held {
		s.Close()
	}
	held = make([]*Stream, 0, 2*pairs)
	var m0, m1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m0)
	for range pairs {
		open()
	}
	runtime.GC()
	runtime.ReadMemStats(&m1)
	perEndpoint := (float64(m1.HeapAlloc) - float64(m0.HeapAlloc)) / float64(2*pairs)
	t.Logf("Go heap per idle endpoint: %.0f bytes", perEndpoint)
	assert.Less(t, perEndpoint, float64(maxPerEndpoint), "Go heap bytes per idle endpoint")
}

// TestPeerCertificatesShared: connections that received the same chain
// report the same parsed certificates (as crypto/tls does), instead of
// holding one parse each; the cache forgets a certificate once no
// connection holds it.
func TestPeerCertificatesShared(t *testing.T) {
	scfg := serverConfig(t, nil)
	var leafDER []byte
	t.Run("connections", func(t *testing.T) {
		// The client config is the subtest's: its own cache of peer
		// chains (peer_cache.go) goes with it.
		ccfg := clientConfig(t, nil)
		c1, _ := rustlsPair(t, scfg, ccfg, StreamOptions{}, StreamOptions{})
		c2, _ := rustlsPair(t, scfg, ccfg, StreamOptions{}, StreamOptions{})
		p1 := c1.ConnectionState().PeerCertificates
		p2 := c2.ConnectionState().PeerCertificates
		require.NotEmpty(t, p1)
		require.Len(t, p2, len(p1))
		for i := range p1 {
			assert.Same(t, p1[i], p2[i], "certificate %d", i)
		}
		leafDER = bytes.Clone(p1[0].Raw)
		assert.NotNil(t, peerCerts.lookup(leafDER))
	})
	// The subtest's streams and client config are closed and unreferenced
	// now: the entry goes with the last of them.
	deadline := time.Now().Add(10 * time.Second)
	for peerCerts.lookup(leafDER) != nil && time.Now().Before(deadline) {
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
	assert.Nil(t, peerCerts.lookup(leafDER), "the cache still holds a certificate no connection uses")
}
