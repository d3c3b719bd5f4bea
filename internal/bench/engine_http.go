package bench

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// httpServer is a running HTTPS server process that the http group loads.
type httpServer struct {
	addr  string
	pid   int
	stats func() (HTTPStats, error) // nil: the process cannot tell
	stop  func()
}

// startHTTPChild starts stack s's HTTPS server in a child process.
func (r *runner) startHTTPChild(s Stack, p Params) (*httpServer, error) {
	c, err := startChild(r.opts.Spawn, childRequest{Job: "http", Stack: s.Name, Params: p, PKI: r.pki})
	if err != nil {
		return nil, err
	}
	rep, err := c.reply(30 * time.Second)
	if err != nil {
		c.stop()
		return nil, fmt.Errorf("%s: HTTPS server: %w", s.Name, err)
	}
	return &httpServer{addr: rep.Addr, pid: c.pid(), stats: c.httpStats, stop: c.stop}, nil
}

// startServeCmd starts `gorustls serve -mode http` and reads its address
// from the "msg=listening addr=ADDR" line of its standard error, the rest of
// which (a line per connection) is read and dropped.
func startServeCmd(cmd *exec.Cmd) (*httpServer, error) {
	cmd.Stdout = nil
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	addrc := make(chan string, 1)
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		sc := bufio.NewScanner(stderr)
		found := false
		for sc.Scan() {
			if _, rest, ok := strings.Cut(sc.Text(), "msg=listening addr="); ok && !found {
				addr, _, _ := strings.Cut(rest, " ")
				addrc <- addr
				found = true
			}
		}
		close(addrc)
	}()
	var once sync.Once
	stop := func() { once.Do(func() { stopServeCmd(cmd, drained) }) }
	select {
	case addr, ok := <-addrc:
		if !ok {
			stop()
			return nil, errors.New("gorustls serve: exited without saying where it listens")
		}
		return &httpServer{addr: addr, pid: cmd.Process.Pid, stop: stop}, nil
	case <-time.After(30 * time.Second):
		stop()
		return nil, errors.New("gorustls serve: no \"msg=listening\" line within 30s")
	}
}

// stopServeCmd asks the serve command to shut down (SIGTERM), kills it
// after 10 seconds, and waits for it once its standard error is drained.
func stopServeCmd(cmd *exec.Cmd, drained <-chan struct{}) {
	_ = cmd.Process.Signal(unix.SIGTERM)
	select {
	case <-drained:
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		<-drained
	}
	_ = cmd.Wait()
}

// httpWarmUp sends a few hundred requests of the scenario's protocol.
func httpWarmUp(ctx context.Context, sc HTTPScenario, addr string) error {
	args := []string{"-n", "256", "-c", "4", "-m", "4"}
	if sc.Tool == "wrk" {
		args = append(args, "--h1")
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "h2load", append(args, "https://"+addr+sc.Path())...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("warm-up: h2load: %w\n%s", err, out)
	}
	if _, err := parseH2load(string(out)); err != nil && sc.Tool == "h2load" {
		return fmt.Errorf("warm-up: %w\n%s", err, out)
	}
	return nil
}

func (r *runner) httpTime() time.Duration {
	if r.opts.HTTPTime > 0 {
		return r.opts.HTTPTime
	}
	return r.pick(2*time.Second, time.Second)
}

func (r *runner) http() error {
	if ok, err := r.httpReady("http"); !ok {
		return err
	}
	d := r.httpTime()
	r.settings("http: the same handler (GET /bytes/N answers N bytes) served by each stack's HTTPS server (gorustls: rustlshttp.Server; crypto/tls: net/http's http.Server with ServeTLS), each in a fresh child process per scenario, %s %s (pinned on both servers), %s certificate, ALPN h2 and http/1.1, server defaults otherwise; loaded over loopback by %s (one thread each) for %v per run (whole seconds), after a warm-up of 256 requests; median of %d alternating runs; requests/s as the load generator reports it (each run includes opening the tool's connections); http-cpu: CPU time (user + system, all threads, /proc/PID/stat, 10 ms ticks) of the server process during a run divided by the responses the tool received in it; each run checks the protocol served (h2 for h2load, HTTP/1.1 for wrk) and, with resumption off, that no handshake resumed",
		VersionName(HTTPParams.Version), SuiteName(HTTPParams.Suite), HTTPParams.Key, httpToolVersions(), d, r.reps())
	if err := r.httpScenarios(d); err != nil {
		return err
	}
	if r.opts.ServeHTTPCmd == nil {
		return nil
	}
	return r.serveCmdRow(d)
}

