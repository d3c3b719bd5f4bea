package rustls

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestAttack12CallbackGoexit: a user callback that ends its goroutine
// with runtime.Goexit (what t.FailNow or t.Fatal do inside a callback)
// must not unwind that goroutine through rustls's frames (Rust frames
// skipped without their destructors; under ASan the next C call on that
// thread then trips over the stale stack state). The handshake fails,
// within its context, with the callback's *PanicError saying so, and the
// config stays usable: later handshakes, from goroutines that may reuse
// the dead one's descriptor, succeed. Run it under -asan too.
//
// The parked goroutine and its leaked C connection stay for the life of
// the process, so the test runs in a process of its own (the leak tests
// count live C connections).
func TestAttack12CallbackGoexit(t *testing.T) {
	if os.Getenv("GORUSTLS_TEST_GOEXIT_CHILD") != "1" {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestAttack12CallbackGoexit$", "-test.count=1", "-test.v")
		cmd.Env = append(os.Environ(), "GORUSTLS_TEST_GOEXIT_CHILD=1")
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "child test process:\n%s", out)
		require.Contains(t, string(out), "--- PASS: TestAttack12CallbackGoexit", "child test process:\n%s", out)
		return
	}
	_, srv, _ := pki(t)
	key := srv.certifiedKey(t)
	var calls atomic.Int32
	scfg := serverConfig(t, func(o *ServerOptions) {
		o.Certificates = nil
		o.GetCertificate = func(*ClientHello) (*CertifiedKey, error) {
			if calls.Add(1) == 1 {
				runtime.Goexit()
			}
			return key, nil
		}
	})
	ccfg := clientConfig(t, nil)

	handshake := func(bound time.Duration) (cerr, serr error) {
		cc, sc := tcpPair(t)
		ctx, cancel := context.WithTimeout(context.Background(), bound)
		defer cancel()
		done := make(chan error, 1)
		go func() {
			s, err := NewAcceptor(scfg, StreamOptions{}).Accept(ctx, sc)
			if err == nil {
				s.Close()
			}
			sc.Close()
			done <- err
		}()
		c, err := NewConnector(ccfg, StreamOptions{}).Connect(ctx, cc, "localhost")
		if err == nil {
			c.Close()
		}
		select {
		case serr = <-done:
		case <-time.After(bound + 10*time.Second):
			t.Fatal("server handshake never returned after a callback's Goexit")
		}
		return err, serr
	}
	_, serr := handshake(time.Second)
	require.Error(t, serr, "the handshake whose callback called Goexit")
	var p *PanicError
	require.True(t, errors.As(serr, &p), "want the callback's *PanicError, got %v", serr)
	assert.Equal(t, "GetCertificate", p.Callback)
	assert.True(t, strings.Contains(serr.Error(), "Goexit"), serr.Error())
	for i := range 5 {
		cerr, serr := handshake(20 * time.Second)
		require.NoError(t, cerr, "client handshake %d after the Goexit", i)
		require.NoError(t, serr, "server handshake %d after the Goexit", i)
	}
}
