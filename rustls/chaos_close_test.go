package rustls

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// Strict accounting where the scenario allows it: one writer whose write
// deadlines keep firing (set in the past, in a few milliseconds, cleared)
// from another goroutine, and closes with input the closing side never read.
// In both the peer must get exactly the bytes the Writes reported, in order,
// then io.EOF.

// chaosDeadlineAccounting: a gorustls writer under deadline storms against
// a slow reader (gorustls or crypto/tls). A Write that times out reports
// what it took; once the deadline is cleared, Flush and CloseWrite succeed
// and the reader gets every reported byte once, then io.EOF.
func (r *chaosRun) chaosDeadlineAccounting() {
	t := r.t
	scfg, ccfg := serverConfig(t, nil), clientConfig(t, nil)
	gsrv := goTLSServerConfig(t)
	pairer := newTCPPairer(t)
	defer pairer.close()
	var wg sync.WaitGroup
	for i := 0; i < r.n(4, 2); i++ {
		rng := r.rng(uint64(i))
		gotls := i%2 == 1
		opts := StreamOptions{WriteThrough: rng.IntN(2) == 0, BufferLimit: []int{0, 8192}[rng.IntN(2)]}
		what := fmt.Sprintf("deadline accounting %d (write-through %v, buffer limit %d, crypto/tls reader %v)",
			i, opts.WriteThrough, opts.BufferLimit, gotls)
		p := &chaosPair{name: what, tls13: true}
		kind := "rustls-rustls"
		if gotls {
			kind = "rustls-client-gotls-server"
		}
		if err := r.connectPair(p, kind, pairer, scfg, ccfg, gsrv, nil, opts, StreamOptions{}); err != nil {
			r.failf("%s: handshake: %v", what, err)
			continue
		}
		r.goWG(&wg, what, func() { r.deadlineStorm(what, p, uint64(i)) })
	}
	r.wait(&wg, 2*time.Minute, "deadline accounting pairs")
}

func (r *chaosRun) deadlineStorm(what string, p *chaosPair, id uint64) {
	w, rd := p.a, p.b
	s := w.s
	rd.recv.ordered = true
	stop := make(chan struct{})
	var aux, readers sync.WaitGroup
	r.writer(&aux, w, 0, stop, r.rng(id, 1))
	r.every(&aux, what+" flusher", stop, r.rng(id, 2), 5*time.Millisecond, func() bool {
		err := r.op(w, "Flush", s.Flush)
		return err == nil || isTimeout(err)
	})
	drng := r.rng(id, 3)
	r.every(&aux, what+" deadlines", stop, r.rng(id, 4), 4*time.Millisecond, func() bool {
		_ = r.op(w, "SetWriteDeadline", func() error {
			switch drng.IntN(4) {
			case 0:
				return s.SetWriteDeadline(time.Now().Add(-time.Second))
			case 1:
				return s.SetWriteDeadline(time.Now().Add(time.Duration(drng.IntN(3000)) * time.Microsecond))
			case 2:
				return s.SetDeadline(time.Now().Add(time.Duration(drng.IntN(3000)) * time.Microsecond))
			}
			return s.SetWriteDeadline(time.Time{})
		})
		return true
	})
	// The reader pauses now and then, so that the writer's socket fills
	// and deadlines fire in the middle of Writes.
	rrng := r.rng(id, 5)
	r.goWG(&readers, what+" reader", func() {
		buf := make([]byte, 64<<10)
		for {
			if rrng.IntN(8) == 0 {
				time.Sleep(time.Duration(rrng.IntN(20)) * time.Millisecond)
			}
			n, err := rd.conn().Read(buf[:1+rrng.IntN(len(buf))])
			rd.recv.take(r, what+" reader", buf[:n])
			if err == io.EOF {
				rd.sawEOF.Store(true)
				return
			}
			if err != nil {
				if !(rd.s != nil && isTimeout(err)) {
					r.failf("%s: the reader failed: %v", what, err)
					return
				}
			}
		}
	})
	time.Sleep(800 * time.Millisecond)
	close(stop)
	if !r.wait(&aux, 20*time.Second, what+": writer and helpers") {
		return
	}
	if err := r.op(w, "SetWriteDeadline", func() error { return s.SetDeadline(time.Time{}) }); err != nil {
		r.failf("%s: clearing the deadline: %v", what, err)
	}
	if err := r.op(w, "Flush", s.Flush); err != nil {
		r.failf("%s: Flush after the deadline was cleared: %v (a deadline must leave the stream usable)", what, err)
	}
	if err := r.op(w, "CloseWrite", s.CloseWrite); err != nil {
		r.failf("%s: CloseWrite after the deadline was cleared: %v", what, err)
	}
	ok := softWait(&readers, 20*time.Second)
	_ = w.conn().Close()
	_ = rd.conn().Close()
	_ = w.raw.Close()
	_ = rd.raw.Close()
	if !r.wait(&readers, 15*time.Second, what+": reader after Close") {
		return
	}
	sent, got := w.sent[0].Load(), rd.recv.count(0)
	switch {
	case !ok || !rd.sawEOF.Load():
		r.failf("%s: the reader did not reach io.EOF within 20s of CloseWrite (got %d of %d bytes)", what, got, sent)
	case got != sent:
		r.failf("%s: the reader got %d bytes then io.EOF, but the Writes reported %d", what, got, sent)
	}
}

