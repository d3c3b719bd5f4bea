package bench

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// HTTPParams are the TLS parameters of the http workloads' servers: TLS
// 1.3 with AES-128-GCM and an ECDSA P-256 certificate, pinned on both
// servers (the load generators offer every common suite).
var HTTPParams = Params{Version: tls.VersionTLS13, Suite: tls.TLS_AES_128_GCM_SHA256, Key: KeyP256, WriteThrough: true}

// MaxHTTPBody is the largest body HTTPHandler serves.
const MaxHTTPBody = 1 << 20

// HTTPStats count the requests an HTTPHandler served.
type HTTPStats struct {
	Requests int64
	HTTP2    int64 // served over HTTP/2
	Resumed  int64 // on a connection whose TLS handshake resumed a session
}

// HTTPHandler is the handler both stacks' servers run in the http
// workloads: GET /bytes/N answers N bytes (0 <= N <= MaxHTTPBody) of
// application/octet-stream; any other path is 404. It counts what it
// served (HTTPStats); safe for concurrent use.
type HTTPHandler struct {
	body                     []byte
	requests, http2, resumed atomic.Int64
}

// NewHTTPHandler returns a handler with its body ready.
func NewHTTPHandler() *HTTPHandler {
	b := make([]byte, MaxHTTPBody)
	for i := range b {
		b[i] = 'a' + byte(i%26)
	}
	return &HTTPHandler{body: b}
}

var octetStream = []string{"application/octet-stream"}

// ServeHTTP implements http.Handler.
func (h *HTTPHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n, err := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/bytes/"))
	if err != nil || !strings.HasPrefix(r.URL.Path, "/bytes/") || n < 0 || n > MaxHTTPBody {
		http.NotFound(w, r)
		return
	}
	h.requests.Add(1)
	if r.ProtoMajor == 2 {
		h.http2.Add(1)
	}
	if r.TLS != nil && r.TLS.DidResume {
		h.resumed.Add(1)
	}
	hdr := w.Header()
	hdr["Content-Type"] = octetStream
	hdr["Content-Length"] = []string{strconv.Itoa(n)}
	_, _ = w.Write(h.body[:n])
}

// Stats returns what the handler has served so far.
func (h *HTTPHandler) Stats() HTTPStats {
	return HTTPStats{Requests: h.requests.Load(), HTTP2: h.http2.Load(), Resumed: h.resumed.Load()}
}

// HTTPScenario is one http workload: a load generator's run against an
// HTTPS server serving HTTPHandler.
type HTTPScenario struct {
	Name string
	// Tool is "h2load" (HTTP/2) or "wrk" (HTTP/1.1).
	Tool string
	// Size is the response body, in bytes.
	Size int
	// Conns is the number of connections the tool keeps open; Streams
	// (h2load only) the concurrent streams on each.
	Conns, Streams int
	// Close sends "Connection: close" (wrk only): every request gets a new
	// TCP and TLS connection.
	Close bool
	// Resume lets the servers resume TLS sessions (wrk resumes its last
	// session when it can; h2load connects once per connection).
	Resume bool
	// Target is the goal for requests per second (nil: none).
	Target *Target
}

// Path is the URL path the scenario requests.
func (sc HTTPScenario) Path() string { return fmt.Sprintf("/bytes/%d", sc.Size) }

// Params are the servers' TLS parameters for the scenario.
func (sc HTTPScenario) Params() Params {
	p := HTTPParams
	p.Resume = sc.Resume
	return p
}

// HTTPScenarios are the http workloads, in report order.
var HTTPScenarios = []HTTPScenario{
	{Name: "HTTP/2, 64 B responses, h2load 32 conns x 10 streams", Tool: "h2load", Size: 64, Conns: 32, Streams: 10, Resume: true, Target: &Target{Value: 1}},
	{Name: "HTTP/2, 64 KiB responses, h2load 32 conns x 10 streams", Tool: "h2load", Size: 64 << 10, Conns: 32, Streams: 10, Resume: true, Target: &Target{Value: 1.2}},
	{Name: "HTTP/1.1 keep-alive, 64 B responses, wrk 32 conns", Tool: "wrk", Size: 64, Conns: 32, Resume: true, Target: &Target{Value: 1}},
	{Name: "HTTP/1.1 keep-alive, 64 KiB responses, wrk 32 conns", Tool: "wrk", Size: 64 << 10, Conns: 32, Resume: true, Target: &Target{Value: 1.2}},
	{Name: "HTTP/1.1, new TLS connection per request (Connection: close), full handshakes, wrk 32 conns", Tool: "wrk", Size: 64, Conns: 32, Close: true, Target: &Target{Value: 1.3}},
	{Name: "HTTP/1.1, new TLS connection per request (Connection: close), resumption on, wrk 32 conns", Tool: "wrk", Size: 64, Conns: 32, Close: true, Resume: true, Target: &Target{Value: 1.3}},
}

