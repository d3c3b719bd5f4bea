package rustlshttp

//lint:file-ignore SA1019 net/http speaks HTTP/2 only over *tls.Conn; x/net/http2's connection-level API is how HTTP/2 runs over a rustls Stream.

import (
	"context"
	"errors"
	"log"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/gorustls/gorustls/rustls"
	"golang.org/x/net/http2"
)

// Server serves HTTPS over gorustls: each accepted connection is
// handshaken on a goroutine of its own (bounded by the handshake timeout,
// so a silent client blocks nobody), then served as HTTP/2 when ALPN chose
// "h2" and as HTTP/1.1 otherwise. Request.TLS is filled in both cases. A
// client that speaks plaintext HTTP to the port gets a 400 answer saying
// so. Set Handler and one of Config and Lazy; the rest is optional.
type Server struct {
	// Handler serves requests (http.DefaultServeMux when nil).
	Handler http.Handler
	// Config is the server config. To serve HTTP/2 its NextProtos should
	// list "h2" (and "http/1.1").
	Config *rustls.ServerConfig
	// Lazy, instead of Config, chooses the config from each ClientHello
	// (its Options are replaced by the Server's Options).
	Lazy *rustls.LazyAcceptor
	// Options apply to every Stream (WriteThrough is forced on; a zero
	// HandshakeTimeout means rustls.DefaultHandshakeTimeout).
	Options rustls.StreamOptions
	// HTTP1 is the http.Server used for HTTP/1.1 (its timeouts, limits and
	// ErrorLog apply; its Addr, TLSConfig and Handler are ignored). Nil: a
	// zero http.Server.
	HTTP1 *http.Server
	// HTTP2 configures HTTP/2 (nil: defaults).
	HTTP2 *http2.Server
	// ErrorLog receives handshake failures (nil: the log package).
	ErrorLog *log.Logger
	// OnHandshake, if set, is called with each handshaken Stream before it
	// is served (for logging the negotiated parameters).
	OnHandshake func(*rustls.Stream)

	initOnce sync.Once
	initErr  error
	h1       *http.Server
	h2       *http2.Server
	ch       *chanListener
	h1done   chan struct{}
	// stopHS aborts the handshakes in progress on Close and Shutdown.
	hsCtx  context.Context
	stopHS context.CancelFunc

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	h2conns   map[*rustls.Stream]struct{}
	closed    bool
	wg        sync.WaitGroup
}

// ErrServerClosed is returned by Serve after Shutdown or Close.
var ErrServerClosed = http.ErrServerClosed

func (s *Server) init(addr net.Addr) error {
	s.initOnce.Do(func() {
		if (s.Config == nil) == (s.Lazy == nil) {
			s.initErr = errors.New("rustlshttp: set exactly one of Server.Config and Server.Lazy")
			return
		}
		h1 := &http.Server{}
		if s.HTTP1 != nil {
			h1 = &http.Server{
				ReadTimeout: s.HTTP1.ReadTimeout, ReadHeaderTimeout: s.HTTP1.ReadHeaderTimeout,
				WriteTimeout: s.HTTP1.WriteTimeout, IdleTimeout: s.HTTP1.IdleTimeout,
				MaxHeaderBytes: s.HTTP1.MaxHeaderBytes, ErrorLog: s.HTTP1.ErrorLog,
				ConnState: s.HTTP1.ConnState, BaseContext: s.HTTP1.BaseContext, ConnContext: s.HTTP1.ConnContext,
			}
		}
		h1.Handler = s.Handler
		h2 := s.HTTP2
		if h2 == nil {
			h2 = &http2.Server{}
		}
		// Registers h2's graceful shutdown with h1.Shutdown.
		if err := http2.ConfigureServer(h1, h2); err != nil {
			s.initErr = err
			return
		}
		s.h1, s.h2 = h1, h2
		s.ch = newChanListener(addr)
		s.h1done = make(chan struct{})
		s.listeners = map[net.Listener]struct{}{}
		s.h2conns = map[*rustls.Stream]struct{}{}
		s.hsCtx, s.stopHS = context.WithCancel(context.Background())
		go func() {
			defer close(s.h1done)
			_ = h1.Serve(s.ch)
		}()
	})
	return s.initErr
}

func (s *Server) logf(format string, args ...any) {
	if s.ErrorLog != nil {
		s.ErrorLog.Printf(format, args...)
	} else {
		log.Printf(format, args...)
	}
}

// ListenAndServe listens on the TCP address addr and serves.
func (s *Server) ListenAndServe(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	return s.Serve(ln)
}

