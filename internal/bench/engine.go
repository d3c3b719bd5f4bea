package bench

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math"
	"os/exec"
	"slices"
	"sort"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Options configure Run.
type Options struct {
	// Stacks are exactly two: the measured stack first (gorustls), the
	// baseline second (crypto/tls). Ratios are first / second.
	Stacks []Stack
	// Quick shortens every measurement (a smoke run, noisier figures).
	Quick bool
	// Spawn, if set, returns a command that runs Child in a new copy of
	// this program: handshakes are then also measured with the server in
	// another process, and idle memory in a fresh process per stack.
	Spawn func() *exec.Cmd
	// Progress receives one line per measured scenario (nil: discarded).
	Progress io.Writer
	// Only, if not empty, names the workload groups to run (see Groups);
	// the others are skipped.
	Only []string
	// Reps is the number of alternating rounds of each measurement whose
	// median is reported (0: 5, or 3 with Quick).
	Reps int
	// HTTPTime is the length of each load generator run in the http group
	// (0: 2 s, or 1 s with Quick), rounded up to whole seconds.
	HTTPTime time.Duration
	// ServeHTTPCmd, if set, returns a command that runs `gorustls serve
	// -mode http` on a free loopback port (it must log "msg=listening
	// addr=ADDR" on its standard error): the http group then compares it with
	// the first stack's HTTPS server.
	ServeHTTPCmd func() *exec.Cmd
}

// Groups names the workload groups in the order Run measures them.
var Groups = []string{"bulk", "latency", "handshake", "handshake-2proc", "memory", "costs", "http", "http-serve"}

// Sizes and counts of the workloads.
const (
	EchoSize     = 64
	IdleConns    = 1000
	CostMsgSize  = 1 << 10
	handshakeCon = 4 // client goroutines against a server process
)

// BulkSizes are the write sizes of the bulk workloads.
var BulkSizes = []int{1 << 10, 16 << 10, 64 << 10}

// BulkSuites are the bulk workloads' protocol versions and suites.
var BulkSuites = []Params{
	{Version: tls.VersionTLS13, Suite: tls.TLS_AES_128_GCM_SHA256, Key: KeyP256},
	{Version: tls.VersionTLS13, Suite: tls.TLS_AES_256_GCM_SHA384, Key: KeyP256},
	{Version: tls.VersionTLS13, Suite: tls.TLS_CHACHA20_POLY1305_SHA256, Key: KeyP256},
	{Version: tls.VersionTLS12, Suite: tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, Key: KeyP256},
}

// HandshakeCases are the handshake workloads. The suites are pinned to
// AES-128-GCM with SHA-256 on both stacks (their defaults differ: rustls
// prefers AES-256-GCM-SHA384).
var HandshakeCases = []Params{
	{Version: tls.VersionTLS13, Suite: tls.TLS_AES_128_GCM_SHA256, Key: KeyP256, WriteThrough: true},
	{Version: tls.VersionTLS13, Suite: tls.TLS_AES_128_GCM_SHA256, Key: KeyRSA2048, WriteThrough: true},
	{Version: tls.VersionTLS12, Suite: tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, Key: KeyP256, WriteThrough: true},
	{Version: tls.VersionTLS12, Suite: tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, Key: KeyRSA2048, WriteThrough: true},
	{Version: tls.VersionTLS13, Suite: tls.TLS_AES_128_GCM_SHA256, Key: KeyP256, Resume: true, WriteThrough: true},
	{Version: tls.VersionTLS12, Suite: tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, Key: KeyP256, Resume: true, WriteThrough: true},
}

// DefaultParams are the parameters of the latency, memory and cost
// workloads: TLS 1.3, AES-128-GCM, ECDSA P-256, write-through (the latency
// and cost workloads also run buffered, with WriteThrough false).
var DefaultParams = Params{Version: tls.VersionTLS13, Suite: tls.TLS_AES_128_GCM_SHA256, Key: KeyP256, WriteThrough: true}

