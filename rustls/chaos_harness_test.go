package rustls

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorustls/gorustls/cgo"
)

// The chaos harness: one chaosRun per scenario collects failures from any
// goroutine (t.Error must not be called once a subtest has returned, and a
// stuck goroutine may outlive it), turns escaped panics into failures,
// checks that every error is one of the documented kinds, waits for
// goroutines under a watchdog that dumps every stack, and checks that
// goroutines, descriptors, C connections and key-log slots come back to
// their baseline.

// Environment knobs. GORUSTLS_CHAOS_SEED replays a run (the seed is logged
// at the start and again on failure); GORUSTLS_CHAOS_SCALE multiplies the
// number of connections (default 1; 0.25 with -short and under ASan).
const (
	chaosSeedEnv  = "GORUSTLS_CHAOS_SEED"
	chaosScaleEnv = "GORUSTLS_CHAOS_SCALE"
)

// chaosSettings reads the seed and scale for this run.
func chaosSettings(t *testing.T) (seed uint64, scale float64) {
	t.Helper()
	seed = uint64(time.Now().UnixNano())
	if v := os.Getenv(chaosSeedEnv); v != "" {
		s, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("%s=%q: %v", chaosSeedEnv, v, err)
		}
		seed = s
	}
	scale = 1
	if testing.Short() || asanEnabled {
		scale = 0.25
	}
	if v := os.Getenv(chaosScaleEnv); v != "" {
		s, err := strconv.ParseFloat(v, 64)
		if err != nil || s <= 0 {
			t.Fatalf("%s=%q: want a positive number", chaosScaleEnv, v)
		}
		scale = s
	}
	return seed, scale
}

// chaosRun is the shared state of one scenario.
type chaosRun struct {
	t     *testing.T
	seed  uint64
	scale float64
	salt  uint64 // distinguishes the scenarios' random streams

	mu       sync.Mutex
	failures []string
	dropped  int
	notes    []string
	wedged   atomic.Bool
}

func newChaosRun(t *testing.T, seed uint64, scale float64, salt uint64) *chaosRun {
	r := &chaosRun{t: t, seed: seed, scale: scale, salt: salt}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("chaos seed %d, scale %v: replay with %s=%d %s=%v", seed, scale, chaosSeedEnv, seed, chaosScaleEnv, scale)
		}
	})
	return r
}

// n scales a count, never below min.
func (r *chaosRun) n(base, min int) int {
	return max(min, int(float64(base)*r.scale+0.5))
}

// rng returns a random source private to the caller, derived from the
// seed, the scenario and ids (a pair number, a goroutine number).
func (r *chaosRun) rng(ids ...uint64) *rand.Rand {
	s := r.salt*0x9e3779b97f4a7c15 + 1
	for _, id := range ids {
		s = s*0xbf58476d1ce4e5b9 + id + 1
	}
	return rand.New(rand.NewPCG(r.seed, s))
}

// failf records a failure; safe from any goroutine, at any time.
func (r *chaosRun) failf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.failures) >= 40 {
		r.dropped++
		return
	}
	r.failures = append(r.failures, fmt.Sprintf(format, args...))
}

// notef records a line for the test log; safe from any goroutine.
func (r *chaosRun) notef(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.notes) < 100 {
		r.notes = append(r.notes, fmt.Sprintf(format, args...))
	}
}

// report logs the notes and turns the recorded failures into test errors.
// Test goroutine only.
func (r *chaosRun) report() {
	r.mu.Lock()
	fs, dropped, notes := r.failures, r.dropped, r.notes
	r.failures, r.dropped, r.notes = nil, 0, nil
	r.mu.Unlock()
	for _, n := range notes {
		r.t.Log(n)
	}
	for _, f := range fs {
		r.t.Error(f)
	}
	if dropped > 0 {
		r.t.Errorf("... and %d more failures", dropped)
	}
}

// errChaosPanic is what call returns when the operation panicked.
var errChaosPanic = errors.New("chaos: the operation panicked")

