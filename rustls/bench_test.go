package rustls

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/gorustls/gorustls/cgo"
	"github.com/gorustls/gorustls/internal/bench"
)

// Side-by-side benchmarks of gorustls and crypto/tls: every benchmark has
// a gorustls and a crypto/tls sub-benchmark running the same workload from
// internal/bench (the code `gorustls bench` runs) with the same
// certificates and sizes over loopback TCP. Ratios and the full comparison:
// `make bench` (docs/performance.md).

// benchGorustls is gorustls as a bench.Stack (the same configuration as
// internal/bench/rustlsstack, which package rustls's tests cannot import).
func benchGorustls() bench.Stack {
	return bench.Stack{Name: "gorustls", Version: Version(), Calls: cgo.Calls, Configure: func(pki *bench.PKI, p bench.Params) (*bench.Endpoints, error) {
		leaf, err := pki.Leaf(p.Key)
		if err != nil {
			return nil, err
		}
		ck, err := NewCertifiedKey(leaf.ChainPEM, leaf.KeyPEM)
		if err != nil {
			return nil, err
		}
		defer ck.Close()
		so := ServerOptions{Certificates: []*CertifiedKey{ck}, Versions: []uint16{p.Version}}
		co := ClientOptions{RootCAs: pki.CAPEM, Versions: []uint16{p.Version}}
		if p.Suite != 0 {
			so.CipherSuites, co.CipherSuites = []uint16{p.Suite}, []uint16{p.Suite}
		}
		if !p.Resume {
			so.SessionTicketsDisabled = true
		}
		scfg, err := NewServerConfig(so)
		if err != nil {
			return nil, err
		}
		ccfg, err := NewClientConfig(co)
		if err != nil {
			scfg.Close()
			return nil, err
		}
		// Write-through when the scenario asks for it (the crypto/tls side
		// is then plain Writes), as internal/bench/rustlsstack does.
		opts := StreamOptions{WriteThrough: p.WriteThrough}
		acc, con := NewAcceptor(scfg, opts), NewConnector(ccfg, opts)
		return &bench.Endpoints{
			Server: func(ctx context.Context, c net.Conn) (bench.Conn, error) {
				s, err := acc.Accept(ctx, c)
				if err != nil {
					return nil, err
				}
				return s, nil
			},
			Client: func(ctx context.Context, c net.Conn) (bench.Conn, error) {
				s, err := con.Connect(ctx, c, "localhost")
				if err != nil {
					return nil, err
				}
				return s, nil
			},
			Close: func() { scfg.Close(); ccfg.Close() },
		}, nil
	}}
}

var benchPKI *bench.PKI

// forEachStack runs fn as one sub-benchmark per stack with endpoints
// configured for p.
func forEachStack(b *testing.B, p bench.Params, fn func(b *testing.B, s bench.Stack, ep *bench.Endpoints)) {
	if benchPKI == nil {
		pki, err := bench.NewPKI()
		if err != nil {
			b.Fatal(err)
		}
		benchPKI = pki
	}
	for _, s := range []bench.Stack{benchGorustls(), bench.GoTLS()} {
		b.Run(s.Name, func(b *testing.B) {
			ep, err := s.Configure(benchPKI, p)
			if err != nil {
				b.Fatal(err)
			}
			defer ep.Close()
			fn(b, s, ep)
		})
	}
}

func benchPair(b *testing.B, ep *bench.Endpoints) *bench.Pair {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	p, err := bench.NewPair(ctx, ep)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(p.Close)
	return p
}

func sizeLabel(n int) string {
	if n >= 1<<10 {
		return fmt.Sprintf("%dKiB", n>>10)
	}
	return fmt.Sprintf("%dB", n)
}

// BenchmarkBulk: one-way throughput, gorustls flushing every 64 KiB.
func BenchmarkBulk(b *testing.B) {
	for _, p := range bench.BulkSuites {
		b.Run(bench.VersionName(p.Version)+"-"+bench.SuiteName(p.Suite), func(b *testing.B) {
			for _, size := range bench.BulkSizes {
				b.Run(sizeLabel(size), func(b *testing.B) {
					forEachStack(b, p, func(b *testing.B, _ bench.Stack, ep *bench.Endpoints) {
						pr := benchPair(b, ep)
						if st := pr.Client.ConnectionState(); st.CipherSuite != p.Suite {
							b.Fatalf("negotiated suite 0x%04x, want 0x%04x", st.CipherSuite, p.Suite)
						}
						b.SetBytes(int64(size))
						b.ResetTimer()
						if err := pr.Bulk(b.N, size); err != nil {
							b.Fatal(err)
						}
					})
				})
			}
		})
	}
}

// BenchmarkEcho: round-trip latency of 64-byte messages (ns/op).
func BenchmarkEcho(b *testing.B) {
	forEachStack(b, bench.DefaultParams, func(b *testing.B, _ bench.Stack, ep *bench.Endpoints) {
		pr := benchPair(b, ep)
		b.ResetTimer()
		if err := pr.Echo(b.N, bench.EchoSize); err != nil {
			b.Fatal(err)
		}
	})
}

