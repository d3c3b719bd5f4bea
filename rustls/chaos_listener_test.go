package rustls

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// chaosListeners: a Listener and a LazyListener serve good clients (gorustls
// and crypto/tls) among silent ones, ones that reset halfway through the
// ClientHello, send garbage, reset right after the handshake or ask for a
// name the LazyListener refuses; then both listeners are closed while
// handshakes are still in flight. Good clients are served, bad ones are
// dropped within the handshake timeout, and every goroutine ends.
func (r *chaosRun) chaosListeners() {
	t := r.t
	scfg, ccfg := serverConfig(t, nil), clientConfig(t, nil)
	gcli := goTLSClientConfig(t)
	hello := captureClientHello(t)
	// Long enough for a good client's handshake on a loaded machine under
	// the race detector; silent clients wait it out.
	const hsTimeout = time.Second
	plain, err := Listen("tcp", "127.0.0.1:0", scfg, StreamOptions{HandshakeTimeout: hsTimeout})
	if err != nil {
		t.Fatal(err)
	}
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	lazy := NewLazyListener(inner, &LazyAcceptor{
		Choose: func(h *ClientHello) (*ServerConfig, error) {
			if h.ServerName == "refused.test" {
				return nil, errors.New("no site by that name")
			}
			return scfg, nil
		},
		Options: StreamOptions{HandshakeTimeout: hsTimeout},
	})
	var lazyErrs atomic.Int64
	lazy.Logger = slog.New(funcHandler(func(slog.Record) { lazyErrs.Add(1) }))
	listeners := []net.Listener{plain, lazy}
	var srv sync.WaitGroup
	for i, ln := range listeners {
		r.serveLines(&srv, fmt.Sprintf("listener %d", i), ln)
	}

	kinds := []string{"rustls", "gotls", "silent", "half-hello-reset", "garbage", "reset-after-handshake", "refused-name"}
	var counts [7]atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < r.n(6, 2); w++ {
		r.goWG(&wg, "listener client", func() {
			rng := r.rng(1, uint64(w))
			for i := 0; i < r.n(10, 4); i++ {
				k := rng.IntN(len(kinds))
				addr := listeners[rng.IntN(2)].Addr().String()
				what := fmt.Sprintf("listener client %d.%d (%s to %s)", w, i, kinds[k], addr)
				if r.listenerClient(what, kinds[k], addr, ccfg, gcli, hello, hsTimeout) {
					counts[k].Add(1)
				}
			}
		})
	}
	r.wait(&wg, 3*time.Minute, "listener clients")

	// Close both listeners with handshakes in flight.
	var stragglers []net.Conn
	for i := 0; i < r.n(6, 2); i++ {
		for _, ln := range listeners {
			if c, err := net.Dial("tcp", ln.Addr().String()); err == nil {
				if i%2 == 1 {
					_, _ = c.Write(hello[:len(hello)/2])
				}
				stragglers = append(stragglers, c)
			}
		}
	}
	time.Sleep(20 * time.Millisecond)
	var closers sync.WaitGroup
	for i, ln := range listeners {
		r.goWG(&closers, "listener Close", func() {
			if err := ln.Close(); err != nil {
				r.failf("listener %d Close: %v", i, err)
			}
		})
	}
	r.wait(&closers, 15*time.Second, "listener Close with handshakes in flight")
	for _, c := range stragglers {
		c.Close()
	}
	r.wait(&srv, 30*time.Second, "listener accept loops and connections")
	t.Logf("listeners: clients that behaved as planned per kind %v: %v; LazyListener reported %d failed handshakes",
		kinds, loadAll(counts[:]), lazyErrs.Load())
}

func loadAll(xs []atomic.Int64) []int64 {
	out := make([]int64, len(xs))
	for i := range xs {
		out[i] = xs[i].Load()
	}
	return out
}

// checkedConn runs a server connection's I/O through chaosRun.call.
type checkedConn struct {
	net.Conn
	r    *chaosRun
	what string
}

func (c checkedConn) Read(p []byte) (n int, err error) {
	err = c.r.call(c.what+" Read", func() error { n, err = c.Conn.Read(p); return err })
	return n, err
}

func (c checkedConn) Write(p []byte) (n int, err error) {
	err = c.r.call(c.what+" Write", func() error { n, err = c.Conn.Write(p); return err })
	return n, err
}

// serveLines accepts from ln until it is closed and echoes lines.
func (r *chaosRun) serveLines(wg *sync.WaitGroup, what string, ln net.Listener) {
	r.goWG(wg, what+" accept loop", func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				if !errors.Is(err, net.ErrClosed) {
					r.failf("%s Accept: %v", what, err)
				}
				return
			}
			r.goWG(wg, what+" connection", func() {
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(15 * time.Second))
				cc := checkedConn{Conn: c, r: r, what: what}
				br := bufio.NewReader(cc)
				for {
					line, err := br.ReadString('\n')
					if err != nil {
						return
					}
					if _, err := cc.Write([]byte(line)); err != nil {
						return
					}
				}
			})
		}
	})
}

// listenerClient plays one client of the given kind and reports whether
// it went as it must; a good client that is not served is a failure.
func (r *chaosRun) listenerClient(what, kind, addr string, ccfg *ClientConfig, gcli *tls.Config, hello []byte, hsTimeout time.Duration) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	line := what + "\n"
	switch kind {
	case "rustls", "gotls", "reset-after-handshake":
		var c net.Conn
		var err error
		if kind == "gotls" {
			d := tls.Dialer{Config: gcli}
			c, err = d.DialContext(ctx, "tcp", addr)
		} else {
			err = r.call(what+" dial", func() error {
				var err error
				c, err = (&Dialer{Config: ccfg, ServerName: "localhost"}).DialContext(ctx, "tcp", addr)
				return err
			})
		}
		if err != nil {
			r.failf("%s: a good client was not served: %v", what, err)
			return false
		}
		defer c.Close()
		if kind == "reset-after-handshake" {
			resetConn(c.(*Stream).NetConn())
			return true
		}
		_ = c.SetDeadline(time.Now().Add(20 * time.Second))
		if _, err := c.Write([]byte(line)); err != nil {
			r.failf("%s: Write: %v", what, err)
			return false
		}
		got, err := bufio.NewReader(c).ReadString('\n')
		if err != nil || got != line {
			r.failf("%s: echo: got %q, %v", what, got, err)
			return false
		}
		return true
	case "refused-name":
		_, err := (&Dialer{Config: ccfg, ServerName: "refused.test"}).DialContext(ctx, "tcp", addr)
		var e *Error
		if !errors.As(err, &e) {
			r.failf("%s: want a typed refusal, got %T %v", what, err, err)
			return false
		}
		return true
	}
	c, err := net.Dial("tcp", addr)
	if err != nil {
		r.failf("%s: dial: %v", what, err)
		return false
	}
	defer c.Close()
	switch kind {
	case "half-hello-reset":
		_, _ = c.Write(hello[:len(hello)/2])
		time.Sleep(time.Duration(len(what)%5) * time.Millisecond)
		resetConn(c)
		return true
	case "garbage":
		_, _ = c.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
	}
	// Silent or garbage: the server must drop us within its handshake
	// timeout (allow a wide margin for a loaded machine).
	bound := 10*time.Second + hsTimeout
	_ = c.SetReadDeadline(time.Now().Add(bound))
	start := time.Now()
	_, err = io.Copy(io.Discard, c)
	if isTimeout(err) {
		r.failf("%s: the server kept the connection open for %v", what, time.Since(start))
		return false
	}
	return true
}
