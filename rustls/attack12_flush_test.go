package rustls

import (
	"encoding/binary"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestAttack12NoLostFlush: several goroutines write framed messages on
// one stream (write-through, or buffered with a Flush after each Write)
// while another reads, and the peer keeps asking for key updates (whose
// replies the read path queues and must get sent without waiting for the
// next Write). After the last Write (and Flush) returned, nobody touches
// the stream again: every message must reach the peer, in whole frames.
func TestAttack12NoLostFlush(t *testing.T) {
	for _, wt := range []bool{true, false} {
		t.Run(fmt.Sprintf("write-through %v", wt), func(t *testing.T) {
			c, s := rustlsPair(t, serverConfig(t, nil), clientConfig(t, nil),
				StreamOptions{WriteThrough: true}, StreamOptions{WriteThrough: wt})
			const writers, perWriter = 4, 300
			var wrote atomic.Int64
			var wg sync.WaitGroup
			var mu sync.Mutex // one frame at a time, as one Write
			for w := range writers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range perWriter {
						var f [64]byte
						binary.BigEndian.PutUint32(f[:], uint32(w<<16|i))
						mu.Lock()
						_, err := c.Write(f[:])
						mu.Unlock()
						if err != nil {
							t.Errorf("write: %v", err)
							return
						}
						if !wt && i%3 == 0 {
							if err := c.Flush(); err != nil {
								t.Errorf("flush: %v", err)
								return
							}
						}
						wrote.Add(1)
					}
					if !wt {
						if err := c.Flush(); err != nil {
							t.Errorf("flush: %v", err)
						}
					}
				}()
			}
			// The client reads what the server sends (nothing but key
			// updates' effects), concurrently with the writers.
			readDone := make(chan struct{})
			go func() {
				defer close(readDone)
				buf := make([]byte, 1024)
				for {
					if _, err := c.Read(buf); err != nil {
						return
					}
				}
			}()
			// The server asks for key updates while it reads.
			stopKU := make(chan struct{})
			kuDone := make(chan struct{})
			go func() {
				defer close(kuDone)
				for {
					select {
					case <-stopKU:
						return
					case <-time.After(time.Millisecond):
					}
					if err := s.KeyUpdate(); err != nil {
						return
					}
				}
			}()
			got := 0
			require.NoError(t, s.SetReadDeadline(time.Now().Add(20*time.Second)))
			var f [64]byte
			total := writers * perWriter
			for got < total {
				if _, err := io.ReadFull(s, f[:]); err != nil {
					wg.Wait()
					t.Fatalf("the server got %d of %d frames (%d Writes returned): %v", got, total, wrote.Load(), err)
				}
				got++
			}
			wg.Wait()
			close(stopKU)
			<-kuDone
			require.NoError(t, c.SetReadDeadline(time.Now()))
			<-readDone
		})
	}
}