// chaosCloseUnread: a side writes, then closes at once from one goroutine
// (no Write in progress, so Close sends close_notify) while input it never
// read sits in its socket: the peer's bytes (server case) or the TLS 1.3
// session tickets (client case: a client that writes and closes without
// reading). The peer reads slowly, so the closing side's socket still
// holds unsent data when Close returns. The peer must still read every
// byte, then io.EOF.
func (r *chaosRun) chaosCloseUnread() {
	t := r.t
	scfg, ccfg := serverConfig(t, nil), clientConfig(t, nil)
	gcli := goTLSClientConfig(t)
	pairer := newTCPPairer(t)
	defer pairer.close()
	cases := []string{"server closes with unread input", "client writes and closes without reading", "server closes with unread input, crypto/tls reader"}
	var wg sync.WaitGroup
	for i := 0; i < r.n(len(cases), len(cases)); i++ {
		c := cases[i%len(cases)]
		what := fmt.Sprintf("%s (%d)", c, i)
		kind := "rustls-rustls"
		if i%len(cases) == 2 {
			kind = "gotls-client-rustls-server"
		}
		p := &chaosPair{name: what, tls13: true}
		if err := r.connectPair(p, kind, pairer, scfg, ccfg, nil, gcli, StreamOptions{}, StreamOptions{}); err != nil {
			r.failf("%s: handshake: %v", what, err)
			continue
		}
		closer, reader := p.b, p.a
		if i%len(cases) == 1 {
			closer, reader = p.a, p.b
		}
		r.goWG(&wg, what, func() { r.closeUnread(what, closer, reader, i%len(cases) != 1) })
	}
	r.wait(&wg, 2*time.Minute, "close-with-unread-input pairs")
}

func (r *chaosRun) closeUnread(what string, closer, reader *chaosSide, peerWritesFirst bool) {
	const total = 4 << 20
	defer reader.conn().Close()
	defer closer.raw.Close()
	if peerWritesFirst {
		// Input the closing side will never read.
		if _, err := reader.conn().Write(chaosPayload(2, 0, 32<<10)); err != nil {
			r.failf("%s: the peer's write: %v", what, err)
			return
		}
		if reader.s != nil {
			_ = reader.s.Flush()
		}
		time.Sleep(20 * time.Millisecond)
	}
	reader.recv.ordered = true
	var wg sync.WaitGroup
	var readErr error
	r.goWG(&wg, what+" reader", func() {
		_ = reader.conn().SetReadDeadline(time.Now().Add(30 * time.Second))
		time.Sleep(150 * time.Millisecond)
		buf := make([]byte, 32<<10)
		for i := 0; ; i++ {
			n, err := reader.conn().Read(buf)
			reader.recv.take(r, what, buf[:n])
			if err != nil {
				readErr = err
				return
			}
			if i%8 == 0 {
				time.Sleep(time.Millisecond)
			}
		}
	})
	s := closer.s
	for off := 0; off < total; {
		n, err := s.Write(chaosPayload(0, int64(off), min(total-off, 256<<10)))
		off += n
		closer.sent[0].Add(int64(n))
		if err != nil {
			r.failf("%s: Write: %v", what, err)
			break
		}
	}
	if err := r.op(closer, "Close", s.Close); err != nil {
		r.failf("%s: Close: %v", what, err)
	}
	if !r.wait(&wg, 45*time.Second, what+": reader") {
		return
	}
	sent, got := closer.sent[0].Load(), reader.recv.count(0)
	if readErr != io.EOF || got != sent {
		r.failf("%s: the peer read %d of the %d bytes, then %v (want all of them, then io.EOF): Close lost data in flight",
			what, got, sent, describeErr(readErr))
	}
}

// describeErr names an error with its type, for failure messages.
func describeErr(err error) string {
	if err == nil {
		return "no error"
	}
	var ne *net.OpError
	if errors.As(err, &ne) {
		return fmt.Sprintf("%v (%T)", err, ne.Err)
	}
	return fmt.Sprintf("%v (%T)", err, err)
}
