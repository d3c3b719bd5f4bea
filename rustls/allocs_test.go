//go:build !race

package rustls

import (
	"io"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The race detector changes allocation counts, so these run without it.
// testing.AllocsPerRun counts every allocation in the process: the peer
// is a gorustls stream too, so the count covers both ends.

func TestStreamZeroAllocWrite(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts StreamOptions
		size int
	}{
		{"buffered 1 KiB", StreamOptions{}, 1 << 10},
		{"buffered 64 KiB", StreamOptions{}, 64 << 10},
		{"write-through 1 KiB", StreamOptions{WriteThrough: true}, 1 << 10},
		{"write-through 16 KiB", StreamOptions{WriteThrough: true}, 16 << 10},
		{"copying output 64 KiB", StreamOptions{bufferedOutput: true}, 64 << 10},
		{"copying output write-through 1 KiB", StreamOptions{WriteThrough: true, bufferedOutput: true}, 1 << 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, s := rustlsPair(t, serverConfig(t, nil), clientConfig(t, nil), StreamOptions{}, tc.opts)
			go io.Copy(io.Discard, s) // WriteTo: pooled buffer
			msg := pattern(tc.size, 1)
			for i := 0; i < 100; i++ {
				_, err := c.Write(msg)
				require.NoError(t, err)
			}
			require.NoError(t, c.Flush())
			allocs := testing.AllocsPerRun(2000, func() {
				if _, err := c.Write(msg); err != nil {
					panic(err)
				}
			})
			assert.Zero(t, allocs, "allocations per Write")
			allocs = testing.AllocsPerRun(2000, func() {
				c.Write(msg[:100])
				if err := c.Flush(); err != nil {
					panic(err)
				}
			})
			assert.Zero(t, allocs, "allocations per Write+Flush")
		})
	}
}

func TestStreamZeroAllocRead(t *testing.T) {
	for _, size := range []int{1 << 10, 16 << 10, 64 << 10} {
		t.Run(strconv.Itoa(size), func(t *testing.T) {
			c, s := rustlsPair(t, serverConfig(t, nil), clientConfig(t, nil), StreamOptions{}, StreamOptions{})
			go func() {
				msg := pattern(4000, 2)
				for {
					if _, err := s.Write(msg); err != nil {
						return
					}
					if s.Flush() != nil {
						return
					}
				}
			}()
			buf := make([]byte, size)
			_, err := io.ReadFull(c, make([]byte, 1<<20))
			require.NoError(t, err)
			allocs := testing.AllocsPerRun(5000, func() {
				if _, err := c.Read(buf); err != nil {
					panic(err)
				}
			})
			assert.Zero(t, allocs, "allocations per Read")
		})
	}
}

func TestStreamZeroAllocCopy(t *testing.T) {
	c, s := rustlsPair(t, serverConfig(t, nil), clientConfig(t, nil), StreamOptions{}, StreamOptions{})
	go io.Copy(io.Discard, s)
	src := &repeatReader{p: pattern(32<<10, 3)}
	io.Copy(c, src)
	allocs := testing.AllocsPerRun(200, func() {
		src.left = 256 << 10
		if _, err := io.Copy(c, src); err != nil {
			panic(err)
		}
	})
	assert.Zero(t, allocs, "allocations per io.Copy into a Stream (ReadFrom)")
}

// repeatReader returns p over and over until left bytes were read. It has
// no WriteTo, so io.Copy uses the Stream's ReadFrom.
type repeatReader struct {
	p    []byte
	left int
}

func (r *repeatReader) Read(b []byte) (int, error) {
	if r.left == 0 {
		return 0, io.EOF
	}
	n := copy(b[:min(len(b), r.left)], r.p)
	r.left -= n
	return n, nil
}
