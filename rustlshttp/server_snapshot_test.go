package rustlshttp

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorustls/gorustls/rustls"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The Server's fields are read at the first Serve: a change afterwards
// (Handler, OnHandshake, NextProto, even an entry of the NextProto map,
// Options, Lazy.Choose) is not seen, and under -race is no data race.
func TestServerFieldsSnapshotAtFirstServe(t *testing.T) {
	p := newPKI(t)
	cfg := p.serverConfig(t, "x-test", "h2", "http/1.1")
	var oldHandshakes, newHandshakes atomic.Int32
	say := func(word string) func(*rustls.Stream) {
		return func(s *rustls.Stream) { _, _ = io.WriteString(s, word); _ = s.Close() }
	}
	lazy := &rustls.LazyAcceptor{Choose: func(*rustls.ClientHello) (*rustls.ServerConfig, error) { return cfg, nil }}
	srv := &Server{
		Lazy:        lazy,
		Handler:     http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "old ", r.Proto) }),
		OnHandshake: func(*rustls.Stream) { oldHandshakes.Add(1) },
		NextProto:   map[string]func(*rustls.Stream){"x-test": say("old")},
	}
	_, url := startServer(t, srv)
	tr := NewTransport(p.clientConfig(t, "h2", "http/1.1"))
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr}
	_, body := get(t, c, url, "")
	require.Equal(t, "old HTTP/2.0", body)

	srv.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "new") })
	srv.OnHandshake = func(*rustls.Stream) { newHandshakes.Add(1) }
	srv.NextProto["x-test"] = say("new")
	srv.Options = rustls.StreamOptions{HandshakeTimeout: time.Nanosecond}
	lazy.Choose = func(*rustls.ClientHello) (*rustls.ServerConfig, error) { return nil, fmt.Errorf("new Choose") }
	srv.Lazy = nil
	srv.Config = nil

	tr.CloseIdleConnections()
	_, body = get(t, c, url, "")
	assert.Equal(t, "old HTTP/2.0", body, "a new connection sees the fields of the first Serve")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := rustls.DialContext(ctx, "tcp", strings.TrimPrefix(url, "https://"), p.clientConfig(t, "x-test"), rustls.StreamOptions{})
	require.NoError(t, err)
	defer s.Close()
	require.NoError(t, s.SetDeadline(time.Now().Add(10*time.Second)))
	got, _ := io.ReadAll(s)
	assert.Equal(t, "old", string(got), "NextProto is copied at the first Serve")
	assert.EqualValues(t, 3, oldHandshakes.Load())
	assert.Zero(t, newHandshakes.Load())
}

// A Lazy without Choose fails Serve with an error saying so.
func TestServerLazyWithoutChoose(t *testing.T) {
	srv := &Server{Lazy: &rustls.LazyAcceptor{}, Logger: slog.New(slog.DiscardHandler)}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err = <-done:
		require.Error(t, err)
		assert.Contains(t, err.Error(), "Lazy.Choose is nil")
	case <-time.After(10 * time.Second):
		_ = srv.Close()
		<-done
		t.Fatal("Serve accepted a Lazy without Choose")
	}
}
