package rustls

import (
	"context"
	"crypto/tls"
	"io"
	"math/rand/v2"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Streams under chaos: many goroutines on the same pair of streams
// (Read, Write, Flush, KeyUpdate, CloseWrite, ConnectionState, deadlines,
// Close), while a plan ends the pair gracefully, half-closes it, closes one
// side, resets one side's TCP connection or stalls one side's reader.
//
// Byte accounting: every writer writes its own byte stream, each byte
// holding the writer's id (top two bits) and its offset modulo 64, so the
// reader can tell the writers apart and, with a single reader, check that
// each one's bytes arrive in order, none lost or repeated. At the end, per
// writer: the peer never holds more than the Writes reported, and a reader
// that saw the close_notify (io.EOF) holds exactly what they reported.

// Writer ids: a gorustls side writes as 0 and 1, a crypto/tls side as 2.
const chaosWriterIDs = 3

var (
	chaosBlocksOnce sync.Once
	chaosBlocks     [chaosWriterIDs][]byte
)

const chaosMaxWrite = 300 << 10

// chaosPayload returns size bytes of writer id's stream from offset off.
func chaosPayload(id int, off int64, size int) []byte {
	chaosBlocksOnce.Do(func() {
		for w := range chaosBlocks {
			b := make([]byte, chaosMaxWrite+64)
			for j := range b {
				b[j] = byte(w<<6 | j&63)
			}
			chaosBlocks[w] = b
		}
	})
	s := int(off & 63)
	return chaosBlocks[id][s : s+size]
}

// chaosWriteSize picks a Write size: mostly small, sometimes a record or
// two, now and then far more than rustls buffers.
func chaosWriteSize(rng *rand.Rand) int {
	switch rng.IntN(10) {
	case 0, 1, 2, 3:
		return 1 + rng.IntN(200)
	case 4, 5, 6:
		return 200 + rng.IntN(16<<10)
	case 7, 8:
		return 16<<10 + rng.IntN(48<<10)
	}
	return 64<<10 + rng.IntN(chaosMaxWrite-64<<10)
}

// chaosReceiver checks what one side reads.
type chaosReceiver struct {
	mu      sync.Mutex
	got     [chaosWriterIDs + 1]int64 // per writer id; [3]: bytes no writer sent
	ordered bool                      // one reader: check each writer's order
	broken  bool                      // a failure was reported; stop checking
}

func (v *chaosReceiver) take(r *chaosRun, what string, p []byte) {
	if len(p) == 0 {
		return
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, b := range p {
		id := b >> 6
		if id >= chaosWriterIDs {
			if !v.broken {
				r.failf("%s: read byte %#x, which no writer sent: corrupted data", what, b)
				v.broken = true
			}
			v.got[chaosWriterIDs]++
			continue
		}
		if v.ordered && !v.broken && byte(v.got[id]&63) != b&63 {
			r.failf("%s: byte %d of writer %d reads %d, want %d: data lost, repeated or reordered",
				what, v.got[id], id, b&63, v.got[id]&63)
			v.broken = true
		}
		v.got[id]++
	}
}

func (v *chaosReceiver) count(id int) int64 {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.got[id]
}

// chaosSide is one end of a pair: a gorustls Stream or a crypto/tls Conn.
type chaosSide struct {
	name string
	s    *Stream   // gorustls
	g    *tls.Conn // crypto/tls
	raw  net.Conn  // the TCP connection under it
	ids  []int     // writer ids this side writes as

	sent         [chaosWriterIDs]atomic.Int64
	recv         chaosReceiver
	sawEOF       atomic.Bool           // a Read returned io.EOF
	endErr       atomic.Pointer[error] // the first error that ended a reader
	readers      atomic.Int32
	stalled      atomic.Bool   // the reader stops reading
	closeWriteOK atomic.Bool   // CloseWrite returned nil: everything written was sent, then close_notify
	closed       chan struct{} // closed by the end phase once the side is closed
}

func newRustlsSide(name string, s *Stream, raw net.Conn) *chaosSide {
	return &chaosSide{name: name, s: s, raw: raw, ids: []int{0, 1}, closed: make(chan struct{})}
}

func newGoTLSSide(name string, g *tls.Conn, raw net.Conn) *chaosSide {
	return &chaosSide{name: name, g: g, raw: raw, ids: []int{2}, closed: make(chan struct{})}
}

func (sd *chaosSide) conn() net.Conn {
	if sd.s != nil {
		return sd.s
	}
	return sd.g
}

// op runs a call on this side: checked (typed errors, no panic) for a
// gorustls side, only guarded against panics for a crypto/tls one.
func (r *chaosRun) op(sd *chaosSide, what string, f func() error) error {
	if sd.s != nil {
		return r.call(sd.name+" "+what, f)
	}
	var err error
	func() {
		defer func() {
			if p := recover(); p != nil {
				r.failf("%s %s: crypto/tls panicked: %v", sd.name, what, p)
			}
		}()
		err = f()
	}()
	return err
}

func (sd *chaosSide) closeWrite() error {
	if sd.s != nil {
		return sd.s.CloseWrite()
	}
	return sd.g.CloseWrite()
}

// chaosPlans are the ways a pair's life can go.
var chaosPlans = []string{"graceful", "halfclose", "close", "reset", "stall"}

// chaosPair is two sides and the plan for their life.
type chaosPair struct {
	name      string
	a, b      *chaosSide
	plan      string
	deadlines [2]bool // flip deadlines on a, b
	tls13     bool
	// keyUpdateGap bounds the pause between KeyUpdates. rustls refuses a
	// peer that sends more than 32 KeyUpdates without application data in
	// between (PeerMisbehaved), and crypto/tls, answering each of ours
	// while its writer waits on a full socket, can do just that: against
	// crypto/tls they are spaced out.
	keyUpdateGap time.Duration
}

// goTLSSide returns the crypto/tls side and the gorustls side of a mixed
// pair (nil, nil for gorustls on both sides). crypto/tls (Go 1.26) drops a
// KeyUpdate it cannot answer once it has sent close_notify without updating
// its read keys, and then fails every later record with "bad record MAC";
// so in mixed pairs only the gorustls side half-closes mid-life, and at a
// graceful end crypto/tls half-closes only after it has read everything.
func (p *chaosPair) goTLSSide() (g, rs *chaosSide) {
	switch {
	case p.a.g != nil:
		return p.a, p.b
	case p.b.g != nil:
		return p.b, p.a
	}
	return nil, nil
}

func (p *chaosPair) peer(sd *chaosSide) *chaosSide {
	if sd == p.a {
		return p.b
	}
	return p.a
}

// reader reads until an error that ends the stream (timeouts do not).
func (r *chaosRun) reader(wg *sync.WaitGroup, sd *chaosSide, rng *rand.Rand) {
	sd.readers.Add(1)
	r.goWG(wg, sd.name+" reader", func() {
		defer sd.readers.Add(-1)
		buf := make([]byte, 64<<10)
		for {
			if sd.stalled.Load() {
				<-sd.closed
				return
			}
			var n int
			p := buf[:1+rng.IntN(len(buf))]
			err := r.op(sd, "Read", func() error {
				var err error
				n, err = sd.conn().Read(p)
				return err
			})
			if n < 0 || n > len(p) {
				r.failf("%s Read returned n=%d for a %d-byte buffer", sd.name, n, len(p))
				return
			}
			sd.recv.take(r, sd.name+" Read", p[:n])
			switch {
			case err == nil:
			case isTimeout(err):
				time.Sleep(200 * time.Microsecond)
			default:
				if err == io.EOF {
					sd.sawEOF.Store(true)
				}
				sd.endErr.CompareAndSwap(nil, &err)
				return
			}
		}
	})
}

// writer writes writer id's byte stream until stop or an error that ends
// the stream, counting what each Write reports.
func (r *chaosRun) writer(wg *sync.WaitGroup, sd *chaosSide, id int, stop <-chan struct{}, rng *rand.Rand) {
	r.goWG(wg, sd.name+" writer "+strconv.Itoa(id), func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			p := chaosPayload(id, sd.sent[id].Load(), chaosWriteSize(rng))
			var n int
			err := r.op(sd, "Write", func() error {
				var err error
				n, err = sd.conn().Write(p)
				return err
			})
			if n < 0 || n > len(p) {
				r.failf("%s Write returned n=%d for %d bytes", sd.name, n, len(p))
				return
			}
			sd.sent[id].Add(int64(n))
			if err != nil && (sd.g != nil || !isTimeout(err)) {
				return // crypto/tls write errors are permanent
			}
			if err != nil || rng.IntN(4) == 0 {
				time.Sleep(time.Duration(rng.IntN(500)) * time.Microsecond)
			}
		}
	})
}

