package rustls

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Chaos in the configuration layer: certificate keys rotated and closed
// while GetCertificate hands them out, configs closed while connections
// are made from them, and user callbacks that panic.

// chaosRotation: GetCertificate returns the key an atomic.Pointer holds
// while another goroutine swaps in a new key and closes the old one, as a
// certificate-rotation loop does. Handshakes must never crash or read freed
// memory (the race detector and ASan watch); each ends in success or a
// typed error, and most succeed.
func (r *chaosRun) chaosRotation() {
	t := r.t
	ca, _, _ := pki(t)
	var leaves []*testLeaf
	valid := map[string]bool{}
	for i := 0; i < 4; i++ {
		l := ca.leaf(t, leafOpts{}, "localhost")
		leaves = append(leaves, l)
		valid[string(l.cert.Raw)] = true
	}
	newKey := func(i int) *CertifiedKey {
		k, err := NewCertifiedKey(leaves[i%len(leaves)].certPEM, leaves[i%len(leaves)].keyPEM)
		if err != nil {
			r.failf("NewCertifiedKey: %v", err)
			return nil
		}
		return k
	}
	// GetCertificate kicks the rotator as it returns, so that the old key
	// is closed while the handshake that was handed it is still taking its
	// own reference: the window a use-after-free needs.
	var cur atomic.Pointer[CertifiedKey]
	cur.Store(newKey(0))
	kick := make(chan struct{}, 1)
	scfg, err := NewServerConfig(ServerOptions{GetCertificate: func(*ClientHello) (*CertifiedKey, error) {
		k := cur.Load()
		select {
		case kick <- struct{}{}:
		default:
		}
		return k, nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer scfg.Close()

	stop := make(chan struct{})
	var rot sync.WaitGroup
	var rotations atomic.Int64
	r.goWG(&rot, "key rotator", func() {
		rng := r.rng(1)
		for i := 1; ; i++ {
			k := newKey(i) // ready before the kick: the swap and Close follow it at once
			if k == nil {
				return
			}
			select {
			case <-stop:
				k.Close()
				return
			case <-kick:
			case <-time.After(time.Duration(rng.IntN(2000)) * time.Microsecond):
			}
			old := cur.Swap(k)
			_ = r.call("CertifiedKey.Close of a rotated key", old.Close)
			rotations.Add(1)
		}
	})

	pairer := newTCPPairer(t)
	defer pairer.close()
	acc := NewAcceptor(scfg, StreamOptions{})
	cons := []*Connector{
		NewConnector(clientConfig(t, nil), StreamOptions{}),
		NewConnector(clientConfig(t, func(o *ClientOptions) { o.Versions = []uint16{VersionTLS12} }), StreamOptions{WriteThrough: true}),
	}
	gcfg := goTLSClientConfig(t)
	var ok, failed atomic.Int64
	var wg sync.WaitGroup
	// Each worker goes on for the scenario's time, and for at least a few
	// handshakes on a slow machine.
	workers, per, life := r.n(6, 2), 5, 2*time.Second
	start := time.Now()
	for w := 0; w < workers; w++ {
		r.goWG(&wg, "rotation client", func() {
			rng := r.rng(2, uint64(w))
			for i := 0; (i < per || time.Since(start) < life) && !r.wedged.Load(); i++ {
				what := fmt.Sprintf("rotation conn %d.%d", w, i)
				var con *Connector
				if k := rng.IntN(3); k < 2 {
					con = cons[k]
				}
				h, done := r.handshake(what, pairer, acc, con, gcfg, "localhost")
				if !done {
					return
				}
				if h.cerr != nil || h.serr != nil {
					// A key closed before the callback's caller took it is
					// refused: a typed error (checked by handshake), no crash.
					failed.Add(1)
				} else if err := r.exchange(what, &h); err != nil {
					r.failf("%s: the handshake succeeded but data did not flow: %v", what, err)
				} else {
					var peer []*x509.Certificate
					if h.cs != nil {
						peer = h.cs.ConnectionState().PeerCertificates
					} else {
						peer = h.cg.ConnectionState().PeerCertificates
					}
					if len(peer) == 0 || !valid[string(peer[0].Raw)] {
						r.failf("%s: the server presented a certificate that is none of the rotated ones", what)
					}
					ok.Add(1)
				}
				h.close()
			}
		})
	}
	r.wait(&wg, 3*time.Minute, "rotation handshakes")
	close(stop)
	r.wait(&rot, 15*time.Second, "key rotator")
	if k := cur.Load(); k != nil {
		k.Close()
	}
	t.Logf("rotation: %d handshakes succeeded, %d refused, %d keys rotated and closed", ok.Load(), failed.Load(), rotations.Load())
	if ok.Load() == 0 && !r.wedged.Load() {
		r.failf("no handshake succeeded while keys rotated")
	}
}

// chaosConfigClose: configs closed (or dropped for the garbage collector)
// while connections are made from them. Making a stream from a closed
// config fails with a typed error saying so; a stream that was made keeps
// working whatever happens to its config afterwards.
func (r *chaosRun) chaosConfigClose() {
	t := r.t
	ca, srv, _ := pki(t)
	key := srv.certifiedKey(t)
	type cfgs struct {
		s *ServerConfig
		c *ClientConfig
	}
	var mu sync.Mutex
	var made []*cfgs // closed at the end (the dropped ones are not listed)
	mk := func(i int, keep bool) *cfgs {
		so := ServerOptions{Certificates: []*CertifiedKey{key}}
		co := ClientOptions{RootCAs: ca.certPEM}
		if i%4 == 0 {
			so.KeyLogWriter = io.Discard
		}
		if i%4 == 1 {
			co.KeyLogWriter = io.Discard
		}
		if i%3 == 0 {
			co.Versions = []uint16{VersionTLS12}
		}
		s, err := NewServerConfig(so)
		if err != nil {
			r.failf("NewServerConfig: %v", err)
			return nil
		}
		c, err := NewClientConfig(co)
		if err != nil {
			s.Close()
			r.failf("NewClientConfig: %v", err)
			return nil
		}
		p := &cfgs{s, c}
		if keep {
			mu.Lock()
			made = append(made, p)
			mu.Unlock()
		}
		return p
	}
	var cur atomic.Pointer[cfgs]
	cur.Store(mk(0, true))

	stop := make(chan struct{})
	var closer sync.WaitGroup
	var generations atomic.Int64
	r.goWG(&closer, "config closer", func() {
		rng := r.rng(1)
		for i := 1; i <= r.n(160, 40); i++ {
			select {
			case <-stop:
				return
			case <-time.After(time.Duration(1+rng.IntN(8)) * time.Millisecond):
			}
			switch rng.IntN(8) {
			case 0, 1:
				_ = r.call("ServerConfig.Close", cur.Load().s.Close)
			case 2, 3:
				_ = r.call("ClientConfig.Close", cur.Load().c.Close)
			case 4, 5, 6:
				p := mk(i, true)
				if p == nil {
					return
				}
				old := cur.Swap(p)
				_ = r.call("ServerConfig.Close", old.s.Close)
				_ = r.call("ClientConfig.Close", old.c.Close)
			default:
				// Dropped without Close: the cleanup closes it once the
				// garbage collector finds it unreachable.
				p := mk(i, false)
				if p == nil {
					return
				}
				cur.Swap(p)
			}
			generations.Add(1)
		}
	})

	pairer := newTCPPairer(t)
	defer pairer.close()
	var made0, refused, served atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < r.n(6, 2); w++ {
		r.goWG(&wg, "config-close worker", func() {
			rng := r.rng(2, uint64(w))
			for i := 0; !r.wedged.Load(); i++ {
				select {
				case <-stop:
					return
				default:
				}
				what := fmt.Sprintf("config-close conn %d.%d", w, i)
				p := cur.Load()
				r.configCloseConn(what, pairer, p.s, p.c, StreamOptions{WriteThrough: rng.IntN(2) == 0}, &made0, &refused, &served)
			}
		})
	}
	r.wait(&closer, 2*time.Minute, "config closer")
	close(stop)
	r.wait(&wg, 2*time.Minute, "config-close workers")
	mu.Lock()
	for _, p := range made {
		p.s.Close()
		p.c.Close()
	}
	mu.Unlock()
	cur.Store(nil)
	t.Logf("config close: %d config generations, %d stream pairs made and served, %d attempts refused (closed config)",
		generations.Load(), served.Load(), refused.Load())
	if served.Load() == 0 && !r.wedged.Load() {
		r.failf("no connection was served")
	}
}

// configCloseConn makes one server and one client stream from configs
// that may be closed at any moment, and checks what happens.
func (r *chaosRun) configCloseConn(what string, pairer *tcpPairer, scfg *ServerConfig, ccfg *ClientConfig, opts StreamOptions,
	made, refused, served *atomic.Int64) {
	cc, sc, err := pairer.pair()
	if err != nil {
		r.failf("%s: %v", what, err)
		return
	}
	defer cc.Close()
	defer sc.Close()
	var s, c *Stream
	serr := r.call(what+": Acceptor.Server", func() error {
		var err error
		s, err = NewAcceptor(scfg, opts).Server(sc)
		return err
	})
	cerr := r.call(what+": Connector.Client", func() error {
		var err error
		c, err = NewConnector(ccfg, opts).Client(cc, "localhost")
		return err
	})
	for _, err := range []error{serr, cerr} {
		if err == nil {
			continue
		}
		var e *Error
		if !errors.As(err, &e) || !errors.Is(err, ErrInvalidInput) || !strings.Contains(err.Error(), "closed") {
			r.failf("%s: a stream from a closed config: want an ErrInvalidInput *Error saying the config is closed, got %T %v", what, err, err)
		}
	}
	if serr != nil || cerr != nil {
		refused.Add(1)
		if s != nil {
			s.Close()
		}
		if c != nil {
			c.Close()
		}
		return
	}
	made.Add(1)
	defer s.Close()
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- r.call(what+": server Handshake", func() error { return s.HandshakeContext(ctx) }) }()
	cerr = r.call(what+": client Handshake", func() error { return c.HandshakeContext(ctx) })
	if cerr != nil {
		cc.Close()
	}
	var err2 error
	select {
	case err2 = <-done:
	case <-time.After(chaosHSBound):
		r.wedge(what+": server handshake", chaosHSBound)
		return
	}
	if cerr != nil || err2 != nil {
		r.failf("%s: streams made before their configs were closed must keep working: client %v, server %v", what, cerr, err2)
		return
	}
	h := chaosHS{cs: c, ss: s}
	if err := r.exchange(what, &h); err != nil {
		r.failf("%s: data did not flow after the handshake: %v", what, err)
		return
	}
	served.Add(1)
}

// chaosCBPlan says which callbacks panic for one connection.
type chaosCBPlan struct {
	getCert, verifier, clientLog bool
}

// chaosPanicWriter panics on every nth Write (a KeyLogWriter).
type chaosPanicWriter struct {
	every int64
	n     atomic.Int64
}

func (w *chaosPanicWriter) Write(p []byte) (int, error) {
	if w.n.Add(1)%w.every == 0 {
		injectFault()
	}
	return len(p), nil
}

// chaosPanicStore is a SessionStore that panics on every nth call.
type chaosPanicStore struct {
	inner *MemorySessionStore
	every int64
	n     atomic.Int64
}

func (s *chaosPanicStore) Get(key []byte, remove bool) ([]byte, bool) {
	if s.n.Add(1)%s.every == 0 {
		injectFault()
	}
	return s.inner.Get(key, remove)
}

func (s *chaosPanicStore) Put(key, value []byte) bool {
	if s.n.Add(1)%s.every == 0 {
		injectFault()
	}
	return s.inner.Put(key, value)
}

// chaosPanicHandler is a slog.Handler that panics on every nth record.
type chaosPanicHandler struct {
	every int64
	n     *atomic.Int64
}

func (h chaosPanicHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h chaosPanicHandler) Handle(context.Context, slog.Record) error {
	if h.n.Add(1)%h.every == 0 {
		injectFault()
	}
	return nil
}
func (h chaosPanicHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h chaosPanicHandler) WithGroup(string) slog.Handler      { return h }

// chaosCallbacks: GetCertificate, the client's verifier, both KeyLogWriters,
// the SessionStore and the loggers panic. Whether GetCertificate or the
// verifier panics is planned per server name from the seed and read back
// from the name (cN.chaos.test). No panic may escape and no lock may stay
// held (the next handshake would hang); a connection whose GetCertificate
// or verifier panicked fails with a typed error that names the callback;
// a connection whose SessionStore call panicked fails on the server with an
// error naming the store; every other connection succeeds (a panicking
// key-log writer or logger loses its line).
func (r *chaosRun) chaosCallbacks() {
	t := r.t
	ca, _, _ := pki(t)
	leaf := ca.leaf(t, leafOpts{}, "*.chaos.test")
	key := leaf.certifiedKey(t)
	// Each server name is used by several connections, so that later ones
	// resume (through the SessionStore) what earlier ones were given.
	n := r.n(160, 40)
	plans := make([]chaosCBPlan, max(8, n/4))
	rng := r.rng(1)
	for i := range plans {
		plans[i] = chaosCBPlan{getCert: rng.IntN(6) == 0, verifier: rng.IntN(6) == 0, clientLog: rng.IntN(4) == 0}
	}
	planOf := func(name string) (chaosCBPlan, bool) {
		id, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(name, "c"), ".chaos.test"))
		if err != nil || id < 0 || id >= len(plans) {
			return chaosCBPlan{}, false
		}
		return plans[id], true
	}
	var getCertFaults, verifierFaults atomic.Int64
	skeylog, ckeylog := &chaosPanicWriter{every: 5}, &chaosPanicWriter{every: 7}
	store := &chaosPanicStore{inner: NewMemorySessionStore(64), every: 4}
	scfg, err := NewServerConfig(ServerOptions{
		GetCertificate: func(h *ClientHello) (*CertifiedKey, error) {
			if p, ok := planOf(h.ServerName); ok && p.getCert {
				getCertFaults.Add(1)
				injectFault()
			}
			return key, nil
		},
		KeyLogWriter: skeylog,
		SessionStore: store,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer scfg.Close()
	pool := ca.pool()
	verify := func(name string, raw [][]byte, _ []byte) error {
		if p, ok := planOf(name); ok && p.verifier {
			verifierFaults.Add(1)
			injectFault()
		}
		cert, err := x509.ParseCertificate(raw[0])
		if err != nil {
			return err
		}
		inter := x509.NewCertPool()
		for _, der := range raw[1:] {
			if c, err := x509.ParseCertificate(der); err == nil {
				inter.AddCert(c)
			}
		}
		_, err = cert.Verify(x509.VerifyOptions{Roots: pool, Intermediates: inter, DNSName: name})
		return err
	}
	var ccfgs []*ClientConfig
	for _, v := range [][]uint16{nil, {VersionTLS12}} {
		c, err := NewClientConfig(ClientOptions{DangerousVerifyPeerCertificate: verify, KeyLogWriter: ckeylog, Versions: v})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		ccfgs = append(ccfgs, c)
	}
	gcfg := &tls.Config{RootCAs: pool, ClientSessionCache: tls.NewLRUClientSessionCache(16)}
	var serverLogs, clientLogs atomic.Int64
	acc := NewAcceptor(scfg, StreamOptions{WriteThrough: true, Logger: slog.New(chaosPanicHandler{every: 3, n: &serverLogs})})

	pairer := newTCPPairer(t)
	defer pairer.close()
	ids := make(chan int, n)
	for i := 0; i < n; i++ {
		ids <- i
	}
	close(ids)
	var okCount, failCount, resumed atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < r.n(6, 2); w++ {
		r.goWG(&wg, "callbacks worker", func() {
			rng := r.rng(2, uint64(w))
			for id := range ids {
				if r.wedged.Load() {
					return
				}
				name := fmt.Sprintf("c%d.chaos.test", id%len(plans))
				plan := plans[id%len(plans)]
				var con *Connector
				if k := rng.IntN(4); k < 2 {
					opts := StreamOptions{WriteThrough: true}
					if plan.clientLog {
						opts.Logger = slog.New(chaosPanicHandler{every: 1, n: &clientLogs})
					}
					con = NewConnector(ccfgs[k], opts)
				}
				h, ok := r.handshake(name, pairer, acc, con, gcfg, name)
				if !ok {
					return
				}
				r.checkCallbackConn(name, plan, con != nil, &h)
				if h.cerr == nil && h.serr == nil {
					okCount.Add(1)
					if h.resumed() {
						resumed.Add(1)
					}
				} else {
					failCount.Add(1)
				}
				h.close()
			}
		})
	}
	r.wait(&wg, 3*time.Minute, "callback-panic connections")
	t.Logf("callbacks: %d connections succeeded (%d resumed), %d failed; faults injected: GetCertificate %d, verifier %d, "+
		"server key log %d, client key log %d, session store %d, loggers %d (of %d server and %d client records)",
		okCount.Load(), resumed.Load(), failCount.Load(), getCertFaults.Load(), verifierFaults.Load(),
		skeylog.n.Load()/skeylog.every, ckeylog.n.Load()/ckeylog.every, store.n.Load()/store.every,
		serverLogs.Load()/3+clientLogs.Load(), serverLogs.Load(), clientLogs.Load())
}

// checkCallbackConn judges one connection of chaosCallbacks.
func (r *chaosRun) checkCallbackConn(name string, plan chaosCBPlan, rustlsClient bool, h *chaosHS) {
	if h.cerr == nil && h.serr == nil {
		if err := r.exchange(name, h); err != nil {
			r.failf("%s: the handshake succeeded but data did not flow: %v", name, err)
		}
		// Resumption skips certificate selection and verification, so a
		// panicking callback may never have run.
		if plan.getCert && !h.resumed() {
			r.failf("%s: GetCertificate panicked, yet a full handshake succeeded", name)
		}
		if plan.verifier && rustlsClient && !h.resumed() {
			r.failf("%s: the verifier panicked, yet a full handshake succeeded", name)
		}
		return
	}
	var pe *PanicError
	storePanicked := errors.As(h.serr, &pe) && strings.HasPrefix(pe.Callback, "SessionStore.")
	switch {
	case storePanicked:
		// The store panics on every few calls, whatever the connection: a
		// panicking store fails the server's handshake (errors.As finds a
		// *PanicError naming it); the client sees its handshake or its
		// first read end.
		var e *Error
		if !errors.As(h.serr, &e) || !namesCallback(h.serr, "SessionStore") {
			r.failf("%s: the session store panicked: want an *Error naming it, got %T %v", name, h.serr, h.serr)
		}
	case plan.getCert:
		var e *Error
		if !errors.As(h.serr, &e) {
			r.failf("%s: GetCertificate panicked: want the server's handshake to fail with an *Error, got %T %v", name, h.serr, h.serr)
		} else if !namesCallback(h.serr, "GetCertificate") {
			r.failf("%s: GetCertificate panicked: the server's error should say so, got: %v", name, h.serr)
		}
	case plan.verifier && rustlsClient:
		var e *Error
		if !errors.As(h.cerr, &e) || e.Code != CodeCertApplicationFailure || !errors.Is(h.cerr, ErrCertificate) {
			r.failf("%s: the verifier panicked: want the client's handshake to fail with CodeCertApplicationFailure, got %T %v", name, h.cerr, h.cerr)
		} else if !namesCallback(h.cerr, "DangerousVerifyPeerCertificate", "PeerVerifier", "verifier") {
			r.failf("%s: the verifier panicked: the client's error should say so, got: %v", name, h.cerr)
		}
	default:
		r.failf("%s: no failing callback was planned (%+v), yet the handshake failed: client %v; server %v", name, plan, h.cerr, h.serr)
	}
}
