package bench_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"math"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gorustls/gorustls/internal/bench"
	"github.com/gorustls/gorustls/internal/bench/chart"
	"github.com/gorustls/gorustls/internal/bench/rustlsstack"
)

func stacks() []bench.Stack { return []bench.Stack{rustlsstack.Stack(), bench.GoTLS()} }

var testPKI *bench.PKI

func pki(t *testing.T) *bench.PKI {
	t.Helper()
	if testPKI == nil {
		p, err := bench.NewPKI()
		require.NoError(t, err)
		testPKI = p
	}
	return testPKI
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

func configure(t *testing.T, s bench.Stack, p bench.Params) *bench.Endpoints {
	t.Helper()
	ep, err := s.Configure(pki(t), p)
	require.NoError(t, err)
	t.Cleanup(ep.Close)
	return ep
}

// TestWorkloads runs every workload briefly on both stacks and checks that
// each negotiates and moves what it should.
func TestWorkloads(t *testing.T) {
	for _, s := range stacks() {
		t.Run(s.Name, func(t *testing.T) {
			for _, suite := range bench.BulkSuites {
				for _, wt := range bench.WriteModes {
					p := suite
					p.WriteThrough = wt
					ep := configure(t, s, p)
					pr, err := bench.NewPair(ctx(t), ep)
					require.NoError(t, err)
					st := pr.Client.ConnectionState()
					assert.Equal(t, p.Version, st.Version, p.String())
					assert.Equal(t, p.Suite, st.CipherSuite, p.String())
					require.NoError(t, pr.Bulk(70, 1<<10), p.String()) // crosses one FlushEvery
					require.NoError(t, pr.Echo(3, bench.EchoSize), p.String())
					pr.Close()
					ep.Close()
				}
			}
		})
	}
}

// TestWriteModes: on both stacks a buffered connection sends nothing
// before Flush (crypto/tls behind its bufio.Writer like gorustls's Stream)
// and a write-through connection sends every Write at once.
func TestWriteModes(t *testing.T) {
	msg := bytes.Repeat([]byte{'w'}, 1<<10)
	for _, s := range stacks() {
		for _, wt := range bench.WriteModes {
			t.Run(s.Name+" "+bench.WriteModeName(wt), func(t *testing.T) {
				p := bench.DefaultParams
				p.WriteThrough = wt
				pr, err := bench.NewPair(ctx(t), configure(t, s, p))
				require.NoError(t, err)
				defer pr.Close()
				_, err = pr.Client.Write(msg)
				require.NoError(t, err)
				if !wt {
					// Nothing reaches the transport before Flush.
					require.NoError(t, pr.RawServer.SetReadDeadline(time.Now().Add(50*time.Millisecond)))
					_, err := pr.RawServer.Read(make([]byte, 1))
					require.ErrorIs(t, err, os.ErrDeadlineExceeded, "buffered Write sent data before Flush")
					require.NoError(t, pr.RawServer.SetReadDeadline(time.Time{}))
					require.NoError(t, pr.Client.Flush())
				}
				require.NoError(t, pr.Server.SetReadDeadline(time.Now().Add(10*time.Second)))
				got := make([]byte, len(msg))
				_, err = io.ReadFull(pr.Server, got)
				require.NoError(t, err)
				assert.Equal(t, msg, got)
			})
		}
	}
}

func TestHandshakes(t *testing.T) {
	for _, s := range stacks() {
		for _, p := range []bench.Params{
			{Version: tls.VersionTLS13, Key: bench.KeyRSA2048},
			{Version: tls.VersionTLS12, Key: bench.KeyP256},
			{Version: tls.VersionTLS13, Key: bench.KeyP256, Resume: true},
			{Version: tls.VersionTLS12, Key: bench.KeyP256, Resume: true},
		} {
			t.Run(s.Name+" "+p.String(), func(t *testing.T) {
				h, err := bench.NewHandshaker(ctx(t), configure(t, s, p))
				require.NoError(t, err)
				defer h.Close()
				_, err = h.Run(0) // primes the client's session cache
				require.NoError(t, err)
				run, err := h.Run(0)
				require.NoError(t, err)
				require.Equal(t, 1, run.N)
				if p.Resume {
					assert.Equal(t, 1, run.Resumed, "resumption expected")
				} else {
					assert.Equal(t, 0, run.Resumed, "servers without resumption resumed")
				}
				assert.Greater(t, run.PerSecond(), 0.0)
			})
		}
	}
}

func TestCostsAndMemory(t *testing.T) {
	for _, s := range stacks() {
		t.Run(s.Name, func(t *testing.T) {
			ep := configure(t, s, bench.DefaultParams)
			pr, err := bench.NewPair(ctx(t), ep)
			require.NoError(t, err)
			wc, err := bench.WriteCosts(pr, s.Calls, 128, 1<<10, bench.FlushEvery)
			require.NoError(t, err)
			pr.Close()
			pr, err = bench.NewPair(ctx(t), ep)
			require.NoError(t, err)
			rc, err := bench.ReadCosts(pr, s.Calls, 64, 1<<10)
			require.NoError(t, err)
			pr.Close()
			assert.Equal(t, s.Calls != nil, wc.HasCalls)
			assert.Equal(t, s.Calls != nil, rc.HasCalls)
			assert.GreaterOrEqual(t, rc.Ops, 64)
			assert.False(t, math.IsNaN(wc.Allocs) || math.IsNaN(rc.Allocs))
			m, err := bench.IdleMemory(ctx(t), ep, 8)
			require.NoError(t, err)
			assert.Equal(t, 16, m.Endpoint)
		})
	}
}

// TestForcedTLS13Suite: crypto/tls picks the forced TLS 1.3 suite while
// the scenario is configured, and its default again afterwards.
func TestForcedTLS13Suite(t *testing.T) {
	p := bench.Params{Version: tls.VersionTLS13, Suite: tls.TLS_CHACHA20_POLY1305_SHA256, Key: bench.KeyP256}
	ep, err := bench.GoTLS().Configure(pki(t), p)
	require.NoError(t, err)
	_, err = bench.GoTLS().Configure(pki(t), bench.Params{Version: tls.VersionTLS13, Suite: tls.TLS_AES_256_GCM_SHA384, Key: bench.KeyP256})
	require.Error(t, err, "two different forced suites at once")
	pr, err := bench.NewPair(ctx(t), ep)
	require.NoError(t, err)
	assert.Equal(t, tls.TLS_CHACHA20_POLY1305_SHA256, pr.Client.ConnectionState().CipherSuite)
	pr.Close()
	ep.Close()
	ep = configure(t, bench.GoTLS(), bench.DefaultParams)
	pr, err = bench.NewPair(ctx(t), ep)
	require.NoError(t, err)
	defer pr.Close()
	assert.NotEqual(t, tls.TLS_CHACHA20_POLY1305_SHA256, pr.Client.ConnectionState().CipherSuite)
}

// TestChildServe drives the child protocol in-process: a handshake server
// for each stack, loaded by ClientLoad.
func TestChildServe(t *testing.T) {
	for _, s := range stacks() {
		t.Run(s.Name, func(t *testing.T) {
			p := bench.Params{Version: tls.VersionTLS13, Key: bench.KeyP256, Resume: true}
			inR, inW := io.Pipe()
			outR, outW := io.Pipe()
			errc := make(chan error, 1)
			go func() { errc <- bench.Child(ctx(t), inR, outW, stacks()); outW.Close() }()
			req := map[string]any{"Job": "serve", "Stack": s.Name, "Params": p, "PKI": pki(t)}
			require.NoError(t, jsonLine(inW, req))
			var rep struct{ Addr, Error string }
			require.NoError(t, readJSONLine(outR, &rep))
			require.Empty(t, rep.Error)
			_, _, err := net.SplitHostPort(rep.Addr)
			require.NoError(t, err)
			ep := configure(t, s, p)
			_, err = bench.ClientLoad(ctx(t), ep, rep.Addr, 1, time.Millisecond)
			require.NoError(t, err)
			run, err := bench.ClientLoad(ctx(t), ep, rep.Addr, 2, 20*time.Millisecond)
			require.NoError(t, err)
			assert.Positive(t, run.N)
			assert.Positive(t, run.Resumed)
			require.NoError(t, inW.Close())
			select {
			case err := <-errc:
				require.NoError(t, err)
			case <-time.After(10 * time.Second):
				t.Fatal("child did not stop when its input closed")
			}
		})
	}
}

func TestChildErrors(t *testing.T) {
	var out bytes.Buffer
	err := bench.Child(ctx(t), strings.NewReader("{\"Job\":\"serve\",\"Stack\":\"nope\"}\n"), &out, stacks())
	require.Error(t, err)
	assert.Contains(t, out.String(), "PKI")
	out.Reset()
	require.NoError(t, jsonLine(&out, map[string]any{"Job": "dance", "Stack": "crypto/tls", "Params": bench.DefaultParams, "PKI": pki(t)}))
	var reply bytes.Buffer
	err = bench.Child(ctx(t), &out, &reply, stacks())
	require.ErrorContains(t, err, "unknown job")
	assert.Contains(t, reply.String(), "unknown job")
}

func sampleReport() *bench.Report {
	return &bench.Report{
		Stacks:  []string{"gorustls", "crypto/tls"},
		Machine: bench.Machine{CPUs: 2, CPUModel: "Test CPU", GoVersion: "go1.x", Stacks: []string{"gorustls: v", "crypto/tls: w"}},
		Results: []bench.Result{
			{Group: "bulk", Name: "TLS1.3 AES-128-GCM, 64 KiB writes", Unit: "MB/s", Values: []float64{1300, 1000}, Target: &bench.Target{Value: 1.3}},
			{Group: "latency", Name: "echo", Unit: "us", Values: []float64{30, 25}, Target: &bench.Target{Max: true, Value: 1.1}},
			{Group: "memory", Name: "heap", Unit: "KiB/endpoint", Values: []float64{10, 20}, Note: "a note"},
			{Group: "costs", Name: "allocs", Unit: "allocs/op", Values: []float64{0, math.NaN()}, Target: &bench.Target{Max: true, Absolute: true}},
		},
		Settings: []string{"how it was measured"},
	}
}

func TestReportRendering(t *testing.T) {
	rep := sampleReport()
	met, ok := rep.Results[0].Met()
	assert.True(t, ok && met)
	met, ok = rep.Results[1].Met()
	assert.True(t, ok)
	assert.False(t, met, "1.2x latency misses <= 1.1x")
	_, ok = rep.Results[2].Met()
	assert.False(t, ok)
	met, ok = rep.Results[3].Met()
	assert.True(t, ok && met, "absolute target on the first value")
	assert.Equal(t, ">= 1.3x", rep.Results[0].Target.String())
	assert.Equal(t, "<= 0", rep.Results[3].Target.String())

	var tb, md bytes.Buffer
	require.NoError(t, rep.WriteTable(&tb))
	assert.Contains(t, tb.String(), "1.30x")
	assert.Contains(t, tb.String(), "NO")
	require.NoError(t, rep.WriteMarkdown(&md))
	assert.Contains(t, md.String(), "| bulk | TLS1.3 AES-128-GCM, 64 KiB writes | MB/s | 1300 | 1000 | 1.30x | >= 1.3x | yes |")
	assert.Contains(t, md.String(), "a note")
	assert.Contains(t, md.String(), "how it was measured")
	assert.Contains(t, md.String(), "2 CPUs (nproc), Test CPU")

	dir := t.TempDir()
	for _, name := range []string{"c.svg", "c.png"} {
		file := filepath.Join(dir, name)
		require.NoError(t, chart.Save(rep, file))
		b, err := os.ReadFile(file)
		require.NoError(t, err)
		if strings.HasSuffix(name, ".svg") {
			assert.Contains(t, string(b), "<svg")
		} else {
			assert.True(t, bytes.HasPrefix(b, []byte("\x89PNG")))
		}
	}
	require.Error(t, chart.Save(&bench.Report{Stacks: []string{"a", "b"}}, filepath.Join(dir, "empty.svg")))
}

func TestDescribeMachine(t *testing.T) {
	m := bench.DescribeMachine(stacks())
	assert.Positive(t, m.CPUs)
	assert.NotEmpty(t, m.GoVersion)
	require.Len(t, m.Stacks, 2)
	assert.Contains(t, m.Stacks[0], "rustls-ffi/0.15")
}

// needLoadTools skips the test when h2load or wrk is missing: `make
// test-deps` (build/install-deps.sh bench) installs them.
func needLoadTools(t *testing.T) {
	t.Helper()
	if missing := bench.MissingHTTPTools(); len(missing) > 0 {
		t.Skipf("load generators missing: %v (build/install-deps.sh bench installs them)", missing)
	}
}

func TestHTTPHandler(t *testing.T) {
	h := bench.NewHTTPHandler()
	for path, code := range map[string]int{"/bytes/0": 200, "/bytes/64": 200, "/bytes/1048576": 200,
		"/bytes/1048577": 404, "/bytes/-1": 404, "/bytes/x": 404, "/64": 404, "/": 404} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		assert.Equal(t, code, rec.Code, path)
		if code == 200 {
			n, _ := strconv.Atoi(strings.TrimPrefix(path, "/bytes/"))
			assert.Equal(t, n, rec.Body.Len(), path)
			assert.Equal(t, strconv.Itoa(n), rec.Header().Get("Content-Length"))
		}
	}
	assert.Equal(t, bench.HTTPStats{Requests: 3}, h.Stats())
}