// httpServeOnly runs the http-serve group: the serve command's row alone
// (the http group includes it, so a full run or -only http,http-serve
// measures it once).
func (r *runner) httpServeOnly() error {
	if len(r.opts.Only) == 0 || slices.Contains(r.opts.Only, "http") {
		return nil
	}
	if ok, err := r.httpReady("http-serve"); !ok {
		return err
	}
	if r.opts.ServeHTTPCmd == nil {
		r.settings("http-serve: not measured (it compares the serve command with the default provider only)")
		return nil
	}
	return r.serveCmdRow(r.httpTime())
}

// httpReady says whether group can run: its servers need child processes
// and the load generators. When not, it notes why in the report, and
// returns an error if group was asked for by name (-only).
func (r *runner) httpReady(group string) (bool, error) {
	if r.opts.Spawn == nil {
		r.settings("%s: not measured (its servers run in child processes; run without -one-process)", group)
		return false, nil
	}
	if missing := MissingHTTPTools(); len(missing) > 0 {
		var pkgs []string
		for _, t := range missing {
			pkgs = append(pkgs, HTTPTools[t])
		}
		msg := fmt.Sprintf("%s: not measured: %s not found (Debian: apt-get install %s, or build/install-deps.sh bench)",
			group, strings.Join(missing, " and "), strings.Join(pkgs, " "))
		if slices.Contains(r.opts.Only, group) {
			return false, errors.New("bench: " + msg)
		}
		fmt.Fprintln(r.opts.Progress, msg)
		r.settings("%s", msg)
		return false, nil
	}
	return true, nil
}

// httpScenarios measures HTTPScenarios on every stack.
func (r *runner) httpScenarios(d time.Duration) error {
	var cpuRows []Result
	defer func() {
		for _, c := range cpuRows {
			r.add(c)
		}
	}()
	for _, sc := range HTTPScenarios {
		var servers []*httpServer
		stopAll := func() {
			for _, s := range servers {
				s.stop()
			}
		}
		for _, s := range r.opts.Stacks {
			srv, err := r.startHTTPChild(s, sc.Params())
			if err != nil {
				stopAll()
				return fmt.Errorf("http %s: %w", sc.Name, err)
			}
			servers = append(servers, srv)
		}
		rates, cpu, note, err := r.loadServers(sc, servers, r.report.Stacks, d)
		stopAll()
		if err != nil {
			return fmt.Errorf("http %s: %w", sc.Name, err)
		}
		r.add(Result{Group: "http", Name: sc.Name, Unit: "requests/s", Values: rates, Target: sc.Target, Note: note})
		cpuRows = append(cpuRows, Result{Group: "http-cpu", Name: sc.Name, Unit: "server CPU us/req", Values: cpu})
	}
	return nil
}

// serveCmdRow compares `gorustls serve -mode http` (first column) with the
// first stack's rustlshttp.Server (second column).
func (r *runner) serveCmdRow(d time.Duration) error {
	sc := ServeCmdScenario
	// Like the serve command: the stack's default suites, resumption on.
	p := Params{Version: tls.VersionTLS13, Key: KeyP256, Resume: true, WriteThrough: true}
	cmd, err := startServeCmd(r.opts.ServeHTTPCmd())
	if err != nil {
		return err
	}
	lib, err := r.startHTTPChild(r.opts.Stacks[0], p)
	if err != nil {
		cmd.stop()
		return err
	}
	names := []string{"gorustls serve", "rustlshttp.Server"}
	rates, cpu, _, err := r.loadServers(sc, []*httpServer{cmd, lib}, names, d)
	cmd.stop()
	lib.stop()
	if err != nil {
		return fmt.Errorf("http-serve: %w", err)
	}
	r.settings("http-serve: both columns are gorustls: the %s column is `gorustls serve -mode http` (its own /bytes/N handler, one log line per connection to a pipe, LazyAcceptor, TLS 1.2 and 1.3, default suites), the %s column rustlshttp.Server with the bench handler (TLS 1.3, default suites); measured as the http rows; target: within 5 %%",
		r.report.Stacks[0], r.report.Stacks[1])
	name := "gorustls serve -mode http vs rustlshttp.Server, " + sc.Name
	note := fmt.Sprintf("%s column: gorustls serve -mode http; %s column: rustlshttp.Server", r.report.Stacks[0], r.report.Stacks[1])
	r.add(Result{Group: "http-serve", Name: name, Unit: "requests/s", Values: rates, Target: sc.Target, Note: note})
	r.add(Result{Group: "http-serve-cpu", Name: name, Unit: "server CPU us/req", Values: cpu})
	return nil
}