// every runs f every 0 to max until stop; f returns false to end early.
func (r *chaosRun) every(wg *sync.WaitGroup, what string, stop <-chan struct{}, rng *rand.Rand, maxGap time.Duration, f func() bool) {
	r.goWG(wg, what, func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(time.Duration(rng.Int64N(int64(maxGap)))):
			}
			if !f() {
				return
			}
		}
	})
}

// hammer starts a side's goroutines: readers on rd, the deadline flipper
// on flip, the rest on aux.
func (r *chaosRun) hammer(rd, flip, aux *sync.WaitGroup, p *chaosPair, sd *chaosSide, flipDeadlines bool, stop <-chan struct{}, pairID, sideID uint64) {
	g := func(i uint64) *rand.Rand { return r.rng(pairID, sideID, i) }
	readers := 1
	if sd.s != nil && g(0).IntN(3) == 0 {
		readers = 2 // concurrent Reads: counted, not ordered
	}
	sd.recv.ordered = readers == 1
	for i := 0; i < readers; i++ {
		r.reader(rd, sd, g(uint64(10+i)))
	}
	for i, id := range sd.ids {
		r.writer(aux, sd, id, stop, g(uint64(20+i)))
	}
	if sd.s == nil {
		return
	}
	s := sd.s
	r.every(aux, sd.name+" flusher", stop, g(30), 3*time.Millisecond, func() bool {
		err := r.op(sd, "Flush", s.Flush)
		return err == nil || isTimeout(err)
	})
	r.every(aux, sd.name+" key updater", stop, g(31), p.keyUpdateGap, func() bool {
		err := r.op(sd, "KeyUpdate", s.KeyUpdate)
		return err == nil || isTimeout(err) || !p.tls13
	})
	r.every(aux, sd.name+" state poller", stop, g(32), 5*time.Millisecond, func() bool {
		_ = r.op(sd, "ConnectionState", func() error {
			st := s.ConnectionState()
			_ = st.Version
			_, _, _, _ = s.KeyExchangeGroup(), s.CipherSuiteName(), s.HandshakeKind(), s.Buffered()
			_, _, _ = s.LocalAddr(), s.RemoteAddr(), s.NetConn()
			return nil
		})
		return true
	})
	if flipDeadlines {
		rng := g(33)
		r.every(flip, sd.name+" deadlines", stop, g(34), 10*time.Millisecond, func() bool {
			soon := time.Now().Add(time.Duration(1+rng.IntN(20)) * time.Millisecond)
			past := time.Now().Add(-time.Second)
			_ = r.op(sd, "SetDeadline", func() error {
				switch rng.IntN(6) {
				case 0:
					return s.SetDeadline(time.Time{})
				case 1:
					return s.SetReadDeadline(soon)
				case 2:
					return s.SetWriteDeadline(soon)
				case 3:
					return s.SetWriteDeadline(past)
				case 4:
					return s.SetReadDeadline(past)
				}
				return s.SetDeadline(soon.Add(50 * time.Millisecond))
			})
			return true
		})
	}
}

