package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// binary is the gorustls command built once for the tests, with
// buildTags (set for the ring provider build).
var (
	binary    string
	buildTags []string
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "gorustls-cli-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "gorustls")
	build := exec.Command("go", append(append([]string{"build"}, buildTags...), "-o", binary, ".")...)
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building gorustls:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// result is one finished run of the command.
type result struct {
	stdout, stderr string
	code           int
}

// runCLI runs the command with stdin and returns what it printed and its
// exit status, bounded by 30 seconds.
func runCLI(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	require.NoError(t, ctx.Err(), "gorustls %v did not finish", args)
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else {
		require.NoError(t, err)
	}
	return result{out.String(), errb.String(), code}
}

// server is a running `gorustls serve`.
type server struct {
	addr   string
	cmd    *exec.Cmd
	mu     sync.Mutex
	stderr bytes.Buffer
	done   chan struct{}
}

var listeningRE = regexp.MustCompile(`msg=listening addr=(\S+)`)

// startServe starts `gorustls serve -addr 127.0.0.1:0 args...` and waits
// until it listens. It is stopped with SIGTERM at the end of the test.
func startServe(t *testing.T, args ...string) *server {
	t.Helper()
	cmd := exec.Command(binary, append([]string{"serve", "-addr", "127.0.0.1:0"}, args...)...)
	pipe, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	s := &server{cmd: cmd, done: make(chan struct{})}
	addrCh := make(chan string, 1)
	go func() {
		defer close(s.done)
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			line := sc.Text()
			s.mu.Lock()
			s.stderr.WriteString(line + "\n")
			s.mu.Unlock()
			if m := listeningRE.FindStringSubmatch(line); m != nil {
				addrCh <- m[1]
			}
		}
	}()
	select {
	case s.addr = <-addrCh:
	case <-s.done:
		_ = cmd.Wait()
		t.Fatalf("serve exited early: %s", s.log())
	case <-time.After(20 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("serve did not start")
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	return s
}

func (s *server) log() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stderr.String()
}

// stop sends SIGTERM and returns the exit status.
func (s *server) stop(t *testing.T) int {
	t.Helper()
	require.NoError(t, s.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case <-s.done:
	case <-time.After(20 * time.Second):
		_ = s.cmd.Process.Kill()
		t.Fatal("serve ignored SIGTERM")
	}
	err := s.cmd.Wait()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	require.NoError(t, err)
	return 0
}

func writeTestFile(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(p, data, 0o600))
	return p
}

func TestServeEchoAndConnect(t *testing.T) {
	ca := filepath.Join(t.TempDir(), "ca.pem")
	keylog := filepath.Join(t.TempDir(), "keys.log")
	srv := startServe(t, "-write-ca", ca, "-mode", "echo", "-alpn", "echo,other")

	r := runCLI(t, "hello\nworld\n", "connect", "-ca", ca, "-alpn", "echo", "-keylog", keylog, srv.addr)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, "hello\nworld\n", r.stdout)
	assert.Contains(t, r.stderr, "TLS 1.3")
	assert.Contains(t, r.stderr, "ALPN:          echo")
	assert.Contains(t, r.stderr, "DNS:localhost")
	kl, err := os.ReadFile(keylog)
	require.NoError(t, err)
	assert.Contains(t, string(kl), "CLIENT_TRAFFIC_SECRET_0 ")

	r = runCLI(t, "v12\n", "connect", "-ca", ca, "-versions", "1.2", "-servername", "localhost", srv.addr)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, "v12\n", r.stdout)
	assert.Contains(t, r.stderr, "TLS 1.2")

	assert.Equal(t, 0, srv.stop(t))
	log := srv.log()
	assert.Contains(t, log, `level=INFO msg=handshake remote=127.0.0.1:`)
	assert.Contains(t, log, `version="TLS 1.3"`)
	assert.Contains(t, log, "alpn=echo sni=(none)")
	assert.Contains(t, log, "alpn=(none) sni=localhost")
	assert.Contains(t, log, `msg="shutting down"`)
}

func TestServeHTTPAndGet(t *testing.T) {
	ca := filepath.Join(t.TempDir(), "ca.pem")
	srv := startServe(t, "-write-ca", ca, "-mode", "http")
	url := "https://" + srv.addr

	r := runCLI(t, "", "get", "-ca", ca, url+"/bytes/123457")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Len(t, r.stdout, 123457)

	r = runCLI(t, "", "get", "-v", "-ca", ca, url+"/")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "protocol:     HTTP/2.0")
	assert.Contains(t, r.stderr, "< HTTP/2.0 200 OK")
	assert.Contains(t, r.stderr, "ALPN:          h2")

	r = runCLI(t, "", "get", "-v", "-alpn", "http/1.1", "-ca", ca, url+"/")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "protocol:     HTTP/1.1")

	_, port, _ := strings.Cut(srv.addr, ":")
	r = runCLI(t, "", "get", "-servername", "localhost", "-ca", ca, "https://127.0.0.1:"+port+"/")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "SNI:          localhost")

	r = runCLI(t, "", "get", "-ca", ca, url+"/missing")
	assert.NotEqual(t, 0, r.code)
	assert.Contains(t, r.stderr, "404")

	// No -ca: the system roots do not know the throw-away CA.
	r = runCLI(t, "", "get", url+"/")
	assert.NotEqual(t, 0, r.code)
	assert.Contains(t, r.stderr, "certificate")

	assert.Equal(t, 0, srv.stop(t))
	assert.Contains(t, srv.log(), "alpn=h2")
	assert.Contains(t, srv.log(), "alpn=http/1.1")
}

