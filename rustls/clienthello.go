package rustls

import (
	"context"
	"errors"
	"io"
	"net"
	"runtime"
	"sync"
	"time"

	"github.com/gorustls/gorustls/cgo"
)

// ClientHello is what a server sees of a ClientHello before it picks a
// config or a certificate: LazyAcceptor.Choose (the ClientHello path, from
// ReadClientHello) and ServerOptions.GetCertificate both get one.
//
// On the ClientHello path ServerName, ALPN, CipherSuites and
// SignatureSchemes are rustls's reading of the ClientHello; the other
// lists are read by gorustls from the same bytes (nil when the client left
// the extension out). GetCertificate runs inside rustls-ffi's certificate
// callback, which shows only ServerName, ALPN and SignatureSchemes: there
// every other list is nil.
type ClientHello struct {
	ServerName       string   // SNI, as rustls normalizes it; empty when the client sent none
	ALPN             []string // offered ALPN protocols, in the client's order
	CipherSuites     []uint16 // offered cipher suites (IANA IDs)
	SignatureSchemes []uint16 // offered signature schemes
	// SupportedVersions are the offered TLS versions: the
	// supported_versions extension, or without one legacy_version and
	// every older version down to TLS 1.0 (as crypto/tls reports them).
	SupportedVersions []uint16
	SupportedGroups   []uint16 // supported_groups (crypto/tls's SupportedCurves)
	SupportedPoints   []uint8  // ec_point_formats
	Extensions        []uint16 // extension types, in the client's order

	conn net.Conn
	ctx  context.Context
}

// Conn returns the transport the ClientHello came on (nil on a
// ClientHello made by the caller).
func (h *ClientHello) Conn() net.Conn {
	if h == nil {
		return nil
	}
	return h.conn
}

// Context returns the context bounding this handshake, as crypto/tls's
// ClientHello.Context does. On the ClientHello path it is the context
// given to ReadClientHello (LazyAcceptor.Accept's). In GetCertificate it is
// done when the context given to HandshakeContext (Accept,
// AcceptFallible) is, when the handshake's StreamOptions.HandshakeTimeout
// passes, or when the Stream is closed. A callback that may wait (an ACME
// order, a remote key store) should give up once it is done: the handshake
// has then already returned, and whatever the callback returns is
// discarded. Never nil.
func (h *ClientHello) Context() context.Context {
	if h == nil || h.ctx == nil {
		return context.Background()
	}
	return h.ctx
}

// StartHandshake is a connection whose ClientHello has been read but whose
// server config is not chosen yet (tokio-rustls's StartHandshake). Call
// exactly one of IntoStream, Refuse or Abandon; the first call consumes the
// StartHandshake, even from another goroutine: a later or concurrent
// IntoStream or Refuse returns an *Error saying it was already used (a
// later Abandon does nothing). A StartHandshake dropped without any of
// them has its C memory freed by the garbage collector, but the transport
// stays the caller's to close.
type StartHandshake struct {
	hello   ClientHello
	conn    net.Conn
	st      *helloState
	cleanup runtime.Cleanup
	rest    []byte // ciphertext read past the ClientHello
}

// helloState owns the C acceptor and the accepted ClientHello of one
// StartHandshake. The first of IntoStream, Refuse, Abandon or the cleanup
// takes both pointers out under mu; from then on that goroutine alone uses
// and frees them, and everyone else finds nothing to use (a clear error)
// and nothing to free.
type helloState struct {
	mu       sync.Mutex
	acc      *cgo.Acceptor
	accepted *cgo.Accepted
	usedBy   string // what consumed it: "IntoStream", "Refuse", "Abandon"
}

// take hands the C objects to the caller, once; ok is false (and usedBy
// names the first user) when they were already taken.
func (st *helloState) take(by string) (acc *cgo.Acceptor, accepted *cgo.Accepted, usedBy string, ok bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.usedBy != "" {
		return nil, nil, st.usedBy, false
	}
	st.usedBy = by
	acc, accepted = st.acc, st.accepted
	st.acc, st.accepted = nil, nil
	return acc, accepted, "", true
}

