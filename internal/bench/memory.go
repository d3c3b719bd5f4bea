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
	Endpoint int   // endpoints measured: 2 per connection
}

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

// settle collects garbage and returns free memory to the OS, then samples.
func settle() (rssBytes int64, ms runtime.MemStats, err error) {
	runtime.GC()
	debug.FreeOSMemory()
	runtime.ReadMemStats(&ms)
	rssBytes, err = rss()
	return rssBytes, ms, err
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
	rss0, ms0, err := settle()
	if err != nil {
		return MemoryRun{}, err
	}
	for range n {
		if err := open(); err != nil {
			return MemoryRun{}, err
		}
	}
	rss1, ms1, err := settle()
	if err != nil {
		return MemoryRun{}, err
	}
	runtime.KeepAlive(pairs)
	return MemoryRun{
		Conns:    n,
		RSS:      rss1 - rss0,
		GoHeap:   int64(ms1.HeapAlloc) - int64(ms0.HeapAlloc),
		GoSys:    int64(ms1.Sys) - int64(ms0.Sys),
		Endpoint: 2 * n,
	}, nil
}
