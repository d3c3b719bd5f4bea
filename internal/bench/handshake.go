package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Handshaker runs handshakes of one stack with client and server in this
// process, over loopback TCP connections to one listener. Dial (making the
// TCP connection) and Finish (a one-byte exchange and close) are kept apart
// from Handshake so that callers time only the handshake.
type Handshaker struct {
	ctx context.Context
	ep  *Endpoints
	ln  net.Listener
}

// NewHandshaker listens on a loopback port for ep's handshakes.
func NewHandshaker(ctx context.Context, ep *Endpoints) (*Handshaker, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	return &Handshaker{ctx: ctx, ep: ep, ln: ln}, nil
}

// Close stops listening.
func (h *Handshaker) Close() error { return h.ln.Close() }

// Dial makes a fresh TCP connection and returns both ends.
func (h *Handshaker) Dial() (client, server net.Conn, err error) { return dialAccept(h.ln) }

// Handshake runs both sides' handshakes over a Dial's connection.
func (h *Handshaker) Handshake(cc, sc net.Conn) (client, server Conn, err error) {
	return handshakeBoth(h.ctx, h.ep, cc, sc)
}

// Finish has the server send one byte (after any session tickets) and the
// client read it, so that the client keeps what it needs to resume; then it
// closes both and reports whether the handshake resumed a session.
func Finish(client, server Conn) (resumed bool, err error) {
	resumed = client.ConnectionState().DidResume
	if _, err = server.Write([]byte{1}); err == nil {
		err = server.Flush()
	}
	var b [1]byte
	if err == nil {
		_ = client.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, err = io.ReadFull(client, b[:])
	}
	_ = client.Close()
	_ = server.Close()
	return resumed, err
}

// HandshakeRun is the outcome of a series of handshakes.
type HandshakeRun struct {
	N       int
	Resumed int
	Elapsed time.Duration // time spent in the handshakes themselves
}

// PerSecond returns handshakes per second.
func (r HandshakeRun) PerSecond() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.N) / r.Elapsed.Seconds()
}

// Run performs handshakes until their summed duration reaches d (at least
// one), timing only the handshakes.
func (h *Handshaker) Run(d time.Duration) (HandshakeRun, error) {
	var r HandshakeRun
	for r.N == 0 || r.Elapsed < d {
		cc, sc, err := h.Dial()
		if err != nil {
			return r, err
		}
		start := time.Now()
		c, s, err := h.Handshake(cc, sc)
		r.Elapsed += time.Since(start)
		if err != nil {
			return r, err
		}
		resumed, err := Finish(c, s)
		if err != nil {
			return r, fmt.Errorf("after handshake: %w", err)
		}
		r.N++
		if resumed {
			r.Resumed++
		}
	}
	return r, nil
}

// ClientLoad connects to a handshake server in another process (see
// ServeHandshakes) from conc goroutines for duration d. Each connection
// is a handshake, a one-byte read and a close; the count and the wall
// time are returned.
func ClientLoad(ctx context.Context, ep *Endpoints, addr string, conc int, d time.Duration) (HandshakeRun, error) {
	var n, resumed atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, conc)
	start := time.Now()
	deadline := start.Add(d)
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var b [1]byte
			for time.Now().Before(deadline) {
				raw, err := net.Dial("tcp", addr)
				if err != nil {
					errs <- err
					return
				}
				c, err := ep.Client(ctx, raw)
				if err != nil {
					errs <- fmt.Errorf("client handshake: %w", err)
					return
				}
				_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
				if _, err := io.ReadFull(c, b[:]); err != nil {
					_ = c.Close()
					errs <- fmt.Errorf("client read: %w", err)
					return
				}
				if c.ConnectionState().DidResume {
					resumed.Add(1)
				}
				_ = c.Close()
				n.Add(1)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(errs)
	var all []error
	for e := range errs {
		all = append(all, e)
	}
	return HandshakeRun{N: int(n.Load()), Resumed: int(resumed.Load()), Elapsed: elapsed}, errors.Join(all...)
}

// ServeHandshakes accepts connections on ln until it is closed: each gets
// a server handshake, one byte written, then is read until the client
// closes. It is the server half of ClientLoad, run in another process.
func ServeHandshakes(ctx context.Context, ep *Endpoints, ln net.Listener) error {
	for {
		raw, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			return err
		}
		go func() {
			s, err := ep.Server(ctx, raw)
			if err != nil {
				return
			}
			defer s.Close()
			if _, err := s.Write([]byte{1}); err != nil {
				return
			}
			if err := s.Flush(); err != nil {
				return
			}
			_ = s.SetReadDeadline(time.Now().Add(30 * time.Second))
			var b [64]byte
			for {
				if _, err := s.Read(b[:]); err != nil {
					return
				}
			}
		}()
	}
}