// actor carries out the pair's plan at a random moment of its life.
func (r *chaosRun) actor(wg *sync.WaitGroup, p *chaosPair, stop <-chan struct{}, life time.Duration, rng *rand.Rand) {
	if p.plan == "graceful" {
		return
	}
	victim := p.a
	if rng.IntN(2) == 0 {
		victim = p.b
	}
	if _, rs := p.goTLSSide(); rs != nil && p.plan == "halfclose" {
		victim = rs
	}
	at := time.Duration(rng.Int64N(int64(life)))
	r.goWG(wg, p.name+" actor", func() {
		select {
		case <-stop:
			return
		case <-time.After(at):
		}
		switch p.plan {
		case "halfclose":
			if r.op(victim, "CloseWrite", victim.closeWrite) == nil {
				victim.closeWriteOK.Store(true)
			}
		case "close":
			_ = r.op(victim, "Close", victim.conn().Close)
		case "reset":
			resetConn(victim.raw)
		case "stall":
			victim.stalled.Store(true)
		}
	})
}

// runPair hammers a pair for life, ends it, waits for every goroutine
// (the deadlock check) and checks the byte accounting.
func (r *chaosRun) runPair(p *chaosPair, pairID uint64, life time.Duration) {
	var rd, flip, aux sync.WaitGroup
	stop := make(chan struct{})
	r.hammer(&rd, &flip, &aux, p, p.a, p.deadlines[0], stop, pairID, 0)
	r.hammer(&rd, &flip, &aux, p, p.b, p.deadlines[1], stop, pairID, 1)
	r.actor(&aux, p, stop, life, r.rng(pairID, 99))
	time.Sleep(life)
	close(stop)
	// The last deadline set may lie in the past: once the flippers are
	// done, clear it so that the streams can drain.
	if r.wait(&flip, 15*time.Second, p.name+": deadline flippers") {
		for _, sd := range []*chaosSide{p.a, p.b} {
			_ = r.op(sd, "SetDeadline", func() error { return sd.conn().SetDeadline(time.Time{}) })
		}
	}

	// Graceful ends: writers stop, deadlines go, both sides CloseWrite,
	// and each reader must then reach io.EOF.
	graceful := (p.plan == "graceful" || p.plan == "halfclose") && softWait(&aux, 10*time.Second)
	if graceful {
		steps := [][]*chaosSide{{p.a, p.b}}
		if g, rs := p.goTLSSide(); g != nil {
			// crypto/tls closes last, once it has read everything (see
			// goTLSSide).
			steps = [][]*chaosSide{{rs}, {g}}
		}
		for i, step := range steps {
			var cw sync.WaitGroup
			for _, sd := range step {
				r.goWG(&cw, sd.name+" CloseWrite", func() {
					if r.op(sd, "CloseWrite", sd.closeWrite) == nil {
						sd.closeWriteOK.Store(true)
					}
				})
			}
			if !softWait(&cw, 10*time.Second) {
				break
			}
			if i < len(steps)-1 {
				peer := p.peer(step[0])
				for end := time.Now().Add(10 * time.Second); peer.readers.Load() > 0 && time.Now().Before(end); {
					time.Sleep(5 * time.Millisecond)
				}
			}
		}
		if !softWait(&rd, 10*time.Second) {
			for _, pr := range [][2]*chaosSide{{p.a, p.b}, {p.b, p.a}} {
				if pr[0].readers.Load() > 0 && pr[1].closeWriteOK.Load() {
					r.failf("%s: %s's Read did not return within 10s of the peer's CloseWrite (close_notify and FIN sent)",
						p.name, pr[0].name)
				}
			}
		}
	}

	// Close both sides: every goroutine must then finish.
	var closers sync.WaitGroup
	for _, sd := range []*chaosSide{p.a, p.b} {
		r.goWG(&closers, sd.name+" Close", func() {
			_ = r.op(sd, "Close", sd.conn().Close)
			_ = sd.raw.Close()
		})
	}
	if !r.wait(&closers, 15*time.Second, p.name+": Close") {
		return
	}
	close(p.a.closed)
	close(p.b.closed)
	if !r.wait(&aux, 15*time.Second, p.name+": writers and helpers after Close") || !r.wait(&flip, time.Second, p.name+": flippers") ||
		!r.wait(&rd, 15*time.Second, p.name+": readers after Close") {
		return
	}
	r.checkAccounting(p)
	sum := func(sd *chaosSide) (n int64) {
		for _, id := range sd.ids {
			n += sd.sent[id].Load()
		}
		return n
	}
	end := func(sd *chaosSide) string {
		if e := sd.endErr.Load(); e != nil {
			return describeErr(*e)
		}
		return "still reading"
	}
	r.notef("%s: plan %s, TLS 1.3 %v, deadlines %v: client sent %d, server read until %s; server sent %d, client read until %s",
		p.name, p.plan, p.tls13, p.deadlines, sum(p.a), end(p.b), sum(p.b), end(p.a))
}