// WriteModes are the write modes of the bulk, latency and cost workloads,
// in report order: write-through, then buffered (see Params.WriteThrough).
var WriteModes = []bool{true, false}

type runner struct {
	ctx    context.Context
	opts   Options
	pki    *PKI
	report *Report
}

// Run measures every workload on both stacks and returns the report.
func Run(ctx context.Context, opts Options) (*Report, error) {
	if len(opts.Stacks) != 2 {
		return nil, errors.New("bench: Run needs exactly two stacks")
	}
	if opts.Progress == nil {
		opts.Progress = io.Discard
	}
	pki, err := NewPKI()
	if err != nil {
		return nil, err
	}
	r := &runner{ctx: ctx, opts: opts, pki: pki, report: &Report{
		Machine: DescribeMachine(opts.Stacks),
		Started: time.Now().UTC(),
		Quick:   opts.Quick,
		Only:    opts.Only,
	}}
	for _, s := range opts.Stacks {
		r.report.Stacks = append(r.report.Stacks, s.Name)
	}
	r.settings("*-cpu rows: the same runs measured by the process's CPU time (getrusage: user + system, all threads, both ends of each connection) per unit of work, which waiting for a busy CPU does not inflate; handshake-cpu counts the whole connection (TCP connect, handshake, one-byte read, close)")
	r.report.Machine.LoadBefore = loadAvg()
	steps := []func() error{r.bulk, r.echo, r.handshakes, r.handshakes2proc, r.memory, r.costs, r.http, r.httpServeOnly}
	for _, name := range opts.Only {
		if !slices.Contains(Groups, name) {
			return nil, fmt.Errorf("bench: unknown workload group %q (want one of %s)", name, strings.Join(Groups, ", "))
		}
	}
	for i, step := range steps {
		if err := ctx.Err(); err != nil {
			return r.report, err
		}
		if len(opts.Only) > 0 && !slices.Contains(opts.Only, Groups[i]) {
			continue
		}
		if err := step(); err != nil {
			return r.report, err
		}
	}
	r.report.Elapsed = time.Since(r.report.Started)
	r.report.Machine.LoadAfter = loadAvg()
	return r.report, nil
}

func (r *runner) pick(full, quick time.Duration) time.Duration {
	if r.opts.Quick {
		return quick
	}
	return full
}

func (r *runner) reps() int {
	if r.opts.Reps > 0 {
		return r.opts.Reps
	}
	if r.opts.Quick {
		return 3
	}
	return 5
}

func (r *runner) add(res Result) {
	r.report.Results = append(r.report.Results, res)
	fmt.Fprintf(r.opts.Progress, "%-16s %-48s", res.Group, res.Name)
	for i, v := range res.Values {
		fmt.Fprintf(r.opts.Progress, "  %s %s", r.report.Stacks[i], formatValue(v))
	}
	fmt.Fprintf(r.opts.Progress, "  %s  ratio %s\n", res.Unit, formatRatio(res.Ratio()))
}

func (r *runner) settings(format string, args ...any) {
	r.report.Settings = append(r.report.Settings, fmt.Sprintf(format, args...))
}

// configureAll configures every stack for p.
func (r *runner) configureAll(p Params) ([]*Endpoints, func(), error) {
	var eps []*Endpoints
	closeAll := func() {
		for _, ep := range eps {
			ep.Close()
		}
	}
	for _, s := range r.opts.Stacks {
		ep, err := s.Configure(r.pki, p)
		if err != nil {
			closeAll()
			return nil, nil, fmt.Errorf("%s: configure %s: %w", s.Name, p, err)
		}
		eps = append(eps, ep)
	}
	return eps, closeAll, nil
}

