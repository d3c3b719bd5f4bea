package rustls

import (
	"crypto/tls"
	"fmt"
	"io"
	"testing"

	"github.com/gorustls/gorustls/cgo"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// goTLSPeer connects a gorustls client to a crypto/tls server, which makes
// no cgo calls: cgo.Calls() then counts the client's calls only.
func goTLSPeer(t *testing.T, copts StreamOptions) (*Stream, *tls.Conn) {
	t.Helper()
	cc, sc := tcpPair(t)
	res := goTLSServe(sc, goTLSServerConfig(t))
	c, err := NewConnector(clientConfig(t, nil), copts).Connect(testCtx(t), cc, "localhost")
	require.NoError(t, err)
	r := <-res
	require.NoError(t, r.err)
	t.Cleanup(func() { c.Close(); r.c.Close() })
	return c, r.c
}

// TestStreamCgoCallsPerRead checks the budget of at most one cgo call per
// steady-state Read, whatever the read size relative to the record size.
func TestStreamCgoCallsPerRead(t *testing.T) {
	for _, tc := range []struct{ record, buf int }{
		{1000, 1000}, {1000, 4096}, {16384, 16384}, {16384, 32768}, {16384, 1000}, {5000, 3000},
	} {
		t.Run(fmt.Sprintf("record %d buf %d", tc.record, tc.buf), func(t *testing.T) {
			c, g := goTLSPeer(t, StreamOptions{})
			const total = 4 << 20
			go func() {
				msg := pattern(tc.record, 1)
				for sent := 0; sent < total+1<<20; sent += len(msg) {
					if _, err := g.Write(msg); err != nil {
						return
					}
				}
			}()
			buf := make([]byte, tc.buf)
			// Warm up: past the handshake's leftovers and tickets.
			_, err := io.ReadFull(c, make([]byte, 64<<10))
			require.NoError(t, err)
			before := cgo.Calls()
			reads := 0
			for got := 0; got < total; reads++ {
				n, err := c.Read(buf)
				require.NoError(t, err)
				got += n
			}
			calls := cgo.Calls() - before
			t.Logf("%d reads, %d cgo calls", reads, calls)
			assert.LessOrEqual(t, calls, uint64(reads))
		})
	}
}

// TestStreamCgoCallsPerWrite checks at most one cgo call per steady-state
// Write, buffered or write-through, and per Flush with data pending.
func TestStreamCgoCallsPerWrite(t *testing.T) {
	for _, tc := range []struct {
		size         int
		writeThrough bool
	}{
		{100, false}, {1000, false}, {16384, false}, {40000, false}, {100, true}, {16384, true}, {40000, true},
	} {
		t.Run(fmt.Sprintf("size %d write-through %v", tc.size, tc.writeThrough), func(t *testing.T) {
			c, g := goTLSPeer(t, StreamOptions{WriteThrough: tc.writeThrough})
			go io.Copy(io.Discard, g)
			msg := pattern(tc.size, 2)
			for i := 0; i < 10; i++ {
				_, err := c.Write(msg)
				require.NoError(t, err)
			}
			require.NoError(t, c.Flush())
			before := cgo.Calls()
			const writes = 2000
			for i := 0; i < writes; i++ {
				_, err := c.Write(msg)
				require.NoError(t, err)
			}
			calls := cgo.Calls() - before
			t.Logf("%d writes, %d cgo calls", writes, calls)
			assert.LessOrEqual(t, calls, uint64(writes))

			_, err := c.Write(msg[:1])
			require.NoError(t, err)
			before = cgo.Calls()
			require.NoError(t, c.Flush())
			assert.LessOrEqual(t, cgo.Calls()-before, uint64(1), "Flush")
		})
	}
}
