package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
)

// MemoryRun is the memory that n idle established connections (2n TLS
// endpoints, both in this process) added.
type MemoryRun struct {
	Conns    int
	RSS      int64 // resident set growth (Go heap, C heap, everything)
	GoHeap   int64 // Go heap growth (live objects after a GC)
	GoSys    int64 // memory the Go runtime obtained from the OS
	CHeap    int64 // C heap growth (allocated, not freed); 0 for Go stacks
	Endpoint int   // endpoints measured: 2 per connection
}

// CHeapPerEndpoint returns the C heap growth per TLS endpoint.
func (m MemoryRun) CHeapPerEndpoint() float64 { return float64(m.CHeap) / float64(m.Endpoint) }

// RSSPerEndpoint returns the resident set growth per TLS endpoint.
func (m MemoryRun) RSSPerEndpoint() float64 { return float64(m.RSS) / float64(m.Endpoint) }

// HeapPerEndpoint returns the Go heap growth per TLS endpoint.
func (m MemoryRun) HeapPerEndpoint() float64 { return float64(m.GoHeap) / float64(m.Endpoint) }

// rss reads the resident set size from /proc/self/statm.
func rss() (int64, error) {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0, err
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0, fmt.Errorf("bench: unexpected statm %q", b)
	}
	pages, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		return 0, err
	}
	return pages * int64(os.Getpagesize()), nil
}

// sample is one settled memory reading.
type sample struct {
	rss   int64
	ms    runtime.MemStats
	cheap int64
}

// settle collects garbage and returns free memory to the OS (the Go heap's
// and, for a stack with a C heap, the C allocator's), then samples.
func settle(ep *Endpoints) (sample, error) {
	var s sample
	runtime.GC()
	debug.FreeOSMemory()
	if ep.TrimNative != nil {
		ep.TrimNative()
	}
	runtime.ReadMemStats(&s.ms)
	if ep.NativeHeap != nil {
		s.cheap = ep.NativeHeap()
	}
	var err error
	s.rss, err = rss()
	return s, err
}

// exchange sends one byte each way (flushed), so that both endpoints have
// done the I/O an idle connection in service has done.
func exchange(p *Pair) error {
	var b [1]byte
	for _, dir := range [2][2]Conn{{p.Client, p.Server}, {p.Server, p.Client}} {
		if _, err := dir[0].Write([]byte{7}); err != nil {
			return err
		}
		if err := dir[0].Flush(); err != nil {
			return err
		}
		if _, err := io.ReadFull(dir[1], b[:]); err != nil {
			return err
		}
	}
	return nil
}

// IdleMemory establishes n connections of ep (client and server here),
// exchanges one byte each way on each, and measures the memory they hold
// while idle: RSS from /proc/self/statm and the Go heap from
// runtime.MemStats, both after a GC and after returning free memory to the
// OS. The connections are closed before it returns.
func IdleMemory(ctx context.Context, ep *Endpoints, n int) (MemoryRun, error) {
	h, err := NewHandshaker(ctx, ep)
	if err != nil {
		return MemoryRun{}, err
	}
	defer h.Close()
	pairs := make([]*Pair, 0, n)
	defer func() {
		for _, p := range pairs {
			p.Close()
		}
	}()
	open := func() error {
		cc, sc, err := h.Dial()
		if err != nil {
			return err
		}
		c, s, err := h.Handshake(cc, sc)
		if err != nil {
			return err
		}
		p := &Pair{Client: c, Server: s, RawClient: cc, RawServer: sc}
		pairs = append(pairs, p)
		return exchange(p)
	}
	// Warm up (code paths, pools, C allocator arenas) with a few
	// connections that are then closed.
	for range 4 {
		if err := open(); err != nil {
			return MemoryRun{}, err
		}
	}
	for _, p := range pairs {
		p.Close()
	}
	pairs = pairs[:0]
	s0, err := settle(ep)
	if err != nil {
		return MemoryRun{}, err
	}
	for range n {
		if err := open(); err != nil {
			return MemoryRun{}, err
		}
	}
	s1, err := settle(ep)
	if err != nil {
		return MemoryRun{}, err
	}
	runtime.KeepAlive(pairs)
	return MemoryRun{
		Conns:    n,
		RSS:      s1.rss - s0.rss,
		GoHeap:   int64(s1.ms.HeapAlloc) - int64(s0.ms.HeapAlloc),
		GoSys:    int64(s1.ms.Sys) - int64(s0.ms.Sys),
		CHeap:    s1.cheap - s0.cheap,
		Endpoint: 2 * n,
	}, nil
}
