package rustlshttp

//lint:file-ignore SA1019 Server.HTTP2 keeps x/net/http2's server settings available.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"reflect"
	"sync"

	"github.com/gorustls/gorustls/rustls"
	"golang.org/x/net/http2"
)

// Server serves HTTPS over gorustls. Each accepted connection is
// handshaken on a goroutine of its own (bounded by the handshake timeout,
// so a silent client blocks nobody); then one net/http server serves it:
// as HTTP/2 when ALPN chose "h2", as HTTP/1.1 when it chose "http/1.1" or
// nothing, and with the NextProto handler for any other protocol (without
// one such a connection is closed, as net/http does). An "h2" connection
// reaches net/http only once its HTTP/2 client preface has arrived: a
// client that sends anything else, or nothing within the handshake timeout
// (or HTTP1's read-header timeout, when shorter), is closed with nothing
// answered. Request.TLS is filled
// on both protocols. A client that speaks plaintext HTTP to the port gets
// a 400 answer saying so. Set Handler and one of Config and Lazy; the rest
// is optional.
//
// A panic in any user callback run for a connection (Lazy.Choose and what
// it calls, such as a converted tls.Config's GetConfigForClient and
// GetCertificate; OnHandshake; NextProto handlers; HTTP1's ConnContext and
// ConnState; handlers) closes that connection and is logged with its stack;
// the server goes on serving.
//
// The fields are read once, when the Server first serves (or is shut down,
// closed or given SetKeepAlivesEnabled): changing them afterwards has no
// effect, and is no data race. To rotate certificates while serving, use
// Lazy, whose Choose runs for every connection and may return a new
// config each time, or a ServerConfig whose GetCertificate returns the
// current key.
type Server struct {
	// Handler serves requests (http.DefaultServeMux when nil).
	Handler http.Handler
	// Config is the server config, used for every connection (see above
	// for rotation). To serve HTTP/2 its NextProtos should list "h2" (and
	// "http/1.1").
	Config *rustls.ServerConfig
	// Lazy, instead of Config, chooses the config from each ClientHello
	// with its Choose, which must be set (its Options are replaced by the
	// Server's Options). Choose is taken once: later changes to *Lazy are
	// not seen either.
	Lazy *rustls.LazyAcceptor
	// Options apply to every Stream (WriteThrough is forced on). A zero
	// HandshakeTimeout means what net/http uses for TLS handshakes (the
	// smallest non-zero of HTTP1's ReadHeaderTimeout, ReadTimeout and
	// WriteTimeout), else rustls.DefaultHandshakeTimeout.
	Options rustls.StreamOptions
	// HTTP1 holds the net/http settings, and they apply to both protocols:
	// every exported field is honoured (timeouts, MaxHeaderBytes, ErrorLog,
	// ConnState, ConnContext, BaseContext, HTTP2 limits, Protocols,
	// DisableGeneralOptionsHandler, ...) but Addr, TLSConfig and Handler,
	// which are ignored, and TLSNextProto, whose handlers take a *tls.Conn
	// and cannot run here: as in net/http, a non-nil TLSNextProto without
	// "h2" disables HTTP/2 (use NextProto for other protocols). Protocols
	// chooses HTTP/1 and HTTP/2 (UnencryptedHTTP2 does not apply: every
	// connection is TLS); a connection that negotiated a disabled protocol
	// is closed. ConnContext and ConnState get the *rustls.Stream on both
	// protocols; StateNew fires once the handshake is done (on HTTP/2, once
	// the client preface has arrived too) and BaseContext
	// gets the listener passed to Serve. HTTP1 itself is copied, never
	// served or modified. Nil: a zero http.Server.
	HTTP1 *http.Server
	// HTTP2, if set, serves HTTP/2 with x/net/http2 and these settings
	// (which HTTP1.HTTP2 settings complete); nil: net/http's own HTTP/2.
	HTTP2 *http2.Server
	// NextProto takes over connections whose negotiated ALPN protocol is
	// its key (any protocol but "http/1.1" and "http/1.0"; even "h2"): the
	// function owns the Stream, must close it, and runs on the
	// connection's goroutine. Shutdown waits for it to return; Close closes
	// its Stream.
	NextProto map[string]func(*rustls.Stream)
	// Logger receives the Server's own reports (nil: slog.Default()), with
	// the peer's address as attribute "remote" where there is a peer:
	//   - slog.LevelInfo: a client's failed handshake (attribute "error"),
	//     a client that spoke plaintext HTTP, an "h2" client that sent no
	//     HTTP/2 client preface; clients cause these, so Info, as noise a
	//     handler may filter out;
	//   - slog.LevelWarn: an Accept failure that is retried ("error");
	//   - slog.LevelError: a recovered panic in a user callback
	//     ("callback", "panic", "stack": the panicking goroutine's stack),
	//     an HTTP1.ConnContext that returned a nil context, and a handshake
	//     failed by the server's own configuration (an error matching
	//     rustls.ErrInvalidInput: a closed config or key).
	// When HTTP1.ErrorLog is nil, net/http's own messages
	// (http.Server.ErrorLog, which net/http fixes as a *log.Logger) reach
	// Logger too (slog.Default() when nil), through slog.NewLogLogger: at
	// slog.LevelWarn, but its reports of a handler's panic (the stack in
	// the message) at slog.LevelError. Logger's handler runs on connection goroutines and
	// must not block; a panic in it is recovered and that record lost.
	Logger *slog.Logger
	// OnHandshake, if set, is called with each handshaken Stream before it
	// is served (for logging the negotiated parameters).
	OnHandshake func(*rustls.Stream)

	initOnce sync.Once
	initErr  error
	hs       *http.Server // serves both protocols
	h2       bool         // HTTP/2 is enabled
	// The user's fields as setup found them: connections use only these.
	snap snapshot

	mu    sync.Mutex
	taken map[*rustls.Stream]struct{} // streams NextProto handlers own
	// wg counts accept loops and connection goroutines (handshakes and
	// NextProto handlers) for Shutdown.
	wg sync.WaitGroup
}