// Serve accepts connections on ln (a plain transport listener) and serves
// them until ln fails or the server is shut down. It closes ln.
func (s *Server) Serve(ln net.Listener) error {
	if err := s.init(ln.Addr()); err != nil {
		_ = ln.Close()
		return err
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		_ = ln.Close()
		return ErrServerClosed
	}
	s.listeners[ln] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, ln)
		s.mu.Unlock()
		_ = ln.Close()
	}()
	var backoff time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			s.mu.Lock()
			closed := s.closed
			s.mu.Unlock()
			if closed {
				return ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				time.Sleep(backoff)
				continue
			}
			return err
		}
		backoff = 0
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			_ = c.Close()
			return ErrServerClosed
		}
		s.wg.Add(1)
		s.mu.Unlock()
		go s.handle(c)
	}
}

func (s *Server) options() rustls.StreamOptions {
	o := s.Options
	o.WriteThrough = true
	if o.HandshakeTimeout <= 0 {
		o.HandshakeTimeout = rustls.DefaultHandshakeTimeout
	}
	return o
}

func (s *Server) handle(raw net.Conn) {
	defer s.wg.Done()
	opts := s.options()
	sc := &sniffConn{Conn: raw}
	ctx, cancel := context.WithTimeout(s.hsCtx, opts.HandshakeTimeout)
	var st *rustls.Stream
	var err error
	if s.Lazy != nil {
		la := rustls.LazyAcceptor{Choose: s.Lazy.Choose, Options: opts}
		st, err = la.AcceptFallible(ctx, sc)
	} else {
		st, err = rustls.NewAcceptor(s.Config, opts).AcceptFallible(ctx, sc)
	}
	cancel()
	if err != nil {
		if sc.plain.Load() {
			_ = raw.SetWriteDeadline(time.Now().Add(time.Second))
			_, _ = raw.Write([]byte(plaintextAnswer))
			s.logf("rustlshttp: TLS handshake error from %s: client sent an HTTP request to an HTTPS server", raw.RemoteAddr())
		} else {
			s.logf("rustlshttp: TLS handshake error from %s: %v", raw.RemoteAddr(), err)
		}
		_ = raw.Close()
		return
	}
	if s.OnHandshake != nil {
		s.OnHandshake(st)
	}
	if st.ConnectionState().NegotiatedProtocol == http2.NextProtoTLS {
		s.serveH2(st)
		return
	}
	if !s.ch.push(st) {
		_ = st.Close()
	}
}

func (s *Server) serveH2(st *rustls.Stream) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		_ = st.Close()
		return
	}
	s.h2conns[st] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.h2conns, st)
		s.mu.Unlock()
	}()
	handler := s.Handler
	if handler == nil {
		handler = http.DefaultServeMux
	}
	s.h2.ServeConn(st, &http2.ServeConnOpts{BaseConfig: s.h1, Handler: handler})
	_ = st.Close()
}

func (s *Server) closeListeners() {
	s.mu.Lock()
	s.closed = true
	if s.stopHS != nil {
		s.stopHS()
	}
	for ln := range s.listeners {
		_ = ln.Close()
	}
	s.mu.Unlock()
}

// Shutdown stops accepting, lets active requests finish (HTTP/2
// connections get a GOAWAY) and returns when all are done or ctx ends.
func (s *Server) Shutdown(ctx context.Context) error {
	s.closeListeners()
	if s.h1 == nil {
		return nil
	}
	err := s.h1.Shutdown(ctx) // also starts HTTP/2 graceful shutdown
	_ = s.ch.Close()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		s.closeH2()
		if err == nil {
			err = ctx.Err()
		}
	}
	return err
}

// Close closes the listeners and every connection at once.
func (s *Server) Close() error {
	s.closeListeners()
	if s.h1 == nil {
		return nil
	}
	err := s.h1.Close()
	_ = s.ch.Close()
	s.closeH2()
	return err
}

func (s *Server) closeH2() {
	s.mu.Lock()
	for st := range s.h2conns {
		_ = st.Close()
	}
	s.mu.Unlock()
}

// ListenAndServe serves handler over HTTPS on addr with cfg: HTTP/2 when
// cfg's NextProtos let ALPN choose "h2", HTTP/1.1 otherwise.
func ListenAndServe(addr string, cfg *rustls.ServerConfig, handler http.Handler) error {
	return (&Server{Config: cfg, Handler: handler}).ListenAndServe(addr)
}

// Serve is ListenAndServe on an existing listener.
func Serve(ln net.Listener, cfg *rustls.ServerConfig, handler http.Handler) error {
	return (&Server{Config: cfg, Handler: handler}).Serve(ln)
}