// call runs one operation on a chaos goroutine. A panic that escapes
// gorustls is a failure (it would crash a real program), and so is an
// error that is none of the documented kinds.
func (r *chaosRun) call(what string, f func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			r.failf("%s: panic escaped gorustls: %v\n%s", what, p, debug.Stack())
			err = errChaosPanic
		}
	}()
	err = f()
	if err != nil {
		if why := untypedErr(err); why != "" {
			r.failf("%s: %s: %T %v", what, why, err, err)
		}
	}
	return err
}

// untypedErr says what is wrong with an error a gorustls call returned, or
// "" when it is one of the documented kinds: an *Error (with an Op), the
// io end-of-stream errors, ErrWriteClosed, or a transport or context error.
func untypedErr(err error) string {
	var e *Error
	if errors.As(err, &e) {
		if e == nil || e.Op == "" {
			return "an *Error that does not say what was being done"
		}
		return ""
	}
	var ne net.Error
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, ErrWriteClosed),
		errors.Is(err, net.ErrClosed), errors.Is(err, os.ErrDeadlineExceeded),
		errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne):
		return ""
	}
	return "not a documented error kind"
}

// goWG runs f on a new goroutine counted by wg; a panic in f (the
// harness's own code) is a failure, not a crash.
func (r *chaosRun) goWG(wg *sync.WaitGroup, what string, f func()) {
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer func() {
			if p := recover(); p != nil {
				r.failf("%s: panic: %v\n%s", what, p, debug.Stack())
			}
		}()
		f()
	}()
}

// wait waits for wg; past bound it reports a deadlock with every
// goroutine's stack and returns false.
func (r *chaosRun) wait(wg *sync.WaitGroup, bound time.Duration, what string) bool {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
		return true
	case <-time.After(bound):
		r.wedge(what, bound)
		return false
	}
}

// softWait waits for wg at most bound and reports whether it finished,
// without judging (a writer blocked on a peer that stopped reading is
// legitimate until the streams are closed).
func softWait(wg *sync.WaitGroup, bound time.Duration) bool {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
		return true
	case <-time.After(bound):
		return false
	}
}

// wedge reports a deadlock: the first time with the stacks of the
// goroutines inside gorustls in the failure and every stack in a file.
func (r *chaosRun) wedge(what string, bound time.Duration) {
	if r.wedged.Swap(true) {
		r.failf("deadlock: %s also still running %v after it should have ended", what, bound)
		return
	}
	all := allStacks()
	path := "(not written)"
	if f, err := os.CreateTemp("", "gorustls-chaos-stacks-*.txt"); err == nil {
		_, _ = f.WriteString(all)
		_ = f.Close()
		path = f.Name()
	}
	r.failf("deadlock: %s still running %v after it should have ended (seed %d); all stacks in %s; goroutines inside gorustls:\n%s",
		what, bound, r.seed, path, gorustlsStacks(all, 30, 100<<10))
}

func allStacks() string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return string(buf[:n])
		}
		buf = make([]byte, 2*len(buf))
	}
}

// gorustlsStacks keeps the goroutines that are inside the library (a
// frame in a non-test file of rustls/ or cgo/), at most max of them and
// limit bytes.
func gorustlsStacks(all string, max, limit int) string {
	var b strings.Builder
	n := 0
	for _, g := range strings.Split(all, "\n\n") {
		if !insideLibrary(g) {
			continue
		}
		if n == max || b.Len()+len(g) > limit {
			b.WriteString("... (more in the file)\n")
			break
		}
		b.WriteString(g)
		b.WriteString("\n\n")
		n++
	}
	return b.String()
}

func insideLibrary(g string) bool {
	for _, line := range strings.Split(g, "\n") {
		file, _, _ := strings.Cut(strings.TrimSpace(line), ":")
		if strings.HasSuffix(file, ".go") && !strings.HasSuffix(file, "_test.go") &&
			(strings.Contains(file, "/rustls/") || strings.Contains(file, "/cgo/")) {
			return true
		}
	}
	return false
}

// chaosBaseline is what must come back once a scenario is over.
type chaosBaseline struct {
	goroutines map[int]string
	fds        int
	live       int64
	freeSlots  int
}