// checkAccounting compares, per writer, what Writes reported with what the
// peer read.
func (r *chaosRun) checkAccounting(p *chaosPair) {
	for _, pr := range [][2]*chaosSide{{p.a, p.b}, {p.b, p.a}} {
		from, to := pr[0], pr[1]
		for _, id := range from.ids {
			sent, got := from.sent[id].Load(), to.recv.count(id)
			if got > sent {
				r.failf("%s (%s): %s read %d bytes of %s's writer %d, but its Writes reported %d: a Write consumed bytes it did not report",
					p.name, p.plan, to.name, got, from.name, id, sent)
			}
			// A gorustls reader reports io.EOF only after close_notify;
			// crypto/tls also on a bare FIN, so for it the writer's
			// successful CloseWrite is what proves close_notify came last.
			clean := to.sawEOF.Load() && (to.s != nil || from.closeWriteOK.Load())
			if clean && got != sent {
				r.failf("%s (%s): %s read io.EOF after %d bytes of %s's writer %d, whose Writes reported %d: data lost before close_notify",
					p.name, p.plan, to.name, got, from.name, id, sent)
			}
		}
	}
}

// streamKinds are the pairings the streams scenario runs.
var streamKinds = []string{"rustls-rustls", "rustls-client-gotls-server", "gotls-client-rustls-server"}