// ErrServerClosed is returned by Serve after Shutdown or Close.
var ErrServerClosed = http.ErrServerClosed

func (s *Server) init() error {
	s.initOnce.Do(func() { s.initErr = s.setup() })
	return s.initErr
}

// setup builds the net/http server that serves both protocols: a copy of
// HTTP1 whose hooks see the Stream, with HTTP/2 enabled the way net/http
// accepts it over a connection that is not a *tls.Conn.
func (s *Server) setup() error {
	if s.Logger != nil {
		s.snap.logger = slog.New(safeHandler{s.Logger.Handler()})
	}
	if (s.Config == nil) == (s.Lazy == nil) {
		return errors.New("rustlshttp: set exactly one of Server.Config and Server.Lazy")
	}
	if s.Lazy != nil && s.Lazy.Choose == nil {
		return errors.New("rustlshttp: Server.Lazy.Choose is nil")
	}
	hs := &http.Server{}
	if s.HTTP1 != nil {
		copyExported(hs, s.HTTP1)
	}
	want := userProtocols(s.HTTP1)
	s.h2 = want.HTTP2()
	// A connection that negotiated "h2" reaches net/http as an h2Conn,
	// which has no ConnectionState: net/http takes it for an unencrypted
	// connection and, finding the HTTP/2 preface, hands it to its HTTP/2
	// server. Streams of HTTP/1 connections do report a ConnectionState,
	// so net/http never looks for a preface on them.
	var p http.Protocols
	p.SetHTTP1(want.HTTP1())
	p.SetUnencryptedHTTP2(want.HTTP2())
	hs.Protocols = &p
	hs.Addr, hs.TLSConfig, hs.TLSNextProto = "", nil, nil
	hs.Handler = serverHandler{s}
	if hs.ErrorLog == nil {
		hs.ErrorLog = netHTTPLog(s.Logger)
	}
	hs.ConnContext = s.connContext(hs.ConnContext)
	hs.ConnState = s.connState(hs.ConnState)
	hs.BaseContext = func(ln net.Listener) context.Context {
		if l, ok := ln.(*listener); ok {
			return l.baseCtx
		}
		return context.Background()
	}
	if s.HTTP2 != nil && s.h2 {
		// Installs x/net/http2 for "h2" and unencrypted HTTP/2, and its
		// graceful shutdown in hs.Shutdown.
		if err := http2.ConfigureServer(hs, s.HTTP2); err != nil {
			return err
		}
	}
	s.hs = hs
	s.taken = map[*rustls.Stream]struct{}{}
	s.takeSnapshot()
	return nil
}

