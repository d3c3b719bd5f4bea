package bench

import (
	"errors"
	"fmt"
	"net"
	"runtime"
	"time"
)

// OpCosts are allocations and C calls per operation.
type OpCosts struct {
	Ops      int
	Allocs   float64 // heap allocations per operation (whole process)
	Calls    float64 // C calls per operation (NaN when the stack has no counter)
	HasCalls bool
}

func mallocs() uint64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.Mallocs
}

// tuneBuffers gives the loopback sockets room for a prefilled batch.
func tuneBuffers(cs ...net.Conn) {
	for _, c := range cs {
		if t, ok := c.(*net.TCPConn); ok {
			_ = t.SetReadBuffer(256 << 10)
			_ = t.SetWriteBuffer(256 << 10)
		}
	}
}

// DrainRaw discards everything the client sends, reading the server's
// transport directly (bypassing TLS, so the reading side allocates
// nothing and makes no C call). The pair's server end is unusable
// afterwards. The returned function stops the drain (closing the server's
// transport) and waits for it.
func (p *Pair) DrainRaw() (stop func()) {
	done := make(chan struct{})
	buf := make([]byte, 256<<10) // here, not in the goroutine: callers count allocations
	go func() {
		defer close(done)
		for {
			if _, err := p.RawServer.Read(buf); err != nil {
				return
			}
		}
	}()
	return func() {
		_ = p.RawServer.Close()
		<-done
	}
}

// WriteCosts measures the client's Writes of size bytes, with a Flush
// after each flushEvery bytes (never when 0), while the server's transport
// is drained raw. An operation is one Write or one Flush call.
func WriteCosts(p *Pair, calls func() uint64, writes, size, flushEvery int) (OpCosts, error) {
	stop := p.DrainRaw()
	defer stop()
	chunk := make([]byte, size)
	pending, ops := 0, 0
	step := func() error {
		ops++
		if _, err := p.Client.Write(chunk); err != nil {
			return err
		}
		pending += size
		if flushEvery > 0 && pending >= flushEvery {
			pending = 0
			ops++
			return p.Client.Flush()
		}
		return nil
	}
	for range 2 * FlushEvery / size { // warm up: buffers, pools
		if err := step(); err != nil {
			return OpCosts{}, err
		}
	}
	ops = 0
	var c0 uint64
	if calls != nil {
		c0 = calls()
	}
	m0 := mallocs()
	for range writes {
		if err := step(); err != nil {
			return OpCosts{}, err
		}
	}
	m1 := mallocs()
	r := OpCosts{Ops: ops, Allocs: float64(m1-m0) / float64(ops)}
	if calls != nil {
		r.Calls, r.HasCalls = float64(calls()-c0)/float64(ops), true
	}
	return r, nil
}

// Prefill has the server write msgs messages of size bytes and flush,
// returning once all of it is in the transport (the sockets must have room:
// see tuneBuffers).
func (p *Pair) Prefill(msgs, size int) error {
	done := make(chan error, 1)
	go func() {
		chunk := make([]byte, size)
		for range msgs {
			if _, err := p.Server.Write(chunk); err != nil {
				done <- err
				return
			}
		}
		done <- p.Server.Flush()
	}()
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		closeConn(p.RawClient)
		return errors.New("bench: prefill blocked: socket buffers too small")
	}
}

// ReadCosts measures the client's Reads into a size-byte buffer of
// messages of size bytes that the server wrote beforehand, in batches, so
// that no other goroutine runs while Reads are counted.
func ReadCosts(p *Pair, calls func() uint64, reads, size int) (OpCosts, error) {
	tuneBuffers(p.RawClient, p.RawServer)
	const batch = 32
	buf := make([]byte, size)
	var allocs, ncalls uint64
	done := 0
	first := true
	for done < reads {
		if err := p.Prefill(batch, size); err != nil {
			return OpCosts{}, err
		}
		want := batch * size
		var c0 uint64
		if calls != nil {
			c0 = calls()
		}
		m0 := mallocs()
		n := 0
		for want > 0 {
			k, err := p.Client.Read(buf)
			if err != nil {
				return OpCosts{}, fmt.Errorf("read: %w", err)
			}
			want -= k
			n++
		}
		m1 := mallocs()
		if first { // warm-up batch
			first = false
			continue
		}
		allocs += m1 - m0
		if calls != nil {
			ncalls += calls() - c0
		}
		done += n
	}
	r := OpCosts{Ops: done, Allocs: float64(allocs) / float64(done)}
	if calls != nil {
		r.Calls, r.HasCalls = float64(ncalls)/float64(done), true
	}
	return r, nil
}
