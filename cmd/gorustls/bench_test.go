package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBenchRegistered(t *testing.T) {
	c, ok := commands["bench"]
	require.True(t, ok)
	assert.NotEmpty(t, c.summary)
}

func TestBenchFlagErrors(t *testing.T) {
	err := runBench([]string{"-plot", "chart.gif"})
	require.ErrorContains(t, err, ".png or .svg")
	err = runBench([]string{"extra"})
	require.ErrorContains(t, err, "unexpected arguments")
	err = runBench([]string{"-no-such-flag"})
	require.Error(t, err)
	require.ErrorContains(t, runBench([]string{"-reps", "-1"}), "must not be negative")
	require.ErrorContains(t, runBench([]string{"-http-time", "-1s"}), "must not be negative")
}

// TestBenchHTTP runs the http group end to end, one short round: the
// servers in child processes, h2load and wrk against them, the serve
// command against the library server, and the Markdown report.
func TestBenchHTTP(t *testing.T) {
	for _, tool := range []string{"h2load", "wrk"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s missing (build/install-deps.sh bench installs the load generators)", tool)
		}
	}
	md := filepath.Join(t.TempDir(), "http.md")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, "bench", "-quick", "-only", "http", "-reps", "1", "-http-time", "1s", "-markdown", md)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	require.NoError(t, cmd.Run(), "stderr:\n%s", errb.String())
	b, err := os.ReadFile(md)
	require.NoError(t, err)
	report := string(b)
	for _, row := range []string{
		"| http | HTTP/2, 64 B responses, h2load 32 conns x 10 streams | requests/s |",
		"| http | HTTP/1.1 keep-alive, 64 KiB responses, wrk 32 conns | requests/s |",
		"| http-cpu | HTTP/1.1, new TLS connection per request (Connection: close), full handshakes, wrk 32 conns | server CPU us/req |",
		"| http-serve | gorustls serve -mode http vs rustlshttp.Server, HTTP/2, 64 B responses",
		"handshakes resumed",
		"h2load nghttp2/",
	} {
		assert.Contains(t, report, row)
	}
	assert.Contains(t, out.String(), "http-serve-cpu")
}

func TestBenchStacks(t *testing.T) {
	for _, prov := range []string{"default", "ring-aes-gcm"} {
		s, err := benchStacks(prov)
		require.NoError(t, err)
		require.Len(t, s, 2)
		assert.Equal(t, "gorustls", s[0].Name)
		assert.Equal(t, "crypto/tls", s[1].Name)
		assert.NotNil(t, s[0].Calls, "gorustls counts its C calls")
	}
	_, err := benchStacks("openssl")
	require.ErrorContains(t, err, "ring-aes-gcm")
	require.ErrorContains(t, runBench([]string{"-provider", "nope"}), "want default or ring-aes-gcm")
	require.ErrorContains(t, runBench([]string{"-only", "bulk,nope"}), `unknown workload group "nope"`)
}

func TestWriteFile(t *testing.T) {
	name := filepath.Join(t.TempDir(), "out.md")
	require.NoError(t, writeFile(name, func(w io.Writer) error {
		_, err := io.WriteString(w, "table")
		return err
	}))
	b, err := os.ReadFile(name)
	require.NoError(t, err)
	assert.True(t, bytes.Equal(b, []byte("table")))
	boom := errors.New("boom")
	require.ErrorIs(t, writeFile(name, func(io.Writer) error { return boom }), boom)
	require.Error(t, writeFile(filepath.Join(t.TempDir(), "missing", "x.md"), func(io.Writer) error { return nil }))
}
