package bench

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const h2loadOK = `TLS Protocol: TLSv1.3
Cipher: TLS_AES_128_GCM_SHA256
Application protocol: h2

finished in 1.00s, 25721.00 req/s, 2.11MB/s
requests: 25721 total, 25729 started, 25721 done, 25721 succeeded, 0 failed, 0 errored, 0 timeout
status codes: 25800 2xx, 0 3xx, 0 4xx, 0 5xx
`

const wrkOK = `Running 1s test @ https://127.0.0.1:36031/bytes/64
  1 threads and 4 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   452.84us    1.08ms  11.04ms   90.58%
    Req/Sec    26.30k     5.63k   31.31k    81.82%
  28698 requests in 1.10s, 4.93MB read
Requests/sec:  26074.73
Transfer/sec:      4.48MB
`

func TestParseH2load(t *testing.T) {
	run, err := parseH2load(h2loadOK)
	require.NoError(t, err)
	assert.Equal(t, LoadRun{Requests: 25721, Elapsed: time.Second, PerSecond: 25721, Responses: 25800}, run)
	run, err = parseH2load(strings.Replace(h2loadOK, "finished in 1.00s", "finished in 525.15ms", 1))
	require.NoError(t, err)
	assert.Equal(t, 525150*time.Microsecond, run.Elapsed)

	for name, out := range map[string]string{
		"no summary": "connect: Connection refused\n",
		"http/1.1":   strings.Replace(h2loadOK, "Application protocol: h2", "Application protocol: http/1.1", 1),
		"failed":     strings.Replace(h2loadOK, "0 failed", "3 failed", 1),
		"timeout":    strings.Replace(h2loadOK, "0 timeout", "1 timeout", 1),
		"404":        strings.Replace(h2loadOK, "0 4xx", "5 4xx", 1),
		"none done":  strings.Replace(h2loadOK, "25721 done, 25721 succeeded", "0 done, 0 succeeded", 1),
	} {
		_, err := parseH2load(out)
		assert.Error(t, err, name)
	}
}

func TestParseWrk(t *testing.T) {
	run, err := parseWrk(wrkOK)
	require.NoError(t, err)
	assert.Equal(t, LoadRun{Requests: 28698, Elapsed: 1100 * time.Millisecond, PerSecond: 26074.73, Responses: 28698}, run)
	// A few connections cut at the end of the run are tolerated.
	few := strings.Replace(wrkOK, "Requests/sec", "  Socket errors: connect 0, read 12, write 0, timeout 0\nRequests/sec", 1)
	_, err = parseWrk(few)
	require.NoError(t, err)

	for name, out := range map[string]string{
		"no summary":    "unable to connect to 127.0.0.1:1 Connection refused\n",
		"socket errors": strings.Replace(wrkOK, "Requests/sec", "  Socket errors: connect 0, read 900, write 0, timeout 0\nRequests/sec", 1),
		"bad status":    strings.Replace(wrkOK, "Requests/sec", "  Non-2xx or 3xx responses: 7\nRequests/sec", 1),
		"none":          strings.Replace(wrkOK, "28698 requests", "0 requests", 1),
	} {
		_, err := parseWrk(out)
		assert.Error(t, err, name)
	}
}

func TestLoadArgs(t *testing.T) {
	for _, sc := range append(HTTPScenarios, ServeCmdScenario) {
		tool, args, err := sc.loadArgs("127.0.0.1:1", 1500*time.Millisecond)
		require.NoError(t, err, sc.Name)
		assert.Equal(t, sc.Tool, tool)
		assert.Equal(t, "https://127.0.0.1:1"+sc.Path(), args[len(args)-1])
		assert.Equal(t, sc.Close, strings.Contains(strings.Join(args, " "), "Connection: close"), sc.Name)
		assert.Contains(t, args, "2s", "runs last whole seconds")
	}
	_, args, err := HTTPScenarios[0].loadArgs("a:1", 100*time.Millisecond)
	require.NoError(t, err)
	assert.Contains(t, args, "1s", "at least one second")
	_, _, err = HTTPScenario{Tool: "h2load", Close: true}.loadArgs("a:1", time.Second)
	require.Error(t, err)
	_, _, err = HTTPScenario{Tool: "ab"}.loadArgs("a:1", time.Second)
	require.ErrorContains(t, err, "unknown load generator")
}

func TestCheckHTTPStats(t *testing.T) {
	h2 := HTTPScenario{Tool: "h2load", Resume: true}
	h1 := HTTPScenario{Tool: "wrk", Close: true}
	zero := HTTPStats{}
	require.NoError(t, checkHTTPStats(h2, zero, HTTPStats{Requests: 10, HTTP2: 10, Resumed: 3}))
	require.NoError(t, checkHTTPStats(h1, HTTPStats{Requests: 5, HTTP2: 5}, HTTPStats{Requests: 9, HTTP2: 5}))
	require.ErrorContains(t, checkHTTPStats(h2, zero, zero), "no requests")
	require.ErrorContains(t, checkHTTPStats(h2, zero, HTTPStats{Requests: 10, HTTP2: 9}), "HTTP/2")
	require.ErrorContains(t, checkHTTPStats(h1, zero, HTTPStats{Requests: 10, HTTP2: 1}), "HTTP/1.1")
	require.ErrorContains(t, checkHTTPStats(h1, zero, HTTPStats{Requests: 10, Resumed: 1}), "resumption off")
}

func TestProcessCPU(t *testing.T) {
	c0, err := ProcessCPU(os.Getpid())
	require.NoError(t, err)
	// Spin until the CPU time moves (it counts in 10 ms ticks).
	deadline := time.Now().Add(10 * time.Second)
	c1 := c0
	for c1 == c0 && time.Now().Before(deadline) {
		for start := time.Now(); time.Since(start) < 20*time.Millisecond; {
		}
		c1, err = ProcessCPU(os.Getpid())
		require.NoError(t, err)
	}
	assert.Greater(t, c1, c0, "spinning shows in /proc/self/stat")
	_, err = ProcessCPU(-1)
	require.Error(t, err)
}
