package rustls_test

import (
	"context"
	"errors"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gorustls/gorustls/rustls"
)

// Attacks on the listeners of issue 13 (API consistency), through the
// public API only.

// tempError is a transient Accept failure as a net.Listener reports one:
// Temporary but not a timeout (net/http's Serve retries it).
type tempError struct{}

func (tempError) Error() string   { return "attack13: transient accept failure" }
func (tempError) Timeout() bool   { return false }
func (tempError) Temporary() bool { return true }

// flakyListener fails its first Accept with a tempError.
type flakyListener struct {
	net.Listener
	failed atomic.Bool
}

func (l *flakyListener) Accept() (net.Conn, error) {
	if !l.failed.Swap(true) {
		return nil, tempError{}
	}
	return l.Listener.Accept()
}

// acceptWithin runs accept on a goroutine and gives up after d.
func acceptWithin(t *testing.T, d time.Duration, accept func() (net.Conn, error)) (net.Conn, error, bool) {
	t.Helper()
	type res struct {
		c   net.Conn
		err error
	}
	ch := make(chan res, 1)
	go func() {
		c, err := accept()
		ch <- res{c, err}
	}()
	select {
	case r := <-ch:
		return r.c, r.err, true
	case <-time.After(d):
		return nil, nil, false
	}
}

// dialInBackground dials addr with ccfg and keeps the Stream open until
// the test ends.
func dialInBackground(t *testing.T, addr string, ccfg *rustls.ClientConfig) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	go func() {
		d := &rustls.Dialer{Config: ccfg, ServerName: "localhost"} // exampleConfigs' name
		s, err := d.DialStream(ctx, "tcp", addr)
		if err != nil {
			return
		}
		<-ctx.Done()
		_ = s.Close()
	}()
}

// A transient Accept failure of the inner listener (Temporary, not a
// timeout) must not end the Listener for good: net/http's Serve retries
// such an error, and a plain net.Listener serves the next client. Before
// the fix the accept loop stopped at the first such error and every later
// Accept returned it again, so http.Server.Serve spun on it forever.
func TestAttack13ListenerSurvivesTemporaryAcceptError(t *testing.T) {
	scfg, ccfg := exampleConfigs()
	defer scfg.Close()
	defer ccfg.Close()
	for _, tc := range []struct {
		name string
		ln   func(inner net.Listener) net.Listener
	}{
		{"Listener", func(inner net.Listener) net.Listener {
			return rustls.NewListener(inner, scfg, rustls.StreamOptions{})
		}},
		{"LazyListener", func(inner net.Listener) net.Listener {
			return rustls.NewLazyListener(inner, &rustls.LazyAcceptor{
				Choose: func(*rustls.ClientHello) (*rustls.ServerConfig, error) { return scfg, nil },
			})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inner, err := net.Listen("tcp", "127.0.0.1:0")
			require.NoError(t, err)
			ln := tc.ln(&flakyListener{Listener: inner})
			defer ln.Close()
			dialInBackground(t, ln.Addr().String(), ccfg)
			// Accept as net/http does: retry temporary errors.
			deadline := time.Now().Add(20 * time.Second)
			for time.Now().Before(deadline) {
				c, err, ok := acceptWithin(t, time.Until(deadline), ln.Accept)
				require.True(t, ok, "Accept hung")
				if err == nil {
					_, isStream := c.(*rustls.Stream)
					assert.True(t, isStream)
					_ = c.Close()
					return
				}
				var te interface{ Temporary() bool }
				require.True(t, errors.As(err, &te) && te.Temporary(), "Accept: %v", err)
				time.Sleep(10 * time.Millisecond)
			}
			t.Fatal("the listener never served the client after a transient Accept error")
		})
	}
}

// NewListener and NewLazyListener with a nil inner listener are careless
// input: Accept reports it, and Close and Addr must not panic either.
func TestAttack13NilInnerListenerDoesNotPanic(t *testing.T) {
	scfg, ccfg := exampleConfigs()
	defer scfg.Close()
	defer ccfg.Close()
	lns := map[string]net.Listener{
		"Listener":          rustls.NewListener(nil, scfg, rustls.StreamOptions{}),
		"LazyListener":      rustls.NewLazyListener(nil, &rustls.LazyAcceptor{}),
		"zero Listener":     &rustls.Listener{},
		"zero LazyListener": &rustls.LazyListener{},
	}
	for name, ln := range lns {
		t.Run(name, func(t *testing.T) {
			_, err := ln.Accept()
			assert.ErrorIs(t, err, rustls.ErrInvalidInput)
			assert.NotPanics(t, func() { _ = ln.Addr() }, "Addr")
			assert.NotPanics(t, func() { _ = ln.Close() }, "Close")
		})
	}
}

// A LazyListener without Choose can serve nobody: like a Listener whose
// config is closed, its Accept must say so instead of blocking forever
// while every client is silently refused.
func TestAttack13LazyListenerWithoutChooseFailsAccept(t *testing.T) {
	scfg, ccfg := exampleConfigs()
	defer scfg.Close()
	defer ccfg.Close()
	for name, la := range map[string]*rustls.LazyAcceptor{
		"nil LazyAcceptor": nil,
		"nil Choose":       {},
	} {
		t.Run(name, func(t *testing.T) {
			inner, err := net.Listen("tcp", "127.0.0.1:0")
			require.NoError(t, err)
			ln := rustls.NewLazyListener(inner, la)
			defer ln.Close()
			dialInBackground(t, ln.Addr().String(), ccfg)
			c, err, ok := acceptWithin(t, 20*time.Second, ln.Accept)
			require.True(t, ok, "Accept blocked forever on a LazyListener that can serve nobody")
			assert.Nil(t, c)
			assert.ErrorIs(t, err, rustls.ErrInvalidInput)
		})
	}
}