func TestServeMutualTLSAndSNI(t *testing.T) {
	ca, err := newMemCA("cli test CA")
	require.NoError(t, err)
	a, err := ca.leaf(false, "a.test")
	require.NoError(t, err)
	b, err := ca.leaf(false, "b.test")
	require.NoError(t, err)
	cl, err := ca.leaf(true, "cli client")
	require.NoError(t, err)
	caFile := writeTestFile(t, "ca.pem", ca.pem)
	srv := startServe(t,
		"-cert", writeTestFile(t, "a.pem", a.certPEM), "-key", writeTestFile(t, "a.key", a.keyPEM),
		"-cert", writeTestFile(t, "b.pem", b.certPEM), "-key", writeTestFile(t, "b.key", b.keyPEM),
		"-client-ca", caFile, "-client-auth", "required")
	certFile, keyFile := writeTestFile(t, "c.pem", cl.certPEM), writeTestFile(t, "c.key", cl.keyPEM)

	for _, name := range []string{"a.test", "b.test"} {
		r := runCLI(t, "mtls\n", "connect", "-ca", caFile, "-cert", certFile, "-key", keyFile, "-servername", name, srv.addr)
		require.Equal(t, 0, r.code, r.stderr)
		assert.Equal(t, "mtls\n", r.stdout)
		assert.Contains(t, r.stderr, "DNS:"+name)
	}
	r := runCLI(t, "no cert\n", "connect", "-ca", caFile, "-servername", "a.test", srv.addr)
	assert.NotEqual(t, 0, r.code)
	assert.Contains(t, strings.ToLower(r.stderr), "certificate")
	assert.Equal(t, 0, srv.stop(t))
}

func TestServeDiscard(t *testing.T) {
	ca := filepath.Join(t.TempDir(), "ca.pem")
	srv := startServe(t, "-write-ca", ca, "-mode", "discard", "-versions", "1.3")
	r := runCLI(t, strings.Repeat("data that goes nowhere\n", 1000), "connect", "-q", "-ca", ca, srv.addr)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Empty(t, r.stdout)
	assert.Empty(t, r.stderr)
	r = runCLI(t, "", "connect", "-ca", ca, "-versions", "1.2", srv.addr)
	assert.NotEqual(t, 0, r.code, "a TLS 1.3-only server refuses a TLS 1.2 client")
	assert.Equal(t, 0, srv.stop(t))
}

func TestDemo(t *testing.T) {
	r := runCLI(t, "", "demo")
	require.Equal(t, 0, r.code, r.stderr+r.stdout)
	for _, want := range []string{"HTTP/2 GET", "200 HTTP/2.0", "200 HTTP/1.1", "client=demo client", "served cert for a.demo",
		"UnrecognisedName", "truncation caught", "crypto/tls client: 200 HTTP/2.0"} {
		assert.Contains(t, r.stdout, want)
	}
	// Without a client certificate the request fails. Which error the client
	// sees depends on a race the peers do not control: the server's
	// CertificateRequired alert, or a reset when the client's request lands
	// after the server closed (the kernel then drops the unread alert).
	for _, line := range strings.Split(r.stdout, "\n") {
		if strings.HasPrefix(line, "mTLS without cert") {
			assert.Contains(t, line, "error:", line)
			assert.Regexp(t, `CertificateRequired|reset|broken pipe|EOF`, line)
		}
	}
}

func TestBadUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"serve", "-client-auth", "bogus"}, "-client-auth"},
		{[]string{"serve", "-client-auth", "required"}, "-client-ca"},
		{[]string{"serve", "-mode", "bogus"}, "-mode"},
		{[]string{"serve", "-cert", "x.pem"}, "-key"},
		{[]string{"serve", "-versions", "1.1"}, "1.1"},
		{[]string{"connect"}, "usage"},
		{[]string{"connect", "no-port"}, "HOST:PORT"},
		{[]string{"connect", "-cert", "only.pem", "127.0.0.1:1"}, "-key"},
		{[]string{"get", "http://example.test/"}, "https"},
		// (Each serve case would fail on the missing files, or serve, if
		// its flags were not refused first.)
		{[]string{"serve", "-addr", "127.0.0.1:0", "-client-auth", "none", "-client-ca", "ca.pem", "-cert", "no.pem", "-key", "no.key"}, "-client-ca"},
		{[]string{"serve", "-addr", "127.0.0.1:0", "-mode", "http", "-alpn", "h2,acme-tls/1", "-cert", "no.pem", "-key", "no.key"}, "acme-tls/1"},
		{[]string{"serve", "-addr", "127.0.0.1:0", "-addr", "127.0.0.1:99999"}, "-addr"},
		{[]string{"connect", "-servername", "a.test", "-servername", "b.test", "127.0.0.1:1"}, "-servername"},
		{[]string{"get", "-timeout", "-1s", "https://127.0.0.1:1/"}, "-timeout"},
		{[]string{"get", "-max-time", "-1s", "https://127.0.0.1:1/"}, "-max-time"},
		{[]string{"get", "-alpn", "h2,acme-tls/1", "https://127.0.0.1:1/"}, "acme-tls/1"},
		{[]string{"nosuchcommand"}, "unknown command"},
	} {
		r := runCLI(t, "", tc.args...)
		assert.NotEqual(t, 0, r.code, "%v", tc.args)
		assert.Contains(t, r.stderr, tc.want, "%v", tc.args)
	}
	r := runCLI(t, "", "connect", "-ca", writeTestFile(t, "empty.pem", nil), "127.0.0.1:1")
	assert.NotEqual(t, 0, r.code)
}

func readPool(name string) (*x509.CertPool, error) {
	b, err := os.ReadFile(name)
	if err != nil {
		return nil, err
	}
	p := x509.NewCertPool()
	if !p.AppendCertsFromPEM(b) {
		return nil, errors.New("no certificate in " + name)
	}
	return p, nil
}
