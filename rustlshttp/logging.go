package rustlshttp

import (
	"context"
	"log"
	"log/slog"
	"net"
	"strings"
)

// netHTTPLevel is the level net/http's own messages (http.Server.ErrorLog)
// get when they are bridged into Server.Logger: they mix clients' mistakes
// with the application's (a superfluous WriteHeader), so Warn; its reports
// of a handler's panic get slog.LevelError.
const netHTTPLevel = slog.LevelWarn

// logger is the Logger setup found, else slog.Default() (looked up at each
// record, so a later slog.SetDefault is seen), never panicking.
func (s *Server) logger() *slog.Logger {
	if l := s.snap.logger; l != nil {
		return l
	}
	return slog.New(safeHandler{slog.Default().Handler()})
}

// log writes one record with the connection's remote address (when there
// is one) first among its attributes.
func (s *Server) log(level slog.Level, msg string, remote net.Addr, attrs ...slog.Attr) {
	if remote != nil {
		attrs = append([]slog.Attr{slog.String("remote", remote.String())}, attrs...)
	}
	s.logger().LogAttrs(context.Background(), level, msg, attrs...)
}

// netHTTPLog is the *log.Logger given to net/http when HTTP1.ErrorLog is
// nil: net/http's messages then reach Logger (slog.Default() when nil,
// looked up at each record) at netHTTPLevel, or slog.LevelError for a
// handler's panic, whether Logger is set or not.
func netHTTPLog(l *slog.Logger) *log.Logger {
	var h slog.Handler = defaultHandler{}
	if l != nil {
		h = l.Handler()
	}
	return slog.NewLogLogger(netHTTPHandler{safeHandler{h}}, netHTTPLevel)
}

// defaultHandler is slog.Default()'s handler, looked up at each call, so
// that a later slog.SetDefault is seen.
type defaultHandler struct{}

func (defaultHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return slog.Default().Handler().Enabled(ctx, l)
}

func (defaultHandler) Handle(ctx context.Context, r slog.Record) error {
	return slog.Default().Handler().Handle(ctx, r)
}

func (defaultHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return slog.Default().Handler().WithAttrs(attrs)
}

func (defaultHandler) WithGroup(name string) slog.Handler {
	return slog.Default().Handler().WithGroup(name)
}

// netHTTPHandler raises net/http's reports of a handler's panic ("http:
// panic serving ...", "http2: panic serving ...") to slog.LevelError, the
// level of the Server's own panic reports.
type netHTTPHandler struct{ safeHandler }

func (h netHTTPHandler) Handle(ctx context.Context, r slog.Record) error {
	if strings.Contains(r.Message, "panic serving") {
		r.Level = slog.LevelError
	}
	return h.safeHandler.Handle(ctx, r)
}

// safeHandler runs a user's slog.Handler with its panics recovered: a
// logger is user code, and logging happens on connection goroutines and
// inside net/http, where a panic would end the process. A record whose
// handler panics is lost.
type safeHandler struct{ h slog.Handler }

func (s safeHandler) Enabled(ctx context.Context, l slog.Level) (ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	return s.h.Enabled(ctx, l)
}

func (s safeHandler) Handle(ctx context.Context, r slog.Record) (err error) {
	defer func() { _ = recover() }()
	return s.h.Handle(ctx, r)
}

func (s safeHandler) WithAttrs(attrs []slog.Attr) (h slog.Handler) {
	defer func() {
		if recover() != nil {
			h = s
		}
	}()
	return safeHandler{s.h.WithAttrs(attrs)}
}

func (s safeHandler) WithGroup(name string) (h slog.Handler) {
	defer func() {
		if recover() != nil {
			h = s
		}
	}()
	return safeHandler{s.h.WithGroup(name)}
}