// free is the cleanup of a dropped StartHandshake.
func (st *helloState) free() {
	acc, accepted, _, ok := st.take("garbage collection")
	if ok {
		accepted.Free()
		acc.Free()
	}
}

// maxHelloBytes bounds the bytes ReadClientHello keeps to parse the
// ClientHello and to replay a refused one (a ClientHello is at most 64 KiB
// plus record headers).
const maxHelloBytes = 128 << 10

// ReadClientHello reads and parses the ClientHello from conn, bounded by
// ctx (through conn's deadlines, which are cleared afterwards when ctx can
// end). Malformed input gets an *Error, after the alert a plain rustls
// server would send for the same bytes has been sent; a peer that closes
// early gets one matching io.ErrUnexpectedEOF; the caller keeps ownership
// of conn either way.
func ReadClientHello(ctx context.Context, conn net.Conn) (*StartHandshake, error) {
	const op = "read ClientHello"
	if err := checkConnCtx(op, ctx, conn); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, &Error{Code: CodeIO, Op: op, Err: err}
	}
	if ctx.Done() != nil {
		fired := make(chan struct{})
		stop := context.AfterFunc(ctx, func() {
			_ = conn.SetDeadline(time.Unix(1, 0))
			close(fired)
		})
		defer func() {
			if !stop() {
				<-fired
				_ = conn.SetDeadline(time.Time{})
			}
		}()
	}
	acc := cgo.NewAcceptor()
	buf := make([]byte, 16<<10)
	start, end := 0, 0
	eof, fedEOF := false, false
	// seen holds every byte rustls consumed, up to maxHelloBytes.
	var seen []byte
	seenAll := true
	for {
		if start == end && !eof {
			start, end = 0, 0
			n, err := conn.Read(buf)
			end = n
			if err == io.EOF {
				eof = true
			} else if err != nil && n == 0 {
				acc.Free()
				if ctx.Err() != nil {
					return nil, &Error{Code: CodeIO, Op: op, Err: ctx.Err()}
				}
				return nil, &Error{Code: CodeIO, Op: op, Err: err}
			}
		}
		fedEOF = eof && start == end
		r := acc.Feed(buf[start:end], fedEOF)
		if len(seen)+r.Consumed <= maxHelloBytes {
			seen = append(seen, buf[start:start+r.Consumed]...)
		} else {
			seenAll = false
		}
		start += r.Consumed
		if r.Result != cgo.ResultOK {
			acc.Free()
			return nil, &Error{Code: Code(r.Result), Op: op}
		}
		accepted, alert, code := acc.Accept()
		switch code {
		case cgo.ResultOK:
			alert.Free()
			h := &StartHandshake{conn: conn, st: &helloState{acc: acc, accepted: accepted}}
			h.cleanup = runtime.AddCleanup(h, (*helloState).free, h.st)
			h.hello.ServerName, h.hello.ALPN, h.hello.CipherSuites, h.hello.SignatureSchemes = accepted.Hello()
			h.hello.conn, h.hello.ctx = conn, ctx
			if f, ok := parseClientHello(seen); ok {
				h.hello.SupportedVersions = f.offeredVersions()
				h.hello.SupportedGroups = f.groups
				h.hello.SupportedPoints = f.points
				h.hello.Extensions = f.exts
			}
			if start < end {
				h.rest = append([]byte(nil), buf[start:end]...)
			}
			return h, nil
		case cgo.ResultAcceptorNotReady:
			if eof && start == end {
				acc.Free()
				return nil, &Error{Code: CodeUnexpectedEOF, Op: op, Detail: "the peer closed the connection before a complete ClientHello", Err: io.ErrUnexpectedEOF}
			}
			if start == end && end == len(buf) {
				buf = make([]byte, len(buf))
			}
		default:
			out := drainAlert(alert)
			alert.Free()
			acc.Free()
			// rustls's Acceptor answers some bad input differently from a
			// plain rustls server (decode_error for every malformed
			// ClientHello, nothing for a non-handshake first record):
			// answer what a plain server answers.
			if seenAll {
				if nout, ncode, ok := plainServerRefusal(seen, fedEOF); ok {
					out, code = nout, uint32(ncode)
				}
			}
			writeAlert(conn, out)
			return nil, &Error{Code: Code(code), Op: op}
		}
	}
}