// BenchmarkHandshake: full and resumed handshakes, client and server in
// this process. Only the handshakes are timed; handshakes/s is computed
// from their summed durations.
func BenchmarkHandshake(b *testing.B) {
	for _, p := range bench.HandshakeCases {
		name := "full"
		if p.Resume {
			name = "resumed"
		}
		name += "-" + bench.VersionName(p.Version) + "-" + map[bench.KeyType]string{bench.KeyP256: "P256", bench.KeyRSA2048: "RSA2048"}[p.Key]
		b.Run(name, func(b *testing.B) {
			forEachStack(b, p, func(b *testing.B, _ bench.Stack, ep *bench.Endpoints) {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
				defer cancel()
				h, err := bench.NewHandshaker(ctx, ep)
				if err != nil {
					b.Fatal(err)
				}
				defer h.Close()
				if _, err := h.Run(time.Millisecond); err != nil { // warm up, prime the session cache
					b.Fatal(err)
				}
				var spent time.Duration
				resumed := 0
				b.ResetTimer()
				for range b.N {
					b.StopTimer()
					cc, sc, err := h.Dial()
					if err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
					start := time.Now()
					c, s, err := h.Handshake(cc, sc)
					spent += time.Since(start)
					b.StopTimer()
					if err != nil {
						b.Fatal(err)
					}
					r, err := bench.Finish(c, s)
					if err != nil {
						b.Fatal(err)
					}
					if r {
						resumed++
					}
					b.StartTimer()
				}
				if p.Resume && resumed != b.N || !p.Resume && resumed != 0 {
					b.Fatalf("%d of %d handshakes resumed", resumed, b.N)
				}
				b.ReportMetric(float64(b.N)/spent.Seconds(), "handshakes/s")
			})
		})
	}
}

// BenchmarkIdleMemory: memory held per idle established connection
// endpoint over 1,000 connections (RSS and Go heap growth). It measures
// once whatever b.N is (ns/op is meaningless). The stacks run one after the
// other in one process, after whatever ran before (warm pools);
// `gorustls bench` measures each in a fresh process.
func BenchmarkIdleMemory(b *testing.B) {
	forEachStack(b, bench.DefaultParams, func(b *testing.B, _ bench.Stack, ep *bench.Endpoints) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		m, err := bench.IdleMemory(ctx, ep, bench.IdleConns)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(m.RSSPerEndpoint(), "bytes/conn")
		b.ReportMetric(m.HeapPerEndpoint(), "heap-bytes/conn")
	})
}

// BenchmarkWrite: allocations and C calls per 1 KiB Write (Flush every
// 64 KiB, amortised), the peer's transport drained raw. cgo-calls/call
// counts per Write or Flush call.
func BenchmarkWrite(b *testing.B) {
	forEachStack(b, bench.DefaultParams, func(b *testing.B, s bench.Stack, ep *bench.Endpoints) {
		pr := benchPair(b, ep)
		stop := pr.DrainRaw()
		defer stop()
		chunk := make([]byte, bench.CostMsgSize)
		pending, flushes := 0, 0
		b.ReportAllocs()
		b.SetBytes(int64(len(chunk)))
		var c0 uint64
		if s.Calls != nil {
			c0 = s.Calls()
		}
		b.ResetTimer()
		for range b.N {
			if _, err := pr.Client.Write(chunk); err != nil {
				b.Fatal(err)
			}
			if pending += len(chunk); pending >= bench.FlushEvery {
				pending = 0
				flushes++
				if err := pr.Client.Flush(); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.StopTimer()
		if s.Calls != nil {
			n := s.Calls() - c0
			b.ReportMetric(float64(n)/float64(b.N), "cgo-calls/op")
			b.ReportMetric(float64(n)/float64(b.N+flushes), "cgo-calls/call")
		}
	})
}

// BenchmarkRead: allocations and C calls per Read into a 1 KiB buffer, of
// 1 KiB messages the peer wrote beforehand (with the timer stopped).
func BenchmarkRead(b *testing.B) {
	forEachStack(b, bench.DefaultParams, func(b *testing.B, s bench.Stack, ep *bench.Endpoints) {
		pr := benchPair(b, ep)
		for _, c := range []net.Conn{pr.RawClient, pr.RawServer} {
			if t, ok := c.(*net.TCPConn); ok {
				_ = t.SetReadBuffer(256 << 10)
				_ = t.SetWriteBuffer(256 << 10)
			}
		}
		const batch = 32
		buf := make([]byte, bench.CostMsgSize)
		left := 0
		var calls uint64
		b.ReportAllocs()
		b.ResetTimer()
		for range b.N {
			if left == 0 {
				b.StopTimer()
				if err := pr.Prefill(batch, bench.CostMsgSize); err != nil {
					b.Fatal(err)
				}
				left = batch * bench.CostMsgSize
				b.StartTimer()
			}
			var c0 uint64
			if s.Calls != nil {
				c0 = s.Calls()
			}
			n, err := pr.Client.Read(buf)
			if s.Calls != nil {
				calls += s.Calls() - c0
			}
			if err != nil {
				b.Fatal(err)
			}
			left -= n
		}
		b.StopTimer()
		if s.Calls != nil {
			b.ReportMetric(float64(calls)/float64(b.N), "cgo-calls/op")
		}
		// Drain what is left so that Close does not meet unread data.
		for left > 0 {
			n, err := pr.Client.Read(buf)
			if err != nil {
				b.Fatal(err)
			}
			left -= n
		}
	})
}
