package interop

import (
	"bytes"
	"context"
	"io"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// peerTimeout bounds every peer process.
const peerTimeout = 20 * time.Second

// syncBuf is a bytes.Buffer safe for a writer process and a polling test.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuf) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuf) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// peer is one openssl/gnutls/curl process.
type peer struct {
	t     testing.TB
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *syncBuf // stdout and stderr, unless stdout was redirected
	done  chan struct{}
	err   error
}

type peerSpec struct {
	args   []string  // program then arguments
	dir    string    // working directory
	stdin  bool      // keep a pipe to stdin
	stdout io.Writer // stdout goes here instead of out
}

// startPeer runs a peer, bounded by peerTimeout and killed when the test ends.
func startPeer(t testing.TB, s peerSpec) *peer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), peerTimeout)
	cmd := exec.CommandContext(ctx, s.args[0], s.args[1:]...)
	cmd.Dir = s.dir
	cmd.WaitDelay = 2 * time.Second
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	p := &peer{t: t, cmd: cmd, out: &syncBuf{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	if s.stdout != nil {
		cmd.Stdout = s.stdout
	}
	if s.stdin {
		w, err := cmd.StdinPipe()
		require.NoError(t, err)
		p.stdin = w
	}
	require.NoError(t, cmd.Start(), "start %s", s.args[0])
	go func() {
		p.err = cmd.Wait()
		cancel()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.kill()
		<-p.done
		if t.Failed() {
			t.Logf("%s output:\n%s", strings.Join(s.args, " "), tail(p.out.String(), 3000))
		}
	})
	return p
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// kill ends the peer (SIGKILL): its sockets close without close_notify.
func (p *peer) kill() {
	if p.cmd.Process != nil {
		_ = p.cmd.Process.Kill()
	}
}

// send writes to the peer's stdin.
func (p *peer) send(s string) {
	_, err := io.WriteString(p.stdin, s)
	require.NoError(p.t, err)
}

// waitOut waits until the output contains every one of subs.
func (p *peer) waitOut(timeout time.Duration, subs ...string) bool {
	deadline := time.Now().Add(timeout)
	for {
		out := p.out.String()
		all := true
		for _, s := range subs {
			if !strings.Contains(out, s) {
				all = false
				break
			}
		}
		if all {
			return true
		}
		select {
		case <-p.done:
			out = p.out.String()
			for _, s := range subs {
				if !strings.Contains(out, s) {
					return false
				}
			}
			return true
		default:
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// requireOut fails the test unless the output comes to contain every sub.
func (p *peer) requireOut(subs ...string) {
	p.t.Helper()
	require.True(p.t, p.waitOut(15*time.Second, subs...), "peer output lacks %q:\n%s", subs, tail(p.out.String(), 3000))
}

// wait waits for the peer to exit and returns its error.
func (p *peer) wait(timeout time.Duration) (error, bool) {
	select {
	case <-p.done:
		return p.err, true
	case <-time.After(timeout):
		return nil, false
	}
}

// requireExit waits for the peer's exit and checks its success.
func (p *peer) requireExit(ok bool) {
	p.t.Helper()
	err, exited := p.wait(15 * time.Second)
	require.True(p.t, exited, "peer did not exit:\n%s", tail(p.out.String(), 3000))
	if ok {
		require.NoError(p.t, err, "peer failed:\n%s", tail(p.out.String(), 3000))
	} else {
		require.Error(p.t, err, "peer succeeded unexpectedly:\n%s", tail(p.out.String(), 3000))
	}
}

// freePort returns a loopback port that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := ln.Addr().(*net.TCPAddr).Port
	require.NoError(t, ln.Close())
	return port
}

// startServerPeer starts a server peer on a fresh port and waits until it
// prints ready. It retries on another port if the first was taken.
func startServerPeer(t testing.TB, ready string, mk func(port int) peerSpec) (*peer, string) {
	t.Helper()
	for attempt := 0; ; attempt++ {
		port := freePort(t)
		p := startPeer(t, mk(port))
		if p.waitOut(10*time.Second, ready) {
			select {
			case <-p.done:
			default:
				return p, "127.0.0.1:" + strconv.Itoa(port)
			}
		}
		p.kill()
		require.Less(t, attempt, 2, "server peer did not start:\n%s", tail(p.out.String(), 3000))
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