// drainAlert copies out what rustls wants sent with a refusal.
func drainAlert(alert *cgo.Alert) []byte {
	var out []byte
	var b [4096]byte
	for len(out) < 1<<16 {
		n := alert.Drain(b[:])
		if n == 0 {
			break
		}
		out = append(out, b[:n]...)
	}
	return out
}

func writeAlert(conn net.Conn, b []byte) {
	if len(b) == 0 {
		return
	}
	_ = conn.SetWriteDeadline(time.Now().Add(time.Second))
	_, _ = conn.Write(b)
	_ = conn.SetWriteDeadline(time.Time{})
}

// ClientHello returns the parsed ClientHello.
func (h *StartHandshake) ClientHello() *ClientHello { return &h.hello }

// Conn returns the transport.
func (h *StartHandshake) Conn() net.Conn { return h.conn }

// take consumes h for the method named by: it returns the C objects, or
// an *Error when h was already consumed (or is a zero StartHandshake).
func (h *StartHandshake) take(by, op string) (*cgo.Acceptor, *cgo.Accepted, error) {
	if h == nil || h.st == nil {
		return nil, nil, inputErr(op, "not a StartHandshake from ReadClientHello")
	}
	acc, accepted, usedBy, ok := h.st.take(by)
	if !ok {
		return nil, nil, inputErr(op, "the StartHandshake was already used (by %s)", usedBy)
	}
	h.cleanup.Stop()
	return acc, accepted, nil
}

// IntoStream continues the handshake with cfg and returns the Stream once
// it completes (bounded by ctx). The Stream follows opts.WriteThrough
// (buffered until Flush when false). Configs that use GetCertificate or a
// SessionStore cannot serve this path (rustls-ffi gives their callbacks no
// connection context here): choose the certificate from ClientHello
// instead. On failure the transport is left open for the caller. It
// consumes h whatever the outcome: the parsed ClientHello is freed once
// rustls has taken it.
func (h *StartHandshake) IntoStream(ctx context.Context, cfg *ServerConfig, opts StreamOptions) (*Stream, error) {
	acc, accepted, err := h.take("IntoStream", "accept")
	if err != nil {
		return nil, err
	}
	freed := false
	free := func() {
		if !freed {
			freed = true
			accepted.Free()
			acc.Free()
		}
	}
	defer free()
	if err := checkConnCtx("accept", ctx, h.conn); err != nil {
		return nil, err
	}
	if err := cfg.check("accept"); err != nil {
		return nil, err
	}
	if cfg.getCert != nil || cfg.store != nil {
		return nil, inputErr("accept", "the ClientHello path cannot use a config with GetCertificate or SessionStore")
	}
	var alert *cgo.Alert
	s, err := newServerStream(cfg, h.conn, opts, func(c *cgo.ServerConfig) (*cgo.Conn, error) {
		conn, al, err := accepted.IntoConn(c)
		alert = al
		return conn, err
	})
	free() // rustls is done with the ClientHello
	if err != nil {
		out := drainAlert(alert)
		alert.Free()
		out, err = noCommonParameters(out, err)
		writeAlert(h.conn, out)
		return nil, err
	}
	alert.Free()
	if len(h.rest) > 0 {
		s.in.ensureBuf()
		s.in.end = copy(s.in.buf, h.rest)
	}
	if err := s.HandshakeContext(ctx); err != nil {
		s.release()
		return nil, err
	}
	return s, nil
}

// Refuse ends the handshake by sending a fatal alert (for example 112,
// unrecognized_name, for an unknown SNI name). The transport stays open for
// the caller to close. It returns the transport's write error, or an *Error
// when h was already used.
func (h *StartHandshake) Refuse(alert uint8) error {
	acc, accepted, err := h.take("Refuse", "refuse")
	if err != nil {
		return err
	}
	accepted.Free()
	acc.Free()
	rec := []byte{21, 3, 3, 0, 2, 2, alert}
	_ = h.conn.SetWriteDeadline(time.Now().Add(time.Second))
	_, err = h.conn.Write(rec)
	_ = h.conn.SetWriteDeadline(time.Time{})
	return err
}