// pairsFor connects one pair per stack and checks the negotiated suite.
func (r *runner) pairsFor(eps []*Endpoints, p Params) ([]*Pair, func(), error) {
	var pairs []*Pair
	closeAll := func() {
		for _, pr := range pairs {
			pr.Close()
		}
	}
	for i, ep := range eps {
		pr, err := NewPair(r.ctx, ep)
		if err != nil {
			closeAll()
			return nil, nil, fmt.Errorf("%s: %s: %w", r.opts.Stacks[i].Name, p, err)
		}
		pairs = append(pairs, pr)
		if err := checkNegotiated(pr.Client, p); err != nil {
			closeAll()
			return nil, nil, fmt.Errorf("%s: %w", r.opts.Stacks[i].Name, err)
		}
	}
	return pairs, closeAll, nil
}

// negotiated connects one pair per stack, checks the version and suite and
// describes what was negotiated (suite and key-exchange group).
func (r *runner) negotiated(eps []*Endpoints, p Params) (string, error) {
	pairs, closePairs, err := r.pairsFor(eps, p)
	if err != nil {
		return "", err
	}
	defer closePairs()
	var parts []string
	for i, pr := range pairs {
		st := pr.Client.ConnectionState()
		parts = append(parts, fmt.Sprintf("%s: %s, %s", r.opts.Stacks[i].Name, tls.CipherSuiteName(st.CipherSuite), st.CurveID))
	}
	return strings.Join(parts, "; "), nil
}