// chaosStreams runs pairs of one kind concurrently, one plan each.
func (r *chaosRun) chaosStreams(kind string) {
	t := r.t
	scfg := serverConfig(t, nil)
	ccfgs := map[bool]*ClientConfig{
		true:  clientConfig(t, nil),
		false: clientConfig(t, func(o *ClientOptions) { o.Versions = []uint16{VersionTLS12} }),
	}
	gsrv, gcli := goTLSServerConfig(t), goTLSClientConfig(t)
	pairer := newTCPPairer(t)
	defer pairer.close()

	n := r.n(len(chaosPlans), 2)
	life := 1200 * time.Millisecond
	rng := r.rng(1)
	first := rng.IntN(len(chaosPlans))
	var pairs []*chaosPair
	for i := 0; i < n; i++ {
		p := &chaosPair{name: kind + " pair " + strconv.Itoa(i), plan: chaosPlans[(first+i)%len(chaosPlans)],
			tls13: rng.IntN(3) != 0, deadlines: [2]bool{rng.IntN(5) < 3, rng.IntN(5) < 3}, keyUpdateGap: 20 * time.Millisecond}
		if kind != "rustls-rustls" {
			p.keyUpdateGap = 100 * time.Millisecond
		}
		opts := func() StreamOptions {
			return StreamOptions{WriteThrough: rng.IntN(2) == 0, BufferLimit: []int{0, 4096, 20000}[rng.IntN(3)],
				CloseTimeout: 300 * time.Millisecond}
		}
		if err := r.connectPair(p, kind, pairer, scfg, ccfgs[p.tls13], gsrv, gcli, opts(), opts()); err != nil {
			r.failf("%s: handshake: %v", p.name, err)
			continue
		}
		pairs = append(pairs, p)
	}
	var wg sync.WaitGroup
	for i, p := range pairs {
		r.goWG(&wg, p.name, func() { r.runPair(p, uint64(i), life) })
	}
	r.wait(&wg, 90*time.Second, kind+" pairs")
}

// connectPair makes the two sides of a pair of the given kind.
func (r *chaosRun) connectPair(p *chaosPair, kind string, pairer *tcpPairer, scfg *ServerConfig, ccfg *ClientConfig,
	gsrv, gcli *tls.Config, copts, sopts StreamOptions) error {
	cc, sc, err := pairer.pair()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	maxV := uint16(tls.VersionTLS13)
	if !p.tls13 {
		maxV = tls.VersionTLS12
	}
	type res struct {
		side *chaosSide
		err  error
	}
	srv := make(chan res, 1)
	go func() {
		if kind == "rustls-client-gotls-server" {
			cfg := gsrv.Clone()
			cfg.MaxVersion = maxV
			g := tls.Server(sc, cfg)
			err := g.HandshakeContext(ctx)
			srv <- res{newGoTLSSide(p.name+" crypto/tls server", g, sc), err}
			return
		}
		s, err := NewAcceptor(scfg, sopts).Accept(ctx, sc)
		srv <- res{newRustlsSide(p.name+" server", s, sc), err}
	}()
	var cerr error
	if kind == "gotls-client-rustls-server" {
		cfg := gcli.Clone()
		cfg.MaxVersion = maxV
		g := tls.Client(cc, cfg)
		cerr = g.HandshakeContext(ctx)
		p.a = newGoTLSSide(p.name+" crypto/tls client", g, cc)
	} else {
		s, err := NewConnector(ccfg, copts).Connect(ctx, cc, "localhost")
		cerr = err
		p.a = newRustlsSide(p.name+" client", s, cc)
	}
	if cerr != nil {
		cc.Close()
	}
	sr := <-srv
	p.b = sr.side
	if cerr != nil || sr.err != nil {
		cc.Close()
		sc.Close()
		if p.a.s != nil {
			p.a.s.Close()
		}
		if p.b.s != nil {
			p.b.s.Close()
		}
		return firstErr(cerr, sr.err)
	}
	return nil
}
