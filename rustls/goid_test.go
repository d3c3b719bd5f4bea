package rustls

import (
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestGoidTellsGoroutinesApart: goid is stable within a goroutine, never
// 0, and differs between goroutines alive at the same time, both the fast
// form and the stack-trace form.
func TestGoidTellsGoroutinesApart(t *testing.T) {
	for name, id := range map[string]func() uint64{"goid": goid, "goidSlow": goidSlow} {
		t.Run(name, func(t *testing.T) {
			const n = 64
			ids := make([]uint64, n)
			var started, release sync.WaitGroup
			started.Add(n)
			release.Add(1)
			var wg sync.WaitGroup
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					a := id()
					started.Done()
					release.Wait() // all n alive at once
					assert.Equal(t, a, id(), "stable within a goroutine")
					ids[i] = a
				}()
			}
			started.Wait()
			release.Done()
			wg.Wait()
			seen := map[uint64]bool{id(): true}
			for _, v := range ids {
				require.NotZero(t, v)
				require.False(t, seen[v], "two live goroutines share %#x", v)
				seen[v] = true
			}
		})
	}
}