// checkNegotiated verifies that a connection uses the scenario's version
// and suite.
func checkNegotiated(c Conn, p Params) error {
	st := c.ConnectionState()
	if st.Version != p.Version {
		return fmt.Errorf("negotiated %s, want %s", VersionName(st.Version), VersionName(p.Version))
	}
	if p.Suite != 0 && st.CipherSuite != p.Suite {
		return fmt.Errorf("negotiated %s, want %s", tls.CipherSuiteName(st.CipherSuite), tls.CipherSuiteName(p.Suite))
	}
	return nil
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// cpuTime returns the CPU time (user + system, all threads) this process
// has used.
func cpuTime() time.Duration {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// alternate runs measure for each stack in turn, reps times, and returns
// each stack's median value and median CPU seconds per unit of work (the
// process's CPU time during the run divided by the work measure reports:
// it counts both ends, and waiting for a busy CPU does not inflate it).
func (r *runner) alternate(reps int, measure func(stack int) (value, work float64, err error)) (vals, cpu []float64, err error) {
	n := len(r.opts.Stacks)
	all, allCPU := make([][]float64, n), make([][]float64, n)
	for range reps {
		for i := range r.opts.Stacks {
			c0 := cpuTime()
			v, work, err := measure(i)
			used := cpuTime() - c0
			if err != nil {
				return nil, nil, fmt.Errorf("%s: %w", r.opts.Stacks[i].Name, err)
			}
			all[i] = append(all[i], v)
			allCPU[i] = append(allCPU[i], used.Seconds()/work)
		}
	}
	vals, cpu = make([]float64, n), make([]float64, n)
	for i := range all {
		vals[i], cpu[i] = median(all[i]), median(allCPU[i])
	}
	return vals, cpu, nil
}

// per returns 1/x for each x (CPU seconds per unit -> units per CPU second).
func per(xs []float64, scale float64) []float64 {
	out := make([]float64, len(xs))
	for i, x := range xs {
		out[i] = scale / x
	}
	return out
}

func sizeName(n int) string {
	if n >= 1<<20 && n%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	if n >= 1<<10 && n%(1<<10) == 0 {
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d B", n)
}

// bulkTarget is the goal of a bulk row, by write size and mode.
func bulkTarget(size int, writeThrough bool) *Target {
	switch {
	case size == 64<<10:
		return &Target{Value: 1.3}
	case size == 1<<10 && writeThrough:
		return &Target{Value: 1}
	case size == 1<<10:
		return &Target{Value: 1.3}
	}
	return nil
}

// bulkName names a bulk row, e.g. "TLS1.3 AES-128-GCM, 1 KiB writes,
// write-through".
func bulkName(p Params, size int) string {
	return fmt.Sprintf("%s %s, %s writes, %s", VersionName(p.Version), SuiteName(p.Suite), sizeName(size), WriteModeName(p.WriteThrough))
}

func (r *runner) bulk() error {
	total := 32 << 20
	if r.opts.Quick {
		total = 8 << 20
	}
	r.settings("bulk: one-way client-to-server, %s per measurement, median of %d alternating runs, each write size in two modes: write-through (gorustls StreamOptions.WriteThrough, every Write sent; crypto/tls's plain Write) and Flush every %s (gorustls's buffered Stream; crypto/tls behind a bufio.Writer of %s; both flushed after each %s written)",
		sizeName(total), r.reps(), sizeName(FlushEvery), sizeName(FlushEvery), sizeName(FlushEvery))
	var cpuRows []Result
	defer func() {
		for _, c := range cpuRows {
			r.add(c)
		}
	}()
	for _, suite := range BulkSuites {
		// One configuration and one connection per stack and write mode.
		pairs := map[bool][]*Pair{}
		var cleanup []func()
		done := func() {
			for i := len(cleanup) - 1; i >= 0; i-- {
				cleanup[i]()
			}
		}
		for _, wt := range WriteModes {
			p := suite
			p.WriteThrough = wt
			eps, closeEps, err := r.configureAll(p)
			if err != nil {
				done()
				return err
			}
			cleanup = append(cleanup, closeEps)
			prs, closePairs, err := r.pairsFor(eps, p)
			if err != nil {
				done()
				return err
			}
			cleanup = append(cleanup, closePairs)
			pairs[wt] = prs
		}
		for _, size := range BulkSizes {
			for _, wt := range WriteModes {
				p := suite
				p.WriteThrough = wt
				writes := total / size
				vals, cpu, err := r.alternate(r.reps(), func(i int) (float64, float64, error) {
					start := time.Now()
					if err := pairs[wt][i].Bulk(writes, size); err != nil {
						return 0, 0, err
					}
					mb := float64(writes*size) / 1e6
					return mb / time.Since(start).Seconds(), mb, nil
				})
				if err != nil {
					done()
					return fmt.Errorf("bulk %s %s: %w", p, sizeName(size), err)
				}
				name := bulkName(p, size)
				r.add(Result{Group: "bulk", Name: name, Unit: "MB/s", Values: vals, Target: bulkTarget(size, wt)})
				cpuRows = append(cpuRows, Result{Group: "bulk-cpu", Name: name, Unit: "MB/CPU-s", Values: per(cpu, 1)})
			}
		}
		done()
	}
	return nil
}

func (r *runner) echo() error {
	n := 4000
	if r.opts.Quick {
		n = 1000
	}
	r.settings("latency: %d echo round trips of %d bytes per run (Write, Flush, read back; the echo server does the same), median of %d alternating runs, %s; write-through: every Write sent (crypto/tls's plain Write, Flush has nothing to do); Flush every 64 KiB: gorustls's buffered Stream and crypto/tls behind a bufio.Writer, both flushed after each message",
		n, EchoSize, r.reps(), DefaultParams)
	var cpuRows []Result
	defer func() {
		for _, c := range cpuRows {
			r.add(c)
		}
	}()
	for _, wt := range WriteModes {
		p := DefaultParams
		p.WriteThrough = wt
		if err := func() error {
			eps, closeEps, err := r.configureAll(p)
			if err != nil {
				return err
			}
			defer closeEps()
			pairs, closePairs, err := r.pairsFor(eps, p)
			if err != nil {
				return err
			}
			defer closePairs()
			vals, cpu, err := r.alternate(r.reps(), func(i int) (float64, float64, error) {
				start := time.Now()
				if err := pairs[i].Echo(n, EchoSize); err != nil {
					return 0, 0, err
				}
				return float64(time.Since(start).Nanoseconds()) / 1e3 / float64(n), float64(n), nil
			})
			if err != nil {
				return fmt.Errorf("echo %s: %w", p, err)
			}
			name := fmt.Sprintf("echo round trip, %d B messages, %s", EchoSize, WriteModeName(wt))
			r.add(Result{Group: "latency", Name: name, Unit: "us", Values: vals, Target: &Target{Max: true, Value: 1}})
			cpuRows = append(cpuRows, Result{Group: "latency-cpu", Name: name, Unit: "CPU us", Values: per(per(cpu, 1), 1e6)})
			return nil
		}(); err != nil {
			return err
		}
	}
	return nil
}

func handshakeName(p Params) string {
	kind := "full"
	if p.Resume {
		kind = "resumed"
	}
	return fmt.Sprintf("%s %s, %s", kind, VersionName(p.Version), p.Key)
}

func handshakeTarget(p Params) *Target {
	if p.Resume {
		return &Target{Value: 2}
	}
	return &Target{Value: 1.5}
}

// checkResumed verifies that resumption happened exactly when expected.
// With concurrent clients (minShare < 1), a client may find its session
// cache momentarily empty: a small share of full handshakes is tolerated.
func checkResumed(p Params, run HandshakeRun, minShare float64) error {
	if p.Resume && float64(run.Resumed) < minShare*float64(run.N) {
		return fmt.Errorf("only %d of %d handshakes resumed", run.Resumed, run.N)
	}
	if !p.Resume && run.Resumed > 0 {
		return fmt.Errorf("%d of %d handshakes resumed, want full handshakes", run.Resumed, run.N)
	}
	return nil
}

func (r *runner) handshakes() error {
	d := r.pick(400*time.Millisecond, 100*time.Millisecond)
	r.settings("handshake: suites pinned to AES-128-GCM-SHA256 on both stacks, default key-exchange groups (named in the notes); client and server in this process over loopback TCP, one at a time; only the handshakes are timed (not the TCP connect, nor the one-byte read and close after each); %v of handshakes per run, median of %d alternating runs; full handshakes have session resumption disabled on the servers, resumed ones are checked to resume",
		d, r.reps())
	var cpuRows []Result
	defer func() {
		for _, c := range cpuRows {
			r.add(c)
		}
	}()
	for _, p := range HandshakeCases {
		eps, closeEps, err := r.configureAll(p)
		if err != nil {
			return err
		}
		note, err := r.negotiated(eps, p)
		if err != nil {
			closeEps()
			return err
		}
		var hs []*Handshaker
		done := func() {
			for _, h := range hs {
				h.Close()
			}
			closeEps()
		}
		for i, ep := range eps {
			h, err := NewHandshaker(r.ctx, ep)
			if err != nil {
				done()
				return err
			}
			hs = append(hs, h)
			// Warm up, and give resuming clients a session.
			if _, err := h.Run(time.Millisecond); err != nil {
				done()
				return fmt.Errorf("%s: handshake %s: %w", r.opts.Stacks[i].Name, p, err)
			}
		}
		vals, cpu, err := r.alternate(r.reps(), func(i int) (float64, float64, error) {
			run, err := hs[i].Run(d)
			if err == nil {
				err = checkResumed(p, run, 1)
			}
			return run.PerSecond(), float64(run.N), err
		})
		done()
		if err != nil {
			return fmt.Errorf("handshake %s: %w", p, err)
		}
		r.add(Result{Group: "handshake", Name: handshakeName(p), Unit: "handshakes/s", Values: vals, Target: handshakeTarget(p), Note: note})
		cpuRows = append(cpuRows, Result{Group: "handshake-cpu", Name: handshakeName(p), Unit: "conns/CPU-s", Values: per(cpu, 1)})
	}
	return nil
}

func (r *runner) handshakes2proc() error {
	if r.opts.Spawn == nil {
		return nil
	}
	d := r.pick(1500*time.Millisecond, 300*time.Millisecond)
	r.settings("handshake-2proc: server in a child process, %d client goroutines here, each connection = TCP connect + handshake + one-byte read + close; connections per second of wall time over %v per stack",
		handshakeCon, d)
	for _, p := range HandshakeCases {
		vals := make([]float64, len(r.opts.Stacks))
		var note []string
		for i, s := range r.opts.Stacks {
			v, resumed, n, err := r.clientLoad(s, p, d)
			if err != nil {
				return fmt.Errorf("%s: two-process handshake %s: %w", s.Name, p, err)
			}
			vals[i] = v
			if p.Resume {
				note = append(note, fmt.Sprintf("%s %d/%d resumed", s.Name, resumed, n))
			}
		}
		r.add(Result{Group: "handshake-2proc", Name: handshakeName(p), Unit: "handshakes/s", Values: vals, Target: handshakeTarget(p), Note: strings.Join(note, ", ")})
	}
	return nil
}

func (r *runner) clientLoad(s Stack, p Params, d time.Duration) (perSec float64, resumed, n int, err error) {
	c, err := startChild(r.opts.Spawn, childRequest{Job: "serve", Stack: s.Name, Params: p, PKI: r.pki})
	if err != nil {
		return 0, 0, 0, err
	}
	defer c.stop()
	rep, err := c.reply(30 * time.Second)
	if err != nil {
		return 0, 0, 0, err
	}
	ep, err := s.Configure(r.pki, p)
	if err != nil {
		return 0, 0, 0, err
	}
	defer ep.Close()
	if _, err := ClientLoad(r.ctx, ep, rep.Addr, 1, 20*time.Millisecond); err != nil { // warm up
		return 0, 0, 0, err
	}
	run, err := ClientLoad(r.ctx, ep, rep.Addr, handshakeCon, d)
	if err == nil {
		err = checkResumed(p, run, 0.95)
	}
	return run.PerSecond(), run.Resumed, run.N, err
}

func (r *runner) memory() error {
	n := IdleConns
	where := "in this process, one stack after the other"
	if r.opts.Spawn != nil {
		where = "in a fresh child process per stack"
	}
	r.settings("memory: %d idle connections (%s: a buffered crypto/tls connection would hold its bufio.Writer), both ends in one process, one byte exchanged each way; growth of RSS (/proc/self/statm: Go heap + C heap + everything), of the Go heap (runtime.MemStats HeapAlloc) and of the C heap in use (glibc mallinfo2) after GC, FreeOSMemory and, in the gorustls process, malloc_trim, divided by the %d TLS endpoints; measured %s",
		n, DefaultParams, 2*n, where)
	runs := make([]MemoryRun, len(r.opts.Stacks))
	for i, s := range r.opts.Stacks {
		var m MemoryRun
		var err error
		if r.opts.Spawn != nil {
			m, err = r.childMemory(s, n)
		} else {
			var ep *Endpoints
			if ep, err = s.Configure(r.pki, DefaultParams); err == nil {
				m, err = IdleMemory(r.ctx, ep, n)
				ep.Close()
			}
		}
		if err != nil {
			return fmt.Errorf("%s: memory: %w", s.Name, err)
		}
		runs[i] = m
	}
	rssv := make([]float64, len(runs))
	heapv := make([]float64, len(runs))
	cheapv := make([]float64, len(runs))
	for i, m := range runs {
		rssv[i] = m.RSSPerEndpoint() / 1024
		heapv[i] = m.HeapPerEndpoint() / 1024
		cheapv[i] = m.CHeapPerEndpoint() / 1024
	}
	r.add(Result{Group: "memory", Name: fmt.Sprintf("idle connection, RSS (%d conns)", n), Unit: "KiB/endpoint", Values: rssv, Target: &Target{Max: true, Value: 1}})
	r.add(Result{Group: "memory", Name: fmt.Sprintf("idle connection, Go heap (%d conns)", n), Unit: "KiB/endpoint", Values: heapv})
	r.add(Result{Group: "memory", Name: fmt.Sprintf("idle connection, C heap (%d conns)", n), Unit: "KiB/endpoint", Values: cheapv})
	return nil
}

func (r *runner) childMemory(s Stack, n int) (MemoryRun, error) {
	c, err := startChild(r.opts.Spawn, childRequest{Job: "memory", Stack: s.Name, Params: DefaultParams, PKI: r.pki, Conns: n})
	if err != nil {
		return MemoryRun{}, err
	}
	defer c.stop()
	rep, err := c.reply(5 * time.Minute)
	if err != nil {
		return MemoryRun{}, err
	}
	if rep.Memory == nil {
		return MemoryRun{}, errors.New("child sent no memory figures")
	}
	return *rep.Memory, nil
}

func (r *runner) costs() error {
	ops := 8192
	if r.opts.Quick {
		ops = 2048
	}
	r.settings("costs: %d Writes of %s with the peer's transport drained raw (an operation is one Write or one Flush call; write-through: no Flush; buffered: a Flush after each %s, crypto/tls behind a bufio.Writer), and %d Reads into a %s buffer of %s messages the peer wrote beforehand in batches of 32, each batch flushed (write-through: one record per message); heap allocations from runtime.MemStats.Mallocs (whole process, nothing else running) and C calls from cgo.Calls()",
		ops, sizeName(CostMsgSize), sizeName(FlushEvery), ops, sizeName(CostMsgSize), sizeName(CostMsgSize))
	zero := &Target{Max: true, Value: 0, Absolute: true}
	one := &Target{Max: true, Value: 1, Absolute: true}
	n := len(r.opts.Stacks)
	for _, wt := range WriteModes {
		p := DefaultParams
		p.WriteThrough = wt
		eps, closeEps, err := r.configureAll(p)
		if err != nil {
			return err
		}
		wa, wc, ra, rc := make([]float64, n), make([]float64, n), make([]float64, n), make([]float64, n)
		for i, s := range r.opts.Stacks {
			for _, read := range []bool{false, true} {
				c, err := r.opCosts(eps[i], s, wt, read, ops)
				if err != nil {
					closeEps()
					return fmt.Errorf("%s: costs %s: %w", s.Name, p, err)
				}
				calls := math.NaN()
				if c.HasCalls {
					calls = c.Calls
				}
				if read {
					ra[i], rc[i] = c.Allocs, calls
				} else {
					wa[i], wc[i] = c.Allocs, calls
				}
			}
		}
		closeEps()
		w, rd := "Write or Flush (1 KiB, Flush every 64 KiB)", "Read (1 KiB, peer flushing every 32 KiB)"
		if wt {
			w, rd = "Write (1 KiB, write-through)", "Read (1 KiB, peer write-through)"
		}
		r.add(Result{Group: "costs", Name: "allocations per " + w, Unit: "allocs/op", Values: wa, Target: zero})
		r.add(Result{Group: "costs", Name: "allocations per " + rd, Unit: "allocs/op", Values: ra, Target: zero})
		r.add(Result{Group: "costs", Name: "C calls per " + w, Unit: "calls/op", Values: wc, Target: one})
		r.add(Result{Group: "costs", Name: "C calls per " + rd, Unit: "calls/op", Values: rc, Target: one})
	}
	return nil
}

// opCosts measures one stack's Write (or Read) costs on a fresh pair.
func (r *runner) opCosts(ep *Endpoints, s Stack, writeThrough, read bool, ops int) (OpCosts, error) {
	pr, err := NewPair(r.ctx, ep)
	if err != nil {
		return OpCosts{}, err
	}
	defer pr.Close()
	if read {
		return ReadCosts(pr, s.Calls, ops, CostMsgSize)
	}
	flushEvery := FlushEvery
	if writeThrough {
		flushEvery = 0
	}
	return WriteCosts(pr, s.Calls, ops, CostMsgSize, flushEvery)
}