// ServeCmdScenario is the load of the row that compares `gorustls serve
// -mode http` with rustlshttp.Server.
var ServeCmdScenario = HTTPScenario{Name: "HTTP/2, 64 B responses, h2load 32 conns x 10 streams", Tool: "h2load", Size: 64, Conns: 32, Streams: 10, Resume: true, Target: &Target{Value: 0.95}}

// HTTPTools are the load generators the http workloads run, and the
// Debian packages that have them.
var HTTPTools = map[string]string{"h2load": "nghttp2-client", "wrk": "wrk"}

// MissingHTTPTools returns the load generators not on PATH.
func MissingHTTPTools() []string {
	var missing []string
	for _, t := range []string{"h2load", "wrk"} {
		if _, err := exec.LookPath(t); err != nil {
			missing = append(missing, t)
		}
	}
	return missing
}

// httpToolVersions describes the load generators, e.g. "h2load
// nghttp2/1.52.0, wrk debian/4.1.0-3+b2".
func httpToolVersions() string {
	var out []string
	if b, err := exec.Command("h2load", "--version").Output(); err == nil {
		out = append(out, strings.TrimSpace(string(b)))
	}
	// wrk prints its version and usage, and exits with status 1.
	b, _ := exec.Command("wrk", "-v").CombinedOutput()
	if line, _, _ := strings.Cut(string(b), "\n"); strings.HasPrefix(line, "wrk ") {
		if i := strings.Index(line, " ["); i > 0 {
			line = line[:i]
		}
		out = append(out, line)
	}
	return strings.Join(out, ", ")
}

// LoadRun is the outcome of one load generator run.
type LoadRun struct {
	Requests  int           // requests completed in the measured time
	Elapsed   time.Duration // the tool's measured duration
	PerSecond float64       // requests per second, as the tool reports it
	// Responses counts every response received, including those that
	// completed after the measured time (h2load).
	Responses int
}

// loadArgs returns the load generator's command line for a run of d
// against addr, d rounded up to whole seconds (at least one): wrk counts
// in seconds, and h2load 1.52 never exits when a run ends before all its
// connections are up, which a short run on a busy machine risks.
func (sc HTTPScenario) loadArgs(addr string, d time.Duration) (string, []string, error) {
	url := "https://" + addr + sc.Path()
	secs := fmt.Sprintf("%ds", max(int((d+time.Second-1)/time.Second), 1))
	switch sc.Tool {
	case "h2load":
		if sc.Close {
			return "", nil, errors.New("bench: h2load scenarios cannot close every connection")
		}
		return "h2load", []string{"-D", secs, "-c", strconv.Itoa(sc.Conns), "-m", strconv.Itoa(max(sc.Streams, 1)), "-t", "1", url}, nil
	case "wrk":
		args := []string{"-t", "1", "-c", strconv.Itoa(sc.Conns), "-d", secs}
		if sc.Close {
			args = append(args, "-H", "Connection: close")
		}
		return "wrk", append(args, url), nil
	}
	return "", nil, fmt.Errorf("bench: unknown load generator %q", sc.Tool)
}