func chaosSettle() {
	for i := 0; i < 3; i++ {
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
}

func takeChaosBaseline(t *testing.T) chaosBaseline {
	waitLingers(t) // earlier tests' background closes are not the baseline
	chaosSettle()
	g, _ := goroutineIDs()
	return chaosBaseline{goroutines: g, fds: openFDs(t), live: cgo.LiveConns(), freeSlots: settledFreeKeylogSlots()}
}

// chaosNewGoroutines lists goroutines that are not in base, leaving out
// the runtime's own (cleanup and finalizer runners start on demand).
func chaosNewGoroutines(base map[int]string) []string {
	var out []string
	for _, g := range newGoroutines(base) {
		if strings.Contains(g, "created by runtime.") || strings.Contains(g, "runtime.runCleanups") ||
			strings.Contains(g, "runtime.runfinq") {
			continue
		}
		out = append(out, g)
	}
	return out
}

// checkBaseline waits (collecting garbage) for goroutines, descriptors, C
// connections and key-log slots to come back to the baseline.
func (r *chaosRun) checkBaseline(b chaosBaseline) {
	t := r.t
	if r.wedged.Load() {
		t.Log("leak check skipped: goroutines are stuck (see the deadlock report)")
		return
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		chaosSettle()
		extra := chaosNewGoroutines(b.goroutines)
		fds, live := openFDs(t), cgo.LiveConns()
		if len(extra) == 0 && fds <= b.fds && live <= b.live {
			break
		}
		if time.Now().After(deadline) {
			if len(extra) > 0 {
				t.Errorf("%d goroutines leaked, for example:\n%s", len(extra), extra[0])
			}
			if fds > b.fds {
				t.Errorf("file descriptors: %d, baseline %d", fds, b.fds)
			}
			if live > b.live {
				t.Errorf("C connections live: %d, baseline %d", live, b.live)
			}
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	if slots := settledFreeKeylogSlots(); slots < b.freeSlots {
		t.Errorf("key-log slots free: %d, baseline %d (a closed config kept its slot)", slots, b.freeSlots)
	}
}

// tcpPairer makes loopback TCP pairs from any goroutine: one listener,
// and each dialed connection is matched with its accepted end by address.
type tcpPairer struct {
	ln      net.Listener
	mu      sync.Mutex
	waiting map[string]chan net.Conn
	early   map[string]net.Conn
	done    chan struct{}
}

func newTCPPairer(t *testing.T) *tcpPairer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &tcpPairer{ln: ln, waiting: map[string]chan net.Conn{}, early: map[string]net.Conn{}, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			key := c.RemoteAddr().String()
			p.mu.Lock()
			if ch, ok := p.waiting[key]; ok {
				delete(p.waiting, key)
				ch <- c
			} else {
				p.early[key] = c
			}
			p.mu.Unlock()
		}
	}()
	return p
}

// pair dials the listener and returns both ends.
func (p *tcpPairer) pair() (client, server net.Conn, err error) {
	client, err = net.Dial("tcp", p.ln.Addr().String())
	if err != nil {
		return nil, nil, err
	}
	key := client.LocalAddr().String()
	p.mu.Lock()
	if c, ok := p.early[key]; ok {
		delete(p.early, key)
		p.mu.Unlock()
		return client, c, nil
	}
	ch := make(chan net.Conn, 1)
	p.waiting[key] = ch
	p.mu.Unlock()
	select {
	case c := <-ch:
		return client, c, nil
	case <-time.After(10 * time.Second):
		client.Close()
		return nil, nil, errors.New("chaos: the accepted end of a loopback connection never came")
	}
}

func (p *tcpPairer) close() {
	p.ln.Close()
	<-p.done
	p.mu.Lock()
	defer p.mu.Unlock()
	for k, c := range p.early {
		c.Close()
		delete(p.early, k)
	}
}

// resetConn makes the kernel answer with RST instead of FIN.
func resetConn(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = c.Close()
}

// chaosFault is the value injected callbacks panic with. Its text names
// neither the callback nor the word panic, so that an error that names
// them got them from gorustls.
type chaosFault struct{ n int64 }

func (f chaosFault) String() string { return "injected fault #" + strconv.FormatInt(f.n, 10) }

var chaosFaults atomic.Int64

func injectFault() { panic(chaosFault{chaosFaults.Add(1)}) }