// loadServers loads each server in turn, reps times, and returns the
// median requests per second and server CPU microseconds per request of
// each, with a note on session resumption when it is on.
func (r *runner) loadServers(sc HTTPScenario, servers []*httpServer, names []string, d time.Duration) (rates, cpu []float64, note string, err error) {
	n := len(servers)
	before := make([]HTTPStats, n)
	for i, s := range servers {
		if err := httpWarmUp(r.ctx, sc, s.addr); err != nil {
			return nil, nil, "", fmt.Errorf("%s: %w", names[i], err)
		}
		if s.stats != nil {
			if before[i], err = s.stats(); err != nil {
				return nil, nil, "", fmt.Errorf("%s: %w", names[i], err)
			}
		}
	}
	all, allCPU := make([][]float64, n), make([][]float64, n)
	for range r.reps() {
		for i, s := range servers {
			if err := r.ctx.Err(); err != nil {
				return nil, nil, "", err
			}
			c0, err := ProcessCPU(s.pid)
			if err != nil {
				return nil, nil, "", err
			}
			run, err := HTTPLoad(r.ctx, sc, s.addr, d)
			if err != nil {
				return nil, nil, "", fmt.Errorf("%s: %w", names[i], err)
			}
			c1, err := ProcessCPU(s.pid)
			if err != nil {
				return nil, nil, "", err
			}
			all[i] = append(all[i], run.PerSecond)
			allCPU[i] = append(allCPU[i], float64((c1-c0).Microseconds())/float64(run.Responses))
		}
	}
	rates, cpu = make([]float64, n), make([]float64, n)
	var notes []string
	for i, s := range servers {
		rates[i], cpu[i] = median(all[i]), median(allCPU[i])
		if s.stats == nil {
			continue
		}
		after, err := s.stats()
		if err != nil {
			return nil, nil, "", fmt.Errorf("%s: %w", names[i], err)
		}
		if err := checkHTTPStats(sc, before[i], after); err != nil {
			return nil, nil, "", fmt.Errorf("%s: %w", names[i], err)
		}
		if sc.Close && sc.Resume {
			req, res := after.Requests-before[i].Requests, after.Resumed-before[i].Resumed
			notes = append(notes, fmt.Sprintf("%s %d/%d handshakes resumed", names[i], res, req))
		}
	}
	return rates, cpu, strings.Join(notes, ", "), nil
}

// checkHTTPStats verifies what a server served during a scenario's runs.
func checkHTTPStats(sc HTTPScenario, before, after HTTPStats) error {
	req := after.Requests - before.Requests
	h2 := after.HTTP2 - before.HTTP2
	resumed := after.Resumed - before.Resumed
	switch {
	case req <= 0:
		return errors.New("the server counted no requests")
	case sc.Tool == "h2load" && h2 != req:
		return fmt.Errorf("%d of %d requests over HTTP/2, want all", h2, req)
	case sc.Tool == "wrk" && h2 != 0:
		return fmt.Errorf("%d of %d requests over HTTP/2, want HTTP/1.1", h2, req)
	case !sc.Resume && resumed != 0:
		return fmt.Errorf("%d of %d requests on resumed sessions with resumption off", resumed, req)
	}
	return nil
}