// Abandon releases the parsed ClientHello without answering. After
// IntoStream, Refuse or another Abandon it does nothing.
func (h *StartHandshake) Abandon() {
	if acc, accepted, err := h.take("Abandon", "abandon"); err == nil {
		accepted.Free()
		acc.Free()
	}
}

// Alert numbers for Refuse.
const (
	AlertHandshakeFailure      uint8 = 40
	AlertAccessDenied          uint8 = 49
	AlertInternalError         uint8 = 80
	AlertUnrecognizedName      uint8 = 112
	AlertNoApplicationProtocol uint8 = 120
)

// LazyAcceptor chooses the server config per connection from the
// ClientHello (tokio-rustls's LazyConfigAcceptor): one certificate per SNI
// name, ALPN-based routing, refusing unknown names. Accept may be called
// from many goroutines at once; set the fields before the first Accept
// and do not change them afterwards. It owns no C memory and needs no
// Close; the configs Choose returns stay the caller's.
type LazyAcceptor struct {
	// Choose returns the config for this ClientHello. Returning a nil
	// config and an error refuses the connection with
	// AlertUnrecognizedName (or the alert of a *RefuseError). It runs on
	// the accepting goroutine, once per connection, possibly for many
	// connections at once. A panic in it refuses that connection with
	// AlertInternalError and a *RefuseError wrapping an *Error that names
	// Choose and the panic value (logged to Options.Logger when set);
	// other connections are not affected.
	Choose func(*ClientHello) (*ServerConfig, error)
	// Options apply to every Stream. Accept's Streams follow
	// Options.WriteThrough (buffered until Flush when false); a
	// LazyListener forces it on.
	Options StreamOptions
}

// RefuseError, returned by LazyAcceptor.Choose, refuses the connection with
// a specific alert.
type RefuseError struct {
	Alert  uint8
	Reason string
	Err    error // the cause, if any (for errors.Is and errors.As)
}

// Error describes the refusal.
func (e *RefuseError) Error() string { return "rustls: connection refused: " + e.Reason }

// Unwrap returns the cause.
func (e *RefuseError) Unwrap() error { return e.Err }

// Accept reads the ClientHello, asks Choose for a config and completes the
// handshake, all bounded by ctx. On failure conn is closed.
func (l *LazyAcceptor) Accept(ctx context.Context, conn net.Conn) (*Stream, error) {
	s, err := l.AcceptFallible(ctx, conn)
	if err != nil {
		closeConn(conn)
	}
	return s, err
}

// AcceptFallible is Accept that leaves conn open on failure.
func (l *LazyAcceptor) AcceptFallible(ctx context.Context, conn net.Conn) (*Stream, error) {
	if l == nil || l.Choose == nil {
		return nil, inputErr("accept", "a LazyAcceptor needs a Choose function")
	}
	h, err := ReadClientHello(ctx, conn)
	if err != nil {
		return nil, err
	}
	var cfg *ServerConfig
	err = protect("LazyAcceptor.Choose", l.Options.Logger, conn, func() (err error) {
		cfg, err = l.Choose(h.ClientHello())
		return err
	})
	if err != nil && isCallbackPanic(err) && !errors.As(err, new(*RefuseError)) {
		err = &RefuseError{Alert: AlertInternalError, Reason: err.Error(), Err: err}
	}
	if err != nil || cfg == nil {
		alert := AlertUnrecognizedName
		var re *RefuseError
		if errors.As(err, &re) {
			alert = re.Alert
		}
		_ = h.Refuse(alert)
		if err == nil {
			err = &RefuseError{Alert: alert, Reason: "no config for this ClientHello"}
		}
		return nil, err
	}
	return h.IntoStream(ctx, cfg, l.Options)
}