// TestHTTPChild serves the http workloads' handler from the child
// protocol on each stack and loads it with every scenario briefly (the
// gorustls server) or with one scenario per tool (crypto/tls), checking
// what each server counted.
func TestHTTPChild(t *testing.T) {
	needLoadTools(t)
	for _, s := range stacks() {
		t.Run(s.Name, func(t *testing.T) {
			scenarios := bench.HTTPScenarios
			if s.Name != "gorustls" {
				scenarios = []bench.HTTPScenario{bench.HTTPScenarios[0], bench.HTTPScenarios[4]}
			}
			for _, sc := range scenarios {
				t.Run(sc.Name, func(t *testing.T) {
					inR, inW := io.Pipe()
					outR, outW := io.Pipe()
					errc := make(chan error, 1)
					go func() { errc <- bench.Child(ctx(t), inR, outW, stacks()); outW.Close() }()
					require.NoError(t, jsonLine(inW, map[string]any{"Job": "http", "Stack": s.Name, "Params": sc.Params(), "PKI": pki(t)}))
					out := bufio.NewReader(outR)
					var rep struct {
						Addr, Error string
						HTTP        *bench.HTTPStats
					}
					require.NoError(t, readJSON(out, &rep))
					require.Empty(t, rep.Error)
					run, err := bench.HTTPLoad(ctx(t), sc, rep.Addr, time.Second)
					require.NoError(t, err)
					assert.Positive(t, run.Requests)
					assert.Positive(t, run.PerSecond)
					_, err = io.WriteString(inW, "stats\n")
					require.NoError(t, err)
					require.NoError(t, readJSON(out, &rep))
					require.NotNil(t, rep.HTTP)
					st := *rep.HTTP
					assert.GreaterOrEqual(t, st.Requests, int64(run.Requests))
					if sc.Tool == "h2load" {
						assert.Equal(t, st.Requests, st.HTTP2, "h2load speaks HTTP/2")
					} else {
						assert.Zero(t, st.HTTP2, "wrk speaks HTTP/1.1")
					}
					if !sc.Resume {
						assert.Zero(t, st.Resumed, "resumption is off")
					}
					require.NoError(t, inW.Close())
					select {
					case err := <-errc:
						require.NoError(t, err)
					case <-time.After(10 * time.Second):
						t.Fatal("HTTPS server child did not stop when its input closed")
					}
				})
			}
		})
	}
}