// copyExported copies every exported field of src into dst, so that fields
// added to http.Server in later Go versions are carried over too.
func copyExported(dst, src *http.Server) {
	d, v := reflect.ValueOf(dst).Elem(), reflect.ValueOf(src).Elem()
	for i := range v.NumField() {
		if v.Type().Field(i).IsExported() {
			d.Field(i).Set(v.Field(i))
		}
	}
}

// userProtocols is the set of protocols h enables over TLS, by net/http's
// rules: Protocols when set, else HTTP/1 and, unless a non-nil
// TLSNextProto lacks "h2", HTTP/2.
func userProtocols(h *http.Server) http.Protocols {
	if h != nil && h.Protocols != nil {
		return *h.Protocols
	}
	var p http.Protocols
	p.SetHTTP1(true)
	if h == nil || h.TLSNextProto == nil {
		p.SetHTTP2(true)
	} else {
		_, ok := h.TLSNextProto[http2.NextProtoTLS]
		p.SetHTTP2(ok)
	}
	return p
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
// them until ln fails or the server is shut down. It closes ln, and
// returns only when its accept goroutine has ended. After Shutdown or
// Close (even one that came first) it returns ErrServerClosed.
func (s *Server) Serve(ln net.Listener) error {
	if err := s.init(); err != nil {
		_ = ln.Close()
		return err
	}
	l, err := s.newListener(ln)
	if err != nil {
		_ = ln.Close()
		return err
	}
	err = s.hs.Serve(l)
	_ = l.Close()
	l.wait()
	return err
}

// Shutdown stops accepting, aborts the handshakes in progress, lets active
// requests finish (HTTP/2 connections get a GOAWAY) and NextProto handlers
// return, and returns when all are done or ctx ends (then with ctx's
// error; call Close to end what is left). Serve returns ErrServerClosed,
// at once.
func (s *Server) Shutdown(ctx context.Context) error {
	if s.init() != nil {
		return nil // nothing can have been served
	}
	err := s.hs.Shutdown(ctx)
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		if err == nil {
			err = ctx.Err()
		}
	}
	return err
}

// Close closes the listeners and every connection at once, those
// NextProto handlers own included.
func (s *Server) Close() error {
	if s.init() != nil {
		return nil
	}
	err := s.hs.Close()
	s.mu.Lock()
	for st := range s.taken {
		_ = st.Close()
	}
	s.mu.Unlock()
	return err
}

// SetKeepAlivesEnabled is http.Server.SetKeepAlivesEnabled for both
// protocols (HTTP/1.1 keep-alives are on by default). Call it once the
// fields are set: it makes the Server read them.
func (s *Server) SetKeepAlivesEnabled(v bool) {
	if s.init() == nil {
		s.hs.SetKeepAlivesEnabled(v)
	}
}

// baseContext runs HTTP1.BaseContext for ln, turning a panic or a nil
// context into an error.
func (s *Server) baseContext(ln net.Listener) (ctx context.Context, err error) {
	base := s.snap.baseContext
	if base == nil {
		return context.Background(), nil
	}
	if !s.protect("HTTP1.BaseContext", ln.Addr(), func() { ctx = base(ln) }) {
		return nil, fmt.Errorf("rustlshttp: HTTP1.BaseContext panicked for %v", ln.Addr())
	}
	if ctx == nil {
		return nil, errors.New("rustlshttp: HTTP1.BaseContext returned a nil context")
	}
	return ctx, nil
}

// ListenAndServe serves handler over HTTPS on addr with cfg: HTTP/2 when
// cfg's NextProtos let ALPN choose "h2", HTTP/1.1 otherwise. It blocks
// while it serves and always returns a non-nil error: the listen error
// (an address in use, say) at once, or the listener's failure. A nil cfg
// is an error. It does not own cfg: keep it open while serving, and close
// it afterwards. For graceful shutdown, timeouts and the other settings,
// use a Server.
func ListenAndServe(addr string, cfg *rustls.ServerConfig, handler http.Handler) error {
	return (&Server{Config: cfg, Handler: handler}).ListenAndServe(addr)
}

// Serve is ListenAndServe on an existing listener, which it closes when it
// returns.
func Serve(ln net.Listener, cfg *rustls.ServerConfig, handler http.Handler) error {
	return (&Server{Config: cfg, Handler: handler}).Serve(ln)
}