// HTTPLoad runs the scenario's load generator against addr for d rounded
// up to whole seconds (at least one) and returns what it reports. It fails
// when the tool fails or does not exit within 30 seconds of the run's end,
// when a request fails or gets an error status, or when h2load did not
// speak HTTP/2.
func HTTPLoad(ctx context.Context, sc HTTPScenario, addr string, d time.Duration) (LoadRun, error) {
	tool, args, err := sc.loadArgs(addr, d)
	if err != nil {
		return LoadRun{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, d+time.Second+30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, tool, args...).CombinedOutput()
	if ctx.Err() == context.DeadlineExceeded {
		return LoadRun{}, fmt.Errorf("%s %s: still running 30s after the run's end (killed)\n%s", tool, strings.Join(args, " "), out)
	}
	if err != nil {
		return LoadRun{}, fmt.Errorf("%s %s: %w\n%s", tool, strings.Join(args, " "), err, out)
	}
	var run LoadRun
	if tool == "h2load" {
		run, err = parseH2load(string(out))
	} else {
		run, err = parseWrk(string(out))
	}
	if err != nil {
		return LoadRun{}, fmt.Errorf("%s %s: %w\n%s", tool, strings.Join(args, " "), err, out)
	}
	return run, nil
}

var (
	h2loadFinished = regexp.MustCompile(`(?m)^finished in ([0-9.]+[a-z]+), ([0-9.]+) req/s`)
	h2loadRequests = regexp.MustCompile(`(?m)^requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout`)
	h2loadStatus   = regexp.MustCompile(`(?m)^status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx`)
	h2loadProto    = regexp.MustCompile(`(?m)^Application protocol: (\S+)`)
	wrkRequests    = regexp.MustCompile(`(?m)^\s*(\d+) requests in ([0-9.]+[a-z]+),`)
	wrkRate        = regexp.MustCompile(`(?m)^Requests/sec:\s+([0-9.]+)`)
	wrkSocketErrs  = regexp.MustCompile(`(?m)^\s*Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
	wrkBadStatus   = regexp.MustCompile(`(?m)^\s*Non-2xx or 3xx responses: (\d+)`)
)

func atoi(s string) int { n, _ := strconv.Atoi(s); return n }

// parseH2load reads h2load's summary.
func parseH2load(out string) (LoadRun, error) {
	fin := h2loadFinished.FindStringSubmatch(out)
	req := h2loadRequests.FindStringSubmatch(out)
	if fin == nil || req == nil {
		return LoadRun{}, errors.New("no summary in h2load's output")
	}
	if p := h2loadProto.FindStringSubmatch(out); p == nil || p[1] != "h2" {
		return LoadRun{}, errors.New("h2load did not negotiate h2")
	}
	done, ok := atoi(req[3]), atoi(req[4])
	if failed := atoi(req[5]) + atoi(req[6]) + atoi(req[7]); failed > 0 || ok != done || ok == 0 {
		return LoadRun{}, fmt.Errorf("h2load: %d requests done, %d succeeded, %d failed, errored or timed out", done, ok, failed)
	}
	// The status counts include responses outside the measured time.
	st := h2loadStatus.FindStringSubmatch(out)
	if st == nil || atoi(st[2])+atoi(st[3])+atoi(st[4]) > 0 {
		return LoadRun{}, errors.New("h2load: responses other than 2xx")
	}
	el, err := time.ParseDuration(fin[1])
	if err != nil {
		return LoadRun{}, err
	}
	rate, err := strconv.ParseFloat(fin[2], 64)
	if err != nil {
		return LoadRun{}, err
	}
	return LoadRun{Requests: ok, Elapsed: el, PerSecond: rate, Responses: atoi(st[1])}, nil
}

// parseWrk reads wrk's summary. Socket errors are tolerated up to 1 % of
// the requests (connections cut when the run ends).
func parseWrk(out string) (LoadRun, error) {
	req := wrkRequests.FindStringSubmatch(out)
	rate := wrkRate.FindStringSubmatch(out)
	if req == nil || rate == nil {
		return LoadRun{}, errors.New("no summary in wrk's output")
	}
	n := atoi(req[1])
	if n == 0 {
		return LoadRun{}, errors.New("wrk: no request completed")
	}
	if bad := wrkBadStatus.FindStringSubmatch(out); bad != nil {
		return LoadRun{}, fmt.Errorf("wrk: %s responses other than 2xx or 3xx", bad[1])
	}
	if se := wrkSocketErrs.FindStringSubmatch(out); se != nil {
		if errs := atoi(se[1]) + atoi(se[2]) + atoi(se[3]) + atoi(se[4]); errs*100 > n {
			return LoadRun{}, fmt.Errorf("wrk: %d socket errors in %d requests", errs, n)
		}
	}
	el, err := time.ParseDuration(req[2])
	if err != nil {
		return LoadRun{}, err
	}
	r, err := strconv.ParseFloat(rate[1], 64)
	if err != nil {
		return LoadRun{}, err
	}
	return LoadRun{Requests: n, Elapsed: el, PerSecond: r, Responses: n}, nil
}

// userHZ is the unit of /proc/PID/stat's CPU times (USER_HZ, 100 on
// every Linux architecture Go supports).
const userHZ = 100

// ProcessCPU returns the CPU time (user + system, all threads) process pid
// has used, from /proc/PID/stat (10 ms resolution).
func ProcessCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) is in parentheses and may hold spaces.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0, fmt.Errorf("bench: unexpected /proc/%d/stat", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state): utime and stime are fields 14 and 15.
	if len(f) < 13 {
		return 0, fmt.Errorf("bench: unexpected /proc/%d/stat", pid)
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("bench: /proc/%d/stat: %w", pid, err)
	}
	return time.Duration(ut+st) * time.Second / userHZ, nil
}
